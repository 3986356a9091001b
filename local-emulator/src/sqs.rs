//! The registry of queues and everything shared by all requests: configuration, the store,
//! id and sequence allocation, the clock. Cheap to share as `Arc<Sqs>`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use tokio::sync::Notify;

use crate::clock::{SharedClock, SystemClock};
use crate::error::{SqsError, SqsResult};
use crate::queue::attributes::QueueAttributes;
use crate::queue::receipt::HandleKey;
use crate::queue::message::Content;
use crate::queue::{Delivery, Moved, Queue, QueueState};
use crate::store::{ContentReader, Fetched, QueueRecord, Store, StoreOp, records, recover, sqlite};

#[derive(Debug, Clone)]
pub struct Config {
    pub account_id: String,
    /// The region of requests that name none (no SigV4 scope, no `sqs.<region>.` host), and
    /// of queues stored before queues had regions.
    pub region: String,
    /// When set, every request must carry a valid SigV4 signature by one of these
    /// (access key id → secret).
    pub credentials: Option<Arc<HashMap<String, String>>>,
    /// A cap on the durable store's size: past it writes fail as on a full disk.
    pub max_store_bytes: Option<u64>,
    /// The time SQS's rules are measured in (see [`crate::clock`]).
    pub clock: SharedClock,
    /// Whether the port speaks TLS (queue URLs are then https).
    pub https: bool,
    /// The keyring of encrypted queues' keys; `None` keeps it in the data directory.
    pub key_file: Option<std::path::PathBuf>,
    /// Bytes of message contents a durable emulator keeps in memory (`--cache-size`).
    pub cache_bytes: usize,
}

/// `--cache-size`'s default.
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

impl Config {
    pub fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// Now in Unix seconds, on the emulator's clock (signatures, S3's object dates).
    pub fn now_s(&self) -> i64 {
        (self.clock.now_ms() / 1000) as i64
    }

    /// The keyring of a durable emulator in `dir`: `--key-file`, else the data directory's.
    pub fn keyring(&self, dir: &Path) -> std::path::PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| crate::store::sealing::default_keyring(dir))
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
            credentials: None,
            max_store_bytes: None,
            clock: SystemClock::shared(),
            https: false,
            key_file: None,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

/// Queues are regional: (region, account, name).
type QueueKey = (String, String, String);

fn key(region: &str, account: &str, name: &str) -> QueueKey {
    (region.to_string(), account.to_string(), name.to_string())
}

pub struct Sqs {
    pub config: Config,
    pub store: Store,
    /// A durable emulator's readers of message contents (None in memory: contents are kept
    /// by the queues).
    pub contents: Option<Arc<ContentReader>>,
    /// Authenticates receipt handles (see `queue::receipt`).
    pub handle_key: HandleKey,
    queues: RwLock<HashMap<QueueKey, Arc<Queue>>>,
    next_seq: AtomicU64,
    next_queue_id: AtomicU64,
    id_high: u64,
    id_counter: AtomicU64,
    closing: AtomicBool,
    /// Wakes long polls when the server shuts down.
    pub closed: Notify,
    /// When each (region, account, name) was last deleted: SQS refuses to re-create it for 60 s.
    deleted: std::sync::Mutex<HashMap<QueueKey, u64>>,
}

/// Messages read ahead when a delivery misses the cache.
const READ_AHEAD: usize = 256;

/// How long a deleted queue's name stays reserved.
pub const QUEUE_NAME_REUSE_MS: u64 = 60_000;

