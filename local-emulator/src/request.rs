//! One request: authentication, the browser rules, the body's limits, protocol detection,
//! the action, and the reply in the protocol the request came in.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::actions::{self, Context};
use crate::auth::{self, CredentialScope};
use crate::console;
use crate::error::{ErrorCode, SqsError};
use crate::lambda;
use crate::protocol::{json, query, query_json};
use crate::s3;
use crate::shared::Shared;
use crate::sqs::{Sqs, is_region_name, region_of_host};
use crate::sts;

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(1);

fn request_id() -> String {
    let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    crate::queue::message::format_message_id((0x5eed_u128 << 112) | u128::from(n))
}

/// How a reply goes back: the JSON protocol, or the Query protocol in XML or (when the client
/// asks with `Accept: application/json`) in JSON.
#[derive(Clone, Copy)]
enum ReplyFormat {
    Json,
    QueryXml,
    QueryJson,
}

impl ReplyFormat {
    fn of(headers: &HeaderMap) -> Self {
        if headers.contains_key("x-amz-target") {
            ReplyFormat::Json
        } else if accepts_json(headers) {
            ReplyFormat::QueryJson
        } else {
            ReplyFormat::QueryXml
        }
    }

    fn error(self, error: &SqsError, request_id: &str) -> Response {
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

/// Handles one request; every outcome is a reply in the request's protocol.
pub async fn handle(shared: &Shared, req: hyper::Request<Incoming>) -> Response {
    let (parts, body) = req.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let request_id = request_id();
    let format = ReplyFormat::of(&headers);
    let origin = match browser_check(shared, &method, &uri, &headers) {
        Ok(origin) => origin,
        Err(error) => return format.error(&error, &request_id),
    };
    let mut response = if method == Method::OPTIONS {
        preflight(origin.as_deref(), &headers)
    } else if lambda::claims(&uri) {
        let cap = shared
            .limits
            .max_body_bytes
            .max(lambda::MAX_SYNC_PAYLOAD + 1);
        match read_body_up_to(shared, &headers, body, cap).await {
            Ok(body) => serve_lambda(shared, &method, &uri, &headers, body, &request_id).await,
            Err(error) => lambda::LambdaError::new(
                StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
                "RequestTooLargeException",
                error.message,
            )
            .into_response(&request_id),
        }
    } else if let Some(target) = s3::claims(&method, &uri, &headers) {
        // Objects stream: their bodies are not read here.
        let endpoint = s3::Endpoint {
            config: &shared.sqs.config,
            objects: &shared.objects,
            body_read_timeout: shared.limits.body_read_timeout,
        };
        s3::handle(endpoint, target, method, uri, headers, body, &request_id).await
    } else if console::owns(uri.path()) {
        match read_body(shared, &headers, body).await {
            Ok(body) => serve_console(shared, &method, &uri, &headers, body).await,
            Err(error) => console::error(&error),
        }
    } else {
        match read_body(shared, &headers, body).await {
            Ok(body) => {
                handle_request(shared, format, method, uri, headers, body, &request_id).await
            }
            Err(error) => format.error(&error, &request_id),
        }
    };
    if let Some(origin) = origin
        && let Ok(value) = HeaderValue::from_str(&origin)
    {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("x-amzn-requestid, x-amzn-query-error, x-amzn-errortype"),
        );
    }
    response
}

/// The Lambda Invoke API: with `--credentials`, signed as every other API.
async fn serve_lambda(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
    request_id: &str,
) -> Response {
    let sqs = &shared.sqs;
    if let Err(error) = signer_of(sqs, method, uri, headers, &body) {
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

/// The console, `/metrics` and `/health`: with `--credentials`, data needs a signature as the
/// SQS API does, and acts as the signer's account.
async fn serve_console(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let sqs = &shared.sqs;
    let mut caller = None;
    if sqs.config.credentials.is_some() && console::needs_signature(uri.path()) {
        let signer = match signer_of(sqs, method, uri, headers, &body) {
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

/// Browsers must not drive the emulator from other sites' pages: SDKs and CLIs send neither
/// `Origin` nor `Sec-Fetch-*`, browsers do. A request with an `Origin` is served only from the
/// emulator's own origin or an `--allow-origin` one; a browser request without one (a
/// cross-site `<img>` or link, which carries `Sec-Fetch-Site`, or an old browser's navigation,
/// which asks for HTML or images) is refused. Returns the allowed origin to answer with CORS.
fn browser_check(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Option<String>, SqsError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let refused = |why: String| SqsError::new(ErrorCode::AccessDenied, why);
    let host = text("host").unwrap_or_default();
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let allowed = shared
            .allowed_origins
            .iter()
            .any(|o| o == origin || o == "*");
        let own = is_local_host(host)
            && (origin == format!("http://{host}") || origin == format!("https://{host}"));
        if own || allowed {
            return Ok((!own).then(|| origin.to_string()));
        }
        return Err(refused(format!(
            "Requests from the web page at {origin} are refused: start the emulator with --allow-origin {origin} to let that page call it."
        )));
    }
    if let Some(site) = text("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return Err(refused(format!(
                "A {site} browser request without an Origin is refused."
            )));
        }
        if !is_local_host(host) {
            return Err(refused(format!(
                "A browser request for the host {host} is refused: open the emulator as localhost or by its IP address."
            )));
        }
    }
    let browser_get = *method == Method::GET
        && uri.query().is_some_and(|q| q.contains("Action="))
        && text("accept").is_some_and(|a| a.contains("text/html") || a.contains("image/"));
    if browser_get {
        return Err(refused(
            "A browser navigation or image request cannot run an action.".to_string(),
        ));
    }
    Ok(None)
}

/// Whether a browser may reach the emulator by this `Host`: loopback names and IP literals.
/// A page from any other name that resolves here (DNS rebinding) would be same-origin with
/// the emulator, so browser requests naming another host are refused.
pub fn is_local_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split_once(']').map_or(rest, |(ip, _)| ip)
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

/// A CORS preflight from an allowed origin.
fn preflight(origin: Option<&str>, headers: &HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if origin.is_some() {
        let h = response.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        if let Some(asked) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    response
}

/// Reads the body within the limits: a declared length over the cap is refused before any
/// of it is read, the bytes are reserved from the shared budget first, and the whole body
/// must arrive within the body timeout.
async fn read_body(
    shared: &Shared,
    headers: &HeaderMap,
    body: Incoming,
) -> Result<Bytes, SqsError> {
    read_body_up_to(shared, headers, body, shared.limits.max_body_bytes).await
}

/// [`read_body`] with a cap of its own (the Invoke API takes Lambda's 6 MB payloads).
async fn read_body_up_to(
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

async fn handle_request(
    shared: &Shared,
    format: ReplyFormat,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    request_id: &str,
) -> Response {
    let sqs = &shared.sqs;
    let request_id = request_id.to_string();
    let target = headers.get("x-amz-target").and_then(|t| t.to_str().ok());
    let signer = match signer_of(sqs, &method, &uri, &headers, &body) {
        Ok(signer) => signer,
        Err(error) => return format.error(&error, &request_id),
    };
    let scope = CredentialScope::of(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok()),
        uri.query().unwrap_or_default(),
    );
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
        account: scope
            .as_ref()
            .and_then(CredentialScope::account)
            .map_or_else(|| sqs.config.account_id.clone(), str::to_string),
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
