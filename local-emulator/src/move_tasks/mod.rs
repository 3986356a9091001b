//! Message move tasks (StartMessageMoveTask and friends): a background task per source
//! dead-letter queue moves its messages to a destination queue, or each back to the queue it
//! came from. Each step re-homes messages in the store under the source's lock (as a redrive
//! does), so a crash mid-task loses nothing; tasks themselves are not persisted.

pub mod task;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::queue::{Moved, Queue};
use crate::sqs::Sqs;
use crate::store::{IndexRecord, StoreOp};
pub use task::MoveTask;

/// A server's message move tasks, oldest first: made once at start and handed to every
/// request's context (the actions start, list and cancel them here).
#[derive(Default)]
pub struct MoveTasks(std::sync::Mutex<Vec<Arc<MoveTask>>>);

impl MoveTasks {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<MoveTask>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs a task to completion (or cancellation) on the async runtime.
pub fn spawn(sqs: Arc<Sqs>, source: Arc<Queue>, task: Arc<MoveTask>) {
    tokio::spawn(async move {
        let per_step = task
            .max_per_second
            .map_or(100, |r| r.clamp(1, 100) as usize);
        loop {
            if task.cancel.load(Ordering::Relaxed) {
                task.finish("CANCELLED", None);
                return;
            }
            if task.moved.load(Ordering::Relaxed) >= task.to_move {
                task.finish("COMPLETED", None);
                return;
            }
            match step(&sqs, &source, &task, per_step).await {
                Ok(0) => {
                    task.finish("COMPLETED", None);
                    return;
                }
                Ok(_) => {}
                Err(why) => {
                    task.finish("FAILED", Some(why));
                    return;
                }
            }
            if let Some(rate) = task.max_per_second {
                // Paced to the requested rate: `per_step` messages, then a pause.
                tokio::time::sleep(Duration::from_secs_f64(
                    per_step as f64 / f64::from(rate.max(1)),
                ))
                .await;
            } else {
                tokio::task::yield_now().await;
            }
        }
    });
}

/// Moves up to `max` messages; returns how many moved.
async fn step(sqs: &Sqs, source: &Queue, task: &MoveTask, max: usize) -> Result<usize, String> {
    let now = sqs.now_ms();
    let remaining = (task.to_move - task.moved.load(Ordering::Relaxed)) as usize;
    let mut ops = Vec::new();
    let (moved, commit, failure) = {
        let mut state = source.lock();
        let taken = state.take_for_move(max.min(remaining), now, &mut ops);
        let mut moved = Vec::with_capacity(taken.len());
        let mut failure = None;
        for m in taken {
            let destination_arn = task
                .destination_arn
                .clone()
                .or_else(|| m.dead_letter_source.as_deref().map(str::to_string));
            let destination = destination_arn
                .as_deref()
                .and_then(|arn| sqs.queue_by_arn(arn));
            match (destination, &failure) {
                (Some(queue), None) => {
                    let m = redriven(m);
                    ops.push(StoreOp::MoveMessage {
                        from: source.id,
                        to: Box::new(IndexRecord::moved(queue.id, &m)),
                    });
                    moved.push((queue, m));
                }
                _ => {
                    // Nowhere to go (or the task is stopping): it stays in the source.
                    state.insert_moved(m, now);
                    failure.get_or_insert_with(|| {
                        format!(
                            "destination {} does not exist",
                            destination_arn.unwrap_or_else(|| {
                                "(message has no DeadLetterQueueSourceArn)".into()
                            })
                        )
                    });
                }
            }
        }
        (moved, sqs.store.submit(ops), failure)
    };
    commit.await.map_err(|e| e.to_string())?;
    let count = moved.len();
    for (queue, m) in moved {
        queue.lock().insert_moved(m, now);
        queue.notify.notify_waiters();
    }
    task.moved.fetch_add(count as u64, Ordering::Relaxed);
    match failure {
        Some(why) => Err(why),
        None => Ok(count),
    }
}

/// A message starts over in its destination: visible now, never received, from no
/// dead-letter queue.
fn redriven(mut m: Moved) -> Moved {
    m.message.receive_count = 0;
    m.message.first_receive_ms = 0;
    m.message.visible_at_ms = 0;
    m.dead_letter_source = None;
    m
}
