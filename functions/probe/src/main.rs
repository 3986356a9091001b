//! A function for end-to-end tests. Each message body is a JSON command:
//! `{"do":"ok"}`, `{"do":"fail"}`, `{"do":"fail-until","attempt":3}`, `{"do":"panic"}`,
//! `{"do":"exit"}` (the process dies mid-batch), `{"do":"sleep","ms":N}`; other fields are
//! ignored (a large payload pads its command).
//! Every message it completes is appended to `$PROBE_LOG` as `<id> <body> <group> <attempt>`
//! (a body over 4 KiB as `len:<bytes>`),
//! and the number of invocations running at once (across processes) is tracked in
//! `$PROBE_LOG.concurrency` via exclusive lock files, so tests can check limits.

use std::io::Write;
use std::time::Duration;

use lockgate_sdk::{Batch, Error};
use serde::Deserialize;

#[derive(Deserialize)]
struct Command {
    #[serde(rename = "do")]
    action: String,
    #[serde(default)]
    ms: u64,
    #[serde(default)]
    attempt: u32,
}

fn log_path() -> Option<String> {
    std::env::var("PROBE_LOG").ok()
}

fn append(line: &str) {
    if let Some(path) = log_path() {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("probe log opens");
        // One write per line: concurrent processes append whole lines.
        f.write_all(format!("{line}\n").as_bytes())
            .expect("probe log writes");
    }
}

/// Marks this invocation as running with a per-process file; records how many are present.
struct Running(Option<String>);

impl Running {
    fn start() -> Self {
        let Some(log) = log_path() else {
            return Self(None);
        };
        let dir = format!("{log}.running");
        std::fs::create_dir_all(&dir).expect("running dir");
        let me = format!("{dir}/{}", std::process::id());
        std::fs::write(&me, b"").expect("running marker");
        let now = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        append(&format!("concurrency {now}"));
        Self(Some(me))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(me) = &self.0 {
            let _ = std::fs::remove_file(me);
        }
    }
}

async fn handle(batch: Batch) -> Result<Vec<String>, Error> {
    let _running = Running::start();
    append(&format!("batch {}", batch.messages.len()));
    let mut failed = Vec::new();
    // Like a FIFO-aware handler: after a failure, the rest of that group is not run.
    let mut failed_groups = std::collections::HashSet::new();
    for m in &batch.messages {
        if m.group_id().is_some_and(|g| failed_groups.contains(g)) {
            failed.push(m.id().to_string());
            continue;
        }
        let command: Command = m.json()?;
        match command.action.as_str() {
            "ok" => {}
            "fail" => {
                failed.push(m.id().to_string());
                failed_groups.extend(m.group_id().map(str::to_string));
                continue;
            }
            "fail-until" if m.receive_count() < command.attempt => {
                failed.push(m.id().to_string());
                failed_groups.extend(m.group_id().map(str::to_string));
                continue;
            }
            "fail-until" => {}
            "panic" => panic!("asked to panic"),
            "exit" => std::process::exit(3),
            "sleep" => tokio::time::sleep(Duration::from_millis(command.ms)).await,
            // Starts a long-lived child (as a function that shells out might), logs its pid,
            // then sleeps: the runtime's teardown must take the child too.
            "spawn" => {
                let child = std::process::Command::new("sleep").arg("600").spawn()?;
                append(&format!("spawned {}", child.id()));
                tokio::time::sleep(Duration::from_millis(command.ms)).await;
            }
            other => return Err(format!("unknown command {other}").into()),
        }
        let body = if m.body().len() > 4096 {
            format!("len:{}", m.body().len())
        } else {
            m.body().to_string()
        };
        append(&format!(
            "done {} {} {} {}",
            m.id(),
            body,
            m.group_id().unwrap_or("-"),
            m.receive_count()
        ));
    }
    Ok(failed)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lockgate_sdk::run_batch(handle).await
}
