//! The measured workloads. Every one runs `connections` keep-alive connections for a fixed
//! time and counts messages completed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use crate::http::{Connection, receipt_handles};
use crate::servers::{Server, Storage, start};

pub struct Load {
    pub duration: Duration,
    pub connections: usize,
    pub body: String,
}

pub struct Figures {
    pub send: f64,
    pub drain: f64,
    pub cycle: f64,
}

pub struct FifoFigures {
    pub ten_groups: f64,
    pub thousand_groups: f64,
}

pub async fn create_queue(
    host: &str,
    name: &str,
    attributes: serde_json::Value,
) -> anyhow::Result<String> {
    let mut conn = Connection::open(host).await?;
    let reply = conn
        .call(
            "CreateQueue",
            &json!({"QueueName": name, "Attributes": attributes}).to_string(),
        )
        .await?;
    Ok(reply["QueueUrl"]
        .as_str()
        .unwrap_or("http://floor/0/q")
        .to_string())
}

/// `base` with `extra`'s entries added.
fn with(base: &serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    let mut merged = base.clone();
    if let (Some(m), serde_json::Value::Object(e)) = (merged.as_object_mut(), extra) {
        m.extend(e);
    }
    merged
}

fn batch_body(url: &str, body: &str) -> String {
    let entries: Vec<_> = (0..10)
        .map(|i| json!({"Id": format!("m{i}"), "MessageBody": body}))
        .collect();
    json!({"QueueUrl": url, "Entries": entries}).to_string()
}

/// Writes the page cache back (sync(1)) before a timed workload, so it does not pay for the
/// writeback of what the workload before it wrote: the kernel's writeback otherwise lands at
/// random moments and moves a figure by a fifth between runs of the same build.
pub fn settle_disk() {
    let _ = std::process::Command::new("sync").status();
}

/// Sends batches of 10 from every connection until the time is up; returns msgs/s.
async fn send_for(
    host: &str,
    url: &str,
    load: &Load,
    connections: usize,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<(u64, Duration)> {
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let mut conn = Connection::open(host).await?;
        let request = conn.request("SendMessageBatch", &batch_body(url, &load.body));
        let sent = sent.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let acknowledged = conn.send_batch(&request).await?;
                sent.fetch_add(acknowledged, Ordering::Relaxed);
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok((sent.load(Ordering::Relaxed), started.elapsed()))
}

fn stop_after(duration: Duration) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(duration).await;
        flag.store(true, Ordering::Relaxed);
    });
    stop
}

pub async fn send_only(server: &Server, load: &Load) -> anyhow::Result<f64> {
    let url = create_queue(&server.host, "bench-send", server.queue_attributes.clone()).await?;
    let (n, elapsed) = send_for(
        &server.host,
        &url,
        load,
        load.connections,
        stop_after(load.duration),
    )
    .await?;
    Ok(n as f64 / elapsed.as_secs_f64())
}

/// Receives up to 10 and deletes them, from every connection, until `stop` or (when
/// `until_empty`) the queue is drained. Returns messages deleted.
pub async fn receive_delete_for(
    host: &str,
    url: &str,
    connections: usize,
    stop: Arc<AtomicBool>,
    until_empty: bool,
) -> anyhow::Result<u64> {
    let deleted = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let mut conn = Connection::open(host).await?;
        let receive = conn.request(
            "ReceiveMessage",
            &json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": if until_empty {0} else {1}}).to_string(),
        );
        let url = url.to_string();
        let deleted = deleted.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (status, body) = conn.send(&receive).await?;
                anyhow::ensure!(
                    status == 200,
                    "receive failed: {}",
                    String::from_utf8_lossy(&body)
                );
                let handles = receipt_handles(&body);
                if handles.is_empty() {
                    if until_empty {
                        break;
                    }
                    continue;
                }
                let entries: Vec<_> = handles
                    .iter()
                    .enumerate()
                    .map(|(i, h)| json!({"Id": format!("d{i}"), "ReceiptHandle": h}))
                    .collect();
                let reply = conn
                    .call(
                        "DeleteMessageBatch",
                        &json!({"QueueUrl": url, "Entries": entries}).to_string(),
                    )
                    .await?;
                let ok = reply["Successful"].as_array().map_or(0, Vec::len);
                deleted.fetch_add(ok as u64, Ordering::Relaxed);
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(deleted.load(Ordering::Relaxed))
}

