//! Per-message processing with SQS's FIFO rules, and whole-batch handlers.

use std::collections::HashSet;

use crate::bindings;
use crate::{Error, Message};

/// What the host says about this invocation.
#[derive(Debug, Clone)]
pub struct Context {
    pub request_id: String,
    /// When the invocation is cut off, in milliseconds since the Unix epoch.
    pub deadline_ms: u64,
    pub function_name: String,
}

/// A whole batch, for [`crate::export_batch_handler`].
#[derive(Debug, Clone)]
pub struct Batch {
    pub context: Context,
    pub messages: Vec<Message>,
}

impl Batch {
    pub fn new(context: bindings::BatchContext, messages: Vec<bindings::Message>) -> Self {
        Self {
            context: Context {
                request_id: context.request_id,
                deadline_ms: context.deadline_ms,
                function_name: context.function_name,
            },
            messages: messages.into_iter().map(Message::new).collect(),
        }
    }

    /// True when the messages come from a FIFO queue.
    pub fn is_fifo(&self) -> bool {
        self.messages.first().is_some_and(Message::is_fifo)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.messages.iter().map(Message::id)
    }
}

/// Runs `handler` on each message in order and returns the ids of those that failed. On FIFO
/// queues, once a message fails, the later messages of its group are failed without running
/// (they must not overtake it); other groups continue.
pub fn process_messages(
    messages: &[Message],
    mut handler: impl FnMut(&Message) -> Result<(), Error>,
) -> Vec<String> {
    let mut failed = Vec::new();
    let mut failed_groups: HashSet<&str> = HashSet::new();
    for message in messages {
        let group = message
            .is_fifo()
            .then(|| message.group_id().unwrap_or_default());
        if group.is_some_and(|g| failed_groups.contains(g)) {
            failed.push(message.id().to_string());
            continue;
        }
        if let Err(e) = handler(message) {
            eprintln!("message {} failed: {e}", message.id());
            failed.push(message.id().to_string());
            if let Some(group) = group {
                failed_groups.insert(group);
            }
        }
    }
    failed
}

