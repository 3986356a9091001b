//! Acting through a receipt handle: deleting the message and changing its visibility, with
//! the rules each queue type has for old handles.

use std::cmp::Reverse;

use super::message::{Message, State};
use super::QueueState;
use super::receipt::ReceiptHandle;
use crate::error::{SqsError, SqsResult};
use crate::store::StoreOp;

impl QueueState {
    /// Deletes the message a receipt handle names. On a standard queue any handle the
    /// message was received with deletes it; on a FIFO queue only the current one, while its
    /// visibility timeout lasts (SQS: "The receipt handle has expired").
    pub fn delete(
        &mut self,
        handle: &ReceiptHandle,
        raw_handle: &str,
        now_ms: u64,
        ops: &mut Vec<StoreOp>,
    ) -> SqsResult<()> {
        let Some(message) = self
            .messages
            .get(handle.seq)
            .filter(|m| m.salt == handle.salt)
        else {
            return Ok(()); // already gone: deletes are idempotent
        };
        if self.fifo && !is_current_flight(message, handle, now_ms) {
            return Err(ReceiptHandle::expired(raw_handle));
        }
        self.remove(handle.seq);
        self.totals.deleted += 1;
        ops.push(StoreOp::DeleteMessage {
            queue_id: self.queue_id,
            seq: handle.seq,
        });
        Ok(())
    }

    /// Changes the visibility timeout of a received message.
    ///
    /// On a standard queue SQS accepts any handle the message was received with while the
    /// message exists: an in-flight message gets the new timeout (0 makes it visible now), and
    /// one whose timeout already passed becomes invisible again for the new timeout. On a FIFO
    /// queue only the current handle works, while the message is in flight.
    pub fn change_visibility(
        &mut self,
        handle: &ReceiptHandle,
        raw_handle: &str,
        visibility_s: u32,
        now_ms: u64,
        ops: &mut Vec<StoreOp>,
    ) -> SqsResult<()> {
        self.tick(now_ms, ops);
        let Some(message) = self
            .messages
            .get_mut(handle.seq)
            .filter(|m| m.salt == handle.salt && m.state != State::Delayed)
        else {
            return Err(SqsError::invalid_value(
                raw_handle,
                "ReceiptHandle",
                "Message does not exist or is not available for visibility timeout change.",
            ));
        };
        if self.fifo && !is_current_flight(message, handle, now_ms) {
            return Err(ReceiptHandle::expired(raw_handle));
        }
        if message.state == State::Ready {
            if visibility_s > 0 {
                self.hide(handle.seq, now_ms + u64::from(visibility_s) * 1000, ops);
            }
            return Ok(());
        }
        message.visible_at_ms = now_ms + u64::from(visibility_s) * 1000;
        ops.push(StoreOp::UpdateMessage {
            queue_id: self.queue_id,
            seq: handle.seq,
            visible_at_ms: message.visible_at_ms,
            receive_count: message.receive_count,
            first_receive_ms: message.first_receive_ms,
        });
        if visibility_s == 0 {
            self.make_ready(handle.seq);
        } else {
            message.timer_gen = message.timer_gen.wrapping_add(1);
            self.timers.push(Reverse((
                message.visible_at_ms,
                handle.seq,
                message.timer_gen,
            )));
        }
        Ok(())
    }
}

/// Whether `handle` is the one the message's current receive issued, and that receive's
/// visibility timeout has not passed.
fn is_current_flight(message: &Message, handle: &ReceiptHandle, now_ms: u64) -> bool {
    message.receive_count == handle.receive_count
        && message.state == State::InFlight
        && message.visible_at_ms > now_ms
}