/// The data directory's receipt-handle secret (`handle-key`, mode 0600), made on first use,
/// so handles stay valid across restarts.
fn handle_key(dir: &Path) -> Result<HandleKey, String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("handle-key");
    match std::fs::read(&path) {
        Ok(bytes) => {
            let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
                format!(
                    "{} holds {} bytes, not a 32-byte key: delete it to make a new one (outstanding receipt handles become invalid)",
                    path.display(),
                    b.len()
                )
            })?;
            Ok(HandleKey::new(bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bytes = crate::os_random::bytes32();
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(HandleKey::new(bytes))
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn random_u64() -> u64 {
    let bytes = crate::os_random::bytes32();
    u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"))
}

impl Sqs {
    /// Now, on the emulator's clock.
    pub fn now_ms(&self) -> u64 {
        self.config.clock.now_ms()
    }

    /// An emulator whose state lives only in memory.
    pub fn in_memory(config: Config) -> Arc<Self> {
        let key = HandleKey::new(crate::os_random::bytes32());
        Arc::new(Self::with_store(config, (Store::memory(), None), key, 1, 1))
    }

    /// Opens the durable store under `dir`, recovering every queue and message's index entry
    /// (contents stay on disk until delivered).
    pub fn durable(config: Config, dir: &Path) -> Result<(Arc<Self>, JoinHandle<()>), String> {
        let now = config.clock.now_ms();
        let keyring = config.keyring(dir);
        let mut recovery = sqlite::open(dir, now, config.max_store_bytes, &keyring)?;
        let handle_key = handle_key(dir)?;
        let rebuilt = recover::queues(&mut recovery, dir, &config.region, now)?;
        let opened = recovery.start(config.cache_bytes)?;
        let sqs = Self::with_store(
            config,
            (opened.store, Some(opened.contents)),
            handle_key,
            rebuilt.next_seq,
            rebuilt.next_queue_id,
        );
        for queue in rebuilt.queues {
            let key = key(&queue.region, &queue.account, &queue.name);
            sqs.write_registry().insert(key, queue);
        }
        Ok((Arc::new(sqs), opened.writer))
    }

    fn with_store(
        config: Config,
        (store, contents): (Store, Option<Arc<ContentReader>>),
        handle_key: HandleKey,
        next_seq: u64,
        next_queue_id: u64,
    ) -> Self {
        Self {
            config,
            store,
            contents,
            handle_key,
            queues: RwLock::new(HashMap::new()),
            next_seq: AtomicU64::new(next_seq),
            next_queue_id: AtomicU64::new(next_queue_id),
            // Version-4 UUID bits in the high half; the low half counts, so ids never repeat.
            id_high: (random_u64() & !0xF000) | 0x4000,
            id_counter: AtomicU64::new(random_u64() >> 2),
            closing: AtomicBool::new(false),
            closed: Notify::new(),
            deleted: std::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn next_seq(&self) -> &AtomicU64 {
        &self.next_seq
    }

    pub fn new_message_id(&self) -> u128 {
        let low = self.id_counter.fetch_add(1, Ordering::Relaxed) & (u64::MAX >> 2);
        (u128::from(self.id_high) << 64) | u128::from(low | (1 << 63))
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Makes long polls return now; called when the server starts shutting down.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.closed.notify_waiters();
    }

    fn read_registry(&self) -> std::sync::RwLockReadGuard<'_, HashMap<QueueKey, Arc<Queue>>> {
        self.queues.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_registry(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<QueueKey, Arc<Queue>>> {
        self.queues.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn queue(&self, region: &str, account: &str, name: &str) -> Option<Arc<Queue>> {
        self.read_registry()
            .get(&key(region, account, name))
            .cloned()
    }

    /// Resolves a queue URL in any common form by its last two path segments (account and
    /// name); a URL with just a name resolves in the caller's account. The queue is looked up
    /// in the caller's region, or in the region of an `sqs.<region>.…` URL host.
    pub fn queue_by_url(
        &self,
        url: &str,
        caller_region: &str,
        caller_account: &str,
    ) -> SqsResult<Arc<Queue>> {
        let (host, path) = url.split_once("://").map_or(("", url), |(_, rest)| {
            rest.split_once('/').unwrap_or((rest, ""))
        });
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let mut segments = path.rsplit('/').filter(|s| !s.is_empty());
        let name = segments.next().ok_or_else(SqsError::queue_does_not_exist)?;
        let account = segments
            .next()
            .filter(|s| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()));
        // `/<region>/<account>/<name>` (see `Context::queue_url`), else the host's region.
        let region = account
            .and_then(|_| segments.next())
            .filter(|s| is_region_name(s))
            .or_else(|| region_of_host(host))
            .unwrap_or(caller_region);
        let account = account.unwrap_or(caller_account);
        self.queue(region, account, name)
            .ok_or_else(SqsError::queue_does_not_exist)
    }

    pub fn queue_by_arn(&self, arn: &str) -> Option<Arc<Queue>> {
        let mut parts = arn.split(':');
        let (Some("arn"), Some(_), Some("sqs"), Some(region), Some(account), Some(name), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        self.queue(region, account, name)
    }

    /// Every queue of an account in a region, sorted by name.
    pub fn queues_of(&self, region: &str, account: &str) -> Vec<Arc<Queue>> {
        let mut queues: Vec<_> = self
            .read_registry()
            .iter()
            .filter(|((r, a, _), _)| r == region && a == account)
            .map(|(_, q)| q.clone())
            .collect();
        queues.sort_by(|a, b| a.name.cmp(&b.name));
        queues
    }

    /// Every queue, sorted by region, account and name (the console and `/metrics`).
    pub fn all_queues(&self) -> Vec<Arc<Queue>> {
        let mut queues: Vec<_> = self.read_registry().values().cloned().collect();
        queues.sort_by(|a, b| (&a.region, &a.account, &a.name).cmp(&(&b.region, &b.account, &b.name)));
        queues
    }

    pub fn queue_count(&self) -> usize {
        self.read_registry().len()
    }

    /// Registers a new queue, or returns the existing one with that name (the caller compares
    /// attributes). The bool says whether it was created.
    pub async fn create_queue(
        &self,
        region: &str,
        account: &str,
        name: &str,
        attrs: QueueAttributes,
        tags: BTreeMap<String, String>,
    ) -> SqsResult<(Arc<Queue>, bool)> {
        let created_s = self.now_ms() / 1000;
        let commit = {
            let mut registry = self.write_registry();
            let key = key(region, account, name);
            if let Some(existing) = registry.get(&key) {
                return Ok((existing.clone(), false));
            }
            let deleted_at = self
                .deleted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .copied();
            if deleted_at.is_some_and(|at| self.now_ms() < at + QUEUE_NAME_REUSE_MS) {
                return Err(SqsError::new(
                    crate::error::ErrorCode::QueueDeletedRecently,
                    "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
                ));
            }
            let id = self.next_queue_id.fetch_add(1, Ordering::Relaxed);
            let queue = Arc::new(Queue::new(
                id,
                region.to_string(),
                account.to_string(),
                name.to_string(),
                attrs,
                tags,
                created_s,
            ));
            queue
                .lock()
                .set_publish_after_commit(self.store.is_durable());
            let record = queue_record(&queue);
            registry.insert(key, queue.clone());
            (queue, self.store.submit(vec![StoreOp::PutQueue(record)]))
        };
        let (queue, commit) = commit;
        commit.await?;
        Ok((queue, true))
    }

    pub async fn delete_queue(&self, queue: &Arc<Queue>) -> SqsResult<()> {
        let commit = {
            let mut registry = self.write_registry();
            let key = key(&queue.region, &queue.account, &queue.name);
            if registry.get(&key).is_some_and(|q| Arc::ptr_eq(q, queue)) {
                registry.remove(&key);
                self.deleted
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, self.now_ms());
            }
            self.store.submit(vec![StoreOp::DeleteQueue(queue.id)])
        };
        queue.notify.notify_waiters();
        Ok(commit.await?)
    }

    /// Puts messages a redrive policy took out of `source` into their dead-letter queue's
    /// memory (the store already has them there).
    pub fn deliver_to_dead_letter_queue(&self, dlq: &Queue, moved: Vec<Moved>) {
        if moved.is_empty() {
            return;
        }
        let now = self.now_ms();
        {
            let mut state = dlq.lock();
            for m in moved {
                state.insert_moved(m, now);
            }
        }
        dlq.notify.notify_waiters();
    }

    /// What the messages of `deliveries` say, in their order: kept with them in memory mode;
    /// read from the store (through its cache) by a durable emulator. On a miss the messages
    /// `queue` will deliver next are read ahead in the same pass.
    pub async fn read_contents(&self, queue: &Queue, deliveries: &[Delivery]) -> Vec<Fetched> {
        let Some(reader) = &self.contents else {
            return deliveries
                .iter()
                .map(|d| d.content.clone().map_or(Fetched::Gone, Fetched::Found))
                .collect();
        };
        let cached: Vec<Option<Arc<Content>>> =
            deliveries.iter().map(|d| reader.cached(d.seq)).collect();
        let last = deliveries.iter().map(|d| d.seq).max().unwrap_or(0);
        if cached.iter().all(Option::is_some) {
            // Keep ahead of the deliveries: the next read-ahead runs in the background once
            // they are half way through the last one.
            if let Some(from) = reader.wants_read_ahead(queue.id, last) {
                let ahead = queue.lock().upcoming(from.max(last), READ_AHEAD);
                let (reader, queue_id) = (reader.clone(), queue.id);
                tokio::task::spawn_blocking(move || reader.read_ahead(queue_id, &ahead));
            }
            return cached.into_iter().flatten().map(Fetched::Found).collect();
        }
        let wanted: Vec<u64> = deliveries.iter().map(|d| d.seq).collect();
        let ahead = queue.lock().upcoming(last, READ_AHEAD);
        let (reader, queue_id) = (reader.clone(), queue.id);
        tokio::task::spawn_blocking(move || reader.fetch(queue_id, &wanted, &ahead))
            .await
            .unwrap_or_else(|e| {
                vec![Fetched::Unreadable(format!("the read failed: {e}")); deliveries.len()]
            })
    }

    /// The contents of messages the console browses (not kept in the cache).
    pub async fn browse_contents(&self, deliveries: &[Delivery]) -> Vec<Fetched> {
        let Some(reader) = &self.contents else {
            return deliveries
                .iter()
                .map(|d| d.content.clone().map_or(Fetched::Gone, Fetched::Found))
                .collect();
        };
        let wanted: Vec<u64> = deliveries.iter().map(|d| d.seq).collect();
        let reader = reader.clone();
        tokio::task::spawn_blocking(move || reader.browse(&wanted))
            .await
            .unwrap_or_else(|e| {
                vec![Fetched::Unreadable(format!("the read failed: {e}")); deliveries.len()]
            })
    }

    /// A message just sent to a durable queue: kept for its delivery.
    pub fn remember(&self, seq: u64, content: Arc<Content>) {
        if let Some(reader) = &self.contents {
            reader.remember(seq, content);
        }
    }

    /// A deleted message's content is not needed again.
    pub fn forget(&self, seq: u64) {
        if let Some(reader) = &self.contents {
            reader.forget(seq);
        }
    }
}

/// The region named by an endpoint host of the form `sqs.<region>.…` (SQS's own endpoints,
/// and any local name set up like them).
pub fn region_of_host(host: &str) -> Option<&str> {
    let region = host.strip_prefix("sqs.")?.split('.').next()?;
    is_region_name(region).then_some(region)
}

/// A plausible region name: what may go into ARNs and replies.
pub fn is_region_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The store op that persists a queue's attributes and tags after a change (made under its
/// lock, in `Queue::commit`, so the store sees changes in order).
pub fn persist(queue: &Queue, state: &QueueState) -> StoreOp {
    StoreOp::PutQueue(records::queue_record(queue_parts(queue, state)))
}

/// The persisted form of a queue. Takes the queue's lock: do not call with it held.
fn queue_record(queue: &Queue) -> QueueRecord {
    let state = queue.lock();
    records::queue_record(queue_parts(queue, &state))
}

fn queue_parts<'a>(queue: &'a Queue, state: &'a QueueState) -> records::QueueParts<'a> {
    records::QueueParts {
        id: queue.id,
        region: &queue.region,
        account: &queue.account,
        name: &queue.name,
        attributes: &state.attrs,
        tags: &state.tags,
        created_s: state.created_s,
        modified_s: state.modified_s,
    }
}
