//! Standard queues through aws-sdk-sqs: every action's success path, on both stores.

use lockgate_test_support as common;

use std::collections::HashSet;

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName,
    MessageSystemAttributeNameForSends, MessageSystemAttributeValue, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use common::Harness;

lockgate_test_support::both_stores!(
    queue_lifecycle,
    send_receive_delete,
    attributes_and_checksums,
    batches,
    visibility,
    delays,
    redrive_to_dead_letter_queue,
    tags_and_purge,
    list_queues_paging,
    accounts_are_isolated,
    permissions,
    message_move_tasks,
);

async fn queue_lifecycle(h: Harness) {
    let url = h.create("orders").await;
    assert!(url.ends_with("/000000000000/orders"), "{url}");
    // Same name, same attributes: the same URL.
    assert_eq!(h.create("orders").await, url);
    let got = h
        .client
        .get_queue_url()
        .queue_name("orders")
        .send()
        .await
        .unwrap();
    assert_eq!(got.queue_url.as_deref(), Some(url.as_str()));

    let attrs = h
        .client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(
        attrs[&QueueAttributeName::QueueArn],
        "arn:aws:sqs:us-east-1:000000000000:orders"
    );
    assert_eq!(attrs[&QueueAttributeName::VisibilityTimeout], "30");
    assert_eq!(attrs[&QueueAttributeName::MaximumMessageSize], "1048576");
    assert_eq!(attrs[&QueueAttributeName::MessageRetentionPeriod], "345600");
    assert!(!attrs.contains_key(&QueueAttributeName::FifoQueue));
    assert!(!attrs.contains_key(&QueueAttributeName::RedrivePolicy));
    let created: u64 = attrs[&QueueAttributeName::CreatedTimestamp]
        .parse()
        .unwrap();
    assert!(created > 1_600_000_000);

    h.client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::VisibilityTimeout, "45")
        .attributes(QueueAttributeName::DelaySeconds, "0")
        .send()
        .await
        .unwrap();
    assert_eq!(
        h.attr(&url, "VisibilityTimeout").await.as_deref(),
        Some("45")
    );
    // The queue now differs from the defaults only where it was changed.
    assert_eq!(h.create("orders").await, url);

    h.client
        .delete_queue()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    let err = h
        .client
        .get_queue_url()
        .queue_name("orders")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_queue_does_not_exist());
    h.shutdown().await;
}

async fn send_receive_delete(h: Harness) {
    let url = h.create("work").await;
    let id = h.send(&url, "hello").await;
    assert_eq!(h.depth(&url).await, (1, 0, 0));
    let messages = h.receive(&url, 10).await;
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.message_id.as_deref(), Some(id.as_str()));
    assert_eq!(m.body.as_deref(), Some("hello"));
    assert_eq!(
        m.md5_of_body.as_deref(),
        Some("5d41402abc4b2a76b9719d911017c592")
    );
    let attrs = m.attributes.as_ref().unwrap();
    assert_eq!(
        attrs[&MessageSystemAttributeName::ApproximateReceiveCount],
        "1"
    );
    assert!(attrs.contains_key(&MessageSystemAttributeName::SentTimestamp));
    assert!(attrs.contains_key(&MessageSystemAttributeName::ApproximateFirstReceiveTimestamp));
    assert_eq!(h.depth(&url).await, (0, 1, 0));
    // In flight: a second receive gets nothing.
    assert!(h.receive(&url, 10).await.is_empty());
    h.client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(m.receipt_handle.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(h.depth(&url).await, (0, 0, 0));
    // Deleting again is not an error.
    h.client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(m.receipt_handle.clone().unwrap())
        .send()
        .await
        .unwrap();
    h.shutdown().await;
}

