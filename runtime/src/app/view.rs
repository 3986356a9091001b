//! The running app as the console and `/metrics` see it: its functions with their mappings'
//! live figures, recent failures with what the function printed meanwhile, and live logs.
//! Attached to the embedded emulator (which serves both on its port).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use lockgate_emulator::AppView;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};

use crate::esm::{MappingHandle, MappingStats};
use crate::logbook::LogBook;
use crate::template::Scaling;

/// Lines printed this long after an invocation ended still count as its own (a process's
/// output is read after its response may have arrived).
const LOG_SLACK_MS: u64 = 250;

#[derive(Clone)]
pub struct FunctionView {
    pub name: String,
    pub logical_id: String,
    /// `native`, `wasm`, `python3.12`, …
    pub kind: String,
    pub mappings: Vec<MappingHandle>,
}

/// When a mapping's invocations were last counted, the count, and the rate then.
type RateSample = (Instant, u64, f64);

/// A metric family read off every mapping's stats: name, help, reader.
type Reading = (&'static str, &'static str, fn(&MappingStats) -> u64);

pub struct RunningApp {
    pub functions: Vec<FunctionView>,
    pub logbook: Arc<LogBook>,
    /// The functions the Lambda Invoke API reaches.
    pub invocable: Arc<super::invocable::Invocable>,
    /// Per mapping (function index, mapping index): the last rate sample.
    rates: Mutex<HashMap<(usize, usize), RateSample>>,
}

impl RunningApp {
    pub fn new(
        functions: Vec<FunctionView>,
        logbook: Arc<LogBook>,
        invocable: Arc<super::invocable::Invocable>,
    ) -> Arc<Self> {
        Arc::new(Self {
            functions,
            logbook,
            invocable,
            rates: Mutex::default(),
        })
    }

    /// Invocations per second since the previous look (at least a second apart).
    fn rate(&self, key: (usize, usize), invocations: u64) -> f64 {
        let mut rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let entry = rates.entry(key).or_insert((now, invocations, 0.0));
        let elapsed = now.duration_since(entry.0).as_secs_f64();
        if elapsed >= 1.0 {
            entry.2 = (invocations - entry.1) as f64 / elapsed;
            entry.0 = now;
            entry.1 = invocations;
        }
        entry.2
    }

