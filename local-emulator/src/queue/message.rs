//! A message as the queue engine keeps it, and the checksums SQS computes over it.
//!
//! The engine keeps a compact index entry per message ([`Message`]: its state and timers,
//! 56 bytes) so a backlog of tens of millions fits in memory. What a message says
//! ([`Content`]: id, body, attributes) is kept in memory only by an in-memory emulator; a
//! durable one keeps it on disk and reads it when the message is delivered or browsed.

use std::collections::BTreeMap;
use std::sync::Arc;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

/// A user message attribute (`MessageAttributes` / `MessageSystemAttributes` entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeValue {
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::protocol::base64_opt"
    )]
    pub binary_value: Option<Vec<u8>>,
}

impl AttributeValue {
    /// `String`, `Number` or `Binary`: the part of the data type before any custom suffix.
    pub fn base_type(&self) -> &str {
        self.data_type
            .split_once('.')
            .map_or(self.data_type.as_str(), |(base, _)| base)
    }

    /// Bytes counted against MaximumMessageSize: name + type + value, as SQS counts them.
    pub fn wire_size(&self, name: &str) -> usize {
        name.len()
            + self.data_type.len()
            + self.string_value.as_ref().map_or(0, String::len)
            + self.binary_value.as_ref().map_or(0, Vec::len)
    }
}

pub type Attributes = BTreeMap<String, AttributeValue>;

/// Parts of a message most messages do not have. (Stored through `store::records`, not as
/// this type.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageExtras {
    pub attributes: Attributes,
    pub trace_header: Option<String>,
    pub dedup_id: Option<String>,
    /// Who sent it, when that is not the queue's own account: the signer's access key id
    /// (with `--credentials`) or the sending account (a cross-account send).
    pub sender_id: Option<String>,
}

/// Where a message is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Sent with a delay that has not passed yet.
    Delayed,
    /// Visible: the next receive may return it.
    Ready,
    /// Received and not deleted; invisible until `visible_at_ms`.
    InFlight,
}

/// What a message says: read from the store when it is delivered (a durable queue), or kept
/// with its index entry (an in-memory one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub id: u128,
    pub body: Box<str>,
    pub md5_of_body: [u8; 16],
    pub extras: Option<Box<MessageExtras>>,
}

impl Content {
    pub fn attributes(&self) -> Option<&Attributes> {
        self.extras
            .as_ref()
            .map(|e| &e.attributes)
            .filter(|a| !a.is_empty())
    }

    pub fn dedup_id(&self) -> Option<&str> {
        self.extras.as_ref().and_then(|e| e.dedup_id.as_deref())
    }

    pub fn trace_header(&self) -> Option<&str> {
        self.extras.as_ref().and_then(|e| e.trace_header.as_deref())
    }

    pub fn sender_id(&self) -> Option<&str> {
        self.extras.as_ref().and_then(|e| e.sender_id.as_deref())
    }

    /// Bytes it takes in memory (what a cache of contents counts).
    pub fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.body.len()
            + self.extras.as_ref().map_or(0, |e| {
                std::mem::size_of::<MessageExtras>()
                    + e.attributes
                        .iter()
                        .map(|(k, v)| k.len() + v.wire_size(k) + 64)
                        .sum::<usize>()
                    + [&e.trace_header, &e.dedup_id, &e.sender_id]
                        .iter()
                        .map(|s| s.as_ref().map_or(0, String::len))
                        .sum::<usize>()
            })
    }
}

/// A message's index entry: what the engine needs to deliver it, kept for every message.
#[derive(Debug, Clone)]
pub struct Message {
    /// The low bits of the message id, which receipt handles carry.
    pub salt: u32,
    /// Also the receipt generation: a receipt handle is current while it carries this count.
    pub receive_count: u32,
    /// Bumped on every state change so stale timer entries are skipped.
    pub timer_gen: u32,
    pub state: State,
    /// The queue it was dead-lettered from: an index into its queue's table of source ARNs
    /// (0: none). Kept here, not in the content, so moves never rewrite what a message says.
    pub dead_letter_source: u16,
    pub sent_ms: u64,
    pub first_receive_ms: u64,
    pub visible_at_ms: u64,
    pub group: Option<Arc<str>>,
}

