//! Every validation error SQS gives, with its exact code, HTTP status and wording, seen
//! through aws-sdk-sqs (and a few raw requests that pin the wire shape).

use lockgate_test_support as common;

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry,
};
use common::{Harness, error_of, header};

lockgate_test_support::both_stores!(
    queue_errors,
    message_errors,
    batch_errors,
    receipt_handle_errors,
    wire_shapes,
);

fn entry(id: &str, body: &str) -> SendMessageBatchRequestEntry {
    SendMessageBatchRequestEntry::builder()
        .id(id)
        .message_body(body)
        .build()
        .unwrap()
}

async fn queue_errors(h: Harness) {
    let err = h
        .client
        .send_message()
        .queue_url(format!("{}/000000000000/missing", h.emulator.endpoint()))
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "AWS.SimpleQueueService.NonExistentQueue".into(),
            "The specified queue does not exist.".into(),
            400
        )
    );

    let url = h.create_with("q", &[("DelaySeconds", "1")]).await;
    let err = h
        .client
        .create_queue()
        .queue_name("q")
        .attributes(QueueAttributeName::DelaySeconds, "2")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_name_exists());
    assert_eq!(
        error_of(err),
        (
            "QueueAlreadyExists".into(),
            "A queue already exists with the same name and a different value for attribute DelaySeconds".into(),
            400
        )
    );

    let err = h
        .client
        .create_queue()
        .queue_name("bad name!")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "InvalidParameterValue".into(),
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
                .into(),
            400
        )
    );

    let err = h
        .client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::VisibilityTimeout, "43201")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "InvalidAttributeValue".into(),
            "Invalid value for the parameter VisibilityTimeout.".into(),
            400
        )
    );
    for (name, bad) in [
        ("DelaySeconds", "901"),
        ("MaximumMessageSize", "1023"),
        ("MaximumMessageSize", "1048577"),
        ("MessageRetentionPeriod", "59"),
        ("MessageRetentionPeriod", "1209601"),
        ("ReceiveMessageWaitTimeSeconds", "21"),
        ("VisibilityTimeout", "-1"),
        ("Policy", "not json"),
    ] {
        let err = h
            .client
            .set_queue_attributes()
            .queue_url(&url)
            .attributes(QueueAttributeName::from(name), bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_of(err).0, "InvalidAttributeValue", "{name}={bad}");
    }
    // The limits themselves are accepted.
    for (name, ok) in [
        ("DelaySeconds", "900"),
        ("MaximumMessageSize", "1024"),
        ("MessageRetentionPeriod", "1209600"),
        ("ReceiveMessageWaitTimeSeconds", "20"),
        ("VisibilityTimeout", "43200"),
    ] {
        h.client
            .set_queue_attributes()
            .queue_url(&url)
            .attributes(QueueAttributeName::from(name), ok)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}={ok}: {e:?}"));
    }

    let err = h
        .client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::ContentBasedDeduplication, "true")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "InvalidAttributeName".into(),
            "Unknown Attribute ContentBasedDeduplication.".into(),
            400
        )
    );
    let err = h
        .client
        .create_queue()
        .queue_name("std")
        .attributes(QueueAttributeName::DeduplicationScope, "messageGroup")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err).1,
        "You can specify the DeduplicationScope only when FifoQueue is set to true."
    );
    let err = h
        .client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::from("NoSuchAttribute"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "InvalidAttributeName".into(),
            "Unknown Attribute NoSuchAttribute.".into(),
            400
        )
    );
    let err = h
        .client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(
            QueueAttributeName::RedrivePolicy,
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:nope","maxReceiveCount":3}"#,
        )
        .send()
        .await
        .unwrap_err();
    let (code, message, _) = error_of(err);
    assert_eq!(code, "InvalidParameterValue");
    assert!(
        message.ends_with("Reason: Dead letter target does not exist."),
        "{message}"
    );
    h.shutdown().await;
}

