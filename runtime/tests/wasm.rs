//! WASM handlers end to end: aws-sdk-sqs producer → emulator → mapping → the `wasm-probe`
//! component in lockgate's wasmtime host → delete; and the same component behind the Lambda
//! bootstrap (`lockgate-wasm-bootstrap`) driven through the Runtime API. The probe prints
//! `probe <command> <id> <receive count> <tag> <detail>` for each message it completes.

mod harness;

use std::net::TcpListener;

use harness::{App, build_wasm_probe};

/// A WASM probe function on queue `work` (dead-letter queue `work-dlq` after
/// `max_receives`), with `timeout` seconds and these extra event properties.
fn wasm_app(timeout: u32, max_receives: u32, event: &str) -> String {
    format!(
        "{}  Probe:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {{wasm_probe}}
      Handler: wasm_probe.wasm
      Runtime: provided.al2023
      Timeout: {timeout}
      MemorySize: 128
      Events:
        E:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
            FunctionResponseTypes: [ReportBatchItemFailures]
{event}",
        harness::work_queues(timeout, max_receives)
    )
}

fn command(action: &str, tag: &str) -> String {
    format!(r#"{{"do":"{action}","tag":"{tag}"}}"#)
}

/// Tags of the messages the probe completed, in completion order.
fn completed(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with("probe "))
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .collect()
}

async fn dlq_depth(app: &App) -> u64 {
    app.depth("work-dlq").await.0
}

/// Waits until the dead-letter queue holds `n` messages.
async fn wait_dlq(app: &App, n: u64, what: &str) {
    harness::common::eventually(what, || async { (dlq_depth(app).await == n).then_some(()) }).await;
}

