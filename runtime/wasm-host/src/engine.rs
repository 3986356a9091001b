//! The wasmtime engine shared by every WASM function of a process.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings::BatchHandlerPre;
use crate::function::{FunctionConfig, WasmFunction};
use crate::sandbox::Sandbox;

/// How often the epoch advances: the granularity of deadlines, and how often a busy guest
/// yields its thread back to the async runtime.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Core instances and memories a Rust wasm32-wasip2 component needs per component instance,
/// with room to spare (the main module plus the small shims the component linker adds).
const CORE_INSTANCES_PER_COMPONENT: u32 = 20;
const MEMORIES_PER_COMPONENT: u32 = 2;
const TABLES_PER_COMPONENT: u32 = 4;

/// Bytes of each linear memory kept resident between instances (a small guest's whole heap).
const KEEP_RESIDENT_BYTES: usize = 2 * 1024 * 1024;
const DECOMMIT_BATCH: usize = 16;

/// One per process: compiles components and owns the instance pool and the epoch ticker.
pub struct WasmEngine {
    engine: Engine,
    linker: Arc<Linker<Sandbox>>,
    ticker: Option<std::thread::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl WasmEngine {
    /// An engine whose pool holds `instances` concurrent instances (the sum of the WASM
    /// mappings' concurrency), each with at most `max_memory_bytes` of linear memory.
    pub fn new(instances: u32, max_memory_bytes: u64) -> wasmtime::Result<Self> {
        let instances = instances.max(1);
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(instances)
            .total_core_instances(instances * CORE_INSTANCES_PER_COMPONENT)
            .total_memories(instances * MEMORIES_PER_COMPONENT)
            .total_tables(instances * TABLES_PER_COMPONENT)
            .total_stacks(instances)
            .max_memory_size(max_memory_bytes as usize)
            // Reset a slot's first pages with memset instead of giving them back to the kernel:
            // a fresh instance per batch then costs no page faults for a typical guest's heap.
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(KEEP_RESIDENT_BYTES / 16)
            // Decommit what lies beyond in batches rather than one system call per instance.
            .decommit_batch_size(DECOMMIT_BATCH);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;

        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("wasm-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| wasmtime::format_err!("cannot start the epoch ticker: {e}"))?
        };
        Ok(Self {
            engine,
            linker: Arc::new(linker),
            ticker: Some(ticker),
            stop,
        })
    }

    /// Compiles the component at `path` and pre-instantiates it against WASI, so that an
    /// invocation only has to instantiate (microseconds with the pooling allocator).
    pub fn load(&self, config: FunctionConfig) -> wasmtime::Result<WasmFunction> {
        let component = Component::from_file(&self.engine, &config.component)
            .map_err(|e| describe(&config.component, e))?;
        self.load_component(config, &component)
    }

    /// Like [`load`](Self::load), from the component's bytes.
    pub fn load_bytes(
        &self,
        config: FunctionConfig,
        bytes: &[u8],
    ) -> wasmtime::Result<WasmFunction> {
        let component =
            Component::new(&self.engine, bytes).map_err(|e| describe(&config.component, e))?;
        self.load_component(config, &component)
    }

    fn load_component(
        &self,
        config: FunctionConfig,
        component: &Component,
    ) -> wasmtime::Result<WasmFunction> {
        let pre = self.linker.instantiate_pre(component).map_err(|e| {
            wasmtime::format_err!(
                "{} needs imports lockgate does not provide (only WASI 0.2): {e}",
                config.component.display()
            )
        })?;
        let pre = BatchHandlerPre::new(pre).map_err(|e| {
            wasmtime::format_err!(
                "{} does not export the lockgate:sqs batch-handler world: {e}",
                config.component.display()
            )
        })?;
        Ok(WasmFunction::new(self.engine.clone(), pre, config))
    }
}

fn describe(path: &Path, e: wasmtime::Error) -> wasmtime::Error {
    wasmtime::format_err!("cannot load {} as a component: {e}", path.display())
}

impl Drop for WasmEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
    }
}
