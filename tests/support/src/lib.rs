//! What the workspace's tests share (not published):
//! - [`emulator`]: [`Harness`] (an emulator with a real aws-sdk-sqs client, in memory or
//!   durable, optionally on a [`lockgate_emulator::ManualClock`]), client factories, error
//!   codes of failed calls, raw HTTP requests, and [`both_stores!`].
//! - [`wait`]: [`eventually`], polling a condition until a generous deadline.
//! - [`formats`]: a data directory rewritten as an earlier storage format wrote it.
//! - [`guest`]: WASM guests built for wasm32-wasip2 by cargo.

pub mod emulator;
pub mod formats;
pub mod guest;
pub mod wait;

pub use emulator::*;
pub use wait::eventually;
