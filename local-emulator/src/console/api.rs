//! The console's JSON API (`/console/api/…`, documented in docs/console.md). Reads come from
//! the queue engine directly (browsing copies messages without receiving them); every change
//! (send, purge, redrive) runs the SQS action itself, so it is validated and answered exactly
//! as the SQS API would.
//!
//! Queues are addressed as `queues/<region>/<account>/<name>`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};

use super::{AppView, Caller, error, json_response};
use crate::actions::{self, Context};
use crate::error::{ErrorCode, SqsError};
use crate::move_tasks::MoveTasks;
use crate::queue::message::{Content, State};
use crate::queue::{Delivery, Queue};
use crate::sqs::Sqs;
use crate::store::Fetched;

/// Messages one browse returns at most (and by default).
pub const MAX_BROWSE: usize = 100;
const DEFAULT_BROWSE: usize = 20;

pub struct Request<'a> {
    pub sqs: &'a Arc<Sqs>,
    pub move_tasks: &'a Arc<MoveTasks>,
    pub app: Option<Arc<dyn AppView>>,
    /// The signer when credentials are required; otherwise any queue may be seen.
    pub caller: Option<Caller>,
    pub host: String,
    pub method: &'a Method,
    pub query: &'a str,
    pub body: &'a [u8],
}

pub async fn handle(req: &Request<'_>, path: &str) -> Response {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let get = *req.method == Method::GET;
    let post = *req.method == Method::POST;
    let result = match parts.as_slice() {
        ["queues"] if get => Ok(json!({ "queues": list(req) })),
        ["queues", region, account, name, rest @ ..] => match req.queue(region, account, name) {
            Ok(queue) => on_queue(req, &queue, rest, get, post).await,
            Err(e) => Err(e),
        },
        ["app"] if get => Ok(json!({
            "app": req.app.as_ref().map(|app| app.snapshot()),
        })),
        ["functions", function, "logs"] if get => {
            let after = param(req.query, "after")
                .and_then(|a| a.parse().ok())
                .unwrap_or(0);
            match req.app.as_ref().and_then(|app| app.logs(function, after)) {
                Some(logs) => Ok(logs),
                None => Err(not_found(&format!("no function {function} is running"))),
            }
        }
        _ => Err(not_found(&format!(
            "{} /console/api/{path} is not part of the console API (see docs/console.md)",
            req.method
        ))),
    };
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => error(&e),
    }
}

async fn on_queue(
    req: &Request<'_>,
    queue: &Arc<Queue>,
    rest: &[&str],
    get: bool,
    post: bool,
) -> Result<Value, SqsError> {
    match rest {
        [] if get => Ok(req.describe(
            queue,
            &dead_letter_sources(req.sqs, std::slice::from_ref(queue)),
        )),
        ["messages"] if get => {
            let limit = match param(req.query, "limit") {
                None => DEFAULT_BROWSE,
                Some(text) => text
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_BROWSE).contains(n))
                    .ok_or_else(|| {
                        SqsError::invalid_value(
                            text,
                            "limit",
                            &format!("Must be between 1 and {MAX_BROWSE}."),
                        )
                    })?,
            };
            Ok(json!({ "messages": browse(req.sqs, queue, limit).await }))
        }
        ["messages"] if post => {
            // SendMessage's own request, with the queue from the path.
            let mut body = object(req.body)?;
            body.insert(
                "QueueUrl".into(),
                req.context(queue).queue_url(queue).into(),
            );
            req.action(queue, "SendMessage", &Value::Object(body)).await
        }
        ["purge"] if post => {
            let body = json!({ "QueueUrl": req.context(queue).queue_url(queue) });
            req.action(queue, "PurgeQueue", &body).await
        }
        ["redrive"] if post => {
            // StartMessageMoveTask with this queue as the source; the body may name a
            // DestinationArn and MaxNumberOfMessagesPerSecond.
            let mut body = if req.body.is_empty() {
                serde_json::Map::new()
            } else {
                object(req.body)?
            };
            body.insert("SourceArn".into(), queue.arn.clone().into());
            req.action(queue, "StartMessageMoveTask", &Value::Object(body))
                .await
        }
        ["redrive"] if get => {
            let body = json!({ "SourceArn": queue.arn, "MaxResults": 10 });
            req.action(queue, "ListMessageMoveTasks", &body).await
        }
        _ => Err(not_found("no such queue resource in the console API")),
    }
}