    fn mapping_json(&self, key: (usize, usize), m: &MappingHandle) -> Value {
        let s = &m.stats;
        let get = MappingStats::get;
        let (p50, p99) = s
            .percentiles()
            .map_or((None, None), |(a, b)| (Some(ms(a)), Some(ms(b))));
        json!({
            "queue": queue_name(&m.config.queue_arn),
            "queueArn": m.config.queue_arn,
            "state": if get(&s.pollers) > 0 { "running" } else { "stopped" },
            "batchSize": m.config.batch_size,
            "batchingWindowSeconds": m.config.window.as_secs(),
            "maxConcurrency": m.config.scaling.maximum(),
            "scaling": match m.config.scaling {
                Scaling::OnDemand { .. } => json!({"mode": "on-demand"}),
                Scaling::Provisioned { minimum, maximum } => json!({
                    "mode": "provisioned", "minimumPollers": minimum, "maximumPollers": maximum
                }),
            },
            "concurrency": get(&s.in_flight),
            "targetConcurrency": get(&s.target),
            "peakConcurrency": get(&s.peak_in_flight),
            "pollers": get(&s.pollers),
            "invocations": get(&s.invocations),
            "invocationsPerSecond": self.rate(key, get(&s.invocations)),
            "messagesOk": get(&s.messages_ok),
            "messagesFailed": get(&s.messages_failed),
            "filteredOut": get(&s.filtered_out),
            "batchErrors": get(&s.batch_errors),
            "throttles": get(&s.throttles),
            "p50Ms": p50,
            "p99Ms": p99,
        })
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn queue_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

impl AppView for RunningApp {
    fn snapshot(&self) -> Value {
        let functions: Vec<Value> = self
            .functions
            .iter()
            .enumerate()
            .map(|(fi, f)| {
                let mut failures: Vec<Value> = Vec::new();
                for m in &f.mappings {
                    for failure in m.stats.recent_failures() {
                        let logs = self.logbook.between(
                            &f.name,
                            failure.started_ms,
                            failure.ended_ms + LOG_SLACK_MS,
                        );
                        failures.push(json!({
                            "at": failure.started_ms,
                            "durationMs": failure.ended_ms.saturating_sub(failure.started_ms),
                            "queue": queue_name(&m.config.queue_arn),
                            "error": failure.error,
                            "messages": failure.messages,
                            "messageIds": failure.message_ids,
                            "logs": logs,
                        }));
                    }
                }
                failures.sort_by_key(|f| f["at"].as_u64());
                json!({
                    "name": f.name,
                    "logicalId": f.logical_id,
                    "kind": f.kind,
                    "mappings": f.mappings.iter().enumerate()
                        .map(|(mi, m)| self.mapping_json((fi, mi), m))
                        .collect::<Vec<_>>(),
                    "recentFailures": failures,
                })
            })
            .collect();
        json!({ "functions": functions })
    }

    fn logs(&self, function: &str, after: u64) -> Option<Value> {
        let (lines, next) = self.logbook.after(function, after)?;
        Some(json!({ "function": function, "lines": lines, "next": next }))
    }

    fn functions(&self) -> Option<Arc<dyn lockgate_emulator::lambda::Functions>> {
        Some(self.invocable.clone())
    }

    fn register_metrics(&self, registry: &mut Registry) {
        let mappings = self
            .functions
            .iter()
            .flat_map(|f| f.mappings.iter().map(|m| (f.name.clone(), m.clone())))
            .collect();
        registry.register_collector(Box::new(MappingMetrics { mappings }));
    }
}

/// Every mapping's figures, one metric family each, labelled by function and queue.
#[derive(Debug)]
struct MappingMetrics {
    mappings: Vec<(String, MappingHandle)>,
}

type Labels = Vec<(&'static str, String)>;

impl MappingMetrics {
    fn labels(&self) -> Vec<(Labels, &MappingStats)> {
        self.mappings
            .iter()
            .map(|(function, m)| {
                (
                    vec![
                        ("function", function.clone()),
                        ("queue", queue_name(&m.config.queue_arn).to_string()),
                    ],
                    &*m.stats,
                )
            })
            .collect()
    }
}

impl Collector for MappingMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let all = self.labels();
        let counters: [Reading; 6] = [
            (
                "lockgate_function_invocations",
                "Invocations of the function by this mapping",
                |s| MappingStats::get(&s.invocations),
            ),
            (
                "lockgate_function_errors",
                "Invocations that failed as a whole (error, timeout, crash, trap, malformed response)",
                |s| MappingStats::get(&s.batch_errors),
            ),
            (
                "lockgate_function_throttles",
                "Seconds the queue had a backlog while the mapping ran at its MaximumConcurrency",
                |s| MappingStats::get(&s.throttles),
            ),
            (
                "lockgate_mapping_messages_succeeded",
                "Messages the function processed (deleted from the queue)",
                |s| MappingStats::get(&s.messages_ok),
            ),
            (
                "lockgate_mapping_messages_failed",
                "Messages left for redelivery after a failure",
                |s| MappingStats::get(&s.messages_failed),
            ),
            (
                "lockgate_mapping_messages_filtered",
                "Messages no filter matched (deleted without an invocation)",
                |s| MappingStats::get(&s.filtered_out),
            ),
        ];
        for (name, help, value) in counters {
            let mut metric = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for (labels, stats) in &all {
                ConstCounter::new(value(stats)).encode(metric.encode_family(labels)?)?;
            }
        }
        let gauges: [Reading; 5] = [
            (
                "lockgate_function_concurrency",
                "Invocations running now",
                |s| MappingStats::get(&s.in_flight),
            ),
            (
                "lockgate_mapping_target_concurrency",
                "Concurrent invocations the mapping's scaler wants now (AWS's SQS scaling rules)",
                |s| MappingStats::get(&s.target),
            ),
            (
                "lockgate_mapping_pollers",
                "Pollers receiving from the queue now",
                |s| MappingStats::get(&s.pollers),
            ),
            (
                "lockgate_mapping_pollers_minimum",
                "Pollers kept even when the queue is idle (provisioned mode's MinimumPollers; 5 on demand)",
                |s| MappingStats::get(&s.floor),
            ),
            (
                "lockgate_mapping_pollers_maximum",
                "Most pollers (concurrent batches): MaximumPollers, or MaximumConcurrency on demand",
                |s| MappingStats::get(&s.maximum),
            ),
        ];
        for (name, help, value) in gauges {
            let mut metric = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            for (labels, stats) in &all {
                let v = i64::try_from(value(stats)).unwrap_or(i64::MAX);
                ConstGauge::new(v).encode(metric.encode_family(labels)?)?;
            }
        }
        let mut metric = encoder.encode_descriptor(
            "lockgate_function_duration_seconds",
            "Invocation durations",
            None,
            prometheus_client::metrics::MetricType::Histogram,
        )?;
        for (labels, stats) in &all {
            stats
                .duration_seconds
                .encode(metric.encode_family(labels)?)?;
        }
        Ok(())
    }
}
