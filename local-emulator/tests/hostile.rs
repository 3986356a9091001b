//! Attacks and faults a hostile client can bring, each reproduced against a running emulator:
//! decoder bombs, forged receipt handles, characters that would break XML replies, oversized,
//! slow and stalled requests, too many connections, cross-site browser requests, tampered,
//! stale and replayed signatures, and cross-account access.

use lockgate_test_support as common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_sqs::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sqs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Harness, error_of, header, raw_request};
use lockgate_emulator::{EmulatorConfig, Limits, RunningEmulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const JSON: (&str, &str) = ("Content-Type", "application/x-amz-json-1.0");

async fn start(configure: impl FnOnce(&mut EmulatorConfig)) -> RunningEmulator {
    let mut config = EmulatorConfig::ephemeral();
    configure(&mut config);
    RunningEmulator::start(config).await.unwrap()
}

async fn still_serves(emulator: &RunningEmulator) {
    let client = common::client(&emulator.endpoint(), "AKIDEXAMPLE");
    client
        .list_queues()
        .send()
        .await
        .expect("the emulator still serves");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deeply_nested_query_name_is_refused_not_fatal() {
    let h = Harness::memory().await;
    let name = format!("{}B", "A.".repeat(15_000));
    for (method, path, body) in [
        (
            "GET",
            format!("/?Action=ListQueues&{name}=1"),
            String::new(),
        ),
        (
            "POST",
            "/".to_string(),
            format!("Action=ListQueues&{name}=1"),
        ),
    ] {
        let (status, _, reply) = raw_request(
            h.emulator.addr,
            method,
            &path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
        .await;
        assert_eq!(status, 400, "{reply}");
        assert!(
            reply.contains("<Code>InvalidParameterValue</Code>"),
            "{reply}"
        );
    }
    // A JSON bomb is refused by the decoder's depth limit.
    let bomb = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (status, _, reply) = common::raw_post(
        h.emulator.addr,
        &[JSON, ("X-Amz-Target", "AmazonSQS.ListQueues")],
        bomb.as_bytes(),
    )
    .await;
    assert_eq!(status, 400, "{reply}");
    still_serves(&h.emulator).await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_handles_cannot_be_forged() {
    let h = Harness::durable().await;
    let url = h.create("forge").await;
    h.send(&url, "received").await;
    h.send(&url, "never received").await;
    let got = h.receive(&url, 1).await.remove(0);
    let handle = got.receipt_handle.unwrap();
    // The next message's sequence number, with the same MAC, and a handle made up whole.
    let mut bytes = STANDARD.decode(&handle).unwrap();
    bytes[16] = bytes[16].wrapping_add(1);
    let mut forged = vec![STANDARD.encode(&bytes)];
    bytes.truncate(25);
    bytes[0] = 1; // the old, unauthenticated layout
    forged.push(STANDARD.encode(&bytes));
    for forged in forged {
        let err = h
            .client
            .delete_message()
            .queue_url(&url)
            .receipt_handle(&forged)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_of(err).0, "ReceiptHandleIsInvalid");
    }
    assert_eq!(h.depth(&url).await, (1, 1, 0), "nothing was deleted");
    // Handles stay valid across a restart.
    let h = h.restart().await;
    h.client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(&handle)
        .send()
        .await
        .expect("a handle issued before the restart still works");
    assert_eq!(h.depth(&url).await, (1, 0, 0));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn characters_that_would_break_xml_are_refused() {
    let h = Harness::memory().await;
    let url = h.create("xml").await;
    for (key, value) in [("team", "a\u{1}b"), ("t\u{8}", "v")] {
        let err = h
            .client
            .tag_queue()
            .queue_url(&url)
            .tags(key, value)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            error_of(err).0,
            "InvalidParameterValue",
            "{key:?}: {value:?}"
        );
    }
    let err = h
        .client
        .send_message()
        .queue_url(&url)
        .message_body("m")
        .message_attributes(
            "a",
            MessageAttributeValue::builder()
                .data_type("String.\u{1}x")
                .string_value("v")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(err).0, "InvalidParameterValue");
    // What was accepted renders as well-formed XML.
    let path = url.split_once(&h.emulator.addr.to_string()).unwrap().1;
    let (status, _, body) = raw_request(
        h.emulator.addr,
        "GET",
        &format!("{path}?Action=ListQueueTags"),
        &[],
        b"",
    )
    .await;
    assert_eq!(status, 200);
    assert!(!body.chars().any(|c| c.is_control()), "{body:?}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_an_sqs_error_before_they_are_read() {
    let emulator = start(|_| {}).await;
    let mut stream = tokio::net::TcpStream::connect(emulator.addr).await.unwrap();
    // Headers only: the 100 MB body never comes, the answer must not wait for it.
    stream
        .write_all(
            format!(
                "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AmazonSQS.ListQueues\r\nContent-Length: 100000000\r\n\r\n",
                emulator.addr
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut reply = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut reply))
        .await
        .expect("answered without reading the body")
        .unwrap();
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(
        reply.contains("com.amazonaws.sqs#RequestEntityTooLarge"),
        "{reply}"
    );
    still_serves(&emulator).await;
    emulator.shutdown().await;
}

/// Reads until the server closes the connection (or answers), failing after a generous
/// deadline if it holds the connection open.
async fn until_closed(stream: &mut tokio::net::TcpStream) -> String {
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut got))
        .await
        .expect("the server closed the connection")
        .ok();
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_idle_and_stalled_connections_are_closed() {
    let emulator = start(|c| {
        c.limits.header_read_timeout = Duration::from_secs(1);
        c.limits.body_read_timeout = Duration::from_secs(1);
    })
    .await;
    // Slowloris: headers that never finish.
    let mut slow = tokio::net::TcpStream::connect(emulator.addr).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    until_closed(&mut slow).await;
    // Idle keep-alive after a complete request.
    let mut idle = tokio::net::TcpStream::connect(emulator.addr).await.unwrap();
    idle.write_all(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AmazonSQS.ListQueues\r\nContent-Length: 2\r\n\r\n{}",
    )
    .await
    .unwrap();
    let answered = until_closed(&mut idle).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    // A body that stalls half way.
    let mut stalled = tokio::net::TcpStream::connect(emulator.addr).await.unwrap();
    stalled
        .write_all(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AmazonSQS.ListQueues\r\nContent-Length: 100\r\n\r\n{\"Queue",
        )
        .await
        .unwrap();
    let answered = until_closed(&mut stalled).await;
    assert!(answered.starts_with("HTTP/1.1 408"), "{answered}");
    assert!(answered.contains("RequestTimeout"), "{answered}");
    still_serves(&emulator).await;
    emulator.shutdown().await;
}

/// Connections accepted by the kernel but not yet by the server on this loopback port: the
/// listening socket's accept queue, which Linux reports as its rx_queue in /proc/net/tcp.
fn accept_backlog(port: u16) -> Option<u32> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // local_address, rem_address, st (0A: listening), tx_queue:rx_queue.
        (fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A"))
            .then(|| u32::from_str_radix(fields.get(4)?.split(':').nth(1)?, 16).ok())?
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let emulator = start(|c| {
        c.limits.max_connections = 2;
        c.limits.header_read_timeout = Duration::from_secs(120);
    })
    .await;
    let port = emulator.addr.port();
    let mut hogs = Vec::new();
    for _ in 0..2 {
        let mut hog = tokio::net::TcpStream::connect(emulator.addr).await.unwrap();
        hog.write_all(b"POST / HTTP/1.1\r\n").await.unwrap();
        hogs.push(hog);
    }
    common::eventually("both slots to be taken", || {
        let taken = emulator.open_connections() == 2 && accept_backlog(port) == Some(0);
        async move { taken.then_some(()) }
    })
    .await;
    // A client beyond the cap sends a whole request: the kernel holds its connection in the
    // listen backlog, the server does not take it while both slots are in use.
    let mut waiting = tokio::net::TcpStream::connect(emulator.addr).await.unwrap();
    waiting
        .write_all(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AmazonSQS.ListQueues\r\nContent-Length: 2\r\n\r\n{}",
        )
        .await
        .unwrap();
    common::eventually("the extra client to wait in the listen backlog", || {
        let held = accept_backlog(port) == Some(1);
        async move { held.then_some(()) }
    })
    .await;
    assert_eq!(emulator.open_connections(), 2, "never more than the cap");
    let mut early = [0u8; 1];
    assert!(
        matches!(waiting.try_read(&mut early), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "not answered while held back"
    );
    // A slot frees: the waiting client is accepted and served.
    drop(hogs);
    let answered = until_closed_or_answered(&mut waiting).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    assert_eq!(accept_backlog(port), Some(0));
    emulator.shutdown().await;
}

/// Reads until a whole HTTP head has arrived, failing after a generous deadline.
async fn until_closed_or_answered(stream: &mut tokio::net::TcpStream) -> String {
    let mut got = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("served once a slot freed");
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_browser_requests_are_refused() {
    let emulator = start(|c| c.allowed_origins = vec!["http://localhost:3000".into()]).await;
    let addr = emulator.addr;
    let target = ("X-Amz-Target", "AmazonSQS.CreateQueue");
    let body = br#"{"QueueName":"from-a-page"}"#;
    // A page on another site (fetch or a form POST carries its Origin).
    let (status, _, reply) = common::raw_post(
        addr,
        &[JSON, target, ("Origin", "http://evil.example")],
        body,
    )
    .await;
    assert_eq!(status, 403, "{reply}");
    assert!(reply.contains("AccessDenied"), "{reply}");
    let (status, _, reply) = raw_request(
        addr,
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", "null"),
        ],
        b"Action=CreateQueue&QueueName=from-a-form",
    )
    .await;
    assert_eq!(status, 403, "{reply}");
    // An <img> or link: no Origin, but the browser says it is cross-site.
    let (status, _, _) = raw_request(
        addr,
        "GET",
        "/?Action=CreateQueue&QueueName=from-an-img",
        &[
            ("Sec-Fetch-Site", "cross-site"),
            ("Sec-Fetch-Dest", "image"),
        ],
        b"",
    )
    .await;
    assert_eq!(status, 403);
    // An old browser's image request (no Sec-Fetch headers).
    let (status, _, _) = raw_request(
        addr,
        "GET",
        "/?Action=CreateQueue&QueueName=from-an-old-img",
        &[("Accept", "image/avif,image/webp,*/*")],
        b"",
    )
    .await;
    assert_eq!(status, 403);
    let listed = common::client(&emulator.endpoint(), "AKIDEXAMPLE")
        .list_queues()
        .send()
        .await
        .unwrap();
    assert!(
        listed.queue_urls.unwrap_or_default().is_empty(),
        "nothing was created"
    );
    // The allowed origin is served, with CORS headers; so is the emulator's own origin.
    let (status, headers, _) = common::raw_post(
        addr,
        &[JSON, target, ("Origin", "http://localhost:3000")],
        body,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        "http://localhost:3000"
    );
    let own = format!("http://{addr}");
    let (status, _, _) = common::raw_post(
        addr,
        &[
            JSON,
            ("X-Amz-Target", "AmazonSQS.ListQueues"),
            ("Origin", &own),
        ],
        b"{}",
    )
    .await;
    assert_eq!(status, 200);
    emulator.shutdown().await;
}

/// A request as it went on the wire: headers and body.
type WireRequest = (Vec<(String, String)>, Vec<u8>);

/// Keeps a copy of each signed request as it goes on the wire.
#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Vec<WireRequest>>>);

impl Intercept for Capture {
    fn name(&self) -> &'static str {
        "Capture"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_sqs::error::BoxError> {
        let request = context.request();
        let headers = request
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let body = request.body().bytes().unwrap_or_default().to_vec();
        self.0.lock().unwrap().push((headers, body));
        Ok(())
    }
}

async fn signed_emulator() -> RunningEmulator {
    let table = HashMap::from([
        ("111122223333".to_string(), "owner-secret".to_string()),
        ("444455556666".to_string(), "other-secret".to_string()),
        ("777788889999".to_string(), "third-secret".to_string()),
    ]);
    start(|c| c.sqs.credentials = Some(Arc::new(table))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_cover_the_body_and_the_time() {
    let emulator = signed_emulator().await;
    let endpoint = emulator.endpoint();
    let owner = common::client_with_secret(&endpoint, "111122223333", "owner-secret");
    let url = owner
        .create_queue()
        .queue_name("signed")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    owner
        .send_message()
        .queue_url(&url)
        .message_body("keep")
        .send()
        .await
        .unwrap();
    let capture = Capture::default();
    owner
        .list_queues()
        .customize()
        .interceptor(capture.clone())
        .send()
        .await
        .unwrap();
    let (headers, body) = capture.0.lock().unwrap().pop().unwrap();
    let replay = |target: &'static str, body: Vec<u8>| {
        let headers = headers.clone();
        async move {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("content-length"))
                .map(|(k, v)| {
                    if k.eq_ignore_ascii_case("x-amz-target") {
                        (k.as_str(), target)
                    } else {
                        (k.as_str(), v.as_str())
                    }
                })
                .collect();
            raw_request(emulator.addr, "POST", "/", &headers, &body).await
        }
    };
    // Replayed as it was (within the 15 minutes AWS allows too): accepted.
    let (status, _, reply) = replay("AmazonSQS.ListQueues", body.clone()).await;
    assert_eq!(status, 200, "{reply}");
    // The captured ListQueues turned into a PurgeQueue: same headers (x-amz-content-sha256
    // still names the old body), another body.
    let purge = serde_json::json!({"QueueUrl": url})
        .to_string()
        .into_bytes();
    let (status, _, reply) = replay("AmazonSQS.PurgeQueue", purge).await;
    assert_eq!(status, 403, "{reply}");
    assert!(reply.contains("SignatureDoesNotMatch"), "{reply}");
    assert_eq!(
        owner
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&QueueAttributeName::ApproximateNumberOfMessages],
        "1",
        "nothing was purged"
    );
    // Signed a year ago, or an hour ahead: refused with AWS's wording.
    for (offset, wording) in [
        (-365 * 24 * 3600, "Signature expired: "),
        (3600, "Signature not yet current: "),
    ] {
        let at = if offset < 0 {
            SystemTime::now() - Duration::from_secs((-offset) as u64)
        } else {
            SystemTime::now() + Duration::from_secs(offset as u64)
        };
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "111122223333",
                "owner-secret",
                None,
                None,
                "test",
            ))
            .time_source(aws_smithy_async::time::StaticTimeSource::new(at))
            .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
            .build();
        let err = aws_sdk_sqs::Client::from_conf(config)
            .list_queues()
            .send()
            .await
            .unwrap_err();
        let (code, message, status) = error_of(err);
        assert_eq!((code.as_str(), status), ("SignatureDoesNotMatch", 403));
        assert!(message.starts_with(wording), "{message}");
    }
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_account_acts_only_as_the_queue_policy_allows() {
    let emulator = signed_emulator().await;
    let endpoint = emulator.endpoint();
    let owner = common::client_with_secret(&endpoint, "111122223333", "owner-secret");
    let other = common::client_with_secret(&endpoint, "444455556666", "other-secret");
    let url = owner
        .create_queue()
        .queue_name("owned")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    assert!(url.contains("/111122223333/owned"));
    let denied = |err: (String, String, u16)| {
        assert_eq!((err.0.as_str(), err.2), ("AccessDenied", 403), "{}", err.1);
        assert!(err.1.contains("is denied"), "{}", err.1);
    };
    denied(error_of(
        other
            .send_message()
            .queue_url(&url)
            .message_body("intruder")
            .send()
            .await
            .unwrap_err(),
    ));
    denied(error_of(
        other
            .delete_queue()
            .queue_url(&url)
            .send()
            .await
            .unwrap_err(),
    ));
    denied(error_of(
        other
            .get_queue_url()
            .queue_name("owned")
            .queue_owner_aws_account_id("111122223333")
            .send()
            .await
            .unwrap_err(),
    ));
    owner
        .add_permission()
        .queue_url(&url)
        .label("partner")
        .aws_account_ids("444455556666")
        .actions("SendMessage")
        .send()
        .await
        .unwrap();
    other
        .send_message()
        .queue_url(&url)
        .message_body("allowed")
        .send()
        .await
        .expect("the policy lets the partner send");
    denied(error_of(
        other
            .receive_message()
            .queue_url(&url)
            .send()
            .await
            .unwrap_err(),
    ));
    denied(error_of(
        other
            .purge_queue()
            .queue_url(&url)
            .send()
            .await
            .unwrap_err(),
    ));
    let got = owner
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(got[0].body.as_deref(), Some("allowed"));
    emulator.shutdown().await;
}

/// The queue's policy names who may send: an Allow lets a partner account send (its
/// messages carry it as SenderId), a Deny keeps another out, and a Deny binds the queue's own
/// account too; a statement with a Condition (not evaluated) does not apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_policy_decides_who_may_send_and_its_deny_binds_the_owner() {
    let emulator = signed_emulator().await;
    let endpoint = emulator.endpoint();
    let owner = common::client_with_secret(&endpoint, "111122223333", "owner-secret");
    let partner = common::client_with_secret(&endpoint, "444455556666", "other-secret");
    let stranger = common::client_with_secret(&endpoint, "777788889999", "third-secret");
    let url = owner
        .create_queue()
        .queue_name("guarded")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = "arn:aws:sqs:us-east-1:111122223333:guarded";
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::444455556666:root", "777788889999"]},
             "Action": "sqs:SendMessage", "Resource": arn},
            {"Effect": "Deny", "Principal": {"AWS": "777788889999"}, "Action": "sqs:SendMessage", "Resource": arn},
            {"Effect": "Deny", "Principal": "*", "Action": "sqs:PurgeQueue", "Resource": arn},
            {"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": arn,
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
        ]
    });
    owner
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .unwrap();
    partner
        .send_message()
        .queue_url(&url)
        .message_body("from the partner")
        .send()
        .await
        .expect("allowed");
    let (code, _, status) = error_of(
        stranger
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (code.as_str(), status),
        ("AccessDenied", 403),
        "the Deny wins"
    );
    let (code, _, _) = error_of(
        owner
            .purge_queue()
            .queue_url(&url)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "AccessDenied", "a Deny binds the owner too");
    owner
        .send_message()
        .queue_url(&url)
        .message_body("from the owner")
        .send()
        .await
        .expect("the owner sends: no statement denies it");
    let got = owner
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::SenderId)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    let mut senders: Vec<(String, String)> = got
        .iter()
        .map(|m| {
            (
                m.body.clone().unwrap(),
                m.attributes.as_ref().unwrap()[&MessageSystemAttributeName::SenderId].clone(),
            )
        })
        .collect();
    senders.sort();
    assert_eq!(
        senders,
        [
            ("from the owner".to_string(), "111122223333".to_string()),
            ("from the partner".to_string(), "444455556666".to_string())
        ]
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_default_to_bounded_values() {
    let limits = Limits::default();
    assert!(limits.max_connections >= 64);
    assert!(
        limits.max_body_bytes >= 3 * 1024 * 1024,
        "a 1 MiB batch form-encoded fits"
    );
    assert!(limits.header_read_timeout <= Duration::from_secs(120));
    assert!(limits.body_read_timeout <= Duration::from_secs(120));
}
