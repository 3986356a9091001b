//! A lean HTTP/1.1 keep-alive client for AWS JSON 1.0 calls: prepared bytes out, the body
//! back. Lean on purpose, so the benchmark measures the server rather than an SDK.

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Connection {
    stream: TcpStream,
    host: String,
    buf: Vec<u8>,
    /// The server said `Connection: close` (moto's development server does on every reply).
    closed: bool,
}

impl Connection {
    pub async fn open(host: &str) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(host)
            .await
            .with_context(|| format!("connecting to {host}"))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            host: host.to_string(),
            buf: Vec::with_capacity(64 * 1024),
            closed: false,
        })
    }

    /// The socket, for workloads that write without waiting for the reply.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// The full request bytes for one call, built once and sent many times.
    pub fn request(&self, action: &str, body: &str) -> Vec<u8> {
        format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.0\r\n\
             X-Amz-Target: AmazonSQS.{action}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        )
        .into_bytes()
    }

    /// Sends a prepared request and returns (status, body).
    pub async fn send(&mut self, request: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        if self.closed {
            self.stream = TcpStream::connect(&self.host).await?;
            self.stream.set_nodelay(true)?;
            self.closed = false;
        }
        self.stream.write_all(request).await?;
        self.buf.clear();
        let header_end = loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                break pos + 4;
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("connection closed");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = std::str::from_utf8(&self.buf[..header_end])?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("status line")?;
        let length = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())
                    .flatten()
            })
            .context("the benchmark client needs Content-Length")?;
        self.closed = head.lines().any(|l| {
            l.split_once(':').is_some_and(|(k, v)| {
                k.eq_ignore_ascii_case("connection") && v.trim().eq_ignore_ascii_case("close")
            })
        });
        while self.buf.len() < header_end + length {
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("connection closed mid-body");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok((status, self.buf[header_end..header_end + length].to_vec()))
    }

    /// Sends a prepared SendMessageBatch; returns how many of its entries the server
    /// acknowledged (each `Successful` entry carries a MessageId, a `Failed` one none). A reply
    /// other than 200 is an error: a benchmark counts only messages the server took.
    pub async fn send_batch(&mut self, request: &[u8]) -> anyhow::Result<u64> {
        let (status, body) = self.send(request).await?;
        if status != 200 {
            bail!(
                "SendMessageBatch failed with {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(body
            .windows(MESSAGE_ID.len())
            .filter(|w| *w == MESSAGE_ID)
            .count() as u64)
    }

    pub async fn call(&mut self, action: &str, body: &str) -> anyhow::Result<serde_json::Value> {
        let request = self.request(action, body);
        let (status, body) = self.send(&request).await?;
        if status != 200 {
            bail!(
                "{action} failed with {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(serde_json::from_slice(&body)?)
    }
}

const MESSAGE_ID: &[u8] = b"\"MessageId\"";

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Pulls every `"ReceiptHandle":"…"` out of a ReceiveMessage reply without a full parse.
pub fn receipt_handles(body: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(body).unwrap_or_default();
    text.split("\"ReceiptHandle\":")
        .skip(1)
        .filter_map(|rest| {
            let rest = rest.trim_start().strip_prefix('"')?;
            Some(rest[..rest.find('"')?].replace("\\/", "/"))
        })
        .collect()
}
