//! Sends: a new message (deduplicated on FIFO queues within the five-minute window), one moved
//! here from another queue, and the deduplication window read back at start.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::message::{Content, Message, State};
use super::{DEDUP_WINDOW_MS, DedupEntry, Moved, NewMessage, QueueState, SendOutcome, UNPUBLISHED, receipt};
use crate::store::{DedupRecord, MessageRecord, StoreOp};

impl QueueState {
    /// Enqueues a message; for FIFO queues a duplicate within the window is not enqueued.
    pub fn send(
        &mut self,
        new: NewMessage,
        next_seq: &AtomicU64,
        now_ms: u64,
        ops: &mut Vec<StoreOp>,
    ) -> SendOutcome {
        let in_window = new
            .dedup_key
            .as_ref()
            .and_then(|k| self.dedup.live(k, now_ms));
        if let Some(entry) = in_window {
            return SendOutcome::Duplicate {
                id: entry.id,
                seq: entry.seq,
            };
        }
        let seq = next_seq.fetch_add(1, Ordering::Relaxed);
        if let Some(key) = new.dedup_key {
            let expires_ms = now_ms + DEDUP_WINDOW_MS;
            ops.push(StoreOp::PutDedup(Box::new(DedupRecord {
                queue_id: self.queue_id,
                key: key.clone(),
                message_id: new.id,
                seq,
                expires_ms,
            })));
            self.dedup
                .insert(key, expires_ms, DedupEntry { id: new.id, seq });
        }
        let visible_at_ms = now_ms + u64::from(new.delay_s) * 1000;
        let content = Content {
            id: new.id,
            body: new.body,
            md5_of_body: new.md5_of_body,
            extras: new.extras,
        };
        let mut message = Message {
            salt: receipt::salt_of(new.id),
            group: new.group,
            sent_ms: now_ms,
            first_receive_ms: 0,
            visible_at_ms,
            receive_count: 0,
            timer_gen: 0,
            state: State::Delayed,
            dead_letter_source: 0,
        };
        let content = Arc::new(content);
        ops.push(StoreOp::PutMessage(Box::new(MessageRecord::new(
            self.queue_id,
            seq,
            &message,
            None,
            content.clone(),
        ))));
        if !self.contents_on_disk {
            self.contents.insert(seq, content.clone());
        }
        if self.publish_after_commit {
            self.unpublished.insert(seq, message.visible_at_ms);
            message.visible_at_ms = UNPUBLISHED;
        }
        self.insert(seq, message, now_ms);
        self.totals.sent += 1;
        SendOutcome::Enqueued { seq, content }
    }

    /// Puts a message taken from another queue here (its store op is already written).
    pub fn insert_moved(&mut self, moved: Moved, now_ms: u64) {
        let Moved {
            seq,
            mut message,
            content,
            dead_letter_source,
        } = moved;
        message.dead_letter_source = self.source_index(dead_letter_source.as_deref());
        if let (Some(content), false) = (content, self.contents_on_disk) {
            self.contents.insert(seq, content);
        }
        self.insert(seq, message, now_ms);
    }

    /// Restores a FIFO deduplication entry read back from the store.
    pub fn restore_dedup(&mut self, key: String, id: u128, seq: u64, expires_ms: u64) {
        self.dedup.insert(key, expires_ms, DedupEntry { id, seq });
    }

    /// Sorts restored dedup entries by expiry (they are read back unordered).
    pub fn finish_restore(&mut self) {
        self.dedup.sort_by_expiry();
    }
}
