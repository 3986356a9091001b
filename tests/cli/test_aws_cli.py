"""`aws sqs …` (AWS CLI v1 from PyPI) against the emulator, as a user would type it."""

import json
import os
import subprocess
import sys
import uuid

AWS = os.path.join(os.path.dirname(sys.executable), "aws")


def aws(emulator, *args, check=True):
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_MAX_ATTEMPTS="1",
    )
    command = [AWS, "sqs", *args, "--endpoint-url", emulator.endpoint, "--output", "json"]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if check:
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if result.stdout.strip() else {}
    return result


def test_standard_queue_round_trip(emulator):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    url = aws(emulator, "create-queue", "--queue-name", name, "--attributes", "VisibilityTimeout=45")["QueueUrl"]
    assert url.endswith(f"/000000000000/{name}")
    sent = aws(
        emulator,
        "send-message",
        "--queue-url",
        url,
        "--message-body",
        "hello from the cli",
        "--message-attributes",
        '{"kind":{"DataType":"String","StringValue":"greeting"}}',
    )
    assert sent["MD5OfMessageAttributes"]
    got = aws(
        emulator,
        "receive-message",
        "--queue-url",
        url,
        "--message-attribute-names",
        "All",
        "--attribute-names",
        "All",
        "--wait-time-seconds",
        "1",
    )["Messages"][0]
    assert got["Body"] == "hello from the cli"
    assert got["MessageAttributes"]["kind"]["StringValue"] == "greeting"
    aws(emulator, "delete-message", "--queue-url", url, "--receipt-handle", got["ReceiptHandle"])
    attrs = aws(emulator, "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
    assert attrs["VisibilityTimeout"] == "45"
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert url in aws(emulator, "list-queues", "--queue-name-prefix", name)["QueueUrls"]


def test_fifo_and_errors(emulator):
    name = f"cli-{uuid.uuid4().hex[:8]}.fifo"
    url = aws(emulator, "create-queue", "--queue-name", name, "--attributes", "FifoQueue=true,ContentBasedDeduplication=true")[
        "QueueUrl"
    ]
    out = aws(emulator, "send-message", "--queue-url", url, "--message-body", "x", "--message-group-id", "g")
    assert len(out["SequenceNumber"]) == 20
    failed = aws(emulator, "send-message", "--queue-url", url, "--message-body", "x", check=False)
    assert failed.returncode != 0
    assert "MessageGroupId" in failed.stderr
    missing = aws(emulator, "get-queue-url", "--queue-name", "does-not-exist", check=False)
    assert missing.returncode != 0
    assert "NonExistentQueue" in missing.stderr or "QueueDoesNotExist" in missing.stderr


def test_dead_letter_queue_and_move_task(emulator):
    suffix = uuid.uuid4().hex[:8]
    dlq = aws(emulator, "create-queue", "--queue-name", f"cd-{suffix}")["QueueUrl"]
    arn = aws(emulator, "get-queue-attributes", "--queue-url", dlq, "--attribute-names", "QueueArn")["Attributes"]["QueueArn"]
    policy = json.dumps({"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "1"})})
    src = aws(emulator, "create-queue", "--queue-name", f"cs-{suffix}", "--attributes", policy)["QueueUrl"]
    aws(emulator, "send-message", "--queue-url", src, "--message-body", "poison")
    got = aws(emulator, "receive-message", "--queue-url", src, "--visibility-timeout", "30")["Messages"][0]
    aws(emulator, "change-message-visibility", "--queue-url", src, "--receipt-handle", got["ReceiptHandle"], "--visibility-timeout", "0")
    assert "Messages" not in aws(emulator, "receive-message", "--queue-url", src)
    assert aws(emulator, "list-dead-letter-source-queues", "--queue-url", dlq)["queueUrls"] == [src]
    assert aws(emulator, "start-message-move-task", "--source-arn", arn)["TaskHandle"]
    for _ in range(60):
        back = aws(emulator, "receive-message", "--queue-url", src, "--wait-time-seconds", "1").get("Messages")
        if back:
            assert back[0]["Body"] == "poison"
            break
    else:
        raise AssertionError("the move task did not bring the message back")
