"""boto3 over https against `lockgate emulator --tls-self-signed`: trusting the generated CA
works (queue URLs are https), not trusting it fails, and plain http is refused."""

import os
import subprocess
import tempfile
import threading
import urllib.error
import urllib.request

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from conftest import BINARY


@pytest.fixture(scope="module")
def tls_emulator():
    data = tempfile.TemporaryDirectory()
    env = dict(os.environ, NO_COLOR="1")
    process = subprocess.Popen(
        [BINARY, "emulator", "--bind", "127.0.0.1:0", "--data-dir", data.name, "--tls-self-signed"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )
    endpoint = ca = None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if "AWS_CA_BUNDLE=" in line:
            ca = line.split("AWS_CA_BUNDLE=")[1].split()[0]
        if "ready on " in line:
            endpoint = line.split("ready on ")[1].split()[0]
        if endpoint and ca:
            break
    assert endpoint and ca, "".join(lines)
    threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
    yield endpoint, ca
    process.terminate()
    process.wait(timeout=60)
    data.cleanup()


def client(endpoint, verify):
    return boto3.client(
        "sqs", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
        verify=verify, config=Config(retries={"max_attempts": 1}),
    )


def test_boto3_over_https_with_the_generated_ca(tls_emulator):
    endpoint, ca = tls_emulator
    assert endpoint.startswith("https://127.0.0.1:")
    sqs = client(endpoint, ca)
    url = sqs.create_queue(QueueName="secure")["QueueUrl"]
    assert url.startswith("https://")
    sqs.send_message(QueueUrl=url, MessageBody="over tls")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert got[0]["Body"] == "over tls"
    # By name too: localhost is in the certificate.
    local = client(endpoint.replace("127.0.0.1", "localhost"), ca)
    assert local.get_queue_url(QueueName="secure")["QueueUrl"].startswith("https://localhost:")


def test_an_untrusted_certificate_fails(tls_emulator):
    endpoint, _ = tls_emulator
    with pytest.raises(botocore.exceptions.SSLError):
        client(endpoint, True).list_queues()


def test_plain_http_is_refused(tls_emulator):
    endpoint, _ = tls_emulator
    plain = endpoint.replace("https://", "http://")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(plain + "/health", timeout=30)
    assert refused.value.code == 400
    assert b"speaks https" in refused.value.read()
    with pytest.raises((botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)):
        client(plain, True).list_queues()


def test_s3_over_https_with_the_generated_ca(tls_emulator):
    """Objects travel over the same TLS port (over https botocore streams an upload as
    aws-chunked with a checksum trailer)."""
    endpoint, ca = tls_emulator
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
        verify=ca, config=Config(retries={"max_attempts": 1}),
    )
    s3.create_bucket(Bucket="secure-objects")
    body = os.urandom(3 * 1024 * 1024)
    s3.put_object(Bucket="secure-objects", Key="k", Body=body)
    assert s3.get_object(Bucket="secure-objects", Key="k")["Body"].read() == body
