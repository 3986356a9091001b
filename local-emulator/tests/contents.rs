//! A durable queue's contents live on disk and are read back when delivered: through a cache
//! small enough that most deliveries read the store (read-ahead in sequence order), with
//! every body, attribute and checksum intact; browsing reads only what it shows; moves re-home
//! a message's content (sealed again where needed); purge and retention delete contents from
//! the store, not only from memory. `/metrics` counts cache hits and store reads.

use lockgate_test_support as common;

use std::collections::BTreeSet;
use std::path::Path;

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};
use common::Harness;
use lockgate_emulator::{EmulatorConfig, RunningEmulator};

/// A value of a counter or gauge in `/metrics` (0 when absent).
async fn metric(h: &Harness, name: &str) -> f64 {
    let (status, _, text) = common::raw_request(h.emulator.addr, "GET", "/metrics", &[], b"").await;
    assert_eq!(status, 200);
    text.lines()
        .find(|l| l.split([' ', '{']).next() == Some(name))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

fn count(dir: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(dir.join("lockgate.sqlite3"))
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

async fn durable_with_cache(cache_bytes: usize) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EmulatorConfig::ephemeral();
    config.data_dir = Some(dir.path().to_path_buf());
    config.sqs.cache_bytes = cache_bytes;
    let emulator = RunningEmulator::start(config).await.unwrap();
    let client = common::client(&emulator.endpoint(), "AKIDEXAMPLE");
    Harness {
        emulator,
        client,
        dir: Some(dir),
        clock: lockgate_emulator::SystemClock::shared(),
        cache_bytes,
    }
}

/// 3,000 messages of 1 KiB through a 256 KiB cache, on a plain and an encrypting queue: each
/// delivered exactly once with its own body and attributes (the SDK checks every MD5), most of
/// them read from the store, and a restart in the middle changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_read_the_store_through_a_small_cache() {
    let mut h = durable_with_cache(256 << 10).await;
    for sse in ["false", "true"] {
        let name = format!("backlog-sse-{sse}");
        let url = h.create_with(&name, &[("SqsManagedSseEnabled", sse)]).await;
        for batch in 0..300 {
            let mut request = h.client.send_message_batch().queue_url(&url);
            for i in 0..10 {
                let n = batch * 10 + i;
                request = request.entries(
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .message_body(format!("{n:05} {}", "z".repeat(1018)))
                        .message_attributes(
                            "n",
                            MessageAttributeValue::builder()
                                .data_type("Number")
                                .string_value(n.to_string())
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                );
            }
            let out = request.send().await.unwrap();
            assert!(out.failed.is_empty());
        }
        let reads_before = metric(&h, "lockgate_store_content_reads_total").await;
        let mut seen = BTreeSet::new();
        let mut restarted = false;
        loop {
            let got = h.receive(&url, 10).await;
            if got.is_empty() {
                break;
            }
            for m in got {
                let body = m.body().unwrap();
                let n: usize = body[..5].parse().unwrap();
                assert_eq!(body.len(), 1024);
                assert_eq!(
                    m.message_attributes().unwrap()["n"].string_value(),
                    Some(n.to_string().as_str())
                );
                assert!(seen.insert(n), "{n} delivered twice");
                h.delete(&url, &m).await;
            }
            if seen.len() >= 1500 && !restarted {
                h = h.restart().await;
                restarted = true;
            }
        }
        assert_eq!(seen, (0..3000).collect::<BTreeSet<_>>(), "{name}");
        let reads = metric(&h, "lockgate_store_content_reads_total").await;
        assert!(
            reads - if restarted { 0.0 } else { reads_before } >= 1000.0,
            "{name}: {reads} contents read from the store"
        );
        assert!(metric(&h, "lockgate_store_cache_bytes").await <= (256 << 10) as f64);
    }
    let Harness { emulator, dir, .. } = h;
    emulator.shutdown().await;
    let dir = dir.unwrap();
    assert_eq!(
        count(dir.path(), "SELECT count(*) FROM message_contents"),
        0
    );
}

/// A backlog larger than the cache keeps its head in the cache (what is delivered first), not
/// its tail: the first deliveries after the sends are all cache hits, none read the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_larger_than_the_cache_keeps_its_head_cached() {
    let h = durable_with_cache(256 << 10).await;
    let url = h
        .create_with("head", &[("SqsManagedSseEnabled", "false")])
        .await;
    for batch in 0..100 {
        let mut request = h.client.send_message_batch().queue_url(&url);
        for i in 0..10 {
            request = request.entries(
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .message_body(format!("{:05} {}", batch * 10 + i, "h".repeat(1018)))
                    .build()
                    .unwrap(),
            );
        }
        assert!(request.send().await.unwrap().failed.is_empty());
    }
    let reads_before = metric(&h, "lockgate_store_content_reads_total").await;
    let hits_before = metric(&h, "lockgate_store_content_hits_total").await;
    let mut first = Vec::new();
    while first.len() < 100 {
        let got = h.receive(&url, 10).await;
        assert!(!got.is_empty());
        first.extend(
            got.iter()
                .map(|m| m.body().unwrap()[..5].parse::<usize>().unwrap()),
        );
    }
    first.sort_unstable();
    assert_eq!(first, (0..100).collect::<Vec<_>>());
    assert_eq!(
        metric(&h, "lockgate_store_content_reads_total").await - reads_before,
        0.0,
        "the backlog's head was read from the store"
    );
    assert_eq!(
        metric(&h, "lockgate_store_content_hits_total").await - hits_before,
        100.0
    );
    assert!(metric(&h, "lockgate_store_cache_bytes").await <= (256 << 10) as f64);
    h.emulator.shutdown().await;
}

