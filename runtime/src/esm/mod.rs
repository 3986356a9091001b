//! The event source mapping engine: one [`Mapping`] per (function, SQS event).
//!
//! Each poller task owns one batch at a time — receive (long poll) → gather until BatchSize,
//! the batching window or the 6 MB payload cap → filter → invoke → settle — so the number of
//! pollers is the number of concurrent invocations. The [`scaler`] decides each second how
//! many there should be; pollers live in numbered slots below that target, so after any
//! scale-down the next scale-up refills the same slots.

pub mod scaler;
pub mod settle;
pub mod stats;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use lockgate_emulator::SharedClock;
use serde_json::Value;
use tokio::sync::watch;

use crate::filter;
use crate::invoke::{Current, Invoker};
pub use stats::{Failure, MappingStats};

/// Lambda's cap on an invocation payload.
const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
pub use scaler::DEFAULT_MAX_CONCURRENCY;
/// How long a poller's long poll must have waited for messages to count as idle (a receive
/// that finds messages returns in a round trip).
const IDLE_WAIT: Duration = Duration::from_millis(500);
/// Receives a poller has in flight at once while gathering a batch larger than ten.
const PARALLEL_RECEIVES: usize = 10;
/// How often the last second of a batching window looks for messages.
const WINDOW_TAIL_POLL: Duration = Duration::from_millis(50);
/// SQS's longest long poll.
const LONG_POLL_SECONDS: i32 = 20;

/// One received message, ready to go into an event.
struct Record<R> {
    item: settle::Item,
    receipt_handle: String,
    /// The record in the form the function takes.
    event: R,
}

#[derive(Debug, Clone)]
pub struct MappingConfig {
    pub function: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub region: String,
    pub fifo: bool,
    pub batch_size: u32,
    pub window: Duration,
    pub report_batch_item_failures: bool,
    pub scaling: crate::template::Scaling,
    pub filters: Vec<Value>,
}

/// What the status display, the app's report and tests read of a running mapping, whatever
/// its function's kind.
#[derive(Clone)]
pub struct MappingHandle {
    pub config: Arc<MappingConfig>,
    pub stats: Arc<MappingStats>,
}

/// Names the mapping (its stats are not printed).
impl std::fmt::Debug for MappingHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappingHandle")
            .field("function", &self.config.function)
            .field("queue", &self.config.queue_arn)
            .finish()
    }
}

pub struct Mapping<I: Invoker> {
    pub config: Arc<MappingConfig>,
    pub sqs: aws_sdk_sqs::Client,
    pub invoker: Arc<Current<I>>,
    pub stats: Arc<MappingStats>,
    /// The batching window's time: the emulator's clock when the app embeds one.
    clock: SharedClock,
    /// Pollers wanted now: slots at or above it retire after their current receive.
    target: AtomicU32,
    /// Batches that came back full, and invocations that failed as a whole, since the
    /// scaler last looked.
    full_batches: AtomicU64,
    failed_batches: AtomicU64,
    slots: Box<[Slot]>,
    /// What [`Slot::waiting_since_ms`] counts from.
    epoch: Instant,
}

/// A place for one poller: numbered, so pollers are always the slots below the target.
#[derive(Default)]
struct Slot {
    occupied: AtomicBool,
    /// When (ms after the mapping's epoch, plus one) its current long poll for a first
    /// message began; 0 while it is not waiting for one.
    waiting_since_ms: AtomicU64,
}

impl<I: Invoker> Mapping<I> {
    pub fn new(
        config: MappingConfig,
        sqs: aws_sdk_sqs::Client,
        invoker: Arc<Current<I>>,
        clock: SharedClock,
    ) -> Arc<Self> {
        let scaler = scaler::Scaler::new(config.scaling, config.report_batch_item_failures);
        let stats = Arc::new(MappingStats::default());
        stats
            .target
            .store(u64::from(scaler.target()), Ordering::Relaxed);
        stats
            .floor
            .store(u64::from(scaler.floor()), Ordering::Relaxed);
        stats
            .maximum
            .store(u64::from(scaler.max()), Ordering::Relaxed);
        Arc::new(Self {
            config: Arc::new(config),
            sqs,
            invoker,
            clock,
            stats,
            target: AtomicU32::new(scaler.target()),
            full_batches: AtomicU64::new(0),
            failed_batches: AtomicU64::new(0),
            slots: (0..scaler.max()).map(|_| Slot::default()).collect(),
            epoch: Instant::now(),
        })
    }

