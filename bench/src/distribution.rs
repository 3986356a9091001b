//! What users download and run: the sizes of the static binaries and of the container image,
//! and the time from starting them to the first successful SQS request — the binary started
//! directly, and `docker run` of the image — beside the published figures of the emulators
//! CI jobs move from (which cannot be pulled here, so they are quoted, not measured).

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Published image sizes of the peers, as their registries list them (compressed).
const PEERS: &[(&str, &str, &str)] = &[
    (
        "LocalStack",
        "about 1.8 GB",
        "Docker Hub, localstack/localstack (needs an auth token since March 2026)",
    ),
    (
        "ElasticMQ (JVM)",
        "about 130 MB",
        "Docker Hub, softwaremill/elasticmq",
    ),
    (
        "ElasticMQ (native)",
        "about 30 MB",
        "Docker Hub, softwaremill/elasticmq-native",
    ),
];

/// Starts to time, each run: the median is printed with the spread.
const RUNS: usize = 7;

pub fn run(dist: &Path, image: &str) -> anyhow::Result<()> {
    for binary in ["lockgate", "lockgate-emulator"] {
        match std::fs::metadata(dist.join(binary)) {
            Ok(meta) => println!("{binary:<20} {:>6.1} MB", meta.len() as f64 / 1e6),
            Err(_) => println!(
                "{binary:<20} not built ({} missing: run scripts/release.sh)",
                dist.join(binary).display()
            ),
        }
    }
    let emulator = dist.join("lockgate-emulator");
    if emulator.exists() {
        let times = (0..RUNS)
            .map(|_| binary_start(&emulator))
            .collect::<anyhow::Result<Vec<_>>>()?;
        report("lockgate-emulator started to first request", times);
    }
    match image_size(image) {
        Some(size) => {
            println!(
                "image {image:<14} {:>6.1} MB (uncompressed)",
                size as f64 / 1e6
            );
            let runs = (0..RUNS)
                .map(|_| docker_start(image))
                .collect::<anyhow::Result<Vec<_>>>()?;
            report(
                "docker run to first request",
                runs.iter().map(|r| r.0).collect(),
            );
            report(
                "docker stop (SIGTERM) to exited",
                runs.iter().map(|r| r.1).collect(),
            );
        }
        None => println!("image {image} not built (run scripts/image.sh)"),
    }
    println!("published sizes of the peers (not measured here):");
    for (name, size, source) in PEERS {
        println!("  {name:<20} {size:<14} {source}");
    }
    Ok(())
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what}: median {:.1} ms (min {:.1}, max {:.1}, {} runs)",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len()
    );
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// From spawning the binary to its first answered ListQueues.
fn binary_start(binary: &Path) -> anyhow::Result<Duration> {
    let port = free_port()?;
    let started = Instant::now();
    let mut child = Command::new(binary)
        .args(["--in-memory", "--bind", &format!("127.0.0.1:{port}")])
        .env("LOCKGATE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let ready = first_request(port, started);
    let _ = child.kill();
    let _ = child.wait();
    ready
}

/// From `docker run` to the container's first answered ListQueues, and from `docker stop`
/// (SIGTERM) until the container has exited.
fn docker_start(image: &str) -> anyhow::Result<(Duration, Duration)> {
    let port = free_port()?;
    let started = Instant::now();
    let out = Command::new("docker")
        .args(["run", "-d", "--rm", "--network", "host", "-e"])
        .arg(format!("LOCKGATE_BIND=127.0.0.1:{port}"))
        .args(["-e", "LOCKGATE_IN_MEMORY=true", image])
        .output()
        .context("running docker")?;
    if !out.status.success() {
        bail!("docker run: {}", String::from_utf8_lossy(&out.stderr));
    }
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let ready = first_request(port, started);
    let stopping = Instant::now();
    let stopped = Command::new("docker")
        .args(["stop", "--time", "10", &id])
        .output()
        .context("stopping the container")?;
    if !stopped.status.success() {
        bail!("docker stop: {}", String::from_utf8_lossy(&stopped.stderr));
    }
    Ok((ready?, stopping.elapsed()))
}

/// Polls until a ListQueues on `port` is answered 200; the time since `started`.
fn first_request(port: u16, started: Instant) -> anyhow::Result<Duration> {
    use std::io::{Read, Write};
    let request = format!(
        "GET /?Action=ListQueues HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    );
    let deadline = started + Duration::from_secs(30);
    loop {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let mut reply = Vec::new();
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_to_end(&mut reply).is_ok()
                && reply.starts_with(b"HTTP/1.1 200")
            {
                return Ok(started.elapsed());
            }
        }
        if Instant::now() > deadline {
            bail!("no answer on port {port} within 30 s");
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn image_size(image: &str) -> Option<u64> {
    let out = Command::new("docker")
        .args(["image", "inspect", image, "--format", "{{.Size}}"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}
