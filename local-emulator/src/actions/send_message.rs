//! SendMessage and SendMessageBatch. Each entry is validated and checksummed outside the
//! queue lock; the lock is then taken once for the whole request.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{BatchFailure, BatchResponse, Context, check_batch, validate};
use crate::error::{SqsError, SqsResult};
use crate::queue::message::{
    AttributeValue, Attributes, MessageExtras, format_message_id, hex, md5_of_attributes,
    md5_of_body, md5_of_trace_header,
};
use crate::queue::{NewMessage, Queue, SendOutcome, Wake};

/// SQS's cap on a batch request's total payload.
const MAX_BATCH_BYTES: usize = 1_048_576;

const NO_DEDUPLICATION_ID: &str = "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    queue_url: Option<String>,
    #[serde(flatten)]
    entry: Entry,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    id: Option<String>,
    message_body: Option<String>,
    delay_seconds: Option<i64>,
    #[serde(default)]
    message_attributes: Attributes,
    #[serde(default)]
    message_system_attributes: BTreeMap<String, AttributeValue>,
    message_deduplication_id: Option<String>,
    message_group_id: Option<String>,
}

#[derive(Serialize, Debug)]
pub struct Response {
    #[serde(rename = "MD5OfMessageBody")]
    md5_of_message_body: String,
    #[serde(
        rename = "MD5OfMessageAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    md5_of_message_attributes: Option<String>,
    #[serde(
        rename = "MD5OfMessageSystemAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    md5_of_message_system_attributes: Option<String>,
    #[serde(rename = "MessageId")]
    message_id: String,
    #[serde(rename = "SequenceNumber", skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchRequest {
    queue_url: Option<String>,
    #[serde(default)]
    entries: Vec<Entry>,
}

#[derive(Serialize)]
pub struct BatchSuccess {
    #[serde(rename = "Id")]
    id: String,
    #[serde(flatten)]
    result: Response,
}

pub async fn single(ctx: &Context, req: Request) -> SqsResult<Response> {
    let queue = ctx.queue(req.queue_url.as_deref())?;
    let settings = Settings::of(&queue);
    let prepared = prepare(ctx, &queue, &settings, req.entry)?;
    let mut results = enqueue(ctx, &queue, vec![prepared]).await?;
    Ok(results.pop().expect("one result"))
}

pub async fn batch(ctx: &Context, req: BatchRequest) -> SqsResult<BatchResponse<BatchSuccess>> {
    let queue = ctx.queue(req.queue_url.as_deref())?;
    check_batch(
        "SendMessageBatchRequestEntry",
        req.entries.iter().map(|e| e.id.as_deref()),
    )?;
    let total: usize = req.entries.iter().map(Entry::payload_size).sum();
    if total > MAX_BATCH_BYTES {
        return Err(SqsError::new(
            crate::error::ErrorCode::BatchRequestTooLong,
            format!(
                "Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent {total} bytes."
            ),
        ));
    }
    let settings = Settings::of(&queue);
    if queue.fifo {
        // A FIFO batch with an entry that cannot be ordered or deduplicated fails as a whole,
        // as SQS answers it, and nothing is enqueued.
        for entry in &req.entries {
            if entry.message_group_id.is_none() {
                return Err(SqsError::invalid_parameter(
                    "The request must contain the parameter MessageGroupId.",
                ));
            }
            if entry.message_deduplication_id.is_none() && !settings.content_based_deduplication {
                return Err(SqsError::invalid_parameter(NO_DEDUPLICATION_ID));
            }
        }
    }
    let mut failed = Vec::new();
    let mut accepted = Vec::new();
    let mut ids = Vec::new();
    for entry in req.entries {
        let id = entry.id.clone().unwrap_or_default();
        match prepare(ctx, &queue, &settings, entry) {
            Ok(prepared) => {
                accepted.push(prepared);
                ids.push(id);
            }
            Err(error) => failed.push(BatchFailure::new(&id, error)),
        }
    }
    let results = if accepted.is_empty() {
        Vec::new()
    } else {
        enqueue(ctx, &queue, accepted).await?
    };
    let successful = ids
        .into_iter()
        .zip(results)
        .map(|(id, result)| BatchSuccess { id, result })
        .collect();
    Ok(BatchResponse { successful, failed })
}

