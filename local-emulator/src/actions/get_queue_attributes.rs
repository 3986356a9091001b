//! GetQueueAttributes: stored attributes plus the computed ones (counters, ARN, timestamps).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Context;
use crate::error::{SqsError, SqsResult};
use crate::queue::attributes::READABLE;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    queue_url: Option<String>,
    #[serde(default)]
    attribute_names: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<String, String>,
}

pub async fn handle(ctx: &Context, req: Request) -> SqsResult<Response> {
    let queue = ctx.queue(req.queue_url.as_deref())?;
    for name in &req.attribute_names {
        if name != "All" && !READABLE.contains(&name.as_str()) {
            return Err(SqsError::unknown_attribute(name));
        }
    }
    let wanted: Vec<&str> = if req.attribute_names.iter().any(|n| n == "All") {
        READABLE.to_vec()
    } else {
        req.attribute_names.iter().map(String::as_str).collect()
    };
    let mut state = queue.lock();
    let mut expired = Vec::new();
    state.tick(ctx.sqs.now_ms(), &mut expired);
    ctx.sqs.store.submit_detached(expired);
    let (visible, in_flight, delayed) = state.counts();
    let mut attributes = BTreeMap::new();
    for name in wanted {
        let value = match name {
            "ApproximateNumberOfMessages" => Some(visible.to_string()),
            "ApproximateNumberOfMessagesNotVisible" => Some(in_flight.to_string()),
            "ApproximateNumberOfMessagesDelayed" => Some(delayed.to_string()),
            "CreatedTimestamp" => Some(state.created_s.to_string()),
            "LastModifiedTimestamp" => Some(state.modified_s.to_string()),
            "QueueArn" => Some(queue.arn.clone()),
            other => state.attrs.get(other),
        };
        if let Some(value) = value {
            attributes.insert(name.to_string(), value);
        }
    }
    Ok(Response { attributes })
}
