//! Functions in other languages through `lockgate up` (as a process, on real queues): a Python
//! function run by lockgate's Python bootstrap, and a prebuilt `bootstrap` compiled here from
//! C (what `sam build` leaves for Go or C++ functions looks the same). Each shows that success deletes, partial failures retry and reach the dead-letter queue,
//! an uncaught error fails its batch, the deadline takes the function's process tree, and the
//! context and environment are Lambda's.

mod harness;

use harness::{App, cmd, common, process_gone};

/// A probe function of some language, on a queue whose dead-letter queue takes a message
/// after two receives.
struct Probe {
    name: &'static str,
    code_uri: String,
    handler: &'static str,
    runtime: &'static str,
    /// The function's `Metadata` (indented as its properties), if any.
    metadata: &'static str,
    /// Environment variables for `lockgate up`.
    env: &'static [(&'static str, &'static str)],
    /// Keeps a compiled probe's directory.
    _dir: Option<tempfile::TempDir>,
}

impl Probe {
    fn python(runtime: &'static str) -> Self {
        Probe {
            name: "py-probe",
            code_uri: "{python_probe}".into(),
            handler: "probe_lib.handlers.handle",
            runtime,
            metadata: "",
            env: &[],
            _dir: None,
        }
    }

    fn node(name: &'static str, handler: &'static str) -> Self {
        Probe {
            name,
            code_uri: "{node_probe}".into(),
            handler,
            runtime: "nodejs20.x",
            metadata: "",
            env: &[],
            _dir: None,
        }
    }

    /// The Python probe on lockgate's own bootstrap (what runs where AWS's runtime interface
    /// client cannot be installed).
    fn python_builtin() -> Self {
        Probe {
            env: &[("LOCKGATE_PYTHON_BOOTSTRAP", "builtin")],
            ..Probe::python("python3.12")
        }
    }

    /// `functions/ts-probe`, bundled as SAM's `BuildMethod: esbuild` does.
    fn typescript() -> Self {
        Probe {
            name: "ts-probe",
            code_uri: "{ts_probe}".into(),
            handler: "app.handler",
            runtime: "nodejs22.x",
            env: &[],
            metadata: "    Metadata:\n      BuildMethod: esbuild\n      BuildProperties:\n        EntryPoints: [app.ts]\n        Target: es2020\n",
            _dir: None,
        }
    }

    /// `runtime/tests/prebuilt/bootstrap.c` compiled with the system's C compiler into a
    /// CodeUri of its own (no Cargo.toml: the bootstrap runs as it is).
    fn c() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let source = harness::crate_dir("runtime/tests/prebuilt/bootstrap.c");
        let out = std::process::Command::new("cc")
            .args(["-O1", "-o"])
            .arg(dir.path().join("bootstrap"))
            .arg(source)
            .output()
            .expect("a C compiler (cc)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Probe {
            name: "c-probe",
            code_uri: dir.path().display().to_string(),
            handler: "bootstrap",
            runtime: "provided.al2023",
            metadata: "",
            env: &[],
            _dir: Some(dir),
        }
    }

    fn app(&self, timeout: u32, event: &str) -> App {
        let Probe {
            name,
            code_uri,
            handler,
            runtime,
            metadata,
            env,
            ..
        } = self;
        let resources = format!(
            "{queues}  Fn:
    Type: AWS::Serverless::Function
{metadata}    Properties:
      FunctionName: {name}
      CodeUri: {code_uri}
      Handler: {handler}
      Runtime: {runtime}
      Timeout: {timeout}
      MemorySize: 256
      Environment:
        Variables:
          PROBE_LOG: {{log}}
          GREETING: hello
      Events:
        E:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
            FunctionResponseTypes: [ReportBatchItemFailures]
{event}",
            queues = harness::work_queues(timeout, 2)
        );
        App::start_with_env(&resources, env)
    }
}

/// Five messages succeed once each; one reported as failed comes back and reaches the DLQ.
async fn success_deletes_and_partial_failures_reach_the_dlq(probe: &Probe) -> App {
    let app = probe.app(2, "");
    let mut bodies: Vec<String> = (0..5).map(|i| cmd("ok", i)).collect();
    bodies.push(cmd("fail", 100));
    app.send("work", &bodies, None).await;
    let done = app.wait_done(5).await;
    assert!(done.iter().all(|(_, attempt)| *attempt == 1), "{done:?}");
    common::eventually("the failing message in the DLQ", || async {
        (app.depth("work-dlq").await.0 == 1).then_some(())
    })
    .await;
    app.wait_empty("work").await;
    assert_eq!(app.done().len(), 5, "the failed message never completed");
    app
}

