//! Queue attributes: defaults, SQS's validation of every settable attribute, and rendering.

use crate::error::{SqsError, SqsResult};

/// The attributes a user can set, with SQS's defaults. (Stored through
/// `store::records`, not as this type.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueAttributes {
    pub delay_seconds: u32,
    pub maximum_message_size: u32,
    pub message_retention_period: u32,
    pub receive_message_wait_time_seconds: u32,
    pub visibility_timeout: u32,
    pub policy: Option<String>,
    pub redrive_policy: Option<RedrivePolicy>,
    pub redrive_allow_policy: Option<String>,
    pub fifo_queue: bool,
    pub content_based_deduplication: bool,
    pub deduplication_scope: String,
    /// The DeduplicationScope the queue was created with: SQS deduplicates by it for the
    /// queue's life; a later SetQueueAttributes changes what GetQueueAttributes reports only.
    pub created_deduplication_scope: String,
    pub fifo_throughput_limit: String,
    pub kms_master_key_id: Option<String>,
    pub kms_data_key_reuse_period_seconds: u32,
    pub sqs_managed_sse_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

impl RedrivePolicy {
    pub fn render(&self) -> String {
        serde_json::json!({
            "deadLetterTargetArn": self.dead_letter_target_arn,
            "maxReceiveCount": self.max_receive_count,
        })
        .to_string()
    }

    /// Parses SQS's JSON form; `maxReceiveCount` may be a number or a numeric string.
    pub fn parse(text: &str) -> SqsResult<Self> {
        let invalid = |reason: &str| SqsError::invalid_value(text, "RedrivePolicy", reason);
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|_| invalid("Redrive policy is not a valid JSON map."))?;
        let map = value
            .as_object()
            .ok_or_else(|| invalid("Redrive policy is not a valid JSON map."))?;
        for key in map.keys() {
            if key != "deadLetterTargetArn" && key != "maxReceiveCount" {
                return Err(invalid(&format!(
                    "Only following attributes are supported: [deadLetterTargetArn, maxReceiveCount]. Unknown attribute: {key}."
                )));
            }
        }
        let arn = map
            .get("deadLetterTargetArn")
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                invalid("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
            })?;
        let count = match map.get("maxReceiveCount") {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.parse::<i64>().ok(),
            None => {
                return Err(invalid(
                    "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
                ));
            }
            _ => None,
        };
        let (min, max) = MAX_RECEIVE_COUNT;
        let count = count.filter(|c| (i64::from(min)..=i64::from(max)).contains(c)).ok_or_else(|| {
            invalid("Invalid value for maxReceiveCount: valid values are from 1 to 1000 both inclusive.")
        })?;
        Ok(Self {
            dead_letter_target_arn: arn.to_string(),
            max_receive_count: count as u32,
        })
    }
}

/// Attribute names GetQueueAttributes knows (besides `All`).
/// The numeric attributes a user can set, with SQS's bounds (inclusive).
pub const NUMERIC: &[(&str, u32, u32)] = &[
    ("DelaySeconds", 0, 900),
    ("MaximumMessageSize", 1024, 1_048_576),
    ("MessageRetentionPeriod", 60, 1_209_600),
    ("ReceiveMessageWaitTimeSeconds", 0, 20),
    ("VisibilityTimeout", 0, 43_200),
    ("KmsDataKeyReusePeriodSeconds", 60, 86_400),
];

/// A RedrivePolicy's `maxReceiveCount` bounds (inclusive).
pub const MAX_RECEIVE_COUNT: (u32, u32) = (1, 1000);

pub const READABLE: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
    "ContentBasedDeduplication",
    "CreatedTimestamp",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "LastModifiedTimestamp",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "Policy",
    "QueueArn",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
];

