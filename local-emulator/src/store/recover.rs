//! Recovery: the queues a durable store holds, rebuilt in memory at start from the records
//! [`super::sqlite::open`] read (queues, every message's index entry, deduplication windows),
//! and where the sequence and queue ids continue.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::records;
use super::sqlite::Recovery;
use crate::queue::Queue;

/// The rebuilt queues, and the next free message sequence number and queue id.
pub struct Rebuilt {
    pub queues: Vec<Arc<Queue>>,
    pub next_seq: u64,
    pub next_queue_id: u64,
}

/// Rebuilds every queue of `recovery` (read from `dir`); queues stored before queues had
/// regions belong to `default_region`.
pub fn queues(
    recovery: &mut Recovery,
    dir: &Path,
    default_region: &str,
    now: u64,
) -> Result<Rebuilt, String> {
    let mut by_id = HashMap::new();
    for record in &recovery.queues {
        let (attrs, tags) =
            records::queue_settings(record).map_err(|e| format!("{e} (in {})", dir.display()))?;
        let region = record
            .region
            .clone()
            .unwrap_or_else(|| default_region.to_string());
        let queue = Arc::new(Queue::new(
            record.id,
            region,
            record.account.clone(),
            record.name.clone(),
            attrs,
            tags,
            record.created_s,
        ));
        {
            let mut state = queue.lock();
            state.modified_s = record.modified_s;
            state.set_publish_after_commit(true);
        }
        by_id.insert(record.id, queue);
    }
    let max_message_seq = recovery.read_index(|record| {
        let Some(queue) = by_id.get(&record.queue_id) else {
            return false;
        };
        let seq = record.seq;
        let (mut message, source) = record.into_message();
        let mut state = queue.lock();
        message.dead_letter_source = state.source_index(source.as_deref());
        state.insert(seq, message, now);
        true
    })?;
    let next_seq = recovery
        .dedup
        .iter()
        .map(|d| d.seq)
        .chain([max_message_seq])
        .max()
        .unwrap_or(0)
        + 1;
    for d in std::mem::take(&mut recovery.dedup) {
        if let Some(queue) = by_id.get(&d.queue_id) {
            queue
                .lock()
                .restore_dedup(d.key, d.message_id, d.seq, d.expires_ms);
        }
    }
    for queue in by_id.values() {
        queue.lock().finish_restore();
    }
    let next_queue_id = recovery.queues.iter().map(|q| q.id).max().unwrap_or(0) + 1;
    Ok(Rebuilt {
        queues: by_id.into_values().collect(),
        next_seq,
        next_queue_id,
    })
}