/// The console's browsing reads the messages it shows and no others, and leaves the cache
/// alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsing_reads_only_what_it_shows() {
    let h = durable_with_cache(0).await;
    let url = h.create("browsed").await;
    for i in 0..500 {
        h.send(&url, &format!("message {i}")).await;
    }
    let before = metric(&h, "lockgate_store_content_reads_total").await;
    let (status, _, body) = common::raw_request(
        h.emulator.addr,
        "GET",
        "/console/api/queues/us-east-1/000000000000/browsed/messages?limit=20",
        &[],
        b"",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let shown: serde_json::Value = serde_json::from_str(&body).unwrap();
    let bodies: Vec<&str> = shown["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies.len(), 20);
    assert_eq!(bodies[0], "message 0");
    assert_eq!(bodies[19], "message 19");
    assert_eq!(
        metric(&h, "lockgate_store_content_reads_total").await - before,
        20.0
    );
    assert_eq!(metric(&h, "lockgate_store_cache_bytes").await, 0.0);
    h.shutdown().await;
}

/// A redrive moves a message's content with it: an encrypted message into a queue that does
/// not encrypt stays sealed (under its own key, bound to its new queue), a plain one into an
/// encrypting queue is sealed; a move task brings both back to their source, readable, with
/// no dead-letter source. Nothing is read from memory: the cache is off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_take_contents_with_them() {
    let h = Harness::durable_uncached().await;
    let dir = h.dir.as_ref().unwrap().path().to_path_buf();
    for (source_sse, dlq_sse) in [("true", "false"), ("false", "true")] {
        let dlq = h
            .create_with(
                &format!("dlq-{dlq_sse}"),
                &[("SqsManagedSseEnabled", dlq_sse)],
            )
            .await;
        let dlq_arn = h.attr(&dlq, "QueueArn").await.unwrap();
        let source_name = format!("source-{source_sse}");
        let source = h
            .create_with(
                &source_name,
                &[
                    ("SqsManagedSseEnabled", source_sse),
                    ("VisibilityTimeout", "0"),
                    (
                        "RedrivePolicy",
                        &format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"1"}}"#),
                    ),
                ],
            )
            .await;
        let source_arn = h.attr(&source, "QueueArn").await.unwrap();
        let body = format!("from {source_name}");
        h.send(&source, &body).await;
        assert_eq!(h.receive(&source, 1).await.len(), 1);
        assert!(
            h.receive(&source, 1).await.is_empty(),
            "moved on this receive"
        );
        // In the dead-letter queue, sealed (either way round) and bound to it.
        let dlq_id = count(
            &dir,
            &format!("SELECT id FROM queues WHERE name = 'dlq-{dlq_sse}'"),
        );
        assert_eq!(
            count(
                &dir,
                &format!(
                    "SELECT count(*) FROM message_contents WHERE queue_id = {dlq_id} AND sealed IS NOT NULL AND body = ''"
                )
            ),
            1
        );
        let got = h
            .client
            .receive_message()
            .queue_url(&dlq)
            .visibility_timeout(0)
            .message_system_attribute_names(MessageSystemAttributeName::DeadLetterQueueSourceArn)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap();
        assert_eq!(got[0].body(), Some(body.as_str()));
        assert_eq!(
            got[0]
                .attributes()
                .unwrap()
                .get(&MessageSystemAttributeName::DeadLetterQueueSourceArn)
                .map(String::as_str),
            Some(source_arn.as_str())
        );
        // Back to the source with a move task (received there again, it stays).
        h.client
            .set_queue_attributes()
            .queue_url(&source)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
                format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"10"}}"#),
            )
            .send()
            .await
            .unwrap();
        h.client
            .start_message_move_task()
            .source_arn(&dlq_arn)
            .send()
            .await
            .unwrap();
        let back = common::eventually("the message is back in its source", || async {
            let got = h
                .client
                .receive_message()
                .queue_url(&source)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default();
            got.into_iter().next()
        })
        .await;
        assert_eq!(back.body(), Some(body.as_str()));
        assert!(
            back.attributes()
                .unwrap()
                .get(&MessageSystemAttributeName::DeadLetterQueueSourceArn)
                .is_none()
        );
    }
    h.shutdown().await;
}

/// PurgeQueue and the end of retention delete contents from the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_and_retention_delete_contents_on_disk() {
    let clock = lockgate_emulator::ManualClock::starting_now();
    let h = Harness::on_clock(clock.clone(), true).await;
    let dir = h.dir.as_ref().unwrap().path().to_path_buf();
    let purged = h.create("purged").await;
    let expiring = h
        .create_with("expiring", &[("MessageRetentionPeriod", "60")])
        .await;
    for i in 0..50 {
        h.send(&purged, &format!("p{i}")).await;
        h.send(&expiring, &format!("e{i}")).await;
    }
    assert_eq!(count(&dir, "SELECT count(*) FROM message_contents"), 100);
    h.client
        .purge_queue()
        .queue_url(&purged)
        .send()
        .await
        .unwrap();
    clock.advance(std::time::Duration::from_secs(61));
    assert!(h.receive(&expiring, 10).await.is_empty());
    h.emulator.shutdown().await;
    // (The expired messages' deletes are written without waiting; shutdown flushes them.)
    assert_eq!(count(&dir, "SELECT count(*) FROM message_contents"), 0);
    assert_eq!(count(&dir, "SELECT count(*) FROM message_index"), 0);
}
