//! A Query-protocol request body: form decoding, the dotted-name tree, and the action it
//! becomes, run against an in-memory emulator (with a queue to act on). Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockgate_fuzz_support::{ACTIONS, Emulator};
use lockgate_emulator::protocol::{query, query_json};

fuzz_target!(|data: &[u8]| {
    let emulator = Emulator::get();
    let text = String::from_utf8_lossy(data);
    let params = query::parse_form(&text);
    let action = params
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| ACTIONS[data.first().copied().unwrap_or(0) as usize % ACTIONS.len()].to_string());
    if let Ok(request) = query::to_json(&action, &params) {
        let body = serde_json::to_vec(&request).unwrap();
        if let Ok(reply) = emulator.dispatch(&action, &body) {
            let _ = query::render(&action, &reply, "r");
            let _ = query_json::render(&action, &reply, "r");
        }
    }
});
