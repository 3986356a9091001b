//! SIGKILL the emulator process in the middle of a stream of sends and deletes; after a
//! restart on the same data directory every acknowledged send is there and no acknowledged
//! delete comes back.

#[path = "../../local-emulator/tests/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};

/// Starts `lockgate emulator` on an ephemeral port and returns it with its endpoint.
fn start_emulator(data_dir: &std::path::Path) -> (Child, String) {
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
    let endpoint = loop {
        let line = lines
            .next()
            .expect("emulator printed its endpoint")
            .unwrap();
        if let Some(rest) = line.split("ready on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, endpoint)
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
