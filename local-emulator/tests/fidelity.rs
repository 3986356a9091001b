//! Behaviours where SQS's answer is easy to get wrong, each pinned through aws-sdk-sqs (and raw
//! requests where the wire shape itself is the point): FIFO sends and handles, visibility
//! changes through old handles, group release, wake-ups, deduplication scope (fixed at creation) and purge,
//! attribute selection, trace headers, queue attributes, permissions, tags, regions, STS.

use lockgate_test_support as common;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, MessageAttributeValue,
    MessageSystemAttributeNameForSends, MessageSystemAttributeValue, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use common::{Harness, error_of};

lockgate_test_support::both_stores!(
    fifo_accepts_a_zero_delay,
    fifo_batch_without_ids_fails_whole,
    fifo_delete_with_an_expired_handle,
    standard_visibility_change_through_old_handles,
    fifo_group_head_is_released_alone,
    dedup_scope_is_fixed_at_creation,
    purge_clears_the_fifo_dedup_window,
    attribute_name_wildcards,
    trace_header_becomes_aws_trace_header,
    queue_type_attributes,
    permissions_as_sqs_writes_them,
    attribute_names_and_values,
    regions_are_separate,
    long_polls_wake_on_every_event_that_makes_a_message_receivable,
);

const FIFO: &[(&str, &str)] = &[("FifoQueue", "true")];

async fn receive_with(
    h: &Harness,
    url: &str,
    max: i32,
    visibility: i32,
) -> Vec<aws_sdk_sqs::types::Message> {
    h.client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .visibility_timeout(visibility)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default()
}

fn bodies(messages: &[aws_sdk_sqs::types::Message]) -> Vec<String> {
    messages.iter().map(|m| m.body.clone().unwrap()).collect()
}

/// Waits until an in-flight message's visibility timeout has passed (the queue counts it as
/// visible again).
async fn until_visible(h: &Harness, url: &str, visible: u64) {
    common::eventually("the visibility timeout to pass", || async {
        (h.depth(url).await.0 == visible).then_some(())
    })
    .await;
}

async fn fifo_accepts_a_zero_delay(h: Harness) {
    let url = h
        .create_with(
            "delay0.fifo",
            &[("FifoQueue", "true"), ("DelaySeconds", "5")],
        )
        .await;
    h.client
        .send_message()
        .queue_url(&url)
        .message_body("zero")
        .message_group_id("g")
        .message_deduplication_id("d0")
        .delay_seconds(0)
        .send()
        .await
        .expect("DelaySeconds=0 is accepted on a FIFO queue");
    // The queue's own delay still applies.
    assert_eq!(h.depth(&url).await, (0, 0, 1));
    h.client
        .send_message_batch()
        .queue_url(&url)
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("a")
                .message_body("batch zero")
                .message_group_id("g")
                .message_deduplication_id("d1")
                .delay_seconds(0)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("a batch entry with DelaySeconds=0 is accepted");
    let err = h
        .client
        .send_message()
        .queue_url(&url)
        .message_body("two")
        .message_group_id("g")
        .message_deduplication_id("d2")
        .delay_seconds(2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "InvalidParameterValue".into(),
            "Value 2 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.".into(),
            400
        )
    );
    h.shutdown().await;
}

async fn fifo_batch_without_ids_fails_whole(h: Harness) {
    let url = h.create_with("batch-ids.fifo", FIFO).await;
    let good = SendMessageBatchRequestEntry::builder()
        .id("good")
        .message_body("good")
        .message_group_id("g")
        .message_deduplication_id("d")
        .build()
        .unwrap();
    let no_dedup = SendMessageBatchRequestEntry::builder()
        .id("nodedup")
        .message_body("x")
        .message_group_id("g")
        .build()
        .unwrap();
    let no_group = SendMessageBatchRequestEntry::builder()
        .id("nogroup")
        .message_body("x")
        .message_deduplication_id("d2")
        .build()
        .unwrap();
    let err = h
        .client
        .send_message_batch()
        .queue_url(&url)
        .entries(good.clone())
        .entries(no_dedup)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "InvalidParameterValue".into(),
            "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly".into(),
            400
        )
    );
    let err = h
        .client
        .send_message_batch()
        .queue_url(&url)
        .entries(good)
        .entries(no_group)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "InvalidParameterValue".into(),
            "The request must contain the parameter MessageGroupId.".into(),
            400
        )
    );
    assert_eq!(h.depth(&url).await, (0, 0, 0), "nothing was enqueued");
    h.shutdown().await;
}

