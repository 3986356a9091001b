//! Turning handler outcomes into Lambda's partial batch response, with SQS's FIFO rules.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::{Error, Message};

/// A whole batch, for [`crate::run_batch`].
#[derive(Debug, Clone)]
pub struct Batch {
    pub messages: Vec<Message>,
}

impl Batch {
    /// True when the messages come from a FIFO queue.
    pub fn is_fifo(&self) -> bool {
        self.messages.first().is_some_and(is_fifo_message)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.messages.iter().map(Message::id)
    }
}

fn is_fifo_message(m: &Message) -> bool {
    m.event_source_arn().ends_with(".fifo")
}

fn response(failed: impl IntoIterator<Item = String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// Runs `handler` on each message and reports the failures. Standard queues: up to
/// `concurrency` messages at once. FIFO queues: groups run concurrently, each group's messages
/// in order, and after a failure the rest of that group fails without running. A panic in
/// the handler fails only its message.
pub async fn process_messages<F, Fut>(
    event: SqsEvent,
    concurrency: usize,
    handler: F,
) -> SqsBatchResponse
where
    F: Fn(Message) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    let messages: Vec<Message> = event.records.into_iter().map(Message::new).collect();
    let fifo = messages.first().is_some_and(is_fifo_message);
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    if fifo {
        // Lanes: one per group, in first-seen order; each runs its messages sequentially.
        let mut lanes: Vec<Vec<Message>> = Vec::new();
        let mut lane_of: HashMap<String, usize> = HashMap::new();
        for m in messages {
            let group = m.group_id().unwrap_or_default().to_string();
            let lane = *lane_of.entry(group).or_insert_with(|| {
                lanes.push(Vec::new());
                lanes.len() - 1
            });
            lanes[lane].push(m);
        }
        for lane in lanes {
            let handler = handler.clone();
            let limit = limit.clone();
            tasks.spawn(async move {
                let mut failed = Vec::new();
                for (i, m) in lane.iter().enumerate() {
                    let _permit = limit.acquire().await.expect("semaphore open");
                    if !run_one(handler.clone(), m.clone()).await {
                        failed.extend(lane[i..].iter().map(|m| m.id().to_string()));
                        break;
                    }
                }
                failed
            });
        }
    } else {
        for m in messages {
            let handler = handler.clone();
            let limit = limit.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire().await.expect("semaphore open");
                let id = m.id().to_string();
                if run_one(handler, m).await {
                    Vec::new()
                } else {
                    vec![id]
                }
            });
        }
    }
    let mut failed = Vec::new();
    while let Some(result) = tasks.join_next().await {
        failed.extend(result.unwrap_or_default());
    }
    response(failed)
}

/// Runs the handler on one message in its own task, so a panic is caught and counted as
/// that message's failure.
async fn run_one<F, Fut>(handler: F, message: Message) -> bool
where
    F: Fn(Message) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    let id = message.id().to_string();
    match tokio::spawn(async move { handler(message).await }).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(message_id = %id, error = %e, "message failed");
            false
        }
        Err(e) => {
            tracing::error!(message_id = %id, "handler panicked: {e}");
            false
        }
    }
}

