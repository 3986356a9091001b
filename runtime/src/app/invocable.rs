//! The app's functions as the emulator's Lambda Invoke API reaches them (`lockgate up`): by
//! name, through the same invoker (process pool or WASM host) their mappings use, so an
//! invocation from a test, the AWS CLI or another function runs the current build.

use std::collections::BTreeMap;

use lockgate_emulator::lambda::{FunctionError, Functions, Invocation};

use super::functions::Function;
use crate::invoke::InvokeError;

/// Every function of the app by its name (FunctionName, or the logical id).
pub struct Invocable {
    pub functions: BTreeMap<String, Function>,
}

impl Functions for Invocable {
    fn has(&self, name: &str) -> bool {
        self.functions.contains_key(name)
    }

    fn invoke(&self, name: &str, payload: Vec<u8>) -> Invocation {
        let function = self.functions.get(name).cloned();
        let name = name.to_string();
        Box::pin(async move {
            let Some(function) = function else {
                return Err(FunctionError {
                    error_type: None,
                    message: format!("no function {name}"),
                });
            };
            function
                .invoke_event(payload)
                .await
                .map_err(as_lambda_error)
        })
    }
}

/// An invocation's failure as Lambda reports it to an Invoke caller: the function's own
/// error type and message, else one of Lambda's runtime errors.
fn as_lambda_error(error: InvokeError) -> FunctionError {
    let (error_type, message) = match &error {
        InvokeError::Function {
            error_type,
            message,
        } => (Some(error_type.clone()), message.clone()),
        InvokeError::Timeout => (None, "Task timed out".to_string()),
        InvokeError::InitTimeout => (Some("Runtime.InitError".into()), error.to_string()),
        InvokeError::Crashed(_) => (Some("Runtime.ExitError".into()), error.to_string()),
        InvokeError::Trapped(_) => (Some("Runtime.WasmTrap".into()), error.to_string()),
    };
    FunctionError {
        error_type,
        message,
    }
}
