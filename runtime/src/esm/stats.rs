//! Live counters per mapping, read by the status display, the app's report and tests.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Default)]
pub struct MappingStats {
    pub invocations: AtomicU64,
    pub messages_ok: AtomicU64,
    pub messages_failed: AtomicU64,
    pub filtered_out: AtomicU64,
    pub batch_errors: AtomicU64,
    pub in_flight: AtomicU64,
    pub peak_in_flight: AtomicU64,
    pub pollers: AtomicU64,
    durations: Mutex<Vec<Duration>>,
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

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
