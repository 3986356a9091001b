"""Behaviours where SQS's answer is easy to get wrong, through boto3. The Query-protocol suite
(tests/python-query) runs this same module with a botocore that speaks the Query protocol."""

import json
import time
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError

from sqs_checksums import md5_of_attributes


def error(call, **kwargs):
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    r = info.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def fifo(sqs, **attributes):
    name = f"f-{uuid.uuid4().hex[:12]}.fifo"
    return sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true", **attributes})["QueueUrl"]


def depth(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (
        int(a["ApproximateNumberOfMessages"]),
        int(a["ApproximateNumberOfMessagesNotVisible"]),
        int(a["ApproximateNumberOfMessagesDelayed"]),
    )


def eventually(what, check, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_fifo_zero_delay_is_accepted(sqs):
    url = fifo(sqs, DelaySeconds="5")
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="g", MessageDeduplicationId="a", DelaySeconds=0)
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "e", "MessageBody": "b", "MessageGroupId": "g", "MessageDeduplicationId": "b", "DelaySeconds": 0}],
    )
    assert depth(sqs, url) == (0, 0, 2), "the queue's own delay still applies"
    code, message, status = error(
        sqs.send_message, QueueUrl=url, MessageBody="m", MessageGroupId="g", MessageDeduplicationId="c", DelaySeconds=3
    )
    assert (code, status) == ("InvalidParameterValue", 400)
    assert message.startswith("Value 3 for parameter DelaySeconds is invalid.")


def test_fifo_batch_missing_ids_fails_whole(sqs):
    url = fifo(sqs)
    good = {"Id": "good", "MessageBody": "m", "MessageGroupId": "g", "MessageDeduplicationId": "d"}
    assert error(
        sqs.send_message_batch, QueueUrl=url, Entries=[good, {"Id": "x", "MessageBody": "m", "MessageGroupId": "g"}]
    ) == (
        "InvalidParameterValue",
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
        400,
    )
    assert error(
        sqs.send_message_batch, QueueUrl=url, Entries=[good, {"Id": "x", "MessageBody": "m", "MessageDeduplicationId": "e"}]
    ) == ("InvalidParameterValue", "The request must contain the parameter MessageGroupId.", 400)
    assert depth(sqs, url) == (0, 0, 0)


def test_fifo_delete_with_expired_handle(sqs):
    url = fifo(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="g", MessageDeduplicationId="d")
    handle = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"][0]["ReceiptHandle"]
    eventually("the visibility timeout to pass", lambda: depth(sqs, url)[0] == 1)
    assert error(sqs.delete_message, QueueUrl=url, ReceiptHandle=handle) == (
        "InvalidParameterValue",
        f"Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.",
        400,
    )
    assert depth(sqs, url) == (1, 0, 0)


def test_standard_visibility_change_through_old_handles(sqs, queue):
    sqs.send_message(QueueUrl=queue, MessageBody="m")
    first = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=1)["Messages"][0]["ReceiptHandle"]
    eventually("the visibility timeout to pass", lambda: depth(sqs, queue)[0] == 1)
    sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=first, VisibilityTimeout=600)
    assert depth(sqs, queue) == (0, 1, 0)
    sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=first, VisibilityTimeout=0)
    second = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=600)["Messages"][0]["ReceiptHandle"]
    out = sqs.change_message_visibility_batch(
        QueueUrl=queue, Entries=[{"Id": "old", "ReceiptHandle": first, "VisibilityTimeout": 0}]
    )
    assert [e["Id"] for e in out["Successful"]] == ["old"]
    assert not out.get("Failed")
    assert depth(sqs, queue) == (1, 0, 0)
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=second)
    reason = "Message does not exist or is not available for visibility timeout change."
    assert error(sqs.change_message_visibility, QueueUrl=queue, ReceiptHandle=second, VisibilityTimeout=5) == (
        "InvalidParameterValue",
        f"Value {second} for parameter ReceiptHandle is invalid. Reason: {reason}",
        400,
    )


def test_fifo_group_head_released_alone(sqs):
    url = fifo(sqs)
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i + 1}", MessageGroupId="g", MessageDeduplicationId=f"d{i}")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=600)["Messages"]
    assert [m["Body"] for m in got] == ["m1", "m2"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600)["Messages"]
    assert [m["Body"] for m in again] == ["m1"]


