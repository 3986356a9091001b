//! Invokers: how a batch reaches a function.
//! - [`lambda_process`]: the function's own `bootstrap` binary as child processes, driven
//!   through a Lambda Runtime API that [`runtime_api`] hosts — one invocation per process at a
//!   time, a pool that grows to the mapping's concurrency.
//! - [`wasm`]: a WASM component run in-process by `lockgate-wasm-host` — a fresh sandboxed
//!   instance per batch, with the function's deadline and memory cap.
//!
//! Both take Lambda's SQS event — as JSON, or as records prepared for the kind ([`event`]) —
//! and answer the function's response (JSON), so the mappings and the settle rules do not care
//! which kind of function they feed.

pub mod event;
pub mod lambda_process;
pub mod runtime_api;
pub mod wasm;

use std::fmt;

use event::{EventRecord, LambdaRecord};
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
    /// A received message as a record of this function's events, and the bytes it takes in
    /// the JSON event (Lambda's payload cap counts those, whichever the kind).
    pub fn prepare(
        &self,
        message: aws_sdk_sqs::types::Message,
        queue_arn: &str,
        region: &str,
    ) -> (EventRecord, usize) {
        let record = LambdaRecord::new(&message, queue_arn, region);
        match self {
            Invoker::Process(_) => {
                let json = serde_json::to_vec(&record).expect("record serializes");
                let len = json.len();
                (EventRecord::Json(json), len)
            }
            Invoker::Wasm(_) => {
                let len = event::json_len(&record);
                (
                    EventRecord::Wasm(wasm::message(message, queue_arn, region)),
                    len,
                )
            }
        }
    }

    /// One invocation with records from [`Invoker::prepare`]; the function's response body.
    pub async fn invoke(&self, records: Vec<EventRecord>) -> Result<Vec<u8>, InvokeError> {
        match self {
            Invoker::Process(pool) => {
                let json: Option<Vec<_>> =
                    records.into_iter().map(EventRecord::into_json).collect();
                let json = json.ok_or_else(prepared_for_another_kind)?;
                pool.invoke(event::assemble(&json)).await
            }
            Invoker::Wasm(wasm) => {
                let messages: Option<Vec<_>> =
                    records.into_iter().map(EventRecord::into_wasm).collect();
                let messages = messages.ok_or_else(prepared_for_another_kind)?;
                wasm.invoke_messages(&messages).await
            }
        }
    }

    /// One invocation with a whole SQS event as JSON (`lockgate invoke`).
    pub async fn invoke_event(&self, event: Vec<u8>) -> Result<Vec<u8>, InvokeError> {
        match self {
            Invoker::Process(pool) => pool.invoke(event).await,
            Invoker::Wasm(wasm) => wasm.invoke_event(&event).await,
        }
    }

    /// Stops idle processes (WASM instances live only for their invocation).
    pub fn shutdown(&self) {
        if let Invoker::Process(pool) = self {
            pool.shutdown();
        }
    }
}

/// Records reach the invoker that prepared them; anything else is a bug in the caller, and the
/// batch fails (its messages come back) rather than the runtime.
fn prepared_for_another_kind() -> InvokeError {
    InvokeError::Crashed("records were prepared for another kind of function".into())
}
