"""The S3-compatible endpoint through boto3's S3 client: buckets, objects, ranges, listing,
multipart uploads, S3's errors, objects encrypted at rest and kept across a restart, and
SigV4 under --credentials."""

import hashlib
import http.client
import io
import os
import urllib.parse
import uuid

import pytest
from botocore.exceptions import ClientError, IncompleteReadError, ResponseStreamingError

from conftest import Emulator

MiB = 1024 * 1024


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def status_of(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def s3(emulator):
    return emulator.client(service="s3")


@pytest.fixture
def bucket(s3):
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def test_buckets(s3):
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    # us-east-1 answers its owner re-creating a bucket with 200.
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert code_of(e) == "BucketNotEmpty" and status_of(e) == 409
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert status_of(e) == 404
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=name, Key="k", Body=b"x")
    assert code_of(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="Not_Valid")
    assert code_of(e) == "InvalidBucketName"


def test_objects_round_trip_with_their_headers(s3, bucket):
    body = os.urandom(200_000)
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/a b+c.bin",
        Body=body,
        ContentType="application/x-test",
        ContentDisposition="attachment",
        Metadata={"origin": "test"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert put["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="dir/a b+c.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-test"
    assert got["ContentDisposition"] == "attachment"
    assert got["Metadata"] == {"origin": "test"}
    assert got["ContentLength"] == len(body)
    head = s3.head_object(Bucket=bucket, Key="dir/a b+c.bin")
    assert head["ETag"] == put["ETag"] and head["ContentLength"] == len(body)
    # Replacing an object replaces it whole.
    s3.put_object(Bucket=bucket, Key="dir/a b+c.bin", Body=b"short")
    assert s3.get_object(Bucket=bucket, Key="dir/a b+c.bin")["Body"].read() == b"short"
    s3.delete_object(Bucket=bucket, Key="dir/a b+c.bin")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="dir/a b+c.bin")
    assert code_of(e) == "NoSuchKey" and status_of(e) == 404
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="dir/a b+c.bin")
    assert status_of(e) == 404
    # Deleting what is not there succeeds, as in S3.
    s3.delete_object(Bucket=bucket, Key="never")


def test_ranges_and_conditions(s3, bucket):
    body = bytes(range(256)) * 1000  # crosses the 64 KiB segments objects are stored in
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    for spec, want in [
        ("bytes=0-9", body[:10]),
        ("bytes=65530-65545", body[65530:65546]),
        ("bytes=200000-", body[200000:]),
        ("bytes=-7", body[-7:]),
        ("bytes=255990-999999", body[255990:]),
    ]:
        got = s3.get_object(Bucket=bucket, Key="r", Range=spec)
        assert got["Body"].read() == want, spec
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"].endswith(f"/{len(body)}")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range=f"bytes={len(body)}-")
    assert code_of(e) == "InvalidRange" and status_of(e) == 416
    etag = s3.head_object(Bucket=bucket, Key="r")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", IfMatch='"0000"')
    assert code_of(e) == "PreconditionFailed" and status_of(e) == 412
    assert s3.get_object(Bucket=bucket, Key="r", IfMatch=etag)["Body"].read() == body
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", IfNoneMatch=etag)
    assert status_of(e) == 304


def test_listing_with_prefixes_delimiters_and_pages(s3, bucket):
    keys = ["a/1", "a/2", "a/b/3", "b/4", "c", "d e/5"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == sorted(keys)
    assert listed["KeyCount"] == len(keys)
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["c"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "b/", "d e/"]
    under_a = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in under_a["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in under_a["CommonPrefixes"]] == ["a/b/"]
    # Pages of two, through the paginator, come back whole and in order.
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2})
    seen = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert seen == sorted(keys)
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 1}
    )
    prefixes = [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]
    assert prefixes == ["a/", "b/", "d e/"]
    # ListObjects (version 1) too.
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket, Prefix="a/")["Contents"]] == [
        "a/1",
        "a/2",
        "a/b/3",
    ]


