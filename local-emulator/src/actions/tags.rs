//! TagQueue, UntagQueue, ListQueueTags.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::set_queue_attributes::check_tags;
use super::{Context, Empty};
use crate::error::{SqsError, SqsResult};
use crate::queue::Wake;
use crate::sqs::persist;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagRequest {
    queue_url: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

pub async fn tag(ctx: &Context, req: TagRequest) -> SqsResult<Empty> {
    let queue = ctx.queue(req.queue_url.as_deref())?;
    let tags = req
        .tags
        .filter(|t| !t.is_empty())
        .ok_or_else(|| SqsError::missing("Tags"))?;
    queue
        .commit(&ctx.sqs.store, Wake::Nobody, |state, ops| {
            let total = state
                .tags
                .keys()
                .chain(tags.keys())
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            check_tags(&queue.name, total, &tags)?;
            state.tags.extend(tags);
            ops.push(persist(&queue, state));
            Ok(())
        })
        .await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagRequest {
    queue_url: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub async fn untag(ctx: &Context, req: UntagRequest) -> SqsResult<Empty> {
    let queue = ctx.queue(req.queue_url.as_deref())?;
    let keys = req.tag_keys.filter(|k| !k.is_empty()).ok_or_else(|| {
        SqsError::invalid_parameter("Tag keys must be between 1 and 128 characters in length.")
    })?;
    queue
        .commit(&ctx.sqs.store, Wake::Nobody, |state, ops| {
            for key in &keys {
                state.tags.remove(key);
            }
            ops.push(persist(&queue, state));
            Ok(())
        })
        .await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRequest {
    queue_url: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResponse {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

pub async fn list(ctx: &Context, req: ListRequest) -> SqsResult<ListResponse> {
    let queue = ctx.queue(req.queue_url.as_deref())?;
    let tags = queue.lock().tags.clone();
    Ok(ListResponse { tags })
}
