"""Standard queues through boto3, with the SDKs' MD5 checks applied to every reply."""

import uuid

import pytest

import sqs_checksums
from sqs_checksums import md5_of_attributes, md5_of_body

ATTRIBUTES = {
    "attribName1": {"DataType": "String", "StringValue": "attribValue 1"},
    "customNumberTypeAttrib": {
        "DataType": "Number.float",
        "StringValue": "4563442423554324324264524243.32543234",
    },
    "binaryAttribute": {"DataType": "Binary", "BinaryValue": b"Hello binary world!"},
}


def test_checksum_vectors_match_sqs():
    assert md5_of_attributes({"attribName1": ATTRIBUTES["attribName1"]}) == "19e27d4e946b072f3f58da80d94fd778"
    assert md5_of_attributes(ATTRIBUTES) == "c932db14a896c663f83c260297d594ff"


def test_every_reply_is_checked_and_a_wrong_digest_is_caught(sqs, queue):
    before = sqs_checksums.CHECKED["digests"]
    sqs.send_message_batch(QueueUrl=queue, Entries=[
        {"Id": "a", "MessageBody": "one", "MessageAttributes": ATTRIBUTES},
        {"Id": "b", "MessageBody": "two"},
    ])
    sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    # Batch: 2 bodies + 1 attribute set; receive: 2 bodies + 1 attribute set.
    assert sqs_checksums.CHECKED["digests"] - before == 6
    # The check itself fails on a digest SQS would not have sent.
    wrong = {"Messages": [{"MessageId": "m", "Body": "one", "MD5OfBody": md5_of_body("two")}]}
    with pytest.raises(AssertionError, match="MD5OfBody"):
        sqs_checksums.check_reply("ReceiveMessage", {}, wrong)
    wrong = {"Successful": [{"Id": "a", "MD5OfMessageBody": md5_of_body("one"),
                             "MD5OfMessageAttributes": md5_of_attributes({"x": ATTRIBUTES["attribName1"]})}]}
    with pytest.raises(AssertionError, match="MD5OfMessageAttributes"):
        sqs_checksums.check_reply("SendMessageBatch", {"Entries": [
            {"Id": "a", "MessageBody": "one", "MessageAttributes": ATTRIBUTES}]}, wrong)


def test_send_receive_delete_with_checksums(sqs, queue):
    body = "héllo wörld ✓"
    sent = sqs.send_message(QueueUrl=queue, MessageBody=body, MessageAttributes=ATTRIBUTES)
    assert sent["MD5OfMessageBody"] == md5_of_body(body)
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(ATTRIBUTES)

    got = sqs.receive_message(
        QueueUrl=queue, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert len(got) == 1
    m = got[0]
    assert m["MessageId"] == sent["MessageId"]
    assert m["Body"] == body
    assert m["MD5OfBody"] == md5_of_body(m["Body"])
    assert m["MessageAttributes"]["binaryAttribute"]["BinaryValue"] == b"Hello binary world!"
    assert m["MD5OfMessageAttributes"] == md5_of_attributes(m["MessageAttributes"])
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"
    assert int(m["Attributes"]["SentTimestamp"]) > 1_600_000_000_000

    sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_prefix_selected_attributes_have_their_own_checksum(sqs, queue):
    attrs = {
        "order.id": {"DataType": "String", "StringValue": "42"},
        "order.total": {"DataType": "Number", "StringValue": "9.99"},
        "trace": {"DataType": "String", "StringValue": "t"},
    }
    sqs.send_message(QueueUrl=queue, MessageBody="x", MessageAttributes=attrs)
    m = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["order.*"])["Messages"][0]
    assert set(m["MessageAttributes"]) == {"order.id", "order.total"}
    assert m["MD5OfMessageAttributes"] == md5_of_attributes(m["MessageAttributes"])


def test_batches(sqs, queue):
    entries = [{"Id": f"e{i}", "MessageBody": f"body-{i}"} for i in range(10)]
    out = sqs.send_message_batch(QueueUrl=queue, Entries=entries)
    assert len(out["Successful"]) == 10
    for ok in out["Successful"]:
        i = int(ok["Id"][1:])
        assert ok["MD5OfMessageBody"] == md5_of_body(f"body-{i}")
    received = []
    while len(received) < 10:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        assert got, "queue drained early"
        received += got
    assert sorted(m["Body"] for m in received) == sorted(e["MessageBody"] for e in entries)
    out = sqs.delete_message_batch(
        QueueUrl=queue,
        Entries=[{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
    )
    assert len(out["Successful"]) == 10


def test_visibility_and_long_polling(sqs, queue):
    sqs.send_message(QueueUrl=queue, MessageBody="a")
    m = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=30)["Messages"][0]
    assert "Messages" not in sqs.receive_message(QueueUrl=queue)
    sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=1)
    # The long poll returns once the visibility timeout ends (well inside its 20 s).
    again = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=20, AttributeNames=["All"])["Messages"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_queue_management(sqs, emulator):
    name = f"mgmt-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60"}, tags={"team": "a"})["QueueUrl"]
    assert url == f"{emulator.endpoint}/000000000000/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "5"})
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds", "VisibilityTimeout", "QueueArn"])[
        "Attributes"
    ]
    assert attrs == {
        "DelaySeconds": "5",
        "VisibilityTimeout": "60",
        "QueueArn": f"arn:aws:sqs:us-east-1:000000000000:{name}",
    }
    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}
    sqs.purge_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name)


def test_dead_letter_queue(sqs):
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src = sqs.create_queue(
        QueueName=f"src-{suffix}",
        Attributes={"RedrivePolicy": f'{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"1"}}'},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=src, MessageBody="poison")
    assert len(sqs.receive_message(QueueUrl=src, VisibilityTimeout=0)["Messages"]) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=src)
    moved = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"])["Messages"]
    assert moved[0]["Body"] == "poison"
    assert moved[0]["Attributes"]["DeadLetterQueueSourceArn"].endswith(f":src-{suffix}")
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
