//! The store's one writer thread: group commit of the engine's [`StoreOp`]s, sealing of
//! encrypting queues' messages on the way to the disk.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock, mpsc};

use prometheus_client::metrics::histogram::Histogram;
use rusqlite::{Connection, OptionalExtension, params};

use super::records::{self, IndexRecord};
use super::sealing::{self, Binding, PlainRef, SealPolicy, Sealer};
use super::stored_content::{self, Row};
use super::{Batch, QueueRecord, StoreError, StoreOp};

/// The data-key period of a message sealed again under its own key (SQS's default
/// KmsDataKeyReusePeriodSeconds; the period is stored in the blob, so any value opens).
const KEPT_KEY_PERIOD_S: u64 = 300;

/// Upper bound on ops folded into one transaction, so one commit cannot grow without limit.
const MAX_OPS_PER_COMMIT: usize = 20_000;

/// Group commit: block for the first batch, then take every batch already waiting, write them
/// all in one transaction, commit (one fsync), and acknowledge them together. After a failed
/// commit nothing more is written: the engine's memory is ahead of the disk, and everything
/// from then on is refused until a restart reads the disk again.
pub(super) fn write_loop(
    mut conn: Connection,
    mut sealing: Sealing,
    rx: mpsc::Receiver<Batch>,
    failure: &OnceLock<Arc<str>>,
    latency: &Histogram,
) {
    while let Ok(first) = rx.recv() {
        let mut batches = vec![first];
        let mut ops = batches[0].ops.len();
        while ops < MAX_OPS_PER_COMMIT {
            match rx.try_recv() {
                Ok(batch) => {
                    ops += batch.ops.len();
                    batches.push(batch);
                }
                Err(_) => break,
            }
        }
        let result = match failure.get() {
            Some(why) => Err(StoreError::Failed(why.clone())),
            None => timed(latency, || apply(&mut conn, &mut sealing, &batches)).map_err(|e| {
                let why: Arc<str> = e.into();
                tracing::error!(
                    error = %why,
                    "store commit failed: refusing every write until a restart (acknowledged changes are safe on disk)"
                );
                let _ = failure.set(why.clone());
                StoreError::Commit(why)
            }),
        };
        for batch in batches {
            if let Some(done) = batch.done {
                let _ = done.send(result.clone());
            }
        }
    }
    // Every sender is gone: fold the WAL into the main file so the next start is quick.
    let _ = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
}

fn timed<T>(latency: &Histogram, f: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let value = f();
    latency.observe(started.elapsed().as_secs_f64());
    value
}

/// The writer's view of which queues encrypt their new messages, kept in step with the
/// queue records it writes (so a message moved to a dead-letter queue is sealed as that
/// queue says, and a settings change applies to the messages sent after it), and of the keys
/// whose check values the store already holds.
pub(super) struct Sealing {
    sealer: Sealer,
    policies: HashMap<u64, SealPolicy>,
    checked: HashSet<String>,
}

/// Where a message's content is sealed for (what its blob is bound to).
struct Place {
    queue_id: u64,
    seq: u64,
    message_id: u128,
    sent_ms: u64,
}

/// A sealed content: its key's name and the blob.
type SealedContent = (String, Vec<u8>);

impl Sealing {
    pub(super) fn new(
        sealer: Sealer,
        queues: &[QueueRecord],
        checked: HashSet<String>,
    ) -> Result<Self, String> {
        let mut sealing = Self {
            sealer,
            policies: HashMap::new(),
            checked,
        };
        for queue in queues {
            sealing.learn(queue)?;
        }
        Ok(sealing)
    }

    fn learn(&mut self, queue: &QueueRecord) -> Result<(), String> {
        let (attributes, _) = records::queue_settings(queue)?;
        match sealing::policy(&attributes) {
            Some(policy) => self.policies.insert(queue.id, policy),
            None => self.policies.remove(&queue.id),
        };
        Ok(())
    }

    /// `plain` sealed under `policy` for `place`; the key's check value is stored with the
    /// first message that uses it.
    fn seal(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        policy: &SealPolicy,
        place: &Place,
        plain: PlainRef<'_>,
    ) -> Result<SealedContent, WriteError> {
        let binding = Binding {
            queue_id: place.queue_id,
            seq: place.seq,
            message_id: place.message_id,
            key: &policy.key,
        };
        let blob = self
            .sealer
            .seal(policy, place.sent_ms, &binding, plain)
            .map_err(WriteError::Sealing)?;
        if !self.checked.contains(&policy.key) {
            let check = self
                .sealer
                .key_check(&policy.key, true)
                .map_err(WriteError::Sealing)?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO key_checks (key_name, check_value) VALUES (?1, ?2)",
            )?
            .execute(params![policy.key, check])?;
            self.checked.insert(policy.key.clone());
        }
        Ok((policy.key.clone(), blob))
    }
}

