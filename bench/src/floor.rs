//! The floor: an HTTP/1.1 server that reads each request in full and answers a fixed 200
//! reply (a batch of ten sends, acknowledged). What it reaches is the most any server could on this machine with this client.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// SQS's reply to a batch of ten sends, every entry acknowledged (the client counts them), the
/// same for every request.
fn reply() -> Vec<u8> {
    let entries: Vec<_> = (0..10)
        .map(|i| {
            serde_json::json!({"Id": format!("m{i}"), "MessageId": "00000000-0000-4000-8000-000000000000",
                "MD5OfMessageBody": "00000000000000000000000000000000"})
        })
        .collect();
    let body = serde_json::json!({ "Successful": entries }).to_string();
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub async fn run() -> anyhow::Result<()> {
    let reply: &'static [u8] = reply().leak();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    eprintln!("floor ready on http://{}", listener.local_addr()?);
    loop {
        let (mut stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(64 * 1024);
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                // Parse one request: headers, then Content-Length bytes of body.
                let (end, length) = loop {
                    if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (pos + 4, length);
                    }
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                while buf.len() < end + length {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _: serde_json::Value =
                    serde_json::from_slice(&buf[end..end + length]).unwrap_or_default();
                buf.drain(..end + length);
                if stream.write_all(reply).await.is_err() {
                    return;
                }
            }
        });
    }
}