def test_multipart_uploads(s3, bucket):
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1234)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="video/mp4")
    uid = upload["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=i + 1, Body=p)["ETag"]
        for i, p in enumerate(parts)
    ]
    listed = [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": list(reversed(listed))}
        )
    assert code_of(e) == "InvalidPartOrder"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00"'}]},
        )
    assert code_of(e) == "InvalidPart"
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": listed}
    )
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert done["ETag"] == f'"{digest}-3"'
    whole = b"".join(parts)
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == whole and got["ContentType"] == "video/mp4"
    # A range across the parts' boundary.
    got = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={5 * MiB - 3}-{5 * MiB + 2}")
    assert got["Body"].read() == whole[5 * MiB - 3 : 5 * MiB + 3]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"x")
    assert code_of(e) == "NoSuchUpload"

    # A part below 5 MiB that is not the last is refused; an aborted upload is gone.
    small = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    small_parts = [
        {"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="small", UploadId=small, PartNumber=n, Body=b"tiny")["ETag"]}
        for n in (1, 2)
    ]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="small", UploadId=small, MultipartUpload={"Parts": small_parts}
        )
    assert code_of(e) == "EntityTooSmall"
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=small)
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="small", UploadId=small, PartNumber=3, Body=b"x")
    assert code_of(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="small", UploadId="../../etc", PartNumber=1, Body=b"x")
    assert code_of(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="small", UploadId=small, PartNumber=10001, Body=b"x")
    assert code_of(e) == "InvalidArgument"


def test_managed_transfers_and_digests(s3, bucket):
    # upload_fileobj / download_fileobj: multipart above 8 MiB, ranged parallel downloads.
    data = os.urandom(19 * MiB)
    s3.upload_fileobj(io.BytesIO(data), bucket, "big")
    out = io.BytesIO()
    s3.download_fileobj(bucket, "big", out)
    assert out.getvalue() == data
    # A Content-MD5 that does not match what arrived is refused, and nothing is stored.
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"abc", ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")
    assert code_of(e) == "BadDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="md5")


def raw(endpoint, method, path, headers, body=b""):
    """A request as sent by hand (the Host header is the caller's)."""
    url = urllib.parse.urlparse(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), data


def test_virtual_host_style_and_a_checksum_trailer(emulator, s3, bucket):
    port = urllib.parse.urlparse(emulator.endpoint).port
    host = {"Host": f"{bucket}.localhost:{port}"}
    status, _, _ = raw(emulator.endpoint, "PUT", "/v/key", host, b"virtual")
    assert status == 200
    assert s3.get_object(Bucket=bucket, Key="v/key")["Body"].read() == b"virtual"
    status, _, data = raw(emulator.endpoint, "GET", "/?list-type=2&prefix=v/", host)
    assert status == 200 and b"<Key>v/key</Key>" in data
    # aws-chunked with a CRC32 trailer, as SDKs upload: a wrong checksum is refused.
    chunked = {
        "Host": f"{bucket}.localhost:{port}",
        "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-decoded-content-length": "11",
    }
    good = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"
    status, _, data = raw(emulator.endpoint, "PUT", "/chunked", chunked, good)
    assert status == 200, data
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == b"hello world"
    bad = good.replace(b"DUoRhQ==", b"AAAAAA==")
    status, _, data = raw(emulator.endpoint, "PUT", "/chunked", chunked, bad)
    assert status == 400 and b"<Code>BadDigest</Code>" in data
    cut = b"5\r\nhello\r\n6\r\n wor"
    status, _, data = raw(emulator.endpoint, "PUT", "/chunked", dict(chunked, **{"Content-Length": str(len(cut))}), cut)
    assert status == 400 and b"<Code>IncompleteBody</Code>" in data
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == b"hello world"


def files_containing(directory, needle):
    found = []
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                if needle in f.read():
                    found.append(path)
    return found


