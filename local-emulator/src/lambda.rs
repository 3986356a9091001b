//! The Lambda Invoke API on the emulator's port, for the functions of an app running on it
//! (`lockgate up`): `POST /2015-03-31/functions/{FunctionName}/invocations`, as AWS's SDKs,
//! the AWS CLI and `sam local start-lambda` clients call it.
//!
//! - `X-Amz-Invocation-Type`: `RequestResponse` (the default: 200 with the function's
//!   response), `Event` (202 at once, the function runs in the background), `DryRun` (204).
//! - The function is named by its name, its ARN, or a partial ARN (`account:function:name`),
//!   with `$LATEST` as the only qualifier (lockgate keeps no versions or aliases).
//! - A function error is Lambda's: 200 with `X-Amz-Function-Error: Unhandled` and
//!   `{"errorMessage", "errorType"}`. Service errors are Lambda's shapes: a JSON body with
//!   `Type` and `message`, the code in `x-amzn-ErrorType` (ResourceNotFoundException 404,
//!   InvalidRequestContentException 400, RequestTooLargeException 413, …).
//!
//! The emulator knows no functions itself: the app attaches [`Functions`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// Lambda's cap on a synchronous invocation's payload.
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// Lambda's cap on an asynchronous (`Event`) invocation's payload.
pub const MAX_ASYNC_PAYLOAD: usize = 1024 * 1024;

const PREFIX: &str = "/2015-03-31/functions/";
const SUFFIX: &str = "/invocations";

/// A function's error, as the Invoke API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    /// `errorType` (None: Lambda's own failure, such as a timeout, names none).
    pub error_type: Option<String>,
    pub message: String,
}

/// One invocation in flight.
pub type Invocation = Pin<Box<dyn Future<Output = Result<Vec<u8>, FunctionError>> + Send>>;

/// The functions of the app attached to the emulator.
pub trait Functions: Send + Sync + 'static {
    /// Whether the app has a function of this name.
    fn has(&self, name: &str) -> bool;
    /// One invocation of `name` with `payload` (JSON): the function's response.
    fn invoke(&self, name: &str, payload: Vec<u8>) -> Invocation;
}

/// Whether a request is for the Invoke API (read before its body).
pub fn claims(uri: &Uri) -> bool {
    uri.path().starts_with(PREFIX)
}

/// What one Invoke request asks.
struct Request {
    name: String,
    kind: InvocationType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

/// A Lambda service error.
#[derive(Debug)]
pub struct LambdaError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl LambdaError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn not_found(arn: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("Function not found: {arn}"),
        )
    }

    pub fn into_response(self, request_id: &str) -> Response {
        let body = serde_json::json!({ "Type": "User", "message": self.message }).to_string();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.code));
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert("x-amzn-requestid", id);
        }
        response
    }
}

const JSON: &str = "application/json";

/// Where a function name resolves: the account and region the emulator serves.
pub struct Place<'a> {
    pub region: &'a str,
    pub account: &'a str,
}

/// Serves one Invoke request (its body read and, under credentials, its signature checked).
pub async fn handle(
    functions: Option<Arc<dyn Functions>>,
    place: Place<'_>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
    request_id: &str,
) -> Response {
    match invoke(functions, place, method, uri, headers, body).await {
        Ok(response) => {
            let mut response = response;
            if let Ok(id) = HeaderValue::from_str(request_id) {
                response.headers_mut().insert("x-amzn-requestid", id);
            }
            response
        }
        Err(error) => error.into_response(request_id),
    }
}

async fn invoke(
    functions: Option<Arc<dyn Functions>>,
    place: Place<'_>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, LambdaError> {
    if method != Method::POST {
        return Err(LambdaError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowedException",
            "The Invoke API takes POST",
        ));
    }
    let request = parse(&place, uri, headers)?;
    let arn = format!(
        "arn:aws:lambda:{}:{}:function:{}",
        place.region, place.account, request.name
    );
    let functions = functions
        .filter(|f| f.has(&request.name))
        .ok_or_else(|| LambdaError::not_found(&arn))?;
    let limit = match request.kind {
        InvocationType::Event => MAX_ASYNC_PAYLOAD,
        _ => MAX_SYNC_PAYLOAD,
    };
    if body.len() > limit {
        return Err(LambdaError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
        ));
    }
    // An empty payload is the empty JSON object, as Lambda takes it.
    let payload = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".to_vec()
    } else {
        serde_json::from_slice::<serde::de::IgnoredAny>(&body).map_err(|e| {
            LambdaError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                format!("Could not parse request body into json: {e}"),
            )
        })?;
        body.to_vec()
    };
    match request.kind {
        InvocationType::DryRun => Ok(StatusCode::NO_CONTENT.into_response()),
        InvocationType::Event => {
            let name = request.name.clone();
            let invocation = functions.invoke(&request.name, payload);
            tokio::spawn(async move {
                if let Err(e) = invocation.await {
                    tracing::warn!(
                        function = %name,
                        "an asynchronous invocation failed: {}",
                        e.message
                    );
                }
            });
            Ok(StatusCode::ACCEPTED.into_response())
        }
        InvocationType::RequestResponse => {
            let (body, failed) = match functions.invoke(&request.name, payload).await {
                Ok(response) => (response, false),
                Err(error) => {
                    let mut reply = serde_json::json!({ "errorMessage": error.message });
                    if let Some(kind) = error.error_type {
                        reply["errorType"] = kind.into();
                    }
                    (reply.to_string().into_bytes(), true)
                }
            };
            let mut response = (StatusCode::OK, body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
            headers.insert(
                "x-amz-executed-version",
                HeaderValue::from_static("$LATEST"),
            );
            if failed {
                headers.insert(
                    "x-amz-function-error",
                    HeaderValue::from_static("Unhandled"),
                );
            }
            Ok(response)
        }
    }
}

