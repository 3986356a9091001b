//! End to end through the real pipeline: aws-sdk-sqs producer → emulator → mapping →
//! the `probe` function binary via the Runtime API → delete. Each test writes a template,
//! runs `lockgate up` as a process, and watches the probe's log and the queues.

mod harness;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use harness::{App, PROBE, app_yaml, cmd, common, process_gone, write_template};
use lockgate_emulator::ManualClock;
use lockgate_runtime::esm::MappingStats;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_is_processed_once() {
    let app = App::in_process(&app_yaml(
        "",
        3,
        "            FunctionResponseTypes: [ReportBatchItemFailures]\n",
    ))
    .await;
    let bodies: Vec<String> = (0..60).map(|i| cmd("ok", i)).collect();
    app.send("work", &bodies, None).await;
    let done = app.wait_done(60).await;
    app.wait_empty("work").await;
    let mut seen: HashMap<String, u32> = HashMap::new();
    for (body, attempt) in &done {
        assert_eq!(*attempt, 1);
        *seen.entry(body.clone()).or_default() += 1;
    }
    assert_eq!(seen.len(), 60);
    assert!(seen.values().all(|&n| n == 1), "each once: {seen:?}");
    // The app's report counts them too.
    let mapping = &app.report().mappings()[0];
    assert_eq!(mapping.config.function, "Probe");
    common::eventually("the mapping to count 60 ok", || {
        let ok = MappingStats::get(&mapping.stats.messages_ok);
        async move { (ok == 60).then_some(()) }
    })
    .await;
    assert_eq!(MappingStats::get(&mapping.stats.messages_failed), 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_failures_are_retried_and_dead_lettered() {
    let queue = "      VisibilityTimeout: 2\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt Dlq.Arn\n        maxReceiveCount: 2\n";
    let app = App::in_process(&app_yaml(
        queue,
        2,
        "            FunctionResponseTypes: [ReportBatchItemFailures]\n",
    ))
    .await;
    let mut bodies: Vec<String> = (0..8).map(|i| cmd("ok", i)).collect();
    bodies.push(r#"{"do":"fail","n":100}"#.into());
    bodies.push(r#"{"do":"fail-until","attempt":2,"n":101}"#.into());
    app.send("work", &bodies, None).await;
    // The fail-until message succeeds on its second delivery; the ok ones on their first.
    let done = app.wait_done(9).await;
    assert!(
        done.iter()
            .any(|(b, a)| b.contains("fail-until") && *a == 2),
        "{done:?}"
    );
    // The always-failing message reaches the DLQ after maxReceiveCount deliveries.
    common::eventually("the poison message in the DLQ", || async {
        (app.depth("work-dlq").await.0 == 1).then_some(())
    })
    .await;
    app.wait_empty("work").await;
    assert_eq!(app.done().len(), 9, "the failed message never completed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_report_batch_item_failures_a_partial_failure_fails_nothing_and_success_deletes_all()
 {
    // The probe reports the "fail" message, but the mapping ignores the response: success
    // deletes the whole batch.
    let app = App::in_process(&app_yaml("", 3, "            BatchSize: 10\n")).await;
    let mut bodies: Vec<String> = (0..4).map(|i| cmd("ok", i)).collect();
    bodies.push(cmd("fail", 9));
    app.send("work", &bodies, None).await;
    app.wait_done(4).await;
    app.wait_empty("work").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_exits_and_timeouts_fail_only_their_batch() {
    let queue = "      VisibilityTimeout: 1\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt Dlq.Arn\n        maxReceiveCount: 2\n";
    let app = App::in_process(&app_yaml(
        queue,
        1,
        "            BatchSize: 1\n            FunctionResponseTypes: [ReportBatchItemFailures]\n",
    ))
    .await;
    let bad = vec![
        r#"{"do":"panic"}"#.to_string(),
        r#"{"do":"exit"}"#.to_string(),
        r#"{"do":"sleep","ms":5000}"#.to_string(),
    ];
    app.send("work", &bad, None).await;
    // All three are retried and end in the DLQ; the runtime keeps serving.
    common::eventually("three failures in the DLQ", || async {
        (app.depth("work-dlq").await.0 == 3).then_some(())
    })
    .await;
    let good: Vec<String> = (0..5).map(|i| cmd("ok", i)).collect();
    app.send("work", &good, None).await;
    app.wait_done(5).await;
    app.wait_empty("work").await;
    app.stop().await;
}

/// Whether a process is gone (or a zombie nobody waits for).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_function_takes_the_processes_it_started_with_it() {
    let mut app = App::start(&app_yaml(
        "      VisibilityTimeout: 30\n",
        1,
        "            BatchSize: 1\n",
    ));
    let spawned = |app: &App| {
        app.log()
            .iter()
            .filter_map(|l| l.strip_prefix("spawned ").map(str::to_string))
            .collect::<Vec<_>>()
    };
    // Timeout: the function (1 s) sleeps 60 s after starting a child.
    app.send("work", &[r#"{"do":"spawn","ms":60000}"#.to_string()], None)
        .await;
    let first = common::eventually("the function to start its child", || {
        let pids = spawned(&app);
        async move { pids.first().cloned() }
    })
    .await;
    common::eventually("the timed-out function's child to be killed", || {
        let gone = process_gone(&first);
        async move { gone.then_some(()) }
    })
    .await;
    // Shutdown: a function still running when lockgate stops.
    app.send("work", &[r#"{"do":"spawn","ms":500}"#.to_string()], None)
        .await;
    let second = common::eventually("a second child", || {
        let pids = spawned(&app);
        async move { (pids.len() >= 2).then(|| pids[pids.len() - 1].clone()) }
    })
    .await;
    assert!(app.interrupt().success());
    common::eventually("the child to be gone after lockgate exits", || {
        let gone = process_gone(&second);
        async move { gone.then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maximum_concurrency_is_never_exceeded() {
    let app = App::in_process(&app_yaml(
        "",
        3,
        "            BatchSize: 1\n            ScalingConfig:\n              MaximumConcurrency: 2\n",
    )).await;
    // Long enough (30 × 200 ms over 2 at a time) that the backlog outlasts a scaling tick.
    let bodies: Vec<String> = (0..30)
        .map(|_| r#"{"do":"sleep","ms":200}"#.to_string())
        .collect();
    app.send("work", &bodies, None).await;
    app.wait_done(30).await;
    // The scaler wanted more than the cap allowed: Lambda counts that as throttling.
    let throttles = MappingStats::get(&app.report().mappings()[0].stats.throttles);
    assert!(throttles >= 1, "no throttle counted at the cap");
    let peak = app
        .log()
        .iter()
        .filter_map(|l| l.strip_prefix("concurrency "))
        .map(|n| n.parse::<u32>().unwrap())
        .max()
        .unwrap();
    assert!(
        peak <= 2,
        "peak concurrency {peak} exceeded MaximumConcurrency 2"
    );
    assert!(peak >= 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_order_holds_across_a_failure_mid_group() {
    let yaml = format!(
        "  Dlq:\n    Type: AWS::SQS::Queue\n    Properties:\n      FifoQueue: true\n  Work:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: work.fifo\n      FifoQueue: true\n      VisibilityTimeout: 1\n{}",
        PROBE.replace("{timeout}", "1").replace(
            "{event}",
            "            FunctionResponseTypes: [ReportBatchItemFailures]\n"
        )
    );
    let app = App::in_process(&yaml).await;
    let mut bodies: Vec<String> = (0..3).map(|i| cmd("ok", i)).collect();
    bodies.push(r#"{"do":"fail-until","attempt":2,"n":3}"#.into());
    bodies.extend((4..8).map(|i| cmd("ok", i)));
    app.send("work.fifo", &bodies, Some("g")).await;
    let done = app.wait_done(8).await;
    let order: Vec<&str> = done.iter().map(|(b, _)| b.as_str()).collect();
    let expected: Vec<&str> = bodies.iter().map(String::as_str).collect();
    assert_eq!(order, expected, "group order kept across the retry");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_criteria_delete_non_matching_messages() {
    let event = "            FilterCriteria:\n              Filters:\n                - Pattern: '{\"body\":{\"do\":[\"ok\"]}}'\n";
    let app = App::in_process(&app_yaml("", 3, event)).await;
    let bodies = vec![cmd("ok", 1), cmd("skip", 2), cmd("ok", 3), cmd("skip", 4)];
    app.send("work", &bodies, None).await;
    app.wait_done(2).await;
    app.wait_empty("work").await;
    let done = app.done();
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|(b, _)| b.contains("\"ok\"")));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batching_window_fills_batches_beyond_ten() {
    let app = App::in_process(&app_yaml(
        "",
        3,
        "            BatchSize: 50\n            MaximumBatchingWindowInSeconds: 2\n            ScalingConfig:\n              MaximumConcurrency: 2\n",
    )).await;
    let url = app.url("work").await;
    // Queue everything before the first batch can close: the window gathers across receives.
    let bodies: Vec<String> = (0..50).map(|i| cmd("ok", i)).collect();
    let _ = url;
    app.send("work", &bodies, None).await;
    app.wait_done(50).await;
    let largest = app
        .log()
        .iter()
        .filter_map(|l| l.strip_prefix("batch "))
        .map(|n| n.parse::<usize>().unwrap())
        .max()
        .unwrap();
    assert!(
        largest > 10,
        "a window batch holds more than one receive's worth ({largest})"
    );
    assert!(largest <= 50, "never more than BatchSize ({largest})");
    app.stop().await;
}

/// A batching window measured on the app's clock: five minutes, checked without waiting
/// them. The mapping gathers every message and holds the batch until the clock reaches the
/// window's end; then it is invoked whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_five_minute_batching_window_closes_on_the_clock() {
    let clock = ManualClock::starting_now();
    // The messages stay in flight for the whole window (as on AWS, a window longer than the
    // visibility timeout would see them delivered again).
    let app = App::in_process_on(
        &app_yaml(
            "      VisibilityTimeout: 900\n",
            3,
            "            BatchSize: 100\n            MaximumBatchingWindowInSeconds: 300\n            ScalingConfig:\n              MaximumConcurrency: 2\n",
        ),
        clock.clone(),
    )
    .await;
    let bodies: Vec<String> = (0..30).map(|i| cmd("ok", i)).collect();
    app.send("work", &bodies, None).await;
    // Every message is in a gathering batch (in flight), and none was invoked: the window
    // has not ended on the clock.
    common::eventually("the mapping to gather all 30", || async {
        (app.depth("work").await == (0, 30)).then_some(())
    })
    .await;
    clock.advance(Duration::from_secs(299));
    assert!(app.done().is_empty(), "invoked before the window ended");
    // From here the clock keeps moving, a second per look, as it would in real time: a poll
    // that began just after a jump of the clock waits for the next one.
    let done = common::eventually("30 messages processed", || {
        clock.advance(Duration::from_secs(1));
        let done = app.done();
        async move { (done.len() >= 30).then_some(done) }
    })
    .await;
    assert_eq!(done.len(), 30);
    let batches: Vec<usize> = app
        .log()
        .iter()
        .filter_map(|l| l.strip_prefix("batch "))
        .map(|n| n.parse().unwrap())
        .collect();
    // One batch per poller at most (MaximumConcurrency 2): the window held them open.
    assert!(batches.len() <= 2, "{batches:?}");
    assert_eq!(batches.iter().sum::<usize>(), 30);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_a_batch_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.display().to_string();
    let yaml = app_yaml(
        "      VisibilityTimeout: 5\n",
        5,
        "            BatchSize: 1\n",
    );
    let path = dir.path().to_path_buf();
    let mut app = App::start_in(dir, &yaml, &["--data-dir", &data_arg]);
    let bodies: Vec<String> = (0..20)
        .map(|i| format!(r#"{{"do":"sleep","ms":300,"n":{i}}}"#))
        .collect();
    app.send("work", &bodies, None).await;
    app.wait_done(1).await;
    let status = app.interrupt();
    assert!(
        status.success(),
        "lockgate up exits cleanly on SIGINT: {status}"
    );
    let finished = app.done().len();
    // Restart on the same data: everything not finished is still there and gets processed.
    let dir = std::mem::replace(&mut app.dir, tempfile::tempdir().unwrap());
    drop(app);
    assert!(path.exists());
    let app = App::start_in(dir, &yaml, &["--data-dir", &data_arg]);
    app.wait_done(20).await;
    let done = app.done();
    let distinct: std::collections::HashSet<_> = done.iter().map(|(b, _)| b.clone()).collect();
    assert_eq!(
        distinct.len(),
        20,
        "every message processed (finished before stop: {finished})"
    );
}

#[test]
fn invoke_runs_a_function_once_with_the_aws_sample_event() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let response = harness::invoke(&root, "OrdersFunction", Path::new("events/sqs-sample.json"));
    // "Test message." is not an order: only that record fails; the real order succeeds.
    assert_eq!(
        response,
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": "059f36b4-87a3-44ab-83d2-661975830a7d"}]})
    );

    // The Python and JavaScript examples answer the same event their own way.
    let response = harness::invoke(
        &root,
        "ReceiptsFunction",
        Path::new("events/sqs-sample.json"),
    );
    assert_eq!(
        response,
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": "059f36b4-87a3-44ab-83d2-661975830a7d"}]})
    );
    let response = harness::invoke(
        &root,
        "ThumbnailsFunction",
        Path::new("events/sqs-sample.json"),
    );
    // Neither record is a thumbnail job.
    assert_eq!(
        response,
        serde_json::json!({"batchItemFailures": [
            {"itemIdentifier": "059f36b4-87a3-44ab-83d2-661975830a7d"},
            {"itemIdentifier": "2e1424d4-f796-459a-8184-9c92662be6da"}
        ]})
    );

    let out = harness::lockgate(
        &root,
        &[
            "invoke",
            "NoSuchFunction",
            "--event",
            "events/sqs-sample.json",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no function NoSuchFunction"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_send_peek_redrive_and_queues() {
    let queue = "      VisibilityTimeout: 1\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt Dlq.Arn\n        maxReceiveCount: 1\n";
    let app = App::start(&app_yaml(
        queue,
        1,
        "            FunctionResponseTypes: [ReportBatchItemFailures]\n",
    ));
    app.url("work").await;
    let lockgate = |args: &[&str], endpoint: &str| {
        let out = harness::lockgate(app.dir.path(), &[args, &["--endpoint", endpoint]].concat());
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let url = app.url("work").await;
    let endpoint = url.trim_end_matches("/000000000000/work").to_string();
    // A message that fails once lands in the DLQ (maxReceiveCount 1) ...
    let out = lockgate(
        &["send", "work", r#"{"do":"fail-until","attempt":2}"#],
        &endpoint,
    );
    assert!(out.contains("sent 1 message"));
    common::eventually("the message in the DLQ", || async {
        (app.depth("work-dlq").await.0 == 1).then_some(())
    })
    .await;
    let out = lockgate(&["peek", "work-dlq"], &endpoint);
    assert!(out.contains("fail-until"), "{out}");
    // ... and redrive puts it back on the source queue, where the function gets it again.
    let out = lockgate(&["redrive", "work-dlq"], &endpoint);
    assert!(out.contains("moved 1 message"), "{out}");
    common::eventually("a second invocation after the redrive", || {
        let invocations = app.log().iter().filter(|l| l.starts_with("batch ")).count();
        async move { (invocations >= 2).then_some(()) }
    })
    .await;
    let out = lockgate(&["queues"], &endpoint);
    assert!(out.contains("work-dlq") && out.contains("work"), "{out}");
    let out = lockgate(&["send", "work", "x", "--count", "3"], &endpoint);
    assert!(out.contains("sent 3 message"), "{out}");
}

/// `--aws`: lockgate and its functions take credentials, profile and endpoint from the AWS
/// SDK's default chain (here a shared credentials file and `AWS_ENDPOINT_URL_SQS`) against an
/// emulator that verifies every SigV4 signature; a wrong secret stops `up` with SQS's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_mode_uses_the_default_credential_chain() {
    let mut config = lockgate_emulator::EmulatorConfig::ephemeral();
    let keys = HashMap::from([("AKIDLOCKGATEAWS".to_string(), "right-secret".to_string())]);
    config.sqs.credentials = Some(std::sync::Arc::new(keys));
    let emulator = lockgate_emulator::RunningEmulator::start(config)
        .await
        .unwrap();
    let endpoint = emulator.endpoint();

    let aws_env = |dir: &tempfile::TempDir, secret: &str| {
        let credentials = dir.path().join("credentials");
        std::fs::write(
            &credentials,
            format!(
                "[team]\naws_access_key_id = AKIDLOCKGATEAWS\naws_secret_access_key = {secret}\n"
            ),
        )
        .unwrap();
        let config = dir.path().join("config");
        std::fs::write(&config, "[profile team]\nregion = eu-west-1\n").unwrap();
        (credentials, config)
    };
    let env_of = |credentials: &Path, config: &Path| -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL_SQS".into(), endpoint.clone()),
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                credentials.display().to_string(),
            ),
            ("AWS_CONFIG_FILE".into(), config.display().to_string()),
            ("AWS_PROFILE".into(), "team".into()),
            // Loopback only: never ask an instance metadata service.
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ]
    };
    let resources = app_yaml(
        "",
        3,
        "            FunctionResponseTypes: [ReportBatchItemFailures]\n",
    );

    // A wrong secret: `up` stops at queue creation with the service's error.
    let dir = tempfile::tempdir().unwrap();
    let (credentials, config) = aws_env(&dir, "wrong-secret");
    write_template(&dir, &resources);
    let out = Command::new(env!("CARGO_BIN_EXE_lockgate"))
        .current_dir(dir.path())
        .args([
            "up",
            "--aws",
            "--build-profile",
            "dev",
            "--status-interval",
            "3600",
        ])
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_REGION")
        .envs(env_of(&credentials, &config))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("SignatureDoesNotMatch"), "{stderr}");

    // The right secret: queues are created and messages flow, signed by lockgate (receives,
    // deletes) with the profile's key, in the profile's region.
    let dir = tempfile::tempdir().unwrap();
    let (credentials, config) = aws_env(&dir, "right-secret");
    let env = env_of(&credentials, &config);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (child, embedded, output) = App::launch(&dir, &resources, &["--aws"], &env);
    assert!(embedded.is_none(), "--aws starts no emulator");
    // Queues are regional: they are in the profile's region.
    let client = common::client_for(&endpoint, "AKIDLOCKGATEAWS", "right-secret", "eu-west-1");
    let app = App {
        runner: harness::Runner::Process(child),
        client,
        dir,
        output,
    };
    let url = app.url("work").await;
    let arn = app
        .client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    assert!(arn.starts_with("arn:aws:sqs:eu-west-1:"), "{arn}");
    let bodies: Vec<String> = (0..20).map(|i| cmd("ok", i)).collect();
    app.send("work", &bodies, None).await;
    let done = app.wait_done(20).await;
    assert_eq!(done.len(), 20);
    app.wait_empty("work").await;
    drop(app);
    emulator.shutdown().await;
}

/// `up` says which SQS endpoint it uses and why: the embedded emulator, or the endpoint a shell
/// exported in AWS_ENDPOINT_URL_SQS; and its log has no colour codes off a terminal, even
/// without NO_COLOR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_says_which_sqs_endpoint_it_uses_and_why() {
    let embedded = App::start(&app_yaml("", 3, ""));
    embedded
        .wait_log(
            "the embedded emulator named",
            "SQS: the embedded emulator (neither --endpoint nor AWS_ENDPOINT_URL_SQS is set)",
        )
        .await;

    let emulator =
        lockgate_emulator::RunningEmulator::start(lockgate_emulator::EmulatorConfig::ephemeral())
            .await
            .unwrap();
    let endpoint = emulator.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let (child, embedded_endpoint, output) = App::launch(
        &dir,
        &app_yaml("", 3, ""),
        &["--in-memory"],
        &[
            ("AWS_ENDPOINT_URL_SQS", endpoint.as_str()),
            ("NO_COLOR", ""),
        ],
    );
    assert!(embedded_endpoint.is_none(), "no embedded emulator");
    let app = App {
        runner: harness::Runner::Process(child),
        client: common::client(&endpoint, "AKIDEXAMPLE"),
        dir,
        output,
    };
    app.wait_log(
        "the exported endpoint named",
        &format!("SQS: {endpoint} (from AWS_ENDPOINT_URL_SQS); no embedded emulator"),
    )
    .await;
    // The queues are on the endpoint it was given.
    app.url("work").await;
    let lines = app.output.lock().unwrap().clone();
    assert!(
        lines.iter().all(|l| !l.contains('\u{1b}')),
        "colour codes in a piped log: {lines:?}"
    );
    drop(app);
    emulator.shutdown().await;
}

/// `lockgate send --file` of a 20 MB file, above the queue's MaximumMessageSize: the file goes
/// to the emulator's S3 endpoint and the message points at it (the Extended Client
/// convention); the Rust function, built with the SDK's `large-payloads`, receives the whole
/// payload as the body, and with `LOCKGATE_DELETE_PAYLOADS` the object is deleted after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20_mb_file_sent_with_send_file_reaches_the_function_whole() {
    let yaml = app_yaml(
        "      VisibilityTimeout: 120\n",
        60,
        "            FunctionResponseTypes: [ReportBatchItemFailures]\n",
    )
    .replace(
        "          PROBE_LOG:",
        "          LOCKGATE_DELETE_PAYLOADS: 'true'\n          PROBE_LOG:",
    );
    let app = App::start(&yaml);
    let file = app.dir.path().join("big.json");
    let command = format!(r#"{{"do":"ok","pad":"{}"}}"#, "x".repeat(20_000_000 - 20));
    assert_eq!(command.len(), 20_000_000);
    std::fs::write(&file, &command).unwrap();
    let endpoint = harness::send_file(&app, &file).await;
    let done = app.wait_done(1).await;
    assert_eq!(done[0].0, "len:20000000", "the payload, not the pointer");
    app.wait_empty("work").await;
    // The payload is deleted after success (LOCKGATE_DELETE_PAYLOADS).
    harness::wait_bucket_empty(&endpoint, "lockgate-payloads").await;
}

/// Every partial-batch-response edge case Lambda documents, answered by a real function under
/// `lockgate up` (one message per batch, each telling the function what to answer; a failed
/// batch's message reaches the dead-letter queue on its next receive): a null or empty
/// `batchItemFailures` is success; a null or empty `itemIdentifier`, an id not in the batch, or
/// a response that is not an object fails the whole batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_batch_responses_follow_lambdas_rules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("answers")).unwrap();
    std::fs::write(
        dir.path().join("answers/app.py"),
        "import json\n\n\ndef handler(event, context):\n    record = event['Records'][0]\n    answer = json.loads(record['body'])['answer']\n    return json.loads(answer.replace('{id}', record['messageId']))\n",
    )
    .unwrap();
    let resources = format!(
        "{}  Answers:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: answers
      Handler: app.handler
      Runtime: python3.12
      Timeout: 3
      Events:
        E:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
            BatchSize: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
",
        harness::work_queues(3, 1)
    );
    let app = App::start_in_with(
        dir,
        &resources,
        &["--in-memory"],
        &[("LOCKGATE_PYTHON_BOOTSTRAP", "builtin")],
    );
    let case = |answer: &str| serde_json::json!({ "answer": answer }).to_string();
    let succeed = [
        case(r#"{"batchItemFailures": null}"#),
        case(r#"{"batchItemFailures": []}"#),
        case("{}"),
        case("null"),
    ];
    let fail = [
        case(r#"{"batchItemFailures": [{"itemIdentifier": null}]}"#),
        case(r#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#),
        case(r#"{"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}"#),
        case(r#""an answer that is not an object""#),
        case(r#"{"batchItemFailures": [{"itemIdentifier": "{id}"}]}"#),
    ];
    app.send("work", &[&succeed[..], &fail[..]].concat(), None)
        .await;
    common::eventually("every failed batch in the dead-letter queue", || async {
        (app.depth("work-dlq").await.0 == fail.len() as u64).then_some(())
    })
    .await;
    app.wait_empty("work").await;
    let dlq = app.url("work-dlq").await;
    let mut dead = Vec::new();
    while dead.len() < fail.len() {
        let got = app
            .client
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        dead.extend(
            got.messages
                .unwrap_or_default()
                .into_iter()
                .map(|m| m.body.unwrap()),
        );
    }
    dead.sort();
    let mut expected = fail.to_vec();
    expected.sort();
    assert_eq!(dead, expected, "exactly the failing answers were retried");
}
