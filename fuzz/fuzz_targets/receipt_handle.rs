//! Receipt handle decoding: any text is a valid handle or ReceiptHandleIsInvalid, and only
//! handles made with the key decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockgate_emulator::queue::receipt::{HandleKey, ReceiptHandle};

fuzz_target!(|data: &[u8]| {
    let key = HandleKey::new([7; 32]);
    let text = String::from_utf8_lossy(data);
    if let Ok(handle) = ReceiptHandle::decode(&text, &key) {
        assert_eq!(ReceiptHandle::decode(&handle.encode(&key), &key).unwrap(), handle);
    }
});
