//! SigV4 parsing and verification of hostile headers and query strings: never a panic, and
//! never accepted without the secret.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use lockgate_emulator::auth::{self, CredentialScope, SignedRequest};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let authorization = parts.next().unwrap_or_default().to_string();
    let amz_date = parts.next().unwrap_or_default().to_string();
    let query = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let headers = vec![
        ("authorization".to_string(), authorization.clone()),
        ("x-amz-date".to_string(), amz_date),
        ("host".to_string(), "localhost".to_string()),
    ];
    let credentials = HashMap::from([("AKID".to_string(), "secret".to_string())]);
    let request = SignedRequest {
        method: "POST",
        path: "/",
        query,
        headers: &headers,
        body: auth::Payload::Body(body.as_bytes()),
    };
    let now = 1_700_000_000;
    // A fuzzer cannot forge an HMAC-SHA256: nothing random verifies.
    assert!(auth::verify(&credentials, &request, now).is_err());
    let _ = CredentialScope::of(Some(&authorization), query);
    let _ = auth::parse_amz_date(&text);
});
