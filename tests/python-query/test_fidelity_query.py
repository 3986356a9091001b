"""The fidelity suite (tests/python/test_fidelity.py) over the Query protocol, plus what only
the Query protocol can express: botocore's empty lists."""

import uuid

import pytest
from botocore.exceptions import ClientError

from test_fidelity import *  # noqa: F401,F403  (the same tests, run by this botocore)


def test_this_is_the_query_protocol(sqs):
    assert sqs.meta.service_model.protocol == "query"


def test_empty_lists_are_lists(sqs):
    url = sqs.create_queue(QueueName=f"e-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={"a": {"DataType": "String", "StringValue": "v"}})
    # botocore sends `MessageAttributeNames=` and `AttributeNames=`: no attributes asked for.
    m = sqs.receive_message(QueueUrl=url, MessageAttributeNames=[], AttributeNames=[])["Messages"][0]
    assert "MessageAttributes" not in m
    assert "Attributes" not in m
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[]).get("Attributes", {}) == {}
    # `Entries=`: the batch rule applies, not a parse error.
    with pytest.raises(ClientError) as info:
        sqs.send_message_batch(QueueUrl=url, Entries=[])
    assert info.value.response["Error"]["Code"] == "AWS.SimpleQueueService.EmptyBatchRequest"
    with pytest.raises(ClientError) as info:
        sqs.delete_message_batch(QueueUrl=url, Entries=[])
    assert info.value.response["Error"]["Code"] == "AWS.SimpleQueueService.EmptyBatchRequest"
