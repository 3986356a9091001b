"""FIFO queues through boto3."""

import uuid


def test_order_dedup_and_group_lock(sqs, fifo_queue):
    for i in range(3):
        out = sqs.send_message(
            QueueUrl=fifo_queue, MessageBody=f"a{i}", MessageGroupId="A", MessageDeduplicationId=f"a{i}"
        )
        assert len(out["SequenceNumber"]) == 20
    dup = sqs.send_message(QueueUrl=fifo_queue, MessageBody="again", MessageGroupId="A", MessageDeduplicationId="a0")
    sqs.send_message(QueueUrl=fifo_queue, MessageBody="b0", MessageGroupId="B", MessageDeduplicationId="b0")

    first = sqs.receive_message(QueueUrl=fifo_queue, MaxNumberOfMessages=2, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in first] == ["a0", "a1"]
    assert first[0]["MessageId"] == dup["MessageId"]
    assert first[0]["Attributes"]["MessageGroupId"] == "A"
    # Group A is locked while a0 and a1 are in flight.
    second = sqs.receive_message(QueueUrl=fifo_queue, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in second] == ["b0"]
    for m in first:
        sqs.delete_message(QueueUrl=fifo_queue, ReceiptHandle=m["ReceiptHandle"])
    third = sqs.receive_message(QueueUrl=fifo_queue, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in third] == ["a2"]


def test_content_based_deduplication(sqs):
    url = sqs.create_queue(
        QueueName=f"cbd-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    a = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    b = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    assert a["MessageId"] == b["MessageId"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "1"
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "true"


def test_fifo_requires_group(sqs, fifo_queue):
    try:
        sqs.send_message(QueueUrl=fifo_queue, MessageBody="x", MessageDeduplicationId="d")
    except sqs.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "MissingParameter"
        assert e.response["Error"]["Message"] == "The request must contain the parameter MessageGroupId."
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    else:
        raise AssertionError("send without MessageGroupId succeeded")
