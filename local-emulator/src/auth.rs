//! Opt-in request authentication: AWS Signature Version 4, in the Authorization header or in
//! the query string, checked against a table of access key ids and secrets. Without a table
//! every request is accepted (the default for local use).

use std::collections::HashMap;

use axum::http::{HeaderMap, Method, Uri};
use sha2::{Digest, Sha256};

use crate::error::{ErrorCode, SqsError};
use crate::queue::message::hex;

/// The parts of a request a signature covers.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    /// Header names lower-case.
    pub headers: &'a [(String, String)],
    pub body: Payload<'a>,
}

/// What the signature's payload hash is checked against.
#[derive(Clone, Copy)]
pub enum Payload<'a> {
    /// The whole body, here: its hash is computed.
    Body(&'a [u8]),
    /// A body still to be streamed (S3 objects): the hash the client declared in
    /// `x-amz-content-sha256` is signed; the caller checks the body against it as it arrives.
    Declared(&'a str),
}

fn error(code: ErrorCode, message: &str) -> SqsError {
    SqsError::new(code, message)
}

fn incomplete(message: &str) -> SqsError {
    error(ErrorCode::IncompleteSignature, message)
}

struct Signature {
    key_id: String,
    date: String,
    scope: String,
    signed_headers: Vec<String>,
    signature: String,
    amz_date: String,
    from_query: bool,
    /// A presigned URL's X-Amz-Expires.
    expires: Option<String>,
}

/// How far a signature's X-Amz-Date may be from now, either way (AWS's window).
pub const MAX_CLOCK_SKEW_S: i64 = 15 * 60;
/// The longest a presigned URL may be valid (X-Amz-Expires).
pub const MAX_PRESIGNED_EXPIRY_S: i64 = 7 * 24 * 3600;

/// Checks an HTTP request's SigV4 signature against `credentials` at `now_s` (Unix seconds),
/// and its payload hash against `payload` (the SQS endpoint hashes the body it read; S3 the
/// hash the client declared, checking the body against it as it streams in). Without
/// credentials every request passes; with them the answer is the signer's access key id.
pub fn authenticate(
    credentials: Option<&HashMap<String, String>>,
    now_s: i64,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    payload: Payload<'_>,
) -> Result<Option<String>, SqsError> {
    let Some(credentials) = credentials else {
        return Ok(None);
    };
    let lowered: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let signed = SignedRequest {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or_default(),
        headers: &lowered,
        body: payload,
    };
    verify(credentials, &signed, now_s).map(Some)
}

/// Verifies a request's SigV4 signature at `now_s` (Unix seconds); returns the access key id
/// it was signed with. The payload hash is computed from the body actually received (the
/// `x-amz-content-sha256` header is not trusted), X-Amz-Date must be within 15 minutes of now,
/// and a presigned URL must not have outlived its X-Amz-Expires.
pub fn verify(
    credentials: &HashMap<String, String>,
    req: &SignedRequest<'_>,
    now_s: i64,
) -> Result<String, SqsError> {
    let sig = parse(req)?;
    check_time(&sig, now_s)?;
    let secret = credentials.get(&sig.key_id).ok_or_else(|| {
        error(
            ErrorCode::InvalidClientTokenId,
            "The security token included in the request is invalid.",
        )
    })?;
    // The hash of the body that arrived: a captured request's body cannot be swapped under
    // its signature. A presigned URL cannot know its payload: signers use UNSIGNED-PAYLOAD
    // there (botocore) or the hash of the body; accept either for the query-string form.
    let mut payload_hashes = vec![match req.body {
        Payload::Body(body) => hex(&Sha256::digest(body)),
        Payload::Declared(hash) => hash.to_string(),
    }];
    if sig.from_query {
        payload_hashes.insert(0, "UNSIGNED-PAYLOAD".to_string());
    }
    let mut scope_parts = sig.scope.split('/');
    let (_, region, service) = (
        scope_parts.next(),
        scope_parts.next().unwrap_or_default(),
        scope_parts.next().unwrap_or_default(),
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), sig.date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let matches = payload_hashes.iter().any(|payload_hash| {
        let canonical = canonical_request(req, &sig, payload_hash);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{}\n{}\n{}",
            sig.amz_date,
            sig.scope,
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let expected = hex(&hmac(&k_signing, string_to_sign.as_bytes()));
        constant_time_eq(expected.as_bytes(), sig.signature.as_bytes())
    });
    if !matches {
        return Err(error(
            ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ));
    }
    Ok(sig.key_id)
}

/// AWS's time rules: X-Amz-Date within 15 minutes of now (header form), or a presigned URL
/// used within its X-Amz-Expires (at most 7 days); the scope's date is X-Amz-Date's.
fn check_time(sig: &Signature, now_s: i64) -> Result<(), SqsError> {
    let signed_s = parse_amz_date(&sig.amz_date).ok_or_else(|| {
        incomplete(&format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
            sig.amz_date
        ))
    })?;
    if !sig.amz_date.starts_with(&sig.date) {
        return Err(error(
            ErrorCode::SignatureDoesNotMatch,
            &format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
                sig.date,
                &sig.amz_date[..8.min(sig.amz_date.len())],
                sig.amz_date
            ),
        ));
    }
    if let Some(expires) = &sig.expires {
        let expires_s: i64 = expires
            .parse()
            .ok()
            .filter(|e| (1..=MAX_PRESIGNED_EXPIRY_S).contains(e))
            .ok_or_else(|| {
                incomplete(&format!(
                    "X-Amz-Expires must be between 1 and {MAX_PRESIGNED_EXPIRY_S} seconds (a week); got {expires}."
                ))
            })?;
        if now_s > signed_s + expires_s {
            return Err(error(ErrorCode::RequestExpired, "Request has expired."));
        }
        if signed_s > now_s + MAX_CLOCK_SKEW_S {
            return Err(not_yet_current(&sig.amz_date, now_s));
        }
        return Ok(());
    }
    if signed_s < now_s - MAX_CLOCK_SKEW_S {
        return Err(error(
            ErrorCode::SignatureDoesNotMatch,
            &format!(
                "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                sig.amz_date,
                format_amz_date(now_s - MAX_CLOCK_SKEW_S),
                format_amz_date(now_s)
            ),
        ));
    }
    if signed_s > now_s + MAX_CLOCK_SKEW_S {
        return Err(not_yet_current(&sig.amz_date, now_s));
    }
    Ok(())
}

