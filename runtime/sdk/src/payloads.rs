//! Large payloads, the SQS Extended Client way (feature `large-payloads`): a message whose
//! body is a pointer — `["software.amazon.payloadoffloading.PayloadS3Pointer",
//! {"s3BucketName": …, "s3Key": …}]` with an `ExtendedPayloadSize` attribute — has its payload
//! fetched from S3 before the handler sees it, so `message.body()` is the payload. What the
//! Extended Client libraries (Java, Python) and `lockgate send --file` send.
//!
//! S3 is reached the way every AWS SDK reaches it: the default credential chain, and
//! `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` when set (which `lockgate up` sets to its
//! emulator, whose port also serves S3). With `LOCKGATE_DELETE_PAYLOADS=true` a payload is
//! deleted once its message was handled successfully (the message is then deleted by the
//! event source mapping), as the Extended Client's `delete_payload_from_s3` does on delete.

use crate::{Error, Message};

pub const POINTER_CLASS: &str = "software.amazon.payloadoffloading.PayloadS3Pointer";
/// The pointer class of older Extended Client versions (with [`LEGACY_SIZE_ATTRIBUTE`]).
pub const LEGACY_POINTER_CLASS: &str = "com.amazon.sqs.javamessaging.MessageS3Pointer";
pub const SIZE_ATTRIBUTE: &str = "ExtendedPayloadSize";
/// What older Extended Client versions call it.
pub const LEGACY_SIZE_ATTRIBUTE: &str = "SQSLargePayloadSize";

/// Where a message's payload is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    pub bucket: String,
    pub key: String,
}

impl Pointer {
    /// The pointer a body holds, if it is one.
    pub fn parse(body: &str) -> Option<Self> {
        let (class, location): (String, serde_json::Value) = serde_json::from_str(body).ok()?;
        if class != POINTER_CLASS && class != LEGACY_POINTER_CLASS {
            return None;
        }
        Some(Self {
            bucket: location.get("s3BucketName")?.as_str()?.to_string(),
            key: location.get("s3Key")?.as_str()?.to_string(),
        })
    }
}

/// Fetches (and, if asked, deletes) payloads.
#[derive(Clone)]
pub struct Payloads {
    s3: aws_sdk_s3::Client,
    delete_after_success: bool,
}

impl Payloads {
    /// An S3 client from the environment (see the module's documentation).
    pub async fn from_env() -> Self {
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        // A local endpoint (`http://127.0.0.1:9324`) cannot take buckets as host names.
        let custom = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL").is_some();
        let config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(custom)
            .build();
        Self::new(
            aws_sdk_s3::Client::from_conf(config),
            std::env::var("LOCKGATE_DELETE_PAYLOADS").is_ok_and(|v| v.eq_ignore_ascii_case("true")),
        )
    }

    /// Payloads read with `s3`; deleted after success when `delete_after_success`.
    pub fn new(s3: aws_sdk_s3::Client, delete_after_success: bool) -> Self {
        Self {
            s3,
            delete_after_success,
        }
    }

    /// Replaces a pointer message's body with its payload (a message without the size
    /// attribute is left alone, whatever its body says).
    pub async fn resolve(&self, message: &mut Message) -> Result<(), Error> {
        let marked = message.attribute(SIZE_ATTRIBUTE).is_some()
            || message.attribute(LEGACY_SIZE_ATTRIBUTE).is_some();
        let fetched = self
            .fetch(message.body(), marked)
            .await
            .map_err(|e| format!("message {}: {e}", message.id()))?;
        if let Some((payload, pointer)) = fetched {
            message.replace_body(payload, pointer);
        }
        Ok(())
    }

    /// The payload a message with this body points at, and where it was; `Ok(None)` when the
    /// message is not `marked` with the size attribute (whatever its body says).
    pub async fn fetch(
        &self,
        body: &str,
        marked: bool,
    ) -> Result<Option<(String, Pointer)>, Error> {
        if !marked {
            return Ok(None);
        }
        let pointer = Pointer::parse(body).ok_or_else(|| {
            format!("it has {SIZE_ATTRIBUTE} but its body is not a payload pointer")
        })?;
        let object = self
            .s3
            .get_object()
            .bucket(&pointer.bucket)
            .key(&pointer.key)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot fetch its payload s3://{}/{}: {}",
                    pointer.bucket,
                    pointer.key,
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| format!("reading its payload: {e}"))?
            .into_bytes();
        let payload =
            String::from_utf8(bytes.to_vec()).map_err(|_| "its payload is not UTF-8 text")?;
        Ok(Some((payload, pointer)))
    }

    /// After message `id` was handled: deletes its payload (at `pointer`) when asked to.
    pub async fn release(&self, id: &str, pointer: Option<&Pointer>) {
        let (true, Some(pointer)) = (self.delete_after_success, pointer) else {
            return;
        };
        if let Err(e) = self
            .s3
            .delete_object()
            .bucket(&pointer.bucket)
            .key(&pointer.key)
            .send()
            .await
        {
            tracing::warn!(
                message = id,
                error = %aws_sdk_s3::error::DisplayErrorContext(&e),
                "could not delete the payload"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_as_the_extended_clients_write_them() {
        let body = r#"["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":"k-1"}]"#;
        assert_eq!(
            Pointer::parse(body),
            Some(Pointer {
                bucket: "b".into(),
                key: "k-1".into()
            })
        );
        let legacy =
            r#"["com.amazon.sqs.javamessaging.MessageS3Pointer",{"s3BucketName":"b","s3Key":"k"}]"#;
        assert_eq!(Pointer::parse(legacy).unwrap().key, "k");
        assert_eq!(Pointer::parse("hello"), None);
        assert_eq!(
            Pointer::parse(r#"["x.PayloadS3Pointer",{"s3Key":"k"}]"#),
            None
        );
    }
}
