//! WASM functions in-process: the component compiled once at start-up, a fresh sandboxed
//! instance per batch (`lockgate-wasm-host`). Concurrency is bounded by the mappings' pollers
//! (one invocation each) and by the engine's instance pool, sized to their sum.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use aws_sdk_sqs::types::MessageSystemAttributeName;
use lockgate_wasm_host::{
    FunctionConfig, Grants, Invocation, LogStyle, WasmEngine, WasmError, WasmFunction,
};
use lockgate_wasm_host::{Message, MessageAttribute};

use super::event::{self, LambdaRecord};
use super::{InvokeError, Invoker, Outcome};

pub struct WasmInvoker {
    function: WasmFunction,
    /// Fetches large payloads (the guest has no network to do it).
    payloads: crate::payloads::Fetcher,
    timeout: Duration,
    requests: AtomicU64,
    /// Keeps the engine (and its epoch ticker) alive as long as a function uses it.
    _engine: Arc<WasmEngine>,
}

impl WasmInvoker {
    /// Loads `function`'s component (already built at `component`) into `engine`.
    pub fn load(
        engine: Arc<WasmEngine>,
        function: &crate::template::FunctionDef,
        component: std::path::PathBuf,
        env: Vec<(String, String)>,
        log: crate::logbook::LineSink,
        payloads: crate::payloads::Fetcher,
    ) -> anyhow::Result<Self> {
        let grants = Grants::from_env(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| anyhow::anyhow!("function {}: {e}", function.logical_id))?;
        let loaded = engine
            .load(FunctionConfig {
                name: function.name.clone(),
                component,
                memory_mb: function.memory_mb,
                env,
                grants,
                log: LogStyle::Lines(log),
            })
            .map_err(|e| anyhow::anyhow!("function {}: {e}", function.logical_id))?;
        Ok(Self {
            function: loaded,
            payloads,
            timeout: Duration::from_secs(u64::from(function.timeout_s)),
            requests: AtomicU64::new(0),
            _engine: engine,
        })
    }

    fn invocation(&self) -> Invocation {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        Invocation {
            request_id: super::process::request_id(n),
            deadline: SystemTime::now() + self.timeout,
        }
    }
}

/// A guest takes the world's messages and answers the failed ids themselves: no JSON in
/// between.
impl Invoker for WasmInvoker {
    type Record = Message;

    fn prepare(
        &self,
        message: aws_sdk_sqs::types::Message,
        queue_arn: &str,
        region: &str,
    ) -> (Message, usize) {
        let len = event::json_len(&LambdaRecord::new(&message, queue_arn, region));
        (self::message(message, queue_arn, region), len)
    }

    async fn invoke(&self, batch: Vec<Message>) -> Outcome {
        let payloads = self.payloads.payloads().await;
        let fetched = lockgate_wasm_host::payloads::fetch(payloads, batch).await;
        if fetched.messages.is_empty() {
            return Outcome::FailedItems(fetched.unfetched);
        }
        let mut failed = match self
            .function
            .handle(&self.invocation(), &fetched.messages)
            .await
        {
            Ok(failed) => failed,
            Err(e) => return Outcome::Error(invoke_error(e)),
        };
        lockgate_wasm_host::payloads::release(payloads, &fetched.pointers, &failed).await;
        failed.extend(fetched.unfetched);
        if failed.is_empty() {
            Outcome::Success
        } else {
            Outcome::FailedItems(failed)
        }
    }

    async fn invoke_event(&self, event: Vec<u8>) -> Result<Vec<u8>, InvokeError> {
        self.function
            .handle_event(&self.invocation(), &event)
            .await
            .map_err(invoke_error)
    }

    fn shutdown(&self) {}
}

fn invoke_error(e: WasmError) -> InvokeError {
    match e {
        WasmError::Handler(message) => InvokeError::Function {
            error_type: "HandlerError".into(),
            message,
        },
        WasmError::Deadline => InvokeError::Timeout,
        e @ (WasmError::MemoryCap(_) | WasmError::Trap(_)) => InvokeError::Trapped(e.to_string()),
        WasmError::Setup(why) => InvokeError::Crashed(why),
    }
}

