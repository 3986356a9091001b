//! Encryption at rest: an SSE queue's bodies and attributes appear nowhere in the data
//! directory (the database, its write-ahead log, anything else), a restart decrypts them, and
//! a missing or wrong key stops the start with an error naming it.

use lockgate_test_support as common;

use std::path::{Path, PathBuf};

use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use lockgate_emulator::{EmulatorConfig, RunningEmulator};

fn config(dir: &Path, key_file: Option<&Path>) -> EmulatorConfig {
    let mut config = EmulatorConfig::ephemeral();
    config.data_dir = Some(dir.to_path_buf());
    config.sqs.key_file = key_file.map(Path::to_path_buf);
    config
}

async fn start(dir: &Path, key_file: Option<&Path>) -> RunningEmulator {
    RunningEmulator::start(config(dir, key_file))
        .await
        .expect("emulator starts")
}

/// A marker no other byte sequence in the store can match by chance.
fn marker(what: &str) -> String {
    format!("MARKER-{what}-{:016x}", std::process::id() as u64 * 7919)
}

/// Every file under `dir` (recursively) that contains `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            found.push(path);
        }
    }
    found
}

async fn create(client: &aws_sdk_sqs::Client, name: &str, attrs: &[(&str, &str)]) -> String {
    let mut req = client.create_queue().queue_name(name);
    for (k, v) in attrs {
        req = req.attributes(QueueAttributeName::from(*k), *v);
    }
    req.send().await.unwrap().queue_url.unwrap()
}

async fn attr(client: &aws_sdk_sqs::Client, url: &str, name: &str) -> Option<String> {
    let name = QueueAttributeName::from(name);
    client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .unwrap()
        .attributes
        .and_then(|a| a.get(&name).cloned())
}