async fn fifo_delete_with_an_expired_handle(h: Harness) {
    let url = h.create_with("expired.fifo", FIFO).await;
    h.send_fifo(&url, "g", "d", "m").await;
    let m = receive_with(&h, &url, 1, 1).await.remove(0);
    let handle = m.receipt_handle.unwrap();
    until_visible(&h, &url, 1).await;
    let err = h
        .client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(&handle)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "InvalidParameterValue".into(),
            format!(
                "Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
            ),
            400
        )
    );
    assert_eq!(h.depth(&url).await, (1, 0, 0), "the message is still there");
    h.shutdown().await;
}

async fn standard_visibility_change_through_old_handles(h: Harness) {
    let url = h.create("old-handles").await;
    h.send(&url, "m").await;
    // (a) The timeout passed and nobody received it again: the change applies.
    let first = receive_with(&h, &url, 1, 1).await.remove(0);
    let first = first.receipt_handle.unwrap();
    until_visible(&h, &url, 1).await;
    h.client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&first)
        .visibility_timeout(600)
        .send()
        .await
        .expect("a handle whose timeout passed still changes visibility");
    assert_eq!(h.depth(&url).await, (0, 1, 0));
    // (b) After it was received again, an older handle is still accepted; 0 makes it
    // visible, in the batch form too.
    h.client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&first)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let second = receive_with(&h, &url, 1, 600).await.remove(0);
    let second = second.receipt_handle.unwrap();
    assert_ne!(first, second);
    let out = h
        .client
        .change_message_visibility_batch()
        .queue_url(&url)
        .entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("old")
                .receipt_handle(&first)
                .visibility_timeout(0)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful.len(), 1);
    assert!(out.failed.is_empty());
    assert_eq!(h.depth(&url).await, (1, 0, 0));
    // (c) Deleted: no handle of it works any more.
    let third = receive_with(&h, &url, 1, 600).await.remove(0);
    h.client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(third.receipt_handle.unwrap())
        .send()
        .await
        .unwrap();
    let reason = "Message does not exist or is not available for visibility timeout change.";
    let err = h
        .client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&second)
        .visibility_timeout(10)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "InvalidParameterValue".into(),
            format!("Value {second} for parameter ReceiptHandle is invalid. Reason: {reason}"),
            400
        )
    );
    let out = h
        .client
        .change_message_visibility_batch()
        .queue_url(&url)
        .entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("gone")
                .receipt_handle(&second)
                .visibility_timeout(10)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.successful.is_empty());
    assert_eq!(out.failed[0].code, "InvalidParameterValue");
    assert!(out.failed[0].message.as_deref().unwrap().ends_with(reason));
    h.shutdown().await;
}

async fn fifo_group_head_is_released_alone(h: Harness) {
    let url = h.create_with("release.fifo", FIFO).await;
    for (i, body) in ["m1", "m2", "m3"].iter().enumerate() {
        h.send_fifo(&url, "g", &format!("d{i}"), body).await;
    }
    let got = receive_with(&h, &url, 2, 600).await;
    assert_eq!(bodies(&got), ["m1", "m2"]);
    // The head becomes visible again while m2 is still in flight: SQS delivers the head
    // again, and nothing behind m2 (m3 stays back).
    h.client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(got[0].receipt_handle.clone().unwrap())
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let again = receive_with(&h, &url, 10, 600).await;
    assert_eq!(bodies(&again), ["m1"]);
    assert_eq!(
        again[0].attributes.as_ref().map(
            |a| a.contains_key(&aws_sdk_sqs::types::MessageSystemAttributeName::SequenceNumber)
        ),
        None,
        "no attributes were asked for"
    );
    assert!(receive_with(&h, &url, 10, 600).await.is_empty());
    h.shutdown().await;
}

