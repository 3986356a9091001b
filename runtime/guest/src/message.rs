//! One SQS record of a batch, with the accessors a handler needs.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Error;
use crate::bindings;

pub use bindings::MessageAttribute;

/// One message of a batch. Accessors for what SQS always sets are not optional.
#[derive(Debug, Clone)]
pub struct Message {
    record: bindings::Message,
}

impl Message {
    pub fn new(record: bindings::Message) -> Self {
        Self { record }
    }

    /// The message id (what a failure reports).
    pub fn id(&self) -> &str {
        &self.record.message_id
    }

    pub fn body(&self) -> &str {
        &self.record.body
    }

    /// The body parsed as JSON into `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(self.body())
            .map_err(|e| format!("message {} is not the expected JSON: {e}", self.id()).into())
    }

    /// How many times SQS has delivered this message (1 on the first delivery).
    pub fn receive_count(&self) -> u32 {
        self.record.receive_count.max(1)
    }

    /// When the message was sent.
    pub fn sent_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.record.sent_timestamp)
    }

    /// The FIFO message group (also set on fair standard queues).
    pub fn group_id(&self) -> Option<&str> {
        self.record.message_group_id.as_deref()
    }

    pub fn deduplication_id(&self) -> Option<&str> {
        self.record.message_deduplication_id.as_deref()
    }

    /// A system attribute by its SQS name (`SentTimestamp`, `ApproximateReceiveCount`,
    /// `MessageGroupId`, `AWSTraceHeader`, …), as text.
    pub fn system_attribute(&self, name: &str) -> Option<Cow<'_, str>> {
        let r = &self.record;
        let number = |n: u64| Some(Cow::Owned(n.to_string()));
        match name {
            "ApproximateReceiveCount" => number(u64::from(r.receive_count)),
            "SentTimestamp" => number(r.sent_timestamp),
            "ApproximateFirstReceiveTimestamp" => number(r.first_receive_timestamp),
            "SenderId" => Some(Cow::Borrowed(&r.sender_id)),
            "MessageGroupId" => r.message_group_id.as_deref().map(Cow::Borrowed),
            "MessageDeduplicationId" => r.message_deduplication_id.as_deref().map(Cow::Borrowed),
            "SequenceNumber" => r.sequence_number.as_deref().map(Cow::Borrowed),
            _ => r
                .other_attributes
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| Cow::Borrowed(v.as_str())),
        }
    }

    /// A user message attribute's string value (String and Number types).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.message_attribute(name)
            .and_then(|a| a.string_value.as_deref())
    }

    /// A user message attribute with its data type and binary value.
    pub fn message_attribute(&self, name: &str) -> Option<&MessageAttribute> {
        self.record
            .message_attributes
            .iter()
            .find(|a| a.name == name)
    }

    pub fn receipt_handle(&self) -> &str {
        &self.record.receipt_handle
    }

    pub fn event_source_arn(&self) -> &str {
        &self.record.event_source_arn
    }

    /// True when the message comes from a FIFO queue.
    pub fn is_fifo(&self) -> bool {
        self.event_source_arn().ends_with(".fifo")
    }

    /// The record exactly as the host delivered it.
    pub fn record(&self) -> &bindings::Message {
        &self.record
    }
}
