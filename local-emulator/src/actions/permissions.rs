//! AddPermission and RemovePermission: statements in the queue's Policy attribute, labelled by
//! their Sid, as SQS writes them.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Context, Empty, required};
use crate::error::{ErrorCode, SqsError, SqsResult};
use crate::queue::Wake;
use crate::sqs::persist;

/// SQS allows at most seven actions in one statement.
const MAX_ACTIONS: usize = 7;

/// Actions a queue's owner may grant to other accounts.
const GRANTABLE: &[&str] = &[
    "*",
    "ChangeMessageVisibility",
    "DeleteMessage",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "PurgeQueue",
    "ReceiveMessage",
    "SendMessage",
];

/// Actions only the owner may call, which AddPermission refuses to grant.
const OWNER_ONLY: &[&str] = &[
    "AddPermission",
    "CancelMessageMoveTask",
    "CreateQueue",
    "DeleteQueue",
    "ListMessageMoveTasks",
    "ListQueueTags",
    "ListQueues",
    "RemovePermission",
    "SetQueueAttributes",
    "StartMessageMoveTask",
    "TagQueue",
    "UntagQueue",
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddRequest {
    queue_url: Option<String>,
    label: Option<String>,
    #[serde(rename = "AWSAccountIds", default)]
    aws_account_ids: Vec<String>,
    #[serde(default)]
    actions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveRequest {
    queue_url: Option<String>,
    label: Option<String>,
}

fn statements(policy: Option<&str>) -> Vec<Value> {
    policy
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .and_then(|p| p.get("Statement").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

fn label_of(statement: &Value) -> Option<&str> {
    statement.get("Sid").and_then(Value::as_str)
}

pub async fn add(ctx: &Context, req: AddRequest) -> SqsResult<Empty> {
    let queue = ctx.queue(req.queue_url.as_deref())?;
    let label = required(req.label.as_deref(), "Label")?;
    let valid_label = !label.is_empty()
        && label.len() <= 80
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid_label {
        return Err(SqsError::invalid_value(
            label,
            "Label",
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ));
    }
    if req.aws_account_ids.is_empty() {
        return Err(SqsError::invalid_value(
            "[]",
            "PrincipalId",
            "Unable to verify.",
        ));
    }
    if req.actions.is_empty() {
        return Err(SqsError::missing("Actions"));
    }
    if req.actions.len() > MAX_ACTIONS {
        return Err(SqsError::new(
            ErrorCode::OverLimit,
            format!(
                "{} Actions were found, maximum allowed is {MAX_ACTIONS}.",
                req.actions.len()
            ),
        ));
    }
    for action in &req.actions {
        let reason = if OWNER_ONLY.contains(&action.as_str()) {
            "Only the queue owner is allowed to invoke this action."
        } else if !GRANTABLE.contains(&action.as_str()) {
            "Please refer to the appropriate WSDL for a list of valid actions."
        } else {
            continue;
        };
        return Err(SqsError::invalid_value(
            format!("SQS:{action}"),
            "ActionName",
            reason,
        ));
    }
    queue.commit(&ctx.sqs.store, Wake::Nobody, |state, ops| {
        let mut statements = statements(state.attrs.policy.as_deref());
        if statements.iter().any(|s| label_of(s) == Some(label)) {
            return Err(SqsError::invalid_value(label, "Label", "Already exists."));
        }
        let principals: Vec<String> = req
            .aws_account_ids
            .iter()
            .map(|a| format!("arn:aws:iam::{a}:root"))
            .collect();
        let actions: Vec<String> = req.actions.iter().map(|a| format!("SQS:{a}")).collect();
        statements.push(json!({
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": if principals.len() == 1 { json!(principals[0]) } else { json!(principals) }},
            "Action": if actions.len() == 1 { json!(actions[0]) } else { json!(actions) },
            "Resource": queue.arn,
        }));
        state.attrs.policy = Some(
            json!({"Version": "2008-10-17", "Id": format!("{}/SQSDefaultPolicy", queue.arn), "Statement": statements})
                .to_string(),
        );
        state.modified_s = ctx.sqs.now_ms() / 1000;
        ops.push(persist(&queue, state));
        Ok(())
    })
    .await?;
    Ok(Empty {})
}

pub async fn remove(ctx: &Context, req: RemoveRequest) -> SqsResult<Empty> {
    let queue = ctx.queue(req.queue_url.as_deref())?;
    let label = required(req.label.as_deref(), "Label")?;
    queue
        .commit(&ctx.sqs.store, Wake::Nobody, |state, ops| {
            let mut statements = statements(state.attrs.policy.as_deref());
            let before = statements.len();
            statements.retain(|s| label_of(s) != Some(label));
            if statements.len() == before {
                return Err(SqsError::invalid_value(label, "Label", "can't find label."));
            }
            state.attrs.policy = if statements.is_empty() {
                None
            } else {
                let mut policy: Value =
                    serde_json::from_str(state.attrs.policy.as_deref().unwrap_or("{}"))
                        .unwrap_or_else(|_| json!({}));
                policy["Statement"] = Value::Array(statements);
                Some(policy.to_string())
            };
            state.modified_s = ctx.sqs.now_ms() / 1000;
            ops.push(persist(&queue, state));
            Ok(())
        })
        .await?;
    Ok(Empty {})
}
