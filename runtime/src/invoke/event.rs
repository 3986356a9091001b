//! Lambda's SQS event, built from received messages: each record is serialized once, when it
//! is received, and a batch's event is assembled from them ([`assemble`]); [`json_len`]
//! measures a record for the payload cap when a kind takes it in another form.

use std::collections::HashMap;
use std::io;

use aws_sdk_sqs::types::{Message, MessageAttributeValue, MessageSystemAttributeName};
use base64::Engine;

/// `{"Records":[…]}` from serialized records.
pub fn assemble(records: &[Vec<u8>]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(records.iter().map(|r| r.len() + 1).sum::<usize>() + 16);
    payload.extend_from_slice(b"{\"Records\":[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            payload.push(b',');
        }
        payload.extend_from_slice(r);
    }
    payload.extend_from_slice(b"]}");
    payload
}

/// The bytes a record takes in the JSON event (what Lambda's 6 MB payload cap counts),
/// measured without writing it.
pub fn json_len(record: &LambdaRecord<'_>) -> usize {
    struct Count(usize);
    impl io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, record).expect("record serializes");
    count.0
}

/// One SQS record as Lambda puts it in the event, serialized straight from the received
/// message (no intermediate JSON tree: this runs for every message).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaRecord<'a> {
    message_id: Option<&'a str>,
    receipt_handle: Option<&'a str>,
    body: Option<&'a str>,
    #[serde(serialize_with = "system_attributes")]
    attributes: &'a Option<HashMap<MessageSystemAttributeName, String>>,
    #[serde(serialize_with = "message_attributes")]
    message_attributes: &'a Option<HashMap<String, MessageAttributeValue>>,
    md5_of_body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    md5_of_message_attributes: Option<&'a str>,
    event_source: &'static str,
    #[serde(rename = "eventSourceARN")]
    event_source_arn: &'a str,
    aws_region: &'a str,
}

impl<'a> LambdaRecord<'a> {
    pub fn new(m: &'a Message, queue_arn: &'a str, region: &'a str) -> Self {
        Self {
            message_id: m.message_id.as_deref(),
            receipt_handle: m.receipt_handle.as_deref(),
            body: m.body.as_deref(),
            attributes: &m.attributes,
            message_attributes: &m.message_attributes,
            md5_of_body: m.md5_of_body.as_deref(),
            md5_of_message_attributes: m.md5_of_message_attributes.as_deref(),
            event_source: "aws:sqs",
            event_source_arn: queue_arn,
            aws_region: region,
        }
    }
}

fn system_attributes<S: serde::Serializer>(
    attributes: &&Option<HashMap<MessageSystemAttributeName, String>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(attributes.iter().flatten().map(|(k, v)| (k.as_str(), v)))
}

fn message_attributes<S: serde::Serializer>(
    attributes: &&Option<HashMap<String, MessageAttributeValue>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Attribute<'a> {
        string_value: Option<&'a str>,
        binary_value: Option<String>,
        string_list_values: [&'a str; 0],
        binary_list_values: [&'a str; 0],
        data_type: &'a str,
    }
    serializer.collect_map(attributes.iter().flatten().map(|(name, v)| {
        let binary = v
            .binary_value
            .as_ref()
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b.as_ref()));
        let attribute = Attribute {
            string_value: v.string_value.as_deref(),
            binary_value: binary,
            string_list_values: [],
            binary_list_values: [],
            data_type: &v.data_type,
        };
        (name, attribute)
    }))
}
