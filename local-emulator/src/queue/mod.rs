//! The queue engine: one [`Queue`] per SQS queue, all hot state in memory behind one mutex.
//!
//! Invariants that keep every operation independent of queue depth:
//! - `messages` owns each message's index entry once, in sequence (= send) order
//!   ([`log::MessageLog`]): retention expires from its front, browsing walks it.
//! - A standard queue's visible messages are in `ready`, oldest first; a FIFO queue's are
//!   reached through `ready_groups`, whose groups each hold their messages in send order in
//!   `groups`. A `ready` entry whose message is no longer visible is skipped.
//! - Delayed and in-flight messages have an entry in `timers`; entries carry the message's
//!   `timer_gen` and are skipped when it no longer matches, so nothing is ever searched for and
//!   removed from the middle of a heap.
//! - Counters for the Approximate* attributes are kept as messages change state.
//! - A message's content (id, body, attributes) is kept in `contents` only in memory mode; a
//!   durable queue leaves it on disk and the caller reads it for what it delivers.
//! - The queues a message was dead-lettered from are ARNs in `dead_letter_sources`, which
//!   entries name by index (most messages have none; a dead-letter queue has few sources).
//!
//! Every mutation also pushes the [`StoreOp`]s that make it durable; the caller hands them to
//! the store before releasing the lock.

pub mod attributes;
mod bulk;
mod expiring;
mod handles;
mod lifecycle;
pub mod log;
pub mod message;
pub mod receipt;
mod receive;
mod send;

#[cfg(test)]
mod fifo_model;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::error::SqsResult;
use crate::store::{Store, StoreOp};
use attributes::QueueAttributes;
use expiring::ExpiringKeys;
use log::MessageLog;
use message::{Content, Message, MessageExtras, State};

/// SQS's in-flight limits.
pub const STANDARD_INFLIGHT_LIMIT: u64 = 120_000;
pub const FIFO_INFLIGHT_LIMIT: u64 = 20_000;
/// FIFO deduplication and ReceiveRequestAttemptId windows.
pub const DEDUP_WINDOW_MS: u64 = 5 * 60 * 1000;

pub struct Queue {
    pub id: u64,
    pub region: String,
    pub account: String,
    pub name: String,
    pub arn: String,
    pub fifo: bool,
    state: Mutex<QueueState>,
    /// Woken whenever a message may have become receivable.
    pub notify: Notify,
    /// Receives currently parked in a long poll (observable for tests and status).
    pub waiting: std::sync::atomic::AtomicUsize,
}

