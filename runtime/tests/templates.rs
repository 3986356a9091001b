//! Templates as people write them, run by `lockgate up` as they are: functions no queue
//! triggers (invoked through the Lambda API, referenced by other functions), resources lockgate
//! does not run (one summary line; references to them still resolve), the newest runtimes on
//! the nearest interpreter, cargo-lambda's binary rules, TypeScript without esbuild of its own,
//! and provisioned mode.

mod harness;

use harness::{App, app_yaml, common};

/// `lockgate up` on `text` as a process, in memory; waits until it runs.
fn up(text: &str, env: &[(&str, &str)]) -> App {
    let dir = tempfile::tempdir().unwrap();
    up_in(dir, text, env)
}

fn up_in(dir: tempfile::TempDir, text: &str, env: &[(&str, &str)]) -> App {
    let (child, endpoint, output) = App::launch_whole(&dir, text, &["--in-memory"], env);
    let endpoint = endpoint.expect("the embedded emulator started");
    App {
        runner: harness::Runner::Process(child),
        client: common::client(&endpoint, "AKIDEXAMPLE"),
        dir,
        output,
    }
}

/// POSTs `payload` to the Invoke API of the app's emulator; (status, function error header,
/// body).
async fn invoke(app: &App, function: &str, payload: &str) -> (u16, String, String) {
    let url = app.url_of_emulator();
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let (status, headers, body) = common::raw_request(
        addr,
        "POST",
        &format!("/2015-03-31/functions/{function}/invocations"),
        &[],
        payload.as_bytes(),
    )
    .await;
    let error = common::header(&headers, "x-amz-function-error").to_string();
    (status, error, body)
}

/// A template with no queue and no mapping: its functions are built and invokable, a function
/// that names another (`!Ref`, `!GetAtt .Arn`) and a table lockgate does not run starts with
/// them resolved, and the resources lockgate skips are listed on one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_without_mappings_runs_its_functions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("fn")).unwrap();
    std::fs::write(
        dir.path().join("fn/app.py"),
        "import os\n\n\ndef handler(event, context):\n    return {'got': event, 'env': {k: os.environ.get(k) for k in ('OTHER', 'OTHER_ARN', 'TABLE', 'TABLE_ARN', 'TOPIC', 'AWS_ENDPOINT_URL_LAMBDA')}}\n",
    )
    .unwrap();
    let template = "Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: orders
  Alerts:
    Type: AWS::SNS::Topic
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          OTHER: !Ref Writer
          OTHER_ARN: !GetAtt Writer.Arn
          TABLE: !Ref Orders
          TABLE_ARN: !GetAtt Orders.Arn
          TOPIC: !Ref Alerts
  Writer:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: order-writer
      CodeUri: fn
      Handler: app.handler
      Runtime: python3.12
";
    let app = up_in(dir, template, &[("LOCKGATE_PYTHON_BOOTSTRAP", "builtin")]);
    app.wait_log(
        "the mapping summary",
        "0 SQS event mapping(s); 2 function(s) without one (Reader, order-writer",
    )
    .await;
    let skipped: Vec<String> = app
        .output
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("not run here"))
        .cloned()
        .collect();
    assert_eq!(skipped.len(), 1, "one summary line: {skipped:?}");
    for resource in [
        "Orders (AWS::DynamoDB::Table)",
        "Alerts (AWS::SNS::Topic)",
        "Api (AWS::Serverless::Api)",
    ] {
        assert!(skipped[0].contains(resource), "{resource}: {}", skipped[0]);
    }
    let (status, error, body) = invoke(&app, "Reader", r#"{"hello":"world"}"#).await;
    assert_eq!((status, error.as_str()), (200, ""), "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["got"], serde_json::json!({"hello": "world"}));
    let env = &reply["env"];
    assert_eq!(env["OTHER"], "order-writer");
    assert_eq!(
        env["OTHER_ARN"],
        "arn:aws:lambda:us-east-1:000000000000:function:order-writer"
    );
    assert_eq!(env["TABLE"], "orders");
    assert_eq!(
        env["TABLE_ARN"],
        "arn:aws:dynamodb:us-east-1:000000000000:table/orders"
    );
    assert_eq!(env["TOPIC"], "arn:aws:sns:us-east-1:000000000000:Alerts");
    assert_eq!(env["AWS_ENDPOINT_URL_LAMBDA"], app.url_of_emulator());
    // The other function, by its FunctionName.
    let (status, _, body) = invoke(&app, "order-writer", "").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""got": {}"#), "{body}");
}

/// `Runtime: python3.14` runs: on Python 3.14 when it is installed, else on the nearest Python
/// present, with a warning naming both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_python_runtime_runs_on_the_nearest_interpreter() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("fn")).unwrap();
    std::fs::write(
        dir.path().join("fn/app.py"),
        "import sys\n\n\ndef handler(event, context):\n    return {'python': '%d.%d' % sys.version_info[:2]}\n",
    )
    .unwrap();
    let template = "Resources:
  Newest:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn
      Handler: app.handler
      Runtime: python3.14
";
    let app = up_in(dir, template, &[("LOCKGATE_PYTHON_BOOTSTRAP", "builtin")]);
    let (status, _, body) = invoke(&app, "Newest", "{}").await;
    assert_eq!(status, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    let python = reply["python"].as_str().unwrap().to_string();
    if python != "3.14" {
        app.wait_log(
            "the warning naming both versions",
            &format!(
                "Runtime python3.14 asked, but no Python 3.14 was found; using Python {python}"
            ),
        )
        .await;
    }
}

/// cargo-lambda's rule: without BuildProperties.Binary, a package's only binary is the
/// bootstrap (the probe's is named `probe`); a package of several binaries is an error that
/// names them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packages_only_binary_is_its_bootstrap() {
    let template = "Resources:
  Work:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: work
  Probe:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
    Properties:
      CodeUri: {probe}
      Handler: bootstrap
      Runtime: provided.al2023
      Architectures: [arm64]
      Environment:
        Variables:
          PROBE_LOG: {log}
      Events:
        E:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
";
    let app = up(template, &[]);
    app.wait_log(
        "the architecture note",
        "Probe: Architectures [arm64] on Lambda; built here for this machine",
    )
    .await;
    app.send("work", &[harness::cmd("ok", 1)], None).await;
    app.wait_done(1).await;

    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("two");
    std::fs::create_dir_all(crate_dir.join("src/bin")).unwrap();
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        "[package]\nname = \"two\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    for bin in ["alpha", "beta"] {
        std::fs::write(
            crate_dir.join(format!("src/bin/{bin}.rs")),
            "fn main() {}\n",
        )
        .unwrap();
    }
    std::fs::write(
        dir.path().join("template.yaml"),
        "Resources:\n  Two:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: two\n      Runtime: provided.al2023\n      Handler: bootstrap\n",
    )
    .unwrap();
    let out = harness::lockgate(dir.path(), &["up", "--in-memory", "--bind", "127.0.0.1:0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("several binaries (alpha, beta): name the bootstrap with Metadata BuildProperties.Binary"),
        "{stderr}"
    );
}

