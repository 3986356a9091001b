//! WASM per-batch overhead: instantiate a fresh sandboxed instance from the pre-instantiated
//! component, pass a batch in, get the failed ids out, drop the instance — with the no-op path
//! of the `wasm-probe` guest, for batches of 1, 10 and 100 messages. Printed beside a floor
//! measured in the same run: the same batch handed to a native no-op in-process (the cost of
//! the messages themselves), so the difference is what the sandbox costs.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use lockgate_wasm_host::Message;
use lockgate_wasm_host::{FunctionConfig, Grants, Invocation, LogStyle, WasmEngine};

/// Builds the probe component (release, wasm32-wasip2) and returns its path.
pub fn build_probe() -> anyhow::Result<PathBuf> {
    let status = std::process::Command::new("cargo")
        .args([
            "build",
            "--release",
            "--lib",
            "--target",
            "wasm32-wasip2",
            "-p",
            "wasm-probe",
        ])
        .status()
        .context("running cargo")?;
    anyhow::ensure!(status.success(), "building wasm-probe failed");
    Ok(PathBuf::from(
        "target/wasm32-wasip2/release/wasm_probe.wasm",
    ))
}

fn batch(size: usize, body: &str) -> Vec<Message> {
    (0..size)
        .map(|i| Message {
            message_id: format!("00000000-0000-4000-8000-{i:012}"),
            receipt_handle: "AQEB".repeat(40),
            body: body.to_string(),
            receive_count: 1,
            sent_timestamp: 1_700_000_000_000,
            first_receive_timestamp: 1_700_000_000_001,
            sender_id: "AIDAIENQZJOLO23YVJ4VO".into(),
            message_group_id: None,
            message_deduplication_id: None,
            sequence_number: None,
            other_attributes: Vec::new(),
            message_attributes: Vec::new(),
            md5_of_body: "9dd4e461268c8034f5c8564e155c67a6".into(),
            event_source_arn: "arn:aws:sqs:us-east-1:000000000000:work".into(),
            aws_region: "us-east-1".into(),
        })
        .collect()
}

struct Stats {
    mean: Duration,
    p50: Duration,
    p99: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    Stats {
        mean: samples.iter().sum::<Duration>() / samples.len() as u32,
        p50: at(0.5),
        p99: at(0.99),
    }
}

pub async fn run(iterations: usize, sizes: &[usize], body: &str) -> anyhow::Result<()> {
    let component = build_probe()?;
    let engine = WasmEngine::new(4, 128 << 20).map_err(|e| anyhow::anyhow!("{e}"))?;
    let function = engine
        .load(FunctionConfig {
            name: "noop".into(),
            component,
            memory_mb: 128,
            env: Vec::new(),
            grants: Grants::default(),
            log: LogStyle::Prefixed,
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "WASM per-batch overhead (fresh instance + call + drop, no-op guest, {} B bodies, {iterations} batches each):",
        body.len()
    );
    for &size in sizes {
        let messages = batch(size, body);
        let invocation = Invocation {
            request_id: "bench".into(),
            deadline: SystemTime::now() + Duration::from_secs(3600),
        };
        // Warm up: the first instantiations touch fresh pool slots.
        for _ in 0..100 {
            function
                .handle(&invocation, &messages)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let mut samples = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let started = Instant::now();
            let failed = function
                .handle(&invocation, &messages)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            samples.push(started.elapsed());
            anyhow::ensure!(failed.is_empty(), "the no-op guest failed {failed:?}");
        }
        let wasm = stats(samples);
        // Floor: the same batch cloned into a native no-op (what the guest receives is a copy).
        let mut samples = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let started = Instant::now();
            let copy = std::hint::black_box(messages.clone());
            let failed: Vec<String> = copy
                .iter()
                .filter(|m| std::hint::black_box(m.body.is_empty()))
                .map(|m| m.message_id.clone())
                .collect();
            drop(std::hint::black_box(failed));
            samples.push(started.elapsed());
        }
        let floor = stats(samples);
        println!(
            "  batch of {size:>3}: mean {:>6.1} µs, p50 {:>6.1} µs, p99 {:>6.1} µs  (native floor mean {:>5.1} µs; sandbox costs {:>5.1} µs a batch, {:.2} µs a message)",
            us(wasm.mean),
            us(wasm.p50),
            us(wasm.p99),
            us(floor.mean),
            us(wasm.mean.saturating_sub(floor.mean)),
            us(wasm.mean) / size as f64,
        );
    }
    Ok(())
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
