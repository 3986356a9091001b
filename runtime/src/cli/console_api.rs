//! The emulator's console API (`/console/api/`, docs/console.md), for the verbs SQS's own API
//! cannot serve: `peek` reads messages without receiving them.

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// Answers above this are refused (a browse is at most 100 messages of 1 MiB).
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// `GET <endpoint>/console/api/<path>` as JSON; a clear error when the endpoint is not a
/// Lockgate emulator.
pub async fn get(endpoint: &str, path: &str) -> anyhow::Result<Value> {
    let url = format!("{}/console/api/{path}", endpoint.trim_end_matches('/'));
    let uri: axum::http::Uri = url
        .parse()
        .with_context(|| format!("bad endpoint {endpoint}"))?;
    if uri.scheme_str() != Some("http") {
        bail!(
            "{endpoint} is not a Lockgate emulator (peek reads the emulator's console API over http; SQS itself cannot show a message without receiving it: use --receive)"
        );
    }
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<axum::body::Bytes>>();
    let response = client
        .get(uri)
        .await
        .with_context(|| format!("cannot reach {endpoint}"))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("reading {url}: {e}"))?
        .to_bytes();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(json);
    }
    match json["message"].as_str() {
        Some(message)
            if status != axum::http::StatusCode::NOT_FOUND || path.starts_with("queues/") =>
        {
            bail!("{endpoint}: {message}")
        }
        _ => bail!(
            "{endpoint} has no console API ({status}): is it a Lockgate emulator? SQS itself cannot show a message without receiving it: use --receive"
        ),
    }
}
