//! `lockgate up --watch` end to end: editing a function's source swaps the new code in for
//! the next batch while the batch already running finishes on the old code, no message is
//! lost or processed twice across the swap, and a build that fails (here a syntax error)
//! keeps the old code running and shows the error.

mod harness;

use std::path::Path;

use harness::App;

const RESOURCES: &str = r#"  Dlq:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: work-dlq
  Work:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: work
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Dlq.Arn
        maxReceiveCount: 1
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: worker
      Runtime: python3.12
      Handler: app.handler
      CodeUri: worker/
      Timeout: 30
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
            BatchSize: 1
"#;

fn handler(version: &str) -> String {
    format!(
        "import time\n\
         VERSION = '{version}'\n\
         def handler(event, context):\n\
         \x20   for record in event['Records']:\n\
         \x20       body = record['body']\n\
         \x20       print(f'start {{body}}', flush=True)\n\
         \x20       if body.startswith('slow'):\n\
         \x20           time.sleep(4)\n\
         \x20       print(f'{{VERSION}} {{body}}', flush=True)\n"
    )
}

fn write_handler(dir: &Path, text: &str) {
    // Written aside and renamed in, as editors save: the watcher never sees half a file.
    let tmp = dir.join("worker/.app.py.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join("worker/app.py")).unwrap();
}

/// How many output lines are exactly `line`.
fn count(lines: &[String], line: &str) -> usize {
    lines.iter().filter(|l| *l == line).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_runs_from_the_next_batch_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("worker")).unwrap();
    write_handler(dir.path(), &handler("v1"));
    let root = dir.path().to_path_buf();
    let app = App::start_in_with(
        dir,
        RESOURCES,
        &["--in-memory", "--watch"],
        &[("LOCKGATE_PYTHON_BOOTSTRAP", "builtin")],
    );
    app.wait_log("the watcher", "watching Worker").await;
    app.send("work", &["a1".to_string()], None).await;
    app.wait_output("worker", "v1 runs a1", |l| count(l, "v1 a1") == 1)
        .await;

    // A batch is running on v1 when v2 is saved.
    app.send("work", &["slow".to_string()], None).await;
    app.wait_output("worker", "the slow batch to start", |l| {
        count(l, "start slow") == 1
    })
    .await;
    write_handler(&root, &handler("v2"));
    let during: Vec<String> = (0..20).map(|i| format!("during-{i}")).collect();
    app.send("work", &during, None).await;
    app.wait_log("the swap", "Worker: the new build runs from the next batch")
        .await;
    let after: Vec<String> = (0..20).map(|i| format!("after-{i}")).collect();
    app.send("work", &after, None).await;
    let lines = app
        .wait_output("worker", "every message processed", |l| {
            count(l, "v1 slow") == 1
                && during
                    .iter()
                    .chain(&after)
                    .all(|b| count(l, &format!("v1 {b}")) + count(l, &format!("v2 {b}")) >= 1)
        })
        .await;
    // The running batch finished on the old build; the next ones ran the new one.
    assert_eq!(count(&lines, "v2 slow"), 0, "{lines:#?}");
    for body in &after {
        assert_eq!(
            count(&lines, &format!("v2 {body}")),
            1,
            "{body}: {lines:#?}"
        );
    }
    // Nothing twice, nothing dead-lettered, nothing left.
    for body in during.iter().chain(&after) {
        let runs = count(&lines, &format!("start {body}"));
        assert_eq!(runs, 1, "{body} ran {runs} times: {lines:#?}");
    }
    app.wait_empty("work").await;
    assert_eq!(app.depth("work-dlq").await, (0, 0));

    // A syntax error: the old build keeps running and the error is shown.
    write_handler(&root, "def handler(event, context):\n    return (\n");
    app.wait_log(
        "the failed build",
        "Worker: the build failed; the previous build keeps running",
    )
    .await;
    app.wait_log("Python's message", "SyntaxError").await;
    app.send("work", &["c1".to_string()], None).await;
    app.wait_output("worker", "v2 still runs", |l| count(l, "v2 c1") == 1)
        .await;

    // Fixed again: the next batch runs the fix.
    write_handler(&root, &handler("v3"));
    app.wait_log("the second swap", "rebuilding Worker").await;
    common_wait_swaps(&app, 2).await;
    app.send("work", &["d1".to_string()], None).await;
    app.wait_output("worker", "v3 runs", |l| count(l, "v3 d1") == 1)
        .await;
}

/// Waits until `n` swaps were logged.
async fn common_wait_swaps(app: &App, n: usize) {
    harness::common::eventually("the swaps", || {
        let swaps = app
            .output
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("Worker: the new build runs from the next batch"))
            .count();
        async move { (swaps >= n).then_some(()) }
    })
    .await;
}
