//! The request's way through the S3 operations: authentication, the operation chosen from
//! method, target and query, then the reply or S3's error document. The operations, by what
//! they act on: [`buckets`], [`upload`] (PutObject and every body), [`download`]
//! (GetObject, HeadObject), [`multipart`].

mod buckets;
mod download;
mod multipart;
mod upload;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use md5::Digest as _;
use sha2::Sha256;

use super::objects::Objects;
use super::routing::Target;
use super::wire::S3Error;
use crate::auth::{self, CredentialScope};
use crate::error::ErrorCode;
use crate::queue::message::hex;
use crate::sqs::Config;
use buckets::{bucket_operation, list_buckets};
use download::get_object;
use multipart::{check_upload_id, complete_upload, create_upload, upload_part};
use upload::put_object;

/// The largest object a single PUT, and the largest part an upload, may carry (S3's).
const MAX_PUT_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// The smallest part but the last of a multipart upload.
const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
const MAX_PARTS: u32 = 10_000;
/// User metadata (`x-amz-meta-*`) per object, names and values together.
const MAX_USER_METADATA: usize = 2 * 1024;
/// The largest XML body accepted (a part list of 10,000 parts fits).
const MAX_XML_BODY: usize = 2 * 1024 * 1024;
const MAX_KEY_BYTES: usize = 1024;

/// What the S3 endpoint needs of the server it shares a port with: the emulator's settings
/// (account, region, credentials, scheme) and clock, the objects, and how long a body may stall.
#[derive(Clone, Copy)]
pub struct Endpoint<'a> {
    pub config: &'a Config,
    pub objects: &'a Objects,
    pub body_read_timeout: std::time::Duration,
}

/// What every operation gets.
struct Request<'a> {
    endpoint: Endpoint<'a>,
    method: Method,
    headers: HeaderMap,
    query: BTreeMap<String, String>,
    /// The payload hash the client signed (`x-amz-content-sha256`).
    declared_hash: String,
    /// Who is asking: the signer's account, or the emulator's.
    account: String,
    region: String,
}

impl Request<'_> {
    fn objects(&self) -> &Objects {
        self.endpoint.objects
    }

    /// Now in Unix seconds, on the emulator's clock (the one its signature checks use).
    fn now_s(&self) -> u64 {
        self.endpoint.config.now_s() as u64
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }
}

/// Serves one S3 request.
pub async fn handle(
    endpoint: Endpoint<'_>,
    target: Target,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Incoming,
    request_id: &str,
) -> Response {
    let head = method == Method::HEAD;
    let mut response = match serve(endpoint, target, method, uri, headers, body).await {
        Ok(response) => response,
        Err(error) => error.response(request_id, head),
    };
    let h = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(request_id) {
        h.insert("x-amz-request-id", id.clone());
        h.insert("x-amz-id-2", id);
    }
    response
}

async fn serve(
    endpoint: Endpoint<'_>,
    target: Target,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Incoming,
) -> Result<Response, S3Error> {
    let query: BTreeMap<String, String> =
        crate::protocol::query::parse_form(uri.query().unwrap_or_default())
            .into_iter()
            .collect();
    let declared_hash = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("UNSIGNED-PAYLOAD")
        .to_string();
    authenticate(endpoint.config, &method, &uri, &headers, &declared_hash)?;
    let scope = CredentialScope::of(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok()),
        uri.query().unwrap_or_default(),
    );
    let config = endpoint.config;
    let account = scope
        .as_ref()
        .and_then(CredentialScope::account)
        .map_or_else(|| config.account_id.clone(), str::to_string);
    let region = scope
        .as_ref()
        .map(|s| s.region.clone())
        .filter(|r| crate::sqs::is_region_name(r))
        .unwrap_or_else(|| config.region.clone());
    let req = Request {
        endpoint,
        method,
        headers,
        query,
        declared_hash,
        account,
        region,
    };
    if req
        .headers
        .contains_key("x-amz-server-side-encryption-customer-algorithm")
    {
        return Err(S3Error::not_implemented(
            "customer-provided encryption keys (SSE-C)",
        ));
    }
    let Target { bucket, key } = target;
    let Some(bucket) = bucket else {
        return match req.method {
            Method::GET => list_buckets(&req),
            _ => Err(S3Error::new(
                405,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            )),
        };
    };
    super::check_bucket_name(&bucket)?;
    match key {
        None => bucket_operation(&req, &bucket, body).await,
        Some(key) => {
            if key.len() > MAX_KEY_BYTES {
                return Err(S3Error::new(400, "KeyTooLongError", "Your key is too long"));
            }
            object_operation(&req, &bucket, &key, body).await
        }
    }
}

