//! AWS JSON 1.0: `X-Amz-Target: AmazonSQS.<Action>`, JSON bodies, errors as
//! `{"__type": …, "message": …}` plus the `x-amzn-query-error` header that lets SDKs built
//! for the Query protocol's codes (awsQueryCompatible) recover the legacy code.

use crate::error::{ErrorCode, SqsError};

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
pub const TARGET_PREFIX: &str = "AmazonSQS.";

/// The action named by an `X-Amz-Target` header.
pub fn action_from_target(target: &str) -> Result<&str, SqsError> {
    target
        .strip_prefix(TARGET_PREFIX)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            SqsError::new(
                ErrorCode::InvalidAction,
                format!("The action or operation requested is invalid. Verify that the action is typed correctly. Target: {target}"),
            )
        })
}

/// Decodes a request body into an action's input. An empty body counts as `{}`.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, SqsError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        SqsError::new(
            ErrorCode::SerializationException,
            format!("Could not parse the request: {e}"),
        )
    })
}

pub fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("responses serialize")
}

/// The body of an error response.
pub fn error_body(error: &SqsError) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "__type": error.code.qualified_type(),
        "message": error.message,
    }))
    .expect("error serializes")
}

/// The `x-amzn-query-error` header value: `<legacy code>;Sender`.
pub fn query_error_header(error: &SqsError) -> String {
    let side = if error.code.sender_fault() {
        "Sender"
    } else {
        "Receiver"
    };
    format!("{};{side}", error.code.legacy_code())
}
