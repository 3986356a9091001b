//! SetQueueAttributes, and the checks it shares with CreateQueue.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Context, Empty, validate};
use crate::error::{ErrorCode, SqsError, SqsResult};
use crate::queue::Wake;
use crate::queue::attributes::{QueueAttributes, redrive_allowed};
use crate::sqs::persist;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    queue_url: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
}

pub async fn handle(ctx: &Context, req: Request) -> SqsResult<Empty> {
    let queue = ctx.queue(req.queue_url.as_deref())?;
    let given = req
        .attributes
        .ok_or_else(|| SqsError::missing("Attributes"))?;
    // Validate on a copy without holding the lock: checking a redrive policy reads the
    // dead-letter queue, and two queue locks are never held at once.
    let mut attrs = queue.lock().attrs.clone();
    for (key, value) in &given {
        if key == "FifoQueue" {
            // Only a change of type is refused: `true` on a FIFO queue changes nothing.
            if !queue.fifo {
                return Err(SqsError::unknown_attribute("FifoQueue"));
            }
            if value.eq_ignore_ascii_case("true") {
                continue;
            }
            return Err(SqsError::new(
                ErrorCode::InvalidAttributeValue,
                "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.",
            ));
        }
        attrs.set(key, value)?;
    }
    attrs.check_consistency()?;
    if given.contains_key("RedrivePolicy") {
        check_redrive_policy(ctx, &queue.arn, &attrs)?;
    }
    queue
        .commit(&ctx.sqs.store, Wake::Receivers, |state, ops| {
            state.attrs = attrs;
            state.modified_s = ctx.sqs.now_ms() / 1000;
            ops.push(persist(&queue, state));
            Ok(())
        })
        .await?;
    Ok(Empty {})
}

/// A redrive policy must name an existing queue of the same type that lets this one use it.
pub fn check_redrive_policy(
    ctx: &Context,
    source_arn: &str,
    attrs: &QueueAttributes,
) -> SqsResult<()> {
    let Some(policy) = &attrs.redrive_policy else {
        return Ok(());
    };
    let rendered = policy.render();
    let invalid = |reason: &str| SqsError::invalid_value(&rendered, "RedrivePolicy", reason);
    // A dead-letter queue is in the source's region (an ARN of another region names no
    // queue here, as on SQS).
    let dlq = ctx
        .queue_by_arn(&policy.dead_letter_target_arn)
        .ok_or_else(|| invalid("Dead letter target does not exist."))?;
    if dlq.fifo != attrs.fifo_queue {
        return Err(invalid(
            "Dead-letter target must be of same type as the source.",
        ));
    }
    let allow = dlq.lock().attrs.redrive_allow_policy.clone();
    if !redrive_allowed(allow.as_deref(), source_arn) {
        return Err(invalid(
            "Dead-letter target's RedriveAllowPolicy does not allow this queue to use it.",
        ));
    }
    Ok(())
}

/// Tags: at most 50 per queue, keys 1–128 characters, values up to 256.
pub fn check_tags(
    queue_name: &str,
    total: usize,
    tags: &BTreeMap<String, String>,
) -> SqsResult<()> {
    if total > 50 {
        return Err(SqsError::invalid_parameter(format!(
            "Too many tags added for queue {queue_name}."
        )));
    }
    for (key, value) in tags {
        // Tags are echoed in replies (and in XML): no control or non-XML characters.
        let printable = |s: &str| {
            s.chars()
                .all(|c| !c.is_control() && validate::allowed_char(c))
        };
        if !printable(key) {
            return Err(SqsError::invalid_parameter(format!(
                "Tag key {} is invalid. Tag keys can only contain printable characters.",
                key.escape_debug()
            )));
        }
        if !printable(value) {
            return Err(SqsError::invalid_parameter(format!(
                "Tag value for key {} is invalid. Tag values can only contain printable characters.",
                key.escape_debug()
            )));
        }
        if key.is_empty() || key.chars().count() > 128 {
            return Err(SqsError::invalid_parameter(format!(
                "Tag key {key} is invalid. Tag keys must be 1 to 128 characters."
            )));
        }
        if value.chars().count() > 256 {
            return Err(SqsError::invalid_parameter(format!(
                "Tag value for key {key} is invalid. Tag values can be at most 256 characters."
            )));
        }
    }
    Ok(())
}
