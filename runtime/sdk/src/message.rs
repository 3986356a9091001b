//! A friendlier view of one SQS record of a Lambda event.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::SqsMessage;

use crate::Error;

/// One message of a batch. Accessors for what SQS always sets are not optional.
#[derive(Debug, Clone)]
pub struct Message {
    record: SqsMessage,
    /// Where the body came from, when it was a large payload's pointer.
    #[cfg(feature = "large-payloads")]
    pointer: Option<crate::payloads::Pointer>,
}

impl Message {
    pub fn new(record: SqsMessage) -> Self {
        Self {
            record,
            #[cfg(feature = "large-payloads")]
            pointer: None,
        }
    }

    /// The S3 object the body was fetched from (feature `large-payloads`).
    #[cfg(feature = "large-payloads")]
    pub fn payload_pointer(&self) -> Option<&crate::payloads::Pointer> {
        self.pointer.as_ref()
    }

    /// The payload in place of its pointer: `body()` returns it, and the size attribute,
    /// which belongs to the convention, is dropped (as the Extended Client drops it).
    #[cfg(feature = "large-payloads")]
    pub(crate) fn replace_body(&mut self, payload: String, pointer: crate::payloads::Pointer) {
        self.record.body = Some(payload);
        self.record
            .message_attributes
            .remove(crate::payloads::SIZE_ATTRIBUTE);
        self.record
            .message_attributes
            .remove(crate::payloads::LEGACY_SIZE_ATTRIBUTE);
        self.pointer = Some(pointer);
    }

    /// The message id (what `batchItemFailures` reports).
    pub fn id(&self) -> &str {
        self.record.message_id.as_deref().unwrap_or_default()
    }

    pub fn body(&self) -> &str {
        self.record.body.as_deref().unwrap_or_default()
    }

    /// The body parsed as JSON into `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(self.body())
            .map_err(|e| format!("message {} is not the expected JSON: {e}", self.id()).into())
    }

    /// How many times SQS has delivered this message (1 on the first delivery).
    pub fn receive_count(&self) -> u32 {
        self.system_attribute("ApproximateReceiveCount")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
    }

    /// When the message was sent.
    pub fn sent_at(&self) -> SystemTime {
        let ms = self
            .system_attribute("SentTimestamp")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    /// The FIFO message group (also set on fair standard queues).
    pub fn group_id(&self) -> Option<&str> {
        self.system_attribute("MessageGroupId")
    }

    pub fn deduplication_id(&self) -> Option<&str> {
        self.system_attribute("MessageDeduplicationId")
    }

    /// A system attribute (`SentTimestamp`, `ApproximateReceiveCount`, `MessageGroupId`, …).
    pub fn system_attribute(&self, name: &str) -> Option<&str> {
        self.record.attributes.get(name).map(String::as_str)
    }

    /// A user message attribute's string value (String and Number types).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.record
            .message_attributes
            .get(name)
            .and_then(|a| a.string_value.as_deref())
    }

    pub fn receipt_handle(&self) -> &str {
        self.record.receipt_handle.as_deref().unwrap_or_default()
    }

    pub fn event_source_arn(&self) -> &str {
        self.record.event_source_arn.as_deref().unwrap_or_default()
    }

    /// The record exactly as Lambda delivered it.
    pub fn record(&self) -> &SqsMessage {
        &self.record
    }
}
