//! FIFO queues through aws-sdk-sqs, on both stores.

use lockgate_test_support as common;

use aws_sdk_sqs::types::{MessageSystemAttributeName, SendMessageBatchRequestEntry};
use common::Harness;

lockgate_test_support::both_stores!(
    order_within_group_and_group_lock,
    deduplication,
    content_based_deduplication_and_group_scope,
    receive_request_attempt_id_replays,
    fifo_rules,
    fifo_dead_letter_queue,
    fair_standard_queue_accepts_groups,
);

async fn order_within_group_and_group_lock(h: Harness) {
    let url = h.create_with("orders.fifo", &[("FifoQueue", "true")]).await;
    assert_eq!(h.attr(&url, "FifoQueue").await.as_deref(), Some("true"));
    let mut last_seq = String::new();
    for i in 0..5 {
        let (_, seq) = h
            .send_fifo(&url, "A", &format!("a{i}"), &format!("A{i}"))
            .await;
        assert_eq!(seq.len(), 20);
        assert!(seq > last_seq, "sequence numbers increase");
        last_seq = seq;
    }
    h.send_fifo(&url, "B", "b0", "B0").await;

    // One receive returns group A in order (up to the maximum) ...
    let first = h.receive(&url, 3).await;
    let bodies: Vec<_> = first.iter().map(|m| m.body.clone().unwrap()).collect();
    assert_eq!(bodies, ["A0", "A1", "A2"]);
    assert_eq!(
        first[0].attributes.as_ref().unwrap()[&MessageSystemAttributeName::MessageGroupId],
        "A"
    );
    // ... and while A is in flight only B is available.
    let second = h.receive(&url, 10).await;
    let bodies: Vec<_> = second.iter().map(|m| m.body.clone().unwrap()).collect();
    assert_eq!(bodies, ["B0"]);
    assert!(h.receive(&url, 10).await.is_empty());

    // A failed (visibility reset) message is redelivered before the rest of its group.
    h.client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(first[1].receipt_handle.clone().unwrap())
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    for m in [&first[0], &first[2]] {
        h.client
            .delete_message()
            .queue_url(&url)
            .receipt_handle(m.receipt_handle.clone().unwrap())
            .send()
            .await
            .unwrap();
    }
    let next = h.receive(&url, 10).await;
    let bodies: Vec<_> = next.iter().map(|m| m.body.clone().unwrap()).collect();
    assert_eq!(bodies, ["A1", "A3", "A4"]);
    h.shutdown().await;
}

async fn deduplication(h: Harness) {
    let url = h.create_with("dedup.fifo", &[("FifoQueue", "true")]).await;
    let (id1, seq1) = h.send_fifo(&url, "g", "same", "first").await;
    let (id2, seq2) = h.send_fifo(&url, "g", "same", "second").await;
    assert_eq!(id1, id2, "a duplicate is answered with the original id");
    assert_eq!(seq1, seq2);
    let got = h.receive(&url, 10).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body.as_deref(), Some("first"));
    assert_eq!(
        got[0].attributes.as_ref().unwrap()[&MessageSystemAttributeName::MessageDeduplicationId],
        "same"
    );
    // The window holds after the message is deleted.
    h.client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(got[0].receipt_handle.clone().unwrap())
        .send()
        .await
        .unwrap();
    let (id3, _) = h.send_fifo(&url, "g", "same", "third").await;
    assert_eq!(id3, id1);
    assert!(h.receive(&url, 10).await.is_empty());
    h.shutdown().await;
}

async fn content_based_deduplication_and_group_scope(h: Harness) {
    let url = h
        .create_with(
            "cbd.fifo",
            &[
                ("FifoQueue", "true"),
                ("ContentBasedDeduplication", "true"),
                ("DeduplicationScope", "messageGroup"),
                ("FifoThroughputLimit", "perMessageGroupId"),
            ],
        )
        .await;
    let send_body = |group: &'static str, body: &'static str| {
        let client = h.client.clone();
        let url = url.clone();
        async move {
            client
                .send_message()
                .queue_url(url)
                .message_body(body)
                .message_group_id(group)
                .send()
                .await
                .unwrap()
                .message_id
                .unwrap()
        }
    };
    let a = send_body("g1", "payload").await;
    let b = send_body("g1", "payload").await;
    let c = send_body("g2", "payload").await;
    assert_eq!(a, b, "same body in the same group is a duplicate");
    assert_ne!(a, c, "dedup is scoped per group");
    let got = h.receive(&url, 10).await;
    assert_eq!(got.len(), 2);
    let dedup =
        &got[0].attributes.as_ref().unwrap()[&MessageSystemAttributeName::MessageDeduplicationId];
    assert_eq!(dedup.len(), 64, "SHA-256 of the body, hex");
    h.shutdown().await;
}

async fn receive_request_attempt_id_replays(h: Harness) {
    let url = h
        .create_with("attempt.fifo", &[("FifoQueue", "true")])
        .await;
    h.send_fifo(&url, "g", "1", "one").await;
    h.send_fifo(&url, "h", "2", "two").await;
    let receive = |attempt: &'static str| {
        let client = h.client.clone();
        let url = url.clone();
        async move {
            client
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(1)
                .receive_request_attempt_id(attempt)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default()
        }
    };
    let first = receive("attempt-1").await;
    let retried = receive("attempt-1").await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].message_id, retried[0].message_id);
    assert_eq!(first[0].receipt_handle, retried[0].receipt_handle);
    let other = receive("attempt-2").await;
    assert_ne!(other[0].message_id, first[0].message_id);
    h.shutdown().await;
}

