//! STS GetCallerIdentity, answered on the SQS endpoint so that tests and apps that discover
//! their account with `AWS_ENDPOINT_URL` pointed at the emulator work. The caller is the
//! account the request acts in (a 12-digit access key id, else `--account-id`), as its root.

use serde_json::json;

use crate::error::{ErrorCode, SqsError};

/// The JSON protocol's target prefix for STS.
pub const TARGET_PREFIX: &str = "AWSSecurityTokenServiceV20110615.";
const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

impl CallerIdentity {
    pub fn of(account: &str) -> Self {
        Self {
            account: account.to_string(),
            arn: format!("arn:aws:iam::{account}:root"),
            user_id: account.to_string(),
        }
    }

    /// The Query protocol's reply.
    pub fn to_xml(&self, request_id: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?><GetCallerIdentityResponse xmlns=\"{NAMESPACE}\"><GetCallerIdentityResult><Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
            self.arn, self.user_id, self.account
        )
    }

    /// The JSON protocol's reply.
    pub fn to_json(&self) -> Vec<u8> {
        json!({"Account": self.account, "Arn": self.arn, "UserId": self.user_id})
            .to_string()
            .into_bytes()
    }
}

/// Runs an STS action: only GetCallerIdentity exists here.
pub fn check_action(action: &str) -> Result<(), SqsError> {
    if action == "GetCallerIdentity" {
        return Ok(());
    }
    Err(SqsError::new(
        ErrorCode::InvalidAction,
        format!(
            "STS {action} is not available: Lockgate answers STS GetCallerIdentity only (its endpoint serves Amazon SQS)."
        ),
    ))
}

/// The error for a request meant for another AWS service.
pub fn other_service(service: &str, detail: &str) -> SqsError {
    SqsError::new(
        ErrorCode::InvalidAction,
        format!(
            "This endpoint serves Amazon SQS and STS GetCallerIdentity; the request is for the {service} service ({detail}), which Lockgate does not provide."
        ),
    )
}
