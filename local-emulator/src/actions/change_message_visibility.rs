//! ChangeMessageVisibility and ChangeMessageVisibilityBatch.

use serde::Deserialize;

use super::delete_message::handle_for;
use super::{BatchResponse, Context, Empty, EntrySucceeded, check_batch, required};
use crate::error::{SqsError, SqsResult};
use crate::queue::Wake;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    queue_url: Option<String>,
    receipt_handle: Option<String>,
    visibility_timeout: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchRequest {
    queue_url: Option<String>,
    #[serde(default)]
    entries: Vec<BatchEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchEntry {
    id: Option<String>,
    receipt_handle: Option<String>,
    visibility_timeout: Option<i64>,
}

fn timeout(value: Option<i64>) -> SqsResult<u32> {
    let value = value.ok_or_else(|| SqsError::missing("VisibilityTimeout"))?;
    if !(0..=43_200).contains(&value) {
        return Err(SqsError::invalid_value(
            value,
            "VisibilityTimeout",
            "Must be >= 0 and <= 43200, if provided.",
        ));
    }
    Ok(value as u32)
}

pub async fn single(ctx: &Context, req: Request) -> SqsResult<Empty> {
    let queue = ctx.queue(req.queue_url.as_deref())?;
    let raw = required(req.receipt_handle.as_deref(), "ReceiptHandle")?;
    let visibility = timeout(req.visibility_timeout)?;
    let handle = handle_for(ctx, &queue, raw)?;
    // Parked receives look again: the message may be visible now (0), or its new timeout may
    // end before the moment they planned to wake.
    queue
        .commit(&ctx.sqs.store, Wake::Receivers, |state, ops| {
            state.change_visibility(&handle, raw, visibility, ctx.sqs.now_ms(), ops)
        })
        .await?;
    Ok(Empty {})
}

pub async fn batch(ctx: &Context, req: BatchRequest) -> SqsResult<BatchResponse<EntrySucceeded>> {
    let queue = ctx.queue(req.queue_url.as_deref())?;
    check_batch(
        "ChangeMessageVisibilityBatchRequestEntry",
        req.entries.iter().map(|e| e.id.as_deref()),
    )?;
    let now = ctx.sqs.now_ms();
    let response = queue
        .commit(&ctx.sqs.store, Wake::Receivers, |state, ops| {
            let change = |entry: &BatchEntry| {
                let raw = required(entry.receipt_handle.as_deref(), "ReceiptHandle")?;
                let visibility = timeout(entry.visibility_timeout)?;
                let handle = handle_for(ctx, &queue, raw)?;
                state.change_visibility(&handle, raw, visibility, now, ops)
            };
            Ok(BatchResponse::of_entries(&req.entries, |e| e.id.as_deref(), change))
        })
        .await?;
    Ok(response)
}