def test_objects_are_encrypted_at_rest_and_kept_across_a_restart(tmp_path):
    data_dir = str(tmp_path / "data")
    emu = Emulator(durable=True, data_dir=data_dir)
    marker = f"OBJECT-MARKER-{uuid.uuid4().hex}".encode()
    body = marker * 5000  # several segments
    try:
        s3 = emu.client(service="s3")
        s3.create_bucket(Bucket="kept")
        s3.put_object(Bucket="kept", Key="secret", Body=body, Metadata={"m": "v"})
        # The search finds what is there: the key is in the object's metadata file.
        assert files_containing(data_dir, b"secret") != []
        assert files_containing(data_dir, marker) == []
    finally:
        emu.stop()
    assert files_containing(data_dir, marker) == []
    emu = Emulator(durable=True, data_dir=data_dir)
    try:
        s3 = emu.client(service="s3")
        got = s3.get_object(Bucket="kept", Key="secret")
        assert got["Body"].read() == body and got["Metadata"] == {"m": "v"}
        assert got["ServerSideEncryption"] == "AES256"
    finally:
        emu.stop()
    # A damaged piece fails the read loudly instead of returning other bytes.
    pieces_dir = os.path.join(data_dir, "s3", "kept", "data")
    pieces = [os.path.join(pieces_dir, n) for n in os.listdir(pieces_dir)]
    assert len(pieces) == 1
    with open(pieces[0], "r+b") as f:
        f.seek(70_000)
        f.write(b"\0")
    emu = Emulator(durable=True, data_dir=data_dir)
    try:
        s3 = emu.client(service="s3")
        assert s3.get_object(Bucket="kept", Key="secret", Range="bytes=0-99")["Body"].read() == body[:100]
        # The headers (200, the whole length) are out before the damaged segment is read: the
        # body stops short there, never other bytes.
        got = s3.get_object(Bucket="kept", Key="secret")
        assert got["ContentLength"] == len(body)
        with pytest.raises((IncompleteReadError, ResponseStreamingError)):
            got["Body"].read()
        # A range within the damaged segment fails too; the emulator still serves the rest.
        with pytest.raises((IncompleteReadError, ResponseStreamingError, ClientError)):
            s3.get_object(Bucket="kept", Key="secret", Range="bytes=69000-70999")["Body"].read()
        s3.put_object(Bucket="kept", Key="after", Body=b"still serving")
        assert s3.get_object(Bucket="kept", Key="after")["Body"].read() == b"still serving"
        assert s3.head_object(Bucket="kept", Key="secret")["ContentLength"] == len(body)
    finally:
        emu.stop()


def test_sigv4_under_credentials(tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text("AKIDS3 s3-secret\n")
    emu = Emulator(durable=False, credentials=creds)
    try:
        s3 = emu.client(access_key="AKIDS3", secret="s3-secret", service="s3")
        s3.create_bucket(Bucket="signed")
        s3.put_object(Bucket="signed", Key="k", Body=b"signed body")
        assert s3.get_object(Bucket="signed", Key="k")["Body"].read() == b"signed body"
        wrong = emu.client(access_key="AKIDS3", secret="nope", service="s3")
        with pytest.raises(ClientError) as e:
            wrong.get_object(Bucket="signed", Key="k")
        assert code_of(e) == "SignatureDoesNotMatch" and status_of(e) == 403
        unknown = emu.client(access_key="AKIDOTHER", secret="s3-secret", service="s3")
        with pytest.raises(ClientError) as e:
            unknown.put_object(Bucket="signed", Key="k", Body=b"x")
        assert code_of(e) == "InvalidAccessKeyId"
        # A presigned URL (SigV4) works within its time; tampered, it does not.
        import boto3
        from botocore.config import Config

        presigner = boto3.client(
            "s3",
            endpoint_url=emu.endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIDS3",
            aws_secret_access_key="s3-secret",
            config=Config(signature_version="s3v4"),
        )
        url = presigner.generate_presigned_url("get_object", Params={"Bucket": "signed", "Key": "k"}, ExpiresIn=300)
        parsed = urllib.parse.urlparse(url)
        status, _, data = raw(emu.endpoint, "GET", f"{parsed.path}?{parsed.query}", {"Host": parsed.netloc})
        assert status == 200 and data == b"signed body", data
        status, _, data = raw(emu.endpoint, "GET", f"{parsed.path}x?{parsed.query}", {"Host": parsed.netloc})
        assert status == 403 and b"SignatureDoesNotMatch" in data
        status, _, data = raw(emu.endpoint, "PUT", "/signed/unsigned", {"Host": parsed.netloc}, b"x")
        assert status == 403
    finally:
        emu.stop()
