"""An SDK generation that speaks the Query (XML) protocol: botocore 1.29 (boto3 1.26)."""

import uuid

import botocore
import botocore.config
import botocore.session
import pytest
from botocore.exceptions import ClientError

from sqs_checksums import md5_of_attributes, md5_of_body


def test_this_botocore_speaks_query():
    assert botocore.__version__.startswith("1.29.")
    model = botocore.session.get_session().get_service_model("sqs")
    assert model.protocol == "query"


def test_queue_lifecycle_and_attributes(sqs, emulator):
    name = f"q-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"}, tags={"team": "a"})["QueueUrl"]
    assert url == f"{emulator.endpoint}/000000000000/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "40"
    assert attrs["QueueArn"].endswith(f":{name}")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "0"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a"}
    sqs.delete_queue(QueueUrl=url)


def test_messages_with_attributes_batches_and_visibility(sqs):
    url = sqs.create_queue(QueueName=f"m-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    attrs = {
        "s": {"DataType": "String", "StringValue": "v & <x>"},
        "n": {"DataType": "Number", "StringValue": "42"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01bin"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody="héllo <xml> & more", MessageAttributes=attrs)
    assert sent["MD5OfMessageBody"] == md5_of_body("héllo <xml> & more")
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(attrs)
    out = sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": f"batch {i}"} for i in range(3)]
    )
    assert len(out["Successful"]) == 3

    got = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    assert len(got) == 4
    first = next(m for m in got if m["Body"].startswith("héllo"))
    assert first["MD5OfBody"] == md5_of_body(first["Body"])
    assert first["MessageAttributes"]["b"]["BinaryValue"] == b"\x00\x01bin"
    assert first["MD5OfMessageAttributes"] == md5_of_attributes(first["MessageAttributes"])
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"

    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)
    out = sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
    )
    assert len(out["Successful"]) == 4
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_fifo_over_query(sqs):
    url = sqs.create_queue(
        QueueName=f"f-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    a = sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g")
    b = sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g")
    assert a["MessageId"] == b["MessageId"]
    assert len(a["SequenceNumber"]) == 20
    got = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    assert got[0]["Attributes"]["MessageGroupId"] == "g"


def test_errors_over_query(sqs, emulator):
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as info:
        sqs.get_queue_url(QueueName="nope")
    error = info.value.response["Error"]
    assert error["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert error["Message"] == "The specified queue does not exist for this wsdl version."
    url = sqs.create_queue(QueueName=f"e-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    with pytest.raises(ClientError) as info:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)])
    assert info.value.response["Error"]["Code"] == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as info:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert info.value.response["Error"]["Code"] == "ReceiptHandleIsInvalid"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_permissions_over_query(sqs):
    url = sqs.create_queue(QueueName=f"p-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.add_permission(QueueUrl=url, Label="share", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    assert '"Sid":"share"' in policy
    sqs.remove_permission(QueueUrl=url, Label="share")
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get("Attributes", {})


def test_sigv4_verification_over_query(tmp_path):
    """`lockgate emulator --credentials FILE`: botocore's signed Query requests pass; a wrong
    secret gets SignatureDoesNotMatch."""
    from conftest import Emulator

    creds = tmp_path / "credentials"
    creds.write_text("AKIDQUERY query-secret\n")
    emu = Emulator(durable=False, credentials=creds)
    try:
        good = emu.client("AKIDQUERY", "query-secret")
        url = good.create_queue(QueueName="signed", Attributes={"DelaySeconds": "0"})["QueueUrl"]
        good.send_message(QueueUrl=url, MessageBody="a b&c=d")
        assert good.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "a b&c=d"
        with pytest.raises(ClientError) as info:
            emu.client("AKIDQUERY", "wrong").list_queues()
        assert info.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    finally:
        emu.stop()


def test_dead_letter_queue_and_move_task_over_query(sqs):
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"qd-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src = sqs.create_queue(
        QueueName=f"qs-{suffix}",
        Attributes={"RedrivePolicy": f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"1"}}'},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=src, MessageBody="poison")
    sqs.receive_message(QueueUrl=src, VisibilityTimeout=0)
    assert "Messages" not in sqs.receive_message(QueueUrl=src)
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    # Move tasks arrived in SQS after this botocore: call the action on the wire directly.
    import urllib.parse
    import urllib.request

    endpoint = src.rsplit("/", 2)[0]
    form = urllib.parse.urlencode({"Action": "StartMessageMoveTask", "SourceArn": dlq_arn, "Version": "2012-11-05"})
    with urllib.request.urlopen(endpoint + "/", data=form.encode()) as reply:
        assert b"<TaskHandle>" in reply.read()
    for _ in range(600):
        got = sqs.receive_message(QueueUrl=src, WaitTimeSeconds=1).get("Messages", [])
        if got:
            assert got[0]["Body"] == "poison"
            break
    else:
        raise AssertionError("the move task did not bring the message back")


def test_presigned_query_string_signature(tmp_path):
    """SigV4 in the query string (a presigned URL) is verified too."""
    import urllib.error
    import urllib.request

    from conftest import Emulator

    creds = tmp_path / "credentials"
    creds.write_text("AKIDPRESIGN presign-secret\n")
    emu = Emulator(durable=False, credentials=creds)
    try:
        sqs = emu.client("AKIDPRESIGN", "presign-secret")
        url = sqs.generate_presigned_url("list_queues", Params={}, ExpiresIn=300)
        assert "X-Amz-Signature=" in url
        # The operation's method is POST; the URL carries everything, the body is empty.
        with urllib.request.urlopen(url, data=b"") as reply:
            assert reply.status == 200
            assert b"<ListQueuesResponse" in reply.read()
        tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(tampered, data=b"")
        assert info.value.code == 403
        assert b"SignatureDoesNotMatch" in info.value.read()
    finally:
        emu.stop()


def test_expired_presigned_url_is_refused(tmp_path):
    """A presigned URL works until its X-Amz-Expires passes, then never again."""
    import time
    import urllib.error
    import urllib.request

    from conftest import Emulator

    creds = tmp_path / "credentials"
    creds.write_text("AKIDPRESIGN presign-secret\n")
    emu = Emulator(durable=False, credentials=creds)
    try:
        sqs = emu.client("AKIDPRESIGN", "presign-secret")
        url = sqs.generate_presigned_url("list_queues", Params={}, ExpiresIn=1)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, data=b"") as reply:
                    assert reply.status == 200
            except urllib.error.HTTPError as refused:
                assert refused.code == 400
                body = refused.read()
                assert b"<Code>RequestExpired</Code>" in body, body
                assert b"Request has expired." in body
                break
            assert time.monotonic() < deadline, "the presigned URL never expired"
            time.sleep(0.1)
        # A week is the longest a presigned URL may live.
        too_long = sqs.generate_presigned_url("list_queues", Params={}, ExpiresIn=8 * 24 * 3600)
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(too_long, data=b"")
        assert info.value.code == 403
        assert b"X-Amz-Expires" in info.value.read()
    finally:
        emu.stop()
