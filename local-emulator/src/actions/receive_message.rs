//! ReceiveMessage, with long polling that wakes the moment a message becomes visible, the
//! redrive policy applied at receive time, and FIFO receive-attempt replay.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use super::send_message::sequence_number;
use super::{Context, validate};
use crate::error::{SqsError, SqsResult};
use crate::queue::message::{Attributes, Content, format_message_id, hex, md5_of_attributes};
use crate::queue::receipt::{HandleKey, ReceiptHandle};
use crate::queue::{Delivery, Queue, ReceiveOptions, Redrive};
use crate::store::Fetched;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    queue_url: Option<String>,
    #[serde(default)]
    attribute_names: Vec<String>,
    #[serde(default)]
    message_system_attribute_names: Vec<String>,
    #[serde(default)]
    message_attribute_names: Vec<String>,
    max_number_of_messages: Option<i64>,
    visibility_timeout: Option<i64>,
    wait_time_seconds: Option<i64>,
    receive_request_attempt_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    messages: Vec<ReceivedMessage>,
}

#[derive(Serialize)]
pub struct ReceivedMessage {
    #[serde(rename = "MessageId")]
    message_id: String,
    #[serde(rename = "ReceiptHandle")]
    receipt_handle: String,
    #[serde(rename = "MD5OfBody")]
    md5_of_body: String,
    #[serde(rename = "Body")]
    body: String,
    #[serde(rename = "Attributes", skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<&'static str, String>,
    #[serde(
        rename = "MD5OfMessageAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    md5_of_message_attributes: Option<String>,
    #[serde(
        rename = "MessageAttributes",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    message_attributes: Attributes,
}

const SYSTEM_ATTRIBUTES: &[&str] = &[
    "AWSTraceHeader",
    "ApproximateFirstReceiveTimestamp",
    "ApproximateReceiveCount",
    "DeadLetterQueueSourceArn",
    "MessageDeduplicationId",
    "MessageGroupId",
    "SenderId",
    "SentTimestamp",
    "SequenceNumber",
];

fn ranged(
    value: Option<i64>,
    parameter: &str,
    min: i64,
    max: i64,
    reason: &str,
) -> SqsResult<Option<u32>> {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(SqsError::invalid_value(v, parameter, reason)),
        other => Ok(other.map(|v| v as u32)),
    }
}

pub async fn handle(ctx: &Context, req: Request) -> SqsResult<Response> {
    let queue = ctx.queue(req.queue_url.as_deref())?;
    let max = ranged(
        req.max_number_of_messages,
        "MaxNumberOfMessages",
        1,
        10,
        "Must be between 1 and 10, if provided.",
    )?
    .unwrap_or(1) as usize;
    let wait = ranged(
        req.wait_time_seconds,
        "WaitTimeSeconds",
        0,
        20,
        "Must be >= 0 and <= 20, if provided.",
    )?;
    let visibility = ranged(
        req.visibility_timeout,
        "VisibilityTimeout",
        0,
        43_200,
        "Must be >= 0 and <= 43200, if provided.",
    )?;
    let attempt_id = match &req.receive_request_attempt_id {
        Some(id) if queue.fifo => {
            validate::token(id, "ReceiveRequestAttemptId")?;
            Some(id.as_str())
        }
        _ => None,
    };
    let (wait_s, visibility_s, redrive) = {
        let state = queue.lock();
        (
            wait.unwrap_or(state.attrs.receive_message_wait_time_seconds),
            visibility.unwrap_or(state.attrs.visibility_timeout),
            state
                .attrs
                .max_receive_count()
                .map(|(count, arn)| (count, arn.to_string())),
        )
    };
    // The dead-letter queue is resolved up front; if it no longer exists nothing is moved.
    let dead_letter_queue = redrive
        .as_ref()
        .and_then(|(count, arn)| ctx.sqs.queue_by_arn(arn).map(|q| (*count, q)));
    let clock = &ctx.sqs.config.clock;
    let deadline_ms = clock.now_ms() + u64::from(wait_s) * 1000;

    let deliveries = loop {
        let notified = queue.notify.notified();
        let closed = ctx.sqs.closed.notified();
        tokio::pin!(notified, closed);
        notified.as_mut().enable();
        closed.as_mut().enable();

        let opts = ReceiveOptions {
            max,
            visibility_s,
            redrive: dead_letter_queue.as_ref().map(|(count, dlq)| Redrive {
                max_receive_count: *count,
                dead_letter_queue_id: dlq.id,
                source_arn: &queue.arn,
            }),
            attempt_id,
        };
        let now = clock.now_ms();
        let ((deliveries, moved, next_wake_ms), commit) =
            queue.submit(&ctx.sqs.store, |state, ops| {
                let mut moved = Vec::new();
                let deliveries = state.receive(&opts, now, ops, &mut moved)?;
                Ok((deliveries, moved, state.next_wake_ms()))
            })?;
        // A receive's own changes (receive count, visibility deadline) are written in order
        // but not awaited: losing them in a crash only makes the message visible again early
        // (docs/storage.md). Messages moved to a dead-letter queue wait for the commit and only
        // then appear there.
        if !moved.is_empty() {
            commit.await?;
            if let Some((_, dlq)) = &dead_letter_queue {
                ctx.sqs.deliver_to_dead_letter_queue(dlq, moved);
            }
        } else if let Some(why) = ctx.sqs.store.failure() {
            // A failed store hands nothing out: memory may be ahead of the disk.
            return Err(crate::store::StoreError::Failed(why.into()).into());
        }
        if !deliveries.is_empty() || ctx.sqs.is_closing() {
            break deliveries;
        }
        if clock.now_ms() >= deadline_ms {
            break deliveries;
        }
        // Sleep until a change wakes us (send, delete, visibility change, move), the next
        // delayed or in-flight message is due or a message expires, or the wait ends — all on
        // the emulator's clock.
        let wake_at_ms = next_wake_ms.map_or(deadline_ms, |at| at.min(deadline_ms));
        queue.waiting.fetch_add(1, Ordering::Relaxed);
        tokio::select! {
            _ = &mut notified => {}
            _ = &mut closed => {}
            _ = clock.sleep_until_ms(wake_at_ms) => {}
        }
        queue.waiting.fetch_sub(1, Ordering::Relaxed);
    };

    let system_names =
        requested_system_attributes(&req.attribute_names, &req.message_system_attribute_names);
    let contents = ctx.sqs.read_contents(&queue, &deliveries).await;
    let mut messages = Vec::with_capacity(deliveries.len());
    let mut unreadable = None;
    for (d, fetched) in deliveries.into_iter().zip(contents) {
        match fetched {
            Fetched::Found(content) => messages.push(render(
                &queue,
                d,
                &content,
                &ctx.sqs.handle_key,
                &system_names,
                &req.message_attribute_names,
            )),
            // Deleted (with an earlier handle) or purged since it was taken: not delivered.
            Fetched::Gone => {}
            // Left in flight: it comes back when its visibility timeout ends, and a redrive
            // policy moves it to the dead-letter queue like any message that keeps failing.
            Fetched::Unreadable(why) => {
                tracing::error!(queue = %queue.arn, seq = d.seq, error = %why, "a received message cannot be read from the store; the others are delivered");
                unreadable.get_or_insert(why);
            }
        }
    }
    match unreadable {
        Some(why) if messages.is_empty() => Err(SqsError::new(
            crate::error::ErrorCode::InternalError,
            format!(
                "A message cannot be read from the store: {why}. It stays in the queue (in flight until its visibility timeout ends)."
            ),
        )),
        _ => Ok(Response { messages }),
    }
}

