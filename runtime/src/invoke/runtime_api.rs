//! The Lambda Runtime API, as one function process sees it: `GET …/invocation/next` hands out
//! the next event with every header lambda_runtime reads; `POST …/{id}/response` and
//! `…/{id}/error` complete it; `POST …/init/error` reports a failed start.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{mpsc, oneshot};

use super::InvokeError;

pub type Outcome = Result<Vec<u8>, InvokeError>;

/// One event waiting for (or being handled by) the process.
pub struct Pending {
    pub request_id: String,
    pub payload: Vec<u8>,
    /// The function's timeout: it runs from when the process takes the event (as on Lambda,
    /// where the init phase has a budget of its own).
    pub timeout: Duration,
    /// Told the deadline when the process takes the event.
    pub started: oneshot::Sender<tokio::time::Instant>,
    pub done: oneshot::Sender<Outcome>,
}

/// The API state of one process.
pub struct Api {
    function_arn: String,
    queue: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    current: Mutex<Option<(String, oneshot::Sender<Outcome>)>>,
    init_error: Mutex<Option<String>>,
}

impl Api {
    pub fn new(function_arn: String) -> (Arc<Self>, mpsc::Sender<Pending>) {
        let (tx, rx) = mpsc::channel(1);
        let api = Arc::new(Self {
            function_arn,
            queue: tokio::sync::Mutex::new(rx),
            current: Mutex::new(None),
            init_error: Mutex::new(None),
        });
        (api, tx)
    }

    /// Fails the invocation in progress, if any (the process died under it).
    pub fn fail_current(&self, error: InvokeError) {
        if let Some((_, done)) = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = done.send(Err(error));
        }
    }

    pub fn init_error(&self) -> Option<String> {
        self.init_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn complete(&self, id: &str, outcome: Outcome) -> StatusCode {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match current.take() {
            Some((current_id, done)) if current_id == id => {
                let _ = done.send(outcome);
                StatusCode::ACCEPTED
            }
            other => {
                *current = other;
                StatusCode::BAD_REQUEST
            }
        }
    }
}

pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(api)
}

async fn next(State(api): State<Arc<Api>>) -> Response {
    let pending = api.queue.lock().await.recv().await;
    let Some(pending) = pending else {
        // The pool is shutting this process down.
        return StatusCode::GONE.into_response();
    };
    let deadline_ms = (SystemTime::now() + pending.timeout)
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let _ = pending
        .started
        .send(tokio::time::Instant::now() + pending.timeout);
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", pending.request_id.clone());
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        api.function_arn.clone(),
    );
    set(
        "lambda-runtime-trace-id",
        format!(
            "Root=1-{:08x}-{};Sampled=0",
            deadline_ms / 1000,
            &pending.request_id.replace('-', "")[..24]
        ),
    );
    set("content-type", "application/json".to_string());
    *api.current.lock().unwrap_or_else(|e| e.into_inner()) =
        Some((pending.request_id, pending.done));
    (StatusCode::OK, headers, pending.payload).into_response()
}

async fn response(State(api): State<Arc<Api>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    api.complete(&id, Ok(body.to_vec()))
}

async fn error(State(api): State<Arc<Api>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let error = InvokeError::Function {
        error_type: parsed["errorType"]
            .as_str()
            .unwrap_or("Unhandled")
            .to_string(),
        message: parsed["errorMessage"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned()),
    };
    api.complete(&id, Err(error))
}

async fn init_error(State(api): State<Arc<Api>>, body: Bytes) -> StatusCode {
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let message = parsed["errorMessage"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    *api.init_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
    StatusCode::ACCEPTED
}
