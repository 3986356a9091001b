//! What every request of a server shares: the SQS state, the message move tasks and the S3
//! endpoint's objects side by side, the connection and body limits, the browser origins allowed, and the app attached for
//! the console. The router hands each surface the parts it needs.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::console;
use crate::limits::Limits;
use crate::move_tasks::MoveTasks;
use crate::s3::Objects;
use crate::sqs::Sqs;

pub struct Shared {
    pub sqs: Arc<Sqs>,
    /// The S3-compatible endpoint's buckets and objects (in the same data directory as the
    /// queues, under the same keyring).
    pub objects: Objects,
    /// The message move tasks the actions start, list and cancel.
    pub move_tasks: Arc<MoveTasks>,
    pub(crate) limits: Limits,
    pub(crate) allowed_origins: Vec<String>,
    /// Body bytes that may be buffered at once, across connections (in KiB).
    pub(crate) body_budget: Semaphore,
    /// The app shown in the console and `/metrics`, once one is attached.
    pub app: console::Attached,
}

impl Shared {
    pub fn new(
        sqs: Arc<Sqs>,
        objects: Objects,
        move_tasks: Arc<MoveTasks>,
        limits: Limits,
        allowed_origins: Vec<String>,
        app: console::Attached,
    ) -> Self {
        let kib = limits.max_buffered_body_bytes.div_ceil(1024);
        Self {
            sqs,
            objects,
            move_tasks,
            body_budget: Semaphore::new(kib),
            limits,
            allowed_origins,
            app,
        }
    }
}
