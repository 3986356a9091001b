//! The SQS API's door, both wire protocols, and STS beside it: the caller's account and region,
//! the action, and the reply in the protocol (and format) the request came in.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;

use crate::actions::{self, Context};
use crate::error::{ErrorCode, SqsError};
use crate::protocol::{json, query, query_json};
use crate::shared::Shared;
use crate::sqs::{is_region_name, region_of_host};
use crate::sts;

/// How a reply goes back: the JSON protocol, or the Query protocol in XML or (when the client
/// asks with `Accept: application/json`) in JSON.
#[derive(Clone, Copy)]
pub(super) enum ReplyFormat {
    Json,
    QueryXml,
    QueryJson,
}

impl ReplyFormat {
    pub(super) fn of(headers: &HeaderMap) -> Self {
        if headers.contains_key("x-amz-target") {
            ReplyFormat::Json
        } else if accepts_json(headers) {
            ReplyFormat::QueryJson
        } else {
            ReplyFormat::QueryXml
        }
    }

    pub(super) fn error(self, error: &SqsError, request_id: &str) -> Response {
        match self {
            ReplyFormat::Json => json_error(error, request_id),
            ReplyFormat::QueryXml | ReplyFormat::QueryJson => {
                let status = StatusCode::from_u16(error.code.http_status())
                    .unwrap_or(StatusCode::BAD_REQUEST);
                let (body, content_type) = if matches!(self, ReplyFormat::QueryJson) {
                    (query_json::error(error, request_id), JSON_CONTENT_TYPE)
                } else {
                    (query::error(error, request_id), query::CONTENT_TYPE)
                };
                let mut response = (status, body).into_response();
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                response
            }
        }
    }
}

const JSON_CONTENT_TYPE: &str = "application/json";

/// The SQS API (JSON and Query protocols) and STS: signature, account and region, the action.
pub(super) async fn serve(
    shared: &Shared,
    format: ReplyFormat,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Incoming,
    request_id: &str,
) -> Response {
    let body = match super::body::read(shared, &headers, body).await {
        Ok(body) => body,
        Err(error) => return format.error(&error, request_id),
    };
    let sqs = &shared.sqs;
    let request_id = request_id.to_string();
    let target = headers.get("x-amz-target").and_then(|t| t.to_str().ok());
    let signer = match super::signer_of(sqs, &method, &uri, &headers, &body) {
        Ok(signer) => signer,
        Err(error) => return format.error(&error, &request_id),
    };
    let scope = super::scope_of(&uri, &headers);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:9324")
        .to_string();
    // Queues are regional: the region a request was signed for, else the one its endpoint
    // host names, else the emulator's.
    let region = scope
        .as_ref()
        .map(|s| s.region.as_str())
        .filter(|r| is_region_name(r))
        .or_else(|| region_of_host(&host))
        .unwrap_or(&sqs.config.region)
        .to_string();
    let ctx = Context {
        account: super::account_of(scope.as_ref(), sqs),
        region,
        host,
        trace_header: headers
            .get("x-amzn-trace-id")
            .and_then(|h| h.to_str().ok())
            .map(str::to_string),
        sqs: sqs.clone(),
        signer,
        move_tasks: shared.move_tasks.clone(),
    };
    let service = scope.map(|s| s.service);
    let Some(target) = target else {
        return handle_query(&ctx, service.as_deref(), &uri, &body, &request_id, format).await;
    };
    if let Some(action) = target.strip_prefix(sts::TARGET_PREFIX) {
        return match sts::check_action(action) {
            Ok(()) => json_ok(sts::CallerIdentity::of(&ctx.account).to_json(), &request_id),
            Err(error) => json_error(&error, &request_id),
        };
    }
    if !target.starts_with(json::TARGET_PREFIX) {
        let service = service.filter(|s| s != "sqs").unwrap_or_else(|| {
            target
                .split_once('.')
                .map_or(target, |(prefix, _)| prefix)
                .to_string()
        });
        return json_error(&sts::other_service(&service, target), &request_id);
    }
    let result = match json::action_from_target(target) {
        Ok(action) => actions::dispatch(&ctx, action, &body).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(bytes) => json_ok(bytes, &request_id),
        Err(error) => json_error(&error, &request_id),
    }
}

fn accepts_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"))
}

fn json_ok(body: Vec<u8>, request_id: &str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    set_headers(response.headers_mut(), request_id);
    response
}

