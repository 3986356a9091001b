//! Query-protocol replies for a client that asked for JSON (`Accept: application/json`), in
//! the shape SQS gives them: `{"<Action>Response": {"<Action>Result": {…}, "ResponseMetadata":
//! {"RequestId": …}}}`. Recorded SQS replies show its casing: list members are named
//! lower-camel (`messages`, `queueUrls`), every other member keeps the model's name
//! (`Attributes`, `MD5OfBody`), and a member without a value is `null` rather than left out
//! (`"messages": null` for an empty receive, `"SequenceNumber": null` on a standard queue).
//! The output shapes below list each action's members so the nulls can be written.

use serde_json::{Map, Value};

use super::query::NO_RESULT;
use crate::error::SqsError;

/// A structure of the SQS model: its members by name.
type Shape = &'static [(&'static str, Kind)];

#[derive(Clone, Copy)]
enum Kind {
    Scalar,
    /// A map: string values, or structures of this shape.
    Map(Option<Shape>),
    /// A list: strings, or structures of this shape.
    List(Option<Shape>),
}

use Kind::{List, Map as MapOf, Scalar};

const BATCH_ERROR: Shape = &[
    ("Code", Scalar),
    ("Id", Scalar),
    ("Message", Scalar),
    ("SenderFault", Scalar),
];
const BATCH_ID: Shape = &[("Id", Scalar)];
const SENT: Shape = &[
    ("MD5OfMessageAttributes", Scalar),
    ("MD5OfMessageBody", Scalar),
    ("MD5OfMessageSystemAttributes", Scalar),
    ("MessageId", Scalar),
    ("SequenceNumber", Scalar),
];
const SENT_ENTRY: Shape = &[
    ("Id", Scalar),
    ("MD5OfMessageAttributes", Scalar),
    ("MD5OfMessageBody", Scalar),
    ("MD5OfMessageSystemAttributes", Scalar),
    ("MessageId", Scalar),
    ("SequenceNumber", Scalar),
];
const ATTRIBUTE_VALUE: Shape = &[
    ("BinaryListValues", List(None)),
    ("BinaryValue", Scalar),
    ("DataType", Scalar),
    ("StringListValues", List(None)),
    ("StringValue", Scalar),
];
const MESSAGE: Shape = &[
    ("Attributes", MapOf(None)),
    ("Body", Scalar),
    ("MD5OfBody", Scalar),
    ("MD5OfMessageAttributes", Scalar),
    ("MessageAttributes", MapOf(Some(ATTRIBUTE_VALUE))),
    ("MessageId", Scalar),
    ("ReceiptHandle", Scalar),
];
const MOVE_TASK: Shape = &[
    ("ApproximateNumberOfMessagesMoved", Scalar),
    ("ApproximateNumberOfMessagesToMove", Scalar),
    ("DestinationArn", Scalar),
    ("FailureReason", Scalar),
    ("MaxNumberOfMessagesPerSecond", Scalar),
    ("SourceArn", Scalar),
    ("StartedTimestamp", Scalar),
    ("Status", Scalar),
    ("TaskHandle", Scalar),
];

/// The members of an action's Result (None: an action without output, or not SQS's).
fn output(action: &str) -> Option<Shape> {
    Some(match action {
        "CreateQueue" | "GetQueueUrl" => &[("QueueUrl", Scalar)],
        "ListQueues" => &[("NextToken", Scalar), ("QueueUrls", List(None))],
        "ListDeadLetterSourceQueues" => &[("NextToken", Scalar), ("queueUrls", List(None))],
        "GetQueueAttributes" => &[("Attributes", MapOf(None))],
        "ListQueueTags" => &[("Tags", MapOf(None))],
        "SendMessage" => SENT,
        "SendMessageBatch" => &[
            ("Failed", List(Some(BATCH_ERROR))),
            ("Successful", List(Some(SENT_ENTRY))),
        ],
        "DeleteMessageBatch" | "ChangeMessageVisibilityBatch" => &[
            ("Failed", List(Some(BATCH_ERROR))),
            ("Successful", List(Some(BATCH_ID))),
        ],
        "ReceiveMessage" => &[("Messages", List(Some(MESSAGE)))],
        "StartMessageMoveTask" => &[("TaskHandle", Scalar)],
        "CancelMessageMoveTask" => &[("ApproximateNumberOfMessagesMoved", Scalar)],
        "ListMessageMoveTasks" => &[("Results", List(Some(MOVE_TASK)))],
        _ => return None,
    })
}

/// A list member's name in SQS's JSON: lower-camel.
fn list_name(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_lowercase().to_string() + chars.as_str()
    })
}

