//! Invokers: how a batch reaches a function. One [`Invoker`] per function kind:
//! - [`process`]: the function's own `bootstrap` binary as child processes, driven through a
//!   Lambda Runtime API that [`runtime_api`] hosts — one invocation per process at a time, a
//!   pool that grows to the mapping's concurrency. Records are JSON ([`event`]).
//! - [`wasm`]: a WASM component run in-process by `lockgate-wasm-host` — a fresh sandboxed
//!   instance per batch, with the function's deadline and memory cap. Records are the WIT
//!   world's messages.
//!
//! Each kind prepares a received message in its own record type and answers a typed
//! [`Outcome`] produced from its own wire form ([`response`] reads Lambda's JSON response), so
//! a mapping (generic over its invoker) cannot hand one kind's records to another.

pub mod event;
pub mod process;
pub mod response;
pub mod runtime_api;
pub mod wasm;

use std::fmt;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Why an invocation did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// The function reported an error (`/error`, or a WASM handler's `err`): the whole batch
    /// fails.
    Function { error_type: String, message: String },
    /// The function outlived its timeout; its process was killed (or its instance stopped).
    Timeout,
    /// A new process did not ask for its first event within Lambda's init limit; it was
    /// killed.
    InitTimeout,
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
            InvokeError::InitTimeout => write!(
                f,
                "init timed out (the runtime did not ask for an event within 10 s of starting)"
            ),
            InvokeError::Crashed(why) => write!(f, "runtime exited: {why}"),
            InvokeError::Trapped(why) => write!(f, "{why}"),
        }
    }
}

/// What one invocation of a batch came to, whichever the kind of function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The function returned and named no failed message.
    Success,
    /// The function returned a partial batch response naming these message ids (as given:
    /// settling checks them against the batch).
    FailedItems(Vec<String>),
    /// The function returned something that is not a partial batch response.
    MalformedResponse(String),
    /// The function did not return: error, timeout, crash or trap.
    Error(InvokeError),
}

/// A function of one kind, as the mappings drive it.
pub trait Invoker: Send + Sync + 'static {
    /// A received message in the form this kind takes.
    type Record: Send + 'static;

    /// `message` as a record of this function's events, and the bytes it takes in the JSON
    /// event (Lambda's payload cap counts those, whichever the kind).
    fn prepare(
        &self,
        message: aws_sdk_sqs::types::Message,
        queue_arn: &str,
        region: &str,
    ) -> (Self::Record, usize);

    /// One invocation with records from [`Invoker::prepare`].
    fn invoke(&self, batch: Vec<Self::Record>) -> impl Future<Output = Outcome> + Send;

    /// One invocation with a whole SQS event as JSON (`lockgate invoke`); the function's
    /// response as JSON.
    fn invoke_event(
        &self,
        event: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, InvokeError>> + Send;

    /// Stops idle processes (WASM instances live only for their invocation).
    fn shutdown(&self);
}

/// The build of a function its mappings invoke now. Each batch takes the current invoker
/// for its whole run, so when watch mode swaps in a new build ([`Current::replace`]) the
/// batches already running finish on the old one, and the old one is shut down once the last
/// of them is done.
pub struct Current<I>(RwLock<Arc<I>>);

impl<I: Invoker> Current<I> {
    pub fn new(invoker: Arc<I>) -> Arc<Self> {
        Arc::new(Self(RwLock::new(invoker)))
    }

    pub fn get(&self) -> Arc<I> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes `next` current; the old build stops once no batch holds it any more.
    pub fn replace(&self, next: Arc<I>) {
        let old = std::mem::replace(
            &mut *self.0.write().unwrap_or_else(|e| e.into_inner()),
            next,
        );
        tokio::spawn(async move {
            while Arc::strong_count(&old) > 1 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            old.shutdown();
        });
    }
}
