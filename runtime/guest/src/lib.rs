//! `lockgate-guest`: write SQS queue handlers as WASM components.
//!
//! ```ignore
//! use lockgate_guest::{Error, Message};
//!
//! #[derive(serde::Deserialize)]
//! struct Hook { url: String }
//!
//! fn handle(message: &Message) -> Result<(), Error> {
//!     let hook: Hook = message.json()?;
//!     if !hook.url.starts_with("https://") {
//!         return Err(format!("refusing {}", hook.url).into()); // only this message fails
//!     }
//!     Ok(())
//! }
//!
//! lockgate_guest::export_handler!(handle);
//! ```
//!
//! Build with `cargo build --target wasm32-wasip2` (crate type `cdylib`). The component
//! exports the `lockgate:sqs/batch-handler` world (`runtime/wit/lockgate.wit`); `lockgate up`
//! runs it in wasmtime and the `lockgate-wasm-bootstrap` host runs the same file on Lambda.
//!
//! Modules: [`message`] (the `Message` view of a record), [`batch`] (per-message processing
//! with FIFO rules), [`bindings`] (generated from the WIT), this file (the export macros).
//!
//! A panic in a WASM guest aborts the instance: the whole batch fails and returns to the queue,
//! where a native function would fail only the message. Return an error instead.

pub mod batch;
pub mod message;

/// The `batch-handler` world, generated from `runtime/wit/lockgate.wit`.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "batch-handler",
        pub_export_macro: true,
        default_bindings_module: "lockgate_guest::bindings",
    });
}

pub use batch::{Batch, Context, process_messages};
pub use message::Message;

/// A handler's error: anything that converts into a boxed error (strings included).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Exports a per-message handler `fn(&Message) -> Result<(), Error>` as the component's
/// `handle-batch`: messages run in order, an error fails only that message, and on FIFO queues
/// the rest of a failed message's group is reported failed without running.
#[macro_export]
macro_rules! export_handler {
    ($handler:path) => {
        $crate::__export_guest!(|context, messages| ::std::result::Result::Ok(
            $crate::process_messages(&$crate::Batch::new(context, messages).messages, $handler)
        ));
    };
}

/// Exports a whole-batch handler `fn(Batch) -> Result<Vec<String>, Error>` that returns the
/// ids of the messages that failed; an error fails the whole batch, and so does an id that is
/// not in the batch.
#[macro_export]
macro_rules! export_batch_handler {
    ($handler:path) => {
        $crate::__export_guest!(|context, messages| $crate::batch::run_batch(
            $crate::Batch::new(context, messages),
            $handler
        ));
    };
}

/// The component's export, running `$run(context, messages)`: what both macros above expand to.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_guest {
    ($run:expr) => {
        struct LockgateHandler;

        impl $crate::bindings::Guest for LockgateHandler {
            fn handle_batch(
                context: $crate::bindings::BatchContext,
                messages: ::std::vec::Vec<$crate::bindings::Message>,
            ) -> ::std::result::Result<::std::vec::Vec<::std::string::String>, ::std::string::String>
            {
                let run: fn(
                    $crate::bindings::BatchContext,
                    ::std::vec::Vec<$crate::bindings::Message>,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<::std::string::String>,
                    ::std::string::String,
                > = $run;
                run(context, messages)
            }
        }

        $crate::bindings::export!(LockgateHandler with_types_in $crate::bindings);
    };
}
