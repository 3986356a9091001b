"""`aws s3` and `aws s3api` (AWS CLI v1 from PyPI) against the emulator's S3 endpoint: a
bucket, a file copied up and down (multipart above the CLI's 8 MB threshold), put-object
and get-object, listing and removal."""

import hashlib
import json
import os
import subprocess
import sys
import uuid

AWS = os.path.join(os.path.dirname(sys.executable), "aws")


def aws(emulator, *args, check=True):
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_MAX_ATTEMPTS="1",
    )
    command = [AWS, *args, "--endpoint-url", emulator.endpoint]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if check:
        assert result.returncode == 0, result.stderr
    return result.stdout


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_copy_a_file_up_and_down(emulator, tmp_path):
    bucket = f"cli-{uuid.uuid4().hex[:8]}"
    aws(emulator, "s3", "mb", f"s3://{bucket}")
    source = tmp_path / "video.bin"
    source.write_bytes(os.urandom(21 * 1024 * 1024))
    aws(emulator, "s3", "cp", str(source), f"s3://{bucket}/media/video.bin")
    # It went up in three 8 MiB parts: S3's multipart ETag is the MD5 of the parts' MD5s, "-3".
    head = json.loads(aws(emulator, "s3api", "head-object", "--bucket", bucket, "--key", "media/video.bin"))
    data = source.read_bytes()
    part = 8 * 1024 * 1024
    parts = [hashlib.md5(data[i:i + part]).digest() for i in range(0, len(data), part)]
    assert len(parts) == 3
    assert head["ETag"] == f'"{hashlib.md5(b"".join(parts)).hexdigest()}-3"'
    listing = aws(emulator, "s3", "ls", f"s3://{bucket}/media/")
    assert "video.bin" in listing and str(21 * 1024 * 1024) in listing
    back = tmp_path / "back.bin"
    aws(emulator, "s3", "cp", f"s3://{bucket}/media/video.bin", str(back))
    assert digest(back) == digest(source)
    aws(emulator, "s3", "rm", f"s3://{bucket}/media/video.bin")
    # `aws s3 ls` exits 1 when nothing matches.
    assert "video.bin" not in aws(emulator, "s3", "ls", f"s3://{bucket}/media/", check=False)


def test_put_object_and_get_object(emulator, tmp_path):
    bucket = f"api-{uuid.uuid4().hex[:8]}"
    aws(emulator, "s3api", "create-bucket", "--bucket", bucket)
    body = tmp_path / "note.txt"
    body.write_text("a note for the CLI\n")
    put = json.loads(
        aws(
            emulator, "s3api", "put-object", "--bucket", bucket, "--key", "notes/1.txt",
            "--body", str(body), "--content-type", "text/plain", "--metadata", "author=cli",
        )
    )
    assert put["ETag"] == f'"{hashlib.md5(body.read_bytes()).hexdigest()}"'
    out = tmp_path / "out.txt"
    got = json.loads(
        aws(emulator, "s3api", "get-object", "--bucket", bucket, "--key", "notes/1.txt", str(out))
    )
    assert out.read_text() == "a note for the CLI\n"
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"author": "cli"}
    ranged = tmp_path / "range.txt"
    aws(emulator, "s3api", "get-object", "--bucket", bucket, "--key", "notes/1.txt", "--range", "bytes=2-5", str(ranged))
    assert ranged.read_text() == "note"
    listed = json.loads(aws(emulator, "s3api", "list-objects-v2", "--bucket", bucket))
    assert [o["Key"] for o in listed["Contents"]] == ["notes/1.txt"]