fn parse(place: &Place<'_>, uri: &Uri, headers: &HeaderMap) -> Result<Request, LambdaError> {
    let path = uri.path();
    let encoded = path
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(SUFFIX))
        .filter(|name| !name.is_empty() && !name.contains('/'))
        .ok_or_else(|| {
            LambdaError::new(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                format!("No Lambda operation at {path}"),
            )
        })?;
    let identifier = percent_decode(encoded);
    let qualifier = uri.query().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("Qualifier="))
            .map(percent_decode)
    });
    let name = function_name(place, &identifier, qualifier.as_deref())?;
    let kind = match headers
        .get("x-amz-invocation-type")
        .map(|v| v.to_str().unwrap_or_default())
    {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(LambdaError::new(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                format!(
                    "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
                ),
            ));
        }
    };
    Ok(Request { name, kind })
}

/// The function's name from any of the forms Lambda accepts: `name`, `name:qualifier`,
/// `account:function:name[:qualifier]`, `arn:aws:lambda:region:account:function:name[:qualifier]`.
/// A qualifier other than `$LATEST`, or another account, names no function here.
fn function_name(
    place: &Place<'_>,
    identifier: &str,
    qualifier: Option<&str>,
) -> Result<String, LambdaError> {
    let parts: Vec<&str> = identifier.split(':').collect();
    let (account, name, inline_qualifier) = match parts[..] {
        [name] => (None, name, None),
        [name, qualifier] => (None, name, Some(qualifier)),
        [account, "function", name] => (Some(account), name, None),
        [account, "function", name, qualifier] => (Some(account), name, Some(qualifier)),
        ["arn", _, "lambda", _, account, "function", name] => (Some(account), name, None),
        ["arn", _, "lambda", _, account, "function", name, qualifier] => {
            (Some(account), name, Some(qualifier))
        }
        _ => {
            return Err(LambdaError::new(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                format!(
                    "1 validation error detected: Value '{identifier}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
                ),
            ));
        }
    };
    let valid_name = !name.is_empty()
        && name.len() <= 140
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let qualifier = inline_qualifier.or(qualifier);
    let arn = |name: &str| {
        let mut arn = format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            place.region,
            account.unwrap_or(place.account)
        );
        if let Some(q) = qualifier {
            arn.push(':');
            arn.push_str(q);
        }
        arn
    };
    if !valid_name
        || account.is_some_and(|a| a != place.account)
        || qualifier.is_some_and(|q| q != "$LATEST")
    {
        return Err(LambdaError::not_found(&arn(name)));
    }
    Ok(name.to_string())
}

/// `%XX` escapes decoded (a function ARN's colons arrive as `%3A`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HERE: Place<'static> = Place {
        region: "us-east-1",
        account: "000000000000",
    };

    #[test]
    fn every_form_of_a_function_name() {
        for identifier in [
            "orders",
            "orders:$LATEST",
            "000000000000:function:orders",
            "arn:aws:lambda:us-east-1:000000000000:function:orders",
            "arn:aws:lambda:eu-west-1:000000000000:function:orders:$LATEST",
        ] {
            assert_eq!(
                function_name(&HERE, identifier, None).unwrap(),
                "orders",
                "{identifier}"
            );
        }
        for (identifier, qualifier) in [
            ("orders:v2", None),
            ("orders", Some("live")),
            ("111111111111:function:orders", None),
            ("bad/name", None),
        ] {
            let err = function_name(&HERE, identifier, qualifier).unwrap_err();
            assert_eq!(err.code, "ResourceNotFoundException", "{identifier}");
        }
        assert_eq!(
            function_name(&HERE, "a:b:c:d:e", None).unwrap_err().code,
            "ValidationException"
        );
        assert_eq!(percent_decode("arn%3Aaws%3Alambda"), "arn:aws:lambda");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
