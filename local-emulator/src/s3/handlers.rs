//! One function per S3 operation, and the request's way through them: authentication, the
//! operation chosen from method, target and query, then the reply or S3's error document.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use base64::Engine as _;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming, SizeHint};
use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::chunked::Decoder;
use super::objects::{BucketMeta, NewPiece, ObjectHeaders, ObjectMeta, Objects, Part, Upload};
use super::routing::Target;
use super::sealed;
use super::wire::{self, S3Error, escape, xml_response};
use crate::auth::{self, CredentialScope};
use crate::error::ErrorCode;
use crate::queue::message::hex;
use crate::request::Shared;

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

/// What every operation gets.
struct Request<'a> {
    shared: &'a Shared,
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
        &self.shared.sqs.objects
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
    shared: &Shared,
    target: Target,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Incoming,
    request_id: &str,
) -> Response {
    let head = method == Method::HEAD;
    let mut response = match serve(shared, target, method, uri, headers, body).await {
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
    shared: &Shared,
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
    authenticate(shared, &method, &uri, &headers, &declared_hash)?;
    let scope = CredentialScope::of(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok()),
        uri.query().unwrap_or_default(),
    );
    let sqs = &shared.sqs;
    let account = scope
        .as_ref()
        .and_then(CredentialScope::account)
        .map_or_else(|| sqs.config.account_id.clone(), str::to_string);
    let region = scope
        .as_ref()
        .map(|s| s.region.clone())
        .filter(|r| crate::sqs::is_region_name(r))
        .unwrap_or_else(|| sqs.config.region.clone());
    let req = Request {
        shared,
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
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    declared_hash: &str,
) -> Result<(), S3Error> {
    if shared.sqs.config.credentials.is_none() {
        return Ok(());
    }
    if declared_hash.starts_with("STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        || declared_hash.starts_with("STREAMING-AWS4-ECDSA")
    {
        return Err(S3Error::not_implemented(
            "chunk-signed uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) under --credentials; sign the payload or send it unsigned with a checksum trailer",
        ));
    }
    crate::request::authenticate(
        &shared.sqs,
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

// ---- buckets ----

fn list_buckets(req: &Request<'_>) -> Result<Response, S3Error> {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
    );
    xml.push_str(&format!(
        "<Owner><ID>{0}</ID><DisplayName>{0}</DisplayName></Owner><Buckets>",
        req.account
    ));
    for (name, meta) in req.objects().buckets() {
        xml.push_str(&format!(
            "<Bucket><Name>{}</Name><CreationDate>{}</CreationDate><BucketRegion>{}</BucketRegion></Bucket>",
            escape(&name),
            wire::iso_time(meta.created_s),
            escape(&meta.region)
        ));
    }
    xml.push_str("</Buckets></ListAllMyBucketsResult>");
    Ok(xml_response(xml))
}

async fn bucket_operation(
    req: &Request<'_>,
    bucket: &str,
    body: Incoming,
) -> Result<Response, S3Error> {
    let objects = req.objects();
    match req.method {
        Method::PUT if req.query.is_empty() => {
            let body = small_body(req, body).await?;
            let asked = wire::elements(&body, "LocationConstraint")
                .first()
                .map(|r| r.trim().to_string());
            let region = asked
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| req.region.clone());
            let meta = BucketMeta {
                created_s: super::objects::now_s(),
                region,
                owner: req.account.clone(),
            };
            let created = objects.create_bucket(bucket, meta).await?;
            // us-east-1 answers 200 to its owner re-creating a bucket; other regions 409.
            if !created && req.region != "us-east-1" {
                return Err(S3Error::new(
                    409,
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already own it.",
                )
                .with("BucketName", bucket));
            }
            let mut response = Response::new(Body::empty());
            response
                .headers_mut()
                .insert(header::LOCATION, header_value(&format!("/{bucket}")));
            Ok(response)
        }
        Method::HEAD => {
            let meta = objects
                .bucket(bucket)
                .ok_or_else(|| S3Error::no_such_bucket(bucket))?;
            let mut response = Response::new(Body::empty());
            response
                .headers_mut()
                .insert("x-amz-bucket-region", header_value(&meta.region));
            Ok(response)
        }
        Method::DELETE if req.query.is_empty() => {
            objects.delete_bucket(bucket).await?;
            Ok(status(StatusCode::NO_CONTENT))
        }
        Method::GET if req.query.contains_key("location") => {
            let meta = objects
                .bucket(bucket)
                .ok_or_else(|| S3Error::no_such_bucket(bucket))?;
            // us-east-1 is the empty constraint.
            let region = if meta.region == "us-east-1" {
                ""
            } else {
                &meta.region
            };
            Ok(xml_response(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{}</LocationConstraint>",
                escape(region)
            )))
        }
        Method::GET
            if req
                .query
                .keys()
                .all(|k| LIST_PARAMETERS.contains(&k.as_str())) =>
        {
            list_objects(req, bucket)
        }
        _ => Err(S3Error::not_implemented(&format!(
            "{} on a bucket with {:?}",
            req.method,
            req.query.keys().collect::<Vec<_>>()
        ))),
    }
}

const LIST_PARAMETERS: &[&str] = &[
    "list-type",
    "prefix",
    "delimiter",
    "max-keys",
    "continuation-token",
    "start-after",
    "encoding-type",
    "fetch-owner",
    "marker",
];

/// ListObjectsV2 (`list-type=2`) and ListObjects: keys in order, grouped by a delimiter.
fn list_objects(req: &Request<'_>, bucket: &str) -> Result<Response, S3Error> {
    let v2 = req.param("list-type") == Some("2");
    let prefix = req.param("prefix").unwrap_or_default();
    let delimiter = req.param("delimiter").filter(|d| !d.is_empty());
    let max_keys = match req.param("max-keys") {
        None => 1000,
        Some(n) => n
            .parse::<usize>()
            .map_err(|_| {
                S3Error::invalid_argument(
                    "Provided max-keys not an integer or within integer range",
                )
            })?
            .min(1000),
    };
    let url_encoded = match req.param("encoding-type") {
        None => false,
        Some("url") => true,
        Some(_) => {
            return Err(S3Error::invalid_argument(
                "Invalid Encoding Method specified in Request",
            ));
        }
    };
    let after = if v2 {
        match req.param("continuation-token") {
            Some(token) => base64::engine::general_purpose::STANDARD
                .decode(token)
                .ok()
                .and_then(|t| String::from_utf8(t).ok())
                .ok_or_else(|| {
                    S3Error::invalid_argument("The continuation token provided is incorrect")
                })?,
            None => req.param("start-after").unwrap_or_default().to_string(),
        }
    } else {
        req.param("marker").unwrap_or_default().to_string()
    };
    // Resuming after a common prefix skips every key under it.
    let after_prefix = delimiter.is_some_and(|d| after.ends_with(d));
    let mut contents = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut last = String::new();
    req.objects().list(bucket, prefix, &after, |meta| {
        if after_prefix && meta.key.starts_with(&after) {
            return true;
        }
        let group = delimiter.and_then(|d| {
            let rest = &meta.key[prefix.len()..];
            rest.find(d)
                .map(|at| format!("{prefix}{}", &rest[..at + d.len()]))
        });
        if let Some(group) = &group
            && prefixes.last() == Some(group)
        {
            return true;
        }
        if contents.len() + prefixes.len() == max_keys {
            truncated = true;
            return false;
        }
        match group {
            Some(group) => {
                last.clone_from(&group);
                prefixes.push(group);
            }
            None => {
                last.clone_from(&meta.key);
                contents.push(meta.clone());
            }
        }
        true
    })?;
    let text = |s: &str| {
        if url_encoded {
            url_encode(s)
        } else {
            escape(s)
        }
    };
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>{}</Prefix><MaxKeys>{max_keys}</MaxKeys><IsTruncated>{truncated}</IsTruncated>",
        escape(bucket),
        text(prefix)
    );
    if let Some(d) = delimiter {
        xml.push_str(&format!("<Delimiter>{}</Delimiter>", text(d)));
    }
    if url_encoded {
        xml.push_str("<EncodingType>url</EncodingType>");
    }
    if v2 {
        xml.push_str(&format!(
            "<KeyCount>{}</KeyCount>",
            contents.len() + prefixes.len()
        ));
        if let Some(token) = req.param("continuation-token") {
            xml.push_str(&format!(
                "<ContinuationToken>{}</ContinuationToken>",
                escape(token)
            ));
        }
        if let Some(start) = req.param("start-after") {
            xml.push_str(&format!("<StartAfter>{}</StartAfter>", text(start)));
        }
        if truncated {
            xml.push_str(&format!(
                "<NextContinuationToken>{}</NextContinuationToken>",
                base64::engine::general_purpose::STANDARD.encode(&last)
            ));
        }
    } else {
        xml.push_str(&format!("<Marker>{}</Marker>", text(&after)));
        if truncated && delimiter.is_some() {
            xml.push_str(&format!("<NextMarker>{}</NextMarker>", text(&last)));
        }
    }
    for meta in &contents {
        xml.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>&quot;{}&quot;</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            text(&meta.key),
            wire::iso_time(meta.modified_s),
            meta.etag,
            meta.size
        ));
    }
    for group in &prefixes {
        xml.push_str(&format!(
            "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
            text(group)
        ));
    }
    xml.push_str("</ListBucketResult>");
    Ok(xml_response(xml))
}

fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---- objects ----

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

/// Upload ids are ours (hex); anything else cannot name one (nor a file).
fn check_upload_id(id: &str) -> Result<String, S3Error> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(S3Error::no_such_upload())
    }
}

/// The headers stored with an object.
fn object_headers(req: &Request<'_>) -> Result<ObjectHeaders, S3Error> {
    let mut stored = ObjectHeaders {
        content_type: req.header("content-type").map(str::to_string),
        sse: "AES256".into(),
        ..ObjectHeaders::default()
    };
    let mut user_bytes = 0;
    for (name, value) in &req.headers {
        let name = name.as_str();
        let Ok(value) = value.to_str() else {
            continue;
        };
        let kept = matches!(
            name,
            "content-disposition" | "content-language" | "cache-control" | "expires"
        ) || name.starts_with("x-amz-meta-");
        if name.starts_with("x-amz-meta-") {
            user_bytes += name.len() - "x-amz-meta-".len() + value.len();
        }
        if name == "content-encoding" {
            // aws-chunked is how it travelled, not what it is.
            let rest: Vec<&str> = value
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty() && *e != "aws-chunked")
                .collect();
            if !rest.is_empty() {
                stored.headers.insert(name.into(), rest.join(","));
            }
        } else if kept {
            stored.headers.insert(name.into(), value.into());
        }
    }
    if user_bytes > MAX_USER_METADATA {
        return Err(S3Error::new(
            400,
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size.",
        ));
    }
    match req.header("x-amz-server-side-encryption") {
        None | Some("AES256") => {}
        Some(kms @ ("aws:kms" | "aws:kms:dsse")) => {
            stored.sse = kms.into();
            stored.kms_key_id = Some(
                req.header("x-amz-server-side-encryption-aws-kms-key-id")
                    .unwrap_or("alias/aws/s3")
                    .to_string(),
            );
        }
        Some(other) => {
            return Err(S3Error::invalid_argument(format!(
                "The encryption method specified is not supported: {other}"
            )));
        }
    }
    Ok(stored)
}