fn not_yet_current(amz_date: &str, now_s: i64) -> SqsError {
    error(
        ErrorCode::SignatureDoesNotMatch,
        &format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            format_amz_date(now_s + MAX_CLOCK_SKEW_S),
            format_amz_date(now_s)
        ),
    )
}

/// `YYYYMMDD'T'HHMMSS'Z'` to Unix seconds.
pub fn parse_amz_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Unix seconds to `YYYYMMDD'T'HHMMSS'Z'`.
pub fn format_amz_date(unix_s: i64) -> String {
    let days = unix_s.div_euclid(86_400);
    let secs = unix_s.rem_euclid(86_400);
    let (y, m, d) = crate::clock::civil_date(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}


fn header<'a>(req: &'a SignedRequest<'_>, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn parse(req: &SignedRequest<'_>) -> Result<Signature, SqsError> {
    let query: HashMap<String, String> = crate::protocol::query::parse_form(req.query)
        .into_iter()
        .collect();
    let (credential, signed_headers, signature, amz_date, from_query) = if let Some(auth) =
        header(req, "authorization")
    {
        let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
            incomplete("Authorization header must use the AWS4-HMAC-SHA256 algorithm.")
        })?;
        let mut fields = HashMap::new();
        for part in rest.split(',') {
            if let Some((k, v)) = part.trim().split_once('=') {
                fields.insert(k.to_string(), v.to_string());
            }
        }
        let get = |name: &str| {
            fields.get(name).cloned().ok_or_else(|| {
                incomplete(&format!(
                    "Authorization header requires '{name}' parameter. Authorization={auth}"
                ))
            })
        };
        let amz_date = header(req, "x-amz-date")
                .map(str::to_string)
                .ok_or_else(|| incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."))?;
        (
            get("Credential")?,
            get("SignedHeaders")?,
            get("Signature")?,
            amz_date,
            false,
        )
    } else if query.get("X-Amz-Algorithm").map(String::as_str) == Some("AWS4-HMAC-SHA256") {
        let get = |name: &str| {
            query.get(name).cloned().ok_or_else(|| {
                incomplete(&format!(
                    "AWS query-string parameters must include '{name}'."
                ))
            })
        };
        (
            get("X-Amz-Credential")?,
            get("X-Amz-SignedHeaders")?,
            get("X-Amz-Signature")?,
            get("X-Amz-Date")?,
            true,
        )
    } else {
        return Err(error(
            ErrorCode::MissingAuthenticationToken,
            "Request is missing Authentication Token",
        ));
    };
    let (key_id, scope) = credential.split_once('/').ok_or_else(|| {
        incomplete("Credential must have the form <key id>/<date>/<region>/<service>/aws4_request.")
    })?;
    let date = scope.split('/').next().unwrap_or_default().to_string();
    Ok(Signature {
        key_id: key_id.to_string(),
        date,
        scope: scope.to_string(),
        signed_headers: signed_headers.split(';').map(str::to_string).collect(),
        signature,
        amz_date,
        from_query,
        expires: from_query
            .then(|| query.get("X-Amz-Expires").cloned())
            .flatten(),
    })
}

/// The credential scope a request claims, read whether or not signatures are verified: the
/// access key id, and the region and service the request was signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    pub key_id: String,
    pub region: String,
    pub service: String,
}

