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
pub mod log;
pub mod message;
pub mod receipt;

#[cfg(test)]
mod fifo_model;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::error::{ErrorCode, SqsError, SqsResult};
use crate::store::{DedupRecord, IndexRecord, MessageRecord, Store, StoreOp};
use attributes::QueueAttributes;
use log::MessageLog;
use message::{Content, Message, MessageExtras, State};

use receipt::ReceiptHandle;

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

struct DedupEntry {
    id: u128,
    seq: u64,
    expires_ms: u64,
}

struct Attempt {
    expires_ms: u64,
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
    dedup: HashMap<String, DedupEntry>,
    dedup_order: VecDeque<(u64, String)>,
    attempts: HashMap<String, Attempt>,
    attempt_order: VecDeque<(u64, String)>,
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
            dedup: HashMap::new(),
            dedup_order: VecDeque::new(),
            attempts: HashMap::new(),
            attempt_order: VecDeque::new(),
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

    /// Makes messages whose send has committed receivable (now, or when their delay ends).
    pub fn publish(&mut self, seqs: &[u64], now_ms: u64) {
        for seq in seqs {
            let (Some(at), Some(message)) =
                (self.unpublished.remove(seq), self.messages.get_mut(*seq))
            else {
                continue;
            };
            message.visible_at_ms = at;
            if at <= now_ms {
                self.make_ready(*seq);
            } else {
                self.timers.push(Reverse((at, *seq, message.timer_gen)));
            }
        }
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

    /// The earliest moment a delayed or in-flight message may become visible, or a message
    /// may reach the end of its retention (which can unlock a FIFO group): when a parked
    /// receive must look again.
    pub fn next_wake_ms(&self) -> Option<u64> {
        let timer = self.timers.peek().map(|Reverse((at, _, _))| *at);
        let retention_ms = u64::from(self.attrs.message_retention_period) * 1000;
        let expiry = self
            .messages
            .first()
            .map(|(_, m)| m.sent_ms + retention_ms);
        match (timer, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Applies everything that is due at `now_ms`: delays and visibility timeouts that ended,
    /// retention expiry, and the end of deduplication windows. Returns true if any message
    /// became visible.
    pub fn tick(&mut self, now_ms: u64, ops: &mut Vec<StoreOp>) -> bool {
        let mut woke = false;
        while let Some(&Reverse((at, seq, gen_))) = self.timers.peek() {
            if at > now_ms {
                break;
            }
            self.timers.pop();
            let due = self
                .messages
                .get(seq)
                .is_some_and(|m| m.timer_gen == gen_ && m.state != State::Ready);
            if due {
                self.make_ready(seq);
                woke = true;
            }
        }
        // Retention: messages expire in send order, from the front of the log.
        let retention_ms = u64::from(self.attrs.message_retention_period) * 1000;
        while let Some((seq, message)) = self.messages.first() {
            if message.sent_ms + retention_ms > now_ms {
                break;
            }
            self.remove(seq);
            ops.push(StoreOp::DeleteMessage {
                queue_id: self.queue_id,
                seq,
            });
        }
        while let Some((expires, _)) = self.dedup_order.front() {
            if *expires > now_ms {
                break;
            }
            let (expires, key) = self.dedup_order.pop_front().expect("peeked");
            if self
                .dedup
                .get(&key)
                .is_some_and(|e| e.expires_ms == expires)
            {
                self.dedup.remove(&key);
            }
        }
        while let Some((expires, _)) = self.attempt_order.front() {
            if *expires > now_ms {
                break;
            }
            let (expires, key) = self.attempt_order.pop_front().expect("peeked");
            if self
                .attempts
                .get(&key)
                .is_some_and(|a| a.expires_ms == expires)
            {
                self.attempts.remove(&key);
            }
        }
        woke
    }

    /// Enqueues a message; for FIFO queues a duplicate within the window is not enqueued.
    pub fn send(
        &mut self,
        new: NewMessage,
        next_seq: &AtomicU64,
        now_ms: u64,
        ops: &mut Vec<StoreOp>,
    ) -> SendOutcome {
        let in_window = new
            .dedup_key
            .as_ref()
            .and_then(|k| self.dedup.get(k))
            .filter(|entry| entry.expires_ms > now_ms);
        if let Some(entry) = in_window {
            return SendOutcome::Duplicate {
                id: entry.id,
                seq: entry.seq,
            };
        }
        let seq = next_seq.fetch_add(1, Ordering::Relaxed);
        if let Some(key) = new.dedup_key {
            let expires_ms = now_ms + DEDUP_WINDOW_MS;
            ops.push(StoreOp::PutDedup(Box::new(DedupRecord {
                queue_id: self.queue_id,
                key: key.clone(),
                message_id: new.id,
                seq,
                expires_ms,
            })));
            self.dedup_order.push_back((expires_ms, key.clone()));
            self.dedup.insert(
                key,
                DedupEntry {
                    id: new.id,
                    seq,
                    expires_ms,
                },
            );
        }
        let visible_at_ms = now_ms + u64::from(new.delay_s) * 1000;
        let content = Content {
            id: new.id,
            body: new.body,
            md5_of_body: new.md5_of_body,
            extras: new.extras,
        };
        let mut message = Message {
            salt: receipt::salt_of(new.id),
            group: new.group,
            sent_ms: now_ms,
            first_receive_ms: 0,
            visible_at_ms,
            receive_count: 0,
            timer_gen: 0,
            state: State::Delayed,
            dead_letter_source: 0,
        };
        let content = Arc::new(content);
        ops.push(StoreOp::PutMessage(Box::new(MessageRecord::new(
            self.queue_id,
            seq,
            &message,
            None,
            content.clone(),
        ))));
        if !self.contents_on_disk {
            self.contents.insert(seq, content.clone());
        }
        if self.publish_after_commit {
            self.unpublished.insert(seq, message.visible_at_ms);
            message.visible_at_ms = UNPUBLISHED;
        }
        self.insert(seq, message, now_ms);
        self.totals.sent += 1;
        SendOutcome::Enqueued { seq, content }
    }

    /// Puts a message taken from another queue here (its store op is already written).
    pub fn insert_moved(&mut self, moved: Moved, now_ms: u64) {
        let Moved {
            seq,
            mut message,
            content,
            dead_letter_source,
        } = moved;
        message.dead_letter_source = self.source_index(dead_letter_source.as_deref());
        if let (Some(content), false) = (content, self.contents_on_disk) {
            self.contents.insert(seq, content);
        }
        self.insert(seq, message, now_ms);
    }

    /// Puts a message (new, recovered or moved here) into the structures for its state. Its
    /// `dead_letter_source` must already be an index of this queue's.
    pub fn insert(&mut self, seq: u64, mut message: Message, now_ms: u64) {
        let in_flight = message.receive_count > 0 && message.visible_at_ms > now_ms;
        let delayed = message.receive_count == 0 && message.visible_at_ms > now_ms;
        if self.fifo {
            let group = message.group.clone().unwrap_or_else(|| Arc::from(""));
            let entry = self.groups.entry(group).or_insert_with(|| Group {
                seqs: VecDeque::new(),
                listed: false,
            });
            entry.seqs.push_back(seq);
        }
        message.state = State::Delayed;
        if in_flight || delayed {
            message.state = if in_flight {
                self.n_inflight += 1;
                State::InFlight
            } else {
                self.n_delayed += 1;
                State::Delayed
            };
            if message.visible_at_ms != UNPUBLISHED {
                self.timers
                    .push(Reverse((message.visible_at_ms, seq, message.timer_gen)));
            }
            self.messages.insert(seq, message);
        } else {
            // Counted as delayed for the moment so make_ready's bookkeeping is uniform.
            self.n_delayed += 1;
            self.messages.insert(seq, message);
            self.make_ready(seq);
        }
    }

    /// Restores a FIFO deduplication entry read back from the store.
    pub fn restore_dedup(&mut self, key: String, id: u128, seq: u64, expires_ms: u64) {
        self.dedup_order.push_back((expires_ms, key.clone()));
        self.dedup.insert(
            key,
            DedupEntry {
                id,
                seq,
                expires_ms,
            },
        );
    }

    /// Sorts restored dedup entries by expiry (they are read back unordered).
    pub fn finish_restore(&mut self) {
        self.dedup_order.make_contiguous().sort();
    }

    fn make_ready(&mut self, seq: u64) {
        let Some(message) = self.messages.get_mut(seq) else {
            return;
        };
        match message.state {
            State::Ready => return,
            State::Delayed => self.n_delayed -= 1,
            State::InFlight => self.n_inflight -= 1,
        }
        message.state = State::Ready;
        message.timer_gen = message.timer_gen.wrapping_add(1);
        self.n_ready += 1;
        if self.fifo {
            let group_name = message.group.clone().unwrap_or_else(|| Arc::from(""));
            self.list_group_if_ready(&group_name);
        } else {
            self.ready.push(Reverse(seq));
        }
    }

    /// Puts a FIFO group on the ready list if its head is visible. Only the head matters:
    /// when an in-flight head becomes visible again while later messages of its group are
    /// still in flight, SQS delivers the head again (order is kept: nothing behind the head
    /// is delivered before it).
    fn list_group_if_ready(&mut self, name: &Arc<str>) {
        let Some(group) = self.groups.get_mut(name) else {
            return;
        };
        if group.listed {
            return;
        }
        let head_ready = group
            .seqs
            .front()
            .and_then(|seq| self.messages.get(*seq))
            .is_some_and(|m| m.state == State::Ready);
        if head_ready {
            group.listed = true;
            self.ready_groups.push_back(name.clone());
        }
    }

    /// Removes a message entirely (delete, expiry, move to another queue).
    fn remove(&mut self, seq: u64) -> Option<Message> {
        let message = self.messages.remove(seq)?;
        self.unpublished.remove(&seq);
        self.contents.remove(&seq);
        match message.state {
            State::Ready => self.n_ready -= 1,
            State::InFlight => self.n_inflight -= 1,
            State::Delayed => self.n_delayed -= 1,
        }
        if self.fifo {
            let group_name = message.group.clone().unwrap_or_else(|| Arc::from(""));
            if let Some(group) = self.groups.get_mut(&group_name) {
                if let Some(pos) = group.seqs.iter().position(|s| *s == seq) {
                    group.seqs.remove(pos);
                }
                if group.seqs.is_empty() {
                    self.groups.remove(&group_name);
                } else {
                    self.list_group_if_ready(&group_name);
                }
            }
        }
        Some(message)
    }

    /// Receives up to `opts.max` visible messages, making them in flight. Messages whose
    /// receive count already reached the redrive policy's maximum are removed and returned in
    /// `moved` for the caller to put on the dead-letter queue.
    pub fn receive(
        &mut self,
        opts: &ReceiveOptions<'_>,
        now_ms: u64,
        ops: &mut Vec<StoreOp>,
        moved: &mut Vec<Moved>,
    ) -> SqsResult<Vec<Delivery>> {
        self.tick(now_ms, ops);
        if let Some(attempt_id) = opts.attempt_id
            && let Some(previous) = self.replay_attempt(attempt_id)
        {
            return Ok(previous);
        }
        if !self.fifo && self.n_inflight >= STANDARD_INFLIGHT_LIMIT && self.n_ready > 0 {
            return Err(SqsError::new(
                ErrorCode::OverLimit,
                "Too many messages in flight.",
            ));
        }
        let mut out = Vec::new();
        if self.fifo {
            self.receive_fifo(opts, now_ms, ops, moved, &mut out);
        } else {
            self.receive_standard(opts, now_ms, ops, moved, &mut out);
        }
        if let Some(attempt_id) = opts.attempt_id {
            let expires_ms = now_ms + DEDUP_WINDOW_MS;
            self.attempt_order
                .push_back((expires_ms, attempt_id.to_string()));
            self.attempts.insert(
                attempt_id.to_string(),
                Attempt {
                    expires_ms,
                    deliveries: out
                        .iter()
                        .map(|d| (d.seq, d.message.receive_count))
                        .collect(),
                },
            );
        }
        Ok(out)
    }

    /// A retried FIFO receive with the same attempt id gets the same messages and handles,
    /// as long as they are all still in flight from that receive.
    fn replay_attempt(&self, attempt_id: &str) -> Option<Vec<Delivery>> {
        let attempt = self.attempts.get(attempt_id)?;
        let mut out = Vec::with_capacity(attempt.deliveries.len());
        for (seq, count) in &attempt.deliveries {
            let message = self.messages.get(*seq)?;
            if message.receive_count != *count || message.state != State::InFlight {
                return None;
            }
            out.push(self.copy_out(*seq, message));
        }
        (!out.is_empty()).then_some(out)
    }

    fn receive_standard(
        &mut self,
        opts: &ReceiveOptions<'_>,
        now_ms: u64,
        ops: &mut Vec<StoreOp>,
        moved: &mut Vec<Moved>,
        out: &mut Vec<Delivery>,
    ) {
        while out.len() < opts.max {
            let Some(seq) = self.pop_ready() else {
                break;
            };
            if self.exceeds_receives(seq, opts) {
                self.move_out(seq, opts, moved, ops);
                continue;
            }
            out.push(self.deliver(seq, opts.visibility_s, now_ms, ops));
        }
    }

    /// The next visible message of a standard queue, skipping stale ready entries.
    fn pop_ready(&mut self) -> Option<u64> {
        while let Some(Reverse(seq)) = self.ready.pop() {
            let current = self
                .messages
                .get(seq)
                .is_some_and(|m| m.state == State::Ready);
            if current {
                return Some(seq);
            }
        }
        None
    }

    fn receive_fifo(
        &mut self,
        opts: &ReceiveOptions<'_>,
        now_ms: u64,
        ops: &mut Vec<StoreOp>,
        moved: &mut Vec<Moved>,
        out: &mut Vec<Delivery>,
    ) {
        while out.len() < opts.max && self.n_inflight < FIFO_INFLIGHT_LIMIT {
            let Some(name) = self.ready_groups.pop_front() else {
                break;
            };
            match self.groups.get_mut(&name) {
                Some(group) => group.listed = false,
                None => continue,
            }
            // From the head on, take visible messages in order; stop at the first that is
            // not (in flight or delayed): nothing behind it may be delivered first.
            let mut next = 0;
            loop {
                if out.len() >= opts.max || self.n_inflight >= FIFO_INFLIGHT_LIMIT {
                    break;
                }
                let Some(&seq) = self.groups.get(&name).and_then(|g| g.seqs.get(next)) else {
                    break;
                };
                if self.messages.get(seq).map(|m| m.state) != Some(State::Ready) {
                    break;
                }
                if self.exceeds_receives(seq, opts) {
                    self.move_out(seq, opts, moved, ops);
                    continue;
                }
                out.push(self.deliver(seq, opts.visibility_s, now_ms, ops));
                next += 1;
            }
            self.list_group_if_ready(&name);
        }
    }

    fn exceeds_receives(&self, seq: u64, opts: &ReceiveOptions<'_>) -> bool {
        match (&opts.redrive, self.messages.get(seq)) {
            (Some(redrive), Some(m)) => m.receive_count >= redrive.max_receive_count,
            _ => false,
        }
    }

    /// Takes a message out for the dead-letter queue. The store op that re-homes it (and
    /// records its source) is written here, in the same commit as this receive, so a crash
    /// cannot lose it between the two queues; the caller then puts it into the DLQ's memory.
    fn move_out(
        &mut self,
        seq: u64,
        opts: &ReceiveOptions<'_>,
        moved: &mut Vec<Moved>,
        ops: &mut Vec<StoreOp>,
    ) {
        let Some(redrive) = &opts.redrive else {
            return;
        };
        if let Some(mut out) = self.take(seq) {
            out.dead_letter_source = Some(Arc::from(redrive.source_arn));
            ops.push(StoreOp::MoveMessage {
                from: self.queue_id,
                to: Box::new(IndexRecord::moved(redrive.dead_letter_queue_id, &out)),
            });
            moved.push(out);
        }
    }

    /// Removes a message to move it to another queue.
    fn take(&mut self, seq: u64) -> Option<Moved> {
        let content = self.contents.get(&seq).cloned();
        let message = self.remove(seq)?;
        let dead_letter_source = self.source_arn(message.dead_letter_source);
        Some(Moved {
            seq,
            message,
            content,
            dead_letter_source,
        })
    }

    fn deliver(
        &mut self,
        seq: u64,
        visibility_s: u32,
        now_ms: u64,
        ops: &mut Vec<StoreOp>,
    ) -> Delivery {
        let message = self
            .messages
            .get_mut(seq)
            .expect("delivering a present message");
        message.receive_count += 1;
        if message.first_receive_ms == 0 {
            message.first_receive_ms = now_ms;
        }
        message.state = State::InFlight;
        message.timer_gen = message.timer_gen.wrapping_add(1);
        message.visible_at_ms = now_ms + u64::from(visibility_s) * 1000;
        self.timers
            .push(Reverse((message.visible_at_ms, seq, message.timer_gen)));
        ops.push(StoreOp::UpdateMessage {
            queue_id: self.queue_id,
            seq,
            visible_at_ms: message.visible_at_ms,
            receive_count: message.receive_count,
            first_receive_ms: message.first_receive_ms,
        });
        let message = message.clone();
        let delivery = self.copy_out(seq, &message);
        self.n_ready -= 1;
        self.n_inflight += 1;
        self.totals.received += 1;
        delivery
    }

    /// Deletes the message a receipt handle names. On a standard queue any handle the
    /// message was received with deletes it; on a FIFO queue only the current one, while its
    /// visibility timeout lasts (SQS: "The receipt handle has expired").
    pub fn delete(
        &mut self,
        handle: &ReceiptHandle,
        raw_handle: &str,
        now_ms: u64,
        ops: &mut Vec<StoreOp>,
    ) -> SqsResult<()> {
        let Some(message) = self
            .messages
            .get(handle.seq)
            .filter(|m| m.salt == handle.salt)
        else {
            return Ok(()); // already gone: deletes are idempotent
        };
        if self.fifo && !is_current_flight(message, handle, now_ms) {
            return Err(ReceiptHandle::expired(raw_handle));
        }
        self.remove(handle.seq);
        self.totals.deleted += 1;
        ops.push(StoreOp::DeleteMessage {
            queue_id: self.queue_id,
            seq: handle.seq,
        });
        Ok(())
    }

    /// Changes the visibility timeout of a received message.
    ///
    /// On a standard queue SQS accepts any handle the message was received with while the
    /// message exists: an in-flight message gets the new timeout (0 makes it visible now), and
    /// one whose timeout already passed becomes invisible again for the new timeout. On a FIFO
    /// queue only the current handle works, while the message is in flight.
    pub fn change_visibility(
        &mut self,
        handle: &ReceiptHandle,
        raw_handle: &str,
        visibility_s: u32,
        now_ms: u64,
        ops: &mut Vec<StoreOp>,
    ) -> SqsResult<()> {
        self.tick(now_ms, ops);
        let Some(message) = self
            .messages
            .get_mut(handle.seq)
            .filter(|m| m.salt == handle.salt && m.state != State::Delayed)
        else {
            return Err(SqsError::invalid_value(
                raw_handle,
                "ReceiptHandle",
                "Message does not exist or is not available for visibility timeout change.",
            ));
        };
        if self.fifo && !is_current_flight(message, handle, now_ms) {
            return Err(ReceiptHandle::expired(raw_handle));
        }
        if message.state == State::Ready {
            if visibility_s > 0 {
                self.hide(handle.seq, now_ms + u64::from(visibility_s) * 1000, ops);
            }
            return Ok(());
        }
        message.visible_at_ms = now_ms + u64::from(visibility_s) * 1000;
        ops.push(StoreOp::UpdateMessage {
            queue_id: self.queue_id,
            seq: handle.seq,
            visible_at_ms: message.visible_at_ms,
            receive_count: message.receive_count,
            first_receive_ms: message.first_receive_ms,
        });
        if visibility_s == 0 {
            self.make_ready(handle.seq);
        } else {
            message.timer_gen = message.timer_gen.wrapping_add(1);
            self.timers.push(Reverse((
                message.visible_at_ms,
                handle.seq,
                message.timer_gen,
            )));
        }
        Ok(())
    }

    /// Makes a visible message of a standard queue invisible until `until_ms` (a visibility
    /// change through a handle whose timeout had already passed).
    fn hide(&mut self, seq: u64, until_ms: u64, ops: &mut Vec<StoreOp>) {
        let Some(message) = self.messages.get_mut(seq) else {
            return;
        };
        message.state = State::InFlight;
        message.timer_gen = message.timer_gen.wrapping_add(1); // its ready-list entry is stale
        message.visible_at_ms = until_ms;
        self.timers
            .push(Reverse((until_ms, seq, message.timer_gen)));
        ops.push(StoreOp::UpdateMessage {
            queue_id: self.queue_id,
            seq,
            visible_at_ms: until_ms,
            receive_count: message.receive_count,
            first_receive_ms: message.first_receive_ms,
        });
        self.n_ready -= 1;
        self.n_inflight += 1;
    }

    /// Takes up to `max` visible messages out of the queue for a message move task, in
    /// delivery order. The caller writes each one's new home into `ops` under this lock.
    pub fn take_for_move(&mut self, max: usize, now_ms: u64, ops: &mut Vec<StoreOp>) -> Vec<Moved> {
        self.tick(now_ms, ops);
        let mut taken = Vec::new();
        while taken.len() < max {
            let seq = if self.fifo {
                let Some(name) = self.ready_groups.front().cloned() else {
                    break;
                };
                let head = self
                    .groups
                    .get(&name)
                    .and_then(|g| g.seqs.front().copied())
                    .filter(|seq| {
                        self.messages
                            .get(*seq)
                            .is_some_and(|m| m.state == State::Ready)
                    });
                match head {
                    Some(seq) => seq,
                    None => {
                        self.ready_groups.pop_front();
                        if let Some(g) = self.groups.get_mut(&name) {
                            g.listed = false;
                        }
                        continue;
                    }
                }
            } else {
                let Some(seq) = self.pop_ready() else {
                    break;
                };
                seq
            };
            taken.extend(self.take(seq));
        }
        taken
    }

    /// Deletes every message (PurgeQueue), and on a FIFO queue its deduplication window: SQS
    /// delivers a message sent after a purge even with a deduplication id used before it.
    pub fn purge(&mut self, ops: &mut Vec<StoreOp>) {
        self.dedup.clear();
        self.dedup_order.clear();
        self.unpublished.clear();
        self.contents.clear();
        self.messages.clear();
        self.ready.clear();
        self.timers.clear();
        self.groups.clear();
        self.ready_groups.clear();
        self.attempts.clear();
        self.attempt_order.clear();
        self.n_ready = 0;
        self.n_inflight = 0;
        self.n_delayed = 0;
        ops.push(StoreOp::Purge(self.queue_id));
    }
}

/// Whether `handle` is the one the message's current receive issued, and that receive's
/// visibility timeout has not passed.
fn is_current_flight(message: &Message, handle: &ReceiptHandle, now_ms: u64) -> bool {
    message.receive_count == handle.receive_count
        && message.state == State::InFlight
        && message.visible_at_ms > now_ms
}

