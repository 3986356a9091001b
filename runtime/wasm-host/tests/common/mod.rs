//! Shared by the host tests: batches of messages and invocations.
#![allow(dead_code)]

use std::time::{Duration, SystemTime};

use lockgate_wasm_host::Invocation;
use lockgate_wasm_host::Message;

/// A message of queue `q`, or of `q.fifo` in `group`.
pub fn message(id: &str, body: &str, group: Option<&str>) -> Message {
    let queue = if group.is_some() { "q.fifo" } else { "q" };
    Message {
        message_id: id.into(),
        receipt_handle: format!("rh-{id}"),
        body: body.into(),
        receive_count: 1,
        sent_timestamp: 1_700_000_000_000,
        first_receive_timestamp: 1_700_000_000_001,
        sender_id: "000000000000".into(),
        message_group_id: group.map(str::to_string),
        message_deduplication_id: group.map(|_| format!("d-{id}")),
        sequence_number: group.map(|_| "1".into()),
        other_attributes: Vec::new(),
        message_attributes: Vec::new(),
        md5_of_body: String::new(),
        event_source_arn: format!("arn:aws:sqs:us-east-1:000000000000:{queue}"),
        aws_region: "us-east-1".into(),
    }
}

pub fn within(timeout: Duration) -> Invocation {
    Invocation {
        request_id: "req".into(),
        deadline: SystemTime::now() + timeout,
    }
}
