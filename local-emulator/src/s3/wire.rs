//! S3's wire shapes: XML replies, the error document, dates, and reading the small XML
//! bodies clients send (a multipart upload's part list, a bucket's location).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

/// An S3 error as S3 sends it: a status, a code, a message, and named details
/// (`<BucketName>`, `<Key>`, …).
#[derive(Debug, Clone)]
pub struct S3Error {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    details: Vec<(&'static str, String)>,
}

impl S3Error {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.details.push((name, value.into()));
        self
    }

    pub fn internal(why: impl Into<String>) -> Self {
        let why = why.into();
        tracing::error!(error = %why, "S3 request failed");
        Self::new(
            500,
            "InternalError",
            format!("We encountered an internal error: {why}"),
        )
    }

    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(404, "NoSuchBucket", "The specified bucket does not exist")
            .with("BucketName", bucket)
    }

    pub fn no_such_key(key: &str) -> Self {
        Self::new(404, "NoSuchKey", "The specified key does not exist.").with("Key", key)
    }

    pub fn no_such_upload() -> Self {
        Self::new(
            404,
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        )
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidArgument", message)
    }

    pub fn not_implemented(what: &str) -> Self {
        Self::new(
            501,
            "NotImplemented",
            format!(
                "A header or operation you provided implies functionality that is not implemented: {what}"
            ),
        )
    }

    /// The error document (no body for a HEAD, as S3 answers).
    pub fn response(&self, request_id: &str, head: bool) -> Response {
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>",
            self.code,
            escape(&self.message)
        );
        for (name, value) in &self.details {
            xml.push_str(&format!("<{name}>{}</{name}>", escape(value)));
        }
        xml.push_str(&format!(
            "<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
        ));
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = if head {
            Response::new(Body::empty())
        } else {
            xml_response(xml)
        };
        *response.status_mut() = status;
        response
    }
}

pub fn xml_response(xml: String) -> Response {
    let mut response = Response::new(Body::from(xml));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
}

/// Text for XML, escaped as the Query protocol's replies are.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    crate::protocol::query::escape_into(&mut out, text);
    out
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The text of every `<tag>…</tag>` in `xml`, in order (no nesting of the same tag).
pub fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        found.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    found
}

/// `(part number, ETag)` of a CompleteMultipartUpload body.
pub fn completed_parts(xml: &str) -> Result<Vec<(u32, String)>, S3Error> {
    let malformed = || {
        S3Error::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    };
    let mut parts = Vec::new();
    for part in elements(xml, "Part") {
        let number = elements(part, "PartNumber")
            .first()
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(malformed)?;
        let etag = elements(part, "ETag")
            .first()
            .map(|e| unescape(e.trim()))
            .ok_or_else(malformed)?;
        parts.push((number, etag.trim_matches('"').to_string()));
    }
    if parts.is_empty() {
        return Err(malformed());
    }
    Ok(parts)
}

/// Unix seconds as S3's `LastModified` in XML (`2026-11-30T07:32:12.000Z`).
pub fn iso_time(unix_s: u64) -> String {
    let (y, m, d, hh, mm, ss) = civil(unix_s);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.000Z")
}

/// Unix seconds as an HTTP date (`Mon, 30 Nov 2026 07:32:12 GMT`).
pub fn http_time(unix_s: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d, hh, mm, ss) = civil(unix_s);
    let weekday = DAYS[(unix_s / 86_400 % 7) as usize];
    format!(
        "{weekday}, {d:02} {} {y:04} {hh:02}:{mm:02}:{ss:02} GMT",
        MONTHS[(m - 1) as usize]
    )
}

fn civil(unix_s: u64) -> (i64, i64, i64, u64, u64, u64) {
    let (y, m, d) = crate::clock::civil_date((unix_s / 86_400) as i64);
    let secs = unix_s % 86_400;
    (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_escapes() {
        assert_eq!(http_time(1_796_023_932), "Mon, 30 Nov 2026 07:32:12 GMT");
        assert_eq!(iso_time(1_796_023_932), "2026-11-30T07:32:12.000Z");
        assert_eq!(escape("a<&>\"'\u{1}"), "a&lt;&amp;&gt;&quot;&apos;&#x1;");
    }

    #[test]
    fn a_part_list_is_read_and_a_malformed_one_refused() {
        let xml = r#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>&quot;aa&quot;</ETag><PartNumber>1</PartNumber></Part><Part><PartNumber>2</PartNumber><ETag>"bb"</ETag></Part></CompleteMultipartUpload>"#;
        assert_eq!(
            completed_parts(xml).unwrap(),
            [(1, "aa".to_string()), (2, "bb".to_string())]
        );
        assert_eq!(completed_parts("<x/>").unwrap_err().code, "MalformedXML");
        assert_eq!(
            completed_parts("<Part><PartNumber>x</PartNumber></Part>")
                .unwrap_err()
                .code,
            "MalformedXML"
        );
    }
}