    pub fn handle(&self) -> MappingHandle {
        MappingHandle {
            config: self.config.clone(),
            stats: self.stats.clone(),
        }
    }

    /// Runs until `shutdown` turns true; then stops polling and lets in-flight batches finish
    /// (each bounded by the function timeout) before returning.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let mut scaler =
            scaler::Scaler::new(self.config.scaling, self.config.report_batch_item_failures);
        let mut pollers = tokio::task::JoinSet::new();
        self.fill_slots(&mut pollers, &shutdown);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sd = shutdown.clone();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = sd.changed() => {}
            }
            if *shutdown.borrow() {
                break;
            }
            let decision = scaler.tick(scaler::Observed {
                full_batches: self.full_batches.swap(0, Ordering::Relaxed),
                failed_invocations: self.failed_batches.swap(0, Ordering::Relaxed),
                idle_pollers: self.idle_pollers(),
            });
            if decision.throttled {
                self.stats.throttles.fetch_add(1, Ordering::Relaxed);
            }
            self.target.store(decision.target, Ordering::Relaxed);
            self.stats
                .target
                .store(u64::from(decision.target), Ordering::Relaxed);
            self.fill_slots(&mut pollers, &shutdown);
            while pollers.try_join_next().is_some() {}
        }
        while pollers.join_next().await.is_some() {}
    }

    /// Starts a poller in every free slot below the target.
    fn fill_slots(
        self: &Arc<Self>,
        pollers: &mut tokio::task::JoinSet<()>,
        shutdown: &watch::Receiver<bool>,
    ) {
        let target = self.target.load(Ordering::Relaxed) as usize;
        for (id, slot) in self.slots.iter().enumerate().take(target) {
            if slot.occupied.swap(true, Ordering::AcqRel) {
                continue;
            }
            let mapping = self.clone();
            let shutdown = shutdown.clone();
            pollers.spawn(async move { mapping.poll(id, shutdown).await });
        }
    }

    /// Pollers whose long poll has waited at least [`IDLE_WAIT`] for a first message.
    fn idle_pollers(&self) -> u32 {
        let now = self.epoch_ms();
        let idle_after = IDLE_WAIT.as_millis() as u64;
        self.slots
            .iter()
            .filter(|slot| {
                let since = slot.waiting_since_ms.load(Ordering::Relaxed);
                since != 0 && now + 1 >= since + idle_after
            })
            .count() as u32
    }

    fn epoch_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    async fn poll(self: Arc<Self>, slot: usize, mut shutdown: watch::Receiver<bool>) {
        self.stats.pollers.fetch_add(1, Ordering::Relaxed);
        loop {
            if *shutdown.borrow() || slot >= self.target.load(Ordering::Relaxed) as usize {
                break;
            }
            let batch = tokio::select! {
                b = self.gather(slot) => b,
                _ = shutdown.changed() => break,
            };
            self.slots[slot]
                .waiting_since_ms
                .store(0, Ordering::Relaxed);
            match batch {
                Ok(batch) if batch.is_empty() => continue,
                Ok(batch) => {
                    if batch.len() as u32 >= self.config.batch_size.min(10) {
                        self.full_batches.fetch_add(1, Ordering::Relaxed);
                    }
                    // Not cancelled by shutdown: a started batch finishes (or times out).
                    self.process(batch).await;
                }
                Err(e) => {
                    tracing::warn!(function = %self.config.function, queue = %self.config.queue_url, "receive failed: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        self.slots[slot]
            .waiting_since_ms
            .store(0, Ordering::Relaxed);
        self.stats.pollers.fetch_sub(1, Ordering::Relaxed);
        self.slots[slot].occupied.store(false, Ordering::Release);
    }

    /// Receives until the batch is full, the window ends, or the payload cap is reached.
    /// Messages that no filter matches are deleted, as Lambda does.
    ///
    /// The first receive long-polls alone. Once messages flow, the rest of a batch larger than
    /// ten is gathered with several receives at once (each a round trip; together they never
    /// ask for more than the batch lacks) that take only what is there, so no received message
    /// waits on a sibling's long poll. The batching window runs from the first message and
    /// closes on time: its last second is watched with short polls.
    async fn gather(&self, slot: usize) -> anyhow::Result<Vec<Record<I::Record>>> {
        let c = &self.config;
        let clock = &self.clock;
        // When the window closes, in ms on the clock.
        let mut deadline: Option<u64> = None;
        let mut records = Vec::new();
        let mut bytes = 2usize;
        loop {
            let missing = c.batch_size as usize - records.len();
            let received = match deadline {
                None => {
                    // Waiting for a first message: the scaler counts a long wait as idle.
                    let waiting = &self.slots[slot].waiting_since_ms;
                    waiting.store(self.epoch_ms() + 1, Ordering::Relaxed);
                    let received = self.receive(missing.min(10), LONG_POLL_SECONDS).await;
                    waiting.store(0, Ordering::Relaxed);
                    let received = received?;
                    if received.is_empty() {
                        // A long poll that found nothing: back to the poller, which retires
                        // if the scaler no longer wants it.
                        return Ok(records);
                    }
                    received
                }
                Some(deadline) => {
                    let calls = missing.div_ceil(10).min(PARALLEL_RECEIVES);
                    let receives = (0..calls).map(|i| self.receive((missing - i * 10).min(10), 0));
                    // A failed receive leaves its messages in the queue; keep the others.
                    let received: Vec<_> = futures_util::future::join_all(receives)
                        .await
                        .into_iter()
                        .flat_map(|out| self.or_warn(out))
                        .collect();
                    let now = clock.now_ms();
                    let left_ms = deadline.saturating_sub(now);
                    if !received.is_empty() || left_ms == 0 {
                        received
                    } else if left_ms >= 1000 {
                        // Nothing waiting: long-poll for the whole seconds left of the window.
                        let wait = (left_ms / 1000).min(LONG_POLL_SECONDS as u64) as i32;
                        self.or_warn(self.receive(missing.min(10), wait).await)
                    } else {
                        // Under a second left (SQS counts long polls in whole seconds): look
                        // again shortly, so the batch closes when its window ends, not later.
                        let tail = WINDOW_TAIL_POLL.as_millis() as u64;
                        clock.sleep_until_ms(now + left_ms.min(tail)).await;
                        Vec::new()
                    }
                }
            };
            if deadline.is_none() && !received.is_empty() {
                deadline = Some(clock.now_ms() + c.window.as_millis() as u64);
            }
            let mut unwanted = Vec::new();
            // Once per receive, not per message: preparing a record is the same for every build.
            let invoker = self.invoker.get();
            for m in received {
                if !filter::body_matches_any(&c.filters, m.body().unwrap_or_default()) {
                    unwanted.push(m.receipt_handle.clone().unwrap_or_default());
                    continue;
                }
                let item = settle::Item {
                    message_id: m.message_id.clone().unwrap_or_default(),
                    group: m
                        .attributes
                        .as_ref()
                        .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                        .cloned(),
                };
                let receipt_handle = m.receipt_handle.clone().unwrap_or_default();
                let (event, len) = invoker.prepare(m, &c.queue_arn, &c.region);
                let size = len + 1;
                if bytes + size > MAX_PAYLOAD_BYTES && !records.is_empty() {
                    // Over the cap: hand it back at once for the next batch.
                    let _ = self
                        .sqs
                        .change_message_visibility()
                        .queue_url(&c.queue_url)
                        .receipt_handle(receipt_handle)
                        .visibility_timeout(0)
                        .send()
                        .await;
                    continue;
                }
                bytes += size;
                records.push(Record {
                    item,
                    receipt_handle,
                    event,
                });
            }
            if !unwanted.is_empty() {
                self.stats
                    .filtered_out
                    .fetch_add(unwanted.len() as u64, Ordering::Relaxed);
                self.delete(&unwanted).await;
            }
            let full = records.len() >= c.batch_size as usize || bytes >= MAX_PAYLOAD_BYTES;
            // Without a window the deadline is the first receive itself.
            let closed = deadline.is_some_and(|d| clock.now_ms() >= d);
            if full || closed {
                return Ok(records);
            }
        }
    }

    /// The messages of a receive, or none (with a warning) when it failed.
    fn or_warn(
        &self,
        received: Result<Vec<aws_sdk_sqs::types::Message>, aws_sdk_sqs::Error>,
    ) -> Vec<aws_sdk_sqs::types::Message> {
        received.unwrap_or_else(|e| {
            tracing::warn!(function = %self.config.function, "receive failed: {e}");
            Vec::new()
        })
    }

    /// One ReceiveMessage call with every attribute Lambda passes on.
    async fn receive(
        &self,
        max: usize,
        wait_seconds: i32,
    ) -> Result<Vec<aws_sdk_sqs::types::Message>, aws_sdk_sqs::Error> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.config.queue_url)
            .max_number_of_messages(max as i32)
            .wait_time_seconds(wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await?;
        Ok(out.messages.unwrap_or_default())
    }

    async fn process(&self, records: Vec<Record<I::Record>>) {
        let c = &self.config;
        let mut events = Vec::with_capacity(records.len());
        let mut items = Vec::with_capacity(records.len());
        let mut handles = Vec::with_capacity(records.len());
        for r in records {
            events.push(r.event);
            items.push(r.item);
            handles.push(r.receipt_handle);
        }
        self.stats.invocation_started();
        let started = Instant::now();
        let started_ms = crate::logbook::now_ms();
        // The build current now runs the whole batch, even if a new one is swapped in meanwhile.
        let invoker = self.invoker.get();
        let outcome = invoker.invoke(events).await;
        drop(invoker);
        self.stats.invocation_finished(started.elapsed());
        let decision = settle::decide(&items, c.fifo, c.report_batch_item_failures, &outcome);
        if let Some(why) = &decision.batch_error {
            self.stats.batch_errors.fetch_add(1, Ordering::Relaxed);
            self.failed_batches.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(function = %c.function, messages = items.len(), "batch failed: {why}");
        }
        if !decision.retry.is_empty() {
            self.stats.failed(Failure {
                started_ms,
                ended_ms: crate::logbook::now_ms(),
                error: decision.batch_error.clone().unwrap_or_else(|| {
                    format!(
                        "{} of {} messages reported failed (batchItemFailures)",
                        decision.retry.len(),
                        items.len()
                    )
                }),
                messages: decision.retry.len(),
                message_ids: decision
                    .retry
                    .iter()
                    .map(|&i| items[i].message_id.clone())
                    .collect(),
            });
        }
        self.stats
            .messages_failed
            .fetch_add(decision.retry.len() as u64, Ordering::Relaxed);
        let delete: Vec<String> = decision
            .delete
            .iter()
            .map(|&i| handles[i].clone())
            .collect();
        self.delete(&delete).await;
        self.stats
            .messages_ok
            .fetch_add(delete.len() as u64, Ordering::Relaxed);
    }

    /// Deletes in batches of ten, all at once.
    async fn delete(&self, handles: &[String]) {
        let calls = handles.chunks(10).map(|chunk| {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(h)
                        .build()
                        .expect("id and handle set")
                })
                .collect();
            self.sqs
                .delete_message_batch()
                .queue_url(&self.config.queue_url)
                .set_entries(Some(entries))
                .send()
        });
        for result in futures_util::future::join_all(calls).await {
            match result {
                Ok(out) if out.failed.is_empty() => {}
                Ok(out) => {
                    tracing::warn!(function = %self.config.function, "{} deletes failed: {:?}", out.failed.len(), out.failed)
                }
                Err(e) => {
                    tracing::warn!(function = %self.config.function, "delete failed (messages will be redelivered): {e}")
                }
            }
        }
    }
}
