//! End-to-end runtime throughput: `lockgate up` on a template with a no-op function — a
//! native Lambda bootstrap (`functions/noop`), a WASM component (`functions/wasm-probe`, whose
//! no-op path takes bodies that are not JSON), a Python function (`functions/noop-py`) or a
//! Node.js one (`functions/noop-js`) — a pre-filled queue, and the time until it is drained, at
//! several batch sizes; plus, for each process kind, the cold start and the Runtime API round
//! trip (`lockgate bench-invoke`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use crate::http::Connection;
use crate::servers::{start, start_until};
use crate::workloads::{fill, receive_delete_for, settle_disk};

/// What `lockgate up` logs once its mappings run.
const RUNNING: &str = "running: send messages";

/// The kind of no-op function a run drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Native,
    Wasm,
    Python,
    Node,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Native => "native",
            Kind::Wasm => "wasm",
            Kind::Python => "python",
            Kind::Node => "node",
        })
    }
}

/// The function's part of the template: where it is and how it is named.
pub fn function_source(kind: Kind) -> anyhow::Result<String> {
    let dir = |d: &str| -> anyhow::Result<PathBuf> {
        Path::new(d)
            .canonicalize()
            .context("run from the repository root")
    };
    Ok(match kind {
        Kind::Native => format!(
            "    Metadata:\n      BuildProperties:\n        Binary: noop\n    Properties:\n      CodeUri: {}\n",
            dir("functions/noop")?.display()
        ),
        Kind::Wasm => format!(
            "    Properties:\n      CodeUri: {}\n      Handler: wasm_probe.wasm\n",
            dir("functions/wasm-probe")?.display()
        ),
        Kind::Python => format!(
            "    Properties:\n      CodeUri: {}\n      Runtime: python3.12\n      Handler: app.handler\n",
            dir("functions/noop-py")?.display()
        ),
        Kind::Node => format!(
            "    Properties:\n      CodeUri: {}\n      Runtime: nodejs22.x\n      Handler: index.handler\n",
            dir("functions/noop-js")?.display()
        ),
    })
}

fn template(function: &str, batch_size: u32) -> String {
    let window = if batch_size > 10 {
        "            MaximumBatchingWindowInSeconds: 1\n"
    } else {
        ""
    };
    format!(
        "Resources:
  Work:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: work
      VisibilityTimeout: 60
  Noop:
    Type: AWS::Serverless::Function
{function}      Timeout: 30
      Events:
        E:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
            BatchSize: {batch_size}
{window}"
    )
}

pub async fn run(
    lockgate: &Path,
    messages: usize,
    batch_sizes: &[u32],
    kinds: &[Kind],
    connections: usize,
    body: &str,
) -> anyhow::Result<()> {
    for &kind in kinds {
        let function = function_source(kind)?;
        for &batch_size in batch_sizes {
            drain(
                lockgate,
                &function,
                kind,
                batch_size,
                messages,
                connections,
                body,
            )
            .await?;
        }
    }
    for &kind in kinds.iter().filter(|k| **k != Kind::Wasm) {
        round_trip(lockgate, kind, &function_source(kind)?)?;
    }
    Ok(())
}

/// What one drain through `lockgate up` measured, in msgs/s.
pub struct DrainFigures {
    pub overall: f64,
    pub sustained: f64,
    /// The emulator alone, drained by the lean client, in the same run.
    pub floor: f64,
}

