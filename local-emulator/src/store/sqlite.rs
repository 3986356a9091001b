//! The durable store: SQLite (bundled) in WAL mode with `synchronous=FULL`, written by one
//! thread with group commit ([`super::writer`]) and read by a pool of readers
//! ([`super::reader`]). Opening it is a [`Recovery`]: checks, then queues, then the messages'
//! index streamed into the engine, then the writer starts. See docs/storage.md for the format
//! and the fsync policy.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use rusqlite::{Connection, params};

use super::dir_lock::DirLock;
use super::integrity;
use super::reader::ContentReader;
use super::records::IndexRecord;
use super::schema;
use super::sealing::{self, Sealer};
use super::writer::{self, Sealing};
use super::{Batch, DedupRecord, QueueRecord, Store};

/// The tables a start reads, checked by `quick_check` before it does (not
/// `message_contents`: see [`integrity::quick_check`]).
const CHECKED_TABLES: &[&str] = &["meta", "queues", "message_index", "key_checks", "dedup"];

/// A store being opened: checked and upgraded, its queues and deduplication entries read;
/// the messages' index is streamed by [`Recovery::read_index`], then [`Recovery::start`]
/// starts the writer.
pub struct Recovery {
    conn: Connection,
    lock: DirLock,
    path: PathBuf,
    keyring: PathBuf,
    sealer: Sealer,
    checked_keys: HashSet<String>,
    pub queues: Vec<QueueRecord>,
    pub dedup: Vec<DedupRecord>,
    /// Index rows of queues that no longer exist (a queue delete racing a move).
    orphans: Vec<(u64, u64)>,
}

/// A started store.
pub struct Opened {
    pub store: Store,
    pub contents: Arc<ContentReader>,
    pub writer: JoinHandle<()>,
}

/// Opens (or creates) the database under `dir`, checks it is whole and that `keyring` holds
/// the keys its messages use, upgrades an earlier format, and reads the queues.
/// `max_bytes` caps the database's size (a write beyond it fails as on a full disk).
pub fn open(
    dir: &Path,
    now_ms: u64,
    max_bytes: Option<u64>,
    keyring: &Path,
) -> Result<Recovery, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let lock = super::dir_lock::acquire(dir)?;
    let path = dir.join("lockgate.sqlite3");
    check_wal(&path)?;
    let damaged = |found: String| {
        format!(
            "the store {} is damaged ({found}); refusing to start with messages missing: restore the data directory, or move it aside to start empty",
            path.display()
        )
    };
    integrity::check_length(&path).map_err(damaged)?;
    let mut conn =
        Connection::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    configure(&conn, max_bytes).map_err(|e| {
        format!(
            "cannot open the store {}: {e} (the file is damaged or not a Lockgate store; move the data directory aside to start empty)",
            path.display()
        )
    })?;
    let unreadable = |e: String| {
        format!(
            "cannot read {}: {e} (restore the data directory or its keyring, or move it aside to start empty)",
            path.display()
        )
    };
    let tables = existing_tables(&conn).map_err(|e| damaged(e.to_string()))?;
    integrity::quick_check(&conn, &tables).map_err(damaged)?;
    let mut sealer = Sealer::new(sealing::Keyring::open(keyring)?);
    schema::prepare(&mut conn, &mut sealer).map_err(unreadable)?;
    let checked_keys = verify_keys(&conn, &mut sealer).map_err(unreadable)?;
    let queues = read_queues(&conn).map_err(|e| unreadable(e.to_string()))?;
    let dedup = read_dedup(&conn, now_ms).map_err(|e| unreadable(e.to_string()))?;
    Ok(Recovery {
        conn,
        lock,
        path,
        keyring: keyring.to_path_buf(),
        sealer,
        checked_keys,
        queues,
        dedup,
        orphans: Vec::new(),
    })
}

/// Which of [`CHECKED_TABLES`] (and an earlier format's `messages`, which an upgrade reads
/// whole) the database has.
fn existing_tables(conn: &Connection) -> rusqlite::Result<Vec<&'static str>> {
    let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
    let names: HashSet<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(CHECKED_TABLES
        .iter()
        .chain(&["messages"])
        .copied()
        .filter(|t| names.contains(*t))
        .collect())
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
    Ok(())
}

