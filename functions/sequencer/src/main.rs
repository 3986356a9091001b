//! A FIFO consumer: each message body is `<group>:<n>`; it logs the sequence per group so the
//! order SQS FIFO guarantees is visible. Bodies ending in `!` fail, showing that the rest of
//! the group waits for the retry.

use lockgate_sdk::{Error, Message};

async fn handle(message: Message) -> Result<(), Error> {
    let group = message.group_id().unwrap_or("-").to_string();
    let body = message.body();
    if body.ends_with('!') {
        return Err(format!("{group}: {body} asked to fail").into());
    }
    tracing::info!(%group, step = body, attempt = message.receive_count(), "in order");
    Ok(())
}

// One invocation at a time per process: a current-thread runtime is all it needs.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lockgate_sdk::run(handle).await
}
