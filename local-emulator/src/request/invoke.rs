//! The Lambda Invoke API's door: its body (up to Lambda's payload limit) and signature, then
//! [`crate::lambda`].

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use hyper::body::Incoming;

use crate::lambda;
use crate::shared::Shared;

/// The Lambda Invoke API: with `--credentials`, signed as every other API.
pub(super) async fn serve(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Incoming,
    request_id: &str,
) -> Response {
    // Lambda takes payloads up to 6 MB, more than an SQS request's cap.
    let cap = shared
        .limits
        .max_body_bytes
        .max(lambda::MAX_SYNC_PAYLOAD + 1);
    let body = match super::body::read_up_to(shared, headers, body, cap).await {
        Ok(body) => body,
        Err(error) => {
            let status =
                StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            return lambda::LambdaError::new(status, "RequestTooLargeException", error.message)
                .into_response(request_id);
        }
    };
    let sqs = &shared.sqs;
    if let Err(error) = super::signer_of(sqs, method, uri, headers, &body) {
        let status =
            StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::FORBIDDEN);
        return lambda::LambdaError::new(status, "InvalidSignatureException", error.message)
            .into_response(request_id);
    }
    let functions = shared.app.get().and_then(|app| app.functions());
    let place = lambda::Place {
        region: &sqs.config.region,
        account: &sqs.config.account_id,
    };
    lambda::handle(functions, place, method, uri, headers, body, request_id).await
}