/// Runs a whole-batch handler; an error, or an id that is not in the batch, fails the batch.
pub fn run_batch(
    batch: Batch,
    handler: impl FnOnce(Batch) -> Result<Vec<String>, Error>,
) -> Result<Vec<String>, String> {
    let known: HashSet<String> = batch.ids().map(str::to_string).collect();
    let failed = handler(batch).map_err(|e| e.to_string())?;
    match failed.iter().find(|id| !known.contains(*id)) {
        Some(unknown) => Err(format!(
            "handler reported {unknown:?}, which is not a message of this batch"
        )),
        None => Ok(failed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, body: &str, group: Option<&str>, fifo: bool) -> Message {
        let queue = if fifo { "q.fifo" } else { "q" };
        Message::new(bindings::Message {
            message_id: id.into(),
            receipt_handle: format!("h-{id}"),
            body: body.into(),
            receive_count: 1,
            sent_timestamp: 0,
            first_receive_timestamp: 0,
            sender_id: "000000000000".into(),
            message_group_id: group.map(str::to_string),
            message_deduplication_id: None,
            sequence_number: None,
            other_attributes: Vec::new(),
            message_attributes: Vec::new(),
            md5_of_body: String::new(),
            event_source_arn: format!("arn:aws:sqs:us-east-1:000000000000:{queue}"),
            aws_region: "us-east-1".into(),
        })
    }

    fn fails_on_fail(ran: &mut Vec<String>) -> impl FnMut(&Message) -> Result<(), Error> + '_ {
        move |m| {
            ran.push(m.id().to_string());
            if m.body() == "fail" {
                Err("bad".into())
            } else {
                Ok(())
            }
        }
    }

    #[test]
    fn standard_failures_fail_only_their_message() {
        let messages = [
            message("a", "ok", None, false),
            message("b", "fail", None, false),
            message("c", "ok", None, false),
        ];
        let mut ran = Vec::new();
        let failed = process_messages(&messages, fails_on_fail(&mut ran));
        assert_eq!(failed, ["b"]);
        assert_eq!(ran, ["a", "b", "c"]);
    }

    #[test]
    fn fifo_failure_fails_the_rest_of_its_group_without_running_it() {
        let messages = [
            message("a1", "ok", Some("A"), true),
            message("b1", "ok", Some("B"), true),
            message("a2", "fail", Some("A"), true),
            message("b2", "ok", Some("B"), true),
            message("a3", "ok", Some("A"), true),
        ];
        let mut ran = Vec::new();
        let failed = process_messages(&messages, fails_on_fail(&mut ran));
        assert_eq!(failed, ["a2", "a3"]);
        assert_eq!(
            ran,
            ["a1", "b1", "a2", "b2"],
            "a3 never runs; group B continues"
        );
    }

    #[test]
    fn standard_queues_ignore_groups() {
        // Fair queues carry a MessageGroupId too; a failure there holds nothing back.
        let messages = [
            message("a1", "fail", Some("A"), false),
            message("a2", "ok", Some("A"), false),
        ];
        let mut ran = Vec::new();
        assert_eq!(process_messages(&messages, fails_on_fail(&mut ran)), ["a1"]);
        assert_eq!(ran, ["a1", "a2"]);
    }

    #[test]
    fn batch_handler_ids_are_checked() {
        let context = bindings::BatchContext {
            request_id: "r".into(),
            deadline_ms: 0,
            function_name: "f".into(),
        };
        let records = |ids: &[&str]| {
            ids.iter()
                .map(|id| message(id, "x", None, false).record().clone())
                .collect::<Vec<_>>()
        };
        let batch = Batch::new(context.clone(), records(&["a", "b"]));
        let failed = run_batch(batch, |b| {
            Ok(b.ids()
                .filter(|id| *id == "b")
                .map(str::to_string)
                .collect())
        });
        assert_eq!(failed, Ok(vec!["b".to_string()]));
        let batch = Batch::new(context.clone(), records(&["a"]));
        assert!(run_batch(batch, |_| Ok(vec!["zzz".to_string()])).is_err());
        let batch = Batch::new(context, records(&["a"]));
        assert_eq!(
            run_batch(batch, |_| Err("down".into())),
            Err("down".to_string())
        );
    }

    #[test]
    fn message_accessors() {
        let mut record = message("id-1", r#"{"n":3}"#, Some("g"), true)
            .record()
            .clone();
        record.receive_count = 4;
        record.sent_timestamp = 1_700_000_000_000;
        record
            .other_attributes
            .push(("AWSTraceHeader".into(), "Root=1-abc".into()));
        record.message_attributes.push(bindings::MessageAttribute {
            name: "kind".into(),
            data_type: "String".into(),
            string_value: Some("hook".into()),
            binary_value: None,
        });
        let m = Message::new(record);
        assert_eq!(m.id(), "id-1");
        assert_eq!(m.receive_count(), 4);
        assert_eq!(m.system_attribute("ApproximateReceiveCount").unwrap(), "4");
        assert_eq!(m.system_attribute("MessageGroupId").unwrap(), "g");
        assert_eq!(m.system_attribute("AWSTraceHeader").unwrap(), "Root=1-abc");
        assert!(m.system_attribute("Nope").is_none());
        assert_eq!(m.group_id(), Some("g"));
        assert_eq!(m.attribute("kind"), Some("hook"));
        assert!(m.is_fifo());
        #[derive(serde::Deserialize)]
        struct N {
            n: u32,
        }
        assert_eq!(m.json::<N>().unwrap().n, 3);
        assert!(m.json::<Vec<u8>>().is_err());
        assert_eq!(
            m.sent_at()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
            1_700_000_000_000
        );
    }
}