async fn send(client: &aws_sdk_sqs::Client, url: &str, body: &str, attribute: &str) {
    client
        .send_message()
        .queue_url(url)
        .message_body(body)
        .message_attributes(
            "note",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(attribute)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// Bodies and the `note` attribute of what a queue holds, sorted.
async fn contents(client: &aws_sdk_sqs::Client, url: &str) -> Vec<(String, String)> {
    let got = client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap();
    let mut out: Vec<_> = got
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let note = m.message_attributes.unwrap()["note"]
                .string_value
                .clone()
                .unwrap();
            (m.body.unwrap(), note)
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_queues_keep_no_plaintext_on_disk_and_a_restart_decrypts() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = start(dir.path(), None).await;
    let client = common::client(&emulator.endpoint(), "AKIDEXAMPLE");
    // SQS-managed SSE is the default for a new queue; a KMS key id; and a plain queue.
    let managed = create(&client, "managed", &[]).await;
    let kms = create(&client, "kms", &[("KmsMasterKeyId", "alias/aws/sqs")]).await;
    let plain = create(&client, "plain", &[("SqsManagedSseEnabled", "false")]).await;
    assert_eq!(
        attr(&client, &managed, "SqsManagedSseEnabled").await,
        Some("true".into())
    );
    send(
        &client,
        &managed,
        &marker("managed-body"),
        &marker("managed-attr"),
    )
    .await;
    send(&client, &kms, &marker("kms-body"), &marker("kms-attr")).await;
    send(
        &client,
        &plain,
        &marker("plain-body"),
        &marker("plain-attr"),
    )
    .await;
    emulator.sqs.store.flush().await;

    for secret in ["managed-body", "managed-attr", "kms-body", "kms-attr"] {
        assert_eq!(
            files_containing(dir.path(), &marker(secret)),
            Vec::<PathBuf>::new(),
            "{secret} is on disk in plain"
        );
    }
    // The search finds what is there: the plain queue's message is.
    assert!(!files_containing(dir.path(), &marker("plain-body")).is_empty());
    assert!(!files_containing(dir.path(), &marker("plain-attr")).is_empty());
    let keyring = dir.path().join("keyring");
    let mode = std::fs::metadata(&keyring).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let keys = std::fs::read_to_string(&keyring).unwrap();
    assert!(
        keys.contains("sqs-managed") && keys.contains("kms:alias/aws/sqs"),
        "{keys}"
    );

    emulator.shutdown().await;
    // After the shutdown folded the log into the database, still nothing in plain.
    assert!(files_containing(dir.path(), &marker("managed-body")).is_empty());
    let emulator = start(dir.path(), None).await;
    let client = common::client(&emulator.endpoint(), "AKIDEXAMPLE");
    assert_eq!(
        contents(&client, &managed).await,
        [(marker("managed-body"), marker("managed-attr"))]
    );
    assert_eq!(
        contents(&client, &kms).await,
        [(marker("kms-body"), marker("kms-attr"))]
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_sse_off_applies_to_new_messages_and_a_dead_letter_queue_seals_as_it_says() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = start(dir.path(), None).await;
    let client = common::client(&emulator.endpoint(), "AKIDEXAMPLE");
    let dlq = create(&client, "dlq", &[]).await;
    let dlq_arn = attr(&client, &dlq, "QueueArn").await.unwrap();
    let redrive = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"1"}}"#);
    let source = create(
        &client,
        "source",
        &[
            ("SqsManagedSseEnabled", "false"),
            ("RedrivePolicy", &redrive),
            ("VisibilityTimeout", "0"),
        ],
    )
    .await;
    // Sent in plain, then moved to the encrypting DLQ: stored there encrypted.
    send(
        &client,
        &source,
        &marker("moved-body"),
        &marker("moved-attr"),
    )
    .await;
    assert_eq!(contents(&client, &source).await.len(), 1);
    assert!(
        contents(&client, &source).await.is_empty(),
        "moved to the DLQ"
    );
    // SSE switched on for the source: new messages only.
    client
        .set_queue_attributes()
        .queue_url(&source)
        .attributes(QueueAttributeName::SqsManagedSseEnabled, "true")
        .attributes(QueueAttributeName::RedrivePolicy, "")
        .send()
        .await
        .unwrap();
    send(
        &client,
        &source,
        &marker("later-body"),
        &marker("later-attr"),
    )
    .await;
    emulator.shutdown().await;
    // The moved message was on disk in plain while in the plain queue (as SQS would have it);
    // its dead-letter row is encrypted. The later one never was in plain.
    let stored: Vec<(String, Option<String>, String)> = rusqlite::Connection::open(
        dir.path().join("lockgate.sqlite3"),
    )
    .unwrap()
    .prepare(
        "SELECT q.name, m.key_name, m.body FROM message_contents m JOIN queues q ON q.id = m.queue_id
                 ORDER BY m.seq",
    )
    .unwrap()
    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap();
    assert_eq!(
        stored,
        [
            ("dlq".into(), Some("sqs-managed".into()), String::new()),
            ("source".into(), Some("sqs-managed".into()), String::new())
        ]
    );
    for secret in ["later-body", "later-attr"] {
        assert!(
            files_containing(dir.path(), &marker(secret)).is_empty(),
            "{secret} is on disk in plain"
        );
    }
    let emulator = start(dir.path(), None).await;
    let client = common::client(&emulator.endpoint(), "AKIDEXAMPLE");
    assert_eq!(
        contents(&client, &dlq).await,
        [(marker("moved-body"), marker("moved-attr"))]
    );
    assert_eq!(
        contents(&client, &source).await,
        [(marker("later-body"), marker("later-attr"))]
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_key_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("lockgate-keys");
    let emulator = start(dir.path(), Some(&key_file)).await;
    let client = common::client(&emulator.endpoint(), "AKIDEXAMPLE");
    let url = create(&client, "orders", &[("KmsMasterKeyId", "orders-key")]).await;
    send(&client, &url, "order 1", "n").await;
    emulator.shutdown().await;
    assert!(key_file.exists());
    assert!(
        !dir.path().join("keyring").exists(),
        "--key-file keeps keys out of the data directory"
    );

    // Without the key file: the data directory's own keyring has no such key.
    let err = RunningEmulator::start(config(dir.path(), None))
        .await
        .err()
        .expect("the start fails")
        .to_string();
    assert!(
        err.contains("kms:orders-key") && err.contains("does not hold"),
        "{err}"
    );

    // A keyring holding another key of that name.
    let wrong = keys.path().join("wrong-keys");
    {
        let decoy_dir = tempfile::tempdir().unwrap();
        let decoy = start(decoy_dir.path(), Some(&wrong)).await;
        let client = common::client(&decoy.endpoint(), "AKIDEXAMPLE");
        let url = create(&client, "orders", &[("KmsMasterKeyId", "orders-key")]).await;
        send(&client, &url, "decoy", "n").await;
        decoy.shutdown().await;
    }
    let err = RunningEmulator::start(config(dir.path(), Some(&wrong)))
        .await
        .err()
        .expect("the start fails")
        .to_string();
    assert!(
        err.contains("cannot be decrypted with key kms:orders-key"),
        "{err}"
    );

    // A damaged keyring.
    std::fs::write(keys.path().join("damaged"), "{\"format\":1,\"keys\":").unwrap();
    let err = RunningEmulator::start(config(dir.path(), Some(&keys.path().join("damaged"))))
        .await
        .err()
        .expect("the start fails")
        .to_string();
    assert!(err.contains("is unreadable"), "{err}");

    // With the right key everything is there.
    let emulator = start(dir.path(), Some(&key_file)).await;
    let client = common::client(&emulator.endpoint(), "AKIDEXAMPLE");
    assert_eq!(
        contents(&client, &url).await,
        [("order 1".into(), "n".into())]
    );
    emulator.shutdown().await;
}
