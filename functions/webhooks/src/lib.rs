//! Example WASM handler (`lockgate-guest`): each message is a webhook delivery
//! `{"url": "https://…", "event": "order.created", "payload": {…}}`. Deliveries to plain-HTTP
//! or private addresses are refused, and so are events the subscriber did not ask for: those
//! messages fail alone, are retried, and reach the dead-letter queue. The sandbox has no
//! network, so a valid delivery is logged rather than sent.

use lockgate_guest::{Error, Message};

#[derive(serde::Deserialize)]
struct Delivery {
    url: String,
    event: String,
}

/// The events this subscriber accepts.
const EVENTS: &[&str] = &["order.created", "order.shipped", "order.cancelled"];

fn handle(message: &Message) -> Result<(), Error> {
    let delivery: Delivery = message.json()?;
    let Some(host) = delivery.url.strip_prefix("https://") else {
        return Err(format!("{} is not an https URL", delivery.url).into());
    };
    let host = host.split(['/', ':']).next().unwrap_or_default();
    if host.is_empty() || host == "localhost" || host.starts_with("127.") || host.starts_with("10.")
    {
        return Err(format!("{host} is not a public host").into());
    }
    if !EVENTS.contains(&delivery.event.as_str()) {
        return Err(format!("no subscription for {}", delivery.event).into());
    }
    println!(
        "delivering {} to {} (attempt {})",
        delivery.event,
        delivery.url,
        message.receive_count()
    );
    Ok(())
}

lockgate_guest::export_handler!(handle);
