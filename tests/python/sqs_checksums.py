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