async fn fifo_rules(h: Harness) {
    let url = h.create_with("rules.fifo", &[("FifoQueue", "true")]).await;
    // MessageGroupId is required.
    let err = h
        .client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_deduplication_id("d")
        .send()
        .await
        .unwrap_err();
    let (code, message, status) = common::error_of(err);
    assert_eq!((code.as_str(), status), ("MissingParameter", 400));
    assert_eq!(
        message,
        "The request must contain the parameter MessageGroupId."
    );
    // Without content-based dedup a dedup id is required.
    let err = h
        .client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_group_id("g")
        .send()
        .await
        .unwrap_err();
    let (code, message, _) = common::error_of(err);
    assert_eq!(code, "InvalidParameterValue");
    assert_eq!(
        message,
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
    );
    // No per-message delays.
    let err = h
        .client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_group_id("g")
        .message_deduplication_id("d")
        .delay_seconds(2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        common::error_of(err).1,
        "Value 2 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type."
    );
    // Bad group ids.
    let err = h
        .client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_group_id("group 123")
        .message_deduplication_id("d")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        common::error_of(err).1,
        "Value group 123 for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length."
    );
    // A FIFO name needs FifoQueue and vice versa.
    let err = h
        .client
        .create_queue()
        .queue_name("plain")
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::error_of(err).0, "InvalidParameterValue");
    // The type cannot change.
    let err = h
        .client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "false")
        .send()
        .await
        .unwrap_err();
    let (code, message, _) = common::error_of(err);
    assert_eq!(code, "InvalidAttributeValue");
    assert_eq!(
        message,
        "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported."
    );
    // Batch sends keep order too.
    let mut req = h.client.send_message_batch().queue_url(&url);
    for i in 0..10 {
        req = req.entries(
            SendMessageBatchRequestEntry::builder()
                .id(format!("e{i}"))
                .message_body(format!("{i}"))
                .message_group_id("batch")
                .message_deduplication_id(format!("d{i}"))
                .build()
                .unwrap(),
        );
    }
    let out = req.send().await.unwrap();
    assert_eq!(out.successful.len(), 10);
    let got = h.receive(&url, 10).await;
    let bodies: Vec<_> = got.iter().map(|m| m.body.clone().unwrap()).collect();
    assert_eq!(bodies, (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
    h.shutdown().await;
}

async fn fifo_dead_letter_queue(h: Harness) {
    let standard_dlq = h.create("std-dlq").await;
    let std_arn = h.attr(&standard_dlq, "QueueArn").await.unwrap();
    let err = h
        .client
        .create_queue()
        .queue_name("src.fifo")
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{std_arn}","maxReceiveCount":1}}"#),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::error_of(err).0, "InvalidParameterValue");

    let dlq = h.create_with("dlq.fifo", &[("FifoQueue", "true")]).await;
    let arn = h.attr(&dlq, "QueueArn").await.unwrap();
    let policy = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":1}}"#);
    let url = h
        .create_with(
            "src.fifo",
            &[("FifoQueue", "true"), ("RedrivePolicy", &policy)],
        )
        .await;
    h.send_fifo(&url, "g", "1", "first").await;
    h.send_fifo(&url, "g", "2", "second").await;
    let got = h
        .client
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(0)
        .max_number_of_messages(1)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(got[0].body.as_deref(), Some("first"));
    // "first" was received once already: it moves; "second" is delivered.
    let next = h.receive(&url, 1).await;
    assert_eq!(next[0].body.as_deref(), Some("second"));
    let moved = h.receive(&dlq, 10).await;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].body.as_deref(), Some("first"));
    h.shutdown().await;
}

async fn fair_standard_queue_accepts_groups(h: Harness) {
    let url = h.create("fair").await;
    for i in 0..3 {
        h.client
            .send_message()
            .queue_url(&url)
            .message_body(format!("m{i}"))
            .message_group_id("tenant-a")
            .send()
            .await
            .unwrap();
    }
    // Standard queues do not lock groups.
    assert_eq!(h.receive(&url, 10).await.len(), 3);
    h.shutdown().await;
}

/// A format-4 data directory (queues stored without their deduplication scope at creation)
/// opens under format 6: its FIFO queues deduplicate by the scope they had stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_4_directory_keeps_its_deduplication_scope() {
    let h = Harness::durable().await;
    let url = h
        .create_with(
            "old.fifo",
            &[
                ("FifoQueue", "true"),
                ("DeduplicationScope", "messageGroup"),
                ("FifoThroughputLimit", "perMessageGroupId"),
            ],
        )
        .await;
    let a = h.send_fifo(&url, "A", "X", "xa").await.0;
    let Harness { emulator, dir, .. } = h;
    emulator.shutdown().await;
    let dir = dir.expect("durable");
    // What format 4 wrote: the same row without `created_deduplication_scope`.
    let db = dir.path().join("lockgate.sqlite3");
    common::formats::rewrite_as_format_5(&db);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "UPDATE queues SET attributes = json_remove(attributes, '$.created_deduplication_scope');
             UPDATE meta SET value = '4' WHERE key = 'format';",
        )
        .unwrap();
    let h = Harness::durable_in(dir).await;
    assert_eq!(h.send_fifo(&url, "A", "X", "again").await.0, a);
    assert_ne!(h.send_fifo(&url, "B", "X", "xb").await.0, a, "per group");
    let Harness { emulator, dir, .. } = h;
    emulator.shutdown().await;
    let dir = dir.expect("durable");
    let version: String = rusqlite::Connection::open(dir.path().join("lockgate.sqlite3"))
        .unwrap()
        .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(version, "6");
}
