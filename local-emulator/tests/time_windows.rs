//! SQS's time rules on an injected clock: the emulator runs on a [`ManualClock`] that only the
//! test moves, so minute-long windows are checked in milliseconds, exactly at their edges.
//! Everything still goes over HTTP through aws-sdk-sqs.

use std::sync::Arc;
use std::time::Duration;

use lockgate_emulator::ManualClock;
use lockgate_test_support::{Harness, error_of};

const SECOND: Duration = Duration::from_secs(1);

async fn harness(durable: bool) -> (Harness, Arc<ManualClock>) {
    let clock = ManualClock::starting_now();
    (Harness::on_clock(clock.clone(), durable).await, clock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_queue_name_is_reserved_for_60_seconds() {
    let (h, clock) = harness(false).await;
    let url = h.create("reserved").await;
    h.delete_queue(&url).await;
    clock.advance(59 * SECOND);
    let err = h
        .client
        .create_queue()
        .queue_name("reserved")
        .send()
        .await
        .unwrap_err();
    let (code, _, status) = error_of(err);
    assert_eq!(
        (code.as_str(), status),
        ("AWS.SimpleQueueService.QueueDeletedRecently", 400)
    );
    clock.advance(SECOND);
    h.create("reserved").await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_queue_is_allowed_once_every_60_seconds() {
    let (h, clock) = harness(false).await;
    let url = h.create("purged").await;
    let purge = || h.client.purge_queue().queue_url(&url).send();
    purge().await.unwrap();
    clock.advance(59 * SECOND);
    let (code, _, status) = error_of(purge().await.unwrap_err());
    assert_eq!(
        (code.as_str(), status),
        ("AWS.SimpleQueueService.PurgeQueueInProgress", 403)
    );
    clock.advance(SECOND);
    h.send(&url, "after").await;
    purge().await.unwrap();
    assert_eq!(h.depth(&url).await, (0, 0, 0));
    h.shutdown().await;
}

/// The deduplication window is five minutes, in memory and across a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_deduplication_id_is_remembered_for_five_minutes() {
    for durable in [false, true] {
        let (h, clock) = harness(durable).await;
        let url = h.create_with("dedup.fifo", &[("FifoQueue", "true")]).await;
        let first = h.send_fifo(&url, "g", "d-1", "one").await;
        clock.advance(299 * SECOND);
        let h = if durable { h.restart().await } else { h };
        let again = h.send_fifo(&url, "g", "d-1", "one again").await;
        assert_eq!(again, first, "a duplicate within the window");
        assert_eq!(h.depth(&url).await.0, 1);
        clock.advance(SECOND);
        let later = h.send_fifo(&url, "g", "d-1", "one, later").await;
        assert_ne!(later, first, "a new message once the window ended");
        assert_eq!(h.depth(&url).await.0, 2);
        h.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receive_request_attempt_id_replays_for_five_minutes() {
    let (h, clock) = harness(false).await;
    let url = h
        .create_with(
            "attempt.fifo",
            &[("FifoQueue", "true"), ("VisibilityTimeout", "600")],
        )
        .await;
    h.send_fifo(&url, "g", "1", "one").await;
    let receive = || {
        h.client
            .receive_message()
            .queue_url(&url)
            .receive_request_attempt_id("attempt-1")
            .send()
    };
    let first = receive().await.unwrap().messages.unwrap_or_default();
    assert_eq!(first.len(), 1);
    clock.advance(299 * SECOND);
    let replayed = receive().await.unwrap().messages.unwrap_or_default();
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0].receipt_handle, first[0].receipt_handle);
    clock.advance(SECOND);
    // Past the window the id means a new receive: the message is still in flight (visibility
    // 600 s), so there is nothing to hand out.
    let fresh = receive().await.unwrap().messages.unwrap_or_default();
    assert!(fresh.is_empty(), "{fresh:?}");
    h.shutdown().await;
}

/// Retention is at least 60 s in SQS; expired messages stay gone after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_expire_after_the_retention_period() {
    let (h, clock) = harness(true).await;
    let url = h
        .create_with("short-lived", &[("MessageRetentionPeriod", "60")])
        .await;
    h.send(&url, "soon gone").await;
    clock.advance(59 * SECOND);
    assert_eq!(h.depth(&url).await, (1, 0, 0));
    clock.advance(SECOND);
    assert_eq!(h.depth(&url).await, (0, 0, 0));
    assert!(h.receive(&url, 10).await.is_empty());
    let h = h.restart().await;
    assert!(h.receive(&url, 10).await.is_empty());
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visibility_timeouts_and_delays_end_on_the_clock() {
    let (h, clock) = harness(false).await;
    let url = h.create("timed").await;
    h.send(&url, "x").await;
    assert_eq!(h.receive_for(&url, 1, Some(30)).await.len(), 1);
    clock.advance(29 * SECOND);
    assert_eq!(h.depth(&url).await, (0, 1, 0));
    clock.advance(SECOND);
    assert_eq!(h.depth(&url).await, (1, 0, 0));
    let again = h.receive(&url, 1).await;
    assert_eq!(
        again[0].attributes.as_ref().unwrap()
            [&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount],
        "2"
    );

    let delayed = h.create_with("delayed", &[("DelaySeconds", "900")]).await;
    h.send(&delayed, "later").await;
    clock.advance(899 * SECOND);
    assert_eq!(h.depth(&delayed).await, (0, 0, 1));
    clock.advance(SECOND);
    assert_eq!(h.depth(&delayed).await, (1, 0, 0));
    h.shutdown().await;
}

/// A parked long poll measures its wait and its wake-ups on the same clock: it takes a message
/// whose visibility timeout ends while it waits, and returns empty when its wait is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_wait_on_the_clock() {
    let (h, clock) = harness(false).await;
    let url = h.create("parked").await;
    h.send(&url, "x").await;
    let first = h.receive_for(&url, 1, Some(10)).await;
    assert_eq!(first.len(), 1);
    let waiter = tokio::spawn(
        h.client
            .receive_message()
            .queue_url(&url)
            .wait_time_seconds(20)
            .send(),
    );
    h.until_parked("parked", 1).await;
    clock.advance(10 * SECOND);
    let got = tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("woken when the visibility timeout ended on the clock")
        .unwrap()
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, first[0].message_id);

    let empty = h.create("empty").await;
    let waiter = tokio::spawn(
        h.client
            .receive_message()
            .queue_url(&empty)
            .wait_time_seconds(20)
            .send(),
    );
    h.until_parked("empty", 1).await;
    clock.advance(20 * SECOND);
    let got = tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("the wait ends when the clock has moved past it")
        .unwrap()
        .unwrap();
    assert!(got.messages.unwrap_or_default().is_empty());
    h.shutdown().await;
}

