"""A Python function for end-to-end tests (the Python twin of functions/probe). Each message
body is a JSON command: {"do":"ok"}, {"do":"fail"} (reported in batchItemFailures),
{"do":"raise"} (an uncaught error: the whole batch fails), {"do":"exit"} (the process dies),
{"do":"spawn","ms":N} (starts a long-lived child, then sleeps). Every message it completes is
appended to $PROBE_LOG as `done <id> <body> <group> <attempt>`; each invocation logs its
context and environment as `context <json>`.
"""

import json
import os
import subprocess
import time

import six  # from requirements.txt

ENVIRONMENT = [
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_REGION",
    "LAMBDA_TASK_ROOT",
    "TZ",
    "_HANDLER",
    "GREETING",
]


def append(line):
    with open(os.environ["PROBE_LOG"], "a") as log:
        log.write(line + "\n")


def handle(event, context):
    records = event["Records"]
    append("batch %d" % len(records))
    append(
        "context "
        + json.dumps(
            {
                "aws_request_id": context.aws_request_id,
                "function_name": context.function_name,
                "function_version": context.function_version,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "invoked_function_arn": context.invoked_function_arn,
                "log_group_name": context.log_group_name,
                "remaining_ms": context.get_remaining_time_in_millis(),
                "six": six.__version__,
                "environment": {name: os.environ.get(name) for name in ENVIRONMENT},
            }
        )
    )
    failures = []
    failed_groups = set()
    for record in records:
        group = record["attributes"].get("MessageGroupId")
        if group is not None and group in failed_groups:
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        command = json.loads(record["body"])
        action = command["do"]
        if action == "fail":
            failures.append({"itemIdentifier": record["messageId"]})
            if group is not None:
                failed_groups.add(group)
            continue
        if action == "raise":
            raise RuntimeError("asked to raise")
        if action == "exit":
            os._exit(3)
        if action == "spawn":
            child = subprocess.Popen(["sleep", "600"])
            append("spawned %d" % child.pid)
            time.sleep(command.get("ms", 0) / 1000)
        append(
            "done %s %s %s %s"
            % (
                record["messageId"],
                record["body"],
                group or "-",
                record["attributes"]["ApproximateReceiveCount"],
            )
        )
    return {"batchItemFailures": failures}