pub async fn standard_suite(server: &Server, load: &Load) -> anyhow::Result<Figures> {
    let host = &server.host;
    let url = create_queue(host, "bench-standard", server.queue_attributes.clone()).await?;
    let (sent, elapsed) = send_for(
        host,
        &url,
        load,
        load.connections,
        stop_after(load.duration),
    )
    .await?;
    let send = sent as f64 / elapsed.as_secs_f64();

    settle_disk();
    let started = Instant::now();
    let drained = receive_delete_for(
        host,
        &url,
        load.connections,
        stop_after(load.duration),
        true,
    )
    .await?;
    let drain = drained as f64 / started.elapsed().as_secs_f64();
    Connection::open(host)
        .await?
        .call("DeleteQueue", &json!({"QueueUrl": url}).to_string())
        .await?;

    let cycle = cycle(server, load).await?;
    println!(
        "{:<22} send {send:>9.0}  receive+delete {drain:>9.0}  cycle {cycle:>9.0} msgs/s",
        server.name
    );
    Ok(Figures { send, drain, cycle })
}

/// Send and receive+delete running together on a new queue (half the connections each):
/// messages fully processed per second.
pub async fn cycle(server: &Server, load: &Load) -> anyhow::Result<f64> {
    let host = &server.host;
    let url = create_queue(host, "bench-cycle", server.queue_attributes.clone()).await?;
    settle_disk();
    let (senders, receivers) = (
        load.connections / 2,
        load.connections - load.connections / 2,
    );
    let stop = stop_after(load.duration);
    let started = Instant::now();
    let (sent, deleted) = tokio::join!(
        send_for(host, &url, load, senders, stop.clone()),
        receive_delete_for(host, &url, receivers, stop, false)
    );
    sent?;
    let cycle = deleted? as f64 / started.elapsed().as_secs_f64();
    Connection::open(host)
        .await?
        .call("DeleteQueue", &json!({"QueueUrl": url}).to_string())
        .await?;
    Ok(cycle)
}

/// FIFO send + receive + delete running together, spread over `groups` message groups.
async fn fifo_cycle(server: &Server, load: &Load, groups: u64) -> anyhow::Result<f64> {
    let host = &server.host;
    let url = create_queue(
        host,
        &format!("bench-{groups}.fifo"),
        with(&server.queue_attributes, json!({"FifoQueue": "true"})),
    )
    .await?;
    let stop = stop_after(load.duration);
    let counter = Arc::new(AtomicU64::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..load.connections / 2 {
        let mut conn = Connection::open(host).await?;
        let (url, stop, counter, body) = (
            url.clone(),
            stop.clone(),
            counter.clone(),
            load.body.clone(),
        );
        senders.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let entries: Vec<_> = (0..10)
                    .map(|i| {
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        json!({"Id": format!("m{i}"), "MessageBody": body,
                               "MessageGroupId": format!("g{}", n % groups),
                               "MessageDeduplicationId": n.to_string()})
                    })
                    .collect();
                conn.call(
                    "SendMessageBatch",
                    &json!({"QueueUrl": url, "Entries": entries}).to_string(),
                )
                .await?;
            }
            anyhow::Ok(())
        });
    }
    let started = Instant::now();
    let deleted = receive_delete_for(
        host,
        &url,
        load.connections - load.connections / 2,
        stop,
        false,
    )
    .await?;
    let rate = deleted as f64 / started.elapsed().as_secs_f64();
    while let Some(r) = senders.join_next().await {
        r??;
    }
    Ok(rate)
}

