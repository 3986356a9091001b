//! Multipart uploads: create, upload a part, complete (with S3's checks of the part list),
//! abort.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use hyper::body::Incoming;
use md5::{Digest as _, Md5};

use super::buckets::url_encode;
use super::upload::{encryption_headers, object_headers, store_piece};
use super::{MAX_PARTS, MIN_PART_BYTES, Request, header_value, small_body};
use crate::queue::message::hex;
use crate::s3::objects::{ObjectMeta, Part, Upload};
use crate::s3::wire::{self, S3Error, escape, xml_response};

/// Upload ids are ours (hex); anything else cannot name one (nor a file).
pub(super) fn check_upload_id(id: &str) -> Result<String, S3Error> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(S3Error::no_such_upload())
    }
}

pub(super) async fn create_upload(
    req: &Request<'_>,
    bucket: &str,
    key: &str,
) -> Result<Response, S3Error> {
    let upload = Upload {
        key: key.to_string(),
        created_s: req.now_s(),
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

pub(super) async fn upload_part(
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
                modified_s: req.now_s(),
            },
        )
        .await?;
    let mut response = Response::new(Body::empty());
    response
        .headers_mut()
        .insert(header::ETAG, header_value(&format!("\"{md5}\"")));
    Ok(response)
}

pub(super) async fn complete_upload(
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
        modified_s: req.now_s(),
        headers: upload.headers,
        pieces,
    };
    let sse = encryption_headers(&meta.headers);
    req.objects()
        .complete_upload(bucket, &id, meta, unused)
        .await?;
    let host = req.header("host").unwrap_or("localhost");
    let scheme = req.endpoint.config.scheme();
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
