//! What the request fuzz targets share: one in-memory emulator (with a standard and a FIFO
//! queue, and a message in flight) and a runtime to run its actions on.

use std::sync::{Arc, OnceLock};

use lockgate_emulator::actions::{self, Context};
use lockgate_emulator::error::SqsResult;
use lockgate_emulator::Config;
use lockgate_emulator::sqs::Sqs;

/// Every action, for targets that pick one from a byte.
pub const ACTIONS: &[&str] = &[
    "AddPermission",
    "CancelMessageMoveTask",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "CreateQueue",
    "DeleteMessage",
    "DeleteMessageBatch",
    "DeleteQueue",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "ListMessageMoveTasks",
    "ListQueueTags",
    "ListQueues",
    "PurgeQueue",
    "ReceiveMessage",
    "RemovePermission",
    "SendMessage",
    "SendMessageBatch",
    "SetQueueAttributes",
    "StartMessageMoveTask",
    "TagQueue",
    "UntagQueue",
];

pub struct Emulator {
    runtime: tokio::runtime::Runtime,
    sqs: Arc<Sqs>,
}

impl Emulator {
    pub fn get() -> &'static Emulator {
        static EMULATOR: OnceLock<Emulator> = OnceLock::new();
        EMULATOR.get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            let emulator = Emulator {
                sqs: Sqs::in_memory(Config::default()),
                runtime,
            };
            for body in [
                r#"{"QueueName":"q"}"#,
                r#"{"QueueName":"f.fifo","Attributes":{"FifoQueue":"true"}}"#,
            ] {
                let _ = emulator.dispatch("CreateQueue", body.as_bytes());
            }
            let _ = emulator.dispatch(
                "SendMessage",
                br#"{"QueueUrl":"http://localhost/000000000000/q","MessageBody":"m"}"#,
            );
            // As during shutdown: long polls return at once instead of waiting up to 20 s.
            emulator.sqs.close();
            emulator
        })
    }

    /// Runs one action on the shared emulator.
    pub fn dispatch(&self, action: &str, body: &[u8]) -> SqsResult<Vec<u8>> {
        let ctx = Context {
            sqs: self.sqs.clone(),
            region: "us-east-1".into(),
            account: "000000000000".into(),
            host: "localhost".into(),
            trace_header: None,
            signer: None,
            move_tasks: Default::default(),
        };
        self.runtime
            .block_on(actions::dispatch(&ctx, action, body))
    }
}