/// What arrived of an uploaded body.
struct Received {
    size: u64,
    md5: [u8; 16],
}

/// Streams the request body into `piece`: decoding aws-chunked, bounded in size and in idle
/// time, checked against every digest the client declared (Content-MD5, the signed SHA-256,
/// a CRC32 or SHA-256 checksum header or trailer).
async fn receive(
    req: &Request<'_>,
    body: Incoming,
    piece: &mut NewPiece,
) -> Result<Received, S3Error> {
    let chunked = req.declared_hash.starts_with("STREAMING-")
        || req
            .header("content-encoding")
            .is_some_and(|e| e.split(',').any(|e| e.trim() == "aws-chunked"));
    let length_header = if chunked {
        "x-amz-decoded-content-length"
    } else {
        "content-length"
    };
    let expected: Option<u64> = req.header(length_header).and_then(|v| v.parse().ok());
    let too_large = || {
        S3Error::new(
            400,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
        )
        .with("MaxSizeAllowed", MAX_PUT_BYTES.to_string())
    };
    if expected.is_some_and(|n| n > MAX_PUT_BYTES) {
        return Err(too_large());
    }
    let signed_sha = (!chunked && req.declared_hash.len() == 64).then(Sha256::new);
    let checksum_name = req
        .header("x-amz-trailer")
        .map(str::to_ascii_lowercase)
        .or_else(|| {
            ["x-amz-checksum-crc32", "x-amz-checksum-sha256"]
                .into_iter()
                .find(|n| req.headers.contains_key(*n))
                .map(str::to_string)
        });
    let mut crc = crc32fast::Hasher::new();
    let mut sha_checksum = Sha256::new();
    let mut signed_sha = signed_sha;
    let mut md5 = Md5::new();
    let mut decoder = chunked.then(Decoder::default);
    let mut size = 0u64;
    let idle = req.shared.limits().body_read_timeout;
    let mut body = body;
    let incomplete = |why: String| {
        S3Error::new(
            400,
            "IncompleteBody",
            format!(
                "You did not provide the number of bytes specified by the Content-Length HTTP header: {why}"
            ),
        )
    };
    let mut decoded = Vec::new();
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => {
                return Err(S3Error::new(
                    400,
                    "RequestTimeout",
                    "Your socket connection to the server was not read from or written to within the timeout period.",
                ));
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(incomplete(e.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // HTTP trailers: S3's checksums travel in aws-chunked trailers
        };
        if let Some(sha) = &mut signed_sha {
            sha.update(&data);
        }
        let plain: &[u8] = match &mut decoder {
            Some(decoder) => {
                decoded.clear();
                decoder
                    .feed(&data, &mut |b| decoded.extend_from_slice(b))
                    .map_err(|e| {
                        S3Error::new(
                            400,
                            "InvalidRequest",
                            format!("The aws-chunked body is malformed: {e}"),
                        )
                    })?;
                &decoded
            }
            None => &data,
        };
        size += plain.len() as u64;
        if size > MAX_PUT_BYTES {
            return Err(too_large());
        }
        md5.update(plain);
        crc.update(plain);
        sha_checksum.update(plain);
        piece
            .writer
            .write(plain)
            .await
            .map_err(|e| S3Error::internal(format!("writing the object: {e}")))?;
    }
    if let Some(decoder) = &decoder
        && !decoder.is_complete()
    {
        return Err(incomplete("the chunked body ended early".into()));
    }
    if expected.is_some_and(|n| n != size) {
        return Err(incomplete(format!("{size} bytes arrived")));
    }
    if let Some(sha) = signed_sha
        && hex(&sha.finalize()) != req.declared_hash.to_ascii_lowercase()
    {
        return Err(S3Error::new(
            400,
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ));
    }
    let md5: [u8; 16] = md5.finalize().into();
    if let Some(claimed) = req.header("content-md5") {
        if base64::engine::general_purpose::STANDARD
            .decode(claimed)
            .map_or(true, |c| c.len() != 16)
        {
            return Err(S3Error::new(
                400,
                "InvalidDigest",
                "The Content-MD5 you specified is not valid.",
            ));
        }
        if base64::engine::general_purpose::STANDARD.encode(md5) != claimed {
            return Err(S3Error::new(
                400,
                "BadDigest",
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    if let Some(name) = checksum_name {
        let claimed = decoder
            .as_ref()
            .and_then(|d| {
                d.trailers
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            })
            .or_else(|| req.header(&name).map(str::to_string));
        let computed = match name.as_str() {
            "x-amz-checksum-crc32" => {
                Some(base64::engine::general_purpose::STANDARD.encode(crc.finalize().to_be_bytes()))
            }
            "x-amz-checksum-sha256" => {
                Some(base64::engine::general_purpose::STANDARD.encode(sha_checksum.finalize()))
            }
            // CRC32C, CRC64NVME, SHA-1: not computed here; the MD5 and SHA-256 checks stand.
            _ => None,
        };
        if let (Some(claimed), Some(computed)) = (claimed, computed)
            && claimed != computed
        {
            let algorithm = name
                .trim_start_matches("x-amz-checksum-")
                .to_ascii_uppercase();
            return Err(S3Error::new(
                400,
                "BadDigest",
                format!("The {algorithm} you specified did not match the calculated checksum."),
            ));
        }
    }
    Ok(Received { size, md5 })
}

/// Streams the body into a new sealed piece of `bucket`, sealed as `headers` say; nothing is
/// left on disk when it fails.
async fn store_piece(
    req: &Request<'_>,
    bucket: &str,
    headers: &ObjectHeaders,
    body: Incoming,
) -> Result<(super::objects::Piece, Received), S3Error> {
    let mut piece = req.objects().seal_piece(bucket, headers).await?;
    match receive(req, body, &mut piece).await {
        Ok(received) => {
            let piece = piece
                .finish()
                .await
                .map_err(|e| S3Error::internal(format!("writing the object: {e}")))?;
            Ok((piece, received))
        }
        Err(e) => {
            piece.discard();
            Err(e)
        }
    }
}

async fn put_object(
    req: &Request<'_>,
    bucket: &str,
    key: &str,
    body: Incoming,
) -> Result<Response, S3Error> {
    let headers = object_headers(req)?;
    let (piece, received) = store_piece(req, bucket, &headers, body).await?;
    let etag = hex(&received.md5);
    let meta = ObjectMeta {
        key: key.to_string(),
        size: received.size,
        etag: etag.clone(),
        modified_s: super::objects::now_s(),
        headers,
        pieces: vec![piece],
    };
    let sse = encryption_headers(&meta.headers);
    req.objects().put_object(bucket, meta).await?;
    let mut response = Response::new(Body::empty());
    let h = response.headers_mut();
    h.insert(header::ETAG, header_value(&format!("\"{etag}\"")));
    for (name, value) in sse {
        h.insert(name, header_value(&value));
    }
    Ok(response)
}

fn encryption_headers(headers: &ObjectHeaders) -> Vec<(&'static str, String)> {
    let mut out = vec![("x-amz-server-side-encryption", headers.sse.clone())];
    if let Some(id) = &headers.kms_key_id {
        out.push(("x-amz-server-side-encryption-aws-kms-key-id", id.clone()));
    }
    out
}

/// GetObject and HeadObject: conditions, a byte range, the bytes streamed from disk.
fn get_object(req: &Request<'_>, bucket: &str, key: &str) -> Result<Response, S3Error> {
    let (meta, pieces) = req.objects().open_object(bucket, key)?;
    let etag = format!("\"{}\"", meta.etag);
    let matches = |list: &str| list.split(',').any(|e| e.trim() == etag || e.trim() == "*");
    if let Some(want) = req.header("if-match")
        && !matches(want)
    {
        return Err(S3Error::new(
            412,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        )
        .with("Condition", "If-Match"));
    }
    if let Some(not) = req.header("if-none-match")
        && matches(not)
    {
        let mut response = status(StatusCode::NOT_MODIFIED);
        response
            .headers_mut()
            .insert(header::ETAG, header_value(&etag));
        return Ok(response);
    }
    let range = match req.header("range") {
        Some(range) => parse_range(range, meta.size).map_err(|()| {
            S3Error::new(
                416,
                "InvalidRange",
                "The requested range is not satisfiable",
            )
            .with("ActualObjectSize", meta.size.to_string())
            .with("RangeRequested", range)
        })?,
        None => None,
    };
    let (start, end) = range.unwrap_or((0, meta.size));
    let mut response = if req.method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        Response::new(Body::new(stream_pieces(
            meta.pieces.iter().map(|p| p.size).collect(),
            pieces,
            start,
            end,
        )))
    };
    if range.is_some() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_LENGTH,
        header_value(&(end - start).to_string()),
    );
    if range.is_some() {
        h.insert(
            header::CONTENT_RANGE,
            header_value(&format!(
                "bytes {start}-{}/{}",
                end.saturating_sub(1),
                meta.size
            )),
        );
    }
    h.insert(header::ETAG, header_value(&etag));
    h.insert(
        header::LAST_MODIFIED,
        header_value(&wire::http_time(meta.modified_s)),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_TYPE,
        header_value(
            meta.headers
                .content_type
                .as_deref()
                .unwrap_or("binary/octet-stream"),
        ),
    );
    for (name, value) in &meta.headers.headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.insert(name, value);
        }
    }
    for (name, value) in encryption_headers(&meta.headers) {
        h.insert(name, header_value(&value));
    }
    if meta.pieces.len() > 1 {
        h.insert(
            "x-amz-mp-parts-count",
            header_value(&meta.pieces.len().to_string()),
        );
    }
    Ok(response)
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` as `[start, end)`; `Ok(None)` for a header S3
/// ignores (several ranges, other units), `Err` when nothing of the object is in range.
fn parse_range(header: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| s.parse::<u64>().ok();
    let range = match (first.is_empty(), last.is_empty()) {
        (true, false) => {
            let Some(n) = number(last) else {
                return Ok(None);
            };
            if n == 0 || size == 0 {
                return Err(());
            }
            (size.saturating_sub(n), size)
        }
        (false, _) => {
            let Some(start) = number(first) else {
                return Ok(None);
            };
            let end = if last.is_empty() {
                size
            } else {
                match number(last) {
                    Some(l) if l >= start => (l + 1).min(size),
                    _ => return Ok(None),
                }
            };
            if start >= size {
                return Err(());
            }
            (start, end)
        }
        (true, true) => return Ok(None),
    };
    Ok(Some(range))
}

/// A response body fed by a blocking reader: at most a few segments are in memory at once.
struct Streamed(
    tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    u64,
);

impl hyper::body::Body for Streamed {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx).map(|chunk| {
            chunk.map(|chunk| {
                chunk.map(|bytes| {
                    self.1 = self.1.saturating_sub(bytes.len() as u64);
                    Frame::data(bytes)
                })
            })
        })
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.1)
    }
}

/// Reads `[start, end)` of an object made of pieces of `sizes` on a blocking thread.
fn stream_pieces(
    sizes: Vec<u64>,
    pieces: Vec<(std::fs::File, sealed::PieceKey)>,
    start: u64,
    end: u64,
) -> Streamed {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut offset = 0u64;
        for (size, (mut file, key)) in sizes.into_iter().zip(pieces) {
            let (piece_start, piece_end) = (offset, offset + size);
            offset = piece_end;
            if piece_end <= start || piece_start >= end {
                continue;
            }
            let from = start.saturating_sub(piece_start);
            let to = end.min(piece_end) - piece_start;
            let result = sealed::read_range(&mut file, &key, size, from, to, &mut |chunk| {
                tx.blocking_send(Ok(Bytes::from(chunk))).is_ok()
            });
            if let Err(e) = result {
                tracing::error!(error = %e, "an object could not be read");
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    });
    Streamed(rx, end - start)
}

// ---- multipart uploads ----

async fn create_upload(req: &Request<'_>, bucket: &str, key: &str) -> Result<Response, S3Error> {
    let upload = Upload {
        key: key.to_string(),
        created_s: super::objects::now_s(),
        headers: object_headers(req)?,
        parts: BTreeMap::new(),
    };
    let sse = encryption_headers(&upload.headers);
    let id = req.objects().create_upload(bucket, upload).await?;
    let mut response = xml_response(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>{}</Bucket><Key>{}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>",
        escape(bucket),
        escape(key)
    ));
    for (name, value) in sse {
        response.headers_mut().insert(name, header_value(&value));
    }
    Ok(response)
}

async fn upload_part(
    req: &Request<'_>,
    bucket: &str,
    id: &str,
    body: Incoming,
) -> Result<Response, S3Error> {
    let id = check_upload_id(id)?;
    let number: u32 = req
        .param("partNumber")
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=MAX_PARTS).contains(n))
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
            )
        })?;
    let upload = req.objects().upload(bucket, &id)?;
    let (piece, received) = store_piece(req, bucket, &upload.headers, body).await?;
    let md5 = hex(&received.md5);
    req.objects()
        .put_part(
            bucket,
            &id,
            number,
            Part {
                piece,
                md5: md5.clone(),
                modified_s: super::objects::now_s(),
            },
        )
        .await?;
    let mut response = Response::new(Body::empty());
    response
        .headers_mut()
        .insert(header::ETAG, header_value(&format!("\"{md5}\"")));
    Ok(response)
}

async fn complete_upload(
    req: &Request<'_>,
    bucket: &str,
    key: &str,
    id: &str,
    body: Incoming,
) -> Result<Response, S3Error> {
    let id = check_upload_id(id)?;
    let xml = small_body(req, body).await?;
    let listed = wire::completed_parts(&xml)?;
    let upload = req.objects().upload(bucket, &id)?;
    if upload.key != key {
        return Err(S3Error::no_such_upload());
    }
    if listed.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(S3Error::new(
            400,
            "InvalidPartOrder",
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
        ));
    }
    let mut pieces = Vec::with_capacity(listed.len());
    let mut md5s = Vec::with_capacity(listed.len() * 16);
    let mut size = 0;
    for (i, (number, etag)) in listed.iter().enumerate() {
        let part = upload
            .parts
            .get(number)
            .filter(|p| p.md5.eq_ignore_ascii_case(etag))
            .ok_or_else(|| {
                S3Error::new(400, "InvalidPart", "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
                    .with("PartNumber", number.to_string())
                    .with("ETag", etag.clone())
            })?;
        if i + 1 < listed.len() && part.piece.size < MIN_PART_BYTES {
            return Err(S3Error::new(
                400,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed object size.",
            )
            .with("ProposedSize", part.piece.size.to_string())
            .with("MinSizeAllowed", MIN_PART_BYTES.to_string())
            .with("PartNumber", number.to_string()));
        }
        size += part.piece.size;
        pieces.push(part.piece.clone());
        md5s.extend(
            (0..part.md5.len() / 2)
                .filter_map(|i| u8::from_str_radix(&part.md5[2 * i..2 * i + 2], 16).ok()),
        );
    }
    let etag = format!("{}-{}", hex(&Md5::digest(&md5s)), listed.len());
    let used: std::collections::HashSet<u32> = listed.iter().map(|(n, _)| *n).collect();
    let unused = upload
        .parts
        .iter()
        .filter(|(n, _)| !used.contains(n))
        .map(|(_, p)| p.piece.clone())
        .collect();
    let meta = ObjectMeta {
        key: key.to_string(),
        size,
        etag: etag.clone(),
        modified_s: super::objects::now_s(),
        headers: upload.headers,
        pieces,
    };
    let sse = encryption_headers(&meta.headers);
    req.objects()
        .complete_upload(bucket, &id, meta, unused)
        .await?;
    let host = req.header("host").unwrap_or("localhost");
    let scheme = req.shared.sqs.config.scheme();
    let mut response = xml_response(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>{scheme}://{}/{}/{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>&quot;{etag}&quot;</ETag></CompleteMultipartUploadResult>",
        escape(host),
        escape(bucket),
        escape(&url_encode(key)),
        escape(bucket),
        escape(key)
    ));
    for (name, value) in sse {
        response.headers_mut().insert(name, header_value(&value));
    }
    Ok(response)
}

/// A small XML body (a bucket's configuration, a part list), bounded, checked against a
/// signed SHA-256.
async fn small_body(req: &Request<'_>, body: Incoming) -> Result<String, S3Error> {
    let idle = req.shared.limits().body_read_timeout;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_s3_reads_them() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some((0, 10))));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some((90, 100))));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some((90, 100))));
        assert_eq!(parse_range("bytes=95-200", 100), Ok(Some((95, 100))));
        assert_eq!(parse_range("bytes=-200", 100), Ok(Some((0, 100))));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("items=0-1", 100), Ok(None));
        assert_eq!(parse_range("bytes=5-2", 100), Ok(None));
        assert_eq!(parse_range("bytes=0-0", 0), Err(()));
    }
}
