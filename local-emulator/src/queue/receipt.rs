//! Receipt handles: opaque to clients, they name the queue incarnation, the message and the
//! receive they came from, so a stale handle is recognised without any lookup table. Each
//! carries an HMAC under a secret of the emulator's (kept in the data directory, so handles
//! survive restarts): only a handle a receive issued is accepted, none can be made up from a
//! message id or a sequence number.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use sha2::{Digest, Sha256};

use crate::error::{ErrorCode, SqsError, SqsResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptHandle {
    pub queue_id: u64,
    pub seq: u64,
    /// The message's receive count when this handle was issued.
    pub receive_count: u32,
    /// The low bits of the message id: a handle names one message even if a sequence number
    /// were ever reused.
    pub salt: u32,
}

const VERSION: u8 = 2;
const FIELDS: usize = 1 + 8 + 8 + 4 + 4;
const MAC_LEN: usize = 16;
const LEN: usize = FIELDS + MAC_LEN;
/// Longer text cannot be a handle: refused before decoding.
const MAX_TEXT: usize = 128;

/// The secret receipt handles are authenticated with: HMAC-SHA256 (truncated to 128 bits)
/// with the key's inner and outer pads absorbed once, so a handle costs two SHA-256 blocks.
#[derive(Clone)]
pub struct HandleKey {
    inner: Sha256,
    outer: Sha256,
}

impl HandleKey {
    pub fn new(key: [u8; 32]) -> Self {
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&key);
        let mut inner = Sha256::new();
        inner.update(block.map(|b| b ^ 0x36));
        let mut outer = Sha256::new();
        outer.update(block.map(|b| b ^ 0x5c));
        Self { inner, outer }
    }

    fn mac(&self, fields: &[u8]) -> [u8; MAC_LEN] {
        let mut inner = self.inner.clone();
        inner.update(fields);
        let mut outer = self.outer.clone();
        outer.update(inner.finalize());
        outer.finalize()[..MAC_LEN]
            .try_into()
            .expect("SHA-256 is 32 bytes")
    }
}

impl ReceiptHandle {
    pub fn encode(&self, key: &HandleKey) -> String {
        let mut bytes = [0u8; LEN];
        bytes[0] = VERSION;
        bytes[1..9].copy_from_slice(&self.queue_id.to_be_bytes());
        bytes[9..17].copy_from_slice(&self.seq.to_be_bytes());
        bytes[17..21].copy_from_slice(&self.receive_count.to_be_bytes());
        bytes[21..25].copy_from_slice(&self.salt.to_be_bytes());
        let mac = key.mac(&bytes[..FIELDS]);
        bytes[FIELDS..].copy_from_slice(&mac);
        // SQS's handles are standard base64 (`+`, `/`): clients parse them (the Extended
        // Client splits its decorated handles at the last `-`), so no `-` may appear.
        STANDARD.encode(bytes)
    }

    pub fn decode(text: &str, key: &HandleKey) -> SqsResult<Self> {
        let invalid = || {
            let shown: String = text.chars().take(MAX_TEXT).collect();
            SqsError::new(
                ErrorCode::ReceiptHandleIsInvalid,
                format!("The input receipt handle \"{shown}\" is not a valid receipt handle."),
            )
        };
        if text.len() > MAX_TEXT {
            return Err(invalid());
        }
        // Handles issued before the switch to the standard alphabet stay valid.
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            .map_err(|_| invalid())?;
        if bytes.len() != LEN || bytes[0] != VERSION {
            return Err(invalid());
        }
        let mac = key.mac(&bytes[..FIELDS]);
        let matches = mac
            .iter()
            .zip(&bytes[FIELDS..])
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
        if !matches {
            return Err(invalid());
        }
        let handle = Self {
            queue_id: u64::from_be_bytes(bytes[1..9].try_into().expect("8 bytes")),
            seq: u64::from_be_bytes(bytes[9..17].try_into().expect("8 bytes")),
            receive_count: u32::from_be_bytes(bytes[17..21].try_into().expect("4 bytes")),
            salt: u32::from_be_bytes(bytes[21..25].try_into().expect("4 bytes")),
        };
        if handle.receive_count == 0 {
            return Err(invalid());
        }
        Ok(handle)
    }

    pub fn expired(text: &str) -> SqsError {
        SqsError::invalid_value(text, "ReceiptHandle", "The receipt handle has expired.")
    }
}

/// The salt a handle for message `id` carries.
pub fn salt_of(id: u128) -> u32 {
    id as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mac_is_hmac_sha256() {
        // RFC 4231 test case 1's message under a 32-byte key, against the generic HMAC.
        let key = [0x0b; 32];
        let expected = crate::auth::hmac(&key, b"Hi There");
        assert_eq!(
            HandleKey::new(key).mac(b"Hi There")[..],
            expected[..MAC_LEN]
        );
    }

    #[test]
    fn round_trips_and_rejects_garbage_and_forgeries() {
        let key = HandleKey::new([7; 32]);
        let h = ReceiptHandle {
            queue_id: 7,
            seq: 123_456,
            receive_count: 3,
            salt: 99,
        };
        let text = h.encode(&key);
        assert_eq!(ReceiptHandle::decode(&text, &key).unwrap(), h);
        let forged = ReceiptHandle { seq: 123_457, ..h }.encode(&HandleKey::new([8; 32]));
        assert!(!text.contains('-'), "{text}");
        let old_style = URL_SAFE_NO_PAD.encode(STANDARD.decode(&text).unwrap());
        assert_eq!(ReceiptHandle::decode(&old_style, &key).unwrap(), h);
        let mut tampered = STANDARD.decode(&text).unwrap();
        tampered[16] ^= 1; // another seq, same MAC
        let tampered = STANDARD.encode(tampered);
        let long = "A".repeat(10_000);
        for bad in ["", "abc", "!!!!", &text[1..], &forged, &tampered, &long] {
            let err = ReceiptHandle::decode(bad, &key).unwrap_err();
            assert_eq!(err.code, ErrorCode::ReceiptHandleIsInvalid);
            assert!(err.message.len() < 300);
        }
    }
}
