//! lockgate-runtime: queue-triggered functions run locally or against SQS.
//!
//! Map of the crate (data flows top to bottom):
//! - [`template`]: the SAM template: loading, validation, intrinsics.
//! - [`builder`]: cargo builds of functions (native `bootstrap`s, WASM components).
//! - [`app`]: the composition root: template + options → running app (build → emulator or
//!   endpoint → provision → invokers → mappings), and shutdown in reverse.
//! - [`esm`]: event source mappings: poll, batch, filter, invoke, settle, scale; their stats.
//! - [`filter`]: Lambda's event filter patterns: checked when a template loads, matched when
//!   messages arrive.
//! - [`invoke`]: one invoker per function kind (processes through the Runtime API, WASM
//!   components in wasmtime) answering a typed outcome.
//! - [`logbook`]: what functions print, echoed and kept per function for the console.
//!
//! The `lockgate` binary (`src/main.rs`, `src/cli/`) parses arguments and displays; every
//! command builds what it runs through [`app`].

pub mod app;
pub mod builder;
pub mod esm;
pub mod filter;
pub mod invoke;
pub mod logbook;
pub mod payloads;
pub mod template;

pub use app::{App, AppOptions, SqsTarget};
