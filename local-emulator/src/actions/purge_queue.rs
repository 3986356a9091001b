//! PurgeQueue: at most once every 60 seconds per queue.

use serde::Deserialize;

use super::{Context, Empty};
use crate::error::{ErrorCode, SqsError, SqsResult};
use crate::queue::Wake;

const PURGE_INTERVAL_MS: u64 = 60_000;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    queue_url: Option<String>,
}

pub async fn handle(ctx: &Context, req: Request) -> SqsResult<Empty> {
    let queue = ctx.queue(req.queue_url.as_deref())?;
    let now = ctx.sqs.now_ms();
    queue
        .commit(&ctx.sqs.store, Wake::Nobody, |state, ops| {
            if state
                .last_purge_ms
                .is_some_and(|last| now < last + PURGE_INTERVAL_MS)
            {
                return Err(SqsError::new(
                    ErrorCode::PurgeQueueInProgress,
                    format!(
                        "Only one PurgeQueue operation on {} is allowed every 60 seconds.",
                        queue.name
                    ),
                ));
            }
            state.last_purge_ms = Some(now);
            state.purge(ops);
            Ok(())
        })
        .await?;
    Ok(Empty {})
}
