//! The live status of `lockgate up`: per queue visible / in flight / DLQ depth, per function
//! invocations, messages/s, failures and p50/p99 duration. Redrawn in place on a terminal,
//! plain lines otherwise (only when the table changed).

use std::collections::BTreeMap;
use std::io::IsTerminal;
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

    /// Runs until cancelled.
    pub async fn run(self) {
        let tty = std::io::stdout().is_terminal();
        let interval = if tty {
            Duration::from_secs(1)
        } else {
            self.interval
        };
        let mut last = (Instant::now(), vec![0u64; self.mappings.len()]);
        let mut drawn_lines = 0;
        // Off a terminal, a table is printed only when it differs from the last one printed.
        let mut printed: Vec<String> = Vec::new();
        loop {
            tokio::time::sleep(interval).await;
            let mut lines = Vec::new();
            lines.push(format!(
                "{:<28} {:>9} {:>9} {:>9}",
                "queue", "visible", "in flight", "delayed"
            ));
            for q in self.queues.values() {
                let (v, f, d) = self.depth(&q.url).await;
                lines.push(format!("{:<28} {v:>9} {f:>9} {d:>9}", q.name));
            }
            let elapsed = last.0.elapsed().as_secs_f64().max(0.001);
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
                let rate = (ok - last.1[i]) as f64 / elapsed;
                last.1[i] = ok;
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
            last.0 = Instant::now();
            if tty {
                // Move up over the previous table and redraw it.
                if drawn_lines > 0 {
                    print!("\x1b[{drawn_lines}A");
                }
                for l in &lines {
                    println!("\x1b[2K{l}");
                }
                drawn_lines = lines.len();
            } else if lines != printed {
                for l in &lines {
                    println!("{l}");
                }
                println!();
                printed = lines;
            }
        }
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
