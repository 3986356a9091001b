//! The durable store: SQLite (bundled) in WAL mode with `synchronous=FULL`, written by one
//! thread with group commit. See docs/storage.md for the format and the fsync policy.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::{Connection, OptionalExtension, params};

use super::integrity;
use super::records::{self, FORMAT_VERSION};
use super::sealing::{self, Binding, SealPolicy, Sealer};
use super::{Batch, DedupRecord, MessageRecord, QueueRecord, Snapshot, Store, StoreError, StoreOp};

/// Upper bound on ops folded into one transaction, so one commit cannot grow without limit.
const MAX_OPS_PER_COMMIT: usize = 20_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queues (
    id INTEGER PRIMARY KEY,
    region TEXT,
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_s INTEGER NOT NULL,
    modified_s INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    queue_id INTEGER NOT NULL,
    message_id BLOB NOT NULL,
    body TEXT NOT NULL,
    extras TEXT,
    group_id TEXT,
    sent_ms INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL,
    first_receive_ms INTEGER NOT NULL,
    key_name TEXT,
    sealed BLOB
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (queue_id);
CREATE TABLE IF NOT EXISTS dedup (
    queue_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    message_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (queue_id, key)
) WITHOUT ROWID;
";

/// Opens (or creates) the database under `dir`, checks it is whole, reads everything back
/// (opening encrypted messages with the keys of `keyring`), and starts the writer.
/// `max_bytes` caps the database's size (a write beyond it fails as on a full disk).
pub fn open(
    dir: &Path,
    now_ms: u64,
    max_bytes: Option<u64>,
    keyring: &Path,
) -> Result<(Store, Snapshot, JoinHandle<()>), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let lock = super::dir_lock::acquire(dir)?;
    let path = dir.join("lockgate.sqlite3");
    check_wal(&path)?;
    let conn =
        Connection::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    configure(&conn, max_bytes).map_err(|e| {
        format!(
            "cannot open the store {}: {e} (the file is damaged or not a Lockgate store; move the data directory aside to start empty)",
            path.display()
        )
    })?;
    integrity::quick_check(&conn).map_err(|found| {
        format!(
            "the store {} is damaged ({found}); refusing to start with messages missing: restore the data directory, or move it aside to start empty",
            path.display()
        )
    })?;
    check_format(&conn)?;
    let mut sealer = Sealer::new(sealing::Keyring::open(keyring)?);
    let snapshot = load(&conn, now_ms, &mut sealer).map_err(|e| {
        format!(
            "cannot read {}: {e} (restore the data directory or its keyring, or move it aside to start empty)",
            path.display()
        )
    })?;
    let sealing = Sealing::new(sealer, &snapshot.queues)
        .map_err(|e| format!("{e} (in {})", dir.display()))?;
    let (tx, rx) = mpsc::channel::<Batch>();
    let failure: std::sync::Arc<std::sync::OnceLock<std::sync::Arc<str>>> = Default::default();
    let writer_failure = failure.clone();
    let commit_seconds = super::commit_histogram();
    let writer_latency = commit_seconds.clone();
    let writer = std::thread::Builder::new()
        .name("lockgate-store".into())
        .spawn(move || {
            write_loop(conn, sealing, rx, &writer_failure, &writer_latency);
            drop(lock); // the directory is free once the last write is done
        })
        .map_err(|e| e.to_string())?;
    Ok((
        Store {
            writer: Some(tx),
            failure,
            commit_seconds,
        },
        snapshot,
        writer,
    ))
}

