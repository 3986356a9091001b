//! `GET /metrics`: the emulator's queues, its store and the process (and the app's metrics,
//! when one is attached) in the OpenMetrics text format, which Prometheus scrapes. Queue
//! figures are read at scrape time, so a scrape sees the queues as they are.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::AppView;
use crate::sqs::Sqs;

type Labels = Vec<(&'static str, String)>;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub fn scrape(sqs: &Sqs, app: Option<&dyn AppView>) -> Response {
    let mut registry = Registry::default();
    register_queues(sqs, &mut registry);
    registry.register(
        "lockgate_store_commit_seconds",
        "Time to commit one group of changes to the store (one transaction, one fsync)",
        sqs.store.commit_seconds.clone(),
    );
    if let Some(reader) = &sqs.contents {
        let cached = Gauge::<i64>::default();
        cached.set(i64::try_from(reader.cached_bytes()).unwrap_or(i64::MAX));
        registry.register(
            "lockgate_store_cache_bytes",
            "Bytes of message contents held in memory for delivery (bounded by --cache-size)",
            cached,
        );
        registry.register(
            "lockgate_store_content_hits",
            "Delivered messages whose contents were in the cache",
            reader.stats.hits.clone(),
        );
        registry.register(
            "lockgate_store_content_reads",
            "Message contents read from the store (deliveries, read-ahead, browsing)",
            reader.stats.reads.clone(),
        );
        registry.register(
            "lockgate_store_content_unreadable",
            "Message contents the store could not read or open (each is an error for its message)",
            reader.stats.unreadable.clone(),
        );
    }
    if let Some(rss) = resident_bytes() {
        let gauge = Gauge::<i64>::default();
        gauge.set(rss);
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the emulator's process",
            gauge,
        );
    }
    if let Some(app) = app {
        app.register_metrics(&mut registry);
    }
    let mut text = String::new();
    if let Err(e) = encode(&mut text, &registry) {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    let mut response = (StatusCode::OK, text).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

fn register_queues(sqs: &Sqs, registry: &mut Registry) {
    let gauge = || Family::<Labels, Gauge>::default();
    let counter = || Family::<Labels, Counter>::default();
    let (visible, in_flight, delayed, oldest) = (gauge(), gauge(), gauge(), gauge());
    let waiting = gauge();
    let (sent, received, deleted) = (counter(), counter(), counter());
    let now = sqs.now_ms();
    for queue in sqs.all_queues() {
        let labels: Labels = vec![
            ("queue", queue.name.clone()),
            ("region", queue.region.clone()),
            ("account", queue.account.clone()),
        ];
        let mut state = queue.lock();
        let mut expired = Vec::new();
        state.tick(now, &mut expired);
        sqs.store.submit_detached(expired);
        let (v, f, d) = state.counts();
        let age_s = state
            .oldest_sent_ms()
            .map_or(0, |sent| now.saturating_sub(sent) / 1000);
        let totals = state.totals;
        drop(state);
        let parked = queue.waiting.load(std::sync::atomic::Ordering::Relaxed);
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        visible.get_or_create(&labels).set(as_i64(v));
        in_flight.get_or_create(&labels).set(as_i64(f));
        delayed.get_or_create(&labels).set(as_i64(d));
        oldest.get_or_create(&labels).set(as_i64(age_s));
        waiting.get_or_create(&labels).set(as_i64(parked as u64));
        sent.get_or_create(&labels).inc_by(totals.sent);
        received.get_or_create(&labels).inc_by(totals.received);
        deleted.get_or_create(&labels).inc_by(totals.deleted);
    }
    registry.register(
        "lockgate_queue_messages_visible",
        "Messages a receive can return now (ApproximateNumberOfMessages)",
        visible,
    );
    registry.register(
        "lockgate_queue_messages_in_flight",
        "Messages received and not yet deleted or visible again (ApproximateNumberOfMessagesNotVisible)",
        in_flight,
    );
    registry.register(
        "lockgate_queue_messages_delayed",
        "Messages whose delay has not passed (ApproximateNumberOfMessagesDelayed)",
        delayed,
    );
    registry.register(
        "lockgate_queue_oldest_message_age_seconds",
        "Age of the oldest message in the queue (0 when empty)",
        oldest,
    );
    registry.register(
        "lockgate_queue_receives_waiting",
        "Receives parked in a long poll on the queue now",
        waiting,
    );
    registry.register(
        "lockgate_queue_messages_sent",
        "Messages sent to the queue since the emulator started (duplicates of a FIFO send not counted)",
        sent,
    );
    registry.register(
        "lockgate_queue_messages_received",
        "Messages handed out by receives since the emulator started (each receive counts)",
        received,
    );
    registry.register(
        "lockgate_queue_messages_deleted",
        "Messages deleted by DeleteMessage since the emulator started",
        deleted,
    );
}

/// The process's resident set (VmRSS), from /proc.
fn resident_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
