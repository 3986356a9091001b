//! What the store keeps, and the one mapping between it and the engine's types.
//!
//! Records are written by the engine as [`StoreOp`](super::StoreOp)s; index records are read
//! back at start-up, contents when a message is delivered.
//! Their JSON parts (queue attributes, tags, a message's extras) have schemas of their own
//! here, so renaming a field of an engine type cannot change the disk format by accident; the
//! format test below pins every persisted shape to [`FORMAT_VERSION`]: a change to a record
//! fails it until the version is raised and `schema::prepare` learns to upgrade the
//! previous one.
//!
//! A queue or index record that cannot be read stops the start with an error naming it and
//! the data directory, never a silent drop; a content that cannot be read is an error for
//! that message when it is delivered (`store::reader`), and the others are delivered.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::sealing::Plain;
use crate::queue::Moved;
use crate::queue::attributes::{QueueAttributes, RedrivePolicy};
use crate::queue::message::{AttributeValue, Content, Message, MessageExtras, State};

/// The storage format this build writes and reads. Format 2 added `queues.region`, 3 a
/// message's sender, 4 encrypted messages (`messages.key_name`, `messages.sealed`), 5 a
/// queue's deduplication scope at creation, 6 split each message into an index row and a
/// content row (the dead-letter source moved to the index) and added key check values.
pub const FORMAT_VERSION: &str = "6";

/// A queue as it is persisted.
#[derive(Debug, Clone)]
pub struct QueueRecord {
    pub id: u64,
    /// None for queues stored before queues had regions: they belong to the default region.
    pub region: Option<String>,
    pub account: String,
    pub name: String,
    /// [`StoredAttributes`] as JSON.
    pub attributes: String,
    /// Tags as a JSON object.
    pub tags: String,
    pub created_s: u64,
    pub modified_s: u64,
}

/// A new message as it is persisted: its index entry and its content (which stays the
/// engine's type until the writer thread encodes it, off the request path).
#[derive(Debug, Clone)]
pub struct MessageRecord {
    pub index: IndexRecord,
    pub content: Arc<Content>,
}

/// A message's index entry as it is persisted: everything but what it says. Start-up reads
/// only these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRecord {
    pub seq: u64,
    pub queue_id: u64,
    /// The low bits of its id, which receipt handles carry.
    pub salt: u32,
    pub group: Option<Arc<str>>,
    pub sent_ms: u64,
    pub visible_at_ms: u64,
    pub receive_count: u32,
    pub first_receive_ms: u64,
    pub dead_letter_source: Option<Arc<str>>,
}

/// A FIFO deduplication entry, kept after its message is gone until the window ends.
#[derive(Debug, Clone)]
pub struct DedupRecord {
    pub queue_id: u64,
    pub key: String,
    pub message_id: u128,
    pub seq: u64,
    pub expires_ms: u64,
}

/// The persisted form of a queue's attributes.
#[derive(Serialize, Deserialize)]
struct StoredAttributes {
    delay_seconds: u32,
    maximum_message_size: u32,
    message_retention_period: u32,
    receive_message_wait_time_seconds: u32,
    visibility_timeout: u32,
    policy: Option<String>,
    redrive_policy: Option<StoredRedrivePolicy>,
    redrive_allow_policy: Option<String>,
    fifo_queue: bool,
    content_based_deduplication: bool,
    deduplication_scope: String,
    /// Absent before format 5: such queues deduplicate by their current scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_deduplication_scope: Option<String>,
    fifo_throughput_limit: String,
    kms_master_key_id: Option<String>,
    kms_data_key_reuse_period_seconds: u32,
    sqs_managed_sse_enabled: bool,
}

#[derive(Serialize, Deserialize)]
struct StoredRedrivePolicy {
    dead_letter_target_arn: String,
    max_receive_count: u32,
}

/// The persisted form of a message's rarely used parts.
#[derive(Serialize, Deserialize)]
struct StoredExtras {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<String, StoredAttributeValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trace_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dedup_id: Option<String>,
    /// Until format 6, which keeps it in the index (the upgrade moves it there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dead_letter_source_arn: Option<String>,
    /// Since format 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sender_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StoredAttributeValue {
    data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    string_value: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::protocol::base64_opt"
    )]
    binary_value: Option<Vec<u8>>,
}

