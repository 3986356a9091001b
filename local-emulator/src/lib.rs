//! lockgate-emulator: an SQS-compatible server.
//!
//! Map of the crate (a request flows top to bottom):
//! - [`server`]: HTTP accept loop, connection limits, graceful shutdown.
//! - [`request`]: one request: authentication, browser rules, body limits, protocol detection.
//! - [`auth`]: opt-in SigV4 verification.
//! - [`protocol`]: wire codecs (AWS JSON 1.0); errors meet the wire only here.
//! - [`actions`]: one module per SQS action: decode → validate → apply → response.
//! - [`sqs`]: the registry of queues plus what every request shares (config, store, ids).
//! - [`queue`]: the queue engine: messages, visibility, delays, FIFO groups, dedup, redrive.
//! - [`move_tasks`]: message move tasks (DLQ redrive) running in the background.
//! - [`store`]: durability (SQLite WAL with group commit) and recovery.
//! - [`sts`]: STS GetCallerIdentity, answered on the same endpoint.
//! - [`error`]: the one error type, with SQS's codes and statuses.
//! - [`clock`]: the time SQS's rules are measured in; injectable for tests.

pub mod actions;
pub mod auth;
pub mod clock;
pub mod error;
pub mod move_tasks;
pub mod protocol;
pub mod queue;
pub mod request;
pub mod server;
pub mod sqs;
pub mod store;
pub mod sts;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use server::{EmulatorConfig, Limits, RunningEmulator, serve};
pub use sqs::{Config, Sqs};
