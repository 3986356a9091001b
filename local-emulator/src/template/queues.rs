//! A template's `AWS::SQS::Queue` resources: read and checked by the rules CreateQueue applies
//! (names, attribute ranges, redrive counts), dead-letter targets checked across queues, and
//! the order and attributes to create them with (dead-letter queues first, their ARNs
//! resolved by whoever creates them).

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde_yaml_ng::Value;

use super::intrinsic::{Expr, Scope};
use super::{NoScope, boolean, ranged};
use crate::actions::validate::queue_name as validate_queue_name;
use crate::queue::attributes::{MAX_RECEIVE_COUNT, NUMERIC, QueueAttributes};

#[derive(Debug, Clone)]
pub struct QueueDef {
    pub logical_id: String,
    /// QueueName, or `<LogicalId>` (plus `.fifo`) when the template leaves it to CloudFormation.
    pub name: String,
    /// Queue attributes as SQS names them (`VisibilityTimeout`, `RedrivePolicy`, …); values may
    /// hold intrinsics (a RedrivePolicy's target).
    pub attributes: BTreeMap<String, AttributeValue>,
    pub fifo: bool,
    pub visibility_timeout: u32,
}

#[derive(Debug, Clone)]
pub enum AttributeValue {
    Plain(Expr),
    /// RedrivePolicy: its target and count.
    Redrive {
        target: Expr,
        max_receive_count: u32,
    },
    /// RedriveAllowPolicy, passed through as JSON (ARNs inside may be intrinsics).
    Json(serde_json::Value),
}

/// The properties an `AWS::SQS::Queue` may have.
const KNOWN: &[&str] = &[
    "QueueName",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "Tags",
];

/// Queue `id` of the template, from its (settled) properties.
pub fn parse_queue(id: &str, props: &Value) -> anyhow::Result<QueueDef> {
    let fifo = boolean(props, "FifoQueue")?.unwrap_or(false);
    let name = match props.get("QueueName") {
        Some(v) => Expr::parse(v)
            .map_err(anyhow::Error::msg)?
            .resolve(&NoScope)
            .map_err(anyhow::Error::msg)?,
        None if fifo => format!("{id}.fifo"),
        None => id.to_string(),
    };
    validate_queue_name(&name, fifo)
        .map_err(|e| anyhow::anyhow!("QueueName {name:?}: {}", e.message))?;
    let mut attributes = BTreeMap::new();
    let mut check = QueueAttributes::defaults(fifo);
    for &(key, min, max) in NUMERIC {
        if let Some(v) = ranged(props, key, min.into(), max.into())? {
            check
                .set(key, &v.to_string())
                .map_err(|e| anyhow::anyhow!("{key}: {}", e.message))?;
            attributes.insert(
                key.to_string(),
                AttributeValue::Plain(Expr::Literal(v.to_string())),
            );
        }
    }
    for key in ["ContentBasedDeduplication", "SqsManagedSseEnabled"] {
        if let Some(v) = boolean(props, key)? {
            if key == "ContentBasedDeduplication" && !fifo {
                bail!("ContentBasedDeduplication is only valid for FIFO queues");
            }
            attributes.insert(
                key.to_string(),
                AttributeValue::Plain(Expr::Literal(v.to_string())),
            );
        }
    }
    for key in [
        "DeduplicationScope",
        "FifoThroughputLimit",
        "KmsMasterKeyId",
    ] {
        if let Some(v) = props.get(key) {
            let expr = Expr::parse(v).map_err(anyhow::Error::msg)?;
            if let Expr::Literal(text) = &expr {
                check
                    .set(key, text)
                    .map_err(|e| anyhow::anyhow!("{key}: {}", e.message))?;
            }
            attributes.insert(key.to_string(), AttributeValue::Plain(expr));
        }
    }
    if let Some(policy) = props.get("RedrivePolicy") {
        let target = policy
            .get("deadLetterTargetArn")
            .context("RedrivePolicy needs deadLetterTargetArn")?;
        let (min, max) = MAX_RECEIVE_COUNT;
        let max_receive_count = ranged(policy, "maxReceiveCount", min.into(), max.into())?
            .context("RedrivePolicy needs maxReceiveCount")?;
        attributes.insert(
            "RedrivePolicy".into(),
            AttributeValue::Redrive {
                target: Expr::parse(target).map_err(anyhow::Error::msg)?,
                max_receive_count,
            },
        );
    }
    if let Some(policy) = props.get("RedriveAllowPolicy") {
        let json = serde_json::to_value(policy).context("RedriveAllowPolicy")?;
        attributes.insert("RedriveAllowPolicy".into(), AttributeValue::Json(json));
    }
    if let Some(map) = props.as_mapping()
        && let Some(key) = map
            .keys()
            .filter_map(Value::as_str)
            .find(|key| !KNOWN.contains(key))
    {
        bail!("unknown property {key}");
    }
    Ok(QueueDef {
        logical_id: id.to_string(),
        name,
        attributes,
        fifo,
        visibility_timeout: check.visibility_timeout,
    })
}

