//! Receives: standard queues oldest visible first, FIFO queues group by group from each head;
//! FIFO receive attempts replayed; messages past the redrive policy's maximum taken out for the
//! dead-letter queue in the same commit.

use std::cmp::Reverse;
use std::sync::Arc;

use super::message::State;
use super::{
    Attempt, DEDUP_WINDOW_MS, Delivery, FIFO_INFLIGHT_LIMIT, Moved, QueueState, ReceiveOptions,
    STANDARD_INFLIGHT_LIMIT,
};
use crate::error::{ErrorCode, SqsError, SqsResult};
use crate::store::{IndexRecord, StoreOp};

impl QueueState {
    /// Receives up to `opts.max` visible messages, making them in flight. Messages whose
    /// receive count already reached the redrive policy's maximum are removed and returned in
    /// `moved` for the caller to put on the dead-letter queue.
    pub fn receive(
        &mut self,
        opts: &ReceiveOptions<'_>,
        now_ms: u64,
        ops: &mut Vec<StoreOp>,
        moved: &mut Vec<Moved>,
    ) -> SqsResult<Vec<Delivery>> {
        self.tick(now_ms, ops);
        if let Some(attempt_id) = opts.attempt_id
            && let Some(previous) = self.replay_attempt(attempt_id)
        {
            return Ok(previous);
        }
        if !self.fifo && self.n_inflight >= STANDARD_INFLIGHT_LIMIT && self.n_ready > 0 {
            return Err(SqsError::new(
                ErrorCode::OverLimit,
                "Too many messages in flight.",
            ));
        }
        let mut out = Vec::new();
        if self.fifo {
            self.receive_fifo(opts, now_ms, ops, moved, &mut out);
        } else {
            self.receive_standard(opts, now_ms, ops, moved, &mut out);
        }
        if let Some(attempt_id) = opts.attempt_id {
            let expires_ms = now_ms + DEDUP_WINDOW_MS;
            let deliveries = out
                .iter()
                .map(|d| (d.seq, d.message.receive_count))
                .collect();
            self.attempts
                .insert(attempt_id.to_string(), expires_ms, Attempt { deliveries });
        }
        Ok(out)
    }

    /// A retried FIFO receive with the same attempt id gets the same messages and handles,
    /// as long as they are all still in flight from that receive.
    fn replay_attempt(&self, attempt_id: &str) -> Option<Vec<Delivery>> {
        let attempt = self.attempts.get(attempt_id)?;
        let mut out = Vec::with_capacity(attempt.deliveries.len());
        for (seq, count) in &attempt.deliveries {
            let message = self.messages.get(*seq)?;
            if message.receive_count != *count || message.state != State::InFlight {
                return None;
            }
            out.push(self.copy_out(*seq, message));
        }
        (!out.is_empty()).then_some(out)
    }

    fn receive_standard(
        &mut self,
        opts: &ReceiveOptions<'_>,
        now_ms: u64,
        ops: &mut Vec<StoreOp>,
        moved: &mut Vec<Moved>,
        out: &mut Vec<Delivery>,
    ) {
        while out.len() < opts.max {
            let Some(seq) = self.pop_ready() else {
                break;
            };
            if self.exceeds_receives(seq, opts) {
                self.move_out(seq, opts, moved, ops);
                continue;
            }
            out.push(self.deliver(seq, opts.visibility_s, now_ms, ops));
        }
    }

    /// The next visible message of a standard queue, skipping stale ready entries.
    pub(super) fn pop_ready(&mut self) -> Option<u64> {
        while let Some(Reverse(seq)) = self.ready.pop() {
            let current = self
                .messages
                .get(seq)
                .is_some_and(|m| m.state == State::Ready);
            if current {
                return Some(seq);
            }
        }
        None
    }