async fn attributes_and_checksums(h: Harness) {
    let url = h.create("attrs").await;
    let sent = h
        .client
        .send_message()
        .queue_url(&url)
        .message_body("body")
        .message_attributes(
            "attribName1",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("attribValue 1")
                .build()
                .unwrap(),
        )
        .message_attributes(
            "customNumberTypeAttrib",
            MessageAttributeValue::builder()
                .data_type("Number.float")
                .string_value("4563442423554324324264524243.32543234")
                .build()
                .unwrap(),
        )
        .message_attributes(
            "binaryAttribute",
            MessageAttributeValue::builder()
                .data_type("Binary")
                .binary_value(aws_sdk_sqs::primitives::Blob::new(
                    b"Hello binary world!".to_vec(),
                ))
                .build()
                .unwrap(),
        )
        .message_system_attributes(
            MessageSystemAttributeNameForSends::AwsTraceHeader,
            MessageSystemAttributeValue::builder()
                .data_type("String")
                .string_value("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        sent.md5_of_message_attributes.as_deref(),
        Some("c932db14a896c663f83c260297d594ff")
    );
    assert_eq!(
        sent.md5_of_message_body.as_deref(),
        Some("841a2d689ad86bd1611447453c22c6fc")
    );
    assert!(sent.md5_of_message_system_attributes.is_some());

    // Only the selected attributes come back, and the checksum covers exactly those.
    let got = h
        .client
        .receive_message()
        .queue_url(&url)
        .message_attribute_names("attribName1")
        .message_system_attribute_names(MessageSystemAttributeName::AwsTraceHeader)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    let m = &got[0];
    let user = m.message_attributes.as_ref().unwrap();
    assert_eq!(user.len(), 1);
    assert_eq!(user["attribName1"].string_value(), Some("attribValue 1"));
    assert_eq!(
        m.md5_of_message_attributes.as_deref(),
        Some("19e27d4e946b072f3f58da80d94fd778")
    );
    assert_eq!(
        m.attributes.as_ref().unwrap()[&MessageSystemAttributeName::AwsTraceHeader],
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    );

    let all = h.receive(&url, 1).await;
    let user = all[0].message_attributes.as_ref().unwrap();
    assert_eq!(user.len(), 3);
    assert_eq!(
        user["binaryAttribute"].binary_value().unwrap().as_ref(),
        b"Hello binary world!"
    );
    assert_eq!(
        all[0].md5_of_message_attributes.as_deref(),
        Some("c932db14a896c663f83c260297d594ff")
    );
    h.shutdown().await;
}

async fn batches(h: Harness) {
    let url = h.create("batch").await;
    let mut req = h.client.send_message_batch().queue_url(&url);
    for i in 0..10 {
        req = req.entries(
            SendMessageBatchRequestEntry::builder()
                .id(format!("m{i}"))
                .message_body(format!("body {i}"))
                .build()
                .unwrap(),
        );
    }
    let sent = req.send().await.unwrap();
    assert_eq!(sent.successful.len(), 10);
    assert!(sent.failed.is_empty());

    // A batch with one bad entry: the rest succeed, the bad one is reported.
    let sent = h
        .client
        .send_message_batch()
        .queue_url(&url)
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("good")
                .message_body("fine")
                .build()
                .unwrap(),
        )
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("bad")
                .message_body("x")
                .delay_seconds(901)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(sent.successful.len(), 1);
    assert_eq!(sent.failed.len(), 1);
    assert_eq!(sent.failed[0].id, "bad");
    assert_eq!(sent.failed[0].code, "InvalidParameterValue");
    assert!(sent.failed[0].sender_fault);

    let mut seen = HashSet::new();
    let mut handles = Vec::new();
    while seen.len() < 11 {
        let got = h.receive(&url, 10).await;
        assert!(!got.is_empty(), "queue drained early: {seen:?}");
        for m in got {
            assert!(seen.insert(m.body.clone().unwrap()), "duplicate delivery");
            handles.push(m.receipt_handle.unwrap());
        }
    }
    for chunk in handles.chunks(9) {
        let mut req = h.client.delete_message_batch().queue_url(&url);
        for (i, handle) in chunk.iter().enumerate() {
            req = req.entries(
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("d{i}"))
                    .receipt_handle(handle)
                    .build()
                    .unwrap(),
            );
        }
        let deleted = req
            .entries(
                DeleteMessageBatchRequestEntry::builder()
                    .id("garbage")
                    .receipt_handle("not-a-handle")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.successful.len(), chunk.len());
        assert_eq!(deleted.failed.len(), 1);
        assert_eq!(deleted.failed[0].code, "ReceiptHandleIsInvalid");
    }
    assert_eq!(h.depth(&url).await, (0, 0, 0));
    h.shutdown().await;
}

async fn visibility(h: Harness) {
    let url = h.create("vis").await;
    h.send(&url, "a").await;
    let m = h.receive(&url, 1).await.remove(0);
    let handle = m.receipt_handle.unwrap();
    // Making it visible again returns it to the queue at once.
    h.client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&handle)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let again = h.receive(&url, 1).await.remove(0);
    assert_eq!(
        again.attributes.as_ref().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount],
        "2"
    );
    // On a standard queue SQS still accepts the older handle: it changes the message's
    // current visibility.
    h.client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&handle)
        .visibility_timeout(10)
        .send()
        .await
        .expect("an older handle of a message that exists is accepted");
    assert_eq!(h.depth(&url).await, (0, 1, 0));

    // A receive-time visibility timeout of 1 second: the message comes back by itself.
    let h2 = again.receipt_handle.unwrap();
    h.client
        .change_message_visibility_batch()
        .queue_url(&url)
        .entries(
            aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("one")
                .receipt_handle(&h2)
                .visibility_timeout(1)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let back = h
        .client
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(20)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(
        back.len(),
        1,
        "message returned after its visibility timeout"
    );
    h.shutdown().await;
}

