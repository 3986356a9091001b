//! The store when the disk fails it: a commit that cannot be made (a full disk, here a store
//! size cap) is answered 500 and nothing after it is written or handed out until a restart;
//! every acknowledged message is there after the restart and the refused one is not. A
//! truncated database refuses to start instead of starting with messages missing.

use lockgate_test_support as common;

use common::Harness;
use lockgate_emulator::{EmulatorConfig, RunningEmulator};

async fn capped(dir: &std::path::Path, max_bytes: u64) -> RunningEmulator {
    let mut config = EmulatorConfig::ephemeral();
    config.data_dir = Some(dir.to_path_buf());
    config.sqs.max_store_bytes = Some(max_bytes);
    RunningEmulator::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_is_never_delivered_and_stops_all_writes() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = capped(dir.path(), 256 * 1024).await;
    let client = common::client(&emulator.endpoint(), "AKIDEXAMPLE");
    let url = client
        .create_queue()
        .queue_name("full")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let body = "x".repeat(4096);
    let mut acknowledged = Vec::new();
    let refused = loop {
        let n = acknowledged.len();
        let result = client
            .send_message()
            .queue_url(&url)
            .message_body(format!("{n} {body}"))
            .send()
            .await;
        match result {
            Ok(_) => acknowledged.push(n),
            Err(err) => {
                let (code, message, status) = common::error_of(err);
                assert_eq!((code.as_str(), status), ("InternalError", 500), "{message}");
                break n;
            }
        }
        assert!(n < 1000, "the store cap never filled");
    };
    assert!(!acknowledged.is_empty());
    // From now on every write is refused, and a receive hands nothing out.
    let err = client
        .send_message()
        .queue_url(&url)
        .message_body("after")
        .send()
        .await
        .unwrap_err();
    let (_, message, status) = common::error_of(err);
    assert_eq!(status, 500);
    assert!(message.contains("until the emulator restarts"), "{message}");
    let err = client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::error_of(err).2, 500);
    // And the health check says so.
    let (status, _, body) = common::raw_request(emulator.addr, "GET", "/health", &[], b"").await;
    assert_eq!(status, 503, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "not ready");
    assert_eq!(health["store"]["state"], "failed");
    assert!(
        health["store"]["error"].as_str().unwrap().contains("full"),
        "{body}"
    );
    emulator.shutdown().await;

    // Restarted without the cap: exactly the acknowledged messages.
    let h = Harness::durable_in(dir).await;
    let mut got = Vec::new();
    loop {
        let batch = h.receive(&url, 10).await;
        if batch.is_empty() {
            break;
        }
        got.extend(batch.iter().map(|m| {
            m.body
                .as_deref()
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse::<usize>()
                .unwrap()
        }));
    }
    got.sort();
    assert_eq!(got, acknowledged);
    assert!(!got.contains(&refused));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_database_refuses_to_start() {
    let h = Harness::durable().await;
    let url = h.create("kept").await;
    for i in 0..200 {
        h.send(&url, &format!("message {i} {}", "y".repeat(512)))
            .await;
    }
    let dir = h.dir.as_ref().unwrap().path().to_path_buf();
    h.emulator.shutdown().await;
    let db = dir.join("lockgate.sqlite3");
    let len = std::fs::metadata(&db).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    file.set_len(len / 2).unwrap();
    drop(file);
    let mut config = EmulatorConfig::ephemeral();
    config.data_dir = Some(dir.clone());
    let err = RunningEmulator::start(config)
        .await
        .err()
        .expect("a truncated store does not start");
    assert!(err.contains("damaged"), "{err}");
    assert!(err.contains(&db.display().to_string()), "{err}");
}

/// A record the store cannot read (its JSON damaged by hand here) stops the start with an
/// error naming it, whichever part is damaged: nothing is dropped silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_record_stops_the_start_naming_it() {
    // (table, column, the damage, whether the queue encrypts, what the error says)
    for (table, column, damage, sse, expected) in [
        (
            "messages",
            "extras",
            "'{damaged'",
            "false",
            "has unreadable extras",
        ),
        (
            "messages",
            "sealed",
            "zeroblob(40)",
            "true",
            "encrypted form is truncated or of an unknown layout",
        ),
        (
            "messages",
            "sealed",
            "X'0100000000000000000000000000000000000000000000000000000000000000000000000000000000'",
            "true",
            "cannot be decrypted with key sqs-managed",
        ),
        (
            "queues",
            "tags",
            "'{damaged'",
            "true",
            "queue orders has unreadable tags",
        ),
        (
            "queues",
            "attributes",
            "'{damaged'",
            "true",
            "queue orders has unreadable attributes",
        ),
    ] {
        let h = Harness::durable().await;
        let url = h
            .create_with("orders", &[("SqsManagedSseEnabled", sse)])
            .await;
        h.client
            .send_message()
            .queue_url(&url)
            .message_body("with an attribute")
            .message_attributes(
                "n",
                aws_sdk_sqs::types::MessageAttributeValue::builder()
                    .data_type("Number")
                    .string_value("1")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let dir = h.dir.as_ref().unwrap().path().to_path_buf();
        let keep = h.dir;
        h.emulator.shutdown().await;
        {
            let conn = rusqlite::Connection::open(dir.join("lockgate.sqlite3")).unwrap();
            let changed = conn
                .execute(&format!("UPDATE {table} SET {column} = {damage}"), [])
                .unwrap();
            assert_eq!(changed, 1, "{table}.{column}");
        }
        let mut config = EmulatorConfig::ephemeral();
        config.data_dir = Some(dir.clone());
        let err = RunningEmulator::start(config)
            .await
            .err()
            .unwrap_or_else(|| panic!("started with damaged {table}.{column}"));
        assert!(err.contains(expected), "{err}");
        assert!(err.contains(&dir.display().to_string()), "{err}");
        drop(keep);
    }
}
