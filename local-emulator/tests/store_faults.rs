//! The store when the disk fails it: a commit that cannot be made (a full disk, here a store
//! size cap) is answered 500 and nothing after it is written or handed out until a restart;
//! every acknowledged message is there after the restart and the refused one is not. A
//! truncated database refuses to start instead of starting with messages missing; a damaged
//! message is an error for that message alone.

use lockgate_test_support as common;

use common::Harness;
use lockgate_emulator::{EmulatorConfig, RunningEmulator, StartError};

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
    assert!(matches!(err, StartError::DataDir(_)), "{err:?}");
    let err = err.to_string();
    assert!(err.contains("damaged"), "{err}");
    assert!(err.contains(&db.display().to_string()), "{err}");
}

/// A queue or index record the store cannot read (damaged by hand here) stops the start
/// with an error naming it: nothing is dropped silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_queue_or_index_record_stops_the_start_naming_it() {
    // (table, column, the damage, what the error says)
    for (table, column, broken, expected) in [
        (
            "queues",
            "tags",
            "'{damaged'",
            "queue orders has unreadable tags",
        ),
        (
            "queues",
            "attributes",
            "'{damaged'",
            "queue orders has unreadable attributes",
        ),
        (
            "message_index",
            "sent_ms",
            "'damaged'",
            "Invalid column type Text at index: 4, name: sent_ms",
        ),
    ] {
        let h = Harness::durable().await;
        let url = h.create("orders").await;
        h.send(&url, "kept").await;
        let dir = h.dir.as_ref().unwrap().path().to_path_buf();
        let keep = h.dir;
        h.emulator.shutdown().await;
        damage(&dir, &format!("UPDATE {table} SET {column} = {broken}"));
        let mut config = EmulatorConfig::ephemeral();
        config.data_dir = Some(dir.clone());
        let err = RunningEmulator::start(config)
            .await
            .err()
            .unwrap_or_else(|| panic!("started with damaged {table}.{column}"))
            .to_string();
        assert!(err.contains(expected), "{err}");
        assert!(err.contains(&dir.display().to_string()), "{err}");
        drop(keep);
    }
}

fn damage(dir: &std::path::Path, sql: &str) {
    let conn = rusqlite::Connection::open(dir.join("lockgate.sqlite3")).unwrap();
    let changed = conn.execute(sql, []).unwrap();
    assert_eq!(changed, 1, "{sql}");
}

