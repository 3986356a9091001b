//! `lockgate-sdk`: write SQS-triggered Lambda functions in Rust.
//!
//! ```no_run
//! use lockgate_sdk::{Error, Message};
//!
//! #[derive(serde::Deserialize)]
//! struct Order { id: u64, quantity: u32 }
//!
//! async fn handle(message: Message) -> Result<(), Error> {
//!     let order: Order = message.json()?;
//!     if order.quantity == 0 {
//!         return Err("empty order".into()); // only this message fails
//!     }
//!     Ok(())
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Error> {
//!     lockgate_sdk::run(handle).await
//! }
//! ```
//!
//! The same binary runs on AWS Lambda (`provided.al2023`) and under `lockgate up`. Enable
//! `ReportBatchItemFailures` on the event source mapping so failed messages alone are retried.
//!
//! Modules: [`message`] (the `Message` view of an SQS record), [`batch`] (per-message and
//! per-batch processing with partial failures and FIFO rules), `payloads` (feature
//! `large-payloads`: bodies offloaded to S3 by the Extended Client convention, fetched
//! before the handler runs), this file (entry points).

pub mod batch;
pub mod message;
#[cfg(feature = "large-payloads")]
pub mod payloads;

use std::future::Future;

pub use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
pub use batch::{Batch, process_batch, process_messages};
pub use lambda_runtime::Error;
pub use message::Message;

/// How many messages of one batch run at once in [`run`].
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Runs a per-message handler: the messages of a batch run concurrently (bounded), an error or
/// panic fails only that message, and failures are returned as `batchItemFailures`. For FIFO
/// queues the messages of a group run in order, and after a failure the rest of that group is
/// reported failed without running.
pub async fn run<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(Message) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    init_tracing();
    #[cfg(feature = "large-payloads")]
    let handler = {
        // Each message's payload is fetched in its own task: a missing one fails only it.
        let payloads = payloads::Payloads::from_env().await;
        move |mut message: Message| {
            let (handler, payloads) = (handler.clone(), payloads.clone());
            async move {
                payloads.resolve(&mut message).await?;
                let (id, pointer) = (message.id().to_string(), message.payload_pointer().cloned());
                handler(message).await?;
                payloads.release(&id, pointer.as_ref()).await;
                Ok(())
            }
        }
    };
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<SqsEvent>| {
            let handler = handler.clone();
            async move {
                Ok::<_, Error>(process_messages(event.payload, DEFAULT_CONCURRENCY, handler).await)
            }
        },
    ))
    .await
}

/// Runs a whole-batch handler. It returns the ids of the messages that failed (an empty list
/// when all succeeded); an error fails the whole batch.
pub async fn run_batch<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(Batch) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<String>, Error>> + Send + 'static,
{
    init_tracing();
    #[cfg(feature = "large-payloads")]
    let handler = {
        // A payload that cannot be fetched fails the whole batch, as the handler's error would.
        let payloads = payloads::Payloads::from_env().await;
        move |mut batch: Batch| {
            let (handler, payloads) = (handler.clone(), payloads.clone());
            async move {
                for message in &mut batch.messages {
                    payloads.resolve(message).await?;
                }
                let kept: Vec<_> = batch
                    .messages
                    .iter()
                    .map(|m| (m.id().to_string(), m.payload_pointer().cloned()))
                    .collect();
                let failed = handler(batch).await?;
                for (id, pointer) in kept.iter().filter(|(id, _)| !failed.contains(id)) {
                    payloads.release(id, pointer.as_ref()).await;
                }
                Ok(failed)
            }
        }
    };
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<SqsEvent>| {
            let handler = handler.clone();
            async move { process_batch(event.payload, handler).await }
        },
    ))
    .await
}

/// Logging the way Lambda expects: `AWS_LAMBDA_LOG_FORMAT` (Text or JSON) and
/// `AWS_LAMBDA_LOG_LEVEL`, written to stdout where Lambda (and `lockgate up`) collect it.
fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}