const FIFO_ONLY: &[&str] = &[
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

impl QueueAttributes {
    pub fn defaults(fifo: bool) -> Self {
        Self {
            delay_seconds: 0,
            maximum_message_size: 1_048_576,
            message_retention_period: 345_600,
            receive_message_wait_time_seconds: 0,
            visibility_timeout: 30,
            policy: None,
            redrive_policy: None,
            redrive_allow_policy: None,
            fifo_queue: fifo,
            content_based_deduplication: false,
            deduplication_scope: "queue".into(),
            created_deduplication_scope: "queue".into(),
            fifo_throughput_limit: "perQueue".into(),
            kms_master_key_id: None,
            kms_data_key_reuse_period_seconds: 300,
            sqs_managed_sse_enabled: true,
        }
    }

    /// Applies one attribute after SQS's validation. `FifoQueue` is handled by the caller
    /// (it decides the queue type and can only be given at creation).
    pub fn set(&mut self, name: &str, value: &str) -> SqsResult<()> {
        if FIFO_ONLY.contains(&name) && !self.fifo_queue {
            return Err(match name {
                "ContentBasedDeduplication" => SqsError::unknown_attribute(name),
                _ => SqsError::new(
                    crate::error::ErrorCode::InvalidAttributeName,
                    format!("You can specify the {name} only when FifoQueue is set to true."),
                ),
            });
        }
        match name {
            "DelaySeconds" => self.delay_seconds = ranged(name, value)?,
            "MaximumMessageSize" => self.maximum_message_size = ranged(name, value)?,
            "MessageRetentionPeriod" => self.message_retention_period = ranged(name, value)?,
            "ReceiveMessageWaitTimeSeconds" => {
                self.receive_message_wait_time_seconds = ranged(name, value)?
            }
            "VisibilityTimeout" => self.visibility_timeout = ranged(name, value)?,
            "KmsDataKeyReusePeriodSeconds" => {
                self.kms_data_key_reuse_period_seconds = ranged(name, value)?
            }
            "Policy" => {
                self.policy = if value.is_empty() {
                    None
                } else {
                    let parsed: serde_json::Value = serde_json::from_str(value)
                        .map_err(|_| SqsError::invalid_attribute_value(name))?;
                    if !parsed.is_object() {
                        return Err(SqsError::invalid_attribute_value(name));
                    }
                    Some(value.to_string())
                }
            }
            "RedrivePolicy" => {
                self.redrive_policy = if value.is_empty() {
                    None
                } else {
                    Some(RedrivePolicy::parse(value)?)
                }
            }
            "RedriveAllowPolicy" => {
                self.redrive_allow_policy = if value.is_empty() {
                    None
                } else {
                    validate_redrive_allow_policy(value)?;
                    Some(value.to_string())
                }
            }
            "ContentBasedDeduplication" => self.content_based_deduplication = boolean(name, value)?,
            "DeduplicationScope" => {
                if value != "queue" && value != "messageGroup" {
                    return Err(SqsError::invalid_attribute_value(name));
                }
                self.deduplication_scope = value.to_string();
            }
            "FifoThroughputLimit" => {
                if value != "perQueue" && value != "perMessageGroupId" {
                    return Err(SqsError::invalid_attribute_value(name));
                }
                self.fifo_throughput_limit = value.to_string();
            }
            "KmsMasterKeyId" => {
                self.kms_master_key_id = (!value.is_empty()).then(|| value.to_string());
                if self.kms_master_key_id.is_some() {
                    self.sqs_managed_sse_enabled = false;
                }
            }
            "SqsManagedSseEnabled" => {
                self.sqs_managed_sse_enabled = boolean(name, value)?;
                if self.sqs_managed_sse_enabled {
                    self.kms_master_key_id = None;
                }
            }
            _ => return Err(SqsError::unknown_attribute(name)),
        }
        Ok(())
    }

    /// Checks rules that span attributes, after all of a request's attributes are applied.
    pub fn check_consistency(&self) -> SqsResult<()> {
        if self.fifo_throughput_limit == "perMessageGroupId"
            && self.deduplication_scope != "messageGroup"
        {
            return Err(SqsError::new(
                crate::error::ErrorCode::InvalidAttributeValue,
                "Invalid value for the parameter FifoThroughputLimit. Reason: perMessageGroupId is only valid when DeduplicationScope is messageGroup.",
            ));
        }
        Ok(())
    }

    /// The value of a stored (not computed) attribute, or None if it is unset or unknown.
    pub fn get(&self, name: &str) -> Option<String> {
        let fifo = self.fifo_queue;
        Some(match name {
            "DelaySeconds" => self.delay_seconds.to_string(),
            "MaximumMessageSize" => self.maximum_message_size.to_string(),
            "MessageRetentionPeriod" => self.message_retention_period.to_string(),
            "ReceiveMessageWaitTimeSeconds" => self.receive_message_wait_time_seconds.to_string(),
            "VisibilityTimeout" => self.visibility_timeout.to_string(),
            "Policy" => self.policy.clone()?,
            "RedrivePolicy" => self.redrive_policy.as_ref()?.render(),
            "RedriveAllowPolicy" => self.redrive_allow_policy.clone()?,
            "FifoQueue" if fifo => "true".into(),
            "ContentBasedDeduplication" if fifo => self.content_based_deduplication.to_string(),
            "DeduplicationScope" if fifo => self.deduplication_scope.clone(),
            "FifoThroughputLimit" if fifo => self.fifo_throughput_limit.clone(),
            "KmsMasterKeyId" => self.kms_master_key_id.clone()?,
            "KmsDataKeyReusePeriodSeconds" if self.kms_master_key_id.is_some() => {
                self.kms_data_key_reuse_period_seconds.to_string()
            }
            "SqsManagedSseEnabled" => self.sqs_managed_sse_enabled.to_string(),
            _ => return None,
        })
    }

    pub fn max_receive_count(&self) -> Option<(u32, &str)> {
        self.redrive_policy
            .as_ref()
            .map(|p| (p.max_receive_count, p.dead_letter_target_arn.as_str()))
    }

    /// Fixes what only a queue's creation decides (the deduplication scope in force): called
    /// once, after CreateQueue's attributes are applied.
    pub fn settle_creation(&mut self) {
        self.created_deduplication_scope = self.deduplication_scope.clone();
    }

    /// Whether deduplication ids are scoped to their message group: as the queue was created,
    /// whatever DeduplicationScope says now.
    pub fn dedup_per_group(&self) -> bool {
        self.created_deduplication_scope == "messageGroup"
    }
}

/// `value` as a number within [`NUMERIC`]'s bounds for `name`.
fn ranged(name: &str, value: &str) -> SqsResult<u32> {
    let (_, min, max) = NUMERIC
        .iter()
        .find(|(n, _, _)| *n == name)
        .expect("a numeric attribute");
    value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|v| (min..=max).contains(&v))
        .ok_or_else(|| SqsError::invalid_attribute_value(name))
}

