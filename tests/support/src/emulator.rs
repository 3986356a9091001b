//! An emulator on 127.0.0.1:0 (in memory, or durable in a temporary directory, optionally on
//! a clock the test moves) with a real aws-sdk-sqs client for it, and raw HTTP for pinning
//! exact wire shapes.

use std::sync::Arc;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use lockgate_emulator::{EmulatorConfig, ManualClock, RunningEmulator, SharedClock, SystemClock};

pub struct Harness {
    pub emulator: RunningEmulator,
    pub client: Client,
    pub dir: Option<tempfile::TempDir>,
    /// The clock the emulator measures SQS's rules in.
    pub clock: SharedClock,
    /// `--cache-size` (what a restart keeps).
    pub cache_bytes: usize,
}

impl Harness {
    pub async fn memory() -> Self {
        Self::start(None, SystemClock::shared()).await
    }

    pub async fn durable() -> Self {
        Self::durable_in(tempfile::tempdir().expect("temp dir")).await
    }

    /// A durable emulator on a data directory the test prepared.
    pub async fn durable_in(dir: tempfile::TempDir) -> Self {
        Self::start(Some(dir), SystemClock::shared()).await
    }

    /// An emulator on `clock`, which only the test moves; durable in a temporary directory when
    /// `durable`.
    pub async fn on_clock(clock: Arc<ManualClock>, durable: bool) -> Self {
        let dir = durable.then(|| tempfile::tempdir().expect("temp dir"));
        Self::start(dir, clock).await
    }

    /// A durable emulator that keeps no contents in memory (`--cache-size 0`): every
    /// delivery reads its message back from the store.
    pub async fn durable_uncached() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::open(Some(dir), SystemClock::shared(), 0).await
    }

    /// An emulator on `dir` (durable) or in memory (None), measuring time on `clock`.
    pub async fn start(dir: Option<tempfile::TempDir>, clock: SharedClock) -> Self {
        let cache_bytes = lockgate_emulator::Config::default().cache_bytes;
        Self::open(dir, clock, cache_bytes).await
    }

    async fn open(dir: Option<tempfile::TempDir>, clock: SharedClock, cache_bytes: usize) -> Self {
        let mut config = EmulatorConfig::ephemeral();
        config.data_dir = dir.as_ref().map(|d| d.path().to_path_buf());
        config.sqs.clock = clock.clone();
        config.sqs.cache_bytes = cache_bytes;
        let emulator = RunningEmulator::start(config)
            .await
            .expect("emulator starts");
        let client = client(&emulator.endpoint(), "AKIDEXAMPLE");
        Self {
            emulator,
            client,
            dir,
            clock,
            cache_bytes,
        }
    }

    /// Stops the emulator and starts a new one on the same data directory, clock and cache.
    pub async fn restart(self) -> Self {
        let dir = self.dir.expect("restart needs a durable harness");
        self.emulator.shutdown().await;
        Self::open(Some(dir), self.clock, self.cache_bytes).await
    }

    pub async fn create(&self, name: &str) -> String {
        self.client
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue url")
    }

    pub async fn create_with(&self, name: &str, attrs: &[(&str, &str)]) -> String {
        let mut req = self.client.create_queue().queue_name(name);
        for (k, v) in attrs {
            req = req.attributes((*k).into(), (*v).to_string());
        }
        req.send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue url")
    }

    pub async fn attr(&self, url: &str, name: &str) -> Option<String> {
        self.client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(name.into())
            .send()
            .await
            .expect("get attributes")
            .attributes
            .and_then(|a| a.get(&name.into()).cloned())
    }

    pub async fn depth(&self, url: &str) -> (u64, u64, u64) {
        let attrs = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names("All".into())
            .send()
            .await
            .expect("get attributes")
            .attributes
            .unwrap_or_default();
        let n = |k: &str| {
            attrs
                .get(&k.into())
                .map(|v| v.parse().unwrap())
                .unwrap_or(0)
        };
        (
            n("ApproximateNumberOfMessages"),
            n("ApproximateNumberOfMessagesNotVisible"),
            n("ApproximateNumberOfMessagesDelayed"),
        )
    }

    pub async fn send(&self, url: &str, body: &str) -> String {
        self.client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .expect("send")
            .message_id
            .expect("message id")
    }

    /// Sends to a FIFO queue; returns (MessageId, SequenceNumber).
    pub async fn send_fifo(
        &self,
        url: &str,
        group: &str,
        dedup: &str,
        body: &str,
    ) -> (String, String) {
        let out = self
            .client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .message_group_id(group)
            .message_deduplication_id(dedup)
            .send()
            .await
            .expect("FIFO send");
        (out.message_id.unwrap(), out.sequence_number.unwrap())
    }

    /// Receives with a short visibility timeout override left to the caller.
    pub async fn receive(&self, url: &str, max: i32) -> Vec<aws_sdk_sqs::types::Message> {
        self.receive_for(url, max, None).await
    }

    /// A receive (every attribute) with this visibility timeout, or the queue's.
    pub async fn receive_for(
        &self,
        url: &str,
        max: i32,
        visibility_s: Option<i32>,
    ) -> Vec<aws_sdk_sqs::types::Message> {
        self.client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max)
            .set_visibility_timeout(visibility_s)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default()
    }

    /// Deletes a received message with its receipt handle.
    pub async fn delete(&self, url: &str, message: &aws_sdk_sqs::types::Message) {
        self.client
            .delete_message()
            .queue_url(url)
            .receipt_handle(message.receipt_handle().expect("a receipt handle"))
            .send()
            .await
            .expect("delete");
    }

    pub async fn delete_queue(&self, url: &str) {
        self.client
            .delete_queue()
            .queue_url(url)
            .send()
            .await
            .expect("delete queue");
    }

    /// Waits until `parked` receives are long-polling on queue `name` (default region and
    /// account).
    pub async fn until_parked(&self, name: &str, parked: usize) {
        let queue = self
            .emulator
            .sqs
            .queue("us-east-1", "000000000000", name)
            .expect("the queue exists");
        crate::eventually("the receive to be parked", || {
            let now = queue.waiting.load(std::sync::atomic::Ordering::Relaxed);
            async move { (now == parked).then_some(()) }
        })
        .await;
    }

    pub async fn shutdown(self) {
        self.emulator.shutdown().await;
    }
}

