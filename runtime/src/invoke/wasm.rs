//! WASM functions in-process: the component compiled once at start-up, a fresh sandboxed
//! instance per batch (`lockgate-wasm-host`). Concurrency is bounded by the mappings' pollers
//! (one invocation each) and by the engine's instance pool, sized to their sum.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use lockgate_wasm_host::{
    FunctionConfig, Grants, Invocation, LogStyle, WasmEngine, WasmError, WasmFunction,
};

use super::InvokeError;

pub struct WasmInvoker {
    function: WasmFunction,
    timeout: Duration,
    requests: AtomicU64,
    /// Keeps the engine (and its epoch ticker) alive as long as a function uses it.
    _engine: Arc<WasmEngine>,
}

impl WasmInvoker {
    /// Loads `function`'s component (already built at `component`) into `engine`.
    pub fn load(
        engine: Arc<WasmEngine>,
        function: &crate::template::FunctionDef,
        component: std::path::PathBuf,
        env: Vec<(String, String)>,
    ) -> anyhow::Result<Self> {
        let grants = Grants::from_env(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| anyhow::anyhow!("function {}: {e}", function.logical_id))?;
        let loaded = engine
            .load(FunctionConfig {
                name: function.name.clone(),
                component,
                memory_mb: function.memory_mb,
                env,
                grants,
                log: LogStyle::Prefixed,
            })
            .map_err(|e| anyhow::anyhow!("function {}: {e}", function.logical_id))?;
        Ok(Self {
            function: loaded,
            timeout: Duration::from_secs(u64::from(function.timeout_s)),
            requests: AtomicU64::new(0),
            _engine: engine,
        })
    }

    pub async fn invoke(&self, event: &[u8]) -> Result<Vec<u8>, InvokeError> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let invocation = Invocation {
            request_id: super::lambda_process::request_id(n),
            deadline: SystemTime::now() + self.timeout,
        };
        self.function
            .handle_event(&invocation, event)
            .await
            .map_err(|e| match e {
                WasmError::Handler(message) => InvokeError::Function {
                    error_type: "HandlerError".into(),
                    message,
                },
                WasmError::Deadline => InvokeError::Timeout,
                e @ (WasmError::MemoryCap(_) | WasmError::Trap(_)) => {
                    InvokeError::Trapped(e.to_string())
                }
                WasmError::Setup(why) => InvokeError::Crashed(why),
            })
    }
}

/// The engine for a template's WASM functions: a pool of `instances` (the sum of their
/// mappings' concurrency) with room for the largest memory cap.
pub fn engine(instances: u32, max_memory_mb: u32) -> anyhow::Result<Arc<WasmEngine>> {
    let engine = WasmEngine::new(instances, u64::from(max_memory_mb) * 1024 * 1024)
        .map_err(|e| anyhow::anyhow!("cannot start wasmtime: {e}"))?;
    Ok(Arc::new(engine))
}
