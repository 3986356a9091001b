"""The Lambda Invoke API of `lockgate up` through boto3's Lambda client: functions no queue
triggers, by name, ARN and partial ARN; RequestResponse, Event and DryRun; function errors
and timeouts; Lambda's service errors; and a function that invokes another through the API
(with the endpoint `lockgate up` gives it)."""

import json
import os
import time

import pytest
from botocore.exceptions import ClientError

from conftest import Up

TEMPLATE = """\
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          MARKS: {marks}
  Caller:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: caller
      CodeUri: caller/
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          CALLEE: !GetAtt Echo.Arn
  Slow:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: app.slow
      Runtime: python3.12
      Timeout: 1
"""

ECHO = """\
import os
import time


def handler(event, context):
    if event.get("fail"):
        raise ValueError(event["fail"])
    if event.get("mark"):
        with open(os.path.join(os.environ["MARKS"], event["mark"]), "w") as f:
            f.write("invoked")
    return {"echo": event, "function": context.function_name}


def slow(event, context):
    time.sleep(5)
    return "too late"
"""

# The caller speaks the Invoke API over plain HTTP (the function has no SDK installed), at the
# endpoint lockgate gives it: the same request boto3's Lambda client makes.
CALLER = """\
import json
import os
import urllib.parse
import urllib.request


def handler(event, context):
    endpoint = os.environ["AWS_ENDPOINT_URL_LAMBDA"]
    name = urllib.parse.quote(os.environ["CALLEE"], safe="")
    request = urllib.request.Request(
        f"{endpoint}/2015-03-31/functions/{name}/invocations",
        data=json.dumps({"from": "caller", "inner": event}).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=60) as reply:
        return {"callee said": json.load(reply)}
"""


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    marks = tmp_path_factory.mktemp("marks")
    app = Up(TEMPLATE.format(marks=marks), {"echo/app.py": ECHO, "caller/app.py": CALLER})
    app.marks = marks
    yield app
    app.stop()


def payload(reply):
    return json.loads(reply["Payload"].read())


def test_request_response_by_name_arn_and_partial_arn(up):
    lam = up.client("lambda")
    for name in ["Echo", "arn:aws:lambda:us-east-1:000000000000:function:Echo",
                 "000000000000:function:Echo", "Echo:$LATEST"]:
        reply = lam.invoke(FunctionName=name, Payload=json.dumps({"n": 1}))
        assert reply["StatusCode"] == 200
        assert reply["ExecutedVersion"] == "$LATEST"
        assert "FunctionError" not in reply
        assert payload(reply) == {"echo": {"n": 1}, "function": "Echo"}


def test_a_function_invokes_another_through_the_api(up):
    reply = up.client("lambda").invoke(FunctionName="caller", Payload=b'{"order": 7}')
    assert payload(reply) == {"callee said": {
        "echo": {"from": "caller", "inner": {"order": 7}}, "function": "Echo"}}


def test_event_and_dry_run(up):
    lam = up.client("lambda")
    reply = lam.invoke(FunctionName="Echo", InvocationType="Event", Payload=b'{"mark": "async"}')
    assert reply["StatusCode"] == 202
    assert payload_bytes(reply) == b""
    deadline = time.monotonic() + 90
    while not os.path.exists(os.path.join(up.marks, "async")):
        assert time.monotonic() < deadline, "the Event invocation never ran"
        time.sleep(0.1)
    reply = lam.invoke(FunctionName="Echo", InvocationType="DryRun")
    assert reply["StatusCode"] == 204


def payload_bytes(reply):
    return reply["Payload"].read()


def test_function_errors_and_timeouts(up):
    lam = up.client("lambda")
    reply = lam.invoke(FunctionName="Echo", Payload=b'{"fail": "boom"}')
    assert reply["StatusCode"] == 200 and reply["FunctionError"] == "Unhandled"
    error = payload(reply)
    assert error["errorMessage"] == "boom" and error["errorType"] == "ValueError"
    reply = lam.invoke(FunctionName="Slow", Payload=b"{}")
    assert reply["FunctionError"] == "Unhandled"
    assert "timed out" in payload(reply)["errorMessage"]


def test_service_errors(up):
    lam = up.client("lambda")
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.invoke(FunctionName="Missing", Payload=b"{}")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "Function not found: arn:aws:lambda:us-east-1:000000000000:function:Missing" in str(e.value)
    for missing in ["Echo:live", "111111111111:function:Echo"]:
        with pytest.raises(lam.exceptions.ResourceNotFoundException):
            lam.invoke(FunctionName=missing, Payload=b"{}")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="Echo", Payload=b"{not json")
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="Echo", Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert e.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
