//! An S3-compatible object endpoint on the emulator's port: what the SQS Extended Client
//! libraries and the AWS CLI need to carry payloads larger than a message. Buckets
//! (create, head, delete, list), objects (PUT, GET with ranges, HEAD, DELETE,
//! ListObjectsV2 and ListObjects) and multipart uploads, path-style or as
//! `<bucket>.localhost`, SigV4-verified under `--credentials`. Objects are streamed to disk
//! (never held whole in memory) and encrypted at rest, as S3 does by default (SSE-S3).
//!
//! - [`routing`]: which requests are S3's, and the bucket and key they address.
//! - [`objects`]: buckets and objects on disk, and the index of them.
//! - [`sealed`]: an object's bytes, encrypted in segments that can be read by range.
//! - [`chunked`]: the `aws-chunked` content encoding SDKs upload with.
//! - [`wire`]: S3's XML replies and errors.
//! - [`handlers`]: the request's way to its operation; the operations by what they act on.

mod chunked;
mod handlers;
pub mod objects;
mod routing;
mod sealed;
mod wire;

pub use handlers::{Endpoint, handle};
pub use objects::Objects;
pub use routing::claims;
pub use wire::S3Error;

/// S3's bucket naming rules (general purpose buckets).
pub fn check_bucket_name(name: &str) -> Result<(), S3Error> {
    let bytes = name.as_bytes();
    let valid = (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err();
    if valid {
        Ok(())
    } else {
        Err(S3Error::new(
            400,
            "InvalidBucketName",
            "The specified bucket is not valid.",
        )
        .with("BucketName", name))
    }
}
