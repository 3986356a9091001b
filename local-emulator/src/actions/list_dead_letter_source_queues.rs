//! ListDeadLetterSourceQueues: the queues whose redrive policy targets this one.

use serde::{Deserialize, Serialize};

use super::Context;
use super::list_queues::page;
use crate::error::SqsResult;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    queue_url: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Serialize)]
pub struct Response {
    #[serde(rename = "queueUrls")]
    queue_urls: Vec<String>,
    #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub async fn handle(ctx: &Context, req: Request) -> SqsResult<Response> {
    let dlq = ctx.queue(req.queue_url.as_deref())?;
    let sources: Vec<(String, String)> = ctx
        .sqs
        .queues_of(&dlq.region, &dlq.account)
        .into_iter()
        .filter(|q| {
            q.lock()
                .attrs
                .max_receive_count()
                .is_some_and(|(_, arn)| arn == dlq.arn)
        })
        .map(|q| (q.name.clone(), ctx.queue_url(&q)))
        .collect();
    let (queue_urls, next_token) = page(sources, req.max_results, req.next_token.as_deref())?;
    Ok(Response {
        queue_urls,
        next_token,
    })
}