fn apply(conn: &mut Connection, sealing: &mut Sealing, batches: &[Batch]) -> Result<(), String> {
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    {
        let mut hot = Hot::new(&tx);
        for op in batches.iter().flat_map(|b| &b.ops) {
            write_op(&tx, &mut hot, sealing, op).map_err(|e| match e {
                WriteError::Sql(e) => e.to_string(),
                WriteError::Sealing(e) => format!("cannot encrypt a message: {e}"),
            })?;
        }
    }
    tx.commit().map_err(|e| e.to_string())
}

/// The statements every message runs (a send, a receive, a delete), each taken from the
/// connection's statement cache once per transaction instead of once per op: a lookup hashes
/// the statement's text, and a busy transaction runs hundreds of them.
#[derive(Clone, Copy)]
enum HotSql {
    InsertIndex,
    InsertContent,
    UpdateIndex,
    DeleteIndex,
    DeleteContent,
}

impl HotSql {
    const COUNT: usize = 5;

    fn text(self) -> &'static str {
        match self {
            HotSql::InsertIndex => {
                "INSERT INTO message_index (seq, queue_id, salt, group_id, sent_ms,
                     visible_at_ms, receive_count, first_receive_ms, dead_letter_source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            }
            HotSql::InsertContent => {
                "INSERT INTO message_contents (seq, queue_id, message_id, body, extras, key_name, sealed, md5)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            }
            HotSql::UpdateIndex => {
                "UPDATE message_index SET visible_at_ms = ?3, receive_count = ?4, first_receive_ms = ?5
                 WHERE queue_id = ?1 AND seq = ?2"
            }
            HotSql::DeleteIndex => "DELETE FROM message_index WHERE queue_id = ?1 AND seq = ?2",
            HotSql::DeleteContent => "DELETE FROM message_contents WHERE seq = ?1",
        }
    }
}

/// [`HotSql`]'s statements, prepared on first use in a transaction.
struct Hot<'t> {
    tx: &'t rusqlite::Transaction<'t>,
    prepared: [Option<rusqlite::CachedStatement<'t>>; HotSql::COUNT],
}

impl<'t> Hot<'t> {
    fn new(tx: &'t rusqlite::Transaction<'t>) -> Self {
        Self {
            tx,
            prepared: Default::default(),
        }
    }

    fn get(&mut self, which: HotSql) -> rusqlite::Result<&mut rusqlite::CachedStatement<'t>> {
        let slot = &mut self.prepared[which as usize];
        if slot.is_none() {
            *slot = Some(self.tx.prepare_cached(which.text())?);
        }
        Ok(slot.as_mut().expect("prepared above"))
    }
}

enum WriteError {
    Sql(rusqlite::Error),
    Sealing(String),
}

impl From<rusqlite::Error> for WriteError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e)
    }
}

fn write_op(
    tx: &rusqlite::Transaction<'_>,
    hot: &mut Hot<'_>,
    sealing: &mut Sealing,
    op: &StoreOp,
) -> Result<(), WriteError> {
    match op {
        StoreOp::PutQueue(q) => {
            sealing.learn(q).map_err(WriteError::Sealing)?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO queues (id, region, account, name, attributes, tags, created_s, modified_s)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                q.id as i64,
                q.region,
                q.account,
                q.name,
                q.attributes,
                q.tags,
                q.created_s as i64,
                q.modified_s as i64
            ])?;
        }
        StoreOp::DeleteQueue(id) => {
            sealing.policies.remove(id);
            delete_messages_of(tx, *id)?;
            tx.prepare_cached("DELETE FROM queues WHERE id = ?1")?
                .execute([*id as i64])?;
        }
        StoreOp::PutMessage(m) => {
            put_index(hot.get(HotSql::InsertIndex)?, &m.index)?;
            let extras = m.content.extras.as_ref().map(|e| records::encode_extras(e));
            let place = Place {
                queue_id: m.index.queue_id,
                seq: m.index.seq,
                message_id: m.content.id,
                sent_ms: m.index.sent_ms,
            };
            let plain = PlainRef {
                md5_of_body: &m.content.md5_of_body,
                body: &m.content.body,
                extras: extras.as_deref(),
            };
            // An encrypted message keeps its body, MD5 and extras only in the sealed blob.
            let (body, extras, key_name, blob, md5) = match sealing.policies.get(&place.queue_id) {
                Some(policy) => {
                    let (key, blob) = sealing.seal(tx, &policy.clone(), &place, plain)?;
                    ("", None, Some(key), Some(blob), None)
                }
                None => (
                    plain.body,
                    plain.extras,
                    None,
                    None,
                    Some(&plain.md5_of_body[..]),
                ),
            };
            hot.get(HotSql::InsertContent)?.execute(params![
                place.seq as i64,
                place.queue_id as i64,
                &place.message_id.to_be_bytes()[..],
                body,
                extras,
                key_name,
                blob,
                md5
            ])?;
        }
        StoreOp::MoveMessage { from, to } => {
            hot.get(HotSql::DeleteIndex)?
                .execute([*from as i64, to.seq as i64])?;
            put_index(hot.get(HotSql::InsertIndex)?, to)?;
            rehome_content(tx, sealing, to)?;
        }
        StoreOp::UpdateMessage {
            queue_id,
            seq,
            visible_at_ms,
            receive_count,
            first_receive_ms,
        } => {
            hot.get(HotSql::UpdateIndex)?.execute(params![
                *queue_id as i64,
                *seq as i64,
                *visible_at_ms as i64,
                *receive_count as i64,
                *first_receive_ms as i64
            ])?;
        }
        StoreOp::DeleteMessage { queue_id, seq } => {
            hot.get(HotSql::DeleteIndex)?
                .execute([*queue_id as i64, *seq as i64])?;
            hot.get(HotSql::DeleteContent)?.execute([*seq as i64])?;
        }
        StoreOp::Purge(queue_id) => {
            delete_messages_of(tx, *queue_id)?;
        }
        StoreOp::PutDedup(d) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO dedup (queue_id, key, message_id, seq, expires_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                d.queue_id as i64,
                d.key,
                &d.message_id.to_be_bytes()[..],
                d.seq as i64,
                d.expires_ms as i64
            ])?;
        }
    }
    Ok(())
}

