//! A data directory of the previous storage format opens on this build, upgraded in place:
//! `tests/fixtures/format-5` was written by the last build of format 5 (its `make.py` says
//! how) — plain, SQS-managed and KMS-encrypted queues, a FIFO queue with its deduplication
//! window, a message in flight, and messages redriven into a sealed and a plain dead-letter
//! queue. Each test opens a copy on a clock set to when it was written.

use lockgate_test_support as common;

use std::path::{Path, PathBuf};

use aws_sdk_sqs::types::MessageSystemAttributeName;
use common::Harness;
use lockgate_emulator::{EmulatorConfig, ManualClock, RunningEmulator};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format-5")
}

/// A copy of the fixture's data directory (with or without its keyring), and when it was
/// written.
fn copy_of_fixture(with_keyring: bool) -> (tempfile::TempDir, u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut files = vec!["lockgate.sqlite3", "handle-key"];
    if with_keyring {
        files.push("keyring");
    }
    for name in files {
        std::fs::copy(fixture().join(name), dir.path().join(name)).unwrap();
    }
    let written_at_ms = std::fs::read_to_string(fixture().join("written-at-ms"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (dir, written_at_ms)
}

fn query<T: rusqlite::types::FromSql>(dir: &Path, sql: &str) -> Vec<T> {
    let conn = rusqlite::Connection::open(dir.join("lockgate.sqlite3")).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

async fn url(h: &Harness, name: &str) -> String {
    h.client
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("queue {name}: {e:?}"))
        .queue_url
        .unwrap()
}

/// Every message a queue delivers now, with all its attributes, deleted as it goes.
async fn drain(h: &Harness, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let mut all = Vec::new();
    loop {
        let got = h.receive(url, 10).await;
        if got.is_empty() {
            return all;
        }
        for m in &got {
            h.delete(url, m).await;
        }
        all.extend(got);
    }
}

fn bodies(messages: &[aws_sdk_sqs::types::Message]) -> Vec<&str> {
    messages.iter().map(|m| m.body().unwrap()).collect()
}

fn system(m: &aws_sdk_sqs::types::Message, name: MessageSystemAttributeName) -> Option<&str> {
    m.attributes()
        .and_then(|a| a.get(&name))
        .map(String::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_5_directory_is_upgraded_in_place_and_reads_back_whole() {
    let (dir, written_at_ms) = copy_of_fixture(true);
    let path = dir.path().to_path_buf();
    let clock = ManualClock::starting_at(written_at_ms + 1_000);
    let h = Harness::start(Some(dir), clock.clone()).await;

    // The layout is format 6 now: one index row and one content row per message.
    assert_eq!(
        query::<String>(&path, "SELECT value FROM meta WHERE key = 'format'"),
        ["6"]
    );
    assert!(
        query::<String>(
            &path,
            "SELECT name FROM sqlite_master WHERE name = 'messages'"
        )
        .is_empty()
    );
    assert_eq!(
        query::<i64>(&path, "SELECT count(*) FROM message_index"),
        [11]
    );
    assert_eq!(
        query::<i64>(&path, "SELECT count(*) FROM message_contents"),
        [11]
    );
    // Sealed rows stayed sealed (nothing was written back in plain), and their keys have
    // check values now.
    assert_eq!(
        query::<i64>(
            &path,
            "SELECT count(*) FROM message_contents WHERE sealed IS NOT NULL AND body = ''"
        ),
        [7]
    );
    assert_eq!(
        query::<String>(&path, "SELECT key_name FROM key_checks ORDER BY key_name"),
        ["kms:alias/orders", "sqs-managed"]
    );
    // Dead-letter sources moved from the messages' extras (sealed or not) to the index.
    assert_eq!(
        query::<String>(
            &path,
            "SELECT dead_letter_source FROM message_index WHERE dead_letter_source IS NOT NULL ORDER BY seq"
        ),
        [
            "arn:aws:sqs:us-east-1:000000000000:source-sealed",
            "arn:aws:sqs:us-east-1:000000000000:source-plain"
        ]
    );

    // FIFO (first: its deduplication window is five minutes): order within groups, and the
    // window holds.
    let fifo = url(&h, "jobs.fifo").await;
    let again = h
        .client
        .send_message()
        .queue_url(&fifo)
        .message_body("a1")
        .message_group_id("a")
        .send()
        .await
        .unwrap();
    let got = drain(&h, &fifo).await;
    assert_eq!(bodies(&got), ["a1", "a2", "b1"]);
    assert_eq!(
        again.message_id(),
        got[0].message_id(),
        "deduplicated against the stored entry"
    );

    // The plain queue: two visible, one in flight for the rest of its hour.
    let plain = url(&h, "plain").await;
    assert_eq!(h.depth(&plain).await, (2, 1, 0));
    let got = drain(&h, &plain).await;
    assert_eq!(bodies(&got), ["plain one", "plain three"]);
    let one = &got[0];
    let attributes = one.message_attributes().unwrap();
    assert_eq!(attributes["colour"].string_value(), Some("blue"));
    assert_eq!(
        attributes["bytes"].binary_value().unwrap().as_ref(),
        [0u8, 255]
    );
    assert_eq!(
        system(one, MessageSystemAttributeName::AwsTraceHeader),
        Some("Root=1-5759e988-bd862e3fe1be46a994272793")
    );
    assert_eq!(
        system(one, MessageSystemAttributeName::ApproximateReceiveCount),
        Some("2")
    );
    clock.advance(std::time::Duration::from_secs(3601));
    assert_eq!(bodies(&drain(&h, &plain).await), ["plain two (in flight)"]);

    // Encrypted queues.
    let secure = url(&h, "secure").await;
    let got = drain(&h, &secure).await;
    assert_eq!(bodies(&got), ["secret one", "secret two"]);
    assert_eq!(
        got[0].message_attributes().unwrap()["n"].string_value(),
        Some("1")
    );
    let kms = url(&h, "kms").await;
    assert_eq!(bodies(&drain(&h, &kms).await), ["kms one"]);

    // Dead-letter queues: the source ARN comes from the index; the bodies and attributes from
    // the contents (sealed with the dead-letter queue's binding, or plain).
    for suffix in ["sealed", "plain"] {
        let dlq = url(&h, &format!("dlq-{suffix}")).await;
        let got = drain(&h, &dlq).await;
        assert_eq!(bodies(&got), [format!("failed {suffix}")]);
        assert_eq!(
            system(
                &got[0],
                MessageSystemAttributeName::DeadLetterQueueSourceArn
            ),
            Some(format!("arn:aws:sqs:us-east-1:000000000000:source-{suffix}").as_str())
        );
        assert_eq!(
            got[0].message_attributes().unwrap()["kind"].string_value(),
            Some(suffix)
        );
    }
    assert_eq!(
        query::<i64>(&path, "SELECT count(*) FROM message_index"),
        [0]
    );

    // And it opens again as format 6.
    let h = h.restart().await;
    let plain = url(&h, "plain").await;
    h.send(&plain, "after the upgrade").await;
    let h = h.restart().await;
    assert_eq!(bodies(&drain(&h, &plain).await), ["after the upgrade"]);
    h.shutdown().await;
}

/// The upgrade opens every sealed message once (their dead-letter sources were sealed with
/// them): without the keyring it stops, naming the key, and leaves the directory as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_without_its_keys_stops_and_changes_nothing() {
    let (dir, written_at_ms) = copy_of_fixture(false);
    let mut config = EmulatorConfig::ephemeral();
    config.data_dir = Some(dir.path().to_path_buf());
    config.sqs.clock = ManualClock::starting_at(written_at_ms + 1_000);
    let err = RunningEmulator::start(config)
        .await
        .err()
        .expect("the upgrade needs the keys")
        .to_string();
    assert!(
        err.contains("cannot upgrade the data directory to format 6"),
        "{err}"
    );
    assert!(
        err.contains("sqs-managed") && err.contains("does not hold"),
        "{err}"
    );
    assert_eq!(
        query::<String>(dir.path(), "SELECT value FROM meta WHERE key = 'format'"),
        ["5"]
    );
    assert_eq!(
        query::<i64>(dir.path(), "SELECT count(*) FROM messages"),
        [11]
    );
    // With the keyring back, it upgrades.
    std::fs::copy(fixture().join("keyring"), dir.path().join("keyring")).unwrap();
    let h = Harness::start(Some(dir), ManualClock::starting_at(written_at_ms + 1_000)).await;
    let secure = url(&h, "secure").await;
    assert_eq!(
        bodies(&drain(&h, &secure).await),
        ["secret one", "secret two"]
    );
    h.shutdown().await;
}
