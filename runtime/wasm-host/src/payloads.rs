//! Large payloads for guests (feature `large-payloads`): a guest has no network, so the host
//! puts each pointer message's payload (the SQS Extended Client convention) in its body before
//! the guest runs, with the function SDK's reader — under `lockgate up` and in the Lambda
//! bootstrap alike.

use lockgate_sdk::payloads::{LEGACY_SIZE_ATTRIBUTE, Payloads, Pointer, SIZE_ATTRIBUTE};

use crate::Message;

/// A batch with its payloads in place.
pub struct Fetched {
    /// The messages to run (each pointer's payload as its body, the size attribute dropped,
    /// as the Extended Client drops it).
    pub messages: Vec<Message>,
    /// Where each fetched payload was, by message id (to delete after success).
    pub pointers: Vec<(String, Pointer)>,
    /// Messages whose payload could not be fetched: they fail alone and come back per SQS's
    /// rules.
    pub unfetched: Vec<String>,
}

pub async fn fetch(payloads: &Payloads, batch: Vec<Message>) -> Fetched {
    let mut fetched = Fetched {
        messages: Vec::with_capacity(batch.len()),
        pointers: Vec::new(),
        unfetched: Vec::new(),
    };
    let is_size = |name: &str| name == SIZE_ATTRIBUTE || name == LEGACY_SIZE_ATTRIBUTE;
    for mut m in batch {
        let marked = m.message_attributes.iter().any(|a| is_size(&a.name));
        match payloads.fetch(&m.body, marked).await {
            Ok(None) => fetched.messages.push(m),
            Ok(Some((payload, pointer))) => {
                m.body = payload;
                m.message_attributes.retain(|a| !is_size(&a.name));
                fetched.pointers.push((m.message_id.clone(), pointer));
                fetched.messages.push(m);
            }
            Err(why) => {
                tracing::warn!(message = %m.message_id, "large payload: {why}");
                fetched.unfetched.push(m.message_id);
            }
        }
    }
    fetched
}

/// After the guest ran: deletes the payloads of the messages that did not fail (when the
/// function asked for it).
pub async fn release(payloads: &Payloads, pointers: &[(String, Pointer)], failed: &[String]) {
    for (id, pointer) in pointers {
        if !failed.contains(id) {
            payloads.release(id, Some(pointer)).await;
        }
    }
}
