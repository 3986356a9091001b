//! Large payloads, the SQS Extended Client way: a payload too large for a message goes to
//! S3, and the message carries a pointer to it (`["software.amazon.payloadoffloading.
//! PayloadS3Pointer", {"s3BucketName", "s3Key"}]`) and its size in the `ExtendedPayloadSize`
//! attribute. The Extended Client libraries and the function SDK (`lockgate-sdk`, feature
//! `large-payloads`) read such messages; `lockgate send --file` writes them; for WASM
//! guests, which have no network, the host reads them ([`Fetcher`]) before the guest runs.

use std::path::Path;

use anyhow::Context as _;

pub use lockgate_sdk::payloads::{POINTER_CLASS, SIZE_ATTRIBUTE};
/// The bucket `send --file` uses unless told otherwise.
pub const DEFAULT_BUCKET: &str = "lockgate-payloads";
/// The largest object one PUT may carry (S3's limit).
const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// The message body that points at `bucket`/`key`.
pub fn pointer_body(bucket: &str, key: &str) -> String {
    serde_json::json!([POINTER_CLASS, {"s3BucketName": bucket, "s3Key": key}]).to_string()
}

pub use lockgate_sdk::payloads::{LEGACY_SIZE_ATTRIBUTE, Payloads, Pointer};

/// Reads the payloads of pointer messages for a function that cannot (a WASM guest has no
/// network) — with the function SDK's own reader, so guests and Rust functions read pointers
/// alike — and deletes them after success when the function's environment sets
/// `LOCKGATE_DELETE_PAYLOADS=true`. The S3 client is made on first use.
pub struct Fetcher {
    /// `None`: AWS's S3 through the SDK's default configuration.
    endpoint: Option<String>,
    region: String,
    delete_after_success: bool,
    payloads: tokio::sync::OnceCell<Payloads>,
}

impl Fetcher {
    pub fn new(endpoint: Option<String>, region: &str, delete_after_success: bool) -> Self {
        Self {
            endpoint,
            region: region.to_string(),
            delete_after_success,
            payloads: tokio::sync::OnceCell::new(),
        }
    }

    pub async fn payloads(&self) -> &Payloads {
        self.payloads
            .get_or_init(|| async {
                let s3 = match &self.endpoint {
                    Some(endpoint) => s3_client(endpoint, &self.region),
                    None => {
                        let shared =
                            aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                        aws_sdk_s3::Client::new(&shared)
                    }
                };
                Payloads::new(s3, self.delete_after_success)
            })
            .await
    }
}

/// An S3 client for an S3-compatible endpoint (the emulator's port serves S3): placeholder
/// credentials unless the environment has some, path-style addressing (a local endpoint
/// cannot take buckets as host names).
pub fn s3_client(endpoint: &str, region: &str) -> aws_sdk_s3::Client {
    let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "lockgate".into());
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "lockgate".into());
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            key, secret, None, None, "lockgate",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Uploads `file` to `bucket` (made if missing) under a fresh key, streamed from disk;
/// returns the key and the payload's size.
pub async fn offload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    file: &Path,
) -> anyhow::Result<(String, u64)> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    if size > MAX_SINGLE_PUT {
        anyhow::bail!(
            "{} is {size} bytes; a payload may be at most 5 GiB",
            file.display()
        );
    }
    if let Err(e) = s3.create_bucket().bucket(bucket).send().await {
        let owned = e
            .as_service_error()
            .is_some_and(|s| s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists());
        if !owned {
            anyhow::bail!(
                "cannot create the payload bucket {bucket}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            );
        }
    }
    let key = uuid_v4();
    let body = aws_sdk_s3::primitives::ByteStream::from_path(file)
        .await
        .with_context(|| format!("reading {}", file.display()))?;
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot upload {} to s3://{bucket}/{key}: {}",
                file.display(),
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        })?;
    Ok((key, size))
}

/// A random (version 4) UUID, as the Extended Clients name payload objects.
fn uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    getrandom(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn getrandom(buf: &mut [u8]) {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .expect("the OS random source is readable");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pointer_is_what_the_extended_clients_write() {
        assert_eq!(
            pointer_body("b", "k"),
            r#"["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":"k"}]"#
        );
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