async fn delays(h: Harness) {
    let url = h.create_with("delayed", &[("DelaySeconds", "1")]).await;
    h.send(&url, "later").await;
    assert_eq!(h.depth(&url).await, (0, 0, 1));
    assert!(h.receive(&url, 1).await.is_empty());
    // Long polling wakes when the delay ends.
    let got = h
        .client
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(20)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(got.len(), 1);
    // A per-message delay overrides the queue's.
    h.client
        .send_message()
        .queue_url(&url)
        .message_body("now")
        .delay_seconds(0)
        .send()
        .await
        .unwrap();
    assert_eq!(h.receive(&url, 1).await.len(), 1);
    h.shutdown().await;
}

async fn redrive_to_dead_letter_queue(h: Harness) {
    let dlq = h.create("orders-dlq").await;
    let dlq_arn = h.attr(&dlq, "QueueArn").await.unwrap();
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#);
    let url = h.create_with("orders", &[("RedrivePolicy", &policy)]).await;
    let stored = h.attr(&url, "RedrivePolicy").await.unwrap();
    assert_eq!(
        stored,
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":2}}"#)
    );
    let id = h.send(&url, "poison").await;
    for attempt in 1..=2 {
        let got = h
            .client
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap();
        assert_eq!(
            got[0].attributes.as_ref().unwrap()
                [&MessageSystemAttributeName::ApproximateReceiveCount],
            attempt.to_string()
        );
    }
    // The third receive would exceed maxReceiveCount: the message moves instead.
    assert!(h.receive(&url, 1).await.is_empty());
    let moved = h.receive(&dlq, 1).await;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].message_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        moved[0].attributes.as_ref().unwrap()
            [&MessageSystemAttributeName::DeadLetterQueueSourceArn],
        "arn:aws:sqs:us-east-1:000000000000:orders"
    );
    let sources = h
        .client
        .list_dead_letter_source_queues()
        .queue_url(&dlq)
        .send()
        .await
        .unwrap();
    assert_eq!(sources.queue_urls, vec![url.clone()]);
    h.shutdown().await;
}

async fn tags_and_purge(h: Harness) {
    let url = h
        .client
        .create_queue()
        .queue_name("tagged")
        .tags("team", "payments")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    h.client
        .tag_queue()
        .queue_url(&url)
        .tags("env", "dev")
        .send()
        .await
        .unwrap();
    let tags = h
        .client
        .list_queue_tags()
        .queue_url(&url)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap();
    assert_eq!(tags.len(), 2);
    assert_eq!(tags["team"], "payments");
    h.client
        .untag_queue()
        .queue_url(&url)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = h
        .client
        .list_queue_tags()
        .queue_url(&url)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default();
    assert_eq!(tags.keys().collect::<Vec<_>>(), vec!["env"]);

    for i in 0..5 {
        h.send(&url, &format!("m{i}")).await;
    }
    h.receive(&url, 2).await;
    assert_eq!(h.depth(&url).await, (3, 2, 0));
    h.client.purge_queue().queue_url(&url).send().await.unwrap();
    assert_eq!(h.depth(&url).await, (0, 0, 0));
    let err = h
        .client
        .purge_queue()
        .queue_url(&url)
        .send()
        .await
        .unwrap_err();
    let (code, message, status) = common::error_of(err);
    assert_eq!(code, "AWS.SimpleQueueService.PurgeQueueInProgress");
    assert_eq!(status, 403);
    assert_eq!(
        message,
        "Only one PurgeQueue operation on tagged is allowed every 60 seconds."
    );
    h.shutdown().await;
}

async fn list_queues_paging(h: Harness) {
    for name in ["a1", "a2", "a3", "b1"] {
        h.create(name).await;
    }
    let all = h.client.list_queues().send().await.unwrap();
    assert_eq!(all.queue_urls.unwrap().len(), 4);
    assert!(all.next_token.is_none());
    let prefixed = h
        .client
        .list_queues()
        .queue_name_prefix("a")
        .send()
        .await
        .unwrap();
    assert_eq!(prefixed.queue_urls.unwrap().len(), 3);
    let page1 = h.client.list_queues().max_results(2).send().await.unwrap();
    assert_eq!(page1.queue_urls.as_ref().unwrap().len(), 2);
    let token = page1.next_token.expect("more pages");
    let page2 = h
        .client
        .list_queues()
        .max_results(2)
        .next_token(token)
        .send()
        .await
        .unwrap();
    let urls = page2.queue_urls.unwrap();
    assert_eq!(urls.len(), 2);
    assert!(urls[1].ends_with("/b1"));
    assert!(page2.next_token.is_none());
    h.shutdown().await;
}