impl Entry {
    fn payload_size(&self) -> usize {
        self.message_body.as_ref().map_or(0, String::len)
            + self
                .message_attributes
                .iter()
                .map(|(name, value)| value.wire_size(name))
                .sum::<usize>()
    }
}

/// The queue settings a send depends on, copied out so validation runs without the lock.
struct Settings {
    delay_seconds: u32,
    maximum_message_size: u32,
    content_based_deduplication: bool,
    dedup_per_group: bool,
}

impl Settings {
    fn of(queue: &Queue) -> Self {
        let state = queue.lock();
        Self {
            delay_seconds: state.attrs.delay_seconds,
            maximum_message_size: state.attrs.maximum_message_size,
            content_based_deduplication: state.attrs.content_based_deduplication,
            dedup_per_group: state.attrs.dedup_per_group(),
        }
    }
}

struct Prepared {
    message: NewMessage,
    md5_of_attributes: Option<String>,
    md5_of_system_attributes: Option<String>,
}

fn prepare(ctx: &Context, queue: &Queue, settings: &Settings, entry: Entry) -> SqsResult<Prepared> {
    let body = entry
        .message_body
        .filter(|b| !b.is_empty())
        .ok_or_else(|| SqsError::missing("MessageBody"))?;
    validate::message_contents(&body)?;
    let attributes_size = validate::message_attributes(&entry.message_attributes)?;
    let size = body.len() + attributes_size;
    if size > settings.maximum_message_size as usize {
        return Err(SqsError::invalid_parameter(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {} bytes.",
            settings.maximum_message_size
        )));
    }
    // An explicit AWSTraceHeader wins over the request's X-Amzn-Trace-Id header.
    let trace_header =
        system_attributes(&entry.message_system_attributes)?.or_else(|| ctx.trace_header.clone());

    let delay_s = match entry.delay_seconds {
        // A FIFO queue takes no per-message delay, but an explicit 0 is accepted (and the
        // queue's own DelaySeconds still applies).
        Some(0) if queue.fifo => settings.delay_seconds,
        Some(delay) if queue.fifo => {
            return Err(SqsError::invalid_value(
                delay,
                "DelaySeconds",
                "The request include parameter that is not valid for this queue type.",
            ));
        }
        Some(delay) if !(0..=900).contains(&delay) => {
            return Err(SqsError::invalid_value(
                delay,
                "DelaySeconds",
                "DelaySeconds must be >= 0 and <= 900.",
            ));
        }
        Some(delay) => delay as u32,
        None => settings.delay_seconds,
    };

    let group = entry
        .message_group_id
        .map(|g| validate::token(&g, "MessageGroupId").map(|()| g))
        .transpose()?;
    let mut dedup_id = None;
    let mut dedup_key = None;
    if queue.fifo {
        let group = group
            .as_deref()
            .ok_or_else(|| SqsError::missing("MessageGroupId"))?;
        let id = match entry.message_deduplication_id {
            Some(id) => {
                validate::token(&id, "MessageDeduplicationId")?;
                id
            }
            None if settings.content_based_deduplication => hex(&Sha256::digest(body.as_bytes())),
            None => return Err(SqsError::invalid_parameter(NO_DEDUPLICATION_ID)),
        };
        dedup_key = Some(if settings.dedup_per_group {
            format!("{group}\u{0}{id}")
        } else {
            id.clone()
        });
        dedup_id = Some(id);
    } else if let Some(id) = entry.message_deduplication_id {
        return Err(SqsError::invalid_value(
            id,
            "MessageDeduplicationId",
            "The request includes a parameter that is not valid for this queue type.",
        ));
    }

    let md5_of_attributes = md5_of_attributes(&entry.message_attributes).map(|d| hex(&d));
    // Only system attributes the client sent are digested back to it.
    let md5_of_system_attributes = entry
        .message_system_attributes
        .get("AWSTraceHeader")
        .and_then(|v| v.string_value.as_deref())
        .map(|t| hex(&md5_of_trace_header(t)));
    // SenderId: the signer under --credentials, else the sending account when it is not the
    // queue's (kept only then, so a plain message stays small).
    let sender_id = ctx.signer.clone().or_else(|| {
        (ctx.account != queue.account).then(|| ctx.account.clone())
    });
    let extras = (!entry.message_attributes.is_empty()
        || trace_header.is_some()
        || dedup_id.is_some()
        || sender_id.is_some())
    .then(|| {
        Box::new(MessageExtras {
            attributes: entry.message_attributes,
            trace_header,
            dedup_id,
            sender_id,
        })
    });
    let md5 = md5_of_body(&body);
    Ok(Prepared {
        message: NewMessage {
            id: ctx.sqs.new_message_id(),
            body: body.into_boxed_str(),
            md5_of_body: md5,
            extras,
            group: group.map(Arc::from),
            delay_s,
            dedup_key,
        },
        md5_of_attributes,
        md5_of_system_attributes,
    })
}