/// A FIFO queue deduplicates as it was created: SetQueueAttributes may change the reported
/// DeduplicationScope (with FifoThroughputLimit), but on SQS later sends are still
/// deduplicated queue-wide, for ids seen before the change and for ids first seen after it.
/// The durable store keeps the rule across a restart.
async fn dedup_scope_is_fixed_at_creation(h: Harness) {
    let url = h.create_with("scope.fifo", FIFO).await;
    let first = h.send_fifo(&url, "A", "X", "first").await.0;
    h.client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::DeduplicationScope, "messageGroup")
        .attributes(QueueAttributeName::FifoThroughputLimit, "perMessageGroupId")
        .send()
        .await
        .unwrap();
    assert_eq!(
        h.attr(&url, "DeduplicationScope").await.as_deref(),
        Some("messageGroup"),
        "GetQueueAttributes reports the new scope"
    );
    let h = if h.dir.is_some() {
        h.restart().await
    } else {
        h
    };
    // X was seen in group A: dropped in group B too.
    assert_eq!(h.send_fifo(&url, "B", "X", "again").await.0, first);
    // Y is first seen after the change, still deduplicated across groups.
    let a = h.send_fifo(&url, "A", "Y", "ya").await.0;
    assert_eq!(h.send_fifo(&url, "B", "Y", "yb").await.0, a);
    assert_eq!(h.depth(&url).await.0, 2);

    // The other way round: created per group, it stays per group.
    let url = h
        .create_with(
            "group-scope.fifo",
            &[
                ("FifoQueue", "true"),
                ("DeduplicationScope", "messageGroup"),
                ("FifoThroughputLimit", "perMessageGroupId"),
            ],
        )
        .await;
    h.client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::FifoThroughputLimit, "perQueue")
        .attributes(QueueAttributeName::DeduplicationScope, "queue")
        .send()
        .await
        .unwrap();
    let a = h.send_fifo(&url, "A", "Z", "za").await.0;
    assert_ne!(h.send_fifo(&url, "B", "Z", "zb").await.0, a);
    assert_eq!(h.depth(&url).await.0, 2);
    h.shutdown().await;
}

async fn purge_clears_the_fifo_dedup_window(h: Harness) {
    let url = h.create_with("purge.fifo", FIFO).await;
    let before = h.send_fifo(&url, "g", "same", "before").await.0;
    h.client.purge_queue().queue_url(&url).send().await.unwrap();
    // A restart (durable store) must not bring the window back.
    let h = if h.dir.is_some() {
        h.restart().await
    } else {
        h
    };
    let after = h.send_fifo(&url, "g", "same", "after").await.0;
    assert_ne!(before, after);
    assert_eq!(bodies(&receive_with(&h, &url, 10, 30).await), ["after"]);
    h.shutdown().await;
}

fn string_attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .unwrap()
}

async fn attribute_name_wildcards(h: Harness) {
    let url = h.create("wildcards").await;
    let selected = h.create("wildcards-digest").await;
    let all: HashMap<String, MessageAttributeValue> =
        [("Hello", "1"), ("Help.Me", "2"), ("Other", "3")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), string_attribute(v)))
            .collect();
    h.client
        .send_message()
        .queue_url(&url)
        .message_body("m")
        .set_message_attributes(Some(all.clone()))
        .send()
        .await
        .unwrap();
    // The digest SQS gives for exactly the two selected attributes.
    let mut two = all.clone();
    two.remove("Other");
    let expected_md5 = h
        .client
        .send_message()
        .queue_url(&selected)
        .message_body("m")
        .set_message_attributes(Some(two))
        .send()
        .await
        .unwrap()
        .md5_of_message_attributes
        .unwrap();
    for (patterns, names, md5) in [
        (
            vec!["Hel.*"],
            vec!["Hello", "Help.Me"],
            Some(expected_md5.as_str()),
        ),
        (vec!["*"], vec!["Hello", "Help.Me", "Other"], None),
        (vec![".*"], vec!["Hello", "Help.Me", "Other"], None),
        (vec!["Oth.*", "Hello"], vec!["Hello", "Other"], None),
    ] {
        let mut req = h
            .client
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(0);
        for p in &patterns {
            req = req.message_attribute_names(*p);
        }
        let m = req.send().await.unwrap().messages.unwrap().remove(0);
        let mut got: Vec<_> = m
            .message_attributes
            .unwrap_or_default()
            .into_keys()
            .collect();
        got.sort();
        assert_eq!(got, names, "{patterns:?}");
        if let Some(md5) = md5 {
            assert_eq!(m.md5_of_message_attributes.as_deref(), Some(md5));
        }
    }
    h.shutdown().await;
}

