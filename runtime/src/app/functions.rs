//! The template's functions made ready to invoke: built, then handed to the invoker of their
//! kind (a process pool or a WASM component in a shared engine). The kind is chosen here, once
//! per function; from then on each mapping is typed by its invoker.

use std::sync::Arc;

use anyhow::Context;

use lockgate_emulator::SharedClock;
use lockgate_wasm_host::WasmEngine;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::environment::FunctionEnvironment;
use crate::builder::Artifact;
use crate::esm::{DEFAULT_MAX_CONCURRENCY, Mapping, MappingConfig, MappingHandle};
use crate::invoke::process::{FunctionSpec, ProcessPool};
use crate::invoke::wasm::{self, WasmInvoker};
use crate::invoke::{Current, InvokeError, Invoker};
use crate::logbook::LineSink;
use crate::template::{FunctionDef, FunctionKind, Template};

/// What every mapping of an app shares.
pub struct MappingRun<'a> {
    pub sqs: &'a aws_sdk_sqs::Client,
    pub clock: &'a SharedClock,
    pub shutdown: &'a watch::Receiver<bool>,
}

/// A function ready to invoke, by kind: the build its mappings use now.
#[derive(Clone)]
pub enum Function {
    Process(Arc<Current<ProcessPool>>),
    Wasm(Arc<Current<WasmInvoker>>),
}

impl Function {
    /// `function`, made ready as `artifact`, with its environment; WASM functions load into
    /// `engine` (see [`wasm_engine_for`]).
    pub fn load(
        function: &FunctionDef,
        artifact: &Artifact,
        region: &str,
        env: &FunctionEnvironment,
        engine: Option<&Arc<WasmEngine>>,
        log: LineSink,
    ) -> anyhow::Result<Self> {
        if let Artifact::Component(component) = artifact {
            let engine = match engine {
                Some(engine) => engine.clone(),
                None => wasm::engine(1, function.memory_mb)?,
            };
            let guest = WasmInvoker::load(
                engine,
                function,
                component.clone(),
                env.for_guest(),
                log,
                env.payload_fetcher(region),
            )?;
            return Ok(Function::Wasm(Current::new(Arc::new(guest))));
        }
        let mut spec = FunctionSpec::new(function, artifact, region, env.for_process())
            .with_context(|| {
                format!(
                    "function {}: {} cannot run a {:?}",
                    function.logical_id,
                    function.kind.artifact(),
                    artifact
                )
            })?;
        spec.log = log;
        Ok(Function::Process(Current::new(Arc::new(ProcessPool::new(
            spec,
        )))))
    }

    /// Swaps in `next` (a new build of the same function): batches running now finish on the
    /// old build, the next ones run the new one.
    pub fn replace(&self, next: Function) -> anyhow::Result<()> {
        match (self, next) {
            (Function::Process(current), Function::Process(next)) => current.replace(next.get()),
            (Function::Wasm(current), Function::Wasm(next)) => current.replace(next.get()),
            _ => anyhow::bail!("the new build is of another kind"),
        }
        Ok(())
    }

    /// `"process"` or `"wasm"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Function::Process(_) => "process",
            Function::Wasm(_) => "wasm",
        }
    }

    /// Starts a mapping from a queue to this function on `tasks`; it runs until `shutdown`.
    pub fn map(
        &self,
        config: MappingConfig,
        run: &MappingRun<'_>,
        tasks: &mut JoinSet<()>,
    ) -> MappingHandle {
        fn start<I: Invoker>(
            invoker: &Arc<Current<I>>,
            config: MappingConfig,
            run: &MappingRun<'_>,
            tasks: &mut JoinSet<()>,
        ) -> MappingHandle {
            let mapping = Mapping::new(config, run.sqs.clone(), invoker.clone(), run.clock.clone());
            let handle = mapping.handle();
            tasks.spawn(mapping.run(run.shutdown.clone()));
            handle
        }
        match self {
            Function::Process(pool) => start(pool, config, run, tasks),
            Function::Wasm(guest) => start(guest, config, run, tasks),
        }
    }

    /// One invocation with a whole SQS event as JSON; the function's response.
    pub async fn invoke_event(&self, event: Vec<u8>) -> Result<Vec<u8>, InvokeError> {
        match self {
            Function::Process(pool) => pool.get().invoke_event(event).await,
            Function::Wasm(guest) => guest.get().invoke_event(event).await,
        }
    }

    pub fn shutdown(&self) {
        match self {
            Function::Process(pool) => pool.get().shutdown(),
            Function::Wasm(guest) => guest.get().shutdown(),
        }
    }
}

/// The wasmtime engine for the template's WASM functions, if it has any: its instance pool
/// holds as many instances as their mappings may run at once.
pub fn wasm_engine_for(template: &Template) -> anyhow::Result<Option<Arc<WasmEngine>>> {
    let wasm: Vec<_> = template
        .functions
        .values()
        .filter(|f| matches!(f.kind, FunctionKind::Wasm { .. }))
        .collect();
    if wasm.is_empty() {
        return Ok(None);
    }
    let instances: u32 = wasm
        .iter()
        .flat_map(|f| f.events.iter().filter(|e| e.enabled))
        .map(|e| e.scaling.maximum())
        .sum();
    let max_memory_mb = wasm.iter().map(|f| f.memory_mb).max().unwrap_or(128);
    let instances = instances.clamp(1, DEFAULT_MAX_CONCURRENCY);
    wasm::engine(instances, max_memory_mb).map(Some)
}