impl Request<'_> {
    fn context(&self, queue: &Queue) -> Context {
        Context {
            sqs: self.sqs.clone(),
            region: queue.region.clone(),
            account: self
                .caller
                .as_ref()
                .map_or_else(|| queue.account.clone(), |c| c.account.clone()),
            host: self.host.clone(),
            trace_header: None,
            signer: self.caller.as_ref().and_then(|c| c.signer.clone()),
            move_tasks: self.move_tasks.clone(),
        }
    }

    fn queue(&self, region: &str, account: &str, name: &str) -> Result<Arc<Queue>, SqsError> {
        let queue = self
            .sqs
            .queue(region, account, name)
            .ok_or_else(SqsError::queue_does_not_exist)?;
        self.may_see(&queue)?;
        Ok(queue)
    }

    /// With credentials, a signer sees its own account's queues (changes to another
    /// account's queue are also checked against the queue policy by the action itself).
    fn may_see(&self, queue: &Queue) -> Result<(), SqsError> {
        match self.caller.as_ref().map(|c| &c.account) {
            Some(account) if *account != queue.account => Err(SqsError::new(
                ErrorCode::AccessDenied,
                format!(
                    "Access to the queue {} of account {} is denied.",
                    queue.name, queue.account
                ),
            )),
            _ => Ok(()),
        }
    }

    async fn action(&self, queue: &Queue, action: &str, body: &Value) -> Result<Value, SqsError> {
        let ctx = self.context(queue);
        let bytes = serde_json::to_vec(body).expect("JSON serializes");
        let out = actions::dispatch(&ctx, action, &bytes).await?;
        Ok(serde_json::from_slice(&out).unwrap_or_else(|_| json!({})))
    }

    /// A queue as the console shows it; `sources` maps a dead-letter queue's ARN to the names
    /// of the queues whose redrive policy targets it.
    fn describe(&self, queue: &Queue, sources: &HashMap<String, Vec<String>>) -> Value {
        let ctx = self.context(queue);
        let now = self.sqs.now_ms();
        let mut state = queue.lock();
        let mut expired = Vec::new();
        state.tick(now, &mut expired);
        self.sqs.store.submit_detached(expired);
        let (visible, in_flight, delayed) = state.counts();
        let oldest_age_s = state
            .oldest_sent_ms()
            .map(|sent| now.saturating_sub(sent) / 1000);
        let totals = state.totals;
        let mut attributes = serde_json::Map::new();
        for name in crate::queue::attributes::READABLE {
            if let Some(value) = state.attrs.get(name) {
                attributes.insert((*name).to_string(), value.into());
            }
        }
        let redrive = state.attrs.max_receive_count().map(|(max, arn)| {
            json!({
                "deadLetterTargetArn": arn,
                "deadLetterQueue": arn.rsplit(':').next(),
                "maxReceiveCount": max,
            })
        });
        drop(state);
        let sources = sources.get(&queue.arn).cloned().unwrap_or_default();
        json!({
            "name": queue.name,
            "region": queue.region,
            "account": queue.account,
            "url": ctx.queue_url(queue),
            "arn": queue.arn,
            "fifo": queue.fifo,
            "visible": visible,
            "inFlight": in_flight,
            "delayed": delayed,
            "oldestAgeSeconds": oldest_age_s,
            "sent": totals.sent,
            "received": totals.received,
            "deleted": totals.deleted,
            "attributes": attributes,
            "redrive": redrive,
            "deadLetterSources": sources,
        })
    }
}

fn list(req: &Request<'_>) -> Vec<Value> {
    let queues: Vec<Arc<Queue>> = req
        .sqs
        .all_queues()
        .into_iter()
        .filter(|q| req.may_see(q).is_ok())
        .collect();
    let sources = dead_letter_sources(req.sqs, &queues);
    queues.iter().map(|q| req.describe(q, &sources)).collect()
}