    fn receive_fifo(
        &mut self,
        opts: &ReceiveOptions<'_>,
        now_ms: u64,
        ops: &mut Vec<StoreOp>,
        moved: &mut Vec<Moved>,
        out: &mut Vec<Delivery>,
    ) {
        while out.len() < opts.max && self.n_inflight < FIFO_INFLIGHT_LIMIT {
            let Some(name) = self.ready_groups.pop_front() else {
                break;
            };
            match self.groups.get_mut(&name) {
                Some(group) => group.listed = false,
                None => continue,
            }
            // From the head on, take visible messages in order; stop at the first that is
            // not (in flight or delayed): nothing behind it may be delivered first.
            let mut next = 0;
            loop {
                if out.len() >= opts.max || self.n_inflight >= FIFO_INFLIGHT_LIMIT {
                    break;
                }
                let Some(&seq) = self.groups.get(&name).and_then(|g| g.seqs.get(next)) else {
                    break;
                };
                if self.messages.get(seq).map(|m| m.state) != Some(State::Ready) {
                    break;
                }
                if self.exceeds_receives(seq, opts) {
                    self.move_out(seq, opts, moved, ops);
                    continue;
                }
                out.push(self.deliver(seq, opts.visibility_s, now_ms, ops));
                next += 1;
            }
            self.list_group_if_ready(&name);
        }
    }

    fn exceeds_receives(&self, seq: u64, opts: &ReceiveOptions<'_>) -> bool {
        match (&opts.redrive, self.messages.get(seq)) {
            (Some(redrive), Some(m)) => m.receive_count >= redrive.max_receive_count,
            _ => false,
        }
    }

    /// Takes a message out for the dead-letter queue. The store op that re-homes it (and
    /// records its source) is written here, in the same commit as this receive, so a crash
    /// cannot lose it between the two queues; the caller then puts it into the DLQ's memory.
    fn move_out(
        &mut self,
        seq: u64,
        opts: &ReceiveOptions<'_>,
        moved: &mut Vec<Moved>,
        ops: &mut Vec<StoreOp>,
    ) {
        let Some(redrive) = &opts.redrive else {
            return;
        };
        if let Some(mut out) = self.take(seq) {
            out.dead_letter_source = Some(Arc::from(redrive.source_arn));
            ops.push(StoreOp::MoveMessage {
                from: self.queue_id,
                to: Box::new(IndexRecord::moved(redrive.dead_letter_queue_id, &out)),
            });
            moved.push(out);
        }
    }

    /// Removes a message to move it to another queue.
    pub(super) fn take(&mut self, seq: u64) -> Option<Moved> {
        let content = self.contents.get(&seq).cloned();
        let message = self.remove(seq)?;
        let dead_letter_source = self.source_arn(message.dead_letter_source);
        Some(Moved {
            seq,
            message,
            content,
            dead_letter_source,
        })
    }

    fn deliver(
        &mut self,
        seq: u64,
        visibility_s: u32,
        now_ms: u64,
        ops: &mut Vec<StoreOp>,
    ) -> Delivery {
        let message = self
            .messages
            .get_mut(seq)
            .expect("delivering a present message");
        message.receive_count += 1;
        if message.first_receive_ms == 0 {
            message.first_receive_ms = now_ms;
        }
        message.state = State::InFlight;
        message.timer_gen = message.timer_gen.wrapping_add(1);
        message.visible_at_ms = now_ms + u64::from(visibility_s) * 1000;
        self.timers
            .push(Reverse((message.visible_at_ms, seq, message.timer_gen)));
        ops.push(StoreOp::UpdateMessage {
            queue_id: self.queue_id,
            seq,
            visible_at_ms: message.visible_at_ms,
            receive_count: message.receive_count,
            first_receive_ms: message.first_receive_ms,
        });
        let message = message.clone();
        let delivery = self.copy_out(seq, &message);
        self.n_ready -= 1;
        self.n_inflight += 1;
        self.totals.received += 1;
        delivery
    }
}