async fn trace_header_becomes_aws_trace_header(h: Harness) {
    let url = h.create("traced").await;
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
    h.client
        .send_message()
        .queue_url(&url)
        .message_body("from header")
        .customize()
        .mutate_request(move |req| {
            req.headers_mut().insert("X-Amzn-Trace-Id", trace);
        })
        .send()
        .await
        .unwrap();
    // An explicit AWSTraceHeader wins over the header.
    h.client
        .send_message()
        .queue_url(&url)
        .message_body("explicit")
        .message_system_attributes(
            MessageSystemAttributeNameForSends::AwsTraceHeader,
            MessageSystemAttributeValue::builder()
                .data_type("String")
                .string_value("Root=explicit")
                .build()
                .unwrap(),
        )
        .customize()
        .mutate_request(move |req| {
            req.headers_mut().insert("X-Amzn-Trace-Id", trace);
        })
        .send()
        .await
        .unwrap();
    h.client
        .send_message_batch()
        .queue_url(&url)
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("b")
                .message_body("batch")
                .build()
                .unwrap(),
        )
        .customize()
        .mutate_request(move |req| {
            req.headers_mut().insert("X-Amzn-Trace-Id", trace);
        })
        .send()
        .await
        .unwrap();
    let got = h.receive(&url, 10).await;
    let trace_of = |body: &str| {
        got.iter()
            .find(|m| m.body.as_deref() == Some(body))
            .and_then(|m| m.attributes.clone())
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::AwsTraceHeader)
                    .cloned()
            })
    };
    assert_eq!(trace_of("from header").as_deref(), Some(trace));
    assert_eq!(trace_of("batch").as_deref(), Some(trace));
    assert_eq!(trace_of("explicit").as_deref(), Some("Root=explicit"));
    h.shutdown().await;
}

async fn queue_type_attributes(h: Harness) {
    let err = h
        .client
        .create_queue()
        .queue_name("plain")
        .attributes(QueueAttributeName::FifoQueue, "false")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "InvalidAttributeName".into(),
            "Unknown Attribute FifoQueue.".into(),
            400
        )
    );
    let fifo = h.create_with("typed.fifo", FIFO).await;
    h.client
        .set_queue_attributes()
        .queue_url(&fifo)
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("FifoQueue=true on a FIFO queue changes nothing and is accepted");
    let plain = h.create("typed").await;
    let err = h
        .client
        .set_queue_attributes()
        .queue_url(&plain)
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(err).1, "Unknown Attribute FifoQueue.");
    h.shutdown().await;
}

async fn permissions_as_sqs_writes_them(h: Harness) {
    let url = h.create("shared").await;
    h.client
        .add_permission()
        .queue_url(&url)
        .label("send")
        .aws_account_ids("111122223333")
        .actions("SendMessage")
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value =
        serde_json::from_str(&h.attr(&url, "Policy").await.unwrap()).unwrap();
    assert_eq!(policy["Version"], "2008-10-17");
    for (action, reason) in [
        (
            "SetQueueAttributes",
            "Only the queue owner is allowed to invoke this action.",
        ),
        (
            "DeleteQueue",
            "Only the queue owner is allowed to invoke this action.",
        ),
        (
            "AddPermission",
            "Only the queue owner is allowed to invoke this action.",
        ),
        (
            "SendMessageBatch",
            "Please refer to the appropriate WSDL for a list of valid actions.",
        ),
    ] {
        let err = h
            .client
            .add_permission()
            .queue_url(&url)
            .label("bad")
            .aws_account_ids("111122223333")
            .actions(action)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            error_of(err),
            (
                "InvalidParameterValue".into(),
                format!("Value SQS:{action} for parameter ActionName is invalid. Reason: {reason}"),
                400
            )
        );
    }
    let err = h
        .client
        .add_permission()
        .queue_url(&url)
        .label("nobody")
        .set_aws_account_ids(Some(vec![]))
        .actions("SendMessage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "InvalidParameterValue".into(),
            "Value [] for parameter PrincipalId is invalid. Reason: Unable to verify.".into(),
            400
        )
    );
    h.shutdown().await;
}

