"""`aws lambda invoke` (AWS CLI v1 from PyPI) against the Lambda Invoke API of `lockgate up`."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "conftest.py")
_spec = importlib.util.spec_from_file_location("lockgate_up", SHARED)
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)

AWS = os.path.join(os.path.dirname(sys.executable), "aws")

TEMPLATE = """\
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: greeter/
      Handler: app.handler
      Runtime: python3.12
"""

GREETER = """\
def handler(event, context):
    if "name" not in event:
        raise KeyError("name")
    return {"greeting": "hello " + event["name"]}
"""


@pytest.fixture(scope="module")
def up():
    app = _shared.Up(TEMPLATE, {"greeter/app.py": GREETER})
    yield app
    app.stop()


def aws(up, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", AWS_MAX_ATTEMPTS="1")
    result = subprocess.run([AWS, "lambda", *args, "--endpoint-url", up.endpoint],
                            capture_output=True, text=True, env=env)
    return result


def test_invoke_writes_the_response(up, tmp_path):
    out = tmp_path / "out.json"
    result = aws(up, "invoke", "--function-name", "Greeter", "--payload", '{"name": "cli"}', str(out))
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["StatusCode"] == 200 and "FunctionError" not in reply
    assert json.loads(out.read_text()) == {"greeting": "hello cli"}


def test_a_function_error_is_reported(up, tmp_path):
    out = tmp_path / "out.json"
    result = aws(up, "invoke", "--function-name", "Greeter", "--payload", "{}", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["FunctionError"] == "Unhandled"
    assert json.loads(out.read_text())["errorType"] == "KeyError"


def test_an_unknown_function_is_not_found(up, tmp_path):
    result = aws(up, "invoke", "--function-name", "Nobody", "--payload", "{}", str(tmp_path / "o"))
    assert result.returncode != 0
    assert "ResourceNotFoundException" in result.stderr and "Function not found" in result.stderr