async fn message_errors(h: Harness) {
    let url = h
        .create_with("small", &[("MaximumMessageSize", "1024")])
        .await;
    h.client
        .send_message()
        .queue_url(&url)
        .message_body("x".repeat(1024))
        .send()
        .await
        .expect("a body at the limit is accepted");
    let err = h
        .client
        .send_message()
        .queue_url(&url)
        .message_body("x".repeat(1025))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "InvalidParameterValue".into(),
            "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."
                .into(),
            400
        )
    );
    // Attributes count against the size too.
    let err = h
        .client
        .send_message()
        .queue_url(&url)
        .message_body("x".repeat(1000))
        .message_attributes(
            "a",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("y".repeat(100))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(err).0, "InvalidParameterValue");

    let big = h.create("big").await;
    h.client
        .send_message()
        .queue_url(&big)
        .message_body("x".repeat(1_048_576))
        .send()
        .await
        .expect("1 MiB is accepted");
    let err = h
        .client
        .send_message()
        .queue_url(&big)
        .message_body("x".repeat(1_048_577))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err).1,
        "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes."
    );

    let err = h
        .client
        .send_message()
        .queue_url(&big)
        .message_body("bad \u{1} char")
        .send()
        .await
        .unwrap_err();
    let (code, _, status) = error_of(err);
    assert_eq!((code.as_str(), status), ("InvalidMessageContents", 400));

    let err = h
        .client
        .send_message()
        .queue_url(&big)
        .message_body("x")
        .message_attributes(
            "ErrorDetails",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err).1,
        "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'."
    );
    let mut req = h.client.send_message().queue_url(&big).message_body("x");
    for i in 0..11 {
        req = req.message_attributes(
            format!("a{i}"),
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("v")
                .build()
                .unwrap(),
        );
    }
    assert_eq!(
        error_of(req.send().await.unwrap_err()).1,
        "Number of message attributes [11] exceeds the allowed maximum [10]."
    );
    let err = h
        .client
        .send_message()
        .queue_url(&big)
        .message_body("x")
        .message_attributes(
            "n",
            MessageAttributeValue::builder()
                .data_type("Number")
                .string_value("twelve")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(err).0, "InvalidParameterValue");
    let err = h
        .client
        .send_message()
        .queue_url(&big)
        .message_body("x")
        .message_attributes(
            "t",
            MessageAttributeValue::builder()
                .data_type("Blob")
                .string_value("v")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(err).0, "InvalidParameterValue");

    let err = h
        .client
        .send_message()
        .queue_url(&big)
        .message_body("x")
        .delay_seconds(901)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(err).0, "InvalidParameterValue");
    let err = h
        .client
        .send_message()
        .queue_url(&big)
        .message_body("x")
        .message_deduplication_id("d")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(err).0, "InvalidParameterValue");

    for (max, wait) in [(11, 0), (0, 0), (1, 21), (1, -1)] {
        let err = h
            .client
            .receive_message()
            .queue_url(&big)
            .max_number_of_messages(max)
            .wait_time_seconds(wait)
            .send()
            .await
            .unwrap_err();
        let (code, message, status) = error_of(err);
        assert_eq!((code.as_str(), status), ("InvalidParameterValue", 400));
        let expected = if max == 11 || max == 0 {
            format!(
                "Value {max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
            )
        } else {
            format!(
                "Value {wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
            )
        };
        assert_eq!(message, expected);
    }
    h.shutdown().await;
}

async fn batch_errors(h: Harness) {
    let url = h.create("b").await;
    let err = h
        .client
        .send_message_batch()
        .queue_url(&url)
        .set_entries(Some(vec![]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "AWS.SimpleQueueService.EmptyBatchRequest".into(),
            "There should be at least one SendMessageBatchRequestEntry in the request.".into(),
            400
        )
    );
    let mut req = h.client.send_message_batch().queue_url(&url);
    for i in 0..20 {
        req = req.entries(entry(&format!("e{i}"), "x"));
    }
    assert_eq!(
        error_of(req.send().await.unwrap_err()),
        (
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest".into(),
            "Maximum number of entries per request are 10. You have sent 20.".into(),
            400
        )
    );
    let err = h
        .client
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("same", "x"))
        .entries(entry("same", "y"))
        .send()
        .await
        .unwrap_err();
    let (code, _, status) = error_of(err);
    assert_eq!(
        (code.as_str(), status),
        ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400)
    );
    let err = h
        .client
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("bad id!", "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "AWS.SimpleQueueService.InvalidBatchEntryId".into(),
            "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.".into(),
            400
        )
    );
    let big = "x".repeat(200_000);
    let mut req = h.client.send_message_batch().queue_url(&url);
    for i in 0..6 {
        req = req.entries(entry(&format!("e{i}"), &big));
    }
    assert_eq!(
        error_of(req.send().await.unwrap_err()),
        (
            "AWS.SimpleQueueService.BatchRequestTooLong".into(),
            "Batch requests cannot be longer than 1048576 bytes. You have sent 1200000 bytes."
                .into(),
            400
        )
    );
    let err = h
        .client
        .delete_message_batch()
        .queue_url(&url)
        .set_entries(Some(vec![]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(err).0, "AWS.SimpleQueueService.EmptyBatchRequest");
    let err = h
        .client
        .change_message_visibility_batch()
        .queue_url(&url)
        .entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("a")
                .receipt_handle("x")
                .build()
                .unwrap(),
        )
        .entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("a")
                .receipt_handle("y")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err).0,
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    );
    let _ = DeleteMessageBatchRequestEntry::builder();
    h.shutdown().await;
}

