"""The emulator's container image as users run it: `docker run` with --network host, boto3 and
the AWS CLI against it, Testcontainers, a restart on the same volume after `docker stop`, and
the queues of a template and of a queues file there at start. The image is `LOCKGATE_IMAGE`
(built by scripts/image.sh before the tests)."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import boto3
import pytest
from botocore.config import Config

IMAGE = os.environ.get("LOCKGATE_IMAGE", "lockgate:test")
AWS_CLI = os.environ.get("LOCKGATE_AWS_CLI", "aws")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WAIT = 90  # seconds: generous for a loaded two-core machine


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docker(*args, check=True):
    result = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def health(container):
    return docker("inspect", "--format", "{{.State.Health.Status}}", container)


def logs(container):
    """The container's output, both streams (the emulator logs to stderr)."""
    result = subprocess.run(["docker", "logs", container], capture_output=True, text=True)
    return result.stdout + result.stderr


def wait_healthy(container):
    deadline = time.monotonic() + WAIT
    while health(container) != "healthy":
        state = docker("inspect", "--format", "{{.State.Status}}", container)
        assert state in ("created", "running"), f"the container {state}: {logs(container)}"
        assert time.monotonic() < deadline, logs(container)
        time.sleep(0.2)


class Container:
    """`docker run -d --network host` of the image on a free loopback port."""

    def __init__(self, env=None, volumes=None):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        args = ["run", "-d", "--network", "host", "-e", f"LOCKGATE_BIND=127.0.0.1:{self.port}"]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        for host, inside in (volumes or {}).items():
            args += ["-v", f"{host}:{inside}"]
        self.id = docker(*args, IMAGE)
        wait_healthy(self.id)

    def sqs(self):
        return boto3.client(
            "sqs", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
            config=Config(retries={"max_attempts": 1}))

    def stop(self):
        """`docker stop` (SIGTERM); the exit code the emulator ended with."""
        docker("stop", "--time", "30", self.id)
        code = int(docker("inspect", "--format", "{{.State.ExitCode}}", self.id))
        docker("rm", self.id)
        return code


@pytest.fixture
def volume():
    """A host directory the container's user (65534) may write."""
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o777)
        yield d


def test_the_image_is_what_the_docs_say():
    image = json.loads(docker("image", "inspect", IMAGE))[0]
    config = image["Config"]
    assert config["User"] == "65534:65534"
    assert config["Volumes"] == {"/data": {}}
    assert config["ExposedPorts"] == {"9324/tcp": {}}
    assert config["Healthcheck"]["Test"] == ["CMD", "/lockgate-emulator", "health"]
    assert "LOCKGATE_BIND=0.0.0.0:9324" in config["Env"]
    assert config["Labels"]["org.opencontainers.image.title"] == "lockgate-emulator"
    assert config["Labels"]["org.opencontainers.image.licenses"] == "Apache-2.0"
    # FROM scratch: two layers (the empty /data and /tmp, the binary), no base image's.
    assert len(image["RootFS"]["Layers"]) == 2


def test_boto3_and_the_aws_cli_against_the_container(volume):
    container = Container(volumes={volume: "/data"})
    try:
        sqs = container.sqs()
        url = sqs.create_queue(QueueName="from-boto3")["QueueUrl"]
        sent = sqs.send_message(QueueUrl=url, MessageBody="hello container")
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                   AWS_DEFAULT_REGION="us-east-1", AWS_MAX_ATTEMPTS="1")
        out = subprocess.run(
            [AWS_CLI, "sqs", "receive-message", "--queue-url", url, "--endpoint-url",
             container.endpoint, "--output", "json"],
            capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout)["Messages"]
        assert [m["MessageId"] for m in got] == [sent["MessageId"]]
        assert got[0]["Body"] == "hello container"
        # The emulator runs as the image's user and writes its state in the volume.
        assert os.path.exists(os.path.join(volume, "lockgate.sqlite3"))
        assert os.stat(os.path.join(volume, "lockgate.sqlite3")).st_uid == 65534
    finally:
        container.stop()


def test_a_restart_on_the_same_volume_keeps_every_acknowledged_message(volume):
    container = Container(volumes={volume: "/data"})
    sqs = container.sqs()
    url = sqs.create_queue(QueueName="kept")["QueueUrl"]
    sent = set()
    for batch in range(20):
        reply = sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f"m{batch}-{i}"} for i in range(10)])
        sent.update(e["MessageId"] for e in reply["Successful"])
    assert len(sent) == 200
    # Deleted ones stay deleted.
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)])
    deleted = {m["MessageId"] for m in received}
    # SIGTERM: the emulator stops by itself (exit 0), not killed after the grace period.
    assert container.stop() == 0
    again = Container(volumes={volume: "/data"})
    try:
        sqs = again.sqs()
        url = sqs.get_queue_url(QueueName="kept")["QueueUrl"]
        found = set()
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                      VisibilityTimeout=300).get("Messages", [])
            if not got:
                break
            found.update(m["MessageId"] for m in got)
        assert found == sent - deleted
    finally:
        again.stop()


def test_declared_queues_exist_at_start():
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        with open(os.path.join(d, "queues.yaml"), "w") as f:
            f.write("jobs:\n  VisibilityTimeout: 45\n  RedrivePolicy: {deadLetterTargetArn: jobs-dlq, maxReceiveCount: 2}\njobs-dlq: {}\n")
        # The bundled template, copied where the image's unprivileged user can read it
        # whatever the permissions of the checkout (a fresh clone may be private to its owner).
        shutil.copy(os.path.join(ROOT, "template.yaml"), os.path.join(d, "template.yaml"))
        for name in ("queues.yaml", "template.yaml"):
            os.chmod(os.path.join(d, name), 0o644)
        container = Container(
            env={"LOCKGATE_IN_MEMORY": "true", "LOCKGATE_TEMPLATE": "/declared/template.yaml",
                 "LOCKGATE_QUEUES": "/declared/queues.yaml"},
            volumes={d: "/declared:ro"})
        try:
            sqs = container.sqs()
            # The first request after the health check finds every declared queue.
            names = {u.rsplit("/", 1)[1] for u in sqs.list_queues()["QueueUrls"]}
            assert {"orders", "orders-dlq", "sequence.fifo", "jobs", "jobs-dlq"} <= names
            url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            assert attrs["VisibilityTimeout"] == "45"
            assert json.loads(attrs["RedrivePolicy"]) == {
                "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:jobs-dlq",
                "maxReceiveCount": 2}
            url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
            assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"].endswith(":orders-dlq")
        finally:
            container.stop()


def test_testcontainers_starts_waits_for_health_sends_receives_and_stops():
    from testcontainers.core.container import DockerContainer

    port = free_port()
    sqs_container = (DockerContainer(IMAGE)
                     .with_kwargs(network_mode="host")
                     .with_env("LOCKGATE_BIND", f"127.0.0.1:{port}")
                     .with_env("LOCKGATE_IN_MEMORY", "true"))
    with sqs_container:
        wait_healthy(sqs_container.get_wrapped_container().id)
        sqs = boto3.client("sqs", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                           aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
        url = sqs.create_queue(QueueName=f"tc-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="via testcontainers")
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
        assert got[0]["Body"] == "via testcontainers"
        container_id = sqs_container.get_wrapped_container().id
    # Stopped and removed with the context.
    assert subprocess.run(["docker", "inspect", container_id], capture_output=True).returncode != 0
