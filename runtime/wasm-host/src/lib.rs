//! `lockgate-wasm-host`: runs WASM queue handlers — components of the `lockgate:sqs`
//! `batch-handler` world (`runtime/wit/lockgate.wit`) — in wasmtime, the same way under
//! `lockgate up` and inside the Lambda bootstrap.
//!
//! - [`engine`]: the one wasmtime `Engine` (pooling allocator, epoch interruption, async);
//!   loads components into [`WasmFunction`]s, pre-instantiated.
//! - [`bindings`]: the world's one `bindgen!`; its [`Message`] is what a guest receives.
//! - [`function`]: a loaded handler; each invocation gets a fresh store and instance with the
//!   function's memory cap and deadline, and a trap fails only that batch.
//! - [`sandbox`]: what a guest may touch: WASI with captured stdout/stderr, the template's
//!   environment variables, and files or network only when granted.
//! - [`event`]: Lambda's SQS event JSON to the world's records, failed ids to Lambda's
//!   partial batch response.
//! - `payloads` (feature `large-payloads`): pointer messages' payloads fetched for the guest,
//!   which has no network.

pub mod bindings;
pub mod engine;
pub mod event;
pub mod function;
#[cfg(feature = "large-payloads")]
pub mod payloads;
pub mod sandbox;

pub use bindings::{Message, MessageAttribute};
pub use engine::WasmEngine;
pub use function::{FunctionConfig, Invocation, LogStyle, WasmError, WasmFunction};
pub use sandbox::Grants;
