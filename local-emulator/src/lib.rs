//! lockgate-emulator: an SQS-compatible server.
//!
//! Map of the crate (a request flows top to bottom):
//! - [`server`]: HTTP accept loop, connection limits, graceful shutdown.
//! - [`limits`]: what a connection or request may hold, in time and memory.
//! - [`request`]: one request: authentication, browser rules, body limits, protocol detection.
//! - [`auth`]: opt-in SigV4 verification.
//! - [`protocol`]: wire codecs (AWS JSON 1.0); errors meet the wire only here.
//! - [`actions`]: one module per SQS action: decode → validate → apply → response.
//! - [`sqs`]: the registry of queues plus what every request shares (config, store, ids).
//! - [`queue`]: the queue engine: messages, visibility, delays, FIFO groups, dedup, redrive.
//! - [`move_tasks`]: message move tasks (DLQ redrive) running in the background.
//! - [`store`]: durability (SQLite WAL with group commit) and recovery.
//! - [`sts`]: STS GetCallerIdentity, answered on the same endpoint.
//! - [`s3`]: an S3-compatible object endpoint on the same port (large payloads).
//! - [`tls`]: https on the same port: certificate files, or a self-signed local CA.
//! - [`error`]: the one error type, with SQS's codes and statuses.
//! - [`clock`]: the time SQS's rules are measured in; injectable for tests.
//! - [`console`]: the web console and its JSON API, `/metrics` and `/health`, on the same port.
//! - [`lambda`]: the Lambda Invoke API on the same port, for an attached app's functions.
//! - [`template`]: reading a SAM or CloudFormation template's queues (shared with `lockgate
//!   up`'s loader); [`declare`]: queues created at start from a template or a queues file.
//! - [`command`]: the emulator as a command (`lockgate-emulator`, `lockgate emulator`).
//!
//! The public surface: [`RunningEmulator`] / [`serve`] with their [`EmulatorConfig`], [`Config`]
//! and [`Limits`]; [`AppView`], what an app adds to the console; the [`Clock`]s;
//! [`load_credentials`]; [`template`], [`declare`], [`lambda`] and [`command`]. The layers
//! below are private; the `fuzzing` feature opens them to the fuzz targets (not a stable
//! interface).

/// The layers below the server: private, or public with the `fuzzing` feature.
macro_rules! layers {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        $(
            $(#[$doc])*
            #[cfg(feature = "fuzzing")]
            pub mod $name;
            #[cfg(not(feature = "fuzzing"))]
            mod $name;
        )*
    };
}

layers!(actions, auth, error, protocol, queue, sqs);

mod clock;
pub mod command;
mod console;
pub mod declare;
pub mod lambda;
mod limits;
mod move_tasks;
mod os_random;
mod request;
mod s3;
mod server;
mod shared;
mod store;
mod sts;
pub mod template;
mod tls;

pub use auth::{CredentialsError, load_credentials};
pub use clock::{Clock, ManualClock, SharedClock, Sleep, SystemClock, civil_date};
pub use console::AppView;
pub use limits::{Limits, raise_open_file_limit};
pub use server::{EmulatorConfig, RunningEmulator, StartError, serve};
pub use sqs::Config;
pub use store::{reset as reset_data_dir, state_files};
pub use tls::TlsSource;