def test_dedup_scope_is_fixed_at_creation(sqs):
    """SQS deduplicates as the queue was created: a later DeduplicationScope changes what
    GetQueueAttributes reports, not which sends are duplicates."""
    url = fifo(sqs)
    first = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="A", MessageDeduplicationId="X")["MessageId"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"})
    reported = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DeduplicationScope"])["Attributes"]
    assert reported["DeduplicationScope"] == "messageGroup"
    again = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="B", MessageDeduplicationId="X")
    assert again["MessageId"] == first
    a = sqs.send_message(QueueUrl=url, MessageBody="y", MessageGroupId="A", MessageDeduplicationId="Y")["MessageId"]
    b = sqs.send_message(QueueUrl=url, MessageBody="y", MessageGroupId="B", MessageDeduplicationId="Y")["MessageId"]
    assert a == b, "an id first seen after the change is still deduplicated queue-wide"


def test_purge_clears_fifo_dedup_window(sqs):
    url = fifo(sqs)
    before = sqs.send_message(QueueUrl=url, MessageBody="b", MessageGroupId="g", MessageDeduplicationId="same")
    sqs.purge_queue(QueueUrl=url)
    after = sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="same")
    assert after["MessageId"] != before["MessageId"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["a"]


def test_message_attribute_name_wildcards(sqs, queue):
    attrs = {
        "Hello": {"DataType": "String", "StringValue": "1"},
        "Help.Me": {"DataType": "String", "StringValue": "2"},
        "Other": {"DataType": "Number", "StringValue": "3"},
    }
    sqs.send_message(QueueUrl=queue, MessageBody="m", MessageAttributes=attrs)
    for patterns, names in [
        (["Hel.*"], ["Hello", "Help.Me"]),
        (["*"], ["Hello", "Help.Me", "Other"]),
        ([".*"], ["Hello", "Help.Me", "Other"]),
        (["All"], ["Hello", "Help.Me", "Other"]),
    ]:
        m = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=patterns, VisibilityTimeout=0)["Messages"][0]
        assert sorted(m["MessageAttributes"]) == names, patterns
        # The digest covers exactly the returned attributes (botocore checks it too).
        assert m["MD5OfMessageAttributes"] == md5_of_attributes({k: attrs[k] for k in names})


def test_trace_header_becomes_aws_trace_header(emulator, queue):
    sqs = emulator.client()
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"

    def add_trace(request, **_):
        request.headers["X-Amzn-Trace-Id"] = trace

    sqs.meta.events.register("before-sign.sqs.SendMessage", add_trace)
    sqs.meta.events.register("before-sign.sqs.SendMessageBatch", add_trace)
    sqs.send_message(QueueUrl=queue, MessageBody="header")
    sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": "b", "MessageBody": "batch"}])
    sqs.send_message(
        QueueUrl=queue,
        MessageBody="explicit",
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=explicit"}},
    )
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["AWSTraceHeader"])["Messages"]
    traces = {m["Body"]: m["Attributes"]["AWSTraceHeader"] for m in got}
    assert traces == {"header": trace, "batch": trace, "explicit": "Root=explicit"}


def test_queue_type_attributes(sqs):
    assert error(sqs.create_queue, QueueName=f"p-{uuid.uuid4().hex[:8]}", Attributes={"FifoQueue": "false"}) == (
        "InvalidAttributeName",
        "Unknown Attribute FifoQueue.",
        400,
    )
    url = fifo(sqs)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})
    assert error(sqs.set_queue_attributes, QueueUrl=url, Attributes={"FifoQueue": "false"})[0] == "InvalidAttributeValue"