/// Each queue's dead-letter target (when it names one of these queues) exists and is of the
/// same type.
pub fn check_dead_letter_targets(queues: &BTreeMap<String, QueueDef>) -> anyhow::Result<()> {
    for queue in queues.values() {
        if let Some(AttributeValue::Redrive { target, .. }) = queue.attributes.get("RedrivePolicy")
            && let Some(dlq_id) = target.target()
        {
            let dlq = queues.get(dlq_id).with_context(|| {
                format!(
                    "queue {}: RedrivePolicy targets {dlq_id}, which is not a queue in this template",
                    queue.logical_id
                )
            })?;
            if dlq.fifo != queue.fifo {
                bail!(
                    "queue {}: its dead-letter queue {dlq_id} must be of the same type (FIFO or standard)",
                    queue.logical_id
                );
            }
        }
    }
    Ok(())
}

/// The logical ids of `queues` in an order that creates every dead-letter queue before the
/// queues that name it; a cycle of dead-letter queues is an error.
pub fn creation_order(queues: &BTreeMap<String, QueueDef>) -> anyhow::Result<Vec<&str>> {
    let mut ordered: Vec<&str> = Vec::with_capacity(queues.len());
    let mut remaining: Vec<&str> = queues.keys().map(String::as_str).collect();
    while !remaining.is_empty() {
        let before = remaining.len();
        let (ready, waiting): (Vec<&str>, Vec<&str>) = remaining.into_iter().partition(|id| {
            queues[*id].attributes.values().all(|v| match v {
                AttributeValue::Redrive { target, .. } => target
                    .target()
                    .is_none_or(|t| ordered.contains(&t) || !queues.contains_key(t)),
                _ => true,
            })
        });
        ordered.extend(ready);
        if waiting.len() == before {
            bail!("queues {waiting:?} have dead-letter queues that form a cycle");
        }
        remaining = waiting;
    }
    Ok(ordered)
}

/// The attributes to create `queue` with (`FifoQueue` first), its references resolved in
/// `scope` (where its dead-letter queue already exists).
pub fn create_attributes(
    queue: &QueueDef,
    scope: &dyn Scope,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut attrs: Vec<(String, String)> = Vec::new();
    if queue.fifo {
        attrs.push(("FifoQueue".into(), "true".into()));
    }
    for (key, value) in &queue.attributes {
        let text = match value {
            AttributeValue::Plain(e) => e.resolve(scope).map_err(anyhow::Error::msg)?,
            AttributeValue::Redrive {
                target,
                max_receive_count,
            } => serde_json::json!({
                "deadLetterTargetArn": target.resolve(scope).map_err(anyhow::Error::msg)?,
                "maxReceiveCount": max_receive_count,
            })
            .to_string(),
            AttributeValue::Json(v) => v.to_string(),
        };
        attrs.push((key.clone(), text));
    }
    Ok(attrs)
}