/// `value` (the JSON protocol's form of a `shape`) in SQS's Query-JSON form.
fn reshape(shape: Shape, value: &Value) -> Value {
    let mut out = Map::new();
    for (name, kind) in shape {
        let member = value.get(*name).filter(|v| !v.is_null());
        let (key, converted) = match (kind, member) {
            (List(_), None) => (list_name(name), Value::Null),
            (List(items), Some(Value::Array(list))) => (
                list_name(name),
                Value::Array(
                    list.iter()
                        .map(|item| items.map_or_else(|| item.clone(), |s| reshape(s, item)))
                        .collect(),
                ),
            ),
            (MapOf(Some(values)), Some(Value::Object(map))) => (
                name.to_string(),
                Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), reshape(values, v)))
                        .collect(),
                ),
            ),
            (_, member) => (name.to_string(), member.cloned().unwrap_or(Value::Null)),
        };
        out.insert(key, converted);
    }
    Value::Object(out)
}

/// A Query action's reply as JSON, from the action's JSON-protocol output.
pub fn render(action: &str, json: &[u8], request_id: &str) -> String {
    let result: Value = serde_json::from_slice(json).unwrap_or_else(|_| Value::Object(Map::new()));
    let mut response = Map::new();
    if !NO_RESULT.contains(&action) {
        let result = match output(action) {
            Some(shape) => reshape(shape, &result),
            None => result,
        };
        response.insert(format!("{action}Result"), result);
    }
    response.insert(
        "ResponseMetadata".into(),
        serde_json::json!({"RequestId": request_id}),
    );
    serde_json::json!({ format!("{action}Response"): response }).to_string()
}

/// An error for a Query client that asked for JSON: `{"Error": {"Type", "Code", "Message"},
/// "RequestId"}`, the `<ErrorResponse>` fields as JSON.
pub fn error(error: &SqsError, request_id: &str) -> String {
    serde_json::json!({
        "Error": {
            "Type": if error.code.sender_fault() { "Sender" } else { "Receiver" },
            "Code": error.code.legacy_code(),
            "Message": super::query::query_message(error),
        },
        "RequestId": request_id,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(action: &str, output: Value) -> Value {
        serde_json::from_str(&render(action, output.to_string().as_bytes(), "r")).unwrap()
    }

    /// SQS's recorded replies: an empty receive, a receive, a standard-queue send, ListQueues.
    #[test]
    fn replies_take_sqs_casing_and_nulls() {
        assert_eq!(
            reply("ReceiveMessage", json!({})),
            json!({"ReceiveMessageResponse": {
                "ReceiveMessageResult": {"messages": null},
                "ResponseMetadata": {"RequestId": "r"}}})
        );
        let got = reply(
            "ReceiveMessage",
            json!({"Messages": [{"MessageId": "m", "ReceiptHandle": "h", "MD5OfBody": "d",
                "Body": "b", "Attributes": {"ApproximateReceiveCount": "1"}}]}),
        );
        assert_eq!(
            got["ReceiveMessageResponse"]["ReceiveMessageResult"]["messages"],
            json!([{"Attributes": {"ApproximateReceiveCount": "1"}, "Body": "b",
                "MD5OfBody": "d", "MD5OfMessageAttributes": null, "MessageAttributes": null,
                "MessageId": "m", "ReceiptHandle": "h"}])
        );
        assert_eq!(
            reply("SendMessage", json!({"MessageId": "m", "MD5OfMessageBody": "d"}))
                ["SendMessageResponse"]["SendMessageResult"],
            json!({"MD5OfMessageAttributes": null, "MD5OfMessageBody": "d",
                "MD5OfMessageSystemAttributes": null, "MessageId": "m", "SequenceNumber": null})
        );
        assert_eq!(
            reply("ListQueues", json!({"QueueUrls": ["u"]}))["ListQueuesResponse"]
                ["ListQueuesResult"],
            json!({"NextToken": null, "queueUrls": ["u"]})
        );
        // Keys in the order SQS writes them (sorted).
        let text = render("SendMessage", br#"{"MessageId":"m"}"#, "r");
        assert!(
            text.find("MD5OfMessageAttributes").unwrap() < text.find("MessageId").unwrap(),
            "{text}"
        );
    }

    #[test]
    fn nested_lists_and_maps_follow_the_same_rule() {
        let got = reply(
            "ReceiveMessage",
            json!({"Messages": [{"MessageId": "m", "MessageAttributes":
                {"k": {"DataType": "String", "StringValue": "v"}}}]}),
        );
        assert_eq!(
            got["ReceiveMessageResponse"]["ReceiveMessageResult"]["messages"][0]
                ["MessageAttributes"]["k"],
            json!({"BinaryValue": null, "DataType": "String", "StringValue": "v",
                "binaryListValues": null, "stringListValues": null})
        );
        let got = reply(
            "DeleteMessageBatch",
            json!({"Successful": [{"Id": "a"}]}),
        );
        assert_eq!(
            got["DeleteMessageBatchResponse"]["DeleteMessageBatchResult"],
            json!({"failed": null, "successful": [{"Id": "a"}]})
        );
        // Actions without output carry only the metadata.
        assert_eq!(
            reply("DeleteMessage", json!({})),
            json!({"DeleteMessageResponse": {"ResponseMetadata": {"RequestId": "r"}}})
        );
    }
}
