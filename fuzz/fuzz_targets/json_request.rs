//! A JSON-protocol request: the first byte picks the action, the rest is its body, run
//! against an in-memory emulator with a queue to act on. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockgate_fuzz_support::{ACTIONS, Emulator};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let action = ACTIONS[pick as usize % ACTIONS.len()];
    let _ = Emulator::get().dispatch(action, body);
});
