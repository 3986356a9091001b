//! GetObject and HeadObject: conditions, a byte range, the bytes streamed from disk.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use hyper::body::{Frame, SizeHint};

use super::upload::encryption_headers;
use super::{Request, header_value, status};
use crate::s3::sealed;
use crate::s3::wire::{self, S3Error};

/// GetObject and HeadObject: conditions, a byte range, the bytes streamed from disk.
pub(super) fn get_object(req: &Request<'_>, bucket: &str, key: &str) -> Result<Response, S3Error> {
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