/// What a queue's record is made of (read from the queue and its locked state).
pub struct QueueParts<'a> {
    pub id: u64,
    pub region: &'a str,
    pub account: &'a str,
    pub name: &'a str,
    pub attributes: &'a QueueAttributes,
    pub tags: &'a BTreeMap<String, String>,
    pub created_s: u64,
    pub modified_s: u64,
}

/// The persisted form of a queue.
pub fn queue_record(queue: QueueParts<'_>) -> QueueRecord {
    QueueRecord {
        id: queue.id,
        region: Some(queue.region.to_string()),
        account: queue.account.to_string(),
        name: queue.name.to_string(),
        attributes: encode_attributes(queue.attributes),
        tags: serde_json::to_string(queue.tags).expect("tags serialize"),
        created_s: queue.created_s,
        modified_s: queue.modified_s,
    }
}

/// A stored queue's attributes and tags.
pub fn queue_settings(
    record: &QueueRecord,
) -> Result<(QueueAttributes, BTreeMap<String, String>), String> {
    let unreadable = |what: &str, e: serde_json::Error| {
        format!("queue {} has unreadable {what}: {e}", record.name)
    };
    let stored: StoredAttributes =
        serde_json::from_str(&record.attributes).map_err(|e| unreadable("attributes", e))?;
    let tags = serde_json::from_str(&record.tags).map_err(|e| unreadable("tags", e))?;
    Ok((decode_attributes(stored), tags))
}

impl MessageRecord {
    /// The persisted form of message `m`, number `seq` of queue `queue_id`.
    pub fn new(
        queue_id: u64,
        seq: u64,
        m: &Message,
        dead_letter_source: Option<Arc<str>>,
        content: Arc<Content>,
    ) -> Self {
        Self {
            index: IndexRecord::new(queue_id, seq, m, dead_letter_source),
            content,
        }
    }
}

impl IndexRecord {
    pub fn new(queue_id: u64, seq: u64, m: &Message, dead_letter_source: Option<Arc<str>>) -> Self {
        Self {
            seq,
            queue_id,
            salt: m.salt,
            group: m.group.clone(),
            sent_ms: m.sent_ms,
            visible_at_ms: m.visible_at_ms,
            receive_count: m.receive_count,
            first_receive_ms: m.first_receive_ms,
            dead_letter_source,
        }
    }

    /// The entry of a message moved to queue `queue_id`.
    pub fn moved(queue_id: u64, m: &Moved) -> Self {
        Self::new(queue_id, m.seq, &m.message, m.dead_letter_source.clone())
    }

    /// The engine's entry (its state is worked out when it is inserted), and the ARN of the
    /// queue it was dead-lettered from (which the queue turns into an index).
    pub fn into_message(self) -> (Message, Option<Arc<str>>) {
        let message = Message {
            salt: self.salt,
            group: self.group,
            sent_ms: self.sent_ms,
            first_receive_ms: self.first_receive_ms,
            visible_at_ms: self.visible_at_ms,
            receive_count: self.receive_count,
            timer_gen: 0,
            state: State::Delayed,
            dead_letter_source: 0,
        };
        (message, self.dead_letter_source)
    }
}

/// A stored message's content from what its row holds (opened already if it was sealed).
pub fn content_from_plain(id: u128, plain: Plain) -> Result<Content, String> {
    let extras = plain
        .extras
        .as_deref()
        .map(|text| decode_extras(text).map(Box::new))
        .transpose()
        .map_err(|e| format!("its extras are unreadable: {e}"))?;
    Ok(Content {
        id,
        md5_of_body: plain.md5_of_body,
        body: plain.body.into_boxed_str(),
        extras,
    })
}