/// TypeScript with `BuildMethod: esbuild` and no esbuild among its packages: lockgate installs
/// its pinned esbuild once (into LOCKGATE_TOOLS_DIR here) and says so; the bundle runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_without_esbuild_of_its_own_is_bundled() {
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("ts");
    std::fs::create_dir(&code).unwrap();
    let probe = harness::crate_dir("functions/ts-probe");
    std::fs::copy(probe.join("app.ts"), code.join("app.ts")).unwrap();
    let mut package: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(probe.join("package.json")).unwrap())
            .unwrap();
    package.as_object_mut().unwrap().remove("devDependencies");
    std::fs::write(code.join("package.json"), package.to_string()).unwrap();
    let tools = std::env::var("LOCKGATE_TOOLS_DIR")
        .unwrap_or_else(|_| dir.path().join("tools").display().to_string());
    let template = "Resources:
  Work:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: work
  Ts:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: esbuild
      BuildProperties:
        EntryPoints: [app.ts]
    Properties:
      CodeUri: ts
      Handler: app.handler
      Runtime: nodejs22.x
      Environment:
        Variables:
          PROBE_LOG: {log}
      Events:
        E:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
";
    let app = up_in(dir, template, &[("LOCKGATE_TOOLS_DIR", tools.as_str())]);
    assert!(
        std::path::Path::new(&tools)
            .join(format!(
                "esbuild-{}/node_modules/.bin/esbuild",
                lockgate_runtime::builder::node::ESBUILD_VERSION
            ))
            .is_file()
    );
    app.send("work", &[harness::cmd("ok", 1)], None).await;
    app.wait_done(1).await;
}

/// Provisioned mode: the minimum pollers poll an idle queue, and /metrics shows them with the
/// mode's bounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioned_pollers_are_kept_and_shown_in_metrics() {
    let event = "            ProvisionedPollerConfig:\n              MinimumPollers: 7\n              MaximumPollers: 30\n";
    let app = up(&format!("Resources:\n{}", app_yaml("", 3, event)), &[]);
    let addr: std::net::SocketAddr = app
        .url_of_emulator()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let labels = r#"{function="Probe",queue="work"}"#;
    common::eventually("seven pollers on the idle queue", || async {
        let (_, _, metrics) = common::raw_request(addr, "GET", "/metrics", &[], b"").await;
        let value = |name: &str| {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}{labels} ")))
                .map(str::to_string)
        };
        (value("lockgate_mapping_pollers").as_deref() == Some("7")
            && value("lockgate_mapping_pollers_minimum").as_deref() == Some("7")
            && value("lockgate_mapping_pollers_maximum").as_deref() == Some("30")
            && value("lockgate_mapping_target_concurrency").as_deref() == Some("7"))
        .then_some(())
    })
    .await;
    app.wait_log("the provisioned mapping", "provisioned: 7–30 pollers")
        .await;
}

/// A start that fails names its cause: a taken address with the flag that picks another, and
/// anything else (here a data directory that is a file) without blaming the address.
#[test]
fn a_failed_start_names_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("template.yaml"),
        "Resources:\n  Work:\n    Type: AWS::SQS::Queue\n",
    )
    .unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = harness::lockgate(dir.path(), &["up", "--in-memory", "--bind", &addr]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "starting the emulator on {addr} (choose another address with --bind)"
        )) && stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );

    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, "").unwrap();
    let data_dir = file.to_str().unwrap();
    let out = harness::lockgate(
        dir.path(),
        &["up", "--data-dir", data_dir, "--bind", "127.0.0.1:0"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("starting the emulator"), "{stderr}");
    assert!(stderr.contains(data_dir), "{stderr}");
    assert!(!stderr.contains("--bind"), "{stderr}");
}
