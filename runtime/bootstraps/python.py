"""Lockgate's bootstrap for Python functions: the Lambda Runtime API loop that AWS's Python
runtime runs, in the standard library alone (so it starts on any Python 3.9+ without a native
build). It imports `_HANDLER` (`module.function`, dotted packages too) from the task root,
calls it with each event and a Lambda context, and reports results and errors as Lambda does.
"""

import importlib
import json
import os
import sys
import time
import traceback
import urllib.request

RUNTIME = "http://%s/2018-06-01/runtime" % os.environ["AWS_LAMBDA_RUNTIME_API"]


def call(method, path, body=None, headers=None):
    request = urllib.request.Request(RUNTIME + path, data=body, method=method)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    return urllib.request.urlopen(request, timeout=None)


def error_body(exc):
    return json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "requestId": "",
            "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
        }
    ).encode()


def log_error(exc):
    # As Lambda's log shows an uncaught error.
    print(
        "[ERROR] %s: %s\n%s"
        % (type(exc).__name__, exc, "".join(traceback.format_tb(exc.__traceback__))),
        file=sys.stderr,
        flush=True,
    )


class Context:
    """Lambda's context object."""

    def __init__(self, headers):
        self.aws_request_id = headers.get("Lambda-Runtime-Aws-Request-Id", "")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn", "")
        self._deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms", "0"))
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        trace = headers.get("Lambda-Runtime-Trace-Id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def load_handler():
    name = os.environ["_HANDLER"]
    module_name, _, function_name = name.rpartition(".")
    if not module_name:
        raise ValueError("Bad handler '%s': expected module.function" % name)
    module = importlib.import_module(module_name)
    handler = getattr(module, function_name, None)
    if handler is None:
        raise AttributeError(
            "Handler '%s' missing on module '%s'" % (function_name, module_name)
        )
    return handler


def main():
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "."))
    try:
        handler = load_handler()
    except Exception as exc:  # noqa: BLE001 - any import failure is an init error
        log_error(exc)
        call("POST", "/init/error", error_body(exc), {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
        sys.exit(1)
    while True:
        with call("GET", "/invocation/next") as response:
            headers = response.headers
            event = json.loads(response.read() or b"null")
        context = Context(headers)
        request_id = context.aws_request_id
        try:
            result = handler(event, context)
            body = json.dumps(result).encode()
        except Exception as exc:  # noqa: BLE001 - reported to the Runtime API, as Lambda does
            log_error(exc)
            call(
                "POST",
                "/invocation/%s/error" % request_id,
                error_body(exc),
                {"Lambda-Runtime-Function-Error-Type": "Unhandled"},
            ).close()
            continue
        call("POST", "/invocation/%s/response" % request_id, body).close()


if __name__ == "__main__":
    main()
