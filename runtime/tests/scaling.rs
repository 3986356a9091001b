//! Spiky workloads end to end: a burst, the scale-down when the queue goes idle, a second
//! burst that reaches the first one's concurrency (standard and FIFO queues), and several
//! `lockgate up` workers sharing one queue. Concurrency is what the probe function itself
//! counts (invocations running at once, across its processes), not what the scaler intends.

mod harness;

use std::collections::HashMap;
use std::sync::Arc;

use harness::{App, PROBE, app_yaml, common};
use lockgate_runtime::esm::MappingStats;

/// The most invocations the probe saw running at once in its log lines from `from` on.
fn peak_concurrency(app: &App, from: usize) -> u32 {
    app.log()[from..]
        .iter()
        .filter_map(|l| l.strip_prefix("concurrency "))
        .map(|n| n.parse::<u32>().unwrap())
        .max()
        .unwrap_or(0)
}

/// Waits until the mapping has retired its burst pollers: back to the five it started with.
async fn wait_scaled_down(stats: &Arc<MappingStats>) {
    common::eventually("the mapping to scale down to 5 pollers", || {
        let pollers = MappingStats::get(&stats.pollers);
        let target = MappingStats::get(&stats.target);
        async move { (pollers == 5 && target == 5).then_some(()) }
    })
    .await;
}

/// Each body once, on its first delivery.
fn each_once(done: &[(String, u32)], expected: usize) {
    let mut seen: HashMap<&str, u32> = HashMap::new();
    for (body, attempt) in done {
        assert_eq!(*attempt, 1, "{body} was redelivered");
        *seen.entry(body.as_str()).or_default() += 1;
    }
    assert_eq!(seen.len(), expected);
    assert!(seen.values().all(|&n| n == 1), "a message ran twice");
}

fn sleepers(burst: usize, count: usize, ms: u64) -> Vec<String> {
    (0..count)
        .map(|i| format!(r#"{{"do":"sleep","ms":{ms},"n":{}}}"#, burst * count + i))
        .collect()
}

/// Standard queue, MaximumConcurrency 20: the first burst reaches 20 concurrent invocations,
/// the idle queue brings the mapping back to 5, and the second burst reaches 20 again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_burst_scales_as_far_as_the_first() {
    const BURST: usize = 2000;
    let app = App::in_process(&app_yaml(
        "      VisibilityTimeout: 120\n",
        30,
        "            BatchSize: 10\n            ScalingConfig:\n              MaximumConcurrency: 20\n",
    ))
    .await;
    let stats = app.report().mappings()[0].stats.clone();
    // 50 ms a message, 500 ms a batch: a backlog that outlasts the climb from 5 to 20.
    app.send("work", &sleepers(0, BURST, 50), None).await;
    app.wait_done(BURST).await;
    let first = peak_concurrency(&app, 0);
    assert_eq!(first, 20, "the first burst reaches MaximumConcurrency");

    wait_scaled_down(&stats).await;
    let mark = app.log().len();
    app.send("work", &sleepers(1, BURST, 50), None).await;
    app.wait_done(2 * BURST).await;
    let second = peak_concurrency(&app, mark);
    assert_eq!(
        second, first,
        "the second burst reaches the first one's concurrency"
    );
    each_once(&app.done(), 2 * BURST);
    app.wait_empty("work").await;
    assert_eq!(MappingStats::get(&stats.messages_failed), 0);
    app.stop().await;
}

/// FIFO queue with 20 active message groups and no MaximumConcurrency: each burst runs one
/// batch per group at a time — 20 at once, never more — in order within every group, and the
/// second burst, after the scale-down, reaches the same 20.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_queue_scales_to_its_active_groups_burst_after_burst() {
    const GROUPS: usize = 20;
    const PER_GROUP: usize = 100;
    let yaml = format!(
        "  Dlq:\n    Type: AWS::SQS::Queue\n    Properties:\n      FifoQueue: true\n  Work:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: work.fifo\n      FifoQueue: true\n      VisibilityTimeout: 120\n{}",
        PROBE
            .replace("{timeout}", "30")
            .replace("{event}", "            BatchSize: 10\n")
    );
    let app = App::in_process(&yaml).await;
    let stats = app.report().mappings()[0].stats.clone();
    let burst = |n: usize| {
        let app = &app;
        async move {
            for g in 0..GROUPS {
                let bodies: Vec<String> = (0..PER_GROUP)
                    .map(|i| format!(r#"{{"do":"sleep","ms":50,"n":"{n}-{g}-{i:03}"}}"#))
                    .collect();
                // A group of its own per burst: deduplication ids repeat per group.
                app.send("work.fifo", &bodies, Some(&format!("g{g}-b{n}")))
                    .await;
            }
        }
    };
    burst(0).await;
    app.wait_done(GROUPS * PER_GROUP).await;
    let first = peak_concurrency(&app, 0);
    assert_eq!(first, GROUPS as u32, "one batch per active group at once");

    wait_scaled_down(&stats).await;
    let mark = app.log().len();
    burst(1).await;
    app.wait_done(2 * GROUPS * PER_GROUP).await;
    let second = peak_concurrency(&app, mark);
    assert_eq!(
        second, first,
        "the second burst reaches the first one's concurrency"
    );

    let done = app.done();
    each_once(&done, 2 * GROUPS * PER_GROUP);
    // In order within each group.
    let mut last: HashMap<String, String> = HashMap::new();
    for (body, _) in &done {
        let n = body
            .rsplit_once(r#""n":""#)
            .unwrap()
            .1
            .trim_end_matches("\"}");
        let (group, index) = n.rsplit_once('-').unwrap();
        if let Some(before) = last.insert(group.to_string(), index.to_string()) {
            assert!(
                *before < *index,
                "group {group}: {index} ran after {before}"
            );
        }
    }
    app.stop().await;
}

/// Scale-out as teams run it against real SQS: two `lockgate up --endpoint URL` workers on
/// the same queue share the work; every message is processed once (its visibility timeout
/// never runs out) and both workers take part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_on_one_queue_share_the_work_and_process_each_message_once() {
    const MESSAGES: usize = 1500;
    let emulator =
        lockgate_emulator::RunningEmulator::start(lockgate_emulator::EmulatorConfig::ephemeral())
            .await
            .unwrap();
    let endpoint = emulator.endpoint();
    let template = app_yaml(
        "      VisibilityTimeout: 120\n",
        30,
        "            BatchSize: 10\n",
    );
    let workers: Vec<App> = (0..2)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let (child, embedded, output) =
                App::launch(&dir, &template, &["--endpoint", &endpoint], &[]);
            assert!(embedded.is_none(), "a worker runs no emulator of its own");
            App {
                runner: harness::Runner::Process(child),
                client: common::client(&endpoint, "AKIDEXAMPLE"),
                dir,
                output,
            }
        })
        .collect();
    // 20 ms a message: long enough that both workers' pollers find a backlog.
    workers[0]
        .send("work", &sleepers(0, MESSAGES, 20), None)
        .await;
    common::eventually("every message processed by one worker or the other", || {
        let done: usize = workers.iter().map(|w| w.done().len()).sum();
        async move { (done >= MESSAGES).then_some(()) }
    })
    .await;
    workers[0].wait_empty("work").await;
    let shares: Vec<usize> = workers.iter().map(|w| w.done().len()).collect();
    assert!(
        shares.iter().all(|&n| n > 0),
        "both workers took part: {shares:?}"
    );
    let done: Vec<(String, u32)> = workers.iter().flat_map(App::done).collect();
    each_once(&done, MESSAGES);
    drop(workers);
    emulator.shutdown().await;
}