/// Waits until the probe completed at least `n` messages; returns its output.
async fn wait_completed(app: &App, n: usize, what: &str) -> Vec<String> {
    app.wait_output("Probe", what, |l| completed(l).len() >= n)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_failures_are_retried_and_dead_lettered() {
    let app = App::start(&wasm_app(2, 2, ""));
    let mut bodies: Vec<String> = (0..8).map(|i| command("ok", &format!("ok{i}"))).collect();
    bodies.push(command("fail", "bad"));
    bodies.push(r#"{"do":"fail-until","attempt":2,"tag":"late"}"#.to_string());
    app.send("work", &bodies, None).await;
    let lines = wait_completed(&app, 9, "nine messages completed").await;
    let done = completed(&lines);
    assert!(done.contains(&"late".to_string()), "{done:?}");
    assert!(!done.contains(&"bad".to_string()), "{done:?}");
    wait_dlq(&app, 1, "the failing message in the DLQ").await;
    app.wait_empty("work").await;
    let late = lines.iter().find(|l| l.contains(" late")).unwrap();
    assert!(
        late.starts_with("probe fail-until ") && late.contains(" 2 late"),
        "{late}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traps_deadlines_and_the_memory_cap_fail_only_their_batch() {
    // One message per batch; a failed batch goes to the DLQ at its first redelivery.
    let mut app = App::start(&wasm_app(2, 1, "            BatchSize: 1\n"));
    let bad = [
        r#"{"do":"trap"}"#.to_string(),
        r#"{"do":"loop"}"#.to_string(),
        r#"{"do":"alloc","mb":400}"#.to_string(),
    ];
    app.send("work", &bad, None).await;
    let good: Vec<String> = (0..3)
        .map(|i| command("ok", &format!("after{i}")))
        .collect();
    app.send("work", &good, None).await;
    wait_dlq(&app, 3, "the three failing batches in the DLQ").await;
    let lines = wait_completed(&app, 3, "the good messages completed").await;
    assert_eq!(completed(&lines).len(), 3, "{lines:?}");
    // Each failure is reported (the timed-out batch may reach the DLQ a moment before its
    // invocation is cut off: its visibility timeout equals the function's timeout).
    for (what, needle) in [
        ("a trap", "batch failed: wasm trap"),
        ("the deadline", "batch failed: task timed out"),
        (
            "the memory cap",
            "batch failed: the guest exceeded its memory cap",
        ),
    ] {
        app.wait_log(&format!("{what} reported"), needle).await;
    }
    assert!(
        app.child().try_wait().unwrap().is_none(),
        "lockgate keeps running"
    );
    // A batch after all that still runs.
    app.send("work", &[command("ok", "last")], None).await;
    app.wait_output("Probe", "the last message", |l| {
        completed(l).contains(&"last".into())
    })
    .await;
    assert_eq!(dlq_depth(&app).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_cannot_open_files_or_sockets() {
    let app = App::start(&wasm_app(5, 1, ""));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let secret = app.dir.path().join("template.yaml");
    let bodies = [
        format!(
            r#"{{"do":"open","path":"{}","expect":"denied","tag":"file"}}"#,
            secret.display()
        ),
        format!(
            r#"{{"do":"connect","addr":"{}","expect":"denied","tag":"socket"}}"#,
            listener.local_addr().unwrap()
        ),
    ];
    app.send("work", &bodies, None).await;
    let lines = wait_completed(&app, 2, "both attempts reported").await;
    assert!(
        lines.iter().any(|l| l.contains(" file denied")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains(" socket denied")),
        "{lines:?}"
    );
    assert!(listener.accept().is_err(), "no connection reached the host");
    assert!(!app.dir.path().join("template.yaml.probe").exists());
    app.wait_empty("work").await;
    assert_eq!(dlq_depth(&app).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_order_holds_across_a_failure_mid_group() {
    let resources = wasm_app(2, 5, "            BatchSize: 10\n")
        .replace(
            "QueueName: work-dlq",
            "QueueName: work-dlq.fifo\n      FifoQueue: true",
        )
        .replace(
            "QueueName: work\n",
            "QueueName: work.fifo\n      FifoQueue: true\n",
        );
    let app = App::start(&resources);
    let bodies = [
        command("ok", "a1"),
        r#"{"do":"fail-until","attempt":2,"tag":"a2"}"#.to_string(),
        command("ok", "a3"),
        command("ok", "a4"),
    ];
    app.send("work.fifo", &bodies, Some("A")).await;
    let lines = wait_completed(&app, 4, "the whole group completed").await;
    assert_eq!(completed(&lines), ["a1", "a2", "a3", "a4"], "{lines:?}");
    app.wait_empty("work.fifo").await;
}

#[test]
fn invoke_runs_a_component_with_the_aws_sample_event() {
    let dir = tempfile::tempdir().unwrap();
    harness::write_template(&dir, &wasm_app(3, 1, ""));
    let sample = harness::crate_dir("events/sqs-sample.json");
    let response = harness::invoke(dir.path(), "Probe", &sample);
    assert_eq!(response, serde_json::json!({"batchItemFailures": []}));
}

/// The same component on "Lambda": the native bootstrap runs as the function's process,
/// fed through lockgate's Runtime API, with the component named by LOCKGATE_COMPONENT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_bootstrap_serves_the_same_component() {
    let component = build_wasm_probe();
    // The visibility timeout (= the function timeout) leaves room for a cold bootstrap on a
    // loaded machine: the process starts and compiles the component before its first event,
    // while the message's visibility runs; at 2 s a slow start let good messages come back
    // and, with maxReceiveCount 1, reach the DLQ.
    let resources = wasm_app(15, 1, "            BatchSize: 1\n")
        .replace(
            "      CodeUri: {wasm_probe}\n      Handler: wasm_probe.wasm\n",
            &format!(
                "      CodeUri: {{wasm_bootstrap}}\n      Handler: bootstrap\n      Environment:\n        Variables:\n          LOCKGATE_COMPONENT: {}\n          LOCKGATE_DELETE_PAYLOADS: 'true'\n",
                component.display()
            ),
        )
        .replace(
            "  Probe:\n    Type: AWS::Serverless::Function\n",
            "  Probe:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: lockgate-wasm-bootstrap\n",
        );
    assert!(resources.contains("lockgate-wasm-bootstrap"), "{resources}");
    let app = App::start(&resources);
    let bodies = [
        command("ok", "one"),
        command("fail", "bad"),
        r#"{"do":"trap"}"#.to_string(),
        command("ok", "two"),
    ];
    app.send("work", &bodies, None).await;
    wait_dlq(&app, 2, "the failed and the trapped message in the DLQ").await;
    let lines = wait_completed(&app, 2, "the good messages completed").await;
    let mut done = completed(&lines);
    done.sort();
    assert_eq!(done, ["one", "two"], "{lines:?}");
    app.wait_empty("work").await;
    // A large payload: the bootstrap fetches it for the guest (as on Lambda, with the
    // function's credentials and S3 endpoint) and deletes it after success.
    let endpoint = send_large(&app, "bootstrap", 1_500_000).await;
    let lines = wait_completed(&app, 3, "the large message completed").await;
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("probe ok ") && l.contains(" bootstrap len:")),
        "{lines:?}"
    );
    app.wait_empty("work").await;
    harness::wait_bucket_empty(&endpoint, "lockgate-payloads").await;
}

/// Sends an `ok` command tagged `tag`, padded past `size` bytes, with `lockgate send --file`
/// (offloaded to the emulator's S3 endpoint); returns the endpoint.
async fn send_large(app: &App, tag: &str, size: usize) -> String {
    let file = app.dir.path().join(format!("{tag}.json"));
    let body = format!(
        r#"{{"do":"ok","tag":"{tag}","pad":"{}"}}"#,
        "y".repeat(size)
    );
    std::fs::write(&file, &body).unwrap();
    harness::send_file(app, &file).await
}

/// `lockgate build` builds both kinds and prints each artifact; misuse gets a clear error, and
/// a function that does not compile shows the compiler's message.
#[test]
fn build_prints_every_artifact_and_the_compilers_errors() {
    let dir = tempfile::tempdir().unwrap();
    let resources = format!(
        "{}{}",
        wasm_app(3, 1, ""),
        harness::PROBE
            .replace("  Probe:", "  Native:")
            .replace("{timeout}", "3")
            .replace("{event}", "")
    );
    harness::write_template(&dir, &resources);
    let lockgate = |args: &[&str]| harness::lockgate(dir.path(), args);
    let out = lockgate(&["build", "--build-profile", "dev"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let artifacts: Vec<(&str, &str)> = stdout.lines().filter_map(|l| l.split_once('\t')).collect();
    assert_eq!(artifacts.len(), 2, "{stdout}");
    for (id, path) in &artifacts {
        assert!(std::path::Path::new(path).is_file(), "{id}: {path}");
    }
    assert!(
        artifacts
            .iter()
            .any(|(id, p)| *id == "Probe" && p.ends_with("wasm_probe.wasm"))
    );
    assert!(
        artifacts
            .iter()
            .any(|(id, p)| *id == "Native" && p.ends_with("/probe"))
    );

    let out = lockgate(&["build", "Nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no function Nope"));

    // A crate that does not compile: the error names the function and quotes rustc.
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(broken.join("src")).unwrap();
    std::fs::write(
        broken.join("Cargo.toml"),
        "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2024\"\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        broken.join("src/main.rs"),
        "fn main() { let n: u32 = \"not a number\"; }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("template.yaml"),
        "Resources:\n  Broken:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: broken\n      Handler: broken\n",
    )
    .unwrap();
    let out = lockgate(&["build", "--build-profile", "dev"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("function Broken: build failed"), "{stderr}");
    assert!(stderr.contains("mismatched types"), "{stderr}");
}

/// A component built by another toolchain: a CodeUri without Cargo.toml that holds the
/// Handler's `.wasm` is run as it is.
#[test]
fn a_prebuilt_component_runs_without_cargo() {
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("prebuilt");
    std::fs::create_dir_all(&code).unwrap();
    std::fs::copy(build_wasm_probe(), code.join("wasm_probe.wasm")).unwrap();
    let resources = wasm_app(3, 1, "").replace(
        "CodeUri: {wasm_probe}",
        &format!("CodeUri: {}", code.display()),
    );
    harness::write_template(&dir, &resources);
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        serde_json::json!({"Records": [
            {"messageId": "m1", "receiptHandle": "h", "body": r#"{"do":"fail"}"#,
             "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
             "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:work", "awsRegion": "us-east-1"}
        ]})
        .to_string(),
    )
    .unwrap();
    let response = harness::invoke(dir.path(), "Probe", &event);
    assert_eq!(
        response,
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m1"}]})
    );
    std::fs::remove_file(code.join("wasm_probe.wasm")).unwrap();
    let out = harness::lockgate(dir.path(), &["build", "--build-profile", "dev"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no Cargo.toml and no built wasm_probe.wasm"),
        "{stderr}"
    );
}

/// A guest has no network, so the host fetches a large payload (a message pointing at an S3
/// object, as `lockgate send --file` and the Extended Clients send it) before the guest
/// runs: the guest's `message.body()` is the payload; with `LOCKGATE_DELETE_PAYLOADS` the
/// object is deleted after success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_receives_a_large_payload_as_its_body() {
    let yaml = wasm_app(10, 3, "").replace(
        "      MemorySize: 128\n",
        "      MemorySize: 128\n      Environment:\n        Variables:\n          LOCKGATE_DELETE_PAYLOADS: 'true'\n",
    );
    let app = App::start(&yaml);
    let endpoint = send_large(&app, "large", 2_000_000).await;
    let lines = wait_completed(&app, 1, "the large message completed").await;
    let line = lines.iter().find(|l| l.starts_with("probe ok ")).unwrap();
    let size = r#"{"do":"ok","tag":"large","pad":""}"#.len() + 2_000_000;
    assert!(line.ends_with(&format!(" large len:{size}")), "{line}");
    app.wait_empty("work").await;
    // The payload is deleted after success (LOCKGATE_DELETE_PAYLOADS).
    harness::wait_bucket_empty(&endpoint, "lockgate-payloads").await;
}