impl Queue {
    pub fn new(
        id: u64,
        region: String,
        account: String,
        name: String,
        attrs: QueueAttributes,
        tags: BTreeMap<String, String>,
        created_s: u64,
    ) -> Self {
        let arn = format!("arn:aws:sqs:{region}:{account}:{name}");
        let fifo = attrs.fifo_queue;
        Self {
            id,
            region,
            account,
            name,
            arn,
            fifo,
            state: Mutex::new(QueueState::new(id, fifo, attrs, tags, created_s)),
            notify: Notify::new(),
            waiting: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, QueueState> {
        // A panic while holding the lock leaves consistent-enough state for an emulator;
        // keep serving rather than poisoning every later request.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The one way actions change a queue: lock it, apply `change` (which records the store
    /// ops that make it durable), hand the ops to the store before the lock is released (so
    /// the store sees changes in the engine's order), await the commit, and only then wake
    /// parked receives (`wake`). A failed commit answers 500 and fails the store: every later
    /// write is refused until a restart rebuilds memory from the disk, so nothing the disk
    /// lacks is acknowledged or handed to a receiver.
    pub async fn commit<T>(
        &self,
        store: &Store,
        wake: Wake,
        change: impl FnOnce(&mut QueueState, &mut Vec<StoreOp>) -> SqsResult<T>,
    ) -> SqsResult<T> {
        let (value, commit) = self.submit(store, change)?;
        commit.await?;
        if wake == Wake::Receivers {
            self.notify.notify_waiters();
        }
        Ok(value)
    }

    /// [`Queue::commit`] without waiting: the change is handed to the store in order and
    /// the caller decides whether to await it (receives do not; see docs/storage.md).
    pub fn submit<T>(
        &self,
        store: &Store,
        change: impl FnOnce(&mut QueueState, &mut Vec<StoreOp>) -> SqsResult<T>,
    ) -> SqsResult<(T, crate::store::Commit)> {
        let mut state = self.lock();
        let mut ops = Vec::new();
        let value = change(&mut state, &mut ops)?;
        Ok((value, store.submit(ops)))
    }
}

/// `visible_at_ms` of a message sent to a durable queue whose send is not committed yet: no
/// receive can see it until [`QueueState::publish`].
const UNPUBLISHED: u64 = u64::MAX;

/// Whether a change can make a message receivable, so parked receives must look again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    Nobody,
    Receivers,
}

/// A message about to be enqueued.
pub struct NewMessage {
    pub id: u128,
    pub body: Box<str>,
    pub md5_of_body: [u8; 16],
    pub extras: Option<Box<MessageExtras>>,
    pub group: Option<Arc<str>>,
    pub delay_s: u32,
    /// FIFO only: the deduplication key, under the scope the queue was created with.
    pub dedup_key: Option<String>,
}

pub enum SendOutcome {
    /// Enqueued: its content is what a durable queue's readers may keep in their cache.
    Enqueued {
        seq: u64,
        content: Arc<Content>,
    },
    /// A FIFO duplicate within the window: answered with the original message's id.
    Duplicate {
        id: u128,
        seq: u64,
    },
}

/// A message handed out by a receive or browsed: its index entry, copied under the lock,
/// with its content in memory mode (a durable queue's is read from the store by the caller)
/// and the ARN of the queue it was dead-lettered from.
pub struct Delivery {
    pub seq: u64,
    pub message: Message,
    pub content: Option<Arc<Content>>,
    pub dead_letter_source: Option<Arc<str>>,
}

/// A message taken out of its queue for another (a redrive, a move task): what the
/// destination's [`QueueState::insert_moved`] needs.
pub struct Moved {
    pub seq: u64,
    pub message: Message,
    pub content: Option<Arc<Content>>,
    pub dead_letter_source: Option<Arc<str>>,
}

pub struct ReceiveOptions<'a> {
    pub max: usize,
    pub visibility_s: u32,
    pub redrive: Option<Redrive<'a>>,
    pub attempt_id: Option<&'a str>,
}

/// Where messages go once their receive count reaches the maximum.
pub struct Redrive<'a> {
    pub max_receive_count: u32,
    pub dead_letter_queue_id: u64,
    pub source_arn: &'a str,
}

/// A FIFO message group: its messages in send order. It is deliverable while its first
/// message is visible; a group whose first message is in flight (or delayed) is locked.
struct Group {
    seqs: VecDeque<u64>,
    listed: bool,
}

/// The message a FIFO deduplication id was first sent as, while its window lasts.
struct DedupEntry {
    id: u128,
    seq: u64,
}

/// What a FIFO receive attempt delivered (each message with the receive count it got), to
/// replay while its window lasts.
struct Attempt {
    deliveries: Vec<(u64, u32)>,
}

pub struct QueueState {
    queue_id: u64,
    fifo: bool,
    pub attrs: QueueAttributes,
    pub tags: BTreeMap<String, String>,
    pub created_s: u64,
    pub modified_s: u64,
    pub last_purge_ms: Option<u64>,
    messages: MessageLog<Message>,
    /// Visible messages of a standard queue by sequence number, oldest first: a message whose
    /// visibility timeout ended keeps its place before later sends (SQS is best-effort
    /// ordered and returns the older message first). An entry whose message is no longer
    /// visible is skipped.
    ready: BinaryHeap<Reverse<u64>>,
    timers: BinaryHeap<Reverse<(u64, u64, u32)>>,
    groups: HashMap<Arc<str>, Group>,
    ready_groups: VecDeque<Arc<str>>,
    dedup: ExpiringKeys<DedupEntry>,
    attempts: ExpiringKeys<Attempt>,
    /// On a durable queue, new messages wait here (seq → when they become visible) until
    /// their send is committed: a receive never hands out what the disk may not have.
    publish_after_commit: bool,
    unpublished: HashMap<u64, u64>,
    /// Contents live on disk (a durable queue): `contents` stays empty.
    contents_on_disk: bool,
    /// Memory mode: what each message says, by sequence number.
    contents: HashMap<u64, Arc<Content>>,
    /// ARNs of the queues messages here were dead-lettered from; `Message::dead_letter_source`
    /// n > 0 names entry n - 1. Only grows (by the number of distinct sources).
    dead_letter_sources: Vec<Arc<str>>,
    n_ready: u64,
    n_inflight: u64,
    n_delayed: u64,
    /// Messages sent, received and deleted since the emulator started (for `/metrics`).
    pub totals: Totals,
}

