//! Succeeds at once: the benchmark's function.

use lockgate::{Batch, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lockgate::run_batch(|_batch: Batch| async { Ok::<Vec<String>, Error>(Vec::new()) }).await
}
