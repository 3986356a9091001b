//! Starting and stopping the servers under test as child processes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub struct Server {
    pub name: &'static str,
    /// host:port
    pub host: String,
    pub child: Child,
    pub data_dir: Option<std::path::PathBuf>,
    /// Attributes every benchmark queue is created with (its encryption, for lockgate).
    pub queue_attributes: serde_json::Value,
}

/// How the lockgate under test keeps its messages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    Memory,
    /// On disk, queues created with SSE off.
    Durable,
    /// On disk, queues with SQS-managed SSE (SQS's default): encrypted at rest.
    DurableEncrypted,
}

impl Server {
    pub async fn floor() -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut command = Command::new(exe);
        command.arg("floor");
        start("floor", command, None)
    }

    pub async fn lockgate(binary: &Path, storage: Storage) -> anyhow::Result<Self> {
        let durable = storage != Storage::Memory;
        if !binary.exists() {
            bail!(
                "{} not found: run `cargo build --release` first",
                binary.display()
            );
        }
        let mut command = Command::new(binary);
        command.args(["emulator", "--bind", "127.0.0.1:0"]);
        let data_dir = durable.then(|| {
            let dir = std::env::temp_dir().join(format!("lockgate-bench-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            dir
        });
        match &data_dir {
            Some(dir) => command.arg("--data-dir").arg(dir),
            None => command.arg("--in-memory"),
        };
        command
            .env("LOCKGATE_LOG", "warn,lockgate=info")
            .env("NO_COLOR", "1");
        let (name, sse) = match storage {
            Storage::Memory => ("lockgate in-memory", "false"),
            Storage::Durable => ("lockgate durable", "false"),
            Storage::DurableEncrypted => ("lockgate durable SSE", "true"),
        };
        let mut server = start(name, command, data_dir)?;
        server.queue_attributes = serde_json::json!({ "SqsManagedSseEnabled": sse });
        Ok(server)
    }

    pub async fn moto(binary: &Path) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let host = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(&host).is_err() {
            if Instant::now() > deadline {
                bail!("moto_server did not start listening");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self {
            name: "moto_server",
            host,
            child,
            data_dir: None,
            queue_attributes: serde_json::json!({}),
        })
    }

    /// CPU time the server process has used (user + system), in clock ticks.
    pub fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the command name (which may hold spaces) start after ") ".
        let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
        let (user, system) = (fields.get(11)?, fields.get(12)?);
        Some(user.parse::<u64>().ok()? + system.parse::<u64>().ok()?)
    }

    /// Resident memory of the server process, in bytes.
    pub fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches(" kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb * 1024)
    }

    /// SIGTERM (graceful) and wait.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        if let Some(dir) = self.data_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Starts a child that prints `ready on http://HOST` on stderr; returns once it has.
pub fn start(
    name: &'static str,
    command: Command,
    data_dir: Option<std::path::PathBuf>,
) -> anyhow::Result<Server> {
    start_until(name, command, data_dir, None)
}

/// [`start`], and returns only once the child has also printed a line containing `until`.
pub fn start_until(
    name: &'static str,
    mut command: Command,
    data_dir: Option<std::path::PathBuf>,
    until: Option<&str>,
) -> anyhow::Result<Server> {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
    let host = loop {
        let Some(line) = lines.next() else {
            bail!("{name} exited before it was ready");
        };
        let line = line?;
        if let Some(rest) = line.split("ready on http://").nth(1) {
            break rest
                .split(|c: char| c.is_whitespace() || c == ')' || c == ';')
                .next()
                .unwrap_or_default()
                .to_string();
        }
    };
    if let Some(until) = until {
        loop {
            let Some(line) = lines.next() else {
                bail!("{name} exited before printing {until:?}");
            };
            if line?.contains(until) {
                break;
            }
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Ok(Server {
        name,
        host,
        child,
        data_dir,
        queue_attributes: serde_json::json!({}),
    })
}
