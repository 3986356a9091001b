//! PutObject, and what every upload (a PUT or a multipart part) goes through: the object's
//! headers, the body streamed into a sealed piece with every digest checked.

use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use base64::Engine as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::{MAX_PUT_BYTES, MAX_USER_METADATA, Request, header_value};
use crate::queue::message::hex;
use crate::s3::chunked::Decoder;
use crate::s3::objects::{NewPiece, ObjectHeaders, ObjectMeta, Piece};
use crate::s3::wire::S3Error;

/// The headers stored with an object.
pub(super) fn object_headers(req: &Request<'_>) -> Result<ObjectHeaders, S3Error> {
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
pub(super) struct Received {
    pub(super) size: u64,
    pub(super) md5: [u8; 16],
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
    let idle = req.endpoint.body_read_timeout;
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
pub(super) async fn store_piece(
    req: &Request<'_>,
    bucket: &str,
    headers: &ObjectHeaders,
    body: Incoming,
) -> Result<(Piece, Received), S3Error> {
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

pub(super) async fn put_object(
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
        modified_s: req.now_s(),
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

pub(super) fn encryption_headers(headers: &ObjectHeaders) -> Vec<(&'static str, String)> {
    let mut out = vec![("x-amz-server-side-encryption", headers.sse.clone())];
    if let Some(id) = &headers.kms_key_id {
        out.push(("x-amz-server-side-encryption-aws-kms-key-id", id.clone()));
    }
    out
}
