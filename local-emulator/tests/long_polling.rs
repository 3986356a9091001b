//! Long polling wakes on the event itself, not on a fixed poll interval. No test here sleeps
//! to synchronise: each waits on a receive that must be woken by a send (or by shutdown).

use lockgate_test_support as common;

use std::time::Duration;

use common::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_receive_returns_the_message_sent_while_it_waits() {
    let h = Harness::memory().await;
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
    let got = tokio::time::timeout(Duration::from_secs(15), waiter)
        .await
        .expect("the send woke the waiting receive")
        .unwrap();
    assert_eq!(got.len(), 1, "the waiting receive returned the message");
    assert_eq!(got[0].message_id.as_deref(), Some(id.as_str()));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_waiters_each_get_a_message() {
    let h = Harness::memory().await;
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
    for i in 0..4 {
        h.send(&url, &format!("m{i}")).await;
    }
    let mut total = 0;
    for w in waiters {
        total += w.await.unwrap().len();
    }
    assert_eq!(total, 4);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_releases_long_polls() {
    let h = Harness::memory().await;
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
    // Shutdown must not wait out the 20 s poll: the outer timeout is well below it.
    tokio::time::timeout(Duration::from_secs(15), h.shutdown())
        .await
        .expect("shutdown finishes while a long poll is open");
    let result = waiter.await.unwrap();
    if let Ok(out) = result {
        assert!(out.messages.unwrap_or_default().is_empty());
    }
}
