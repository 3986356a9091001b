//! StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::{Context, required};
use crate::error::{ErrorCode, SqsError, SqsResult};
use crate::move_tasks::{self, MoveTask};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartRequest {
    source_arn: Option<String>,
    destination_arn: Option<String>,
    max_number_of_messages_per_second: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartResponse {
    task_handle: String,
}

fn not_found(parameter: &str) -> SqsError {
    SqsError::new(
        ErrorCode::ResourceNotFound,
        format!("The resource that you specified for the {parameter} parameter doesn't exist."),
    )
}

pub async fn start(ctx: &Context, req: StartRequest) -> SqsResult<StartResponse> {
    let source_arn = required(req.source_arn.as_deref(), "SourceArn")?;
    let source = ctx
        .queue_by_arn(source_arn)
        .ok_or_else(|| not_found("SourceArn"))?;
    let is_dead_letter_queue = ctx
        .sqs
        .queues_of(&source.region, &source.account)
        .iter()
        .any(|q| {
            q.lock()
                .attrs
                .max_receive_count()
                .is_some_and(|(_, arn)| arn == source.arn)
        });
    if !is_dead_letter_queue {
        return Err(SqsError::invalid_parameter(
            "Source queue must be configured as a Dead Letter Queue.",
        ));
    }
    if let Some(destination) = &req.destination_arn {
        ctx.queue_by_arn(destination)
            .ok_or_else(|| not_found("DestinationArn"))?;
    }
    let rate = match req.max_number_of_messages_per_second {
        Some(r) if !(1..=500).contains(&r) => {
            return Err(SqsError::invalid_value(
                r,
                "MaxNumberOfMessagesPerSecond",
                "Must be between 1 and 500.",
            ));
        }
        other => other.map(|r| r as u32),
    };
    let mut tasks = ctx.move_tasks.lock();
    if tasks
        .iter()
        .any(|t| t.source_arn == source.arn && t.is_active())
    {
        return Err(SqsError::invalid_parameter(
            "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
        ));
    }
    let started_ms = ctx.sqs.now_ms();
    let handle = format!("{}-{}", started_ms, tasks.len() + 1);
    // Messages whose visibility timeout has just ended count: apply what is due first.
    let to_move = {
        let mut state = source.lock();
        let mut expired = Vec::new();
        state.tick(started_ms, &mut expired);
        ctx.sqs.store.submit_detached(expired);
        state.counts().0
    };
    let task = Arc::new(MoveTask {
        handle: handle.clone(),
        source_arn: source.arn.clone(),
        destination_arn: req.destination_arn.clone(),
        max_per_second: rate,
        started_ms,
        to_move,
        moved: AtomicU64::new(0),
        cancel: AtomicBool::new(false),
        status: Mutex::new("RUNNING"),
        failure: Mutex::new(None),
    });
    tasks.push(task.clone());
    drop(tasks);
    move_tasks::spawn(ctx.sqs.clone(), source, task);
    Ok(StartResponse {
        task_handle: handle,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRequest {
    source_arn: Option<String>,
    max_results: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResponse {
    results: Vec<TaskView>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskView {
    #[serde(skip_serializing_if = "Option::is_none")]
    task_handle: Option<String>,
    status: String,
    source_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_number_of_messages_per_second: Option<u32>,
    approximate_number_of_messages_moved: u64,
    approximate_number_of_messages_to_move: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
    started_timestamp: u64,
}

pub async fn list(ctx: &Context, req: ListRequest) -> SqsResult<ListResponse> {
    let source_arn = required(req.source_arn.as_deref(), "SourceArn")?;
    ctx.queue_by_arn(source_arn)
        .ok_or_else(|| not_found("SourceArn"))?;
    let max = match req.max_results {
        Some(m) if !(1..=10).contains(&m) => {
            return Err(SqsError::invalid_value(
                m,
                "MaxResults",
                "Must be between 1 and 10.",
            ));
        }
        other => other.unwrap_or(1) as usize,
    };
    let tasks = ctx.move_tasks.lock();
    let results = tasks
        .iter()
        .rev()
        .filter(|t| t.source_arn == source_arn)
        .take(max)
        .map(|t| {
            let status = t.status();
            TaskView {
                // Only a running task has a handle to cancel it with.
                task_handle: (status == "RUNNING").then(|| t.handle.clone()),
                status: status.to_string(),
                source_arn: t.source_arn.clone(),
                destination_arn: t.destination_arn.clone(),
                max_number_of_messages_per_second: t.max_per_second,
                approximate_number_of_messages_moved: t.moved.load(Ordering::Relaxed),
                approximate_number_of_messages_to_move: t.to_move,
                failure_reason: t.failure.lock().unwrap_or_else(|e| e.into_inner()).clone(),
                started_timestamp: t.started_ms,
            }
        })
        .collect();
    Ok(ListResponse { results })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelRequest {
    task_handle: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelResponse {
    approximate_number_of_messages_moved: u64,
}

pub async fn cancel(ctx: &Context, req: CancelRequest) -> SqsResult<CancelResponse> {
    let handle = required(req.task_handle.as_deref(), "TaskHandle")?;
    if handle.is_empty() {
        return Err(SqsError::invalid_parameter(
            "Value for parameter TaskHandle is invalid.",
        ));
    }
    let tasks = ctx.move_tasks.lock();
    let task = tasks
        .iter()
        .find(|t| t.handle == handle && t.status() == "RUNNING")
        .ok_or_else(|| SqsError::new(ErrorCode::ResourceNotFound, "Task does not exist."))?;
    *task.status.lock().unwrap_or_else(|e| e.into_inner()) = "CANCELLING";
    task.cancel.store(true, Ordering::Relaxed);
    Ok(CancelResponse {
        approximate_number_of_messages_moved: task.moved.load(Ordering::Relaxed),
    })
}
