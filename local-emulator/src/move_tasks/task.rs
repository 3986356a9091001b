//! One message move task's settings and progress, shared by the task running it and the
//! actions that list or cancel it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64};

pub struct MoveTask {
    pub handle: String,
    pub source_arn: String,
    /// None: each message returns to the queue named by its DeadLetterQueueSourceArn.
    pub destination_arn: Option<String>,
    pub max_per_second: Option<u32>,
    pub started_ms: u64,
    pub to_move: u64,
    pub moved: AtomicU64,
    pub cancel: AtomicBool,
    pub status: Mutex<&'static str>,
    pub failure: Mutex<Option<String>>,
}

impl MoveTask {
    pub fn status(&self) -> &'static str {
        *self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn finish(&self, status: &'static str, failure: Option<String>) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = status;
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = failure;
    }

    pub fn is_active(&self) -> bool {
        matches!(self.status(), "RUNNING" | "CANCELLING")
    }
}
