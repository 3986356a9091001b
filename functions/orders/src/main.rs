//! Processes orders. An order with no items or a non-positive quantity is rejected: only that
//! message fails, SQS redelivers it, and after maxReceiveCount it lands in the DLQ.

use lockgate_sdk::{Error, Message};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Order {
    id: String,
    items: Vec<Item>,
}

#[derive(Debug, Deserialize)]
struct Item {
    sku: String,
    quantity: i64,
}

async fn handle(message: Message) -> Result<(), Error> {
    let order: Order = message.json()?;
    if order.items.is_empty() {
        return Err(format!("order {} has no items", order.id).into());
    }
    if let Some(bad) = order.items.iter().find(|i| i.quantity <= 0) {
        return Err(format!(
            "order {}: quantity {} for {} is not positive",
            order.id, bad.quantity, bad.sku
        )
        .into());
    }
    let units: i64 = order.items.iter().map(|i| i.quantity).sum();
    tracing::info!(order = %order.id, units, attempt = message.receive_count(), "order accepted");
    Ok(())
}

// One invocation at a time per process: a current-thread runtime is all it needs.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lockgate_sdk::run(handle).await
}