async fn accounts_are_isolated(h: Harness) {
    let tenant = common::client(&h.emulator.endpoint(), "111122223333");
    let url = tenant
        .create_queue()
        .queue_name("shared-name")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    assert!(url.contains("/111122223333/shared-name"));
    assert!(
        h.client
            .list_queues()
            .send()
            .await
            .unwrap()
            .queue_urls
            .is_none()
    );
    let err = h
        .client
        .get_queue_url()
        .queue_name("shared-name")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_queue_does_not_exist());
    h.shutdown().await;
}

async fn permissions(h: Harness) {
    let url = h.create("shared").await;
    h.client
        .add_permission()
        .queue_url(&url)
        .label("crossaccountpermission")
        .aws_account_ids("111122223333")
        .actions("SendMessage")
        .actions("ReceiveMessage")
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value =
        serde_json::from_str(&h.attr(&url, "Policy").await.expect("a policy")).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Sid"], "crossaccountpermission");
    assert_eq!(
        statement["Principal"]["AWS"],
        "arn:aws:iam::111122223333:root"
    );
    assert_eq!(
        statement["Action"],
        serde_json::json!(["SQS:SendMessage", "SQS:ReceiveMessage"])
    );
    assert_eq!(
        statement["Resource"],
        "arn:aws:sqs:us-east-1:000000000000:shared"
    );

    let err = h
        .client
        .add_permission()
        .queue_url(&url)
        .label("crossaccountpermission")
        .aws_account_ids("111122223333")
        .actions("SendMessage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        common::error_of(err),
        (
            "InvalidParameterValue".into(),
            "Value crossaccountpermission for parameter Label is invalid. Reason: Already exists."
                .into(),
            400
        )
    );
    let err = h
        .client
        .remove_permission()
        .queue_url(&url)
        .label("crossaccountpermission2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        common::error_of(err).1,
        "Value crossaccountpermission2 for parameter Label is invalid. Reason: can't find label."
    );
    h.client
        .remove_permission()
        .queue_url(&url)
        .label("crossaccountpermission")
        .send()
        .await
        .unwrap();
    assert_eq!(h.attr(&url, "Policy").await, None);
    h.shutdown().await;
}

async fn message_move_tasks(h: Harness) {
    let dlq = h.create("mt-dlq").await;
    let dlq_arn = h.attr(&dlq, "QueueArn").await.unwrap();
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":1}}"#);
    let src = h.create_with("mt-src", &[("RedrivePolicy", &policy)]).await;
    let src_arn = h.attr(&src, "QueueArn").await.unwrap();
    for i in 0..5 {
        h.send(&src, &format!("m{i}")).await;
    }
    // One receive each (visibility 0), then the next receive moves them to the DLQ.
    let mut received = 0;
    while received < 5 {
        received += h
            .client
            .receive_message()
            .queue_url(&src)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
            .len();
    }
    assert!(h.receive(&src, 10).await.is_empty());
    assert_eq!(h.depth(&dlq).await.0, 5);

    let err = h
        .client
        .start_message_move_task()
        .source_arn(&src_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        common::error_of(err).1,
        "Source queue must be configured as a Dead Letter Queue."
    );
    let err = h
        .client
        .start_message_move_task()
        .source_arn("arn:aws:sqs:us-east-1:000000000000:nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        common::error_of(err),
        (
            "ResourceNotFoundException".into(),
            "The resource that you specified for the SourceArn parameter doesn't exist.".into(),
            404
        )
    );

    h.client
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .send()
        .await
        .unwrap();
    let client = h.client.clone();
    let done = common::eventually("the move task to complete", || {
        let client = client.clone();
        let dlq_arn = dlq_arn.clone();
        async move {
            let tasks = client
                .list_message_move_tasks()
                .source_arn(dlq_arn)
                .send()
                .await
                .unwrap()
                .results
                .unwrap_or_default();
            tasks
                .into_iter()
                .next()
                .filter(|t| t.status.as_deref() == Some("COMPLETED"))
        }
    })
    .await;
    assert_eq!(done.approximate_number_of_messages_moved, 5);
    assert_eq!(done.approximate_number_of_messages_to_move, Some(5));
    assert_eq!(h.depth(&dlq).await, (0, 0, 0));
    // Back in the source, as new deliveries.
    let back = h.receive(&src, 10).await;
    assert_eq!(back.len(), 5);
    for m in &back {
        let attrs = m.attributes.as_ref().unwrap();
        assert_eq!(
            attrs[&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount],
            "1"
        );
    }
    let err = h
        .client
        .cancel_message_move_task()
        .task_handle("no-such-task")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        common::error_of(err),
        (
            "ResourceNotFoundException".into(),
            "Task does not exist.".into(),
            404
        )
    );
    h.shutdown().await;
}
