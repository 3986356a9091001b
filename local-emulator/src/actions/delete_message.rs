//! DeleteMessage and DeleteMessageBatch.

use serde::Deserialize;

use super::{BatchResponse, Context, Empty, EntrySucceeded, check_batch, required};
use crate::error::{ErrorCode, SqsError, SqsResult};
use crate::queue::receipt::ReceiptHandle;
use crate::queue::{Queue, Wake};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    queue_url: Option<String>,
    receipt_handle: Option<String>,
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
}

/// Decodes a receipt handle (checking it was issued here) and checks it belongs to `queue`.
pub fn handle_for(ctx: &Context, queue: &Queue, raw: &str) -> SqsResult<ReceiptHandle> {
    let handle = ReceiptHandle::decode(raw, &ctx.sqs.handle_key)?;
    if handle.queue_id != queue.id {
        return Err(SqsError::new(
            ErrorCode::ReceiptHandleIsInvalid,
            format!("The input receipt handle \"{raw}\" is not a valid receipt handle."),
        ));
    }
    Ok(handle)
}

pub async fn single(ctx: &Context, req: Request) -> SqsResult<Empty> {
    let queue = ctx.queue(req.queue_url.as_deref())?;
    let raw = required(req.receipt_handle.as_deref(), "ReceiptHandle")?;
    let handle = handle_for(ctx, &queue, raw)?;
    queue
        .commit(&ctx.sqs.store, wake_of(&queue), |state, ops| {
            state.delete(&handle, raw, ctx.sqs.now_ms(), ops)
        })
        .await?;
    ctx.sqs.forget(handle.seq);
    Ok(Empty {})
}

pub async fn batch(ctx: &Context, req: BatchRequest) -> SqsResult<BatchResponse<EntrySucceeded>> {
    let queue = ctx.queue(req.queue_url.as_deref())?;
    check_batch(
        "DeleteMessageBatchRequestEntry",
        req.entries.iter().map(|e| e.id.as_deref()),
    )?;
    let now = ctx.sqs.now_ms();
    let mut deleted = Vec::new();
    let response = queue
        .commit(&ctx.sqs.store, wake_of(&queue), |state, ops| {
            let delete = |entry: &BatchEntry| {
                let raw = required(entry.receipt_handle.as_deref(), "ReceiptHandle")?;
                let handle = handle_for(ctx, &queue, raw)?;
                state.delete(&handle, raw, now, ops)?;
                deleted.push(handle.seq);
                Ok(())
            };
            Ok(BatchResponse::of_entries(&req.entries, |e| e.id.as_deref(), delete))
        })
        .await?;
    for seq in deleted {
        ctx.sqs.forget(seq);
    }
    Ok(response)
}

/// Deleting a FIFO group's in-flight head unlocks the group: parked receives look again.
/// (On a standard queue a delete never makes a message receivable.)
fn wake_of(queue: &Queue) -> Wake {
    if queue.fifo {
        Wake::Receivers
    } else {
        Wake::Nobody
    }
}
