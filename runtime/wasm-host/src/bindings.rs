//! The `batch-handler` world's bindings (`runtime/wit/lockgate.wit`): the host's only
//! `bindgen!`. Its records are the messages a guest receives.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "batch-handler",
    exports: { default: async },
});
