//! Invokers: how a batch reaches a function.
//! - [`lambda_process`]: the function's own `bootstrap` binary as child processes, driven
//!   through a Lambda Runtime API that [`runtime_api`] hosts — one invocation per process at a
//!   time, a pool that grows to the mapping's concurrency.

pub mod lambda_process;
pub mod runtime_api;

use std::fmt;

/// Why an invocation did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// The function reported an error (`/error`): the whole batch fails.
    Function { error_type: String, message: String },
    /// The function outlived its timeout; its process was killed.
    Timeout,
    /// The process exited or could not start.
    Crashed(String),
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
        }
    }
}
