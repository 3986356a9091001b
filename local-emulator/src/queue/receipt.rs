//! Receipt handles: opaque to clients, they name the queue incarnation, the message and the
//! receive they came from, so a stale handle is recognised without any lookup table.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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

const VERSION: u8 = 1;
const LEN: usize = 1 + 8 + 8 + 4 + 4;

impl ReceiptHandle {
    pub fn encode(&self) -> String {
        let mut bytes = [0u8; LEN];
        bytes[0] = VERSION;
        bytes[1..9].copy_from_slice(&self.queue_id.to_be_bytes());
        bytes[9..17].copy_from_slice(&self.seq.to_be_bytes());
        bytes[17..21].copy_from_slice(&self.receive_count.to_be_bytes());
        bytes[21..25].copy_from_slice(&self.salt.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(text: &str) -> SqsResult<Self> {
        let invalid = || {
            SqsError::new(
                ErrorCode::ReceiptHandleIsInvalid,
                format!("The input receipt handle \"{text}\" is not a valid receipt handle."),
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        if bytes.len() != LEN || bytes[0] != VERSION {
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
    fn round_trips_and_rejects_garbage() {
        let h = ReceiptHandle {
            queue_id: 7,
            seq: 123_456,
            receive_count: 3,
            salt: 99,
        };
        assert_eq!(ReceiptHandle::decode(&h.encode()).unwrap(), h);
        for bad in ["", "abc", "!!!!", &h.encode()[1..]] {
            let err = ReceiptHandle::decode(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::ReceiptHandleIsInvalid);
        }
    }
}