/// Reads the write-ahead log before SQLite replays it: frames after a damaged one would be
/// dropped silently, so say so loudly and keep a copy of the log for recovery by hand.
fn check_wal(db: &Path) -> Result<(), String> {
    let wal = db.with_file_name("lockgate.sqlite3-wal");
    let Some(report) = integrity::inspect_wal(&wal) else {
        return Ok(());
    };
    if report.lost_commits > 0 {
        let kept = wal.with_file_name(format!(
            "lockgate.sqlite3-wal.damaged-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        ));
        std::fs::copy(&wal, &kept)
            .map_err(|e| format!("cannot keep a copy of the damaged {}: {e}", wal.display()))?;
        tracing::error!(
            "the write-ahead log {} is damaged: {} committed transactions ({} frames) after the damage cannot be replayed and their changes are LOST; the log was copied to {} (SQLite replays the {} frames before the damage)",
            wal.display(),
            report.lost_commits,
            report.lost_frames,
            kept.display(),
            report.valid_frames
        );
    }
    Ok(())
}

fn configure(conn: &Connection, max_bytes: Option<u64>) -> rusqlite::Result<()> {
    if let Some(max) = max_bytes {
        let page_size: u64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        conn.pragma_update(None, "max_page_count", (max / page_size.max(1)).max(1))?;
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    conn.pragma_update(None, "wal_autocheckpoint", 20_000)?;
    conn.execute_batch(SCHEMA)?;
    Ok(())
}

fn check_format(conn: &Connection) -> Result<(), String> {
    let version: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| e.to_string())?;
    match version.as_deref() {
        None => conn
            .execute(
                "INSERT INTO meta (key, value) VALUES ('format', ?1)",
                [FORMAT_VERSION],
            )
            .map(drop)
            .map_err(|e| e.to_string()),
        Some(FORMAT_VERSION) => Ok(()),
        // Format 2 added queues' regions; format 3 a message's sender (in its extras, absent
        // from older messages: they read as sent by the queue's own account); format 4
        // encrypted messages (older ones are all in plain: the columns stay empty); format 5
        // a queue's deduplication scope at creation (in its attributes; a queue stored without
        // it deduplicates by its current DeduplicationScope).
        Some(old @ ("1" | "2" | "3" | "4")) => {
            let region = if old == "1" {
                "ALTER TABLE queues ADD COLUMN region TEXT;"
            } else {
                ""
            };
            let sealed = if old == "4" {
                ""
            } else {
                "ALTER TABLE messages ADD COLUMN key_name TEXT;
                 ALTER TABLE messages ADD COLUMN sealed BLOB;"
            };
            conn.execute_batch(&format!(
                "BEGIN;
                 {region}
                 {sealed}
                 UPDATE meta SET value = '{FORMAT_VERSION}' WHERE key = 'format';
                 COMMIT;"
            ))
            .map_err(|e| {
                format!("cannot upgrade the data directory to format {FORMAT_VERSION}: {e}")
            })
        }
        Some(other) => Err(format!(
            "data directory has storage format {other}; this build reads format {FORMAT_VERSION}"
        )),
    }
}

fn load(conn: &Connection, now_ms: u64, sealer: &mut Sealer) -> Result<Snapshot, String> {
    read_rows(conn, now_ms)
        .map_err(|e| e.to_string())?
        .decode(sealer)
}

/// A snapshot whose messages' extras are still as stored.
struct Rows {
    snapshot: Snapshot,
    extras: Vec<Option<String>>,
    /// Encrypted messages' key names and blobs (their body and extras are in there).
    sealed: Vec<Option<(String, Vec<u8>)>>,
}

impl Rows {
    /// Every message opened and its extras decoded: one that cannot be read is an error
    /// naming it.
    fn decode(mut self, sealer: &mut Sealer) -> Result<Snapshot, String> {
        let messages = self.snapshot.messages.iter_mut();
        for ((m, mut extras), sealed) in messages.zip(self.extras).zip(self.sealed) {
            if let Some((key, blob)) = sealed {
                let binding = Binding {
                    queue_id: m.queue_id,
                    seq: m.seq,
                    message_id: m.id,
                    key: &key,
                };
                let (body, sealed_extras) =
                    sealer
                        .open(&binding, &blob)
                        .and_then(sealing::split)
                        .map_err(|e| format!("message {:032x} (seq {}): {e}", m.id, m.seq))?;
                m.body = body.into_boxed_str();
                extras = sealed_extras;
            }
            if let Some(text) = extras {
                let decoded = records::decode_extras(&text).map_err(|e| {
                    format!(
                        "message {:032x} (seq {}) has unreadable extras: {e}",
                        m.id, m.seq
                    )
                })?;
                m.extras = Some(Box::new(decoded));
            }
        }
        Ok(self.snapshot)
    }
}

fn read_rows(conn: &Connection, now_ms: u64) -> rusqlite::Result<Rows> {
    // Rows of deleted queues (a queue delete racing a move) and expired dedup entries are
    // dropped here rather than on the hot path.
    conn.execute(
        "DELETE FROM messages WHERE queue_id NOT IN (SELECT id FROM queues)",
        [],
    )?;
    conn.execute("DELETE FROM dedup WHERE expires_ms <= ?1", [now_ms as i64])?;
    let mut snapshot = Snapshot::default();
    let mut stmt = conn.prepare(
        "SELECT id, region, account, name, attributes, tags, created_s, modified_s FROM queues ORDER BY id",
    )?;
    snapshot.queues = stmt
        .query_map([], |r| {
            Ok(QueueRecord {
                id: r.get::<_, i64>(0)? as u64,
                region: r.get(1)?,
                account: r.get(2)?,
                name: r.get(3)?,
                attributes: r.get(4)?,
                tags: r.get(5)?,
                created_s: r.get::<_, i64>(6)? as u64,
                modified_s: r.get::<_, i64>(7)? as u64,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare(
        "SELECT seq, queue_id, message_id, body, extras, group_id, sent_ms, visible_at_ms,
                receive_count, first_receive_ms, key_name, sealed FROM messages ORDER BY seq",
    )?;
    let mut extras = Vec::new();
    let mut sealed = Vec::new();
    snapshot.messages = stmt
        .query_map([], |r| {
            extras.push(r.get::<_, Option<String>>(4)?);
            sealed.push(
                match (
                    r.get::<_, Option<String>>(10)?,
                    r.get::<_, Option<Vec<u8>>>(11)?,
                ) {
                    (Some(key), Some(blob)) => Some((key, blob)),
                    _ => None,
                },
            );
            Ok(MessageRecord {
                seq: r.get::<_, i64>(0)? as u64,
                queue_id: r.get::<_, i64>(1)? as u64,
                id: blob_to_id(&r.get::<_, Vec<u8>>(2)?),
                body: r.get::<_, String>(3)?.into_boxed_str(),
                extras: None,
                group: r.get(5)?,
                sent_ms: r.get::<_, i64>(6)? as u64,
                visible_at_ms: r.get::<_, i64>(7)? as u64,
                receive_count: r.get::<_, i64>(8)? as u32,
                first_receive_ms: r.get::<_, i64>(9)? as u64,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare("SELECT queue_id, key, message_id, seq, expires_ms FROM dedup")?;
    snapshot.dedup = stmt
        .query_map([], |r| {
            Ok(DedupRecord {
                queue_id: r.get::<_, i64>(0)? as u64,
                key: r.get(1)?,
                message_id: blob_to_id(&r.get::<_, Vec<u8>>(2)?),
                seq: r.get::<_, i64>(3)? as u64,
                expires_ms: r.get::<_, i64>(4)? as u64,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Rows {
        snapshot,
        extras,
        sealed,
    })
}

fn blob_to_id(blob: &[u8]) -> u128 {
    let mut bytes = [0u8; 16];
    let n = blob.len().min(16);
    bytes[..n].copy_from_slice(&blob[..n]);
    u128::from_be_bytes(bytes)
}

/// Group commit: block for the first batch, then take every batch already waiting, write them
/// all in one transaction, commit (one fsync), and acknowledge them together. After a failed
/// commit nothing more is written: the engine's memory is ahead of the disk, and everything
/// from then on is refused until a restart reads the disk again.
fn write_loop(
    mut conn: Connection,
    mut sealing: Sealing,
    rx: mpsc::Receiver<Batch>,
    failure: &std::sync::OnceLock<std::sync::Arc<str>>,
    latency: &prometheus_client::metrics::histogram::Histogram,
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
                let why: std::sync::Arc<str> = e.into();
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

fn timed<T>(
    latency: &prometheus_client::metrics::histogram::Histogram,
    f: impl FnOnce() -> T,
) -> T {
    let started = std::time::Instant::now();
    let value = f();
    latency.observe(started.elapsed().as_secs_f64());
    value
}

/// The writer's view of which queues encrypt their new messages, kept in step with the
/// queue records it writes (so a message moved to a dead-letter queue is sealed as that
/// queue says, and a settings change applies to the messages sent after it).
struct Sealing {
    sealer: Sealer,
    policies: std::collections::HashMap<u64, SealPolicy>,
}

impl Sealing {
    fn new(sealer: Sealer, queues: &[QueueRecord]) -> Result<Self, String> {
        let mut sealing = Self {
            sealer,
            policies: Default::default(),
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

    /// The encrypted form of a message (key name and blob), if its queue encrypts.
    fn seal(
        &mut self,
        m: &MessageRecord,
        extras: Option<&str>,
    ) -> Result<Option<(String, Vec<u8>)>, String> {
        let Some(policy) = self.policies.get(&m.queue_id) else {
            return Ok(None);
        };
        let binding = Binding {
            queue_id: m.queue_id,
            seq: m.seq,
            message_id: m.id,
            key: &policy.key,
        };
        let blob = self
            .sealer
            .seal(policy, m.sent_ms, &binding, &m.body, extras)?;
        Ok(Some((policy.key.clone(), blob)))
    }
}

fn apply(conn: &mut Connection, sealing: &mut Sealing, batches: &[Batch]) -> Result<(), String> {
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    for op in batches.iter().flat_map(|b| &b.ops) {
        apply_op(&tx, sealing, op)?;
    }
    tx.commit().map_err(|e| e.to_string())
}

fn apply_op(
    tx: &rusqlite::Transaction<'_>,
    sealing: &mut Sealing,
    op: &StoreOp,
) -> Result<(), String> {
    write_op(tx, sealing, op).map_err(|e| match e {
        WriteError::Sql(e) => e.to_string(),
        WriteError::Sealing(e) => format!("cannot encrypt a message: {e}"),
    })
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
            tx.prepare_cached("DELETE FROM messages WHERE queue_id = ?1")?
                .execute([*id as i64])?;
            tx.prepare_cached("DELETE FROM dedup WHERE queue_id = ?1")?
                .execute([*id as i64])?;
            tx.prepare_cached("DELETE FROM queues WHERE id = ?1")?
                .execute([*id as i64])?;
        }
        StoreOp::PutMessage(m) => {
            let extras = m.extras.as_ref().map(|e| records::encode_extras(e));
            let sealed = sealing
                .seal(m, extras.as_deref())
                .map_err(WriteError::Sealing)?;
            // An encrypted message keeps its body and extras only in the sealed blob.
            let (body, extras, key_name, blob) = match sealed {
                Some((key, blob)) => ("", None, Some(key), Some(blob)),
                None => (&*m.body, extras, None, None),
            };
            tx.prepare_cached(
                "INSERT OR REPLACE INTO messages (seq, queue_id, message_id, body, extras, group_id,
                 sent_ms, visible_at_ms, receive_count, first_receive_ms, key_name, sealed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                m.seq as i64,
                m.queue_id as i64,
                &m.id.to_be_bytes()[..],
                body,
                extras,
                m.group,
                m.sent_ms as i64,
                m.visible_at_ms as i64,
                m.receive_count as i64,
                m.first_receive_ms as i64,
                key_name,
                blob
            ])?;
        }
        StoreOp::UpdateMessage {
            seq,
            visible_at_ms,
            receive_count,
            first_receive_ms,
        } => {
            tx.prepare_cached(
                "UPDATE messages SET visible_at_ms = ?2, receive_count = ?3, first_receive_ms = ?4
                 WHERE seq = ?1",
            )?
            .execute(params![
                *seq as i64,
                *visible_at_ms as i64,
                *receive_count as i64,
                *first_receive_ms as i64
            ])?;
        }
        StoreOp::DeleteMessage(seq) => {
            tx.prepare_cached("DELETE FROM messages WHERE seq = ?1")?
                .execute([*seq as i64])?;
        }
        StoreOp::Purge(queue_id) => {
            tx.prepare_cached("DELETE FROM messages WHERE queue_id = ?1")?
                .execute([*queue_id as i64])?;
            tx.prepare_cached("DELETE FROM dedup WHERE queue_id = ?1")?
                .execute([*queue_id as i64])?;
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

impl Store {
    /// Waits until everything handed over so far is committed.
    pub async fn flush(&self) {
        if let Some(writer) = &self.writer {
            let (done, wait) = tokio::sync::oneshot::channel();
            if writer
                .send(Batch {
                    ops: Vec::new(),
                    done: Some(done),
                })
                .is_ok()
            {
                let _ = wait.await;
            }
        }
    }
}