async fn receipt_handle_errors(h: Harness) {
    let url = h.create("r").await;
    let err = h
        .client
        .delete_message()
        .queue_url(&url)
        .receipt_handle("garbage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "ReceiptHandleIsInvalid".into(),
            "The input receipt handle \"garbage\" is not a valid receipt handle.".into(),
            404
        )
    );
    h.send(&url, "m").await;
    let m = h.receive(&url, 1).await.remove(0);
    let handle = m.receipt_handle.unwrap();
    // A handle from another queue is not valid here.
    let other = h.create("other").await;
    let err = h
        .client
        .delete_message()
        .queue_url(&other)
        .receipt_handle(&handle)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(err).0, "ReceiptHandleIsInvalid");
    // Once visible again (timeout 0), the same handle still changes its visibility on a
    // standard queue (SQS accepts it: the message is hidden again).
    h.client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&handle)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    h.client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&handle)
        .visibility_timeout(30)
        .send()
        .await
        .unwrap();
    assert_eq!(h.depth(&url).await, (0, 1, 0));
    // Once deleted, no handle of it changes anything.
    h.client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(&handle)
        .send()
        .await
        .unwrap();
    let err = h
        .client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&handle)
        .visibility_timeout(30)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "InvalidParameterValue".into(),
            format!(
                "Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."
            ),
            400
        )
    );
    let err = h
        .client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&handle)
        .visibility_timeout(43_201)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(err).0, "InvalidParameterValue");
    h.shutdown().await;
}

/// In memory only: 120,000 durable sends would make this one test the slowest of the suite
/// for a rule the store takes no part in (the limit is counted by the queue engine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_limit() {
    let h = Harness::memory().await;
    let url = h.create("busy").await;
    let limit = 120_000;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let client = h.client.clone();
        let url = url.clone();
        tasks.spawn(async move {
            for batch in (worker..(limit + 10) / 10).step_by(8) {
                let mut req = client.send_message_batch().queue_url(&url);
                for i in 0..10 {
                    req = req.entries(entry(&format!("e{i}"), &format!("{batch}-{i}")));
                }
                req.send().await.unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let mut in_flight = 0;
    while in_flight < limit {
        in_flight += h.receive(&url, 10).await.len();
    }
    assert_eq!(in_flight, limit, "the limit itself is reachable");
    let err = h
        .client
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap_err();
    let (code, _, status) = error_of(err);
    assert_eq!((code.as_str(), status), ("OverLimit", 403));
    h.shutdown().await;
}

async fn wire_shapes(h: Harness) {
    let addr = h.emulator.addr;
    let json = ("Content-Type", "application/x-amz-json-1.0");

    let (status, headers, body) =
        raw_post_target(addr, json, "AmazonSQS.NoSuchAction", b"{}").await;
    assert_eq!(status, 400);
    assert!(body.contains("InvalidAction"), "{body}");
    assert!(header(&headers, "x-amzn-query-error").starts_with("InvalidAction;Sender"));

    let (status, _, body) =
        raw_post_target(addr, json, "AmazonSQS.CreateQueue", b"{not json").await;
    assert_eq!(status, 400);
    let parsed: serde_json::Value = serde_json::from_str(&body).expect("error body is JSON");
    assert!(
        parsed["__type"]
            .as_str()
            .unwrap()
            .ends_with("SerializationException")
    );

    let (status, _, body) = raw_post_target(addr, json, "AmazonSQS.CreateQueue", b"{}").await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({
            "__type": "com.amazonaws.sqs#MissingRequiredParameterException",
            "message": "The request must contain the parameter QueueName."
        })
    );

    let (status, headers, body) = raw_post_target(
        addr,
        json,
        "AmazonSQS.GetQueueUrl",
        br#"{"QueueName":"missing"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        header(&headers, "content-type"),
        "application/x-amz-json-1.0"
    );
    assert_eq!(
        header(&headers, "x-amzn-query-error"),
        "AWS.SimpleQueueService.NonExistentQueue;Sender"
    );
    assert_eq!(
        header(&headers, "x-amzn-errortype"),
        "com.amazonaws.sqs#QueueDoesNotExist"
    );
    assert!(!header(&headers, "x-amzn-requestid").is_empty());
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({
            "__type": "com.amazonaws.sqs#QueueDoesNotExist",
            "message": "The specified queue does not exist."
        })
    );

    // Queue URLs follow the Host the client used.
    let (_, _, body) = raw_post_target(
        addr,
        json,
        "AmazonSQS.CreateQueue",
        br#"{"QueueName":"hosted"}"#,
    )
    .await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["QueueUrl"],
        format!("http://{addr}/000000000000/hosted")
    );
    h.shutdown().await;
}

async fn raw_post_target(
    addr: std::net::SocketAddr,
    content_type: (&str, &str),
    target: &str,
    body: &[u8],
) -> (u16, Vec<(String, String)>, String) {
    common::raw_post(addr, &[content_type, ("X-Amz-Target", target)], body).await
}