/// `MessageSystemAttributes` may carry only `AWSTraceHeader`, a String.
fn system_attributes(attributes: &BTreeMap<String, AttributeValue>) -> SqsResult<Option<String>> {
    let mut trace_header = None;
    for (name, value) in attributes {
        if name != "AWSTraceHeader" {
            return Err(SqsError::invalid_parameter(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        if value.data_type != "String" {
            return Err(SqsError::invalid_parameter(format!(
                "Message system attribute '{name}' must be of type 'String'."
            )));
        }
        validate::attribute_value(name, value, "Message system attribute")?;
        trace_header = value.string_value.clone();
    }
    Ok(trace_header)
}

/// Enqueues prepared messages under one lock and one commit.
async fn enqueue(
    ctx: &Context,
    queue: &Queue,
    prepared: Vec<Prepared>,
) -> SqsResult<Vec<Response>> {
    let now = ctx.sqs.now_ms();
    let mut responses = Vec::with_capacity(prepared.len());
    let mut enqueued = Vec::with_capacity(prepared.len());
    queue
        .commit(&ctx.sqs.store, Wake::Nobody, |state, ops| {
            for p in prepared {
                let md5_of_message_body = hex(&p.message.md5_of_body);
                let fresh_id = p.message.id;
                let (id, seq) = match state.send(p.message, ctx.sqs.next_seq(), now, ops) {
                    SendOutcome::Enqueued { seq, content } => {
                        enqueued.push((seq, content));
                        (fresh_id, seq)
                    }
                    SendOutcome::Duplicate { id, seq } => (id, seq),
                };
                responses.push(Response {
                    md5_of_message_body,
                    md5_of_message_attributes: p.md5_of_attributes,
                    md5_of_message_system_attributes: p.md5_of_system_attributes,
                    message_id: format_message_id(id),
                    sequence_number: queue.fifo.then(|| sequence_number(seq)),
                });
            }
            Ok(())
        })
        .await?;
    // Committed: receivable now (a durable queue held them back until this point), their
    // contents in the readers' cache first.
    let mut seqs = Vec::with_capacity(enqueued.len());
    for (seq, content) in enqueued {
        ctx.sqs.remember(seq, content);
        seqs.push(seq);
    }
    queue.lock().publish(&seqs, ctx.sqs.now_ms());
    queue.notify.notify_waiters();
    Ok(responses)
}

/// FIFO sequence numbers: large, increasing, formatted like SQS's 20-digit numbers.
pub fn sequence_number(seq: u64) -> String {
    format!("{:020}", 10_000_000_000_000_000_000u64 + seq)
}
