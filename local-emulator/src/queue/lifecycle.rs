//! How a message moves between states, and the structures each state lives in: visible in
//! `ready` (standard) or through its group's head (FIFO), delayed or in flight under a timer,
//! unpublished until its send commits; and what time does (timers, retention, windows).

use std::cmp::Reverse;
use std::collections::VecDeque;
use std::sync::Arc;

use super::message::{Message, State};
use super::{Group, QueueState, UNPUBLISHED};
use crate::store::StoreOp;

impl QueueState {
    /// Makes messages whose send has committed receivable (now, or when their delay ends).
    pub fn publish(&mut self, seqs: &[u64], now_ms: u64) {
        for seq in seqs {
            let (Some(at), Some(message)) =
                (self.unpublished.remove(seq), self.messages.get_mut(*seq))
            else {
                continue;
            };
            message.visible_at_ms = at;
            if at <= now_ms {
                self.make_ready(*seq);
            } else {
                self.timers.push(Reverse((at, *seq, message.timer_gen)));
            }
        }
    }

    /// The earliest moment a delayed or in-flight message may become visible, or a message
    /// may reach the end of its retention (which can unlock a FIFO group): when a parked
    /// receive must look again.
    pub fn next_wake_ms(&self) -> Option<u64> {
        let timer = self.timers.peek().map(|Reverse((at, _, _))| *at);
        let retention_ms = u64::from(self.attrs.message_retention_period) * 1000;
        let expiry = self
            .messages
            .first()
            .map(|(_, m)| m.sent_ms + retention_ms);
        match (timer, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Applies everything that is due at `now_ms`: delays and visibility timeouts that ended,
    /// retention expiry, and the end of deduplication windows. Returns true if any message
    /// became visible.
    pub fn tick(&mut self, now_ms: u64, ops: &mut Vec<StoreOp>) -> bool {
        let mut woke = false;
        while let Some(&Reverse((at, seq, gen_))) = self.timers.peek() {
            if at > now_ms {
                break;
            }
            self.timers.pop();
            let due = self
                .messages
                .get(seq)
                .is_some_and(|m| m.timer_gen == gen_ && m.state != State::Ready);
            if due {
                self.make_ready(seq);
                woke = true;
            }
        }
        // Retention: messages expire in send order, from the front of the log.
        let retention_ms = u64::from(self.attrs.message_retention_period) * 1000;
        while let Some((seq, message)) = self.messages.first() {
            if message.sent_ms + retention_ms > now_ms {
                break;
            }
            self.remove(seq);
            ops.push(StoreOp::DeleteMessage {
                queue_id: self.queue_id,
                seq,
            });
        }
        self.dedup.expire(now_ms);
        self.attempts.expire(now_ms);
        woke
    }

    /// Puts a message (new, recovered or moved here) into the structures for its state. Its
    /// `dead_letter_source` must already be an index of this queue's.
    pub fn insert(&mut self, seq: u64, mut message: Message, now_ms: u64) {
        let in_flight = message.receive_count > 0 && message.visible_at_ms > now_ms;
        let delayed = message.receive_count == 0 && message.visible_at_ms > now_ms;
        if self.fifo {
            let group = message.group.clone().unwrap_or_else(|| Arc::from(""));
            let entry = self.groups.entry(group).or_insert_with(|| Group {
                seqs: VecDeque::new(),
                listed: false,
            });
            entry.seqs.push_back(seq);
        }
        message.state = State::Delayed;
        if in_flight || delayed {
            message.state = if in_flight {
                self.n_inflight += 1;
                State::InFlight
            } else {
                self.n_delayed += 1;
                State::Delayed
            };
            if message.visible_at_ms != UNPUBLISHED {
                self.timers
                    .push(Reverse((message.visible_at_ms, seq, message.timer_gen)));
            }
            self.messages.insert(seq, message);
        } else {
            // Counted as delayed for the moment so make_ready's bookkeeping is uniform.
            self.n_delayed += 1;
            self.messages.insert(seq, message);
            self.make_ready(seq);
        }
    }

    pub(super) fn make_ready(&mut self, seq: u64) {
        let Some(message) = self.messages.get_mut(seq) else {
            return;
        };
        match message.state {
            State::Ready => return,
            State::Delayed => self.n_delayed -= 1,
            State::InFlight => self.n_inflight -= 1,
        }
        message.state = State::Ready;
        message.timer_gen = message.timer_gen.wrapping_add(1);
        self.n_ready += 1;
        if self.fifo {
            let group_name = message.group.clone().unwrap_or_else(|| Arc::from(""));
            self.list_group_if_ready(&group_name);
        } else {
            self.ready.push(Reverse(seq));
        }
    }

    /// Puts a FIFO group on the ready list if its head is visible. Only the head matters:
    /// when an in-flight head becomes visible again while later messages of its group are
    /// still in flight, SQS delivers the head again (order is kept: nothing behind the head
    /// is delivered before it).
    pub(super) fn list_group_if_ready(&mut self, name: &Arc<str>) {
        let Some(group) = self.groups.get_mut(name) else {
            return;
        };
        if group.listed {
            return;
        }
        let head_ready = group
            .seqs
            .front()
            .and_then(|seq| self.messages.get(*seq))
            .is_some_and(|m| m.state == State::Ready);
        if head_ready {
            group.listed = true;
            self.ready_groups.push_back(name.clone());
        }
    }

    /// Makes a visible message of a standard queue invisible until `until_ms` (a visibility
    /// change through a handle whose timeout had already passed).
    pub(super) fn hide(&mut self, seq: u64, until_ms: u64, ops: &mut Vec<StoreOp>) {
        let Some(message) = self.messages.get_mut(seq) else {
            return;
        };
        message.state = State::InFlight;
        message.timer_gen = message.timer_gen.wrapping_add(1); // its ready-list entry is stale
        message.visible_at_ms = until_ms;
        self.timers
            .push(Reverse((until_ms, seq, message.timer_gen)));
        ops.push(StoreOp::UpdateMessage {
            queue_id: self.queue_id,
            seq,
            visible_at_ms: until_ms,
            receive_count: message.receive_count,
            first_receive_ms: message.first_receive_ms,
        });
        self.n_ready -= 1;
        self.n_inflight += 1;
    }

    /// Removes a message entirely (delete, expiry, move to another queue).
    pub(super) fn remove(&mut self, seq: u64) -> Option<Message> {
        let message = self.messages.remove(seq)?;
        self.unpublished.remove(&seq);
        self.contents.remove(&seq);
        match message.state {
            State::Ready => self.n_ready -= 1,
            State::InFlight => self.n_inflight -= 1,
            State::Delayed => self.n_delayed -= 1,
        }
        if self.fifo {
            let group_name = message.group.clone().unwrap_or_else(|| Arc::from(""));
            if let Some(group) = self.groups.get_mut(&group_name) {
                if let Some(pos) = group.seqs.iter().position(|s| *s == seq) {
                    group.seqs.remove(pos);
                }
                if group.seqs.is_empty() {
                    self.groups.remove(&group_name);
                } else {
                    self.list_group_if_ready(&group_name);
                }
            }
        }
        Some(message)
    }
}