pub async fn fifo_suite(server: &Server, load: &Load) -> anyhow::Result<FifoFigures> {
    Ok(FifoFigures {
        ten_groups: fifo_cycle(server, load, 10).await?,
        thousand_groups: fifo_cycle(server, load, 1000).await?,
    })
}

/// Sends about `count` messages (batches of ten from every connection) to a new queue `name`;
/// returns its URL, the messages the server acknowledged, and how long it took.
async fn fill_queue(
    server: &Server,
    load: &Load,
    name: &str,
    count: usize,
) -> anyhow::Result<(String, u64, Duration)> {
    let url = create_queue(&server.host, name, server.queue_attributes.clone()).await?;
    let started = Instant::now();
    let total = fill(&server.host, &url, &load.body, count, load.connections, 10).await?;
    Ok((url, total, started.elapsed()))
}

/// Sends about `count` messages of `body` to `url` in batches of `per_batch` (whole batches
/// on each of `connections` connections: `count` rounded up); returns the messages the server
/// acknowledged.
pub async fn fill(
    host: &str,
    url: &str,
    body: &str,
    count: usize,
    connections: usize,
    per_batch: usize,
) -> anyhow::Result<u64> {
    let per_conn = count.div_ceil(per_batch * connections);
    let entries: Vec<_> = (0..per_batch)
        .map(|i| json!({"Id": format!("m{i}"), "MessageBody": body}))
        .collect();
    let batch = json!({"QueueUrl": url, "Entries": entries}).to_string();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let mut conn = Connection::open(host).await?;
        let request = conn.request("SendMessageBatch", &batch);
        tasks.spawn(async move {
            let mut acknowledged = 0;
            for _ in 0..per_conn {
                acknowledged += conn.send_batch(&request).await?;
            }
            anyhow::Ok(acknowledged)
        });
    }
    let mut total = 0;
    while let Some(r) = tasks.join_next().await {
        total += r??;
    }
    Ok(total)
}