fn requested_system_attributes<'a>(
    legacy: &'a [String],
    current: &'a [String],
) -> Vec<&'static str> {
    let names: Vec<&str> = legacy.iter().chain(current).map(String::as_str).collect();
    if names.contains(&"All") {
        return SYSTEM_ATTRIBUTES.to_vec();
    }
    SYSTEM_ATTRIBUTES
        .iter()
        .copied()
        .filter(|n| names.contains(n))
        .collect()
}

/// Whether a user attribute is selected by `MessageAttributeNames`: `All`, `*` and `.*` select
/// every attribute, `prefix.*` those whose names start with `prefix` (`Hel.*` selects `Hello`
/// and `Help.Me`), any other name itself.
fn attribute_selected(name: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| {
        matches!(p.as_str(), "All" | "*" | ".*")
            || p == name
            || p.strip_suffix(".*")
                .is_some_and(|prefix| name.starts_with(prefix))
    })
}

fn render(
    queue: &Arc<Queue>,
    d: Delivery,
    content: &Content,
    key: &HandleKey,
    system_names: &[&'static str],
    attribute_patterns: &[String],
) -> ReceivedMessage {
    let m = &d.message;
    let handle = ReceiptHandle {
        queue_id: queue.id,
        seq: d.seq,
        receive_count: m.receive_count,
        salt: m.salt,
    }
    .encode(key);
    let mut attributes = BTreeMap::new();
    for &name in system_names {
        let value = match name {
            "SenderId" => Some(content.sender_id().unwrap_or(&queue.account).to_string()),
            "SentTimestamp" => Some(m.sent_ms.to_string()),
            "ApproximateReceiveCount" => Some(m.receive_count.to_string()),
            "ApproximateFirstReceiveTimestamp" => Some(m.first_receive_ms.to_string()),
            "SequenceNumber" if queue.fifo => Some(sequence_number(d.seq)),
            "MessageGroupId" => m.group.as_deref().map(str::to_string),
            "MessageDeduplicationId" => content.dedup_id().map(str::to_string),
            "AWSTraceHeader" => content.trace_header().map(str::to_string),
            "DeadLetterQueueSourceArn" => d.dead_letter_source.as_deref().map(str::to_string),
            _ => None,
        };
        if let Some(value) = value {
            attributes.insert(name, value);
        }
    }
    let message_attributes: Attributes = content
        .attributes()
        .map(|all| {
            all.iter()
                .filter(|(name, _)| attribute_selected(name, attribute_patterns))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    ReceivedMessage {
        message_id: format_message_id(content.id),
        receipt_handle: handle,
        md5_of_body: hex(&content.md5_of_body),
        body: content.body.to_string(),
        attributes,
        md5_of_message_attributes: md5_of_attributes(&message_attributes).map(|d| hex(&d)),
        message_attributes,
    }
}

#[cfg(test)]
mod tests {
    use super::attribute_selected;

    #[test]
    fn attribute_name_patterns() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(attribute_selected("a", &p(&["All"])));
        assert!(attribute_selected("a", &p(&[".*"])));
        assert!(attribute_selected("a", &p(&["*"])));
        assert!(attribute_selected("bar.baz", &p(&["bar.*"])));
        assert!(attribute_selected("Hello", &p(&["Hel.*"])));
        assert!(attribute_selected("Help.Me", &p(&["Hel.*"])));
        assert!(!attribute_selected("hello", &p(&["Hel.*"])));
        assert!(!attribute_selected("Hel", &p(&["Help.*"])));
        assert!(attribute_selected("x", &p(&["x"])));
        assert!(!attribute_selected("x", &p(&[])));
    }
}