/// A received message as the world's record: what the JSON event's record holds (see
/// `lockgate_wasm_host::event`), taken straight from the SDK's message.
pub fn message(m: aws_sdk_sqs::types::Message, queue_arn: &str, region: &str) -> Message {
    let mut attributes = m.attributes.unwrap_or_default();
    let mut take = |name: MessageSystemAttributeName| attributes.remove(&name);
    let number = |value: Option<String>| value.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let receive_count = number(take(MessageSystemAttributeName::ApproximateReceiveCount));
    let sent_timestamp = number(take(MessageSystemAttributeName::SentTimestamp));
    let first_receive_timestamp = number(take(
        MessageSystemAttributeName::ApproximateFirstReceiveTimestamp,
    ));
    let sender_id = take(MessageSystemAttributeName::SenderId).unwrap_or_default();
    let message_group_id = take(MessageSystemAttributeName::MessageGroupId);
    let message_deduplication_id = take(MessageSystemAttributeName::MessageDeduplicationId);
    let sequence_number = take(MessageSystemAttributeName::SequenceNumber);
    let mut other_attributes: Vec<(String, String)> = attributes
        .into_iter()
        .map(|(name, value)| (name.as_str().to_string(), value))
        .collect();
    other_attributes.sort();
    let mut message_attributes: Vec<MessageAttribute> = m
        .message_attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(name, a)| MessageAttribute {
            name,
            data_type: a.data_type,
            string_value: a.string_value,
            binary_value: a.binary_value.map(|b| b.into_inner()),
        })
        .collect();
    message_attributes.sort_by(|a, b| a.name.cmp(&b.name));
    Message {
        message_id: m.message_id.unwrap_or_default(),
        receipt_handle: m.receipt_handle.unwrap_or_default(),
        body: m.body.unwrap_or_default(),
        receive_count: u32::try_from(receive_count).unwrap_or(u32::MAX),
        sent_timestamp,
        first_receive_timestamp,
        sender_id,
        message_group_id,
        message_deduplication_id,
        sequence_number,
        other_attributes,
        message_attributes,
        md5_of_body: m.md5_of_body.unwrap_or_default(),
        event_source_arn: queue_arn.to_string(),
        aws_region: region.to_string(),
    }
}

/// The engine for a template's WASM functions: a pool of `instances` (the sum of their
/// mappings' concurrency) with room for the largest memory cap.
pub fn engine(instances: u32, max_memory_mb: u32) -> anyhow::Result<Arc<WasmEngine>> {
    let engine = WasmEngine::new(instances, u64::from(max_memory_mb) * 1024 * 1024)
        .map_err(|e| anyhow::anyhow!("cannot start wasmtime: {e}"))?;
    Ok(Arc::new(engine))
}

#[cfg(test)]
mod tests {
    use aws_sdk_sqs::primitives::Blob;
    use aws_sdk_sqs::types::{Message as SqsMessage, MessageAttributeValue};

    use super::*;
    use crate::invoke::event::{LambdaRecord, assemble};

    fn received(fifo: bool) -> SqsMessage {
        let mut builder = SqsMessage::builder()
            .message_id("m-1")
            .receipt_handle("handle-1")
            .body("{\"order\": \"\\u00e9\\n\"}")
            .md5_of_body("0123")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "3")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1700000000123")
            .attributes(
                MessageSystemAttributeName::ApproximateFirstReceiveTimestamp,
                "1700000000456",
            )
            .attributes(MessageSystemAttributeName::SenderId, "AIDAEXAMPLE")
            .attributes(MessageSystemAttributeName::AwsTraceHeader, "Root=1-abc")
            .message_attributes(
                "z-bin",
                MessageAttributeValue::builder()
                    .data_type("Binary")
                    .binary_value(Blob::new(vec![0u8, 159, 255]))
                    .build()
                    .unwrap(),
            )
            .message_attributes(
                "a-num",
                MessageAttributeValue::builder()
                    .data_type("Number.int")
                    .string_value("42")
                    .build()
                    .unwrap(),
            );
        if fifo {
            builder = builder
                .attributes(MessageSystemAttributeName::MessageGroupId, "g-1")
                .attributes(MessageSystemAttributeName::MessageDeduplicationId, "d-1")
                .attributes(
                    MessageSystemAttributeName::SequenceNumber,
                    "18000000000000000001",
                );
        }
        builder.build()
    }

    /// The records a WASM mapping hands over directly are the records the guest would get from
    /// the JSON event (the path `lockgate invoke` and the Lambda bootstrap take).
    #[test]
    fn a_direct_record_equals_the_record_from_the_json_event() {
        for fifo in [false, true] {
            let (arn, region) = ("arn:aws:sqs:eu-west-1:000000000000:q", "eu-west-1");
            let m = received(fifo);
            let json = serde_json::to_vec(&LambdaRecord::new(&m, arn, region)).unwrap();
            let from_json = lockgate_wasm_host::event::messages(&assemble(&[json])).unwrap();
            let direct = message(m, arn, region);
            assert_eq!(format!("{direct:?}"), format!("{:?}", from_json[0]));
            assert_eq!(direct.receive_count, 3);
            assert_eq!(direct.message_group_id.is_some(), fifo);
            assert_eq!(
                direct.message_attributes[1].binary_value,
                Some(vec![0, 159, 255])
            );
        }
    }
}
