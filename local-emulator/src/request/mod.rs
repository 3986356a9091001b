//! The front door: one request in, one reply out. The router applies what every surface
//! shares (a request id, the browser rules and CORS) and hands the request to its surface —
//! the Lambda Invoke API, S3 (bodies stream), the console, or the SQS API with STS — each
//! reading its body within the limits ([`body`]) and checking signatures ([`signer_of`]).

mod body;
mod browser;
mod console_api;
mod invoke;
mod sqs_api;

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::Response;
use hyper::body::Incoming;

use crate::auth::{self, CredentialScope};
use crate::console;
use crate::error::SqsError;
use crate::lambda;
use crate::s3;
use crate::shared::Shared;
use crate::sqs::Sqs;

use sqs_api::ReplyFormat;

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(1);

fn request_id() -> String {
    let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    crate::queue::message::format_message_id((0x5eed_u128 << 112) | u128::from(n))
}

/// Handles one request; every outcome is a reply in the request's protocol.
pub async fn handle(shared: &Shared, req: hyper::Request<Incoming>) -> Response {
    let (parts, body) = req.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let request_id = request_id();
    let format = ReplyFormat::of(&headers);
    let origin = match browser::check(shared, &method, &uri, &headers) {
        Ok(origin) => origin,
        Err(error) => return format.error(&error, &request_id),
    };
    let mut response = if method == Method::OPTIONS {
        browser::preflight(origin.as_deref(), &headers)
    } else if lambda::claims(&uri) {
        invoke::serve(shared, &method, &uri, &headers, body, &request_id).await
    } else if let Some(target) = s3::claims(&method, &uri, &headers) {
        // Objects stream: their bodies are not read here.
        let endpoint = s3::Endpoint {
            config: &shared.sqs.config,
            objects: &shared.objects,
            body_read_timeout: shared.limits.body_read_timeout,
        };
        s3::handle(endpoint, target, method, uri, headers, body, &request_id).await
    } else if console::owns(uri.path()) {
        console_api::serve(shared, &method, &uri, &headers, body).await
    } else {
        sqs_api::serve(shared, format, method, uri, headers, body, &request_id).await
    };
    if let Some(origin) = origin {
        browser::allow(&mut response, &origin);
    }
    response
}

/// The credential scope a request was signed with (its `Authorization` header or presigned
/// query), if any.
fn scope_of(uri: &Uri, headers: &HeaderMap) -> Option<CredentialScope> {
    CredentialScope::of(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok()),
        uri.query().unwrap_or_default(),
    )
}

/// The account a request acts as: the one its access key names, else the emulator's.
fn account_of(scope: Option<&CredentialScope>, sqs: &Sqs) -> String {
    scope
        .and_then(CredentialScope::account)
        .map_or_else(|| sqs.config.account_id.clone(), str::to_string)
}

/// Who signed a request whose body was read whole (SQS, the console, the Invoke API): checked
/// against the emulator's credentials on its clock; `None` when none are required.
fn signer_of(
    sqs: &Sqs,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<String>, SqsError> {
    auth::authenticate(
        sqs.config.credentials.as_deref(),
        sqs.config.now_s(),
        method,
        uri,
        headers,
        auth::Payload::Body(body),
    )
}