async fn attribute_names_and_values(h: Harness) {
    let url = h.create("latin").await;
    h.client
        .send_message()
        .queue_url(&url)
        .message_body("m")
        .message_attributes("attr.1øßä", string_attribute("v"))
        .send()
        .await
        .expect("Latin-1 letters are allowed in attribute names");
    let got = h.receive(&url, 1).await.remove(0);
    assert!(got.message_attributes.unwrap().contains_key("attr.1øßä"));
    let err = h
        .client
        .send_message()
        .queue_url(&url)
        .message_body("m")
        .message_attributes("bad", string_attribute("nul \u{1}"))
        .send()
        .await
        .unwrap_err();
    let (code, _, status) = error_of(err);
    assert_eq!((code.as_str(), status), ("InvalidParameterValue", 400));
    // Tagging with nothing.
    let err = h
        .client
        .tag_queue()
        .queue_url(&url)
        .set_tags(Some(HashMap::new()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "MissingParameter".into(),
            "The request must contain the parameter Tags.".into(),
            400
        )
    );
    let err = h
        .client
        .untag_queue()
        .queue_url(&url)
        .set_tag_keys(Some(vec![]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "InvalidParameterValue".into(),
            "Tag keys must be between 1 and 128 characters in length.".into(),
            400
        )
    );
    h.shutdown().await;
}

async fn regions_are_separate(h: Harness) {
    let endpoint = h.emulator.endpoint();
    let east = h.client.clone();
    let central = common::client_in(&endpoint, "AKIDEXAMPLE", "eu-central-1");
    let url_east = h.create("orders").await;
    let url_central = central
        .create_queue()
        .queue_name("orders")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    assert_ne!(url_east, url_central, "each region's queue has its own URL");
    let arn = |client: aws_sdk_sqs::Client, url: String| async move {
        client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&QueueAttributeName::QueueArn]
            .clone()
    };
    assert_eq!(
        arn(east.clone(), url_east.clone()).await,
        "arn:aws:sqs:us-east-1:000000000000:orders"
    );
    let central_arn = arn(central.clone(), url_central.clone()).await;
    assert_eq!(central_arn, "arn:aws:sqs:eu-central-1:000000000000:orders");
    // ListQueues lists the caller's region only.
    let list = |client: aws_sdk_sqs::Client| async move {
        client
            .list_queues()
            .send()
            .await
            .unwrap()
            .queue_urls
            .unwrap_or_default()
    };
    assert_eq!(
        list(central.clone()).await,
        std::slice::from_ref(&url_central)
    );
    assert!(!list(east.clone()).await.contains(&url_central));
    // A message sent in one region is not received in the other.
    central
        .send_message()
        .queue_url(&url_central)
        .message_body("to frankfurt")
        .send()
        .await
        .unwrap();
    assert!(receive_with(&h, &url_east, 10, 0).await.is_empty());
    let got = central
        .receive_message()
        .queue_url(&url_central)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(bodies(&got), ["to frankfurt"]);
    // A dead-letter queue must be in the source's region.
    let policy = serde_json::json!({"deadLetterTargetArn": central_arn, "maxReceiveCount": 1});
    let err = east
        .create_queue()
        .queue_name("east-source")
        .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
        .send()
        .await
        .unwrap_err();
    assert!(
        error_of(err)
            .1
            .ends_with("Dead letter target does not exist."),
        "a DLQ ARN of another region names no queue here"
    );
    // A move task's queues are looked up in the caller's region too.
    let east_arn = arn(east.clone(), url_east.clone()).await;
    let err = central
        .start_message_move_task()
        .source_arn(&east_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(err),
        (
            "ResourceNotFoundException".into(),
            "The resource that you specified for the SourceArn parameter doesn't exist.".into(),
            404
        )
    );
    // Queues keep their region across a restart.
    let h = if h.dir.is_some() {
        h.restart().await
    } else {
        h
    };
    let central = common::client_in(&h.emulator.endpoint(), "AKIDEXAMPLE", "eu-central-1");
    let listed = list(central.clone()).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        arn(central, listed[0].clone()).await,
        "arn:aws:sqs:eu-central-1:000000000000:orders"
    );
    h.shutdown().await;
}

