//! Many messages at once: taking visible messages for a move task, and purging the queue.

use super::message::State;
use super::{Moved, QueueState};
use crate::store::StoreOp;

impl QueueState {
    /// Takes up to `max` visible messages out of the queue for a message move task, in
    /// delivery order. The caller writes each one's new home into `ops` under this lock.
    pub fn take_for_move(&mut self, max: usize, now_ms: u64, ops: &mut Vec<StoreOp>) -> Vec<Moved> {
        self.tick(now_ms, ops);
        let mut taken = Vec::new();
        while taken.len() < max {
            let seq = if self.fifo {
                let Some(name) = self.ready_groups.front().cloned() else {
                    break;
                };
                let head = self
                    .groups
                    .get(&name)
                    .and_then(|g| g.seqs.front().copied())
                    .filter(|seq| {
                        self.messages
                            .get(*seq)
                            .is_some_and(|m| m.state == State::Ready)
                    });
                match head {
                    Some(seq) => seq,
                    None => {
                        self.ready_groups.pop_front();
                        if let Some(g) = self.groups.get_mut(&name) {
                            g.listed = false;
                        }
                        continue;
                    }
                }
            } else {
                let Some(seq) = self.pop_ready() else {
                    break;
                };
                seq
            };
            taken.extend(self.take(seq));
        }
        taken
    }

    /// Deletes every message (PurgeQueue), and on a FIFO queue its deduplication window: SQS
    /// delivers a message sent after a purge even with a deduplication id used before it.
    pub fn purge(&mut self, ops: &mut Vec<StoreOp>) {
        self.dedup.clear();
        self.unpublished.clear();
        self.contents.clear();
        self.messages.clear();
        self.ready.clear();
        self.timers.clear();
        self.groups.clear();
        self.ready_groups.clear();
        self.attempts.clear();
        self.n_ready = 0;
        self.n_inflight = 0;
        self.n_delayed = 0;
        ops.push(StoreOp::Purge(self.queue_id));
    }
}
