//! The host against a real guest: the `wasm-probe` component, built for wasm32-wasip2 by
//! cargo on first use. Partial failures, FIFO rules, traps, deadlines, the memory cap and the
//! sandbox's walls — each failure costs only its batch, and the next batch runs.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use common::{message, within};
use lockgate_wasm_host::Message;
use lockgate_wasm_host::{FunctionConfig, Grants, LogStyle, WasmEngine, WasmError, WasmFunction};

/// Builds the probe component once per test binary and returns its path.
fn probe_component() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| lockgate_test_support::guest::build_component("wasm-probe"))
        .clone()
}

fn load(engine: &WasmEngine, memory_mb: u32, env: &[(&str, &str)]) -> WasmFunction {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let grants = Grants::from_env(env.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
    engine
        .load(FunctionConfig {
            name: "probe".into(),
            component: probe_component(),
            memory_mb,
            env,
            grants,
            log: LogStyle::Prefixed,
        })
        .unwrap()
}

async fn run(f: &WasmFunction, bodies: &[&str]) -> Result<Vec<String>, WasmError> {
    let messages: Vec<Message> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| message(&format!("m{i}"), b, None))
        .collect();
    f.handle(&within(Duration::from_secs(30)), &messages).await
}

const OK: &str = r#"{"do":"ok"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_ids_are_returned_and_fifo_groups_stop_at_a_failure() {
    let engine = WasmEngine::new(4, 256 << 20).unwrap();
    let f = load(&engine, 128, &[]);
    let failed = run(&f, &[OK, r#"{"do":"fail"}"#, OK]).await.unwrap();
    assert_eq!(failed, ["m1"]);

    let fifo = [
        message("a1", OK, Some("A")),
        message("a2", r#"{"do":"fail"}"#, Some("A")),
        message("b1", OK, Some("B")),
        message("a3", OK, Some("A")),
    ];
    let failed = f
        .handle(&within(Duration::from_secs(30)), &fifo)
        .await
        .unwrap();
    assert_eq!(failed, ["a2", "a3"], "a3 may not overtake a2; B continues");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_fails_only_its_batch() {
    let engine = WasmEngine::new(4, 256 << 20).unwrap();
    let f = load(&engine, 128, &[]);
    let err = run(&f, &[OK, r#"{"do":"trap"}"#]).await.unwrap_err();
    assert!(matches!(err, WasmError::Trap(_)), "{err:?}");
    assert_eq!(run(&f, &[OK]).await.unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_never_returns_is_stopped_at_its_deadline() {
    let engine = WasmEngine::new(4, 256 << 20).unwrap();
    let f = load(&engine, 128, &[]);
    let looping = [message("m0", r#"{"do":"loop"}"#, None)];
    let err = f
        .handle(&within(Duration::from_millis(300)), &looping)
        .await
        .unwrap_err();
    assert_eq!(err, WasmError::Deadline);
    assert_eq!(run(&f, &[OK]).await.unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_cap_fails_the_batch_and_memory_below_it_is_fine() {
    let engine = WasmEngine::new(4, 512 << 20).unwrap();
    let f = load(&engine, 64, &[]);
    assert_eq!(
        run(&f, &[r#"{"do":"alloc","mb":16}"#]).await.unwrap(),
        Vec::<String>::new()
    );
    // MemorySize 64 leaves the guest 32 MB (the host's 32 MB are set aside): 40 MB is too much.
    let err = run(&f, &[r#"{"do":"alloc","mb":40}"#]).await.unwrap_err();
    assert!(matches!(err, WasmError::MemoryCap(_)), "{err:?}");
    assert_eq!(run(&f, &[OK]).await.unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_cannot_open_files_or_sockets_unless_granted() {
    let engine = WasmEngine::new(4, 256 << 20).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let host_file = dir.path().join("secret");
    std::fs::write(&host_file, "host data").unwrap();

    let sealed = load(&engine, 128, &[]);
    let open = format!(
        r#"{{"do":"open","path":"{}","expect":"denied"}}"#,
        host_file.display()
    );
    let connect = format!(r#"{{"do":"connect","addr":"{addr}","expect":"denied"}}"#);
    let failed = run(&sealed, &[&open, &connect]).await.unwrap();
    assert!(
        failed.is_empty(),
        "the sandbox let the guest through: {failed:?}"
    );
    assert!(
        listener.accept().is_err(),
        "no connection may reach the host"
    );
    assert!(!dir.path().join("secret.probe").exists());

    let dirs = format!("{}:/data", dir.path().display());
    let granted = load(
        &engine,
        128,
        &[
            ("LOCKGATE_WASI_NETWORK", "allow"),
            ("LOCKGATE_WASI_DIRS", &dirs),
        ],
    );
    let open = r#"{"do":"open","path":"/data/secret","expect":"allowed"}"#;
    let write = r#"{"do":"write","path":"/data/out"}"#;
    let connect = format!(r#"{{"do":"connect","addr":"{addr}","expect":"allowed"}}"#);
    let failed = run(&granted, &[open, write, &connect]).await.unwrap();
    assert!(failed.is_empty(), "grants were not honoured: {failed:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out")).unwrap(),
        "m1"
    );
    assert!(listener.accept().is_ok(), "the granted connection arrived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_events_in_partial_batch_responses_out() {
    let engine = WasmEngine::new(4, 256 << 20).unwrap();
    let f = load(&engine, 128, &[]);
    let event = serde_json::json!({"Records": [
        {"messageId": "x1", "receiptHandle": "h1", "body": OK, "attributes": {}, "messageAttributes": {},
         "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:0:q", "awsRegion": "us-east-1"},
        {"messageId": "x2", "receiptHandle": "h2", "body": r#"{"do":"fail"}"#, "attributes": {}, "messageAttributes": {},
         "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:0:q", "awsRegion": "us-east-1"}
    ]});
    let response = f
        .handle_event(
            &within(Duration::from_secs(30)),
            event.to_string().as_bytes(),
        )
        .await
        .unwrap();
    let response: serde_json::Value = serde_json::from_slice(&response).unwrap();
    assert_eq!(
        response,
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": "x2"}]})
    );
    let err = f
        .handle_event(&within(Duration::from_secs(30)), b"{\"not\":\"sqs\"}")
        .await
        .unwrap_err();
    assert!(matches!(err, WasmError::Setup(_)), "{err:?}");
}