/// SigV4 under `--credentials`, with the payload hash the client declared (the body is
/// checked against it as it streams in).
fn authenticate(
    config: &Config,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    declared_hash: &str,
) -> Result<(), S3Error> {
    if config.credentials.is_none() {
        return Ok(());
    }
    if declared_hash.starts_with("STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        || declared_hash.starts_with("STREAMING-AWS4-ECDSA")
    {
        return Err(S3Error::not_implemented(
            "chunk-signed uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) under --credentials; sign the payload or send it unsigned with a checksum trailer",
        ));
    }
    auth::authenticate(
        config.credentials.as_deref(),
        config.now_s(),
        method,
        uri,
        headers,
        auth::Payload::Declared(declared_hash),
    )
    .map(drop)
    .map_err(|e| {
        let (status, code) = match e.code {
            ErrorCode::InvalidClientTokenId => (403, "InvalidAccessKeyId"),
            ErrorCode::SignatureDoesNotMatch
                if e.message.contains("not yet current") || e.message.contains("expired") =>
            {
                (403, "RequestTimeTooSkewed")
            }
            ErrorCode::SignatureDoesNotMatch => (403, "SignatureDoesNotMatch"),
            ErrorCode::IncompleteSignature => (400, "AuthorizationHeaderMalformed"),
            _ => (403, "AccessDenied"),
        };
        S3Error::new(status, code, e.message)
    })
}

async fn object_operation(
    req: &Request<'_>,
    bucket: &str,
    key: &str,
    body: Incoming,
) -> Result<Response, S3Error> {
    let upload_id = req.param("uploadId").map(str::to_string);
    match (&req.method, upload_id) {
        (&Method::PUT, Some(id)) => upload_part(req, bucket, &id, body).await,
        (&Method::PUT, None) if req.headers.contains_key("x-amz-copy-source") => {
            Err(S3Error::not_implemented("CopyObject"))
        }
        (&Method::PUT, None) => put_object(req, bucket, key, body).await,
        (&Method::GET | &Method::HEAD, None) => get_object(req, bucket, key),
        (&Method::DELETE, None) => {
            req.objects().delete_object(bucket, key).await?;
            Ok(status(StatusCode::NO_CONTENT))
        }
        (&Method::DELETE, Some(id)) => {
            req.objects()
                .abort_upload(bucket, &check_upload_id(&id)?)
                .await?;
            Ok(status(StatusCode::NO_CONTENT))
        }
        (&Method::POST, None) if req.query.contains_key("uploads") => {
            create_upload(req, bucket, key).await
        }
        (&Method::POST, Some(id)) => complete_upload(req, bucket, key, &id, body).await,
        (method, _) => Err(S3Error::not_implemented(&format!(
            "{method} on an object with {:?}",
            req.query.keys().collect::<Vec<_>>()
        ))),
    }
}

/// A small XML body (a bucket's configuration, a part list), bounded, checked against a
/// signed SHA-256.
async fn small_body(req: &Request<'_>, body: Incoming) -> Result<String, S3Error> {
    let idle = req.endpoint.body_read_timeout;
    let read = http_body_util::Limited::new(body, MAX_XML_BODY).collect();
    let bytes = match tokio::time::timeout(idle, read).await {
        Err(_) => {
            return Err(S3Error::new(
                400,
                "RequestTimeout",
                "Your socket connection to the server was not read from or written to within the timeout period.",
            ));
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(S3Error::new(
                400,
                "MaxMessageLengthExceeded",
                "Your request was too big.",
            ));
        }
        Ok(Err(e)) => return Err(S3Error::new(400, "IncompleteBody", e.to_string())),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    if req.declared_hash.len() == 64
        && hex(&Sha256::digest(&bytes)) != req.declared_hash.to_ascii_lowercase()
    {
        return Err(S3Error::new(
            400,
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| S3Error::new(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema"))
}

fn status(code: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = code;
    response
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}
