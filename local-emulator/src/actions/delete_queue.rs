//! DeleteQueue.

use serde::Deserialize;

use super::{Context, Empty};
use crate::error::SqsResult;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    queue_url: Option<String>,
}

pub async fn handle(ctx: &Context, req: Request) -> SqsResult<Empty> {
    let queue = ctx.queue(req.queue_url.as_deref())?;
    ctx.sqs.delete_queue(&queue).await?;
    Ok(Empty {})
}
