//! Who may act on a queue. With `--credentials` on, a request acts as the account its access
//! key names (a 12-digit key id, else the emulator's account); on another account's queue it
//! may do only what the queue's Policy (AddPermission's statements, or a policy set directly)
//! allows that account, as SQS decides it. An explicit Deny in the policy binds the queue's own
//! account too (a resource policy's Deny overrides any Allow). Statements with a `Condition`
//! are not evaluated here and do not apply. Without credentials everyone is the owner.

use serde::Deserialize;
use serde_json::Value;

use super::Context;
use crate::error::{ErrorCode, SqsError, SqsResult};
use crate::queue::Queue;

/// The parts of any action's input that name queues.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Names {
    queue_url: Option<String>,
    queue_name: Option<String>,
    #[serde(rename = "QueueOwnerAWSAccountId")]
    queue_owner: Option<String>,
    source_arn: Option<String>,
    destination_arn: Option<String>,
}

/// Refuses the request if it acts on another account's queue without the queue policy's leave.
pub fn authorize(ctx: &Context, action: &str, body: &[u8]) -> SqsResult<()> {
    if ctx.sqs.config.credentials.is_none() {
        return Ok(());
    }
    let names: Names = serde_json::from_slice(body).unwrap_or_default();
    let mut queues = Vec::new();
    if let Some(url) = &names.queue_url {
        queues.extend(ctx.sqs.queue_by_url(url, &ctx.region, &ctx.account).ok());
    }
    if let (Some(owner), Some(name)) = (&names.queue_owner, &names.queue_name) {
        queues.extend(ctx.sqs.queue(&ctx.region, owner, name));
    }
    for arn in [&names.source_arn, &names.destination_arn]
        .into_iter()
        .flatten()
    {
        queues.extend(ctx.queue_by_arn(arn));
    }
    for queue in queues {
        let decision = decide(&queue, &ctx.account, action);
        let refused = decision == Decision::Deny
            || (queue.account != ctx.account && decision != Decision::Allow);
        if refused {
            return Err(SqsError::new(
                ErrorCode::AccessDenied,
                format!(
                    "Access to the resource {} is denied.",
                    ctx.queue_url(&queue)
                ),
            ));
        }
    }
    Ok(())
}

/// What a queue's policy says of `account` calling an action.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// An Allow statement applies and no Deny does.
    Allow,
    /// A Deny statement applies.
    Deny,
    /// No statement applies.
    Silent,
}

fn decide(queue: &Queue, account: &str, action: &str) -> Decision {
    let Some(policy) = queue.lock().attrs.policy.clone() else {
        return Decision::Silent;
    };
    let Ok(policy) = serde_json::from_str::<Value>(&policy) else {
        return Decision::Silent;
    };
    let statements = match policy.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => return Decision::Silent,
    };
    let permission = action
        .strip_suffix("Batch")
        .filter(|base| {
            matches!(
                *base,
                "SendMessage" | "DeleteMessage" | "ChangeMessageVisibility"
            )
        })
        .unwrap_or(action);
    let applies = |s: &Value| {
        s.get("Condition").is_none()
            && names_principal(s.get("Principal"), account)
            && names_action(s.get("Action"), permission)
    };
    let effect = |s: &Value| {
        s.get("Effect")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let matching: Vec<&Value> = statements.iter().filter(|s| applies(s)).collect();
    if matching.iter().any(|s| effect(s) == "Deny") {
        Decision::Deny
    } else if matching.iter().any(|s| effect(s) == "Allow") {
        Decision::Allow
    } else {
        Decision::Silent
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn names_principal(principal: Option<&Value>, account: &str) -> bool {
    let listed = match principal {
        Some(Value::Object(map)) => strings(map.get("AWS")),
        other => strings(other),
    };
    listed
        .iter()
        .any(|p| p == "*" || p == account || *p == format!("arn:aws:iam::{account}:root"))
}

fn names_action(actions: Option<&Value>, permission: &str) -> bool {
    strings(actions).iter().any(|a| {
        let lower = a.to_ascii_lowercase();
        lower == "*"
            || lower == "sqs:*"
            || lower.strip_prefix("sqs:") == Some(permission.to_ascii_lowercase().as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statements_decide() {
        let s = json!({"Principal": {"AWS": ["arn:aws:iam::111122223333:root"]}, "Action": "SQS:SendMessage"});
        assert!(names_principal(s.get("Principal"), "111122223333"));
        assert!(!names_principal(s.get("Principal"), "444455556666"));
        assert!(names_action(s.get("Action"), "SendMessage"));
        assert!(!names_action(s.get("Action"), "ReceiveMessage"));
        assert!(names_action(Some(&json!(["sqs:*"])), "DeleteQueue"));
        assert!(names_principal(Some(&json!("*")), "444455556666"));
    }
}
