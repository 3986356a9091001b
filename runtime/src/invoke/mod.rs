//! Invokers: how a batch reaches a function.
//! - [`lambda_process`]: the function's own `bootstrap` binary as child processes, driven
//!   through a Lambda Runtime API that [`runtime_api`] hosts — one invocation per process at a
//!   time, a pool that grows to the mapping's concurrency.
//! - [`wasm`]: a WASM component run in-process by `lockgate-wasm-host` — a fresh sandboxed
//!   instance per batch, with the function's deadline and memory cap.
//!
//! Both take Lambda's SQS event (JSON) and answer the function's response (JSON), so the
//! mappings and the settle rules do not care which kind of function they feed.

pub mod lambda_process;
pub mod runtime_api;
pub mod wasm;

use std::fmt;

use lambda_process::ProcessPool;
use wasm::WasmInvoker;

/// Why an invocation did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// The function reported an error (`/error`, or a WASM handler's `err`): the whole batch
    /// fails.
    Function { error_type: String, message: String },
    /// The function outlived its timeout; its process was killed (or its instance stopped).
    Timeout,
    /// The process exited or could not start.
    Crashed(String),
    /// The WASM instance trapped or hit its memory cap; it was discarded.
    Trapped(String),
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeError::Function {
                error_type,
                message,
            } => write!(f, "{error_type}: {message}"),
            InvokeError::Timeout => write!(f, "task timed out"),
            InvokeError::Crashed(why) => write!(f, "runtime exited: {why}"),
            InvokeError::Trapped(why) => write!(f, "{why}"),
        }
    }
}

/// A function, whichever kind it is.
pub enum Invoker {
    Process(ProcessPool),
    Wasm(WasmInvoker),
}

impl Invoker {
    /// One invocation with an SQS event; the function's response body.
    pub async fn invoke(&self, event: Vec<u8>) -> Result<Vec<u8>, InvokeError> {
        match self {
            Invoker::Process(pool) => pool.invoke(event).await,
            Invoker::Wasm(wasm) => wasm.invoke(&event).await,
        }
    }

    /// Stops idle processes (WASM instances live only for their invocation).
    pub fn shutdown(&self) {
        if let Invoker::Process(pool) = self {
            pool.shutdown();
        }
    }
}
