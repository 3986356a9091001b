"""A Python function that does nothing, for the runtime benchmark."""


def handler(event, context):
    return {"batchItemFailures": []}
