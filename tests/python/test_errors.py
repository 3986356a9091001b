"""Errors as boto3 surfaces them: the legacy code in Error.Code (from x-amzn-query-error), the
modeled exception class, and the HTTP status."""

import pytest
from botocore.exceptions import ClientError


def error(call, **kwargs):
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    r = info.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_queue_does_not_exist(sqs, emulator):
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="nope")
    assert error(sqs.send_message, QueueUrl=f"{emulator.endpoint}/000000000000/nope", MessageBody="x") == (
        "AWS.SimpleQueueService.NonExistentQueue",
        "The specified queue does not exist.",
        400,
    )


def test_queue_name_exists(sqs):
    sqs.create_queue(QueueName="exists-check", Attributes={"DelaySeconds": "1"})
    with pytest.raises(sqs.exceptions.QueueNameExists):
        sqs.create_queue(QueueName="exists-check", Attributes={"DelaySeconds": "2"})


def test_attribute_errors(sqs, queue):
    assert error(sqs.set_queue_attributes, QueueUrl=queue, Attributes={"DelaySeconds": "901"}) == (
        "InvalidAttributeValue",
        "Invalid value for the parameter DelaySeconds.",
        400,
    )
    assert error(sqs.get_queue_attributes, QueueUrl=queue, AttributeNames=["Bogus"])[0] == "InvalidAttributeName"


def test_batch_errors(sqs, queue):
    assert error(sqs.send_message_batch, QueueUrl=queue, Entries=[])[0] == "AWS.SimpleQueueService.EmptyBatchRequest"
    entries = [{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)]
    assert error(sqs.send_message_batch, QueueUrl=queue, Entries=entries) == (
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        "Maximum number of entries per request are 10. You have sent 11.",
        400,
    )
    same = [{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}]
    assert error(sqs.send_message_batch, QueueUrl=queue, Entries=same)[0] == (
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    )
    assert error(sqs.send_message_batch, QueueUrl=queue, Entries=[{"Id": "no spaces", "MessageBody": "x"}])[0] == (
        "AWS.SimpleQueueService.InvalidBatchEntryId"
    )


def test_receipt_and_parameter_errors(sqs, queue):
    assert error(sqs.delete_message, QueueUrl=queue, ReceiptHandle="garbage") == (
        "ReceiptHandleIsInvalid",
        'The input receipt handle "garbage" is not a valid receipt handle.',
        404,
    )
    assert error(sqs.receive_message, QueueUrl=queue, MaxNumberOfMessages=11) == (
        "InvalidParameterValue",
        "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.",
        400,
    )
    assert error(sqs.send_message, QueueUrl=queue, MessageBody="\x00")[0] == "InvalidMessageContents"
    sqs.send_message(QueueUrl=queue, MessageBody="m")
    m = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=0)["Messages"][0]
    # Visible again, not received again: SQS applies the change through the old handle.
    sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=5)
    assert sqs.receive_message(QueueUrl=queue).get("Messages") is None
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    assert error(sqs.change_message_visibility, QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=5) == (
        "InvalidParameterValue",
        f"Value {m['ReceiptHandle']} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.",
        400,
    )


def test_purge_in_progress(sqs, queue):
    sqs.purge_queue(QueueUrl=queue)
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress):
        sqs.purge_queue(QueueUrl=queue)
