//! Lambda's SQS event (JSON) to the world's records, and failed ids to Lambda's partial batch
//! response — so a WASM handler receives exactly what a native function on Lambda receives.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;

use crate::bindings::{Message, MessageAttribute};

/// Lambda's SQS event, as far as a handler needs it.
#[derive(Debug, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records")]
    records: Vec<Record>,
}

impl SqsEvent {
    /// The records as the world's messages.
    pub fn into_messages(self) -> Result<Vec<Message>, String> {
        self.records.into_iter().map(message).collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    receipt_handle: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    message_attributes: BTreeMap<String, Attribute>,
    #[serde(default)]
    md5_of_body: Option<String>,
    #[serde(default, rename = "eventSourceARN")]
    event_source_arn: Option<String>,
    #[serde(default)]
    aws_region: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Attribute {
    #[serde(default)]
    string_value: Option<String>,
    #[serde(default)]
    binary_value: Option<String>,
    #[serde(default)]
    data_type: String,
}

/// The records of an SQS event, as the world's messages.
pub fn messages(event: &[u8]) -> Result<Vec<Message>, String> {
    let event: SqsEvent =
        serde_json::from_slice(event).map_err(|e| format!("not an SQS event: {e}"))?;
    event.into_messages()
}

fn message(r: Record) -> Result<Message, String> {
    let message_id = r.message_id.unwrap_or_default();
    let message_attributes = r
        .message_attributes
        .into_iter()
        .map(|(name, a)| {
            let binary_value = a
                .binary_value
                .map(|b| base64::engine::general_purpose::STANDARD.decode(b))
                .transpose()
                .map_err(|e| format!("message {message_id}: attribute {name}: {e}"))?;
            Ok(MessageAttribute {
                name,
                data_type: a.data_type,
                string_value: a.string_value,
                binary_value,
            })
        })
        .collect::<Result<_, String>>()?;
    let mut attributes = r.attributes;
    let mut number = |name: &str| -> Result<u64, String> {
        attributes.remove(name).map_or(Ok(0), |v| {
            v.parse()
                .map_err(|_| format!("message {message_id}: {name} is not a number: {v:?}"))
        })
    };
    let receive_count = u32::try_from(number("ApproximateReceiveCount")?).unwrap_or(u32::MAX);
    let sent_timestamp = number("SentTimestamp")?;
    let first_receive_timestamp = number("ApproximateFirstReceiveTimestamp")?;
    Ok(Message {
        receipt_handle: r.receipt_handle.unwrap_or_default(),
        body: r.body.unwrap_or_default(),
        receive_count,
        sent_timestamp,
        first_receive_timestamp,
        sender_id: attributes.remove("SenderId").unwrap_or_default(),
        message_group_id: attributes.remove("MessageGroupId"),
        message_deduplication_id: attributes.remove("MessageDeduplicationId"),
        sequence_number: attributes.remove("SequenceNumber"),
        other_attributes: attributes.into_iter().collect(),
        message_attributes,
        message_id,
        md5_of_body: r.md5_of_body.unwrap_or_default(),
        event_source_arn: r.event_source_arn.unwrap_or_default(),
        aws_region: r.aws_region.unwrap_or_default(),
    })
}

/// `{"batchItemFailures":[{"itemIdentifier":…}]}`.
pub fn batch_response_json(failed: &[String]) -> serde_json::Value {
    let failures: Vec<_> = failed
        .iter()
        .map(|id| serde_json::json!({ "itemIdentifier": id }))
        .collect();
    serde_json::json!({ "batchItemFailures": failures })
}

/// [`batch_response_json`], serialized.
pub fn batch_response(failed: &[String]) -> Vec<u8> {
    serde_json::to_vec(&batch_response_json(failed)).expect("a response serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aws_sample_event_converts() {
        let sample = include_bytes!("../../../events/sqs-sample.json");
        let messages = messages(sample).unwrap();
        assert!(!messages.is_empty());
        let m = &messages[0];
        assert!(!m.message_id.is_empty());
        assert!(m.event_source_arn.starts_with("arn:aws:sqs:"));
        assert_eq!(m.receive_count, 1);
        assert!(m.sent_timestamp > 1_500_000_000_000);
        assert!(!m.sender_id.is_empty());
    }

    #[test]
    fn attributes_and_binary_values_convert() {
        let event = br#"{"Records":[{"messageId":"m1","receiptHandle":"h","body":"b",
            "attributes":{"MessageGroupId":"g","ApproximateReceiveCount":"3","AWSTraceHeader":"Root=1"},
            "messageAttributes":{"bin":{"binaryValue":"aGk=","dataType":"Binary","stringListValues":[],"binaryListValues":[]},
                                 "s":{"stringValue":"v","dataType":"String"}},
            "md5OfBody":"x","eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:1:q.fifo","awsRegion":"us-east-1"}]}"#;
        let m = &messages(event).unwrap()[0];
        assert_eq!(m.message_group_id.as_deref(), Some("g"));
        assert_eq!(m.receive_count, 3);
        assert_eq!(
            m.other_attributes,
            [("AWSTraceHeader".to_string(), "Root=1".to_string())]
        );
        let bin = m
            .message_attributes
            .iter()
            .find(|a| a.name == "bin")
            .unwrap();
        assert_eq!(bin.binary_value.as_deref(), Some(&b"hi"[..]));
        assert!(messages(b"{}").is_err());
        assert!(messages(br#"{"Records":[{"attributes":{"SentTimestamp":"soon"}}]}"#).is_err());
        assert!(messages(br#"{"Records":[{"messageAttributes":{"x":{"binaryValue":"!!","dataType":"Binary"}}}]}"#).is_err());
    }

    #[test]
    fn failures_become_a_partial_batch_response() {
        let body: serde_json::Value =
            serde_json::from_slice(&batch_response(&["a".into()])).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"batchItemFailures":[{"itemIdentifier":"a"}]})
        );
    }
}
