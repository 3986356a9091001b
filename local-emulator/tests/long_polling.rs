//! Long polling wakes on the event itself, not on a fixed poll interval. No test here sleeps
//! to synchronise: each waits until its receives are parked, then for a receive that must be
//! woken by a send (or by shutdown) well before its 20 s wait would end. On both stores (a
//! durable send wakes a waiter once it is committed).

use lockgate_test_support as common;

use std::time::Duration;

use common::Harness;

lockgate_test_support::both_stores!(
    a_waiting_receive_returns_the_message_sent_while_it_waits,
    many_waiters_each_get_a_message,
    shutdown_releases_long_polls,
);

/// Well below the 20 s long poll: a receive that returns within it was woken.
const WOKEN_WITHIN: Duration = Duration::from_secs(15);

async fn a_waiting_receive_returns_the_message_sent_while_it_waits(h: Harness) {
    let url = h.create("lp").await;
    let client = h.client.clone();
    let waiting_url = url.clone();
    let waiter = tokio::spawn(async move {
        client
            .receive_message()
            .queue_url(waiting_url)
            .wait_time_seconds(20)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
    });
    // Wait until the receive is parked in its long poll, then send.
    h.until_parked("lp", 1).await;
    let id = h.send(&url, "wake up").await;
    // The send must wake it: it may not sit out its 20 s wait.
    let got = tokio::time::timeout(WOKEN_WITHIN, waiter)
        .await
        .expect("the send woke the waiting receive")
        .unwrap();
    assert_eq!(got.len(), 1, "the waiting receive returned the message");
    assert_eq!(got[0].message_id.as_deref(), Some(id.as_str()));
    h.shutdown().await;
}

async fn many_waiters_each_get_a_message(h: Harness) {
    let url = h
        .create_with("lp-many", &[("ReceiveMessageWaitTimeSeconds", "20")])
        .await;
    let mut waiters = Vec::new();
    for _ in 0..4 {
        let client = h.client.clone();
        let url = url.clone();
        waiters.push(tokio::spawn(async move {
            // The queue's ReceiveMessageWaitTimeSeconds makes this a long poll.
            client
                .receive_message()
                .queue_url(url)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default()
        }));
    }
    // All four are waiting before anything is sent: each must be woken by a send.
    h.until_parked("lp-many", 4).await;
    // /metrics counts them too.
    let (status, _, metrics) =
        common::raw_request(h.emulator.addr, "GET", "/metrics", &[], b"").await;
    assert_eq!(status, 200);
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("lockgate_queue_receives_waiting{")
                && l.contains("queue=\"lp-many\"")
                && l.ends_with(" 4")),
        "{metrics}"
    );
    for i in 0..4 {
        h.send(&url, &format!("m{i}")).await;
    }
    let mut bodies = Vec::new();
    for w in waiters {
        let got = tokio::time::timeout(WOKEN_WITHIN, w)
            .await
            .expect("a send woke the waiting receive")
            .unwrap();
        assert_eq!(got.len(), 1, "each waiter gets one message");
        bodies.extend(got.into_iter().map(|m| m.body.unwrap()));
    }
    bodies.sort();
    assert_eq!(bodies, ["m0", "m1", "m2", "m3"]);
    h.shutdown().await;
}

async fn shutdown_releases_long_polls(h: Harness) {
    let url = h.create("lp-stop").await;
    let client = h.client.clone();
    let waiter = tokio::spawn(async move {
        client
            .receive_message()
            .queue_url(url)
            .wait_time_seconds(20)
            .send()
            .await
    });
    h.until_parked("lp-stop", 1).await;
    // Shutdown must not wait out the 20 s poll: the outer timeout is well below it.
    tokio::time::timeout(WOKEN_WITHIN, h.shutdown())
        .await
        .expect("shutdown finishes while a long poll is open");
    let result = waiter.await.unwrap();
    if let Ok(out) = result {
        assert!(out.messages.unwrap_or_default().is_empty());
    }
}
