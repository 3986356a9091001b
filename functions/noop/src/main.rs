//! Succeeds at once: the benchmark's function.

use lockgate_sdk::{Batch, Error};

// One invocation at a time per process: a current-thread runtime is all it needs.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lockgate_sdk::run_batch(|_batch: Batch| async { Ok::<Vec<String>, Error>(Vec::new()) }).await
}