/// A message whose content cannot be read (its row damaged by hand) does not stop the start
/// and does not hold back the others: they are delivered, and it is an error naming it and why
/// when it is all a receive would return. It stays in the queue (in flight, then visible again),
/// so a redrive policy moves it to the dead-letter queue like any message that keeps failing;
/// the console shows it with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_message_is_an_error_for_it_alone() {
    // (the damage to the middle message's content row, whether its queue encrypts, the reason)
    for (damage_sql, sse, expected) in [
        (
            "UPDATE message_contents SET extras = '{damaged' WHERE seq = 2",
            "false",
            "its extras are unreadable",
        ),
        (
            "UPDATE message_contents SET sealed = zeroblob(40) WHERE seq = 2",
            "true",
            "its encrypted form is truncated or of an unknown layout",
        ),
        (
            "UPDATE message_contents SET sealed = X'0100000000000000000000000000000000000000000000000000000000000000000000000000000000' WHERE seq = 2",
            "true",
            "cannot be decrypted with key sqs-managed",
        ),
    ] {
        let h = Harness::durable().await;
        let dlq = h.create("orders-dlq").await;
        let dlq_arn = h.attr(&dlq, "QueueArn").await.unwrap();
        let url = h
            .create_with(
                "orders",
                &[
                    ("SqsManagedSseEnabled", sse),
                    ("VisibilityTimeout", "0"),
                    (
                        "RedrivePolicy",
                        &format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#),
                    ),
                ],
            )
            .await;
        for body in ["first", "damaged", "third"] {
            h.client
                .send_message()
                .queue_url(&url)
                .message_body(body)
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
        }
        let damaged_id: String = {
            let dir = h.dir.as_ref().unwrap().path();
            let conn = rusqlite::Connection::open(dir.join("lockgate.sqlite3")).unwrap();
            let id: Vec<u8> = conn
                .query_row(
                    "SELECT message_id FROM message_contents WHERE seq = 2",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
            format!(
                "{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            )
        };
        let h = {
            let dir = h.dir.as_ref().unwrap().path().to_path_buf();
            let keep = h.dir;
            h.emulator.shutdown().await;
            damage(&dir, damage_sql);
            Harness::durable_in(keep.unwrap()).await
        };
        // The others are delivered (the damaged one is taken and left in flight).
        let got = h.receive(&url, 10).await;
        let mut bodies: Vec<&str> = got.iter().map(|m| m.body().unwrap()).collect();
        bodies.sort();
        assert_eq!(bodies, ["first", "third"], "{damage_sql}");
        for m in &got {
            h.delete(&url, m).await;
        }
        // Alone, it is an error that names it and why.
        let err = h
            .client
            .receive_message()
            .queue_url(&url)
            .send()
            .await
            .expect_err("the damaged message alone");
        let (code, message, status) = common::error_of(err);
        assert_eq!((code.as_str(), status), ("InternalError", 500), "{message}");
        assert!(message.contains(&damaged_id), "{message}");
        assert!(message.contains(expected), "{message}");
        // The console shows it with the reason.
        let (status, _, body) = common::raw_request(
            h.emulator.addr,
            "GET",
            "/console/api/queues/us-east-1/000000000000/orders/messages",
            &[],
            b"",
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(expected), "{body}");
        // Received twice now: the redrive policy moves it to the dead-letter queue, where it
        // is still the same (unreadable) message, not lost.
        assert!(h.receive(&url, 10).await.is_empty());
        assert_eq!(h.depth(&url).await, (0, 0, 0));
        assert_eq!(h.depth(&dlq).await, (1, 0, 0));
        let err = h
            .client
            .receive_message()
            .queue_url(&dlq)
            .send()
            .await
            .expect_err("still damaged in the dead-letter queue");
        assert!(common::error_of(err).1.contains(&damaged_id));
        h.shutdown().await;
    }
}

/// A damaged page under some messages' contents (the page's type byte overwritten here): a
/// start still succeeds (it reads only the index), those messages answer errors, and every
/// other message is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_page_loses_only_the_messages_on_it() {
    let h = Harness::durable().await;
    let url = h
        .create_with("bulk", &[("SqsManagedSseEnabled", "false")])
        .await;
    let body = |i: usize| format!("MARK{i:04}-{}", "b".repeat(1500));
    for i in 0..120 {
        h.send(&url, &body(i)).await;
    }
    let dir = h.dir.as_ref().unwrap().path().to_path_buf();
    let keep = h.dir;
    h.emulator.shutdown().await;
    let db = dir.join("lockgate.sqlite3");
    let mut bytes = std::fs::read(&db).unwrap();
    let page_size = 4096;
    let at = bytes
        .windows(8)
        .position(|w| w == b"MARK0060")
        .expect("the body is in the file");
    let page = at / page_size;
    let on_page: Vec<usize> = (0..120)
        .filter(|i| {
            let needle = format!("MARK{i:04}");
            let pos = bytes
                .windows(8)
                .position(|w| w == needle.as_bytes())
                .unwrap();
            pos / page_size == page
        })
        .collect();
    assert!(!on_page.is_empty() && on_page.len() < 5, "{on_page:?}");
    bytes[page * page_size] = 0xFF; // not a B-tree page type
    std::fs::write(&db, &bytes).unwrap();

    let h = Harness::durable_in(keep.unwrap()).await;
    let mut delivered = std::collections::BTreeSet::new();
    let mut errors = 0;
    for _ in 0..200 {
        match h
            .client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .visibility_timeout(3600)
            .send()
            .await
        {
            Ok(out) => {
                let got = out.messages.unwrap_or_default();
                if got.is_empty() {
                    break;
                }
                for m in got {
                    delivered.insert(m.body().unwrap()[4..8].parse::<usize>().unwrap());
                }
            }
            Err(e) => {
                assert_eq!(common::error_of(e).0, "InternalError");
                errors += 1;
            }
        }
    }
    let expected: std::collections::BTreeSet<usize> =
        (0..120).filter(|i| !on_page.contains(i)).collect();
    assert_eq!(delivered, expected);
    assert!(errors <= on_page.len(), "{errors} errors for {on_page:?}");
    // Nothing lost: the damaged ones are in flight beside the delivered ones.
    assert_eq!(h.depth(&url).await, (0, 120, 0));
    h.shutdown().await;
}