pub fn encode_extras(extras: &MessageExtras) -> String {
    let stored = StoredExtras {
        attributes: extras
            .attributes
            .iter()
            .map(|(name, v)| {
                let value = StoredAttributeValue {
                    data_type: v.data_type.clone(),
                    string_value: v.string_value.clone(),
                    binary_value: v.binary_value.clone(),
                };
                (name.clone(), value)
            })
            .collect(),
        trace_header: extras.trace_header.clone(),
        dedup_id: extras.dedup_id.clone(),
        dead_letter_source_arn: None,
        sender_id: extras.sender_id.clone(),
    };
    serde_json::to_string(&stored).expect("extras serialize")
}

pub fn decode_extras(text: &str) -> Result<MessageExtras, String> {
    let stored: StoredExtras = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(MessageExtras {
        attributes: stored
            .attributes
            .into_iter()
            .map(|(name, v)| {
                let value = AttributeValue {
                    data_type: v.data_type,
                    string_value: v.string_value,
                    binary_value: v.binary_value,
                };
                (name, value)
            })
            .collect(),
        trace_header: stored.trace_header,
        dedup_id: stored.dedup_id,
        sender_id: stored.sender_id,
    })
}

/// The dead-letter source a format-5 message kept in its extras (read by the upgrade).
pub fn dead_letter_source_of_v5(text: &str) -> Result<Option<String>, String> {
    let stored: StoredExtras =
        serde_json::from_str(text).map_err(|e| format!("its extras are unreadable: {e}"))?;
    Ok(stored.dead_letter_source_arn)
}

fn encode_attributes(a: &QueueAttributes) -> String {
    let stored = StoredAttributes {
        delay_seconds: a.delay_seconds,
        maximum_message_size: a.maximum_message_size,
        message_retention_period: a.message_retention_period,
        receive_message_wait_time_seconds: a.receive_message_wait_time_seconds,
        visibility_timeout: a.visibility_timeout,
        policy: a.policy.clone(),
        redrive_policy: a.redrive_policy.as_ref().map(|r| StoredRedrivePolicy {
            dead_letter_target_arn: r.dead_letter_target_arn.clone(),
            max_receive_count: r.max_receive_count,
        }),
        redrive_allow_policy: a.redrive_allow_policy.clone(),
        fifo_queue: a.fifo_queue,
        content_based_deduplication: a.content_based_deduplication,
        deduplication_scope: a.deduplication_scope.clone(),
        created_deduplication_scope: Some(a.created_deduplication_scope.clone()),
        fifo_throughput_limit: a.fifo_throughput_limit.clone(),
        kms_master_key_id: a.kms_master_key_id.clone(),
        kms_data_key_reuse_period_seconds: a.kms_data_key_reuse_period_seconds,
        sqs_managed_sse_enabled: a.sqs_managed_sse_enabled,
    };
    serde_json::to_string(&stored).expect("attributes serialize")
}