/// Stops a durable lockgate emulator and starts it again on its data directory; returns it
/// and the time from process start until it served (recovery).
pub fn restart(server: Server, binary: &std::path::Path) -> anyhow::Result<(Server, Duration)> {
    let data_dir = server
        .data_dir
        .clone()
        .context("a restart needs a durable server")?;
    let (name, attributes) = (server.name, server.queue_attributes.clone());
    let mut keep = server;
    keep.data_dir = None;
    keep.stop();
    let mut command = std::process::Command::new(binary);
    command
        .args(["emulator", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .env("LOCKGATE_LOG", "warn,lockgate=info")
        .env("NO_COLOR", "1");
    let started = Instant::now();
    let mut server = start(name, command, None)?;
    let recovery = started.elapsed();
    server.data_dir = Some(data_dir);
    server.queue_attributes = attributes;
    Ok((server, recovery))
}

/// Fills a durable emulator with `count` messages, reports resident memory against the
/// payload, restarts it (recovery time), and drains it.
pub async fn backlog(
    server: Server,
    binary: &std::path::Path,
    load: &Load,
    count: usize,
) -> anyhow::Result<()> {
    let (url, total, elapsed) = fill_queue(&server, load, "bench-backlog", count).await?;
    let total = total as usize;
    let fill = total as f64 / elapsed.as_secs_f64();
    let payload = (total * load.body.len()) as f64;
    let rss = server.rss_bytes().unwrap_or(0) as f64;
    println!(
        "backlog: {total} messages of {} B filled at {fill:.0} msgs/s (durable); resident memory {:.0} MiB = {:.2}× the payload",
        load.body.len(),
        rss / 1048576.0,
        rss / payload
    );
    let (server, recovery) = restart(server, binary)?;
    let rss = server.rss_bytes().unwrap_or(0) as f64;
    println!(
        "backlog: restart recovered {total} messages in {:.2} s; resident memory after recovery {:.0} MiB = {:.2}× the payload",
        recovery.as_secs_f64(),
        rss / 1048576.0,
        rss / payload
    );
    let url = url.replace(url.split('/').nth(2).unwrap_or_default(), &server.host);
    settle_disk();
    let started = Instant::now();
    let never = Arc::new(AtomicBool::new(false));
    let drained = receive_delete_for(&server.host, &url, load.connections, never, true).await?;
    println!(
        "backlog: drained {drained} messages at {:.0} msgs/s (durable)",
        drained as f64 / started.elapsed().as_secs_f64()
    );
    server.stop();
    Ok(())
}

/// Start-up recovery of `count` durable messages without and with SQS-managed SSE (the
/// default for a new queue). A start reads the messages' index alone, so the two should not
/// differ: nothing is opened at start.
pub async fn recovery(binary: &std::path::Path, load: &Load, count: usize) -> anyhow::Result<()> {
    let mut times = Vec::new();
    for storage in [Storage::Durable, Storage::DurableEncrypted] {
        let server = Server::lockgate(binary, storage).await?;
        let (_, total, _) = fill_queue(&server, load, "bench-recovery", count).await?;
        let (server, recovery) = restart(server, binary)?;
        server.stop();
        times.push((total, recovery));
    }
    let [(total, plain), (_, sealed)] = times[..] else {
        unreachable!("two runs")
    };
    println!(
        "start-up recovery of {total} durable messages of {} B: {:.2} s without SSE, {:.2} s with SQS-managed SSE ({:.2}×)",
        load.body.len(),
        plain.as_secs_f64(),
        sealed.as_secs_f64(),
        sealed.as_secs_f64() / plain.as_secs_f64()
    );
    Ok(())
}

/// Receives parked in a long poll on `queue`, from the emulator's /metrics.
async fn receives_waiting(host: &str, queue: &str) -> anyhow::Result<u64> {
    let mut conn = Connection::open(host).await?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let (status, body) = conn.send(request.as_bytes()).await?;
    anyhow::ensure!(status == 200, "/metrics answered {status}");
    let text = String::from_utf8_lossy(&body);
    let label = format!("queue=\"{queue}\"");
    Ok(text
        .lines()
        .filter(|l| l.starts_with("lockgate_queue_receives_waiting{") && l.contains(&label))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0))
}

/// `count` receives parked in 20 s long polls on an empty queue: the server's CPU use while
/// they wait (it should be none: a parked receive is a sleeping task).
pub async fn parked_polls(server: &Server, count: usize) -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let url = create_queue(&server.host, "bench-parked", json!({})).await?;
    let mut polls = Vec::with_capacity(count);
    for _ in 0..count {
        let conn = Connection::open(&server.host).await?;
        let request = conn.request(
            "ReceiveMessage",
            &json!({"QueueUrl": url, "WaitTimeSeconds": 20}).to_string(),
        );
        polls.push((conn, request));
    }
    for (conn, request) in &mut polls {
        conn.stream_mut().write_all(request).await?;
    }
    // Every receive must be parked before the CPU is measured: the emulator counts them.
    let deadline = Instant::now() + Duration::from_secs(30);
    let parked = loop {
        let parked = receives_waiting(&server.host, "bench-parked").await?;
        if parked >= count as u64 || Instant::now() > deadline {
            break parked;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    anyhow::ensure!(
        parked == count as u64,
        "only {parked} of {count} long polls parked (the connection cap or the open-file limit?)"
    );
    let before = server
        .cpu_ticks()
        .context("reading the server's CPU time")?;
    let window = Duration::from_secs(5);
    tokio::time::sleep(window).await;
    let after = server
        .cpu_ticks()
        .context("reading the server's CPU time")?;
    // Linux counts process CPU time in 1/100 s ticks (USER_HZ).
    let percent = (after - before) as f64 / window.as_secs_f64();
    let still = receives_waiting(&server.host, "bench-parked").await?;
    println!(
        "{count} parked long polls ({still} still parked at the end): server CPU {percent:.1}% over {} s, resident {} MiB",
        window.as_secs(),
        server.rss_bytes().unwrap_or(0) / (1 << 20)
    );
    Ok(())
}