async fn long_polls_wake_on_every_event_that_makes_a_message_receivable(h: Harness) {
    let url = h.create_with("wake.fifo", FIFO).await;
    // A parked receive, woken (well before its 20 s wait ends) by `event`.
    let parked_receive = |expect: &'static str| {
        let client = h.client.clone();
        let url = url.clone();
        tokio::spawn(async move {
            let got = client
                .receive_message()
                .queue_url(url)
                .wait_time_seconds(20)
                .visibility_timeout(600)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default();
            assert_eq!(bodies(&got), [expect]);
            got.into_iter().next().unwrap().receipt_handle.unwrap()
        })
    };
    let until_parked = || h.until_parked("wake.fifo", 1);
    for (i, body) in ["a1", "a2", "a3", "a4"].iter().enumerate() {
        h.send_fifo(&url, "g", &format!("d{i}"), body).await;
    }
    let head = receive_with(&h, &url, 1, 600).await.remove(0);

    // 1. The group unlocks because its in-flight head is deleted.
    let waiter = parked_receive("a2");
    until_parked().await;
    h.client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(head.receipt_handle.unwrap())
        .send()
        .await
        .unwrap();
    let a2 = tokio::time::timeout(Duration::from_secs(15), waiter)
        .await
        .expect("deleting the group's head woke the parked receive")
        .unwrap();

    // 2. The head is made visible again (ChangeMessageVisibility to 0).
    let waiter = parked_receive("a2");
    until_parked().await;
    h.client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&a2)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let a2 = tokio::time::timeout(Duration::from_secs(15), waiter)
        .await
        .expect("making the head visible woke the parked receive")
        .unwrap();

    // 3. The head's timeout is shortened: the parked receive wakes when it ends (1 s), not
    // at the end of its own wait.
    let waiter = parked_receive("a2");
    until_parked().await;
    h.client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&a2)
        .visibility_timeout(1)
        .send()
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(15), waiter)
        .await
        .expect("the end of the shortened timeout woke the parked receive")
        .unwrap();
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_replies_leave_out_an_empty_failed_list() {
    let h = Harness::memory().await;
    let url = h.create("batch-shape").await;
    let addr = h.emulator.addr;
    let post = |target: &'static str, body: String| async move {
        let (status, _, body) = common::raw_post(
            addr,
            &[
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Target", target),
            ],
            body.as_bytes(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };
    let sent = post(
        "AmazonSQS.SendMessageBatch",
        serde_json::json!({"QueueUrl": url, "Entries": [{"Id": "a", "MessageBody": "m"}]})
            .to_string(),
    )
    .await;
    assert!(sent.get("Failed").is_none(), "{sent}");
    assert_eq!(sent["Successful"][0]["Id"], "a");
    let m = receive_with(&h, &url, 1, 600).await.remove(0);
    let handle = m.receipt_handle.unwrap();
    let changed = post(
        "AmazonSQS.ChangeMessageVisibilityBatch",
        serde_json::json!({"QueueUrl": url, "Entries": [{"Id": "c", "ReceiptHandle": handle, "VisibilityTimeout": 600}]})
            .to_string(),
    )
    .await;
    assert!(changed.get("Failed").is_none(), "{changed}");
    let deleted = post(
        "AmazonSQS.DeleteMessageBatch",
        serde_json::json!({"QueueUrl": url, "Entries": [{"Id": "d", "ReceiptHandle": handle}]})
            .to_string(),
    )
    .await;
    assert!(deleted.get("Failed").is_none(), "{deleted}");
    // With a failure, Failed is there.
    let failed = post(
        "AmazonSQS.SendMessageBatch",
        serde_json::json!({"QueueUrl": url, "Entries": [{"Id": "a", "MessageBody": "m", "DelaySeconds": 901}]})
            .to_string(),
    )
    .await;
    assert_eq!(failed["Failed"][0]["Id"], "a");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_protocol_wire_shapes() {
    let h = Harness::memory().await;
    let url = h.create("wire").await;
    let addr = h.emulator.addr;
    let path = url.split_once(&addr.to_string()).unwrap().1.to_string();
    // Asked for JSON, a Query action answers in SQS's JSON shape.
    let (status, headers, body) = common::raw_request(
        addr,
        "GET",
        "/?Action=ListQueues&Version=2012-11-05",
        &[("Accept", "application/json")],
        b"",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(common::header(&headers, "content-type").starts_with("application/json"));
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
    // SQS names lists lower-camel and writes absent members as null.
    assert_eq!(
        parsed["ListQueuesResponse"]["ListQueuesResult"],
        serde_json::json!({"NextToken": null, "queueUrls": [url]})
    );
    assert!(
        parsed["ListQueuesResponse"]["ResponseMetadata"]["RequestId"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    let (status, _, body) = common::raw_request(
        addr,
        "GET",
        &format!("{path}?Action=SendMessage&MessageBody=hi"),
        &[("Accept", "application/json")],
        b"",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let sent = &parsed["SendMessageResponse"]["SendMessageResult"];
    assert_eq!(sent["MD5OfMessageBody"], "49f68a5c8493ec2c0bf489821c21fc3b");
    assert_eq!(sent["SequenceNumber"], serde_json::Value::Null);
    assert!(
        sent.as_object()
            .unwrap()
            .contains_key("MD5OfMessageAttributes")
    );
    // ReceiveMessage: `messages`, each message with every member; an empty receive: null.
    let own = h.create("wire-json").await;
    h.send(&own, "hi").await;
    let own_path = own.split_once(&addr.to_string()).unwrap().1.to_string();
    let receive =
        format!("{own_path}?Action=ReceiveMessage&AttributeName.1=All&VisibilityTimeout=600");
    let json = [("Accept", "application/json")];
    let (status, _, body) = common::raw_request(addr, "GET", &receive, &json, b"").await;
    assert_eq!(status, 200, "{body}");
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let result = &parsed["ReceiveMessageResponse"]["ReceiveMessageResult"];
    assert!(result.get("Messages").is_none(), "{body}");
    let message = &result["messages"][0];
    assert_eq!(message["Body"], "hi");
    assert_eq!(message["Attributes"]["ApproximateReceiveCount"], "1");
    assert_eq!(message["MessageAttributes"], serde_json::Value::Null);
    assert_eq!(message["MD5OfMessageAttributes"], serde_json::Value::Null);
    let (_, _, body) = common::raw_request(addr, "GET", &receive, &json, b"").await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["ReceiveMessageResponse"]["ReceiveMessageResult"],
        serde_json::json!({"messages": null})
    );
    // Errors too.
    let (status, _, body) = common::raw_request(
        addr,
        "GET",
        "/000000000000/missing?Action=GetQueueAttributes",
        &[("Accept", "application/json")],
        b"",
    )
    .await;
    assert_eq!(status, 400);
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        parsed["Error"]["Code"],
        "AWS.SimpleQueueService.NonExistentQueue"
    );
    // GET on a queue URL with no action: SQS's bare element, in XML even to a JSON client.
    for accept in [&[][..], &[("Accept", "application/json")][..]] {
        let (status, _, body) = common::raw_request(addr, "GET", &path, accept, b"").await;
        assert_eq!(
            (status, body.as_str()),
            (404, "<UnknownOperationException/>")
        );
    }
    // Service-level actions on a queue URL.
    for action in ["CreateQueue", "ListQueues"] {
        let (status, _, body) = common::raw_request(
            addr,
            "GET",
            &format!("{path}?Action={action}&QueueName=x"),
            &[],
            b"",
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("<Code>InvalidAction</Code>"), "{body}");
        assert!(
            body.contains(&format!(
                "<Message>The action {action} is not valid for this endpoint.</Message>"
            )),
            "{body}"
        );
    }
    // An empty receive.
    let (status, _, body) = common::raw_request(
        addr,
        "GET",
        &format!("{path}?Action=ReceiveMessage&VisibilityTimeout=600&AttributeName.1=All"),
        &[],
        b"",
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, body2) = common::raw_request(
        addr,
        "GET",
        &format!("{path}?Action=ReceiveMessage"),
        &[],
        b"",
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("<Message>"), "{body}");
    assert!(body2.contains("<ReceiveMessageResult/>"), "{body2}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_and_other_services() {
    let h = Harness::memory().await;
    let addr = h.emulator.addr;
    // The JSON protocol's STS target (the Query form is tested with boto3).
    let (status, _, body) = common::raw_post(
        addr,
        &[
            ("Content-Type", "application/x-amz-json-1.0"),
            (
                "X-Amz-Target",
                "AWSSecurityTokenServiceV20110615.GetCallerIdentity",
            ),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=123456789012/20240101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0",
            ),
        ],
        b"{}",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:root", "UserId": "123456789012"})
    );
    let (status, _, body) = common::raw_post(
        addr,
        &[
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", "DynamoDB_20120810.ListTables"),
        ],
        b"{}",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("DynamoDB_20120810"), "{body}");
    assert!(body.contains("does not provide"), "{body}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_of_the_previous_format_opens_in_the_default_region() {
    let dir = tempfile::tempdir().unwrap();
    {
        // Format 1: queues had no region.
        let conn = rusqlite::Connection::open(dir.path().join("lockgate.sqlite3")).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('format', '1');
             CREATE TABLE queues (id INTEGER PRIMARY KEY, account TEXT NOT NULL, name TEXT NOT NULL,
                 attributes TEXT NOT NULL, tags TEXT NOT NULL, created_s INTEGER NOT NULL,
                 modified_s INTEGER NOT NULL);
             CREATE TABLE messages (seq INTEGER PRIMARY KEY, queue_id INTEGER NOT NULL,
                 message_id BLOB NOT NULL, body TEXT NOT NULL, extras TEXT, group_id TEXT,
                 sent_ms INTEGER NOT NULL, visible_at_ms INTEGER NOT NULL,
                 receive_count INTEGER NOT NULL, first_receive_ms INTEGER NOT NULL);
             CREATE TABLE dedup (queue_id INTEGER NOT NULL, key TEXT NOT NULL,
                 message_id BLOB NOT NULL, seq INTEGER NOT NULL, expires_ms INTEGER NOT NULL,
                 PRIMARY KEY (queue_id, key)) WITHOUT ROWID;",
        )
        .unwrap();
        let attrs = r#"{"delay_seconds":0,"maximum_message_size":1048576,"message_retention_period":345600,"receive_message_wait_time_seconds":0,"visibility_timeout":30,"policy":null,"redrive_policy":null,"redrive_allow_policy":null,"fifo_queue":false,"content_based_deduplication":false,"deduplication_scope":"queue","fifo_throughput_limit":"perQueue","kms_master_key_id":null,"kms_data_key_reuse_period_seconds":300,"sqs_managed_sse_enabled":true}"#;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        conn.execute(
            "INSERT INTO queues VALUES (1, '000000000000', 'old', ?1, '{}', 1, 1)",
            [attrs],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO messages VALUES (1, 1, ?1, 'kept', NULL, NULL, ?2, 0, 0, 0)",
            rusqlite::params![&[0x42u8; 16][..], now_ms],
        )
        .unwrap();
    }
    let h = Harness::durable_in(dir).await;
    let urls = h
        .client
        .list_queues()
        .send()
        .await
        .unwrap()
        .queue_urls
        .unwrap();
    assert_eq!(urls.len(), 1);
    assert_eq!(
        h.attr(&urls[0], "QueueArn").await.as_deref(),
        Some("arn:aws:sqs:us-east-1:000000000000:old")
    );
    assert_eq!(bodies(&h.receive(&urls[0], 10).await), ["kept"]);
    h.shutdown().await;
}
