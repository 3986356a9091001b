//! Which requests on the shared port are S3's. SQS requests are POSTs (JSON with
//! `X-Amz-Target`, or a Query form) or GETs with an `Action`; S3 requests are recognised by
//! their signature's service (`…/s3/aws4_request`), a `<bucket>.localhost` host, or, unsigned,
//! by what SQS never sends: PUT, DELETE, HEAD, a GET of a path without an `Action`, or a
//! multipart POST.

use axum::http::{HeaderMap, Method, Uri, header};

use crate::auth::CredentialScope;

/// The bucket and key a request addresses (both percent-decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub bucket: Option<String>,
    pub key: Option<String>,
}

/// The S3 target of a request, if it is an S3 request.
pub fn claims(method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Target> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let query = uri.query().unwrap_or_default();
    let path = uri.path();
    if let Some(bucket) = virtual_host_bucket(host) {
        let key = path.trim_start_matches('/');
        return Some(Target {
            bucket: Some(bucket),
            key: (!key.is_empty()).then(|| decode(key)),
        });
    }
    let signed_for_s3 = CredentialScope::of(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok()),
        query,
    )
    .is_some_and(|scope| scope.service == "s3");
    let has = |name: &str| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some(name))
    };
    let unsigned_s3 = match *method {
        Method::PUT | Method::DELETE | Method::HEAD => true,
        Method::GET => {
            path != "/" && !has("Action") && !crate::console::owns(path) && !is_queue_path(path)
        }
        Method::POST => has("uploads") || has("uploadId") || has("delete"),
        _ => false,
    };
    if !(signed_for_s3 || unsigned_s3 || is_s3_host(host)) {
        return None;
    }
    let rest = path.trim_start_matches('/');
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    Some(Target {
        bucket: (!bucket.is_empty()).then(|| decode(bucket)),
        key: (!key.is_empty()).then(|| decode(key)),
    })
}

/// `/<12-digit account>/…`: a queue URL (SQS answers an action-less GET there itself).
fn is_queue_path(path: &str) -> bool {
    let first = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    first.len() == 12 && first.bytes().all(|b| b.is_ascii_digit())
}

fn host_name(host: &str) -> String {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `s3.localhost` or `s3.<region>.localhost`: path-style S3.
fn is_s3_host(host: &str) -> bool {
    let name = host_name(host);
    name.strip_suffix(".localhost")
        .is_some_and(|rest| rest == "s3" || rest.starts_with("s3."))
}

/// `<bucket>.localhost`, `<bucket>.s3.localhost` or `<bucket>.s3.<region>.localhost`.
fn virtual_host_bucket(host: &str) -> Option<String> {
    let name = host_name(host);
    let rest = name.strip_suffix(".localhost")?;
    if rest == "s3" || rest.starts_with("s3.") || rest.starts_with("sqs.") || rest == "sqs" {
        return None;
    }
    let bucket = match rest.find(".s3.") {
        Some(at) => &rest[..at],
        None => rest.strip_suffix(".s3").unwrap_or(rest),
    };
    Some(bucket.to_string())
}

/// Percent-decoding of a path (a `+` is a plus in a path).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let digit = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
        match (bytes[i], digit(bytes.get(i + 1)), digit(bytes.get(i + 2))) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
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

    fn headers(host: &str, auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().unwrap());
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, a.parse().unwrap());
        }
        h
    }

    const S3_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKID/20261130/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00";
    const SQS_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKID/20261130/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00";

    #[test]
    fn s3_requests_are_told_from_sqs_ones() {
        let target = |m: Method, uri: &str, h: HeaderMap| claims(&m, &uri.parse().unwrap(), &h);
        let both = |b: &str, k: Option<&str>| {
            Some(Target {
                bucket: Some(b.into()),
                key: k.map(Into::into),
            })
        };
        assert_eq!(
            target(
                Method::GET,
                "/b/dir/a%20b.txt",
                headers("127.0.0.1:9324", Some(S3_AUTH))
            ),
            both("b", Some("dir/a b.txt"))
        );
        assert_eq!(
            target(Method::GET, "/", headers("127.0.0.1:9324", Some(S3_AUTH))),
            Some(Target {
                bucket: None,
                key: None
            })
        );
        assert_eq!(
            target(Method::PUT, "/k", headers("my.bucket.localhost:9324", None)),
            both("my.bucket", Some("k"))
        );
        assert_eq!(
            target(
                Method::GET,
                "/?list-type=2",
                headers("data.s3.us-east-1.localhost", None)
            ),
            Some(Target {
                bucket: Some("data".into()),
                key: None
            })
        );
        assert_eq!(
            target(Method::PUT, "/b", headers("localhost", None)),
            both("b", None)
        );
        assert_eq!(
            target(Method::POST, "/b/k?uploads", headers("localhost", None)),
            both("b", Some("k"))
        );
        // SQS: signed for sqs, Query GETs, the console, regional SQS hosts.
        assert_eq!(
            target(Method::POST, "/", headers("localhost", Some(SQS_AUTH))),
            None
        );
        assert_eq!(
            target(
                Method::GET,
                "/000000000000/q?Action=ReceiveMessage",
                headers("localhost", None)
            ),
            None
        );
        assert_eq!(
            target(Method::GET, "/console/", headers("localhost", None)),
            None
        );
        assert_eq!(target(Method::GET, "/", headers("localhost", None)), None);
        assert_eq!(
            target(Method::POST, "/", headers("sqs.eu-west-1.localhost", None)),
            None
        );
    }
}
