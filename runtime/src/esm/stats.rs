//! Live counters per mapping, read by the status display, the console, `/metrics` and tests.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

pub struct MappingStats {
    pub invocations: AtomicU64,
    pub messages_ok: AtomicU64,
    pub messages_failed: AtomicU64,
    pub filtered_out: AtomicU64,
    pub batch_errors: AtomicU64,
    /// Seconds in which the queue had a backlog but the mapping was at its MaximumConcurrency
    /// (Lambda counts such refused invocations as throttles).
    pub throttles: AtomicU64,
    pub in_flight: AtomicU64,
    pub peak_in_flight: AtomicU64,
    pub pollers: AtomicU64,
    /// The concurrency the scaler wants now (pollers converge on it).
    pub target: AtomicU64,
    /// The fewest and most pollers the mapping runs (provisioned mode's MinimumPollers and
    /// MaximumPollers; on demand, 5 and MaximumConcurrency).
    pub floor: AtomicU64,
    pub maximum: AtomicU64,
    durations: Mutex<Vec<Duration>>,
    /// Every invocation's duration, in seconds (1 ms to ~65 s buckets).
    pub duration_seconds: Histogram,
    failures: Mutex<VecDeque<Failure>>,
}

/// An invocation that failed some or all of its messages.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Wall-clock milliseconds when the invocation started and ended.
    pub started_ms: u64,
    pub ended_ms: u64,
    /// The function's error, or which messages it reported as failed.
    pub error: String,
    pub messages: usize,
    pub message_ids: Vec<String>,
}

/// Failures kept per mapping.
const RECENT_FAILURES: usize = 20;

impl Default for MappingStats {
    fn default() -> Self {
        Self {
            invocations: AtomicU64::new(0),
            messages_ok: AtomicU64::new(0),
            messages_failed: AtomicU64::new(0),
            filtered_out: AtomicU64::new(0),
            batch_errors: AtomicU64::new(0),
            throttles: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            peak_in_flight: AtomicU64::new(0),
            pollers: AtomicU64::new(0),
            target: AtomicU64::new(0),
            floor: AtomicU64::new(0),
            maximum: AtomicU64::new(0),
            durations: Mutex::default(),
            duration_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
            failures: Mutex::default(),
        }
    }
}

/// How many recent invocation durations the percentiles are computed over.
const WINDOW: usize = 1024;

impl MappingStats {
    pub fn invocation_started(&self) {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::Relaxed);
        self.invocations.fetch_add(1, Ordering::Relaxed);
    }

    pub fn invocation_finished(&self, took: Duration) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.duration_seconds.observe(took.as_secs_f64());
        let mut d = self.durations.lock().unwrap_or_else(|e| e.into_inner());
        if d.len() >= WINDOW {
            d.remove(0);
        }
        d.push(took);
    }

    /// (p50, p99) of recent invocation durations.
    pub fn percentiles(&self) -> Option<(Duration, Duration)> {
        let mut d = self
            .durations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if d.is_empty() {
            return None;
        }
        d.sort();
        let at = |q: f64| d[((d.len() - 1) as f64 * q).round() as usize];
        Some((at(0.5), at(0.99)))
    }

    pub fn failed(&self, failure: Failure) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= RECENT_FAILURES {
            failures.pop_front();
        }
        failures.push_back(failure);
    }

    /// The most recent failures, oldest first.
    pub fn recent_failures(&self) -> Vec<Failure> {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
