//! CreateQueue: new queue, or the existing one's URL when every given attribute matches.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::set_queue_attributes::{check_redrive_policy, check_tags};
use super::{Context, required, validate};
use crate::error::{ErrorCode, SqsError, SqsResult};
use crate::queue::attributes::QueueAttributes;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    queue_name: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default, rename = "tags")]
    tags: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    queue_url: String,
}

pub async fn handle(ctx: &Context, req: Request) -> SqsResult<Response> {
    let name = required(req.queue_name.as_deref(), "QueueName")?;
    // FifoQueue exists only for FIFO queues: even `false` is an unknown attribute to SQS.
    let fifo = match req
        .attributes
        .get("FifoQueue")
        .map(|v| v.to_ascii_lowercase())
    {
        None => false,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => return Err(SqsError::unknown_attribute("FifoQueue")),
        Some(_) => return Err(SqsError::invalid_attribute_value("FifoQueue")),
    };
    validate::queue_name(name, fifo)?;
    let mut attrs = QueueAttributes::defaults(fifo);
    for (key, value) in &req.attributes {
        if key != "FifoQueue" {
            attrs.set(key, value)?;
        }
    }
    attrs.check_consistency()?;
    attrs.settle_creation();
    let arn = format!("arn:aws:sqs:{}:{}:{name}", ctx.region, ctx.account);
    check_redrive_policy(ctx, &arn, &attrs)?;
    check_tags(name, req.tags.len(), &req.tags)?;

    let (queue, created) = ctx
        .sqs
        .create_queue(&ctx.region, &ctx.account, name, attrs.clone(), req.tags)
        .await?;
    if !created {
        let existing = queue.lock();
        for key in req.attributes.keys() {
            let differs = if key == "FifoQueue" {
                existing.attrs.fifo_queue != fifo
            } else {
                existing.attrs.get(key) != attrs.get(key)
            };
            if differs {
                return Err(SqsError::new(
                    ErrorCode::QueueNameExists,
                    format!(
                        "A queue already exists with the same name and a different value for attribute {key}"
                    ),
                ));
            }
        }
    }
    Ok(Response {
        queue_url: ctx.queue_url(&queue),
    })
}