/// Writes an index row (a new message's, or a moved one's after its old row is deleted).
fn put_index(insert: &mut rusqlite::CachedStatement<'_>, m: &IndexRecord) -> rusqlite::Result<()> {
    insert
        .execute(params![
            m.seq as i64,
            m.queue_id as i64,
            m.salt,
            m.group.as_deref(),
            m.sent_ms as i64,
            m.visible_at_ms as i64,
            m.receive_count as i64,
            m.first_receive_ms as i64,
            m.dead_letter_source.as_deref()
        ])
        .map(drop)
}

/// Every message of a queue and its deduplication entries (a purge, a deleted queue).
fn delete_messages_of(tx: &rusqlite::Transaction<'_>, queue_id: u64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "DELETE FROM message_contents WHERE seq IN (SELECT seq FROM message_index WHERE queue_id = ?1)",
    )?
    .execute([queue_id as i64])?;
    tx.prepare_cached("DELETE FROM message_index WHERE queue_id = ?1")?
        .execute([queue_id as i64])?;
    tx.prepare_cached("DELETE FROM dedup WHERE queue_id = ?1")?
        .execute([queue_id as i64])?;
    Ok(())
}

/// A message moved to another queue: its content is bound to the queue it is in, so it is
/// sealed again for its new queue — under that queue's key, or its own if the new queue does
/// not encrypt (a sealed message is never written back in plain). A plain message stays in
/// plain unless its new queue encrypts. A sealed row that cannot be opened is left as it is
/// (it stays unreadable, and says so when it is delivered).
fn rehome_content(
    tx: &rusqlite::Transaction<'_>,
    sealing: &mut Sealing,
    index: &IndexRecord,
) -> Result<(), WriteError> {
    let row = tx
        .prepare_cached(&format!(
            "SELECT {} FROM message_contents WHERE seq = ?1",
            stored_content::COLUMNS
        ))?
        .query_row([index.seq as i64], Row::from_sql)
        .optional()?;
    let Some(row) = row.filter(|row| row.queue_id != index.queue_id) else {
        return Ok(());
    };
    let own_key = row
        .sealed
        .as_ref()
        .and(row.key_name.clone())
        .map(|key| SealPolicy {
            key,
            period_s: KEPT_KEY_PERIOD_S,
        });
    let Some(policy) = sealing.policies.get(&index.queue_id).cloned().or(own_key) else {
        tx.prepare_cached("UPDATE message_contents SET queue_id = ?2 WHERE seq = ?1")?
            .execute(params![index.seq as i64, index.queue_id as i64])?;
        return Ok(());
    };
    let message_id = row.id();
    let plain = match row.open(&mut sealing.sealer) {
        Ok(opened) => opened,
        Err(why) => {
            tracing::warn!(
                seq = index.seq,
                message_id = %format!("{message_id:032x}"),
                error = %why,
                "a message moved to another queue cannot be opened; it is kept as it was"
            );
            return Ok(());
        }
    };
    let place = Place {
        queue_id: index.queue_id,
        seq: index.seq,
        message_id,
        sent_ms: index.sent_ms,
    };
    let (key, blob) = sealing.seal(tx, &policy, &place, plain.as_ref())?;
    tx.prepare_cached(
        "UPDATE message_contents SET queue_id = ?2, body = '', extras = NULL, key_name = ?3,
             sealed = ?4, md5 = NULL WHERE seq = ?1",
    )?
    .execute(params![index.seq as i64, index.queue_id as i64, key, blob])?;
    Ok(())
}
