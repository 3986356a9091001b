"""Writes a receipt for each accepted order (Python, Runtime python3.12). A message that is not
an order with items fails alone (ReportBatchItemFailures): SQS redelivers it, and after
maxReceiveCount it lands in receipts-dlq."""

import json


def receipt(order):
    items = order.get("items") or []
    if not items:
        raise ValueError("order %s has no items" % order.get("id"))
    units = sum(int(item["quantity"]) for item in items)
    return "receipt for %s: %d unit(s)" % (order["id"], units)


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            print(receipt(json.loads(record["body"])))
        except (ValueError, KeyError, TypeError) as error:
            print("message %s failed: %s" % (record["messageId"], error))
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
