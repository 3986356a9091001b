//! A guest in another language against the same WIT world: `functions/webhooks-py`, Python
//! built into a component by componentize-py (`COMPONENTIZE_PY`, else the venv the test command
//! makes at `target/venv-wasm`), run by the same host as the Rust guests.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{message, within};
use lockgate_wasm_host::{FunctionConfig, Grants, LogStyle, WasmEngine};

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
    let invocation = within(Duration::from_secs(60));
    let batch = [
        message("good", GOOD, None),
        message(
            "http",
            r#"{"url":"http://example.com/","event":"order.created"}"#,
            None,
        ),
        message(
            "private",
            r#"{"url":"https://10.0.0.7/","event":"order.created"}"#,
            None,
        ),
        message(
            "unsubscribed",
            r#"{"url":"https://example.com/","event":"user.deleted"}"#,
            None,
        ),
        message("garbled", "not json", None),
    ];
    let failed = function.handle(&invocation, &batch).await.unwrap();
    assert_eq!(failed, ["http", "private", "unsubscribed", "garbled"]);

    // FIFO: the rest of a failed message's group fails without running; other groups go on.
    let fifo = [
        message("a1", GOOD, Some("A")),
        message("a2", "not json", Some("A")),
        message("b1", GOOD, Some("B")),
        message("a3", GOOD, Some("A")),
    ];
    let failed = function.handle(&invocation, &fifo).await.unwrap();
    assert_eq!(failed, ["a2", "a3"]);
}
