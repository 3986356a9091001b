//! The event source mapping engine: one [`Mapping`] per (function, SQS event).
//!
//! Each poller task owns one batch at a time — receive (long poll) → gather until BatchSize,
//! the batching window or the 6 MB payload cap → filter → invoke → settle — so the number of
//! pollers is the number of concurrent invocations. The scaler starts with 5, adds pollers
//! while batches come back full (up to MaximumConcurrency) and retires them when idle.

pub mod filter;
pub mod settle;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::invoke::lambda_process::ProcessPool;
use crate::status::Stats;

/// Lambda's cap on an invocation payload.
const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Pollers a mapping starts with (AWS starts with five).
const START_POLLERS: u32 = 5;
/// Lambda's default MaximumConcurrency when none is configured.
const DEFAULT_MAX_CONCURRENCY: u32 = 1000;

/// One received message, ready to go into an event.
struct Record {
    item: settle::Item,
    receipt_handle: String,
    /// The Lambda record, serialized.
    json: Vec<u8>,
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
    pub max_concurrency: Option<u32>,
    pub filters: Vec<Value>,
}

pub struct Mapping {
    pub config: MappingConfig,
    pub sqs: aws_sdk_sqs::Client,
    pub invoker: Arc<ProcessPool>,
    pub stats: Arc<Stats>,
    target: AtomicU32,
    full_batches: AtomicU64,
    next_poller: AtomicU32,
}

impl Mapping {
    pub fn new(
        config: MappingConfig,
        sqs: aws_sdk_sqs::Client,
        invoker: Arc<ProcessPool>,
    ) -> Arc<Self> {
        let start = START_POLLERS.min(config.max_concurrency.unwrap_or(DEFAULT_MAX_CONCURRENCY));
        Arc::new(Self {
            config,
            sqs,
            invoker,
            stats: Arc::new(Stats::default()),
            target: AtomicU32::new(start),
            full_batches: AtomicU64::new(0),
            next_poller: AtomicU32::new(0),
        })
    }

    fn max_concurrency(&self) -> u32 {
        self.config
            .max_concurrency
            .unwrap_or(DEFAULT_MAX_CONCURRENCY)
    }

