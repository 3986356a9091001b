//! GetQueueUrl.

use serde::{Deserialize, Serialize};

use super::{Context, required};
use crate::error::{SqsError, SqsResult};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    queue_name: Option<String>,
    #[serde(rename = "QueueOwnerAWSAccountId")]
    queue_owner_aws_account_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    queue_url: String,
}

pub async fn handle(ctx: &Context, req: Request) -> SqsResult<Response> {
    let name = required(req.queue_name.as_deref(), "QueueName")?;
    let account = req
        .queue_owner_aws_account_id
        .as_deref()
        .unwrap_or(&ctx.account);
    let queue = ctx
        .sqs
        .queue(&ctx.region, account, name)
        .ok_or_else(SqsError::queue_does_not_exist)?;
    Ok(Response {
        queue_url: ctx.queue_url(&queue),
    })
}