impl CredentialScope {
    /// From the Authorization header's `Credential=` or a presigned URL's `X-Amz-Credential`.
    pub fn of(authorization: Option<&str>, query: &str) -> Option<Self> {
        let credential = match authorization {
            Some(auth) => auth
                .split("Credential=")
                .nth(1)?
                .split([',', ' '])
                .next()?
                .to_string(),
            None if query.contains("X-Amz-Credential") => {
                crate::protocol::query::parse_form(query)
                    .into_iter()
                    .find(|(k, _)| k == "X-Amz-Credential")?
                    .1
            }
            None => return None,
        };
        let mut parts = credential.split('/');
        let key_id = parts.next()?.to_string();
        let _date = parts.next()?;
        let region = parts.next()?.to_string();
        let service = parts.next()?.to_string();
        Some(Self {
            key_id,
            region,
            service,
        })
    }

    /// A 12-digit access key id names the account the request acts in.
    pub fn account(&self) -> Option<&str> {
        (self.key_id.len() == 12 && self.key_id.bytes().all(|b| b.is_ascii_digit()))
            .then_some(self.key_id.as_str())
    }
}

fn canonical_request(req: &SignedRequest<'_>, sig: &Signature, payload_hash: &str) -> String {
    let path = if req.path.is_empty() { "/" } else { req.path };
    // S3 signs the path encoded once; every other service encodes it twice.
    let s3 = sig.scope.split('/').nth(2) == Some("s3");
    let canonical_path: String = path
        .split('/')
        .map(|segment| {
            if s3 {
                encode(&percent_decode(segment))
            } else {
                encode(&encode(&crate::protocol::query::parse_form_component(
                    segment,
                )))
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    let mut query: Vec<(String, String)> = crate::protocol::query::parse_form(req.query)
        .into_iter()
        .filter(|(k, _)| !(sig.from_query && k == "X-Amz-Signature"))
        .map(|(k, v)| (encode(&k), encode(&v)))
        .collect();
    query.sort();
    let canonical_query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut canonical_headers = String::new();
    for name in &sig.signed_headers {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_path,
        canonical_query,
        canonical_headers,
        sig.signed_headers.join(";"),
        payload_hash
    )
}

/// A path segment as sent, percent-decoded (`+` stays a plus: it is not a form).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex_digit = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex_digit(h).is_some() && hex_digit(l).is_some() => {
                out.push((hex_digit(h).unwrap_or(0) * 16 + hex_digit(l).unwrap_or(0)) as u8);
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

/// RFC 3986 percent-encoding of everything but unreserved characters, as SigV4 wants.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// HMAC-SHA256 (RFC 2104).
pub(crate) fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 64;
    let mut key_block = [0u8; BLOCK];
    if key.len() > BLOCK {
        key_block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        key_block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(key_block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(key_block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().to_vec()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What is wrong with a credentials file.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("line {line}: expected `ACCESS_KEY_ID SECRET_ACCESS_KEY`")]
    Malformed { line: usize },
    #[error("no credentials in the file")]
    Empty,
}

/// Reads a credentials file: one `ACCESS_KEY_ID SECRET_ACCESS_KEY` pair per line; `#` comments.
pub fn load_credentials(text: &str) -> Result<HashMap<String, String>, CredentialsError> {
    let mut table = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(key), Some(secret), None) => {
                table.insert(key.to_string(), secret.to_string());
            }
            _ => return Err(CredentialsError::Malformed { line: n + 1 }),
        }
    }
    if table.is_empty() {
        return Err(CredentialsError::Empty);
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn credential_scopes() {
        let auth = "AWS4-HMAC-SHA256 Credential=123456789012/20240101/eu-central-1/sqs/aws4_request, SignedHeaders=host, Signature=abc";
        let scope = CredentialScope::of(Some(auth), "").unwrap();
        assert_eq!(scope.region, "eu-central-1");
        assert_eq!(scope.service, "sqs");
        assert_eq!(scope.account(), Some("123456789012"));
        let query =
            "Action=ListQueues&X-Amz-Credential=AKID%2F20240101%2Fus-west-2%2Fsts%2Faws4_request";
        let scope = CredentialScope::of(None, query).unwrap();
        assert_eq!(
            (scope.region.as_str(), scope.service.as_str()),
            ("us-west-2", "sts")
        );
        assert_eq!(scope.account(), None);
        assert_eq!(CredentialScope::of(Some("Basic abc"), ""), None);
        assert_eq!(CredentialScope::of(None, "Action=ListQueues"), None);
    }

    #[test]
    fn amz_dates() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_amz_date("20240229T123456Z"), Some(1_709_210_096));
        assert_eq!(format_amz_date(1_709_210_096), "20240229T123456Z");
        for bad in [
            "",
            "20241301T000000Z",
            "2024-01-01T00:00:00Z",
            "20240101T000000",
            "2024010１T000000Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn credentials_file() {
        let t = load_credentials("# team keys\nAKID1 secret1\n\nAKID2   secret2 # ci\n").unwrap();
        assert_eq!(t["AKID2"], "secret2");
        assert_eq!(
            load_credentials("AKID1 secret1\njust-one-field\n"),
            Err(CredentialsError::Malformed { line: 2 })
        );
        assert_eq!(load_credentials("# none\n"), Err(CredentialsError::Empty));
    }
}
