//! Durability. The queue engine keeps its state in memory — for a durable queue, each
//! message's index entry, not what it says — and describes every change as a [`StoreOp`]; a
//! [`Store`] makes those changes durable. Ops are handed over while the queue's lock is held,
//! so the store sees them in the order the engine applied them.
//!
//! - [`Store::memory`]: nothing is written (`--in-memory`).
//! - [`records`]: what is stored, and its mapping to and from the engine's types;
//!   [`stored_content`]: a content row read back and opened.
//! - [`schema`]: the tables, and the in-place upgrades from earlier formats.
//! - [`sealing`]: encryption at rest of SSE queues' messages, and the keyring.
//! - [`sqlite`]: opening the store: checks, reading the index back, the writer started;
//!   [`recover`]: the queues rebuilt in memory from what it read.
//! - [`writer`]: one thread with group commit: every op that arrived while the previous
//!   transaction was committing goes into the next one, so concurrent requests share an fsync.
//! - [`reader`]: contents read back for deliveries and browsing, through [`cache`].

mod cache;
mod dir_lock;
pub mod integrity;
pub mod reader;
pub mod records;
pub mod recover;
mod schema;
pub mod sealing;
pub mod sqlite;
mod stored_content;
mod writer;

pub use reader::{ContentReader, Fetched};
pub use records::{DedupRecord, IndexRecord, MessageRecord, QueueRecord};

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, mpsc};

use prometheus_client::metrics::histogram::Histogram;

use tokio::sync::oneshot;

#[derive(Debug, Clone)]
pub enum StoreOp {
    PutQueue(QueueRecord),
    DeleteQueue(u64),
    /// A new message: its index entry and its content.
    PutMessage(Box<MessageRecord>),
    /// A message re-homed in another queue (a redrive, a move task): its new index entry. Its
    /// content follows it (sealed again for the new queue if it is sealed or the queue
    /// encrypts).
    MoveMessage {
        from: u64,
        to: Box<IndexRecord>,
    },
    /// A receive or visibility change.
    UpdateMessage {
        queue_id: u64,
        seq: u64,
        visible_at_ms: u64,
        receive_count: u32,
        first_receive_ms: u64,
    },
    DeleteMessage {
        queue_id: u64,
        seq: u64,
    },
    /// Every message of a queue and its deduplication entries.
    Purge(u64),
    PutDedup(Box<DedupRecord>),
}

/// Why a change was not made durable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// This commit failed (a full disk, an I/O error): the store is failed from now on.
    #[error("the store could not commit: {0}")]
    Commit(Arc<str>),
    /// An earlier commit failed. The engine's memory may hold changes the disk does not, so
    /// nothing more is written (and nothing read from memory is handed out as committed)
    /// until a restart rebuilds memory from the disk.
    #[error("the store failed earlier ({0}); every write is refused until the emulator restarts")]
    Failed(Arc<str>),
    /// The writer is gone (shutting down).
    #[error("the store is closed")]
    Closed,
}

struct Batch {
    ops: Vec<StoreOp>,
    done: Option<oneshot::Sender<Result<(), StoreError>>>,
}

/// The handle the engine writes through. Cloning is cheap.
#[derive(Clone)]
pub struct Store {
    writer: Option<mpsc::Sender<Batch>>,
    /// Set once, by the writer, when a commit fails.
    failure: Arc<OnceLock<Arc<str>>>,
    /// How long each commit (one transaction, one fsync) took, in seconds.
    pub commit_seconds: Histogram,
}

/// Commit latency buckets: 100 µs to ~3 s.
pub fn commit_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0001, 2.0, 16,
    ))
}

/// Resolves when the ops handed to [`Store::submit`] are durable.
pub type Commit = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>;

impl Store {
    /// A store that keeps nothing: every commit is immediate.
    pub fn memory() -> Self {
        Self {
            writer: None,
            failure: Arc::default(),
            commit_seconds: commit_histogram(),
        }
    }

    /// Why the store failed, if it did: writes are refused until a restart.
    pub fn failure(&self) -> Option<&str> {
        self.failure.get().map(|f| &**f)
    }

    pub fn is_durable(&self) -> bool {
        self.writer.is_some()
    }

    /// Hands ops to the writer (call with the queue lock held) and returns a future that
    /// resolves once they are committed.
    pub fn submit(&self, ops: Vec<StoreOp>) -> Commit {
        let Some(writer) = &self.writer else {
            return Box::pin(std::future::ready(Ok(())));
        };
        if ops.is_empty() {
            return Box::pin(std::future::ready(Ok(())));
        }
        if let Some(why) = self.failure.get() {
            return Box::pin(std::future::ready(Err(StoreError::Failed(why.clone()))));
        }
        let (done, wait) = oneshot::channel();
        if writer
            .send(Batch {
                ops,
                done: Some(done),
            })
            .is_err()
        {
            return Box::pin(std::future::ready(Err(StoreError::Closed)));
        }
        Box::pin(async move { wait.await.unwrap_or(Err(StoreError::Closed)) })
    }

    /// Hands ops to the writer without waiting (used where a lost write is harmless, e.g.
    /// an expired entry's removal that recovery would redo anyway).
    pub fn submit_detached(&self, ops: Vec<StoreOp>) {
        if let (Some(writer), false) = (&self.writer, ops.is_empty()) {
            let _ = writer.send(Batch { ops, done: None });
        }
    }
}

/// The files under a data directory that hold the emulator's state (the store, its log, the
/// receipt-handle key, the keyring, kept copies of damaged logs, the `s3` directory of
/// objects): what `lockgate reset` deletes. Anything
/// else there (such as function builds) is not the emulator's.
pub fn state_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str());
            (p.is_dir() && name == Some("s3"))
                || p.is_file()
                    && name.is_some_and(|n| {
                        n == "handle-key"
                            || n == "lock"
                            || n.starts_with("keyring")
                            || n.starts_with("lockgate.sqlite3")
                    })
        })
        .collect();
    files.sort();
    files
}

/// Deletes the emulator's state in `dir` (see [`state_files`]); refused while an emulator
/// holds the directory. Returns what was deleted.
pub fn reset(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, String> {
    let lock = dir_lock::acquire(dir)?;
    let files = state_files(dir);
    for file in &files {
        let removed = if file.is_dir() {
            std::fs::remove_dir_all(file)
        } else {
            std::fs::remove_file(file)
        };
        removed.map_err(|e| format!("cannot delete {}: {e}", file.display()))?;
    }
    drop(lock);
    Ok(files)
}
