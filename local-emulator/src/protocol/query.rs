//! The Query protocol (API version 2012-11-05): form-encoded `Action=…` requests with indexed
//! parameters (`Attribute.1.Name`, `SendMessageBatchRequestEntry.2.MessageBody`, …) and XML
//! replies. Requests are reshaped into the same JSON the JSON protocol carries, and replies are
//! rendered from the same JSON, so every action has one implementation.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{ErrorCode, SqsError};

pub const CONTENT_TYPE: &str = "text/xml";
const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// Decodes `application/x-www-form-urlencoded` pairs.
pub fn parse_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes one percent-encoded component (for SigV4's canonical path).
pub fn parse_form_component(s: &str) -> String {
    percent_decode(s)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A tree of dotted parameter names: `A.1.B` = v becomes {"A": {"1": {"B": v}}}.
#[derive(Default, Debug)]
struct Node {
    value: Option<String>,
    children: BTreeMap<String, Node>,
}

impl Node {
    /// Iterative: the depth of a name is input, so nothing here recurses on it (and
    /// [`to_json`] bounds it before the tree is built, so dropping the tree cannot either).
    fn insert(&mut self, path: &[&str], value: String) {
        let mut node = self;
        for head in path {
            node = node.children.entry((*head).to_string()).or_default();
        }
        node.value = Some(value);
    }

    /// Children indexed 1, 2, … in numeric order.
    fn indexed(&self) -> Vec<&Node> {
        let mut items: Vec<(u32, &Node)> = self
            .children
            .iter()
            .filter_map(|(k, v)| k.parse().ok().map(|n| (n, v)))
            .collect();
        items.sort_by_key(|(n, _)| *n);
        items.into_iter().map(|(_, v)| v).collect()
    }

    fn text(&self, key: &str) -> Option<String> {
        self.children.get(key).and_then(|n| n.value.clone())
    }
}

const NUMBERS: &[&str] = &[
    "DelaySeconds",
    "MaxNumberOfMessages",
    "MaxResults",
    "VisibilityTimeout",
    "WaitTimeSeconds",
];

/// The deepest parameter name SQS has is six parts
/// (`SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue`).
pub const MAX_NAME_PARTS: usize = 8;
/// The most parameters one SQS request carries is about 500 (a batch of ten entries with ten
/// attributes each); anything far beyond is not a request SQS would take.
pub const MAX_PARAMETERS: usize = 2_000;

/// Reshapes a Query request's parameters (without `Action` and `Version`) into the JSON body
/// the JSON protocol would carry for `action`. Names deeper than [`MAX_NAME_PARTS`] or more
/// than [`MAX_PARAMETERS`] parameters are refused before anything is built.
pub fn to_json(action: &str, params: &[(String, String)]) -> Result<Value, SqsError> {
    if params.len() > MAX_PARAMETERS {
        return Err(SqsError::invalid_parameter(format!(
            "The request has {} parameters; at most {MAX_PARAMETERS} are accepted.",
            params.len()
        )));
    }
    let mut root = Node::default();
    for (k, v) in params {
        if k == "Action" || k == "Version" {
            continue;
        }
        let path: Vec<&str> = k.splitn(MAX_NAME_PARTS + 1, '.').collect();
        if path.len() > MAX_NAME_PARTS {
            return Err(SqsError::invalid_parameter(format!(
                "The parameter name {}… has more than {MAX_NAME_PARTS} dot-separated parts.",
                k.chars().take(64).collect::<String>()
            )));
        }
        root.insert(&path, v.clone());
    }
    Ok(convert(action, &root))
}

/// List parameters by the name botocore gives an empty list: it sends `Name=` (e.g.
/// `MessageAttributeNames=`, `Entries=`), which means an empty list, not a string.
const EMPTY_LIST_NAMES: &[&str] = &[
    "AWSAccountIds",
    "Actions",
    "AttributeNames",
    "Entries",
    "MessageAttributeNames",
    "MessageSystemAttributeNames",
    "TagKeys",
];

fn convert(action: &str, node: &Node) -> Value {
    let mut out = Map::new();
    for (key, child) in &node.children {
        match key.as_str() {
            k if EMPTY_LIST_NAMES.contains(&k) && child.children.is_empty() => {
                if child.value.as_deref().is_some_and(str::is_empty) {
                    out.insert(k.to_string(), Value::Array(Vec::new()));
                }
            }
            "Attribute" => {
                let map = name_value_map(child, "Name", "Value");
                out.insert("Attributes".into(), Value::Object(map));
            }
            "Tag" => {
                let map = name_value_map(child, "Key", "Value");
                let field = if action == "CreateQueue" {
                    "tags"
                } else {
                    "Tags"
                };
                out.insert(field.into(), Value::Object(map));
            }
            "AttributeName"
            | "MessageAttributeName"
            | "MessageSystemAttributeName"
            | "TagKey"
            | "AWSAccountId"
            | "ActionName" => {
                let list = child
                    .indexed()
                    .into_iter()
                    .filter_map(|n| n.value.clone().map(Value::String))
                    .collect();
                let field = if key == "ActionName" {
                    "Actions".to_string()
                } else {
                    format!("{key}s")
                };
                out.insert(field, Value::Array(list));
            }
            "MessageAttribute" | "MessageSystemAttribute" => {
                let mut map = Map::new();
                for item in child.indexed() {
                    let (Some(name), Some(value)) = (item.text("Name"), item.children.get("Value"))
                    else {
                        continue;
                    };
                    let mut attr = Map::new();
                    for field in ["DataType", "StringValue", "BinaryValue"] {
                        if let Some(v) = value.text(field) {
                            attr.insert(field.into(), Value::String(v));
                        }
                    }
                    map.insert(name, Value::Object(attr));
                }
                out.insert(format!("{key}s"), Value::Object(map));
            }
            k if k.ends_with("BatchRequestEntry") => {
                let entries = child
                    .indexed()
                    .into_iter()
                    .map(|n| convert(action, n))
                    .collect();
                out.insert("Entries".into(), Value::Array(entries));
            }
            k => {
                if let Some(v) = &child.value {
                    let value = if NUMBERS.contains(&k) {
                        v.trim()
                            .parse::<i64>()
                            .map(Value::from)
                            .unwrap_or_else(|_| Value::String(v.clone()))
                    } else {
                        Value::String(v.clone())
                    };
                    out.insert(k.to_string(), value);
                }
            }
        }
    }
    Value::Object(out)
}

fn name_value_map(node: &Node, name: &str, value: &str) -> Map<String, Value> {
    node.indexed()
        .into_iter()
        .filter_map(|n| {
            Some((
                n.text(name)?,
                Value::String(n.text(value).unwrap_or_default()),
            ))
        })
        .collect()
}

/// Actions whose replies have no `<…Result>` element.
pub(super) const NO_RESULT: &[&str] = &[
    "AddPermission",
    "ChangeMessageVisibility",
    "DeleteMessage",
    "DeleteQueue",
    "PurgeQueue",
    "RemovePermission",
    "SetQueueAttributes",
    "TagQueue",
    "UntagQueue",
];

/// Renders an action's JSON reply as SQS's XML.
pub fn render(action: &str, json: &[u8], request_id: &str) -> String {
    let value: Value = serde_json::from_slice(json).unwrap_or(Value::Null);
    let mut xml = String::from("<?xml version=\"1.0\"?>");
    xml.push_str(&format!("<{action}Response xmlns=\"{NAMESPACE}\">"));
    // Actions with an output shape always carry their Result element, even when empty
    // (`<ReceiveMessageResult/>` for an empty receive).
    if !NO_RESULT.contains(&action) {
        let mut fields = String::new();
        for (key, v) in value.as_object().into_iter().flatten() {
            render_field(&mut fields, action, key, v);
        }
        if fields.is_empty() {
            xml.push_str(&format!("<{action}Result/>"));
        } else {
            xml.push_str(&format!("<{action}Result>{fields}</{action}Result>"));
        }
    }
    xml.push_str(&format!(
        "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    ));
    xml
}

fn render_field(xml: &mut String, action: &str, key: &str, value: &Value) {
    match (key, value) {
        ("Attributes", Value::Object(map)) => {
            for (name, v) in map {
                element(xml, "Attribute", |x| {
                    leaf(x, "Name", name);
                    leaf(x, "Value", v.as_str().unwrap_or_default());
                });
            }
        }
        ("Tags", Value::Object(map)) => {
            for (k, v) in map {
                element(xml, "Tag", |x| {
                    leaf(x, "Key", k);
                    leaf(x, "Value", v.as_str().unwrap_or_default());
                });
            }
        }
        ("MessageAttributes", Value::Object(map)) => {
            for (name, v) in map {
                element(xml, "MessageAttribute", |x| {
                    leaf(x, "Name", name);
                    element(x, "Value", |x| {
                        for field in ["StringValue", "BinaryValue", "DataType"] {
                            if let Some(s) = v.get(field).and_then(Value::as_str) {
                                leaf(x, field, s);
                            }
                        }
                    });
                });
            }
        }
        (_, Value::Array(items)) => {
            let name = match key {
                "QueueUrls" | "queueUrls" => "QueueUrl".to_string(),
                "Messages" => "Message".to_string(),
                "Failed" => "BatchResultErrorEntry".to_string(),
                "Successful" => format!("{action}ResultEntry"),
                other => other.to_string(),
            };
            for item in items {
                render_field(xml, action, &name, item);
            }
        }
        (_, Value::Object(map)) => {
            element(xml, key, |x| {
                for (k, v) in map {
                    render_field(x, action, k, v);
                }
            });
        }
        (_, Value::String(s)) => leaf(xml, key, s),
        (_, Value::Bool(b)) => leaf(xml, key, &b.to_string()),
        (_, Value::Number(n)) => leaf(xml, key, &n.to_string()),
        (_, Value::Null) => {}
    }
}

fn element(xml: &mut String, name: &str, body: impl FnOnce(&mut String)) {
    xml.push('<');
    xml.push_str(name);
    xml.push('>');
    body(xml);
    xml.push_str("</");
    xml.push_str(name);
    xml.push('>');
}

fn leaf(xml: &mut String, name: &str, text: &str) {
    element(xml, name, |x| escape_into(x, text));
}

/// Text for XML (the Query protocol's replies and S3's): markup characters escaped, and
/// control characters other than tab and newline as character references (a carriage return
/// would otherwise be read back as a newline).
pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n') => {
                out.push_str(&format!("&#x{:X};", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// The Query protocol words NonExistentQueue differently.
pub(super) fn query_message(error: &SqsError) -> String {
    if error.code == ErrorCode::QueueDoesNotExist {
        "The specified queue does not exist for this wsdl version.".to_string()
    } else {
        error.message.clone()
    }
}

/// An error as `<ErrorResponse>`.
pub fn error(error: &SqsError, request_id: &str) -> String {
    let message = query_message(error);
    let mut xml =
        format!("<?xml version=\"1.0\"?><ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>");
    xml.push_str(if error.code.sender_fault() {
        "Sender"
    } else {
        "Receiver"
    });
    xml.push_str("</Type>");
    leaf(&mut xml, "Code", error.code.legacy_code());
    leaf(&mut xml, "Message", &message);
    xml.push_str("<Detail/></Error>");
    leaf(&mut xml, "RequestId", request_id);
    xml.push_str("</ErrorResponse>");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn indexed_parameters_become_json() {
        let form = "Action=SendMessageBatch&QueueUrl=http%3A%2F%2Fh%2F0%2Fq\
            &SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=two+words\
            &SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=one\
            &SendMessageBatchRequestEntry.1.DelaySeconds=5\
            &SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=k\
            &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String\
            &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=v";
        let params = parse_form(form);
        assert_eq!(
            to_json("SendMessageBatch", &params).unwrap(),
            json!({"QueueUrl": "http://h/0/q", "Entries": [
                {"Id": "a", "MessageBody": "one", "DelaySeconds": 5,
                 "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
                {"Id": "b", "MessageBody": "two words"}
            ]})
        );
        let params = parse_form(
            "Action=CreateQueue&QueueName=q&Attribute.1.Name=DelaySeconds&Attribute.1.Value=3&Tag.1.Key=t&Tag.1.Value=x",
        );
        assert_eq!(
            to_json("CreateQueue", &params).unwrap(),
            json!({"QueueName": "q", "Attributes": {"DelaySeconds": "3"}, "tags": {"t": "x"}})
        );
        // botocore's empty lists: `Name=` with no index.
        let params = parse_form("MessageAttributeNames=&AttributeNames=&QueueUrl=u");
        assert_eq!(
            to_json("ReceiveMessage", &params).unwrap(),
            json!({"MessageAttributeNames": [], "AttributeNames": [], "QueueUrl": "u"})
        );
        let params = parse_form("Entries=&QueueUrl=u");
        assert_eq!(
            to_json("SendMessageBatch", &params).unwrap(),
            json!({"Entries": [], "QueueUrl": "u"})
        );
        let params =
            parse_form("AttributeName.1=All&MessageAttributeName.1=All&MaxNumberOfMessages=10");
        assert_eq!(
            to_json("ReceiveMessage", &params).unwrap(),
            json!({"AttributeNames": ["All"], "MessageAttributeNames": ["All"], "MaxNumberOfMessages": 10})
        );
    }

    #[test]
    fn deep_and_numerous_names_are_refused_without_recursion() {
        let deep = format!("{}B", "A.".repeat(15_000));
        let err = to_json("ListQueues", &[(deep, "1".into())]).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterValue);
        let six = "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue";
        assert!(to_json("SendMessageBatch", &[(six.into(), "v".into())]).is_ok());
        let many: Vec<(String, String)> = (0..=MAX_PARAMETERS)
            .map(|i| (format!("P{i}"), String::new()))
            .collect();
        assert!(to_json("ListQueues", &many).is_err());
    }

    #[test]
    fn replies_render_as_sqs_xml() {
        let xml = render("GetQueueUrl", br#"{"QueueUrl":"http://h/0/q"}"#, "r1");
        assert_eq!(
            xml,
            format!(
                "<?xml version=\"1.0\"?><GetQueueUrlResponse xmlns=\"{NAMESPACE}\"><GetQueueUrlResult><QueueUrl>http://h/0/q</QueueUrl></GetQueueUrlResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetQueueUrlResponse>"
            )
        );
        let xml = render("DeleteMessage", b"{}", "r2");
        assert!(!xml.contains("DeleteMessageResult"));
        let xml = render("ReceiveMessage", b"{}", "r5");
        assert!(xml.contains("<ReceiveMessageResult/>"), "{xml}");
        let xml = render(
            "ReceiveMessage",
            br#"{"Messages":[{"MessageId":"m","Body":"a<b","Attributes":{"SentTimestamp":"1"}}]}"#,
            "r3",
        );
        for part in [
            "<Message>",
            "<MessageId>m</MessageId>",
            "<Body>a&lt;b</Body>",
            "<Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute>",
            "</Message>",
        ] {
            assert!(xml.contains(part), "{part} in {xml}");
        }
        let xml = render(
            "SendMessageBatch",
            br#"{"Successful":[{"Id":"a"}],"Failed":[]}"#,
            "r4",
        );
        assert!(
            xml.contains("<SendMessageBatchResultEntry><Id>a</Id></SendMessageBatchResultEntry>"),
            "{xml}"
        );
    }
}
