//! A row of `message_contents` as read back: what a message says, in plain or sealed, and
//! its opening into the engine's [`Content`] (shared by the readers and the format upgrade).

use crate::queue::message::{Content, md5_of_body};

use super::records;
use super::sealing::{Binding, Plain, Sealer};

/// The columns [`Row::from_sql`] reads, in its order.
pub const COLUMNS: &str = "seq, queue_id, message_id, body, extras, key_name, sealed, md5";

pub struct Row {
    pub seq: u64,
    /// The queue the content is bound to (its current queue: a move re-homes it).
    pub queue_id: u64,
    pub message_id: u128,
    pub body: String,
    pub extras: Option<String>,
    pub key_name: Option<String>,
    pub sealed: Option<Vec<u8>>,
    /// The body's MD5 of a plain row (absent from rows of format 5, and from sealed rows,
    /// whose blob holds it).
    pub md5: Option<[u8; 16]>,
}

impl Row {
    pub fn from_sql(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            seq: r.get::<_, i64>(0)? as u64,
            queue_id: r.get::<_, i64>(1)? as u64,
            message_id: id_of(r.get_ref(2)?.as_blob()?),
            body: r.get(3)?,
            extras: r.get(4)?,
            key_name: r.get(5)?,
            sealed: r.get(6)?,
            md5: r
                .get_ref(7)?
                .as_blob_or_null()?
                .and_then(|m| <[u8; 16]>::try_from(m).ok()),
        })
    }

    pub fn id(&self) -> u128 {
        self.message_id
    }

    /// Bytes read for it (what a read-ahead counts).
    pub fn len(&self) -> usize {
        self.body.len()
            + self.extras.as_ref().map_or(0, String::len)
            + self.sealed.as_ref().map_or(0, Vec::len)
    }

    /// The body, its MD5 and the extras JSON, opened first if the row is sealed. A key the
    /// sealer does not know may have been made since it read the keyring: it reads the file
    /// again once.
    pub fn open(self, sealer: &mut Sealer) -> Result<Plain, String> {
        let (Some(key), Some(blob)) = (&self.key_name, &self.sealed) else {
            return Ok(Plain {
                md5_of_body: self.md5.unwrap_or_else(|| md5_of_body(&self.body)),
                body: self.body,
                extras: self.extras,
            });
        };
        let binding = Binding {
            queue_id: self.queue_id,
            seq: self.seq,
            message_id: self.id(),
            key,
        };
        match sealer.open_message(&binding, blob) {
            Err(why) if why.contains("does not hold") => {
                sealer.reload_keys()?;
                sealer.open_message(&binding, blob)
            }
            other => other,
        }
    }

    /// The engine's content; an error says why the row cannot be read.
    pub fn into_content(self, sealer: &mut Sealer) -> Result<Content, String> {
        let id = self.id();
        records::content_from_plain(id, self.open(sealer)?)
    }
}

/// A message id from its stored bytes (big-endian; a short blob is padded with zeros).
pub fn id_of(blob: &[u8]) -> u128 {
    let mut bytes = [0u8; 16];
    let n = blob.len().min(16);
    bytes[..n].copy_from_slice(&blob[..n]);
    u128::from_be_bytes(bytes)
}