/// For each of `dead_letter_queues` that some queue of its account and region redrives into:
/// its ARN → the names of those queues (one pass over every queue).
fn dead_letter_sources(
    sqs: &Sqs,
    dead_letter_queues: &[Arc<Queue>],
) -> HashMap<String, Vec<String>> {
    let wanted: std::collections::HashSet<&str> =
        dead_letter_queues.iter().map(|q| q.arn.as_str()).collect();
    let mut sources: HashMap<String, Vec<String>> = HashMap::new();
    for queue in sqs.all_queues() {
        let target = queue
            .lock()
            .attrs
            .max_receive_count()
            .map(|(_, arn)| arn.to_string());
        // A redrive policy names a queue of the same account and region.
        if let Some(arn) = target.filter(|arn| wanted.contains(arn.as_str())) {
            sources.entry(arn).or_default().push(queue.name.clone());
        }
    }
    sources
}

/// The first `limit` messages in send order, copied: nothing about them changes. A durable
/// queue's contents are read for these alone (never the whole queue), past the readers'
/// cache; one that cannot be read is shown with the reason instead of its body.
async fn browse(sqs: &Sqs, queue: &Queue, limit: usize) -> Vec<Value> {
    let now = sqs.now_ms();
    let peeked = queue.lock().peek(limit);
    let contents = sqs.browse_contents(&peeked).await;
    peeked
        .into_iter()
        .zip(contents)
        .filter_map(|(p, fetched)| {
            let content = match fetched {
                Fetched::Found(content) => Ok(content),
                Fetched::Gone => return None, // deleted since the copy
                Fetched::Unreadable(why) => Err(why),
            };
            Some(describe_message(queue, &p, content, now))
        })
        .collect()
}

fn describe_message(
    queue: &Queue,
    p: &Delivery,
    content: Result<Arc<Content>, String>,
    now: u64,
) -> Value {
    let m = &p.message;
    let state = match m.state {
        State::Ready => "visible",
        State::InFlight if m.visible_at_ms > now => "in flight",
        State::Delayed if m.visible_at_ms > now => "delayed",
        // A timer that has passed but was not applied yet: visible to the next receive.
        _ => "visible",
    };
    let mut value = json!({
        "state": state,
        "sentTimestamp": m.sent_ms,
        "approximateReceiveCount": m.receive_count,
        "approximateFirstReceiveTimestamp": (m.first_receive_ms > 0).then_some(m.first_receive_ms),
        "visibleAt": (state != "visible").then_some(m.visible_at_ms),
        "messageGroupId": m.group.as_deref(),
        "deadLetterQueueSourceArn": p.dead_letter_source.as_deref(),
    });
    let content = match content {
        Ok(content) => content,
        Err(why) => {
            value["unreadable"] = why.into();
            return value;
        }
    };
    let attributes: serde_json::Map<String, Value> = content
        .attributes()
        .map(|all| {
            all.iter()
                .map(|(name, value)| {
                    let mut v = json!({ "DataType": value.data_type });
                    if let Some(s) = &value.string_value {
                        v["StringValue"] = s.clone().into();
                    }
                    if let Some(b) = &value.binary_value {
                        v["BinaryValue"] =
                            base64::engine::general_purpose::STANDARD.encode(b).into();
                    }
                    (name.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default();
    value["messageId"] = crate::queue::message::format_message_id(content.id).into();
    value["body"] = content.body.to_string().into();
    value["md5OfBody"] = crate::queue::message::hex(&content.md5_of_body).into();
    value["senderId"] = content.sender_id().unwrap_or(&queue.account).into();
    value["messageDeduplicationId"] = content.dedup_id().into();
    value["messageAttributes"] = attributes.into();
    value
}

fn object(body: &[u8]) -> Result<serde_json::Map<String, Value>, SqsError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(SqsError::new(
            ErrorCode::InvalidParameterValue,
            "The request body must be a JSON object.",
        )),
    }
}

fn not_found(what: &str) -> SqsError {
    SqsError::new(ErrorCode::ResourceNotFound, what)
}

/// A query parameter's value (the console's parameters are plain: no escapes needed).
fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}
