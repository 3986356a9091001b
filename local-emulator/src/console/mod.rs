//! What a person (or a scraper) sees of a running emulator, on the same port as SQS:
//!
//! - `GET /health`: ready or not, with the store's state (JSON; 503 when not ready).
//! - `GET /metrics`: Prometheus/OpenMetrics text ([`metrics`]).
//! - `/console/`: the web console, a page and a script embedded in the binary ([`assets`]),
//!   which uses only the JSON API under `/console/api/` ([`api`], documented in
//!   docs/console.md).
//!
//! An app running on the emulator (`lockgate up`) adds its functions, mappings, logs and
//! metrics through [`AppView`]. The SQS request rules apply here too: the browser rules of
//! [`crate::request`] (other sites' pages are refused) and, with `--credentials`, a SigV4
//! signature on everything but `/health` and the page's static files.

mod api;
mod assets;
mod metrics;

use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::registry::Registry;

use crate::error::{ErrorCode, SqsError};
use crate::move_tasks::MoveTasks;
use crate::protocol::json;
use crate::sqs::Sqs;

/// What an app running on this emulator shows in the console and in `/metrics`.
pub trait AppView: Send + Sync + 'static {
    /// The app's functions and mappings as JSON (`GET /console/api/app`).
    fn snapshot(&self) -> serde_json::Value;
    /// `function`'s log lines after sequence number `after` (`None`: no such function).
    fn logs(&self, function: &str, after: u64) -> Option<serde_json::Value>;
    /// Adds the app's metrics to a scrape.
    fn register_metrics(&self, registry: &mut Registry);
    /// The app's functions, for the Lambda Invoke API on the emulator's port.
    fn functions(&self) -> Option<Arc<dyn crate::lambda::Functions>> {
        None
    }
}

/// Who signed a console request, when credentials are required.
pub struct Caller {
    pub account: String,
    pub signer: Option<String>,
}

/// The app attached to a running emulator, if any (set once the app has started).
#[derive(Default, Clone)]
pub struct Attached(Arc<RwLock<Option<Arc<dyn AppView>>>>);

impl Attached {
    pub fn set(&self, app: Option<Arc<dyn AppView>>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = app;
    }

    pub fn get(&self) -> Option<Arc<dyn AppView>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Whether `path` is served here rather than by the SQS protocols.
pub fn owns(path: &str) -> bool {
    path == "/health" || path == "/metrics" || path == "/console" || path.starts_with("/console/")
}

/// Whether a request to `path` needs a signature when the emulator requires credentials:
/// everything but the health check and the page's own files (which hold no data).
pub fn needs_signature(path: &str) -> bool {
    path == "/metrics" || path.starts_with("/console/api/")
}

/// What the console reads and acts on: the server's queues, its message move tasks (a redrive
/// starts one) and the app attached to it.
pub struct Server<'a> {
    pub sqs: &'a Arc<Sqs>,
    pub move_tasks: &'a Arc<MoveTasks>,
    pub app: &'a Attached,
}

/// One request for a path [`owns`] accepts (already authenticated as [`needs_signature`] says).
pub async fn handle(
    server: Server<'_>,
    caller: Option<Caller>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let Server {
        sqs,
        move_tasks,
        app,
    } = server;
    let path = uri.path();
    let read_only = *method == Method::GET || *method == Method::HEAD;
    match path {
        "/health" if read_only => health(sqs),
        "/metrics" if read_only => metrics::scrape(sqs, app.get().as_deref()),
        "/console" => redirect("/console/"),
        _ => {
            if let Some(rest) = path.strip_prefix("/console/api/") {
                let host = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("localhost")
                    .to_string();
                let request = api::Request {
                    sqs,
                    move_tasks,
                    app: app.get(),
                    caller,
                    host,
                    method,
                    query: uri.query().unwrap_or_default(),
                    body: &body,
                };
                return api::handle(&request, rest).await;
            }
            match assets::get(path.trim_start_matches("/console/")) {
                Some(asset) if read_only => asset.response(),
                Some(_) => error(&SqsError::new(
                    ErrorCode::InvalidAction,
                    format!("{method} is not allowed on {path}."),
                )),
                None => not_found(path),
            }
        }
    }
}

/// `GET /health`: ready while the store accepts writes and the server is not shutting down.
fn health(sqs: &Sqs) -> Response {
    let failure = sqs.store.failure();
    let closing = sqs.is_closing();
    let ready = failure.is_none() && !closing;
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not ready" },
        "store": {
            "kind": if sqs.store.is_durable() { "sqlite" } else { "memory" },
            "state": if failure.is_some() { "failed" } else { "ok" },
            "error": failure,
        },
        "shuttingDown": closing,
        "queues": sqs.queue_count(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(status, &body)
}

fn redirect(to: &'static str) -> Response {
    let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    response
}

fn not_found(path: &str) -> Response {
    let mut response = error(&SqsError::new(
        ErrorCode::InvalidAction,
        format!("Nothing is served at {path}: the console is at /console/."),
    ));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An error in the JSON protocol's shape (`{"__type": …, "message": …}`) with SQS's status.
pub fn error(error: &SqsError) -> Response {
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, json::error_body(error)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