/// An uncaught error fails its batch (BatchSize 1: only its own message), which reaches the
/// DLQ; the error is in the log under the function's name.
async fn uncaught_errors_fail_their_batch_and_are_logged(probe: &Probe) {
    let app = probe.app(2, "            BatchSize: 1\n");
    app.send(
        "work",
        &[r#"{"do":"raise"}"#.to_string(), cmd("ok", 1)],
        None,
    )
    .await;
    app.wait_done(1).await;
    common::eventually("the raising message in the DLQ", || async {
        (app.depth("work-dlq").await.0 == 1).then_some(())
    })
    .await;
    let logged = format!("[{}] [ERROR] RuntimeError: asked to raise", probe.name);
    app.wait_log("the error in the log", &logged).await;
    app.wait_log("the failed batch", "RuntimeError: asked to raise")
        .await;
}

/// The function outlives its timeout: it is killed with the process it started.
async fn the_deadline_takes_the_process_tree(probe: &Probe) {
    let app = probe.app(1, "            BatchSize: 1\n");
    app.send("work", &[r#"{"do":"spawn","ms":60000}"#.to_string()], None)
        .await;
    let child = common::eventually("the function to start its child", || {
        let pid = app
            .log()
            .iter()
            .find_map(|l| l.strip_prefix("spawned ").map(str::to_string));
        async move { pid }
    })
    .await;
    common::eventually("the timed-out function's child to be killed", || {
        let gone = process_gone(&child);
        async move { gone.then_some(()) }
    })
    .await;
    app.wait_log("the timeout in the log", "task timed out")
        .await;
}

/// The context and environment an interpreted probe logged (as JSON) are Lambda's.
fn assert_lambda_context(app: &App, probe: &Probe, execution_env: &str) -> serde_json::Value {
    let context = contexts(app).remove(0);
    let name = probe.name;
    assert!(!context["aws_request_id"].as_str().unwrap().is_empty());
    assert_eq!(context["function_name"], name);
    assert_eq!(context["function_version"], "$LATEST");
    assert_eq!(context["memory_limit_in_mb"], "256");
    assert_eq!(
        context["invoked_function_arn"],
        format!("arn:aws:lambda:us-east-1:000000000000:function:{name}")
    );
    assert_eq!(context["log_group_name"], format!("/aws/lambda/{name}"));
    let remaining = context["remaining_ms"].as_u64().unwrap();
    assert!(remaining > 0 && remaining <= 2000, "{remaining}");
    let env = &context["environment"];
    assert_eq!(env["_HANDLER"], probe.handler);
    assert_eq!(env["AWS_EXECUTION_ENV"], execution_env);
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], name);
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert_eq!(env["TZ"], ":UTC");
    assert_eq!(env["GREETING"], "hello");
    let stream = env["AWS_LAMBDA_LOG_STREAM_NAME"].as_str().unwrap();
    let (date, id) = stream.split_once("/[$LATEST]").unwrap();
    assert_eq!(date.len(), "2026/01/31".len(), "{stream}");
    assert!(
        date.starts_with("20") && date.split('/').count() == 3,
        "{stream}"
    );
    assert_eq!(id.len(), 32, "{stream}");
    context
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_success_deletes_and_partial_failures_reach_the_dlq() {
    let probe = Probe::python("python3.12");
    let app = success_deletes_and_partial_failures_reach_the_dlq(&probe).await;
    let context = assert_lambda_context(&app, &probe, "AWS_Lambda_python3.12");
    // AWS's runtime interface client ran it (installed from PyPI beside the build).
    let client = app
        .dir
        .path()
        .join(".lockgate/build/awslambdaric-python3.12");
    assert!(client.join("awslambdaric").is_dir(), "{}", client.display());
    // The dependency from requirements.txt, and the code where it is.
    assert_eq!(context["six"], "1.17.0");
    let task_root = harness::crate_dir("functions/python-probe");
    assert_eq!(
        context["environment"]["LAMBDA_TASK_ROOT"],
        task_root.display().to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_uncaught_errors_fail_their_batch_and_are_logged() {
    uncaught_errors_fail_their_batch_and_are_logged(&Probe::python("python3.12")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_deadline_takes_the_process_tree() {
    the_deadline_takes_the_process_tree(&Probe::python("python3.12")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prebuilt_success_deletes_and_partial_failures_reach_the_dlq() {
    let probe = Probe::c();
    let app = success_deletes_and_partial_failures_reach_the_dlq(&probe).await;
    let context: Vec<String> = app
        .log()
        .iter()
        .find_map(|l| l.strip_prefix("context ").map(str::to_string))
        .unwrap()
        .split(' ')
        .map(str::to_string)
        .collect();
    let [
        request_id,
        deadline_ms,
        arn,
        name,
        memory,
        handler,
        execution_env,
        task_root,
    ] = &context[..]
    else {
        panic!("{context:?}");
    };
    assert!(!request_id.is_empty());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(deadline_ms.parse::<u64>().unwrap() <= now_ms + 2000);
    assert_eq!(
        arn,
        "arn:aws:lambda:us-east-1:000000000000:function:c-probe"
    );
    assert_eq!((name.as_str(), memory.as_str()), ("c-probe", "256"));
    assert_eq!(handler, "bootstrap");
    assert_eq!(execution_env, "AWS_Lambda_provided.al2023");
    assert_eq!(task_root, &probe.code_uri);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prebuilt_uncaught_errors_fail_their_batch_and_are_logged() {
    uncaught_errors_fail_their_batch_and_are_logged(&Probe::c()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prebuilt_deadline_takes_the_process_tree() {
    the_deadline_takes_the_process_tree(&Probe::c()).await;
}

/// The `context` lines the probe logged, parsed.
fn contexts(app: &App) -> Vec<serde_json::Value> {
    app.log()
        .iter()
        .filter_map(|l| l.strip_prefix("context "))
        .map(|json| serde_json::from_str(json).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_esm_success_deletes_and_partial_failures_reach_the_dlq() {
    let probe = Probe::node("node-esm", "esm.handle");
    let app = success_deletes_and_partial_failures_reach_the_dlq(&probe).await;
    let context = assert_lambda_context(&app, &probe, "AWS_Lambda_nodejs20.x");
    // The dependency from package.json, installed by npm beside a copy of the code.
    assert_eq!(context["dependency"], true);
    let task_root = context["environment"]["LAMBDA_TASK_ROOT"].as_str().unwrap();
    assert!(
        task_root.ends_with(".lockgate/build/Fn/task"),
        "{task_root}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_callback_success_deletes_and_partial_failures_reach_the_dlq() {
    let probe = Probe::node("node-cb", "callback.handle");
    let app = success_deletes_and_partial_failures_reach_the_dlq(&probe).await;
    assert_lambda_context(&app, &probe, "AWS_Lambda_nodejs20.x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_esm_uncaught_errors_fail_their_batch_and_are_logged() {
    uncaught_errors_fail_their_batch_and_are_logged(&Probe::node("node-esm", "esm.handle")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_callback_uncaught_errors_fail_their_batch_and_are_logged() {
    uncaught_errors_fail_their_batch_and_are_logged(&Probe::node("node-cb", "callback.handle"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_deadline_takes_the_process_tree() {
    the_deadline_takes_the_process_tree(&Probe::node("node-esm", "esm.handle")).await;
}

/// A callback handler's response waits for the timers it left
/// (`context.callbackWaitsForEmptyEventLoop`, true by default): the message is deleted only
/// after its late log line was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_callbacks_wait_for_an_empty_event_loop() {
    let app = Probe::node("node-cb", "callback.handle").app(2, "");
    app.send("work", &[r#"{"do":"late"}"#.to_string()], None)
        .await;
    app.wait_done(1).await;
    app.wait_empty("work").await;
    assert!(
        app.log().iter().any(|l| l.starts_with("late ")),
        "deleted before the handler's timers ran: {:?}",
        app.log()
    );
}

/// A plain CloudFormation template in JSON: Parameters and Conditions decide the queue names,
/// whether there is a dead-letter queue and an environment variable; functions are
/// `AWS::Lambda::Function` (code from a path, and inline `ZipFile`) wired by
/// `AWS::Lambda::EventSourceMapping`s. `{inline_log}` is the inline function's log.
const CLOUDFORMATION: &str = r#"{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Parameters": {
    "Env": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
    "Batch": {"Type": "Number", "Default": 5}
  },
  "Conditions": {
    "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
    "WithDlq": {"Fn::Not": [{"Condition": "IsProd"}]}
  },
  "Resources": {
    "Dlq": {
      "Type": "AWS::SQS::Queue",
      "Condition": "WithDlq",
      "Properties": {"QueueName": {"Fn::Sub": "${Env}-work-dlq"}}
    },
    "Work": {
      "Type": "AWS::SQS::Queue",
      "Properties": {
        "QueueName": {"Fn::Join": ["-", [{"Ref": "Env"}, "work"]]},
        "VisibilityTimeout": 2,
        "RedrivePolicy": {"Fn::If": ["WithDlq",
          {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 2},
          {"Ref": "AWS::NoValue"}]}
      }
    },
    "Inbox": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${Env}-inbox"}}},
    "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
    "Fn": {
      "Type": "AWS::Lambda::Function",
      "Properties": {
        "FunctionName": "py-probe",
        "Code": "{python_probe}",
        "Handler": "probe_lib.handlers.handle",
        "Runtime": "python3.12",
        "Role": {"Fn::GetAtt": ["Role", "Arn"]},
        "Timeout": 2,
        "MemorySize": 256,
        "Environment": {"Variables": {
          "PROBE_LOG": "{log}",
          "GREETING": {"Fn::If": ["IsProd", "prod", "hello"]}
        }}
      }
    },
    "Mapping": {
      "Type": "AWS::Lambda::EventSourceMapping",
      "Properties": {
        "FunctionName": {"Ref": "Fn"},
        "EventSourceArn": {"Fn::GetAtt": ["Work", "Arn"]},
        "BatchSize": {"Ref": "Batch"},
        "FunctionResponseTypes": ["ReportBatchItemFailures"]
      }
    },
    "Inline": {
      "Type": "AWS::Lambda::Function",
      "Properties": {
        "Runtime": "python3.12",
        "Handler": "index.handler",
        "Role": {"Fn::GetAtt": ["Role", "Arn"]},
        "Code": {"ZipFile": "import os\ndef handler(event, context):\n    with open(os.environ['LOG'], 'a') as log:\n        for r in event['Records']:\n            log.write('inline ' + r['body'] + '\\n')\n"},
        "Environment": {"Variables": {"LOG": "{inline_log}"}}
      }
    },
    "InlineMapping": {
      "Type": "AWS::Lambda::EventSourceMapping",
      "Properties": {
        "FunctionName": "Inline",
        "EventSourceArn": {"Fn::GetAtt": ["Inbox", "Arn"]}
      }
    }
  }
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudformation_template_with_parameters_conditions_and_mappings_runs() {
    let inline_log = tempfile::tempdir().unwrap();
    let inline_path = inline_log.path().join("inline.log");
    let template = CLOUDFORMATION.replace("{inline_log}", &inline_path.display().to_string());
    let app = App::start_template(&template, &[]);
    let mut bodies: Vec<String> = (0..3).map(|i| cmd("ok", i)).collect();
    bodies.push(cmd("fail", 100));
    app.send("dev-work", &bodies, None).await;
    app.wait_done(3).await;
    common::eventually("the failing message in the DLQ", || async {
        (app.depth("dev-work-dlq").await.0 == 1).then_some(())
    })
    .await;
    let context = &contexts(&app)[0];
    assert_eq!(context["environment"]["GREETING"], "hello");
    // The inline function, its mapping naming it by logical id.
    app.send("dev-inbox", &["hi".to_string()], None).await;
    common::eventually("the inline function's log", || {
        let log = std::fs::read_to_string(&inline_path).unwrap_or_default();
        async move { (log == "inline hi\n").then_some(()) }
    })
    .await;
    app.wait_log("the IAM role skipped", "Role (AWS::IAM::Role)")
        .await;

    // With Env=prod: other queue names, no dead-letter queue, the other branch of Fn::If.
    let prod = App::start_template(&template, &["--parameter-overrides", "Env=prod", "Batch=2"]);
    prod.send("prod-work", &[cmd("ok", 1)], None).await;
    prod.wait_done(1).await;
    assert_eq!(contexts(&prod)[0]["environment"]["GREETING"], "prod");
    let queues = prod
        .client
        .list_queues()
        .send()
        .await
        .unwrap()
        .queue_urls
        .unwrap_or_default();
    assert!(queues.iter().all(|q| !q.ends_with("-dlq")), "{queues:?}");
    prod.wait_log(
        "the skipped queue",
        "Dlq (AWS::SQS::Queue, its Condition WithDlq is false)",
    )
    .await;
}

/// TypeScript through SAM's `BuildMethod: esbuild`: the esbuild of the function's
/// devDependencies bundles `app.ts` (and its package) into `app.js`, which runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_is_bundled_with_esbuild_and_runs() {
    let app = success_deletes_and_partial_failures_reach_the_dlq(&Probe::typescript()).await;
    let context = &contexts(&app)[0];
    let bundled = context["bundled"].as_str().unwrap();
    assert!(
        bundled.ends_with(".lockgate/build/Fn/bundle/app.js"),
        "{bundled}"
    );
    assert_eq!(context["dependency"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_on_lockgates_own_bootstrap_keeps_the_same_contract() {
    let probe = Probe::python_builtin();
    let app = success_deletes_and_partial_failures_reach_the_dlq(&probe).await;
    let context = assert_lambda_context(&app, &probe, "AWS_Lambda_python3.12");
    assert_eq!(context["six"], "1.17.0");
    let client = app
        .dir
        .path()
        .join(".lockgate/build/awslambdaric-python3.12");
    assert!(!client.exists(), "AWS's client was installed anyway");
    uncaught_errors_fail_their_batch_and_are_logged(&probe).await;
    the_deadline_takes_the_process_tree(&probe).await;
}