/// Every key the stored messages use must be in the keyring, as it was when they were
/// sealed: checked against the key check values, without opening a message.
fn verify_keys(conn: &Connection, sealer: &mut Sealer) -> Result<HashSet<String>, String> {
    let mut stmt = conn
        .prepare("SELECT key_name, check_value FROM key_checks ORDER BY key_name")
        .map_err(|e| e.to_string())?;
    let checks: Vec<(String, Vec<u8>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(|e| e.to_string())?
        .collect::<rusqlite::Result<_>>()
        .map_err(|e| e.to_string())?;
    for (name, check) in &checks {
        sealer.verify(name, check)?;
    }
    Ok(checks.into_iter().map(|(name, _)| name).collect())
}

fn read_queues(conn: &Connection) -> rusqlite::Result<Vec<QueueRecord>> {
    let mut stmt = conn.prepare(
        "SELECT id, region, account, name, attributes, tags, created_s, modified_s FROM queues ORDER BY id",
    )?;
    stmt.query_map([], |r| {
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
    .collect()
}

/// Unexpired deduplication entries (expired ones are dropped here, off the hot path).
fn read_dedup(conn: &Connection, now_ms: u64) -> rusqlite::Result<Vec<DedupRecord>> {
    conn.execute("DELETE FROM dedup WHERE expires_ms <= ?1", [now_ms as i64])?;
    let mut stmt = conn.prepare("SELECT queue_id, key, message_id, seq, expires_ms FROM dedup")?;
    stmt.query_map([], |r| {
        Ok(DedupRecord {
            queue_id: r.get::<_, i64>(0)? as u64,
            key: r.get(1)?,
            message_id: super::stored_content::id_of(&r.get::<_, Vec<u8>>(2)?),
            seq: r.get::<_, i64>(3)? as u64,
            expires_ms: r.get::<_, i64>(4)? as u64,
        })
    })?
    .collect()
}

impl Recovery {
    /// Hands every message's index entry to `insert`, each queue's in sequence order, which answers
    /// whether its queue exists (the rows of one that does not are deleted at
    /// [`Recovery::start`]). Streams: nothing but the engine's own entries is held. Returns
    /// the highest sequence number seen.
    pub fn read_index(
        &mut self,
        mut insert: impl FnMut(IndexRecord) -> bool,
    ) -> Result<u64, String> {
        let path = self.path.display().to_string();
        let unreadable = |e: rusqlite::Error| {
            format!(
                "cannot read {path}: {e} (restore the data directory, or move it aside to start empty)"
            )
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, queue_id, salt, group_id, sent_ms, visible_at_ms, receive_count,
                        first_receive_ms, dead_letter_source
                 FROM message_index ORDER BY queue_id, seq",
            )
            .map_err(unreadable)?;
        let mut rows = stmt.query([]).map_err(unreadable)?;
        let mut max_seq = 0;
        // Groups and sources repeat across messages: one allocation each, shared.
        let mut strings: std::collections::HashMap<String, Arc<str>> = Default::default();
        let mut shared = |text: Option<String>| {
            text.map(|t| {
                strings
                    .entry(t)
                    .or_insert_with_key(|t| Arc::from(t.as_str()))
                    .clone()
            })
        };
        while let Some(r) = rows.next().map_err(unreadable)? {
            let record = IndexRecord {
                seq: r.get::<_, i64>(0).map_err(unreadable)? as u64,
                queue_id: r.get::<_, i64>(1).map_err(unreadable)? as u64,
                salt: r.get::<_, i64>(2).map_err(unreadable)? as u32,
                group: shared(r.get(3).map_err(unreadable)?),
                sent_ms: r.get::<_, i64>(4).map_err(unreadable)? as u64,
                visible_at_ms: r.get::<_, i64>(5).map_err(unreadable)? as u64,
                receive_count: r.get::<_, i64>(6).map_err(unreadable)? as u32,
                first_receive_ms: r.get::<_, i64>(7).map_err(unreadable)? as u64,
                dead_letter_source: shared(r.get(8).map_err(unreadable)?),
            };
            let seq = record.seq;
            max_seq = max_seq.max(seq);
            let queue_id = record.queue_id;
            if !insert(record) {
                self.orphans.push((queue_id, seq));
            }
        }
        Ok(max_seq)
    }

    /// Deletes orphaned rows, starts the writer thread and the readers.
    pub fn start(mut self, cache_bytes: usize) -> Result<Opened, String> {
        if !self.orphans.is_empty() {
            let tx = self.conn.transaction().map_err(|e| e.to_string())?;
            for (queue_id, seq) in &self.orphans {
                tx.execute(
                    "DELETE FROM message_index WHERE queue_id = ?1 AND seq = ?2",
                    params![*queue_id as i64, *seq as i64],
                )
                .and_then(|_| {
                    tx.execute(
                        "DELETE FROM message_contents WHERE seq = ?1",
                        params![*seq as i64],
                    )
                })
                .map_err(|e| e.to_string())?;
            }
            tx.commit().map_err(|e| e.to_string())?;
        }
        let sealing = Sealing::new(self.sealer, &self.queues, self.checked_keys)
            .map_err(|e| format!("{e} (in {})", self.path.display()))?;
        let (tx, rx) = mpsc::channel::<Batch>();
        let failure: Arc<std::sync::OnceLock<Arc<str>>> = Default::default();
        let writer_failure = failure.clone();
        let commit_seconds = super::commit_histogram();
        let writer_latency = commit_seconds.clone();
        let (conn, lock) = (self.conn, self.lock);
        let writer = std::thread::Builder::new()
            .name("lockgate-store".into())
            .spawn(move || {
                writer::write_loop(conn, sealing, rx, &writer_failure, &writer_latency);
                drop(lock); // the directory is free once the last write is done
            })
            .map_err(|e| e.to_string())?;
        Ok(Opened {
            store: Store {
                writer: Some(tx),
                failure,
                commit_seconds,
            },
            contents: Arc::new(ContentReader::new(self.path, self.keyring, cache_bytes)),
            writer,
        })
    }
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