pub fn md5_of_body(body: &str) -> [u8; 16] {
    Md5::digest(body.as_bytes()).into()
}

/// MD5 of message attributes exactly as SQS computes it (see SQS-FACTS): sorted by name; per
/// attribute the length-prefixed name, length-prefixed data type, a transport byte (1 string or
/// number, 2 binary) and the length-prefixed value.
pub fn md5_of_attributes<'a>(
    attributes: impl IntoIterator<Item = (&'a String, &'a AttributeValue)>,
) -> Option<[u8; 16]> {
    let mut hasher = Md5::new();
    let mut any = false;
    for (name, value) in attributes {
        any = true;
        update_length_prefixed(&mut hasher, name.as_bytes());
        update_length_prefixed(&mut hasher, value.data_type.as_bytes());
        if let Some(binary) = value
            .binary_value
            .as_ref()
            .filter(|_| value.base_type() == "Binary")
        {
            hasher.update([2u8]);
            update_length_prefixed(&mut hasher, binary);
        } else {
            hasher.update([1u8]);
            update_length_prefixed(
                &mut hasher,
                value.string_value.as_deref().unwrap_or_default().as_bytes(),
            );
        }
    }
    any.then(|| hasher.finalize().into())
}

/// MD5 of the `AWSTraceHeader` system attribute, digested like a user attribute.
pub fn md5_of_trace_header(trace_header: &str) -> [u8; 16] {
    let value = AttributeValue {
        data_type: "String".into(),
        string_value: Some(trace_header.into()),
        binary_value: None,
    };
    let name = "AWSTraceHeader".to_string();
    md5_of_attributes([(&name, &value)]).expect("one attribute")
}

fn update_length_prefixed(hasher: &mut Md5, bytes: &[u8]) {
    hasher.update((bytes.len() as u32).to_be_bytes());
    hasher.update(bytes);
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Formats a 128-bit id as a lower-case UUID string, the shape of SQS message ids.
pub fn format_message_id(id: u128) -> String {
    let h = hex(&id.to_be_bytes());
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(value: &str) -> AttributeValue {
        AttributeValue {
            data_type: "String".into(),
            string_value: Some(value.into()),
            binary_value: None,
        }
    }

    #[test]
    fn attribute_md5_matches_sqs_vectors() {
        let mut all = Attributes::new();
        all.insert("attribName1".into(), string("attribValue 1"));
        let one = md5_of_attributes(&all).map(|d| hex(&d));
        assert_eq!(one.as_deref(), Some("19e27d4e946b072f3f58da80d94fd778"));

        let number = AttributeValue {
            data_type: "Number.float".into(),
            string_value: Some("4563442423554324324264524243.32543234".into()),
            binary_value: None,
        };
        let mut only = Attributes::new();
        only.insert("customNumberTypeAttrib".into(), number.clone());
        assert_eq!(
            hex(&md5_of_attributes(&only).unwrap()),
            "9fe1b90bbd9965bdf77bac517c7d2495"
        );

        let binary = AttributeValue {
            data_type: "Binary".into(),
            string_value: None,
            binary_value: Some(b"Hello binary world!".to_vec()),
        };
        let mut only = Attributes::new();
        only.insert("binaryAttribute".into(), binary.clone());
        assert_eq!(
            hex(&md5_of_attributes(&only).unwrap()),
            "31a92b15d92f8db860eda32aceb656c3"
        );

        all.insert("customNumberTypeAttrib".into(), number);
        all.insert("binaryAttribute".into(), binary);
        assert_eq!(
            hex(&md5_of_attributes(&all).unwrap()),
            "c932db14a896c663f83c260297d594ff"
        );
        assert_eq!(md5_of_attributes(&Attributes::new()), None);
    }

    #[test]
    fn message_ids_are_formatted_as_uuids() {
        let id = 0x0123_4567_89ab_cdef_0011_2233_4455_6677u128;
        assert_eq!(format_message_id(id), "01234567-89ab-cdef-0011-223344556677");
    }
}
