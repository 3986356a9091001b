"""Fixtures: a real `lockgate emulator` process on 127.0.0.1:0 and boto3 clients for it."""

import os
import subprocess
import tempfile
import threading
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("LOCKGATE_BIN", os.path.join(ROOT, "target", "debug", "lockgate"))


class Emulator:
    def __init__(self, durable, credentials=None, data_dir=None, verify_digests=True):
        """`credentials`: a file of key pairs; when given, requests must be SigV4-signed.
        `data_dir`: a durable emulator's directory, kept by the caller (else a temporary one).
        `verify_digests`: SQS clients check every reply's MD5s (as the Java, Go and .NET SDKs do)."""
        self.verify_digests = verify_digests
        self.dir = tempfile.TemporaryDirectory() if durable and data_dir is None else None
        self.data_dir = data_dir or (self.dir.name if self.dir else None)
        args = [BINARY, "emulator", "--bind", "127.0.0.1:0"]
        args += ["--data-dir", self.data_dir] if durable else ["--in-memory"]
        if credentials:
            args += ["--credentials", str(credentials)]
        env = dict(os.environ, LOCKGATE_LOG="info", NO_COLOR="1")
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )
        self.endpoint = None
        for line in self.process.stderr:
            if "ready on " in line:
                self.endpoint = line.split("ready on ")[1].split()[0]
                break
        if self.endpoint is None:
            raise RuntimeError("the emulator did not report its endpoint")
        # Keep reading stderr so the process never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.process.stderr], daemon=True).start()

    def client(self, access_key="AKIDEXAMPLE", secret="secret", region="us-east-1", service="sqs"):
        # Imported here so suites without boto3 (the AWS CLI's) can share the fixture.
        import boto3
        from botocore.config import Config

        client = boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret,
            config=Config(retries={"max_attempts": 1}),
        )
        if service == "sqs" and self.verify_digests:
            # The SDKs' MD5 checks on every send and receive (sqs_checksums.py).
            from sqs_checksums import verify_every_reply

            verify_every_reply(client)
        return client

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)
        if self.dir:
            self.dir.cleanup()


@pytest.fixture(scope="module", params=["memory", "durable"])
def emulator(request):
    emu = Emulator(durable=request.param == "durable")
    yield emu
    emu.stop()


@pytest.fixture
def sqs(emulator):
    return emulator.client()


@pytest.fixture
def queue(sqs):
    """A fresh standard queue URL."""
    return sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}")["QueueUrl"]


@pytest.fixture
def fifo_queue(sqs):
    name = f"f-{uuid.uuid4().hex[:12]}.fifo"
    return sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]


class Up:
    """`lockgate up` on a template written for the test (`files`: path → text under its
    directory), in memory on 127.0.0.1:0; `endpoint` is its emulator's."""

    def __init__(self, template, files=None, env=None):
        self.dir = tempfile.TemporaryDirectory()
        for path, text in (files or {}).items():
            full = os.path.join(self.dir.name, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
        with open(os.path.join(self.dir.name, "template.yaml"), "w") as f:
            f.write(template)
        environment = dict(os.environ, NO_COLOR="1", LOCKGATE_PYTHON_BOOTSTRAP="builtin", **(env or {}))
        environment.pop("AWS_ENDPOINT_URL_SQS", None)
        self.process = subprocess.Popen(
            [BINARY, "up", "--template", os.path.join(self.dir.name, "template.yaml"),
             "--bind", "127.0.0.1:0", "--in-memory", "--build-profile", "dev"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environment,
        )
        self.lines = []
        self.endpoint = None
        for line in self.process.stderr:
            self.lines.append(line)
            if "SQS emulator ready on " in line:
                self.endpoint = line.split("ready on ")[1].split()[0]
            if "running: send messages" in line:
                break
        if not self.endpoint:
            raise RuntimeError("lockgate up did not start:\n" + "".join(self.lines))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.process.stderr:
            self.lines.append(line)

    def client(self, service):
        import boto3
        from botocore.config import Config

        return boto3.client(
            service, endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
            config=Config(retries={"max_attempts": 1}, read_timeout=120),
        )

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=120)
        self.dir.cleanup()