/// A standard-queue message whose visibility timeout ended keeps its place: the next receive
/// returns it before messages sent after it (SQS returns the older one first), on both stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_back_from_its_visibility_timeout_keeps_its_place() {
    for durable in [false, true] {
        let (h, clock) = harness(durable).await;
        let url = h.create("ordered").await;
        h.send(&url, "first").await;
        let got = h
            .client
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(5)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap();
        assert_eq!(got[0].body(), Some("first"));
        for later in ["second", "third"] {
            h.send(&url, later).await;
        }
        clock.advance(5 * SECOND);
        let bodies: Vec<String> = h
            .client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap()
            .into_iter()
            .map(|m| m.body.unwrap())
            .collect();
        assert_eq!(bodies, ["first", "second", "third"], "durable: {durable}");
        h.shutdown().await;
    }
}

/// The S3 endpoint dates objects on the emulator's clock, the one its signature check uses: an
/// object put a hundred years later on the clock is dated a hundred years later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_objects_are_dated_on_the_emulators_clock() {
    let (h, clock) = harness(false).await;
    let addr = h.emulator.addr;
    let year_of = |headers: &[(String, String)]| -> i32 {
        let date = lockgate_test_support::header(headers, "last-modified");
        // "Fri, 04 Dec 2026 19:20:00 GMT"
        date.split_whitespace().nth(3).unwrap().parse().unwrap()
    };
    use lockgate_test_support::raw_request;
    assert_eq!(raw_request(addr, "PUT", "/dated", &[], b"").await.0, 200);
    assert_eq!(
        raw_request(addr, "PUT", "/dated/then", &[], b"a").await.0,
        200
    );
    let (status, headers, _) = raw_request(addr, "HEAD", "/dated/then", &[], b"").await;
    assert_eq!(status, 200);
    let then = year_of(&headers);
    // 36,524 days: a hundred Gregorian years from any date between 2001 and 2099.
    clock.advance(36_524 * 24 * 3600 * SECOND);
    assert_eq!(
        raw_request(addr, "PUT", "/dated/later", &[], b"b").await.0,
        200
    );
    let (status, headers, _) = raw_request(addr, "HEAD", "/dated/later", &[], b"").await;
    assert_eq!(status, 200);
    assert_eq!(year_of(&headers), then + 100);
    h.shutdown().await;
}