fn boolean(name: &str, value: &str) -> SqsResult<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(SqsError::invalid_attribute_value(name)),
    }
}

fn validate_redrive_allow_policy(text: &str) -> SqsResult<()> {
    let invalid = |reason: &str| SqsError::invalid_value(text, "RedriveAllowPolicy", reason);
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| invalid("Redrive allow policy is not a valid JSON map."))?;
    let map = value
        .as_object()
        .ok_or_else(|| invalid("Redrive allow policy is not a valid JSON map."))?;
    let permission = map
        .get("redrivePermission")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            invalid("Redrive allow policy does not contain mandatory attribute: redrivePermission.")
        })?;
    let sources = map.get("sourceQueueArns");
    match permission {
        "allowAll" | "denyAll" if sources.is_some() => Err(invalid(
            "Only byQueue redrivePermission allows sourceQueueArns attribute.",
        )),
        "allowAll" | "denyAll" => Ok(()),
        "byQueue" => {
            let arns = sources.and_then(|v| v.as_array()).ok_or_else(|| {
                invalid("Redrive allow policy with byQueue redrivePermission must contain sourceQueueArns.")
            })?;
            if arns.is_empty() || arns.len() > 10 || arns.iter().any(|a| !a.is_string()) {
                return Err(invalid(
                    "sourceQueueArns must contain between 1 and 10 queue ARNs.",
                ));
            }
            Ok(())
        }
        _ => Err(invalid("Invalid value for redrivePermission.")),
    }
}

/// Whether a dead-letter queue's RedriveAllowPolicy lets `source_arn` use it.
pub fn redrive_allowed(allow_policy: Option<&str>, source_arn: &str) -> bool {
    let Some(text) = allow_policy else {
        return true;
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return true;
    };
    match value.get("redrivePermission").and_then(|v| v.as_str()) {
        Some("denyAll") => false,
        Some("byQueue") => value
            .get("sourceQueueArns")
            .and_then(|v| v.as_array())
            .is_some_and(|arns| arns.iter().any(|a| a.as_str() == Some(source_arn))),
        _ => true,
    }
}