fn decode_attributes(s: StoredAttributes) -> QueueAttributes {
    QueueAttributes {
        delay_seconds: s.delay_seconds,
        maximum_message_size: s.maximum_message_size,
        message_retention_period: s.message_retention_period,
        receive_message_wait_time_seconds: s.receive_message_wait_time_seconds,
        visibility_timeout: s.visibility_timeout,
        policy: s.policy,
        redrive_policy: s.redrive_policy.map(|r| RedrivePolicy {
            dead_letter_target_arn: r.dead_letter_target_arn,
            max_receive_count: r.max_receive_count,
        }),
        redrive_allow_policy: s.redrive_allow_policy,
        fifo_queue: s.fifo_queue,
        content_based_deduplication: s.content_based_deduplication,
        created_deduplication_scope: s
            .created_deduplication_scope
            .unwrap_or_else(|| s.deduplication_scope.clone()),
        deduplication_scope: s.deduplication_scope,
        fifo_throughput_limit: s.fifo_throughput_limit,
        kms_master_key_id: s.kms_master_key_id,
        kms_data_key_reuse_period_seconds: s.kms_data_key_reuse_period_seconds,
        sqs_managed_sse_enabled: s.sqs_managed_sse_enabled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes() -> QueueAttributes {
        let mut a = QueueAttributes::defaults(true);
        a.redrive_policy = Some(RedrivePolicy {
            dead_letter_target_arn: "arn:aws:sqs:us-east-1:000000000000:dlq.fifo".into(),
            max_receive_count: 3,
        });
        a.kms_master_key_id = Some("alias/aws/sqs".into());
        a
    }

    fn extras() -> MessageExtras {
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "bin".to_string(),
            AttributeValue {
                data_type: "Binary".into(),
                string_value: None,
                binary_value: Some(vec![0, 255]),
            },
        );
        attributes.insert(
            "n".to_string(),
            AttributeValue {
                data_type: "Number.int".into(),
                string_value: Some("42".into()),
                binary_value: None,
            },
        );
        MessageExtras {
            attributes,
            trace_header: Some("Root=1-abc".into()),
            dedup_id: Some("d-1".into()),
            sender_id: Some("AKIDSENDER".into()),
        }
    }

    /// The persisted shapes of format 6, byte for byte. If this fails, a record changed:
    /// raise FORMAT_VERSION, teach `schema::prepare` to upgrade a directory of the previous
    /// format, add a test that opens one (as tests/upgrade.rs does), and then update these
    /// strings.
    #[test]
    fn the_persisted_shapes_are_those_of_the_format_version() {
        assert_eq!(FORMAT_VERSION, "6");
        assert_eq!(
            encode_attributes(&attributes()),
            r#"{"delay_seconds":0,"maximum_message_size":1048576,"message_retention_period":345600,"receive_message_wait_time_seconds":0,"visibility_timeout":30,"policy":null,"redrive_policy":{"dead_letter_target_arn":"arn:aws:sqs:us-east-1:000000000000:dlq.fifo","max_receive_count":3},"redrive_allow_policy":null,"fifo_queue":true,"content_based_deduplication":false,"deduplication_scope":"queue","created_deduplication_scope":"queue","fifo_throughput_limit":"perQueue","kms_master_key_id":"alias/aws/sqs","kms_data_key_reuse_period_seconds":300,"sqs_managed_sse_enabled":true}"#
        );
        assert_eq!(
            encode_extras(&extras()),
            r#"{"attributes":{"bin":{"DataType":"Binary","BinaryValue":"AP8="},"n":{"DataType":"Number.int","StringValue":"42"}},"trace_header":"Root=1-abc","dedup_id":"d-1","sender_id":"AKIDSENDER"}"#
        );
        assert_eq!(encode_extras(&MessageExtras::default()), "{}");
    }

    #[test]
    fn records_read_back_as_written() {
        let attrs = attributes();
        let record = QueueRecord {
            id: 1,
            region: None,
            account: "000000000000".into(),
            name: "q.fifo".into(),
            attributes: encode_attributes(&attrs),
            tags: r#"{"team":"orders"}"#.into(),
            created_s: 1,
            modified_s: 2,
        };
        let (read, tags) = queue_settings(&record).unwrap();
        assert_eq!(read, attrs);
        assert_eq!(tags["team"], "orders");
        assert_eq!(decode_extras(&encode_extras(&extras())).unwrap(), extras());
        let v5 =
            r#"{"dedup_id":"d","dead_letter_source_arn":"arn:aws:sqs:us-east-1:000000000000:src"}"#;
        assert_eq!(
            dead_letter_source_of_v5(v5).unwrap().as_deref(),
            Some("arn:aws:sqs:us-east-1:000000000000:src")
        );
        assert_eq!(decode_extras(v5).unwrap().dedup_id.as_deref(), Some("d"));
    }

    #[test]
    fn unreadable_records_are_errors_that_name_the_queue() {
        let mut record = QueueRecord {
            id: 1,
            region: None,
            account: "000000000000".into(),
            name: "orders".into(),
            attributes: encode_attributes(&attributes()),
            tags: "{not json".into(),
            created_s: 1,
            modified_s: 1,
        };
        let err = queue_settings(&record).unwrap_err();
        assert!(err.starts_with("queue orders has unreadable tags"), "{err}");
        record.tags = "{}".into();
        record.attributes = r#"{"delay_seconds":"x"}"#.into();
        let err = queue_settings(&record).unwrap_err();
        assert!(
            err.starts_with("queue orders has unreadable attributes"),
            "{err}"
        );
        assert!(decode_extras(r#"{"attributes":5}"#).is_err());
    }
}