/// Runs a whole-batch handler; the ids it returns must be ids of the batch.
pub async fn process_batch<F, Fut>(event: SqsEvent, handler: F) -> Result<SqsBatchResponse, Error>
where
    F: Fn(Batch) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<String>, Error>> + Send + 'static,
{
    let batch = Batch {
        messages: event.records.into_iter().map(Message::new).collect(),
    };
    let known: HashSet<String> = batch.ids().map(str::to_string).collect();
    let failed = handler(batch).await?;
    if let Some(unknown) = failed.iter().find(|id| !known.contains(*id)) {
        return Err(
            format!("handler reported {unknown:?}, which is not a message of this batch").into(),
        );
    }
    Ok(response(failed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::sqs::SqsMessage;

    fn record(id: &str, body: &str, group: Option<&str>, fifo: bool) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.into());
        m.body = Some(body.into());
        m.event_source_arn = Some(if fifo {
            "arn:aws:sqs:us-east-1:000000000000:q.fifo".into()
        } else {
            "arn:aws:sqs:us-east-1:000000000000:q".into()
        });
        if let Some(g) = group {
            m.attributes.insert("MessageGroupId".into(), g.into());
        }
        m
    }

    fn event(records: Vec<SqsMessage>) -> SqsEvent {
        let mut e = SqsEvent::default();
        e.records = records;
        e
    }

    fn failed_ids(r: &SqsBatchResponse) -> Vec<String> {
        let mut ids: Vec<_> = r
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        ids.sort();
        ids
    }

    #[tokio::test]
    async fn standard_failures_and_panics_fail_only_their_message() {
        let e = event(vec![
            record("a", "ok", None, false),
            record("b", "fail", None, false),
            record("c", "panic", None, false),
            record("d", "ok", None, false),
        ]);
        let r = process_messages(e, 4, |m: Message| async move {
            match m.body() {
                "fail" => Err("bad".into()),
                "panic" => panic!("boom"),
                _ => Ok(()),
            }
        })
        .await;
        assert_eq!(failed_ids(&r), ["b", "c"]);
    }

    #[tokio::test]
    async fn fifo_failure_fails_the_rest_of_its_group_without_running_it() {
        let ran = Arc::new(std::sync::Mutex::new(Vec::new()));
        let e = event(vec![
            record("a1", "ok", Some("A"), true),
            record("b1", "ok", Some("B"), true),
            record("a2", "fail", Some("A"), true),
            record("b2", "ok", Some("B"), true),
            record("a3", "ok", Some("A"), true),
        ]);
        let seen = ran.clone();
        let r = process_messages(e, 4, move |m: Message| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(m.id().to_string());
                if m.body() == "fail" {
                    Err("bad".into())
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(failed_ids(&r), ["a2", "a3"]);
        let ran = ran.lock().unwrap().clone();
        assert!(
            !ran.contains(&"a3".to_string()),
            "a3 must not run after a2 failed"
        );
        let a: Vec<_> = ran.iter().filter(|id| id.starts_with('a')).collect();
        assert_eq!(a, ["a1", "a2"], "group order kept");
        assert!(ran.contains(&"b2".to_string()), "other groups continue");
    }

    #[tokio::test]
    async fn fifo_panic_fails_rest_of_group() {
        let e = event(vec![
            record("a1", "panic", Some("A"), true),
            record("a2", "ok", Some("A"), true),
        ]);
        let r = process_messages(e, 1, |m: Message| async move {
            if m.body() == "panic" {
                panic!("boom")
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!(failed_ids(&r), ["a1", "a2"]);
    }

    #[tokio::test]
    async fn batch_handler_ids_are_checked() {
        let e = event(vec![
            record("a", "x", None, false),
            record("b", "y", None, false),
        ]);
        let r = process_batch(e.clone(), |b: Batch| async move {
            Ok(b.ids()
                .filter(|id| *id == "b")
                .map(str::to_string)
                .collect())
        })
        .await
        .unwrap();
        assert_eq!(failed_ids(&r), ["b"]);
        let err = process_batch(e, |_b: Batch| async move { Ok(vec!["zzz".to_string()]) }).await;
        assert!(err.is_err());
    }

    #[test]
    fn message_accessors() {
        let mut r = record("id-1", r#"{"n":3}"#, Some("g"), true);
        r.attributes
            .insert("ApproximateReceiveCount".into(), "4".into());
        r.attributes
            .insert("SentTimestamp".into(), "1700000000000".into());
        let m = Message::new(r);
        assert_eq!(m.id(), "id-1");
        assert_eq!(m.receive_count(), 4);
        assert_eq!(m.group_id(), Some("g"));
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
