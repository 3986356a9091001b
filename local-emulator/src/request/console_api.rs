//! The console's door (pages, `/metrics`, `/health`): who is asking, then [`crate::console`].

use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::Response;
use hyper::body::Incoming;

use crate::auth::CredentialScope;
use crate::console;
use crate::shared::Shared;

/// The console, `/metrics` and `/health`: with `--credentials`, data needs a signature as the
/// SQS API does, and acts as the signer's account.
pub(super) async fn serve(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Incoming,
) -> Response {
    let body = match super::body::read(shared, headers, body).await {
        Ok(body) => body,
        Err(error) => return console::error(&error),
    };
    let sqs = &shared.sqs;
    let mut caller = None;
    if sqs.config.credentials.is_some() && console::needs_signature(uri.path()) {
        let signer = match super::signer_of(sqs, method, uri, headers, &body) {
            Ok(signer) => signer,
            Err(error) => return console::error(&error),
        };
        let scope = CredentialScope::of(
            headers
                .get(header::AUTHORIZATION)
                .and_then(|h| h.to_str().ok()),
            uri.query().unwrap_or_default(),
        );
        let account = scope
            .as_ref()
            .and_then(CredentialScope::account)
            .map_or_else(|| sqs.config.account_id.clone(), str::to_string);
        caller = Some(console::Caller { account, signer });
    }
    let server = console::Server {
        sqs,
        move_tasks: &shared.move_tasks,
        app: &shared.app,
    };
    console::handle(server, caller, method, uri, headers, body).await
}
