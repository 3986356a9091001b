//! Bytes from the operating system's random source: message and upload ids, the S3
//! directory's and pieces' names, the receipt-handle secret. Read directly rather than through
//! AWS-LC (whose generator seeds itself from the same source, at about 20 ms of CPU on first
//! use), so the emulator starts without it and pays that only when it first seals something.

use std::io::Read;

/// Fills `bytes` from `/dev/urandom`.
pub fn fill(bytes: &mut [u8]) {
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(bytes))
        .expect("the OS random source is readable");
}

/// 32 random bytes.
pub fn bytes32() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    fill(&mut bytes);
    bytes
}