    /// Runs until `shutdown` turns true; then stops polling and lets in-flight batches finish
    /// (each bounded by the function timeout) before returning.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let mut pollers = tokio::task::JoinSet::new();
        let spawn = |pollers: &mut tokio::task::JoinSet<()>, mapping: &Arc<Mapping>| {
            let id = mapping.next_poller.fetch_add(1, Ordering::Relaxed);
            let m = mapping.clone();
            let sd = shutdown.clone();
            pollers.spawn(async move { m.poll(id, sd).await });
        };
        for _ in 0..self.target.load(Ordering::Relaxed) {
            spawn(&mut pollers, &self);
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut idle_ticks = 0u32;
        let mut sd = shutdown.clone();
        let start = self.target.load(Ordering::Relaxed);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = sd.changed() => {}
            }
            if *shutdown.borrow() {
                break;
            }
            // Scale: full batches mean a backlog; AWS adds up to 300 concurrent per minute.
            let full = self.full_batches.swap(0, Ordering::Relaxed);
            let target = self.target.load(Ordering::Relaxed);
            if full > 0 && target < self.max_concurrency() {
                idle_ticks = 0;
                let grown = (target + 5).min(self.max_concurrency());
                self.target.store(grown, Ordering::Relaxed);
                for _ in target..grown {
                    spawn(&mut pollers, &self);
                }
            } else if full == 0 && Stats::get(&self.stats.in_flight) == 0 {
                idle_ticks += 1;
                if idle_ticks >= 10 && target > start {
                    // Idle for a while: retire pollers (each exits when it sees the lower target).
                    self.target
                        .store((target - 5).max(start), Ordering::Relaxed);
                    idle_ticks = 0;
                }
            }
            while pollers.try_join_next().is_some() {}
        }
        while pollers.join_next().await.is_some() {}
    }

    async fn poll(self: Arc<Self>, id: u32, mut shutdown: watch::Receiver<bool>) {
        self.stats.pollers.fetch_add(1, Ordering::Relaxed);
        loop {
            if *shutdown.borrow() || id >= self.target.load(Ordering::Relaxed) {
                break;
            }
            let batch = tokio::select! {
                b = self.gather() => b,
                _ = shutdown.changed() => break,
            };
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
        self.stats.pollers.fetch_sub(1, Ordering::Relaxed);
    }

    /// Receives until the batch is full, the window ends, or the payload cap is reached.
    /// Messages that no filter matches are deleted, as Lambda does.
    async fn gather(&self) -> anyhow::Result<Vec<Record>> {
        let c = &self.config;
        let deadline = Instant::now() + c.window;
        let mut records = Vec::new();
        let mut bytes = 2usize;
        loop {
            let want = (c.batch_size as usize - records.len()).min(10) as i32;
            let wait = if records.is_empty() {
                20
            } else {
                deadline
                    .saturating_duration_since(Instant::now())
                    .as_secs()
                    .min(20) as i32
            };
            let out = self
                .sqs
                .receive_message()
                .queue_url(&c.queue_url)
                .max_number_of_messages(want)
                .wait_time_seconds(wait)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await?;
            let mut unwanted = Vec::new();
            for m in out.messages.unwrap_or_default() {
                let record = lambda_record(&m, &c.queue_arn, &c.region);
                if !filter::matches_any(&c.filters, &record) {
                    unwanted.push(m.receipt_handle.clone().unwrap_or_default());
                    continue;
                }
                let json = serde_json::to_vec(&record).expect("record serializes");
                let size = json.len() + 1;
                if bytes + size > MAX_PAYLOAD_BYTES && !records.is_empty() {
                    // Over the cap: hand it back at once for the next batch.
                    let _ = self
                        .sqs
                        .change_message_visibility()
                        .queue_url(&c.queue_url)
                        .receipt_handle(m.receipt_handle.unwrap_or_default())
                        .visibility_timeout(0)
                        .send()
                        .await;
                    continue;
                }
                bytes += size;
                records.push(Record {
                    item: settle::Item {
                        message_id: m.message_id.unwrap_or_default(),
                        group: m
                            .attributes
                            .as_ref()
                            .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                            .cloned(),
                    },
                    receipt_handle: m.receipt_handle.unwrap_or_default(),
                    json,
                });
            }
            if !unwanted.is_empty() {
                self.stats
                    .filtered_out
                    .fetch_add(unwanted.len() as u64, Ordering::Relaxed);
                self.delete(&unwanted).await;
            }
            let full = records.len() >= c.batch_size as usize || bytes >= MAX_PAYLOAD_BYTES;
            if full || c.window.is_zero() || Instant::now() >= deadline {
                return Ok(records);
            }
        }
    }

    async fn process(&self, records: Vec<Record>) {
        let c = &self.config;
        // The event is assembled from each record's JSON, serialized once in `gather`.
        let mut payload =
            Vec::with_capacity(records.iter().map(|r| r.json.len() + 1).sum::<usize>() + 16);
        payload.extend_from_slice(b"{\"Records\":[");
        for (i, r) in records.iter().enumerate() {
            if i > 0 {
                payload.push(b',');
            }
            payload.extend_from_slice(&r.json);
        }
        payload.extend_from_slice(b"]}");
        let (items, handles): (Vec<settle::Item>, Vec<String>) = records
            .into_iter()
            .map(|r| (r.item, r.receipt_handle))
            .unzip();
        self.stats.invocation_started();
        let started = Instant::now();
        let outcome = self.invoker.invoke(payload).await;
        self.stats.invocation_finished(started.elapsed());
        let decision = settle::decide(&items, c.fifo, c.report_batch_item_failures, &outcome);
        if let Some(why) = &decision.batch_error {
            self.stats.batch_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(function = %c.function, messages = items.len(), "batch failed: {why}");
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

    async fn delete(&self, handles: &[String]) {
        for chunk in handles.chunks(10) {
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
            let result = self
                .sqs
                .delete_message_batch()
                .queue_url(&self.config.queue_url)
                .set_entries(Some(entries))
                .send()
                .await;
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

/// One SQS record as Lambda puts it in the event.
pub fn lambda_record(m: &aws_sdk_sqs::types::Message, queue_arn: &str, region: &str) -> Value {
    let attributes: serde_json::Map<String, Value> = m
        .attributes
        .as_ref()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_string(), Value::String(v.clone())))
                .collect()
        })
        .unwrap_or_default();
    let message_attributes: serde_json::Map<String, Value> = m
        .message_attributes
        .as_ref()
        .map(|a| {
            a.iter()
                .map(|(k, v)| {
                    let binary = v
                        .binary_value
                        .as_ref()
                        .map(|b| base64::engine::general_purpose::STANDARD.encode(b.as_ref()));
                    (
                        k.clone(),
                        json!({
                            "stringValue": v.string_value,
                            "binaryValue": binary,
                            "stringListValues": [],
                            "binaryListValues": [],
                            "dataType": v.data_type,
                        }),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut record = json!({
        "messageId": m.message_id,
        "receiptHandle": m.receipt_handle,
        "body": m.body,
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": m.md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    });
    if let Some(md5) = &m.md5_of_message_attributes {
        record["md5OfMessageAttributes"] = json!(md5);
    }
    record
}
