//! A loaded WASM handler. Every invocation gets a fresh store and instance (from the
//! pre-instantiated component, so it costs microseconds): the function's memory cap, a deadline
//! enforced by epoch interruption, captured output. A trap, the deadline or the memory cap
//! fails that batch and discards the instance; nothing else is affected.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wasmtime::{Engine, Store, UpdateDeadline};

use crate::bindings::{BatchContext, BatchHandlerPre, Message};
use crate::event;
use crate::sandbox::{Grants, Output, Sandbox};

/// How a function's captured output is written.
/// Where a guest's output lines go.
#[derive(Clone)]
pub enum LogStyle {
    /// `[function] line` on stderr, beside the other functions' output.
    Prefixed,
    /// Each line as written, stdout to stdout and stderr to stderr (Lambda collects both).
    Plain,
    /// Each line to this sink (`lockgate up` keeps and shows them).
    Lines(std::sync::Arc<dyn Fn(&str) + Send + Sync>),
}

impl std::fmt::Debug for LogStyle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogStyle::Prefixed => "Prefixed",
            LogStyle::Plain => "Plain",
            LogStyle::Lines(_) => "Lines",
        })
    }
}

#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub name: String,
    /// The component file (`.wasm`).
    pub component: PathBuf,
    /// The memory cap for the guest's linear memory (template `MemorySize`).
    pub memory_mb: u32,
    /// The guest's environment: the template's variables and nothing else.
    pub env: Vec<(String, String)>,
    pub grants: Grants,
    pub log: LogStyle,
}

/// One call of the handler.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    /// When the invocation is cut off.
    pub deadline: SystemTime,
}

/// Why a batch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WasmError {
    /// The handler returned `err(reason)`.
    #[error("{0}")]
    Handler(String),
    /// The handler ran past its deadline and was stopped.
    #[error("task timed out")]
    Deadline,
    /// The guest tried to grow its memory past the cap.
    #[error("{0}")]
    MemoryCap(String),
    /// The guest trapped (a panic, `unreachable`, out-of-bounds access…).
    #[error("{0}")]
    Trap(String),
    /// The event is not an SQS event, or the sandbox could not be set up.
    #[error("{0}")]
    Setup(String),
}

pub struct WasmFunction {
    engine: Engine,
    pre: BatchHandlerPre<Sandbox>,
    config: FunctionConfig,
}

/// What the host process itself takes of a function's MemorySize on Lambda (wasmtime, the
/// compiled component, the runtime client).
pub const HOST_RESERVE_MB: u32 = 32;

/// The guest's share of a function's MemorySize (at least 16 MB).
pub fn guest_memory_cap_mb(memory_size_mb: u32) -> u32 {
    memory_size_mb.saturating_sub(HOST_RESERVE_MB).max(16)
}

/// A guest blocked in a host call (a WASI sleep) does not run into an epoch check; this much
/// past the deadline the whole call is abandoned instead.
const HOST_CALL_GRACE: Duration = Duration::from_millis(100);

impl WasmFunction {
    pub(crate) fn new(
        engine: Engine,
        pre: BatchHandlerPre<Sandbox>,
        config: FunctionConfig,
    ) -> Self {
        Self {
            engine,
            pre,
            config,
        }
    }

    pub fn config(&self) -> &FunctionConfig {
        &self.config
    }

    /// The cap on the guest's linear memory: the function's MemorySize less what the host
    /// itself needs on Lambda, so a guest that fits locally also fits there.
    pub fn memory_cap_bytes(&self) -> usize {
        guest_memory_cap_mb(self.config.memory_mb) as usize * 1024 * 1024
    }

    /// Runs the handler on `messages`; returns the ids of the messages that failed.
    pub async fn handle(
        &self,
        invocation: &Invocation,
        messages: &[Message],
    ) -> Result<Vec<String>, WasmError> {
        let (sandbox, output) = Sandbox::new(
            &self.config.env,
            &self.config.grants,
            self.memory_cap_bytes(),
        )
        .map_err(|e| WasmError::Setup(format!("cannot set up the sandbox: {e}")))?;
        let mut store = Store::new(&self.engine, sandbox);
        store.limiter(|s| &mut s.memory);
        let remaining = invocation
            .deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let deadline = Instant::now() + remaining;
        // Every epoch tick: past the deadline, trap; otherwise yield the thread and go on.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut store| {
            if Instant::now() >= deadline {
                store.data_mut().timed_out = true;
                wasmtime::bail!("the invocation ran past its deadline");
            }
            Ok(UpdateDeadline::Yield(1))
        });
        let context = BatchContext {
            request_id: invocation.request_id.clone(),
            deadline_ms: invocation
                .deadline
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            function_name: self.config.name.clone(),
        };
        let call = async {
            let handler = self.pre.instantiate_async(&mut store).await?;
            handler
                .call_handle_batch(&mut store, &context, messages)
                .await
        };
        let result = tokio::time::timeout(remaining + HOST_CALL_GRACE, call).await;
        self.log(&output);
        match result {
            Err(_elapsed) => Err(WasmError::Deadline),
            Ok(Ok(Ok(failed))) => Ok(failed),
            Ok(Ok(Err(reason))) => Err(WasmError::Handler(reason)),
            Ok(Err(_)) if store.data().timed_out => Err(WasmError::Deadline),
            Ok(Err(_)) if store.data().memory.exceeded => Err(WasmError::MemoryCap(format!(
                "the guest exceeded its memory cap of {} MB (MemorySize {} MB less the host's \
                 {HOST_RESERVE_MB} MB)",
                guest_memory_cap_mb(self.config.memory_mb),
                self.config.memory_mb
            ))),
            Ok(Err(e)) => {
                // The trap itself (e.g. "wasm `unreachable` instruction executed"); the wasm
                // backtrace goes to the debug log.
                tracing::debug!(function = %self.config.name, "wasm trap: {e:?}");
                let trap = e.downcast_ref::<wasmtime::Trap>().map_or_else(
                    || format!("wasm trap: {}", e.root_cause()),
                    ToString::to_string,
                );
                Err(WasmError::Trap(trap))
            }
        }
    }

    /// Runs the handler on a Lambda SQS event (JSON) and answers Lambda's partial batch
    /// response (JSON): what the function would do on Lambda.
    pub async fn handle_event(
        &self,
        invocation: &Invocation,
        event: &[u8],
    ) -> Result<Vec<u8>, WasmError> {
        let messages = event::messages(event).map_err(WasmError::Setup)?;
        let failed = self.handle(invocation, &messages).await?;
        Ok(event::batch_response(&failed))
    }

    fn log(&self, output: &Output) {
        for (contents, is_stderr) in [
            (output.stdout.contents(), false),
            (output.stderr.contents(), true),
        ] {
            if contents.is_empty() {
                continue;
            }
            let text = String::from_utf8_lossy(&contents);
            for line in text.lines() {
                match (&self.config.log, is_stderr) {
                    (LogStyle::Prefixed, _) => eprintln!("[{}] {line}", self.config.name),
                    (LogStyle::Lines(sink), _) => sink(line),
                    (LogStyle::Plain, false) => println!("{line}"),
                    (LogStyle::Plain, true) => eprintln!("{line}"),
                }
            }
        }
    }
}
