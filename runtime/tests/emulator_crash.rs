//! SIGKILL the emulator process in the middle of a stream of sends and deletes; after a
//! restart on the same data directory every acknowledged send is there and no acknowledged
//! delete comes back.

use lockgate_test_support as common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};

/// Starts `lockgate emulator` on an ephemeral port and returns it with its endpoint.
fn start_emulator(data_dir: &std::path::Path) -> (Child, String) {
    let (child, endpoint, _) = start_emulator_logged(data_dir);
    (child, endpoint)
}

/// [`start_emulator`], also returning what it logged before it was ready.
fn start_emulator_logged(data_dir: &std::path::Path) -> (Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lockgate"))
        .args(["emulator", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("LOCKGATE_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lockgate starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut log = String::new();
    let endpoint = loop {
        let line = lines
            .next()
            .expect("emulator printed its endpoint")
            .unwrap();
        log.push_str(&line);
        log.push('\n');
        if let Some(rest) = line.split("ready on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, endpoint, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, endpoint) = start_emulator(dir.path());
    let client = common::client(&endpoint, "AKIDEXAMPLE");
    let url = client
        .create_queue()
        .queue_name("crash")
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "1",
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();

    let sent = Arc::new(Mutex::new(HashSet::<String>::new()));
    let deleted = Arc::new(Mutex::new(HashSet::<String>::new()));
    // Deletes sent whose reply may have been cut off by the kill: those messages may be gone.
    let delete_requested = Arc::new(Mutex::new(HashSet::<String>::new()));
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..4 {
        let client = client.clone();
        let url = url.clone();
        let sent = sent.clone();
        workers.spawn(async move {
            for n in 0.. {
                let bodies: Vec<String> = (0..10).map(|i| format!("w{worker}-{n}-{i}")).collect();
                let mut req = client.send_message_batch().queue_url(&url);
                for (i, body) in bodies.iter().enumerate() {
                    req = req.entries(
                        SendMessageBatchRequestEntry::builder()
                            .id(format!("e{i}"))
                            .message_body(body)
                            .build()
                            .unwrap(),
                    );
                }
                match req.send().await {
                    Ok(out) if out.failed.is_empty() => sent.lock().unwrap().extend(bodies),
                    _ => return, // the server is gone
                }
            }
        });
    }
    {
        let client = client.clone();
        let url = url.clone();
        let deleted = deleted.clone();
        let delete_requested = delete_requested.clone();
        workers.spawn(async move {
            loop {
                let Ok(out) = client
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .send()
                    .await
                else {
                    return;
                };
                let messages = out.messages.unwrap_or_default();
                if messages.is_empty() {
                    continue;
                }
                delete_requested
                    .lock()
                    .unwrap()
                    .extend(messages.iter().map(|m| m.body.clone().unwrap()));
                let mut req = client.delete_message_batch().queue_url(&url);
                for (i, m) in messages.iter().enumerate() {
                    req = req.entries(
                        DeleteMessageBatchRequestEntry::builder()
                            .id(format!("d{i}"))
                            .receipt_handle(m.receipt_handle.clone().unwrap())
                            .build()
                            .unwrap(),
                    );
                }
                match req.send().await {
                    Ok(out) if out.failed.is_empty() => deleted
                        .lock()
                        .unwrap()
                        .extend(messages.into_iter().map(|m| m.body.unwrap())),
                    _ => return,
                }
            }
        });
    }
    // Let real traffic build up, then kill the process without warning.
    common::eventually("acknowledged sends and deletes", || {
        let (s, d) = (sent.lock().unwrap().len(), deleted.lock().unwrap().len());
        let enough = s >= 3000 && d >= 300;
        async move { enough.then_some(()) }
    })
    .await;
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    while workers.join_next().await.is_some() {}

    let (mut child, endpoint) = start_emulator(dir.path());
    let client = common::client(&endpoint, "AKIDEXAMPLE");
    let url = format!("{endpoint}/000000000000/crash");
    let mut recovered = HashSet::new();
    loop {
        let out = client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .wait_time_seconds(3)
            .send()
            .await
            .unwrap();
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        recovered.extend(messages.into_iter().map(|m| m.body.unwrap()));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let sent = sent.lock().unwrap();
    let deleted = deleted.lock().unwrap();
    let delete_requested = delete_requested.lock().unwrap();
    let missing: Vec<_> = sent
        .iter()
        .filter(|b| !delete_requested.contains(*b) && !recovered.contains(*b))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged messages lost: {missing:?}"
    );
    let resurrected: Vec<_> = deleted.intersection(&recovered).take(5).collect();
    assert!(
        resurrected.is_empty(),
        "acknowledged deletes undone: {resurrected:?}"
    );
}

#[test]
fn a_second_process_on_the_same_data_directory_exits_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let (mut first, _) = start_emulator(dir.path());
    // `lockgate up` and `lockgate emulator` open the store the same way; the emulator is the
    // quicker of the two to start.
    let second = Command::new(env!("CARGO_BIN_EXE_lockgate"))
        .args(["emulator", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("lockgate runs");
    first.kill().unwrap();
    first.wait().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("pid {}", first.id())),
        "names the holder: {stderr}"
    );
    assert!(
        stderr.contains(&dir.path().display().to_string()),
        "names the directory: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_write_ahead_log_is_reported_not_silently_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, endpoint) = start_emulator(dir.path());
    let client = common::client(&endpoint, "AKIDEXAMPLE");
    let url = client
        .create_queue()
        .queue_name("wal")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    // One commit per send: many transactions in the log.
    for i in 0..20 {
        client
            .send_message()
            .queue_url(&url)
            .message_body(format!("m{i}"))
            .send()
            .await
            .unwrap();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Flip bytes in the page of the log's second frame: every commit after it is lost to
    // SQLite's replay.
    let wal = dir.path().join("lockgate.sqlite3-wal");
    let mut bytes = std::fs::read(&wal).unwrap();
    let page_size = u32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let second_page = 32 + (24 + page_size) + 24 + 100;
    assert!(
        bytes.len() > second_page + 8,
        "the log holds several frames"
    );
    for b in &mut bytes[second_page..second_page + 8] {
        *b ^= 0xff;
    }
    std::fs::write(&wal, &bytes).unwrap();

    let (mut restarted, _, report) = start_emulator_logged(dir.path());
    restarted.kill().unwrap();
    restarted.wait().unwrap();
    assert!(report.contains("is damaged"), "{report}");
    assert!(report.contains("LOST"), "{report}");
    let kept = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("lockgate.sqlite3-wal.damaged-")
        });
    assert!(kept, "a copy of the damaged log is kept");
}
