//! The CLI's verbs as a user runs them, against an emulator started by the test: a `peek`
//! that changes nothing, `--output json`, shell completions, `reset` and its confirmation,
//! and `--profile` as the AWS profile.

use std::process::{Command, Output, Stdio};

use aws_sdk_sqs::types::MessageSystemAttributeName;
use lockgate_test_support::Harness;
use serde_json::Value;

fn lockgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockgate"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("AWS_ENDPOINT_URL_SQS")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr.clone()).unwrap()
}

async fn receive_counts(h: &Harness, url: &str) -> Vec<String> {
    let got = h
        .client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    let mut counts: Vec<String> = got
        .iter()
        .map(|m| {
            m.attributes().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount].clone()
        })
        .collect();
    counts.sort();
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peek_shows_messages_without_receiving_them() {
    let h = Harness::memory().await;
    let endpoint = h.emulator.endpoint();
    let url = h.create("inbox").await;
    h.send(&url, "hello").await;
    h.send(&url, "world").await;
    for _ in 0..3 {
        let text = ok(&lockgate(&["peek", "inbox", "--endpoint", &endpoint]));
        assert!(text.contains("hello") && text.contains("world"), "{text}");
        assert!(text.contains("receives=0"), "{text}");
    }
    let json: Value = serde_json::from_str(&ok(&lockgate(&[
        "peek",
        &url,
        "--endpoint",
        &endpoint,
        "--output",
        "json",
        "--max",
        "1",
    ])))
    .unwrap();
    assert_eq!(json["messages"].as_array().unwrap().len(), 1);
    assert_eq!(json["messages"][0]["body"], "hello");
    assert_eq!(json["messages"][0]["approximateReceiveCount"], 0);
    // Browsed four times, never received: the first receive is each message's first.
    assert_eq!(receive_counts(&h, &url).await, ["1", "1"]);

    // --receive is a receive, and says so in the counts.
    let text = ok(&lockgate(&[
        "peek",
        "inbox",
        "--receive",
        "--endpoint",
        &endpoint,
    ]));
    assert!(text.contains("receives=2"), "{text}");

    let err = failed(&lockgate(&["peek", "nope", "--endpoint", &endpoint]));
    assert!(err.contains("no queue nope"), "{err}");
    let err = failed(&lockgate(&[
        "peek",
        "inbox",
        "--max",
        "101",
        "--endpoint",
        &endpoint,
    ]));
    assert!(err.contains("--max"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_and_send_speak_json() {
    let h = Harness::memory().await;
    let endpoint = h.emulator.endpoint();
    let url = h.create("jobs").await;
    let sent: Value = serde_json::from_str(&ok(&lockgate(&[
        "send",
        "jobs",
        "job",
        "--count",
        "25",
        "--endpoint",
        &endpoint,
        "--output",
        "json",
    ])))
    .unwrap();
    assert_eq!(sent["queueUrl"], url.as_str());
    assert_eq!(sent["sent"], 25);
    let ids = sent["messageIds"].as_array().unwrap();
    assert_eq!(ids.len(), 25);
    let listed: Value = serde_json::from_str(&ok(&lockgate(&[
        "queues",
        "--endpoint",
        &endpoint,
        "--output",
        "json",
    ])))
    .unwrap();
    let jobs = &listed.as_array().unwrap()[0];
    assert_eq!(jobs["name"], "jobs");
    assert_eq!(jobs["visible"], 25);
    assert_eq!(jobs["inFlight"], 0);
    assert_eq!(jobs["attributes"]["VisibilityTimeout"], "30");
    let browsed: Value = serde_json::from_str(&ok(&lockgate(&[
        "peek",
        "jobs",
        "--endpoint",
        &endpoint,
        "--output",
        "json",
        "--max",
        "100",
    ])))
    .unwrap();
    let mut browsed_ids: Vec<&str> = browsed["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["messageId"].as_str().unwrap())
        .collect();
    let mut sent_ids: Vec<&str> = ids.iter().map(|i| i.as_str().unwrap()).collect();
    browsed_ids.sort();
    sent_ids.sort();
    assert_eq!(browsed_ids, sent_ids);
}

#[test]
fn completions_cover_every_verb_and_flag() {
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(&lockgate(&["completions", shell]));
        for word in ["peek", "reset", "build-profile", "parameter-overrides"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    let err = failed(&lockgate(&["completions", "tcsh"]));
    assert!(err.contains("bash"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_asks_refuses_a_running_emulator_and_keeps_builds() {
    let h = Harness::durable().await;
    let dir = h.dir.as_ref().unwrap().path().to_path_buf();
    let data_dir = dir.to_str().unwrap().to_string();
    std::fs::create_dir_all(dir.join("build/Fn")).unwrap();
    std::fs::write(dir.join("build/Fn/bootstrap"), b"kept").unwrap();
    let url = h.create("doomed").await;
    h.send(&url, "bye").await;
    let addr = h.emulator.addr;
    lockgate_test_support::raw_request(addr, "PUT", "/doomed-bucket", &[], b"").await;
    lockgate_test_support::raw_request(addr, "PUT", "/doomed-bucket/o", &[], b"object").await;
    assert!(dir.join("s3/doomed-bucket").is_dir());

    let err = failed(&lockgate(&["reset", "--data-dir", &data_dir, "--yes"]));
    assert!(err.contains("in use by"), "{err}");
    let h = h.restart().await;
    assert_eq!(h.depth(&url).await.0, 1, "nothing was deleted");
    let Harness {
        emulator, dir: tmp, ..
    } = h;
    emulator.shutdown().await;

    // Off a terminal, it will not guess.
    let err = failed(&lockgate(&["reset", "--data-dir", &data_dir]));
    assert!(err.contains("--yes"), "{err}");
    assert!(dir.join("lockgate.sqlite3").exists());

    let out = ok(&lockgate(&["reset", "--data-dir", &data_dir, "--yes"]));
    assert!(out.contains("lockgate.sqlite3"), "{out}");
    assert!(!dir.join("lockgate.sqlite3").exists());
    assert!(!dir.join("handle-key").exists());
    assert!(!dir.join("keyring").exists());
    assert!(!dir.join("s3").exists(), "objects go too");
    assert_eq!(
        std::fs::read(dir.join("build/Fn/bootstrap")).unwrap(),
        b"kept"
    );
    let out = ok(&lockgate(&["reset", "--data-dir", &data_dir]));
    assert!(out.contains("nothing to reset"), "{out}");

    let h = Harness::durable_in(tmp.unwrap()).await;
    assert!(
        h.client
            .list_queues()
            .send()
            .await
            .unwrap()
            .queue_urls()
            .is_empty()
    );
}

#[test]
fn profile_is_the_aws_profile_and_build_profile_is_cargos() {
    let err = failed(&lockgate(&[
        "up",
        "--profile",
        "prod",
        "--template",
        "/nonexistent.yaml",
    ]));
    assert!(err.contains("--aws"), "{err}");
    let help = ok(&lockgate(&["up", "--help"]));
    assert!(help.contains("--build-profile"), "{help}");
    assert!(help.contains("AWS credentials profile"), "{help}");
}

/// `lockgate queues | head`: every printing command whose reader has closed the pipe ends
/// quietly with success, as Unix tools do (no panic, no backtrace, nothing on stderr).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pipe_ends_printing_commands_quietly() {
    let h = Harness::memory().await;
    let endpoint = h.emulator.endpoint();
    let url = h.create("piped").await;
    h.send(&url, "hello").await;
    let commands: [&[&str]; 6] = [
        &["queues", "--endpoint", &endpoint],
        &["queues", "--endpoint", &endpoint, "--output", "json"],
        &["peek", "piped", "--endpoint", &endpoint],
        &["peek", "piped", "--endpoint", &endpoint, "--output", "json"],
        &["send", "piped", "again", "--endpoint", &endpoint],
        &["completions", "bash"],
    ];
    for args in commands {
        // A pipe whose reader is gone before the command starts: its first write fails.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_lockgate"))
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("AWS_ENDPOINT_URL_SQS")
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?}\n{stderr}", out.status);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("error"),
            "{args:?}: {stderr}"
        );
    }
    h.shutdown().await;
}

/// `lockgate up` refuses, at load and in AWS's words, the event mappings that
/// CreateEventSourceMapping refuses: a batch above ten without a batching window, a FIFO
/// queue's batch above ten or window, a filter on anything but the body, more than five
/// filters.
#[test]
fn up_refuses_the_event_mappings_aws_refuses() {
    let template = |fifo: bool, event: &str| {
        let queue = if fifo { "      FifoQueue: true\n" } else { "" };
        format!(
            "Resources:
  Work:
    Type: AWS::SQS::Queue
    Properties:
{queue}      VisibilityTimeout: 30
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn
      Handler: app.handler
      Runtime: python3.12
      Events:
        E:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
{event}"
        )
    };
    let filters = |patterns: &[&str]| {
        let mut yaml = "            FilterCriteria:\n              Filters:\n".to_string();
        for p in patterns {
            yaml.push_str(&format!("                - Pattern: '{p}'\n"));
        }
        yaml
    };
    let cases = [
        (
            template(false, "            BatchSize: 100\n"),
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
        ),
        (
            template(
                true,
                "            BatchSize: 20\n            MaximumBatchingWindowInSeconds: 1\n",
            ),
            "the maximum for a FIFO queue",
        ),
        (
            template(true, "            MaximumBatchingWindowInSeconds: 5\n"),
            "MaximumBatchingWindowInSeconds is not supported for FIFO queues",
        ),
        (
            template(false, &filters(&[r#"{"attributes":{"SenderId":["x"]}}"#])),
            r#"Amazon SQS event source mappings only support filtering on the body key, not "attributes""#,
        ),
        (
            template(
                false,
                &filters(&[r#"{"messageAttributes":{"kind":{"stringValue":["order"]}}}"#]),
            ),
            r#"only support filtering on the body key, not "messageAttributes""#,
        ),
        (
            template(false, &filters(&[r#"{"body":{"n":[1]}}"#; 6])),
            "FilterCriteria allows at most 5 filters, got 6",
        ),
    ];
    for (text, rule) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("fn")).unwrap();
        std::fs::write(
            dir.path().join("fn/app.py"),
            "def handler(e, c):\n    pass\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("template.yaml"), &text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_lockgate"))
            .current_dir(dir.path())
            .args(["up", "--in-memory", "--bind", "127.0.0.1:0"])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = failed(&out);
        assert!(stderr.contains(rule), "expected {rule:?} in:\n{stderr}");
        assert!(
            stderr.contains("function Fn"),
            "names the function:\n{stderr}"
        );
    }
}

/// The emulator raises its open-file soft limit to the hard limit at start, as servers do:
/// started under a soft limit of 1,024, it runs with the hard one (its connection cap follows).
#[test]
fn the_emulator_raises_its_open_file_limit() {
    let limits = |pid: u32| -> (String, String) {
        let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap()
            .to_string();
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields[3].to_string(), fields[4].to_string())
    };
    let (_, hard) = limits(std::process::id());
    if hard != "unlimited" && hard.parse::<u64>().unwrap() <= 1024 {
        eprintln!("the hard limit is {hard}: nothing to raise here");
        return;
    }
    let mut child = Command::new("bash")
        .args([
            "-c",
            &format!(
                "ulimit -Sn 1024 && exec {} emulator --in-memory --bind 127.0.0.1:0",
                env!("CARGO_BIN_EXE_lockgate")
            ),
        ])
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let ready = lines.find(|l| l.as_ref().is_ok_and(|l| l.contains("ready on")));
    assert!(ready.is_some(), "the emulator started");
    let (soft, child_hard) = limits(child.id());
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        soft, child_hard,
        "the soft limit was raised to the hard limit"
    );
    assert_ne!(soft, "1024");
}

/// `--cache-size` (or `LOCKGATE_CACHE_SIZE`) bounds the memory for message bodies about to be
/// delivered: with none, every delivery reads the store; with some, a message just sent is
/// delivered from memory. A size that is not one is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_size_bounds_what_deliveries_take_from_memory() {
    for (flag, variable, from_memory) in [(Some("0"), None, false), (None, Some("1MiB"), true)] {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_lockgate"));
        command
            .args(["emulator", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env("NO_COLOR", "1")
            .env_remove("LOCKGATE_CACHE_SIZE")
            .stderr(Stdio::piped());
        if let Some(size) = flag {
            command.args(["--cache-size", size]);
        }
        if let Some(size) = variable {
            command.env("LOCKGATE_CACHE_SIZE", size);
        }
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
        let host = lines
            .find_map(|l| {
                let l = l.ok()?;
                let rest = l.split("ready on http://").nth(1)?;
                Some(rest.split_whitespace().next()?.to_string())
            })
            .expect("the emulator started");
        std::thread::spawn(move || for _ in lines {});
        let endpoint = format!("http://{host}");
        let client = lockgate_test_support::client(&endpoint, "AKIDEXAMPLE");
        let url = client
            .create_queue()
            .queue_name("cached")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        for i in 0..3 {
            client
                .send_message()
                .queue_url(&url)
                .message_body(format!("m{i}"))
                .send()
                .await
                .unwrap();
        }
        let got = client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        assert_eq!(got.len(), 3);
        let (_, _, metrics) =
            lockgate_test_support::raw_request(host.parse().unwrap(), "GET", "/metrics", &[], b"")
                .await;
        let value = |name: &str| -> f64 {
            metrics
                .lines()
                .find(|l| l.split([' ', '{']).next() == Some(name))
                .and_then(|l| l.rsplit(' ').next()?.parse().ok())
                .unwrap_or(-1.0)
        };
        let (hits, reads) = (
            value("lockgate_store_content_hits_total"),
            value("lockgate_store_content_reads_total"),
        );
        if from_memory {
            assert_eq!((hits, reads), (3.0, 0.0), "{metrics}");
            assert!(value("lockgate_store_cache_bytes") > 0.0);
        } else {
            assert_eq!((hits, reads), (0.0, 3.0), "{metrics}");
            assert_eq!(value("lockgate_store_cache_bytes"), 0.0);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    let out = lockgate(&["emulator", "--in-memory", "--cache-size", "lots"]);
    assert!(failed(&out).contains("not a size"));
}
