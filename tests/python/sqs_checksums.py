"""MD5 checks as the AWS SDKs perform them (Java, Go, .NET verify these on every send and
receive): the plain MD5 of the body, and SQS's length-prefixed digest of message attributes."""

import hashlib
import struct


def md5_of_body(body):
    return hashlib.md5(body.encode("utf-8")).hexdigest()


def md5_of_attributes(attributes):
    if not attributes:
        return None
    digest = hashlib.md5()

    def prefixed(data):
        digest.update(struct.pack(">I", len(data)))
        digest.update(data)

    for name in sorted(attributes):
        value = attributes[name]
        prefixed(name.encode("utf-8"))
        prefixed(value["DataType"].encode("utf-8"))
        if value["DataType"].startswith("Binary"):
            digest.update(b"\x02")
            prefixed(value["BinaryValue"])
        else:
            digest.update(b"\x01")
            prefixed(value["StringValue"].encode("utf-8"))
    return digest.hexdigest()


def check_reply(operation, params, parsed):
    """Verifies the digests of an SQS reply against what was sent and what came back, as the
    SDKs that check MD5s do; raises AssertionError on a mismatch. Returns how many digests it
    checked."""
    checked = 0
    if "Error" in parsed:
        return checked
    if operation == "ReceiveMessage":
        for m in parsed.get("Messages", []):
            assert m["MD5OfBody"] == md5_of_body(m["Body"]), f"MD5OfBody of {m['MessageId']}"
            checked += 1
            if m.get("MessageAttributes"):
                assert m["MD5OfMessageAttributes"] == md5_of_attributes(m["MessageAttributes"]), \
                    f"MD5OfMessageAttributes of {m['MessageId']}"
                checked += 1
    elif operation == "SendMessage":
        checked += _check_sent(params, parsed)
    elif operation == "SendMessageBatch":
        entries = {e["Id"]: e for e in params.get("Entries", [])}
        for sent in parsed.get("Successful", []):
            checked += _check_sent(entries[sent["Id"]], sent)
    return checked


def _check_sent(request, reply):
    assert reply["MD5OfMessageBody"] == md5_of_body(request["MessageBody"]), "MD5OfMessageBody"
    if request.get("MessageAttributes"):
        assert reply["MD5OfMessageAttributes"] == md5_of_attributes(request["MessageAttributes"]), \
            "MD5OfMessageAttributes"
        return 2
    return 1


CHECKED = {"digests": 0}


def verify_every_reply(client):
    """Registers the checks on a boto3 SQS client: every SendMessage, SendMessageBatch and
    ReceiveMessage reply it gets is verified (CHECKED counts the digests)."""
    def keep_params(params, context, **_):
        context["sqs_checksums_params"] = params

    def verify(http_response, parsed, model, context, **_):
        CHECKED["digests"] += check_reply(model.name, context.get("sqs_checksums_params", {}), parsed)

    events = client.meta.events
    for operation in ("SendMessage", "SendMessageBatch", "ReceiveMessage"):
        events.register(f"before-parameter-build.sqs.{operation}", keep_params)
        events.register(f"after-call.sqs.{operation}", verify)
    return client
