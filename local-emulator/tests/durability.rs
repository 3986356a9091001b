//! The durable store: everything acknowledged survives a restart — messages, deletes,
//! receive counts, in-flight deadlines, attributes, tags, FIFO dedup windows.

use lockgate_test_support as common;

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};
use common::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_recovers_everything() {
    let h = Harness::durable().await;
    let dlq = h.create("jobs-dlq").await;
    let dlq_arn = h.attr(&dlq, "QueueArn").await.unwrap();
    let url = h
        .create_with(
            "jobs",
            &[
                ("VisibilityTimeout", "600"),
                (
                    "RedrivePolicy",
                    &format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":5}}"#),
                ),
            ],
        )
        .await;
    h.client
        .tag_queue()
        .queue_url(&url)
        .tags("team", "core")
        .send()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..20 {
        let id = h
            .client
            .send_message()
            .queue_url(&url)
            .message_body(format!("job {i}"))
            .message_attributes(
                "n",
                MessageAttributeValue::builder()
                    .data_type("Number")
                    .string_value(i.to_string())
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap()
            .message_id
            .unwrap();
        ids.push(id);
    }
    // Receive 5 (in flight for 10 minutes) and delete 3 of them.
    let got = h.receive(&url, 5).await;
    assert_eq!(got.len(), 5);
    for m in &got[..3] {
        h.client
            .delete_message()
            .queue_url(&url)
            .receipt_handle(m.receipt_handle.clone().unwrap())
            .send()
            .await
            .unwrap();
    }
    let fifo = h.create_with("seq.fifo", &[("FifoQueue", "true")]).await;
    h.client
        .send_message()
        .queue_url(&fifo)
        .message_body("once")
        .message_group_id("g")
        .message_deduplication_id("d1")
        .send()
        .await
        .unwrap();

    let h = h.restart().await;
    assert_eq!(
        h.depth(&url).await,
        (15, 2, 0),
        "15 visible, 2 still in flight"
    );
    assert_eq!(
        h.attr(&url, "VisibilityTimeout").await.as_deref(),
        Some("600")
    );
    assert!(
        h.attr(&url, "RedrivePolicy")
            .await
            .unwrap()
            .contains(&dlq_arn)
    );
    let tags = h
        .client
        .list_queue_tags()
        .queue_url(&url)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap();
    assert_eq!(tags["team"], "core");
    // The in-flight messages' handles still work after the restart.
    h.client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(got[3].receipt_handle.clone().unwrap())
        .send()
        .await
        .unwrap();
    let mut remaining = Vec::new();
    loop {
        let batch = h.receive(&url, 10).await;
        if batch.is_empty() {
            break;
        }
        for m in batch {
            assert_eq!(
                m.attributes.as_ref().unwrap()
                    [&MessageSystemAttributeName::ApproximateReceiveCount],
                "1"
            );
            assert!(m.message_attributes.as_ref().unwrap().contains_key("n"));
            remaining.push(m.message_id.unwrap());
        }
    }
    assert_eq!(remaining.len(), 15);
    for id in &remaining {
        assert!(ids.contains(id));
    }
    // The dedup window survived: the same dedup id is still a duplicate.
    let again = h
        .client
        .send_message()
        .queue_url(&fifo)
        .message_body("twice")
        .message_group_id("g")
        .message_deduplication_id("d1")
        .send()
        .await
        .unwrap();
    assert_eq!(h.depth(&fifo).await.0, 1, "duplicate not enqueued");
    let got = h.receive(&fifo, 10).await;
    assert_eq!(got[0].message_id, again.message_id);
    assert_eq!(got[0].body.as_deref(), Some("once"));

    // New ids and sequence numbers do not collide with recovered ones.
    let new_id = h.send(&url, "after restart").await;
    assert!(!ids.contains(&new_id));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_queues_stay_deleted() {
    let h = Harness::durable().await;
    let url = h.create("gone").await;
    h.send(&url, "x").await;
    h.client
        .delete_queue()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    let keep = h.create("kept").await;
    h.send(&keep, "y").await;
    let h = h.restart().await;
    let urls = h
        .client
        .list_queues()
        .send()
        .await
        .unwrap()
        .queue_urls
        .unwrap();
    assert_eq!(urls.len(), 1);
    assert!(urls[0].ends_with("/kept"));
    // A re-created queue of the old name starts empty.
    let url = h.create("gone").await;
    assert_eq!(h.depth(&url).await, (0, 0, 0));
    h.shutdown().await;
}