def test_add_permission_as_sqs(sqs, queue):
    sqs.add_permission(QueueUrl=queue, Label="l", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy["Version"] == "2008-10-17"
    assert error(
        sqs.add_permission, QueueUrl=queue, Label="m", AWSAccountIds=["111122223333"], Actions=["DeleteQueue"]
    ) == (
        "InvalidParameterValue",
        "Value SQS:DeleteQueue for parameter ActionName is invalid. Reason: Only the queue owner is allowed to invoke this action.",
        400,
    )
    assert error(sqs.add_permission, QueueUrl=queue, Label="n", AWSAccountIds=[], Actions=["SendMessage"]) == (
        "InvalidParameterValue",
        "Value [] for parameter PrincipalId is invalid. Reason: Unable to verify.",
        400,
    )


def test_attribute_names_values_and_tags(sqs, queue):
    sqs.send_message(QueueUrl=queue, MessageBody="m", MessageAttributes={"attr.1øßä": {"DataType": "String", "StringValue": "v"}})
    m = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"])["Messages"][0]
    assert list(m["MessageAttributes"]) == ["attr.1øßä"]
    code, _, status = error(
        sqs.send_message, QueueUrl=queue, MessageBody="m", MessageAttributes={"a": {"DataType": "String", "StringValue": "\x01"}}
    )
    assert (code, status) == ("InvalidParameterValue", 400)
    assert error(sqs.untag_queue, QueueUrl=queue, TagKeys=[]) == (
        "InvalidParameterValue",
        "Tag keys must be between 1 and 128 characters in length.",
        400,
    )
    if sqs.meta.service_model.protocol == "json":
        # The Query protocol cannot carry an empty map: the request has no Tags at all.
        assert error(sqs.tag_queue, QueueUrl=queue, Tags={}) == (
            "MissingParameter",
            "The request must contain the parameter Tags.",
            400,
        )


def test_batch_replies_without_failures(sqs, queue):
    out = sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": "a", "MessageBody": "m"}])
    assert "Failed" not in out or out["Failed"] == []
    handle = sqs.receive_message(QueueUrl=queue)["Messages"][0]["ReceiptHandle"]
    out = sqs.delete_message_batch(QueueUrl=queue, Entries=[{"Id": "d", "ReceiptHandle": handle}])
    assert [e["Id"] for e in out["Successful"]] == ["d"]
    if sqs.meta.service_model.protocol == "json":
        assert "Failed" not in out


def test_regions_are_separate(emulator):
    east = emulator.client()
    central = emulator.client(region="eu-central-1")
    name = f"r-{uuid.uuid4().hex[:8]}"
    url_east = east.create_queue(QueueName=name)["QueueUrl"]
    url_central = central.create_queue(QueueName=name)["QueueUrl"]
    assert url_east != url_central
    arn = lambda c, u: c.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert arn(east, url_east) == f"arn:aws:sqs:us-east-1:000000000000:{name}"
    assert arn(central, url_central) == f"arn:aws:sqs:eu-central-1:000000000000:{name}"
    assert url_central not in east.list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    assert central.list_queues(QueueNamePrefix=name)["QueueUrls"] == [url_central]
    central.send_message(QueueUrl=url_central, MessageBody="frankfurt")
    assert "Messages" not in east.receive_message(QueueUrl=url_east)
    assert central.receive_message(QueueUrl=url_central)["Messages"][0]["Body"] == "frankfurt"


def test_sts_get_caller_identity(emulator):
    identity = emulator.client(service="sts").get_caller_identity()
    assert identity["Account"] == "000000000000"
    assert identity["Arn"] == "arn:aws:iam::000000000000:root"
    tenant = emulator.client(service="sts", access_key="123456789012").get_caller_identity()
    assert tenant["Account"] == "123456789012"


def test_other_services_get_a_clear_error(emulator):
    with pytest.raises(ClientError) as info:
        emulator.client(service="sns").list_topics()
    assert "sns" in info.value.response["Error"]["Message"]
    assert "does not provide" in info.value.response["Error"]["Message"]


def test_query_reply_in_json_when_asked(emulator, queue):
    request = urllib.request.Request(
        f"{emulator.endpoint}/?Action=GetQueueUrl&QueueName={queue.rsplit('/', 1)[1]}",
        headers={"Accept": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.headers["Content-Type"].startswith("application/json")
        body = json.load(response)
    assert body["GetQueueUrlResponse"]["GetQueueUrlResult"]["QueueUrl"].endswith(queue.split("/", 3)[3])
    assert body["GetQueueUrlResponse"]["ResponseMetadata"]["RequestId"]
