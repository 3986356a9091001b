//! SenderId: with `--credentials` the access key id whose signature was verified (kept across
//! a restart), without them the sending account, as SQS reports the sending principal.

use lockgate_test_support as common;

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_sqs::types::{
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use lockgate_emulator::{EmulatorConfig, RunningEmulator};

async fn start(dir: &std::path::Path, credentials: bool) -> RunningEmulator {
    let mut config = EmulatorConfig::ephemeral();
    config.data_dir = Some(dir.to_path_buf());
    if credentials {
        let mut table = HashMap::new();
        table.insert("AKIDALICE".to_string(), "alice-secret".to_string());
        table.insert("AKIDBOB".to_string(), "bob-secret".to_string());
        config.sqs.credentials = Some(Arc::new(table));
    }
    RunningEmulator::start(config).await.unwrap()
}

async fn senders(client: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let got = client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .message_system_attribute_names(MessageSystemAttributeName::SenderId)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    let mut ids: Vec<String> = got
        .iter()
        .map(|m| m.attributes().unwrap()[&MessageSystemAttributeName::SenderId].clone())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_credentials_the_sender_id_is_the_signer_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = start(dir.path(), true).await;
    let alice = common::client_with_secret(&emulator.endpoint(), "AKIDALICE", "alice-secret");
    let bob = common::client_with_secret(&emulator.endpoint(), "AKIDBOB", "bob-secret");
    let url = alice
        .create_queue()
        .queue_name("mail")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    alice
        .send_message()
        .queue_url(&url)
        .message_body("from alice")
        .send()
        .await
        .unwrap();
    bob.send_message_batch()
        .queue_url(&url)
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("1")
                .message_body("from bob")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(senders(&bob, &url).await, ["AKIDALICE", "AKIDBOB"]);
    emulator.shutdown().await;
    let emulator = start(dir.path(), true).await;
    let bob = common::client_with_secret(&emulator.endpoint(), "AKIDBOB", "bob-secret");
    assert_eq!(senders(&bob, &url).await, ["AKIDALICE", "AKIDBOB"]);
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_the_sender_id_is_the_sending_account() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = start(dir.path(), false).await;
    let owner = common::client(&emulator.endpoint(), "AKIDEXAMPLE");
    let other = common::client(&emulator.endpoint(), "111111111111");
    let url = owner
        .create_queue()
        .queue_name("shared")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    owner
        .send_message()
        .queue_url(&url)
        .message_body("own")
        .send()
        .await
        .unwrap();
    other
        .send_message()
        .queue_url(&url)
        .message_body("cross-account")
        .send()
        .await
        .unwrap();
    assert_eq!(
        senders(&owner, &url).await,
        ["000000000000", "111111111111"]
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_2_directory_opens_and_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    {
        let emulator = start(dir.path(), false).await;
        let client = common::client(&emulator.endpoint(), "AKIDEXAMPLE");
        let url = client
            .create_queue()
            .queue_name("old")
            .attributes(QueueAttributeName::SqsManagedSseEnabled, "false")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        client
            .send_message()
            .queue_url(&url)
            .message_body("kept")
            .send()
            .await
            .unwrap();
        emulator.shutdown().await;
    }
    // What format 2 wrote is what format 4 writes for such a message (no sender kept, not
    // encrypted), without format 4's columns.
    let db = dir.path().join("lockgate.sqlite3");
    common::formats::rewrite_as_format_5(&db);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "ALTER TABLE messages DROP COLUMN key_name;
             ALTER TABLE messages DROP COLUMN sealed;
             UPDATE meta SET value = '2' WHERE key = 'format';",
        )
        .unwrap();
    let emulator = start(dir.path(), false).await;
    let client = common::client(&emulator.endpoint(), "AKIDEXAMPLE");
    let url = format!("{}/000000000000/old", emulator.endpoint());
    assert_eq!(senders(&client, &url).await, ["000000000000"]);
    emulator.shutdown().await;
    let version: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(version, "6");
}