/// Fills a queue with `messages`, then times `lockgate up` draining it through the function.
pub async fn drain(
    lockgate: &Path,
    function: &str,
    kind: Kind,
    batch_size: u32,
    messages: usize,
    connections: usize,
    body: &str,
) -> anyhow::Result<DrainFigures> {
    let lockgate = &lockgate
        .canonicalize()
        .context("build lockgate with --release first")?;
    let dir = std::env::temp_dir().join(format!("lockgate-bench-up-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("template.yaml"), template(function, batch_size))?;
    let data = dir.join("data");
    let _ = std::fs::remove_dir_all(&data);
    // The emulator alone: fill the queue, time the lean client draining it (the floor: what
    // the store and the queue engine allow, with no SDK, mapping or function), fill it again.
    let mut command = Command::new(lockgate);
    command
        .args(["emulator", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("NO_COLOR", "1");
    let emulator = start("lockgate emulator", command, None)?;
    let mut conn = Connection::open(&emulator.host).await?;
    let reply = conn
        .call(
            "CreateQueue",
            &json!({"QueueName": "work", "Attributes": {"VisibilityTimeout": "60"}}).to_string(),
        )
        .await?;
    let url = reply["QueueUrl"].as_str().unwrap_or_default().to_string();
    let filled = fill(&emulator.host, &url, body, messages, connections, 10).await?;
    settle_disk();
    let started = Instant::now();
    let drained = receive_delete_for(
        &emulator.host,
        &url,
        connections,
        Arc::new(AtomicBool::new(false)),
        true,
    )
    .await?;
    anyhow::ensure!(
        drained == filled,
        "the emulator acknowledged {filled} messages and {drained} were drained"
    );
    let floor = drained as f64 / started.elapsed().as_secs_f64();
    let total = fill(&emulator.host, &url, body, messages, connections, 10).await?;
    emulator.stop();
    settle_disk();

    let mut command = Command::new(lockgate);
    command
        .current_dir(&dir)
        .args([
            "up",
            "--bind",
            "127.0.0.1:0",
            "--status-interval",
            "3600",
            "--data-dir",
        ])
        .arg(&data)
        .env("LOCKGATE_LOG", "info")
        .env("NO_COLOR", "1");
    // The clock starts when the mappings run (after start-up: queues created, a WASM
    // component compiled), as a drain on Lambda is timed from a running mapping.
    let server = start_until("lockgate up", command, None, Some(RUNNING))?;
    let started = Instant::now();
    let mut conn = Connection::open(&server.host).await?;
    let url = format!("http://{}/000000000000/work", server.host);
    // When 10% and 90% of the backlog were done: the sustained rate leaves out the ramp-up
    // from five pollers and the last batches' batching window.
    let (mut at_10, mut at_90) = (None, None);
    loop {
        let attrs = conn
            .call(
                "GetQueueAttributes",
                &json!({"QueueUrl": url, "AttributeNames": ["All"]}).to_string(),
            )
            .await?;
        let n = |k: &str| {
            attrs["Attributes"][k]
                .as_str()
                .unwrap_or("1")
                .parse::<u64>()
                .unwrap_or(1)
        };
        let (visible, in_flight) = (
            n("ApproximateNumberOfMessages"),
            n("ApproximateNumberOfMessagesNotVisible"),
        );
        if std::env::var_os("LOCKGATE_BENCH_TRACE").is_some() {
            eprintln!(
                "{:>6} ms: {visible} visible, {in_flight} in flight",
                started.elapsed().as_millis()
            );
        }
        let left = (visible + in_flight) as f64;
        if at_10.is_none() && left <= 0.9 * total as f64 {
            at_10 = Some(started.elapsed());
        }
        if at_90.is_none() && left <= 0.1 * total as f64 {
            at_90 = Some(started.elapsed());
        }
        if visible == 0 && in_flight == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    let sustained = match (at_10, at_90) {
        (Some(a), Some(b)) if b > a => 0.8 * total as f64 / (b - a).as_secs_f64(),
        _ => rate,
    };
    println!(
        "lockgate up (durable), no-op {kind:<6} function, BatchSize {batch_size:>4}: {total} messages in {:.2} s = {rate:>6.0} msgs/s overall, {sustained:>6.0} msgs/s sustained (10%→90%); the emulator alone drains {floor:.0} msgs/s (lockgate up sustains {:.0}% of it)",
        started.elapsed().as_secs_f64(),
        100.0 * sustained / floor
    );
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(DrainFigures {
        overall: rate,
        sustained,
        floor,
    })
}

/// A process function's cold start and the Runtime API round trip once it is warm
/// (`lockgate bench-invoke`).
fn round_trip(lockgate: &Path, kind: Kind, function: &str) -> anyhow::Result<()> {
    let lockgate = &lockgate
        .canonicalize()
        .context("build lockgate with --release first")?;
    let dir = std::env::temp_dir().join(format!("lockgate-bench-rt-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("template.yaml"), template(function, 10))?;
    let out = Command::new(lockgate)
        .current_dir(&dir)
        .args(["bench-invoke", "Noop", "--count", "5000"])
        .output()?;
    print!("{kind} function: {}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
