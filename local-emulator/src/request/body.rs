//! Request bodies within the limits: a cap, a shared memory budget and a deadline.

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::error::{ErrorCode, SqsError};
use crate::shared::Shared;

/// Reads the body within the limits: a declared length over the cap is refused before any
/// of it is read, the bytes are reserved from the shared budget first, and the whole body
/// must arrive within the body timeout.
pub(super) async fn read(
    shared: &Shared,
    headers: &HeaderMap,
    body: Incoming,
) -> Result<Bytes, SqsError> {
    read_up_to(shared, headers, body, shared.limits.max_body_bytes).await
}

/// [`read`] with a cap of its own (the Invoke API takes Lambda's 6 MB payloads).
pub(super) async fn read_up_to(
    shared: &Shared,
    headers: &HeaderMap,
    body: Incoming,
    max: usize,
) -> Result<Bytes, SqsError> {
    let too_large = || {
        SqsError::new(
            ErrorCode::RequestTooLarge,
            format!("The request body is larger than {max} bytes."),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let reserve_kib = declared.unwrap_or(max).div_ceil(1024) as u32;
    let timeout = shared.limits.body_read_timeout;
    let read = async {
        let _reserved = if reserve_kib == 0 {
            None
        } else {
            Some(
                shared
                    .body_budget
                    .acquire_many(reserve_kib)
                    .await
                    .map_err(|_| SqsError::internal("the server is shutting down"))?,
            )
        };
        http_body_util::Limited::new(body, max)
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    too_large()
                } else {
                    SqsError::new(
                        ErrorCode::RequestTimeout,
                        format!("The request body could not be read: {e}"),
                    )
                }
            })
    };
    tokio::time::timeout(timeout, read).await.map_err(|_| {
        SqsError::new(
            ErrorCode::RequestTimeout,
            format!(
                "The request body did not arrive within {} seconds.",
                timeout.as_secs()
            ),
        )
    })?
}
