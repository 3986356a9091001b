//! A guest in another language against the same WIT world: `functions/webhooks-py`, Python
//! built into a component by componentize-py (`COMPONENTIZE_PY`, else the venv the test command
//! makes at `target/venv-wasm`), run by the same host as the Rust guests.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use lockgate_wasm_host::engine::Message;
use lockgate_wasm_host::{FunctionConfig, Grants, Invocation, LogStyle, WasmEngine};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python_component() -> PathBuf {
    let tool = std::env::var("COMPONENTIZE_PY")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join("target/venv-wasm/bin/componentize-py"));
    assert!(
        tool.exists(),
        "{} is missing: run scripts/test-all.sh (it installs componentize-py) or set COMPONENTIZE_PY",
        tool.display()
    );
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("webhooks_py.wasm");
    let status = std::process::Command::new(&tool)
        .current_dir(workspace())
        .args([
            "-d",
            "runtime/wit",
            "-w",
            "batch-handler",
            "componentize",
            "app",
        ])
        .args(["-p", "functions/webhooks-py", "-o"])
        .arg(&out)
        .status()
        .expect("componentize-py runs");
    assert!(status.success(), "componentize-py failed");
    out
}

fn message(id: &str, body: &str, queue: &str, group: Option<&str>) -> Message {
    Message {
        message_id: id.into(),
        receipt_handle: format!("rh-{id}"),
        body: body.into(),
        receive_count: 1,
        sent_timestamp: 1_700_000_000_000,
        first_receive_timestamp: 1_700_000_000_001,
        sender_id: "000000000000".into(),
        message_group_id: group.map(str::to_string),
        message_deduplication_id: None,
        sequence_number: None,
        other_attributes: Vec::new(),
        message_attributes: Vec::new(),
        md5_of_body: String::new(),
        event_source_arn: format!("arn:aws:sqs:us-east-1:000000000000:{queue}"),
        aws_region: "us-east-1".into(),
    }
}

const GOOD: &str = r#"{"url":"https://example.com/hook","event":"order.created"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_guest_reports_its_failures_through_the_same_world() {
    let engine = WasmEngine::new(2, 256 << 20).unwrap();
    let function = engine
        .load(FunctionConfig {
            name: "webhooks-py".into(),
            component: python_component(),
            memory_mb: 256,
            env: Vec::new(),
            grants: Grants::default(),
            log: LogStyle::Prefixed,
        })
        .unwrap();
    let invocation = Invocation {
        request_id: "r".into(),
        deadline: SystemTime::now() + Duration::from_secs(60),
    };
    let batch = [
        message("good", GOOD, "webhooks", None),
        message(
            "http",
            r#"{"url":"http://example.com/","event":"order.created"}"#,
            "webhooks",
            None,
        ),
        message(
            "private",
            r#"{"url":"https://10.0.0.7/","event":"order.created"}"#,
            "webhooks",
            None,
        ),
        message(
            "unsubscribed",
            r#"{"url":"https://example.com/","event":"user.deleted"}"#,
            "webhooks",
            None,
        ),
        message("garbled", "not json", "webhooks", None),
    ];
    let failed = function.handle(&invocation, &batch).await.unwrap();
    assert_eq!(failed, ["http", "private", "unsubscribed", "garbled"]);

    // FIFO: the rest of a failed message's group fails without running; other groups go on.
    let fifo = [
        message("a1", GOOD, "webhooks.fifo", Some("A")),
        message("a2", "not json", "webhooks.fifo", Some("A")),
        message("b1", GOOD, "webhooks.fifo", Some("B")),
        message("a3", GOOD, "webhooks.fifo", Some("A")),
    ];
    let failed = function.handle(&invocation, &fifo).await.unwrap();
    assert_eq!(failed, ["a2", "a3"]);
}
