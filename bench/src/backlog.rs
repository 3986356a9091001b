//! Backlogs larger than memory (`lockgate-bench backlog`): a durable queue filled in steps to
//! each size, and at each step the emulator's resident memory (and per message, above the
//! same emulator empty) while full, a restart timed from process start to serving, and the
//! resident memory after it; then the largest backlog drained. A second queue holds large
//! messages (2,000 × 1 MiB by default), where memory must not follow the payload.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crate::servers::{Server, Storage};
use crate::workloads::{create_queue, fill, receive_delete_for, restart, settle_disk};

pub struct Sizes {
    /// Backlog sizes, in increasing order (the queue is filled from one to the next).
    pub steps: Vec<usize>,
    pub body_bytes: usize,
    pub large: usize,
    pub large_bytes: usize,
    pub connections: usize,
}

const MIB: f64 = 1048576.0;

pub async fn run(binary: &Path, sizes: &Sizes) -> anyhow::Result<()> {
    println!(
        "lockgate-bench backlog: durable, SSE off, {} B bodies in batches of 10 on {} connections",
        sizes.body_bytes, sizes.connections
    );
    growth(binary, sizes).await?;
    if sizes.large > 0 {
        large(binary, sizes).await?;
    }
    Ok(())
}

/// Resident memory and restart time against backlog size; then the drain of the largest.
async fn growth(binary: &Path, sizes: &Sizes) -> anyhow::Result<()> {
    let mut server = Server::lockgate(binary, Storage::Durable).await?;
    let url = create_queue(
        &server.host,
        "bench-large-backlog",
        server.queue_attributes.clone(),
    )
    .await?;
    let empty = server.rss_bytes().unwrap_or(0) as f64;
    println!("empty emulator: resident {:.0} MiB", empty / MIB);
    println!(
        "{:>11} {:>11} {:>13} {:>10} {:>11} {:>14}",
        "messages", "fill msg/s", "RSS full MiB", "B/message", "restart s", "RSS after MiB"
    );
    let body = "x".repeat(sizes.body_bytes);
    let mut filled = 0u64;
    for &step in &sizes.steps {
        let started = Instant::now();
        let want = (step as u64).saturating_sub(filled) as usize;
        let acknowledged = fill(&server.host, &url, &body, want, sizes.connections, 10).await?;
        let rate = acknowledged as f64 / started.elapsed().as_secs_f64();
        filled += acknowledged;
        let full = server.rss_bytes().unwrap_or(0) as f64;
        let (restarted, recovery) = restart(server, binary)?;
        server = restarted;
        let after = server.rss_bytes().unwrap_or(0) as f64;
        println!(
            "{filled:>11} {rate:>11.0} {:>13.0} {:>10.1} {:>11.2} {:>14.0}",
            full / MIB,
            (full - empty) / filled as f64,
            recovery.as_secs_f64(),
            after / MIB
        );
    }
    let (drained, seconds) = drain_after_restart(&server, &url, sizes.connections).await?;
    println!(
        "drained {drained} of {filled} messages in {seconds:.1} s = {:.0} msgs/s; resident at the end {:.0} MiB",
        drained as f64 / seconds,
        server.rss_bytes().unwrap_or(0) as f64 / MIB
    );
    print_reads(&server).await?;
    server.stop();
    Ok(())
}

/// Drains `url` (a queue URL from before the restart, so on the old port) on the restarted
/// `server`, the disk settled first: the messages drained and the seconds it took.
async fn drain_after_restart(
    server: &Server,
    url: &str,
    connections: usize,
) -> anyhow::Result<(u64, f64)> {
    let url = url.replace(url.split('/').nth(2).unwrap_or_default(), &server.host);
    settle_disk();
    let started = Instant::now();
    let drained = receive_delete_for(
        &server.host,
        &url,
        connections,
        Arc::new(AtomicBool::new(false)),
        true,
    )
    .await?;
    Ok((drained, started.elapsed().as_secs_f64()))
}

/// Large messages: resident memory full and after a restart, and the drain.
async fn large(binary: &Path, sizes: &Sizes) -> anyhow::Result<()> {
    let server = Server::lockgate(binary, Storage::Durable).await?;
    let url = create_queue(
        &server.host,
        "bench-large-messages",
        serde_json::json!({"SqsManagedSseEnabled": "false", "MaximumMessageSize": "1048576"}),
    )
    .await?;
    let empty = server.rss_bytes().unwrap_or(0) as f64;
    let body = "y".repeat(sizes.large_bytes);
    let started = Instant::now();
    let acknowledged = fill(&server.host, &url, &body, sizes.large, sizes.connections, 1).await?;
    let fill_seconds = started.elapsed().as_secs_f64();
    let full = server.rss_bytes().unwrap_or(0) as f64;
    let (server, recovery) = restart(server, binary)?;
    let after = server.rss_bytes().unwrap_or(0) as f64;
    let payload = acknowledged as f64 * sizes.large_bytes as f64;
    println!(
        "{acknowledged} messages of {:.0} KiB ({:.0} MiB) filled in {fill_seconds:.1} s: resident {:.0} MiB full (empty: {:.0} MiB), {:.0} MiB after a restart of {:.2} s",
        sizes.large_bytes as f64 / 1024.0,
        payload / MIB,
        full / MIB,
        empty / MIB,
        after / MIB,
        recovery.as_secs_f64()
    );
    let (drained, seconds) = drain_after_restart(&server, &url, sizes.connections).await?;
    println!(
        "drained {drained} large messages at {:.0} msgs/s; resident at the end {:.0} MiB",
        drained as f64 / seconds,
        server.rss_bytes().unwrap_or(0) as f64 / MIB
    );
    server.stop();
    Ok(())
}

/// How the deliveries found their contents: in the cache, or read from the store.
async fn print_reads(server: &Server) -> anyhow::Result<()> {
    let mut conn = crate::http::Connection::open(&server.host).await?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {}\r\n\r\n", server.host);
    let (_, body) = conn.send(request.as_bytes()).await?;
    let text = String::from_utf8_lossy(&body);
    let value = |name: &str| {
        text.lines()
            .find(|l| l.split([' ', '{']).next() == Some(name))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    println!(
        "contents since the restart: {:.0} delivered from the cache, {:.0} read from the store; the store's writer committed {:.0} times, busy {:.1} s",
        value("lockgate_store_content_hits_total"),
        value("lockgate_store_content_reads_total"),
        value("lockgate_store_commit_seconds_count"),
        value("lockgate_store_commit_seconds_sum")
    );
    Ok(())
}
