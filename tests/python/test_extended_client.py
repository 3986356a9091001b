"""The Python SQS Extended Client (amazon-sqs-extended-client from PyPI) against Lockgate
alone: a 50 MB payload goes to the S3 endpoint, a pointer through the queue, and back, while
the emulator's resident memory stays below 100 MB (objects are streamed, never held)."""

import json
import threading
import urllib.request
import uuid

from botocore.config import Config

from conftest import Emulator

MB = 1000 * 1000


def resident_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class PeakMemory:
    """Samples a process's resident memory until stopped; keeps the highest."""

    def __init__(self, pid):
        self.pid, self.peak, self.samples = pid, 0, 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopped.wait(0.005):
            try:
                self.peak = max(self.peak, resident_bytes(self.pid))
            except (OSError, RuntimeError):
                return  # the process is gone
            self.samples += 1

    def stop(self):
        self.stopped.set()
        self.thread.join()
        return self.peak


def raw_receive(endpoint, url):
    """ReceiveMessage (JSON protocol, visibility 0) without an SDK: the queue's own view."""
    request = urllib.request.Request(
        endpoint,
        data=json.dumps(
            {"QueueUrl": url, "MessageAttributeNames": ["All"], "VisibilityTimeout": 0}
        ).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AmazonSQS.ReceiveMessage",
        },
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        messages = json.load(response).get("Messages", [])
    return messages[0] if messages else None


def test_a_50_mb_payload_round_trips_with_bounded_memory(monkeypatch):
    from sqs_extended_client import SQSExtendedClientSession

    emu = Emulator(durable=True)
    try:
        # The extended client makes its own S3 client from the session, so point the SDK at
        # Lockgate the standard way: AWS_ENDPOINT_URL serves SQS and S3 alike.
        monkeypatch.setenv("AWS_ENDPOINT_URL", emu.endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
        session = SQSExtendedClientSession(
            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1"
        )
        sqs = session.client("sqs", config=Config(retries={"max_attempts": 1}))
        bucket = f"payloads-{uuid.uuid4().hex[:8]}"
        sqs.s3_client.create_bucket(Bucket=bucket)
        sqs.large_payload_support = bucket
        sqs.delete_payload_from_s3 = True
        url = sqs.create_queue(QueueName="large")["QueueUrl"]
        payload = (uuid.uuid4().hex * (50 * MB // 32 + 1))[: 50 * MB]

        baseline = resident_bytes(emu.process.pid)
        memory = PeakMemory(emu.process.pid)
        sqs.send_message(QueueUrl=url, MessageBody=payload)
        # What the queue holds is the pointer, not the payload (asked for by hand: boto3
        # clients made after the extended client's session share its decorated class).
        pointer = raw_receive(emu.endpoint, url)
        assert pointer["Body"].startswith('["software.amazon.payloadoffloading.PayloadS3Pointer"')
        assert pointer["MessageAttributes"]["ExtendedPayloadSize"]["StringValue"] == str(50 * MB)
        objects = sqs.s3_client.list_objects_v2(Bucket=bucket)["Contents"]
        assert [o["Size"] for o in objects] == [50 * MB]

        got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=5)
        message = got["Messages"][0]
        assert len(message["Body"]) == 50 * MB
        assert message["Body"] == payload
        peak = memory.stop()
        print(f"emulator resident memory: {baseline / MB:.1f} MB at rest, {peak / MB:.1f} MB at peak ({memory.samples} samples)")
        assert memory.samples > 10
        assert peak < 100 * MB, f"the emulator held {peak / MB:.1f} MB"

        # Deleting the message deletes the payload (the client's delete_payload_from_s3).
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        assert "Contents" not in sqs.s3_client.list_objects_v2(Bucket=bucket)
        assert raw_receive(emu.endpoint, url) is None
    finally:
        emu.stop()