pub fn client(endpoint: &str, access_key: &str) -> Client {
    client_with_secret(endpoint, access_key, "secret")
}

pub fn client_with_secret(endpoint: &str, access_key: &str, secret: &str) -> Client {
    client_for(endpoint, access_key, secret, "us-east-1")
}

/// A client that signs for another region.
pub fn client_in(endpoint: &str, access_key: &str, region: &str) -> Client {
    client_for(endpoint, access_key, "secret", region)
}

/// A client with these credentials, signing for `region`.
pub fn client_for(endpoint: &str, access_key: &str, secret: &str, region: &str) -> Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(access_key, secret, None, None, "test"))
        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// The error code and HTTP status of a failed call.
pub fn error_of<E: ProvideErrorMetadata + std::fmt::Debug>(
    err: SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
) -> (String, String, u16) {
    let status = match &err {
        SdkError::ServiceError(e) => e.raw().status().as_u16(),
        other => panic!("expected a service error, got {other:?}"),
    };
    (
        err.code().unwrap_or_default().to_string(),
        err.message().unwrap_or_default().to_string(),
        status,
    )
}

/// Runs one scenario against both stores, the durable one twice: with its cache of contents
/// (what was just sent is delivered from memory) and without (every delivery reads the store).
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Harness::memory().await).await })*
        }
        mod durable {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Harness::durable().await).await })*
        }
        mod durable_uncached {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Harness::durable_uncached().await).await })*
        }
    };
}

/// One raw HTTP/1.1 POST to `/`, for pinning exact wire shapes. Returns (status, headers,
/// body).
pub async fn raw_post(
    addr: std::net::SocketAddr,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, String) {
    raw_request(addr, "POST", "/", headers, body).await
}

/// The value of a response header (names lower-case), or "".
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// One raw HTTP/1.1 request (a `Host` among `headers` replaces the address). Returns
/// (status, headers, body).
pub async fn raw_request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The Host is the address unless the test names another.
    let host = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .map_or_else(|| addr.to_string(), |(_, v)| (*v).to_string());
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
    {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    (status, headers, body.to_string())
}