/// Query-protocol actions that act on the service, not on one queue: refused when sent to a
/// queue's URL, as SQS refuses them.
const SERVICE_ACTIONS: &[&str] = &["CreateQueue", "ListQueues"];

/// The Query protocol: parameters from the form body and the URL; a request posted to a queue
/// URL names its queue by the path.
async fn handle_query(
    ctx: &Context,
    service: Option<&str>,
    uri: &Uri,
    body: &[u8],
    request_id: &str,
    format: ReplyFormat,
) -> Response {
    let mut params = query::parse_form(uri.query().unwrap_or_default());
    params.extend(query::parse_form(&String::from_utf8_lossy(body)));
    let action = params
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.clone());
    let path = uri.path().trim_matches('/');
    // `/<account>/<name>`, or `/<region>/<account>/<name>` for another region's queue.
    let on_queue_url = matches!(path.split('/').count(), 2 | 3);
    let action = match (action, service) {
        (Some(action), Some("sts")) | (Some(action), None) if action == "GetCallerIdentity" => {
            return sts_query(ctx, &action, request_id, format);
        }
        (Some(action), Some("sts")) => return sts_query(ctx, &action, request_id, format),
        (action, Some(other)) if other != "sqs" => {
            let detail = action.map_or_else(|| "no Action".to_string(), |a| format!("Action={a}"));
            return format.error(&sts::other_service(other, &detail), request_id);
        }
        (Some(action), _) => action,
        // SQS answers a queue URL without an action with a bare element, in XML whatever
        // the client accepts.
        (None, _) if on_queue_url => {
            let mut response =
                (StatusCode::NOT_FOUND, "<UnknownOperationException/>").into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(query::CONTENT_TYPE),
            );
            return response;
        }
        (None, _) => {
            return format.error(
                &SqsError::new(
                    ErrorCode::InvalidAction,
                    "No action was given: use the Query protocol's Action parameter or the JSON protocol's X-Amz-Target header.",
                ),
                request_id,
            );
        }
    };
    if on_queue_url && SERVICE_ACTIONS.contains(&action.as_str()) {
        return format.error(
            &SqsError::new(
                ErrorCode::InvalidAction,
                format!("The action {action} is not valid for this endpoint."),
            ),
            request_id,
        );
    }
    let mut request = match query::to_json(&action, &params) {
        Ok(request) => request,
        Err(error) => return format.error(&error, request_id),
    };
    if request.get("QueueUrl").is_none() && on_queue_url {
        request["QueueUrl"] = format!("{}://{}/{path}", ctx.sqs.config.scheme(), ctx.host).into();
    }
    let body = serde_json::to_vec(&request).expect("request serializes");
    match actions::dispatch(ctx, &action, &body).await {
        Ok(json) => {
            let (body, content_type) = match format {
                ReplyFormat::QueryJson => (
                    query_json::render(&action, &json, request_id),
                    JSON_CONTENT_TYPE,
                ),
                _ => (
                    query::render(&action, &json, request_id),
                    query::CONTENT_TYPE,
                ),
            };
            let mut response = (StatusCode::OK, body).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            response
        }
        Err(error) => format.error(&error, request_id),
    }
}

/// STS over the Query protocol (the protocol every current SDK uses for STS).
fn sts_query(ctx: &Context, action: &str, request_id: &str, format: ReplyFormat) -> Response {
    if let Err(error) = sts::check_action(action) {
        return format.error(&error, request_id);
    }
    let identity = sts::CallerIdentity::of(&ctx.account);
    let (body, content_type) = match format {
        ReplyFormat::QueryJson => (
            String::from_utf8(identity.to_json()).expect("JSON is UTF-8"),
            JSON_CONTENT_TYPE,
        ),
        _ => (identity.to_xml(request_id), query::CONTENT_TYPE),
    };
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn json_error(error: &SqsError, request_id: &str) -> Response {
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, json::error_body(error)).into_response();
    let headers = response.headers_mut();
    set_headers(headers, request_id);
    if let Ok(v) = HeaderValue::from_str(&error.code.qualified_type()) {
        headers.insert("x-amzn-errortype", v);
    }
    if let Ok(v) = HeaderValue::from_str(&json::query_error_header(error)) {
        headers.insert("x-amzn-query-error", v);
    }
    response
}

fn set_headers(headers: &mut HeaderMap, request_id: &str) {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(json::CONTENT_TYPE),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
}
