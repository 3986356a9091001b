//! Bucket operations: create, head, delete, location, and listing a bucket's keys.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use hyper::body::Incoming;

use super::{Request, header_value, small_body, status};
use crate::s3::objects::BucketMeta;
use crate::s3::wire::{self, S3Error, escape, xml_response};

pub(super) fn list_buckets(req: &Request<'_>) -> Result<Response, S3Error> {
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

pub(super) async fn bucket_operation(
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
                created_s: req.now_s(),
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

pub(super) fn url_encode(s: &str) -> String {
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