/// Counters since start (not persisted: Prometheus counters restart with the process).
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    pub sent: u64,
    pub received: u64,
    pub deleted: u64,
}

impl QueueState {
    fn new(
        queue_id: u64,
        fifo: bool,
        attrs: QueueAttributes,
        tags: BTreeMap<String, String>,
        created_s: u64,
    ) -> Self {
        Self {
            queue_id,
            fifo,
            attrs,
            tags,
            created_s,
            modified_s: created_s,
            last_purge_ms: None,
            messages: MessageLog::default(),
            ready: BinaryHeap::new(),
            timers: BinaryHeap::new(),
            groups: HashMap::new(),
            ready_groups: VecDeque::new(),
            dedup: ExpiringKeys::default(),
            attempts: ExpiringKeys::default(),
            publish_after_commit: false,
            unpublished: HashMap::new(),
            contents_on_disk: false,
            contents: HashMap::new(),
            dead_letter_sources: Vec::new(),
            n_ready: 0,
            n_inflight: 0,
            n_delayed: 0,
            totals: Totals::default(),
        }
    }

    /// A durable store's queue: sends wait for [`QueueState::publish`], and contents stay on
    /// disk.
    pub fn set_publish_after_commit(&mut self, on: bool) {
        self.publish_after_commit = on;
        self.contents_on_disk = on;
    }

    /// Whether this queue's contents are read from the store.
    pub fn contents_on_disk(&self) -> bool {
        self.contents_on_disk
    }

    /// (visible, in flight, delayed)
    pub fn counts(&self) -> (u64, u64, u64) {
        (self.n_ready, self.n_inflight, self.n_delayed)
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// When the oldest message still in the queue was sent.
    pub fn oldest_sent_ms(&mut self) -> Option<u64> {
        self.messages.first().map(|(_, m)| m.sent_ms)
    }

    /// Up to `limit` messages in send order, their entries copied, without changing anything:
    /// no receive count, no visibility (what the console browses). Messages whose send is not
    /// committed yet are left out. Walks only the messages it returns (and any unpublished
    /// ones among them).
    pub fn peek(&self, limit: usize) -> Vec<Delivery> {
        self.messages
            .iter()
            .filter(|(_, m)| m.visible_at_ms != UNPUBLISHED)
            .take(limit)
            .map(|(seq, message)| self.copy_out(seq, message))
            .collect()
    }

    /// A message's entry, content (memory mode) and dead-letter source, copied.
    fn copy_out(&self, seq: u64, message: &Message) -> Delivery {
        Delivery {
            seq,
            message: message.clone(),
            content: self.contents.get(&seq).cloned(),
            dead_letter_source: self.source_arn(message.dead_letter_source),
        }
    }

    fn source_arn(&self, index: u16) -> Option<Arc<str>> {
        index
            .checked_sub(1)
            .and_then(|i| self.dead_letter_sources.get(usize::from(i)))
            .cloned()
    }

    /// The index entries use for dead-letter source `arn` (0 for none). Past 65,535 distinct
    /// sources (never in practice: one per queue that redrives here) the ARN is not kept.
    pub fn source_index(&mut self, arn: Option<&str>) -> u16 {
        let Some(arn) = arn else { return 0 };
        if let Some(i) = self.dead_letter_sources.iter().position(|a| &**a == arn) {
            return i as u16 + 1;
        }
        if self.dead_letter_sources.len() >= usize::from(u16::MAX) {
            tracing::warn!(arn, "too many dead-letter sources for one queue: not recorded");
            return 0;
        }
        self.dead_letter_sources.push(Arc::from(arn));
        self.dead_letter_sources.len() as u16
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Up to `limit` visible messages after `after` in send order: those a standard queue
    /// delivers next (and, on a FIFO queue, some of them), which a durable queue reads ahead.
    pub fn upcoming(&self, after: u64, limit: usize) -> Vec<u64> {
        self.messages
            .iter_after(after)
            .take(limit * 4) // a bounded walk, whatever lies between
            .filter(|(_, m)| m.state == State::Ready)
            .take(limit)
            .map(|(seq, _)| seq)
            .collect()
    }
}

