//! The console's door (pages, `/metrics`, `/health`): who is asking, then [`crate::console`].

use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use hyper::body::Incoming;

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
        let account = super::account_of(super::scope_of(uri, headers).as_ref(), sqs);
        caller = Some(console::Caller { account, signer });
    }
    let server = console::Server {
        sqs,
        move_tasks: &shared.move_tasks,
        app: &shared.app,
    };
    console::handle(server, caller, method, uri, headers, body).await
}
