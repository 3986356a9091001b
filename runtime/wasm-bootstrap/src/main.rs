//! `lockgate-wasm-bootstrap`: a WASM queue handler on AWS Lambda (`provided.al2023`). Packaged
//! as `bootstrap` beside the component, it loads the component once at start-up and serves
//! each SQS event with a fresh sandboxed instance — the same host `lockgate up` runs in-process,
//! so the same `.wasm` behaves the same in both places.
//!
//! The component is `$LAMBDA_TASK_ROOT/$_HANDLER` (the template's `Handler: name.wasm`), or the
//! file `LOCKGATE_COMPONENT` names. The guest's memory cap follows the function's MemorySize,
//! its deadline the invocation's; it sees the function's own environment variables (not
//! Lambda's `AWS_*` ones, credentials included) and no files or network unless granted
//! (`LOCKGATE_WASI_NETWORK`, `LOCKGATE_WASI_DIRS`). A message pointing at a large payload in
//! S3 (the SQS Extended Client convention) reaches the guest with the payload as its body,
//! fetched here with the function's role; `LOCKGATE_DELETE_PAYLOADS=true` deletes payloads
//! after success.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use lambda_runtime::{Error, LambdaEvent, service_fn};
use lockgate_wasm_host::event::{SqsEvent, batch_response_json};
use lockgate_wasm_host::{FunctionConfig, Grants, Invocation, LogStyle, WasmEngine, payloads};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let component = component_path()?;
    let memory_mb: u32 = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(128);
    let variables: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| !set_by_lambda(k))
        .collect();
    let grants = Grants::from_env(variables.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    // One invocation at a time per execution environment, as Lambda runs them.
    let engine = WasmEngine::new(1, u64::from(memory_mb) * 1024 * 1024)?;
    let function = engine.load(FunctionConfig {
        name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
        component,
        memory_mb,
        env: variables,
        grants,
        log: LogStyle::Plain,
    })?;
    let function = Arc::new(function);
    let payloads = Arc::new(lockgate_sdk::payloads::Payloads::from_env().await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let (function, payloads) = (function.clone(), payloads.clone());
        async move {
            let invocation = Invocation {
                request_id: event.context.request_id.clone(),
                deadline: UNIX_EPOCH + Duration::from_millis(event.context.deadline),
            };
            let messages = event.payload.into_messages()?;
            let fetched = payloads::fetch(&payloads, messages).await;
            let mut failed = if fetched.messages.is_empty() {
                Vec::new()
            } else {
                function.handle(&invocation, &fetched.messages).await?
            };
            payloads::release(&payloads, &fetched.pointers, &failed).await;
            failed.extend(fetched.unfetched);
            Ok::<_, Error>(batch_response_json(&failed))
        }
    }))
    .await
}

/// The component to run: `LOCKGATE_COMPONENT`, else the handler file in the task root.
fn component_path() -> Result<PathBuf, Error> {
    if let Ok(path) = std::env::var("LOCKGATE_COMPONENT") {
        return Ok(PathBuf::from(path));
    }
    let handler = std::env::var("_HANDLER").unwrap_or_default();
    if !handler.ends_with(".wasm") {
        return Err(format!(
            "the function's Handler is {handler:?}: set it to the component's file name \
             (e.g. my_handler.wasm), or set LOCKGATE_COMPONENT"
        )
        .into());
    }
    let root = std::env::var("LAMBDA_TASK_ROOT").unwrap_or_else(|_| ".".into());
    Ok(PathBuf::from(root).join(handler))
}

/// Variables Lambda sets for the runtime; the guest gets only the function's own.
fn set_by_lambda(name: &str) -> bool {
    name.starts_with("AWS_")
        || name.starts_with("LAMBDA_")
        || name.starts_with('_')
        || matches!(
            name,
            "PATH" | "LD_LIBRARY_PATH" | "LANG" | "TZ" | "HOME" | "SHLVL" | "PWD"
        )
}
