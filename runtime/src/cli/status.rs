//! The live status of `lockgate up`: per queue visible / in flight / delayed, per mapping
//! invocations, messages/s, failures and p50/p99 duration. On a terminal, a table pinned below
//! the scrolling log; otherwise one plain line, printed only when it changed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use lockgate_runtime::App;
use lockgate_runtime::app::provision::ProvisionedQueue;
use lockgate_runtime::esm::{MappingHandle, MappingStats};

pub struct Display<'a> {
    sqs: &'a aws_sdk_sqs::Client,
    queues: &'a BTreeMap<String, ProvisionedQueue>,
    mappings: &'a [MappingHandle],
    interval: Duration,
}

impl<'a> Display<'a> {
    pub fn new(app: &'a App, interval: Duration) -> Self {
        Self {
            sqs: app.sqs(),
            queues: app.queues(),
            mappings: app.mappings(),
            interval,
        }
    }

    /// Runs until cancelled (the pinned area is cleared when the future is dropped).
    pub async fn run(self) {
        let screen = super::terminal::screen();
        let mut area = screen.area();
        let interval = if area.is_some() {
            Duration::from_secs(1)
        } else {
            self.interval
        };
        let mut last = (Instant::now(), vec![0u64; self.mappings.len()]);
        // Off a terminal, a line is printed only when it differs from the last one printed.
        let mut printed = String::new();
        loop {
            tokio::time::sleep(interval).await;
            let mut depths = Vec::new();
            for q in self.queues.values() {
                depths.push((q.name.clone(), self.depth(&q.url).await));
            }
            match &mut area {
                Some(area) => {
                    let elapsed = last.0.elapsed().as_secs_f64().max(0.001);
                    last.0 = Instant::now();
                    area.set(&self.table(&depths, &mut last.1, elapsed));
                }
                None => {
                    let line = self.line(&depths);
                    if line != printed {
                        screen.line(&line);
                        printed = line;
                    }
                }
            }
        }
    }

    /// The status as one plain line (no rates, so an idle app prints nothing new).
    fn line(&self, depths: &[(String, (String, String, String))]) -> String {
        let queues: Vec<String> = depths
            .iter()
            .map(|(name, (v, f, d))| format!("{name} {v}/{f}/{d}"))
            .collect();
        let mappings: Vec<String> = self
            .mappings
            .iter()
            .map(|m| {
                let s = &m.stats;
                let queue = m.config.queue_url.rsplit('/').next().unwrap_or_default();
                format!(
                    "{}←{queue} invokes={} ok={} failed={}",
                    m.config.function,
                    MappingStats::get(&s.invocations),
                    MappingStats::get(&s.messages_ok),
                    MappingStats::get(&s.messages_failed),
                )
            })
            .collect();
        format!(
            "status: queues (visible/in flight/delayed) {} | {}",
            queues.join(", "),
            mappings.join(", ")
        )
    }

    /// The status as a table for the pinned area; `last_ok` carries each mapping's count
    /// between calls for the rate.
    fn table(
        &self,
        depths: &[(String, (String, String, String))],
        last_ok: &mut [u64],
        elapsed: f64,
    ) -> Vec<String> {
        let mut lines = Vec::new();
        lines.push(format!(
            "{:<28} {:>9} {:>9} {:>9}",
            "queue", "visible", "in flight", "delayed"
        ));
        for (name, (v, f, d)) in depths {
            lines.push(format!("{name:<28} {v:>9} {f:>9} {d:>9}"));
        }
        // The first column fits the longest "function ← queue".
        let labels: Vec<String> = self
            .mappings
            .iter()
            .map(|m| {
                let queue = m.config.queue_url.rsplit('/').next().unwrap_or_default();
                format!("{} ← {}", m.config.function, queue)
            })
            .collect();
        let width = labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0)
            .max(28);
        lines.push(format!(
            "{:<width$} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "function ← queue", "invokes", "msgs/s", "ok", "failed", "p50 ms", "p99 ms"
        ));
        for (i, m) in self.mappings.iter().enumerate() {
            let s = &m.stats;
            let ok = MappingStats::get(&s.messages_ok);
            let rate = (ok - last_ok[i]) as f64 / elapsed;
            last_ok[i] = ok;
            let (p50, p99) = s
                .percentiles()
                .map(|(a, b)| {
                    (
                        format!("{:.1}", a.as_secs_f64() * 1e3),
                        format!("{:.1}", b.as_secs_f64() * 1e3),
                    )
                })
                .unwrap_or(("-".into(), "-".into()));
            lines.push(format!(
                "{:<width$} {:>9} {:>9.0} {:>9} {:>9} {:>9} {:>9}",
                labels[i],
                MappingStats::get(&s.invocations),
                rate,
                ok,
                MappingStats::get(&s.messages_failed),
                p50,
                p99
            ));
        }
        lines
    }

    async fn depth(&self, url: &str) -> (String, String, String) {
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .ok()
            .and_then(|o| o.attributes)
            .unwrap_or_default();
        let get = |k: QueueAttributeName| attrs.get(&k).cloned().unwrap_or_else(|| "?".into());
        (
            get(QueueAttributeName::ApproximateNumberOfMessages),
            get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        )
    }
}
