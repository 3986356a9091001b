//! One module per SQS action: decode → validate → apply on the queue engine → response.
//! Actions see typed inputs and outputs only; `protocol` turns them into wire bytes.

mod access;
mod change_message_visibility;
mod create_queue;
mod delete_message;
mod delete_queue;
mod get_queue_attributes;
mod get_queue_url;
mod list_dead_letter_source_queues;
mod list_queues;
mod message_move_tasks;
mod permissions;
mod purge_queue;
mod receive_message;
mod send_message;
mod set_queue_attributes;
mod tags;
pub mod validate;

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;

use crate::error::{ErrorCode, SqsError, SqsResult};
use crate::move_tasks::MoveTasks;
use crate::protocol::json;
use crate::queue::Queue;
use crate::sqs::{Sqs, region_of_host};

/// Who is asking and how they reached us.
pub struct Context {
    pub sqs: Arc<Sqs>,
    /// The region the request acts in (queues are regional).
    pub region: String,
    /// The account the request acts in.
    pub account: String,
    /// The Host header, used to build queue URLs the client can reach.
    pub host: String,
    /// The `X-Amzn-Trace-Id` header: sends store it as the AWSTraceHeader system attribute.
    pub trace_header: Option<String>,
    /// The access key id whose signature was verified (with `--credentials`): what this
    /// request sends carries it as SenderId.
    pub signer: Option<String>,
    /// The server's message move tasks.
    pub move_tasks: Arc<MoveTasks>,
}

impl Context {
    /// A queue's URL as this client reaches the emulator. Queues of the emulator's default
    /// region (or of the region an `sqs.<region>.…` host names) have SQS's
    /// `/<account>/<name>` path; those of another region carry the region first
    /// (`/<region>/<account>/<name>`), since every region shares this one host.
    pub fn queue_url(&self, queue: &Queue) -> String {
        let host_region = region_of_host(&self.host).unwrap_or(&self.sqs.config.region);
        let scheme = self.sqs.config.scheme();
        if queue.region == host_region {
            format!("{scheme}://{}/{}/{}", self.host, queue.account, queue.name)
        } else {
            format!(
                "{scheme}://{}/{}/{}/{}",
                self.host, queue.region, queue.account, queue.name
            )
        }
    }

    pub fn queue(&self, url: Option<&str>) -> SqsResult<Arc<Queue>> {
        let url = required(url, "QueueUrl")?;
        self.sqs.queue_by_url(url, &self.region, &self.account)
    }

    /// The queue an ARN names, if it exists in the caller's region.
    pub fn queue_by_arn(&self, arn: &str) -> Option<Arc<Queue>> {
        self.sqs
            .queue_by_arn(arn)
            .filter(|q| q.region == self.region)
    }
}

/// Runs an action on a JSON body and returns the JSON response body.
pub async fn dispatch(ctx: &Context, action: &str, body: &[u8]) -> SqsResult<Vec<u8>> {
    access::authorize(ctx, action, body)?;
    macro_rules! route {
        ($($name:literal => $handler:path),* $(,)?) => {
            match action {
                $($name => Ok(json::encode(&$handler(ctx, json::decode(body)?).await?)),)*
                _ => Err(SqsError::new(
                    ErrorCode::InvalidAction,
                    format!("The action {action} is not valid for this endpoint."),
                )),
            }
        };
    }
    route! {
        "AddPermission" => permissions::add,
        "StartMessageMoveTask" => message_move_tasks::start,
        "ListMessageMoveTasks" => message_move_tasks::list,
        "CancelMessageMoveTask" => message_move_tasks::cancel,
        "RemovePermission" => permissions::remove,
        "ChangeMessageVisibility" => change_message_visibility::single,
        "ChangeMessageVisibilityBatch" => change_message_visibility::batch,
        "CreateQueue" => create_queue::handle,
        "DeleteMessage" => delete_message::single,
        "DeleteMessageBatch" => delete_message::batch,
        "DeleteQueue" => delete_queue::handle,
        "GetQueueAttributes" => get_queue_attributes::handle,
        "GetQueueUrl" => get_queue_url::handle,
        "ListDeadLetterSourceQueues" => list_dead_letter_source_queues::handle,
        "ListQueueTags" => tags::list,
        "ListQueues" => list_queues::handle,
        "PurgeQueue" => purge_queue::handle,
        "ReceiveMessage" => receive_message::handle,
        "SendMessage" => send_message::single,
        "SendMessageBatch" => send_message::batch,
        "SetQueueAttributes" => set_queue_attributes::handle,
        "TagQueue" => tags::tag,
        "UntagQueue" => tags::untag,
    }
}

pub fn required<'a, T: ?Sized>(value: Option<&'a T>, name: &str) -> SqsResult<&'a T> {
    value.ok_or_else(|| SqsError::missing(name))
}

/// An empty reply (`{}` in JSON).
#[derive(Serialize)]
pub struct Empty {}

/// A batch action's reply. SQS leaves `Failed` out when no entry failed.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchResponse<S> {
    pub successful: Vec<S>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<BatchFailure>,
}

/// A batch entry that succeeded with nothing to report but its id.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EntrySucceeded {
    pub id: String,
}

impl BatchResponse<EntrySucceeded> {
    /// Applies `apply` to each entry of a batch in order and answers for each by its `Id`:
    /// DeleteMessageBatch and ChangeMessageVisibilityBatch, whose entries succeed with
    /// nothing to report or fail alone.
    pub fn of_entries<E>(
        entries: &[E],
        id_of: impl Fn(&E) -> Option<&str>,
        mut apply: impl FnMut(&E) -> SqsResult<()>,
    ) -> Self {
        let mut response = Self {
            successful: Vec::new(),
            failed: Vec::new(),
        };
        for entry in entries {
            let id = id_of(entry).unwrap_or_default();
            match apply(entry) {
                Ok(()) => response.successful.push(EntrySucceeded { id: id.to_string() }),
                Err(e) => response.failed.push(BatchFailure::new(id, e)),
            }
        }
        response
    }
}

/// One failed entry of a batch reply.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchFailure {
    pub id: String,
    pub sender_fault: bool,
    pub code: String,
    pub message: String,
}

impl BatchFailure {
    pub fn new(id: &str, error: SqsError) -> Self {
        Self {
            id: id.to_string(),
            sender_fault: error.code.sender_fault(),
            code: error.code.legacy_code().to_string(),
            message: error.message,
        }
    }
}

/// SQS's checks on a batch request's entries: present, at most 10, well-formed distinct ids.
pub fn check_batch<'a>(
    entry_kind: &str,
    ids: impl ExactSizeIterator<Item = Option<&'a str>>,
) -> SqsResult<()> {
    let count = ids.len();
    if count == 0 {
        return Err(SqsError::new(
            ErrorCode::EmptyBatchRequest,
            format!("There should be at least one {entry_kind} in the request."),
        ));
    }
    if count > 10 {
        return Err(SqsError::new(
            ErrorCode::TooManyEntriesInBatchRequest,
            format!("Maximum number of entries per request are 10. You have sent {count}."),
        ));
    }
    let mut seen = HashSet::new();
    for id in ids {
        let id = id.ok_or_else(|| SqsError::missing(&format!("{entry_kind}.Id")))?;
        let well_formed = !id.is_empty()
            && id.len() <= 80
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(SqsError::new(
                ErrorCode::InvalidBatchEntryId,
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(SqsError::new(
                ErrorCode::BatchEntryIdsNotDistinct,
                format!("Id {id} repeated."),
            ));
        }
    }
    Ok(())
}
