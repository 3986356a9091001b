//! The console's JSON API, `/health` and the console's own browser rules, over HTTP against a
//! running emulator, with aws-sdk-sqs on the other side to check what the API did (or did not)
//! change. The page itself is driven in a real browser by tests/console.

use lockgate_test_support as common;

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};
use common::{Harness, header, raw_request};
use lockgate_emulator::{EmulatorConfig, RunningEmulator};
use serde_json::{Value, json};

async fn get(h: &Harness, path: &str) -> (u16, Value) {
    let (status, _, body) = raw_request(h.emulator.addr, "GET", path, &[], b"").await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn post(h: &Harness, path: &str, body: &Value) -> (u16, Value) {
    let bytes = body.to_string();
    let (status, _, body) = raw_request(
        h.emulator.addr,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        bytes.as_bytes(),
    )
    .await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn queue_path(name: &str) -> String {
    format!("/console/api/queues/us-east-1/000000000000/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsing_a_queue_changes_nothing_about_its_messages() {
    let h = Harness::durable().await;
    let url = h.create("browse").await;
    h.client
        .send_message()
        .queue_url(&url)
        .message_body("first")
        .message_attributes(
            "kind",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("greeting")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    h.send(&url, "second").await;

    for _ in 0..3 {
        let (status, body) = get(&h, &format!("{}/messages", queue_path("browse"))).await;
        assert_eq!(status, 200, "{body}");
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0]["body"], "first");
        assert_eq!(messages[0]["state"], "visible");
        assert_eq!(messages[0]["approximateReceiveCount"], 0);
        assert_eq!(
            messages[0]["messageAttributes"]["kind"],
            json!({"DataType": "String", "StringValue": "greeting"})
        );
        assert_eq!(messages[1]["body"], "second");
    }
    // Still both visible, and the first receive is each message's first.
    assert_eq!(h.depth(&url).await, (2, 0, 0));
    let received = h
        .client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(received.len(), 2);
    for m in &received {
        let count = &m.attributes().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount];
        assert_eq!(count, "1");
    }
    // Now the browse shows them in flight, received once, without receiving them again.
    let (_, body) = get(&h, &format!("{}/messages", queue_path("browse"))).await;
    for m in body["messages"].as_array().unwrap() {
        assert_eq!(m["state"], "in flight");
        assert_eq!(m["approximateReceiveCount"], 1);
    }
    assert_eq!(h.depth(&url).await, (0, 2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_list_shows_depths_totals_and_dead_letter_links() {
    let h = Harness::memory().await;
    let dlq = h.create("orders-dlq").await;
    let dlq_arn = h.attr(&dlq, "QueueArn").await.unwrap();
    let policy = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}).to_string();
    let url = h.create_with("orders", &[("RedrivePolicy", &policy)]).await;
    for i in 0..3 {
        h.send(&url, &format!("m{i}")).await;
    }
    let got = h.receive(&url, 1).await;
    h.client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(got[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();

    let (status, body) = get(&h, "/console/api/queues").await;
    assert_eq!(status, 200);
    let queues: HashMap<&str, &Value> = body["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["name"].as_str().unwrap(), q))
        .collect();
    let orders = queues["orders"];
    assert_eq!(orders["visible"], 2);
    assert_eq!(orders["inFlight"], 0);
    assert_eq!(orders["sent"], 3);
    assert_eq!(orders["received"], 1);
    assert_eq!(orders["deleted"], 1);
    assert_eq!(orders["url"], url);
    assert_eq!(orders["redrive"]["deadLetterQueue"], "orders-dlq");
    assert_eq!(orders["redrive"]["maxReceiveCount"], 3);
    assert!(orders["oldestAgeSeconds"].is_u64());
    assert_eq!(queues["orders-dlq"]["deadLetterSources"], json!(["orders"]));
    assert!(queues["orders-dlq"]["oldestAgeSeconds"].is_null());

    let (status, one) = get(&h, &queue_path("orders")).await;
    assert_eq!(status, 200);
    assert_eq!(one["attributes"]["VisibilityTimeout"], "30");
    let (status, missing) = get(&h, &queue_path("nope")).await;
    assert_eq!(status, 400);
    assert!(
        missing["__type"]
            .as_str()
            .unwrap()
            .ends_with("QueueDoesNotExist"),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_purge_and_redrive_run_the_sqs_actions() {
    let h = Harness::memory().await;
    let url = h.create("work").await;
    let (status, sent) = post(
        &h,
        &format!("{}/messages", queue_path("work")),
        &json!({"MessageBody": "from the console", "DelaySeconds": 0}),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let got = h.receive(&url, 10).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body(), Some("from the console"));
    assert_eq!(got[0].message_id(), sent["MessageId"].as_str());

    // SQS's own validation answers.
    let (status, refused) = post(
        &h,
        &format!("{}/messages", queue_path("work")),
        &json!({"MessageBody": "x", "DelaySeconds": 901}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        refused["__type"]
            .as_str()
            .unwrap()
            .contains("InvalidParameterValue"),
        "{refused}"
    );
    let (status, _) = post(&h, &format!("{}/messages", queue_path("work")), &json!([])).await;
    assert_eq!(status, 400);

    h.send(&url, "a").await;
    let (status, _) = post(&h, &format!("{}/purge", queue_path("work")), &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(h.depth(&url).await, (0, 0, 0));

    // A dead-letter queue's messages go back where they came from.
    let dlq = h.create("work-dlq").await;
    let dlq_arn = h.attr(&dlq, "QueueArn").await.unwrap();
    let policy = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"}).to_string();
    h.client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            policy,
        )
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "0",
        )
        .send()
        .await
        .unwrap();
    h.send(&url, "poison").await;
    common::eventually("the message is dead-lettered", || async {
        let _ = h.receive(&url, 1).await;
        (h.depth(&dlq).await.0 == 1).then_some(())
    })
    .await;
    let (status, task) = post(
        &h,
        &format!("{}/redrive", queue_path("work-dlq")),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{task}");
    assert!(task["TaskHandle"].is_string());
    let done = common::eventually("the move task completes", || async {
        let (_, tasks) = get(&h, &format!("{}/redrive", queue_path("work-dlq"))).await;
        let first = tasks["Results"][0].clone();
        (first["Status"] == "COMPLETED").then_some(first)
    })
    .await;
    assert_eq!(done["ApproximateNumberOfMessagesMoved"], 1);
    assert_eq!(h.depth(&dlq).await.0, 0);
    let back = h.receive(&url, 1).await;
    assert_eq!(back[0].body(), Some("poison"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_limits_and_unknown_routes_are_clear_errors() {
    let h = Harness::memory().await;
    h.create("q").await;
    for bad in ["0", "101", "ten"] {
        let (status, body) = get(&h, &format!("{}/messages?limit={bad}", queue_path("q"))).await;
        assert_eq!(status, 400, "limit={bad}: {body}");
    }
    let (status, body) = get(&h, "/console/api/nothing").await;
    assert_eq!(status, 404);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("docs/console.md")
    );
    let (status, _) = post(&h, &format!("{}/purge", queue_path("q")), &json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = get(&h, &format!("{}/purge", queue_path("q"))).await;
    assert_eq!(status, 404, "a purge is a POST");
    let (status, app) = get(&h, "/console/api/app").await;
    assert_eq!(status, 200);
    assert_eq!(app, json!({"app": null}), "no app runs on a bare emulator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_served_with_a_strict_policy() {
    let h = Harness::memory().await;
    let (status, headers, _) = raw_request(h.emulator.addr, "GET", "/console", &[], b"").await;
    assert_eq!(status, 301);
    assert_eq!(header(&headers, "location"), "/console/");
    let (status, headers, body) = raw_request(h.emulator.addr, "GET", "/console/", &[], b"").await;
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").starts_with("text/html"));
    assert!(header(&headers, "content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(header(&headers, "x-frame-options"), "DENY");
    assert!(body.contains("console.js"));
    for asset in ["console.js", "console.css"] {
        let (status, _, _) = raw_request(
            h.emulator.addr,
            "GET",
            &format!("/console/{asset}"),
            &[],
            b"",
        )
        .await;
        assert_eq!(status, 200, "{asset}");
    }
    let (status, _, _) =
        raw_request(h.emulator.addr, "GET", "/console/../etc/passwd", &[], b"").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_sites_pages_and_rebound_hosts_cannot_use_the_console_api() {
    let h = Harness::memory().await;
    let url = h.create("kept").await;
    h.send(&url, "stay").await;
    let purge = format!("{}/purge", queue_path("kept"));
    // A page on another site posting to the API.
    let (status, _, _) = raw_request(
        h.emulator.addr,
        "POST",
        &purge,
        &[
            ("Origin", "http://evil.example"),
            ("Content-Type", "application/json"),
        ],
        b"{}",
    )
    .await;
    assert_eq!(status, 403);
    // DNS rebinding: evil.example resolves to 127.0.0.1, so the page is "same-origin" with a
    // Host that names it.
    let (status, _, _) = raw_request(
        h.emulator.addr,
        "POST",
        &purge,
        &[
            ("Host", "evil.example:9324"),
            ("Origin", "http://evil.example:9324"),
            ("Content-Type", "application/json"),
        ],
        b"{}",
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = raw_request(
        h.emulator.addr,
        "GET",
        "/console/api/queues",
        &[
            ("Host", "evil.example:9324"),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        b"",
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(h.depth(&url).await.0, 1, "nothing was purged");
    // The console's own page, by localhost or by IP, is served.
    let (status, _, _) = raw_request(
        h.emulator.addr,
        "POST",
        &purge,
        &[
            ("Host", "localhost:9324"),
            ("Origin", "http://localhost:9324"),
            ("Sec-Fetch-Site", "same-origin"),
            ("Content-Type", "application/json"),
        ],
        b"{}",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(h.depth(&url).await.0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_credentials_the_api_and_metrics_need_a_signature_but_health_does_not() {
    let mut config = EmulatorConfig::ephemeral();
    let mut table = HashMap::new();
    table.insert("AKIDSIGNER".to_string(), "signer-secret".to_string());
    config.sqs.credentials = Some(Arc::new(table));
    let emulator = RunningEmulator::start(config).await.unwrap();
    for path in ["/console/api/queues", "/metrics"] {
        let (status, _, body) = raw_request(emulator.addr, "GET", path, &[], b"").await;
        assert_eq!(status, 403, "{path}: {body}");
    }
    let (status, _, body) = raw_request(emulator.addr, "GET", "/health", &[], b"").await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = raw_request(emulator.addr, "GET", "/console/", &[], b"").await;
    assert_eq!(status, 200, "the page itself holds no data");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_the_store() {
    let h = Harness::durable().await;
    let (status, body) = get(&h, "/health").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ready");
    assert_eq!(body["store"]["kind"], "sqlite");
    assert_eq!(body["store"]["state"], "ok");
    let m = Harness::memory().await;
    let (_, body) = get(&m, "/health").await;
    assert_eq!(body["store"]["kind"], "memory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_queues_did() {
    let h = Harness::durable().await;
    let url = h.create("counted").await;
    for i in 0..5 {
        h.send(&url, &format!("{i}")).await;
    }
    let got = h.receive(&url, 2).await;
    for m in &got {
        h.client
            .delete_message()
            .queue_url(&url)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
    }
    let (status, headers, text) = raw_request(h.emulator.addr, "GET", "/metrics", &[], b"").await;
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").starts_with("application/openmetrics-text"));
    let labels = r#"{queue="counted",region="us-east-1",account="000000000000"}"#;
    for (name, value) in [
        ("lockgate_queue_messages_sent_total", "5"),
        (
            "lockgate_queue_messages_received_total",
            &got.len().to_string(),
        ),
        (
            "lockgate_queue_messages_deleted_total",
            &got.len().to_string(),
        ),
        (
            "lockgate_queue_messages_visible",
            &(5 - got.len()).to_string(),
        ),
        ("lockgate_queue_messages_in_flight", "0"),
    ] {
        let line = format!("{name}{labels} {value}");
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
    assert!(text.contains("lockgate_store_commit_seconds_count "));
    assert!(text.contains("process_resident_memory_bytes "));
    assert!(text.trim_end().ends_with("# EOF"));
}
