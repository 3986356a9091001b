//! Shared by the end-to-end tests: `lockgate up` as a process on a template written for the
//! test, a real aws-sdk-sqs client for its emulator, and the probe functions' traces.
#![allow(dead_code)]

pub use lockgate_test_support as common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use lockgate_runtime::builder::Profile;
use lockgate_runtime::template::Template;
use lockgate_runtime::{AppOptions, SqsTarget};

/// What runs the app under test.
pub enum Runner {
    /// `lockgate up` as a process: for what only a process shows (signals, its log, the CLI).
    Process(Child),
    /// `lockgate_runtime::App` in the test's own process, on an in-memory emulator (taken on
    /// [`App::stop`]).
    InProcess(Option<Box<lockgate_runtime::App>>),
}

pub struct App {
    pub runner: Runner,
    pub client: Client,
    pub dir: tempfile::TempDir,
    /// Every line `lockgate up` wrote to stderr (functions' output included), in order.
    pub output: Arc<Mutex<Vec<String>>>,
}

/// A directory of the workspace, absolute.
pub fn crate_dir(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
        .canonicalize()
        .unwrap()
}

/// Builds the `wasm-probe` component for wasm32-wasip2 (as `lockgate up` would) and returns
/// the `.wasm`.
pub fn build_wasm_probe() -> PathBuf {
    lockgate_test_support::guest::build_component("wasm-probe")
}

pub fn probe_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../functions/probe")
        .canonicalize()
        .unwrap()
}

impl App {
    /// Starts `lockgate up` on a template whose `Resources` are `resources` (`{probe}` is
    /// replaced by the probe function's directory).
    pub fn start(resources: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, resources, &["--in-memory"])
    }

    pub fn start_in(dir: tempfile::TempDir, resources: &str, extra: &[&str]) -> Self {
        Self::start_in_with(dir, resources, extra, &[])
    }

    /// [`App::start`] with these environment variables for `lockgate up`.
    pub fn start_with_env(resources: &str, env: &[(&str, &str)]) -> Self {
        Self::start_in_with(
            tempfile::tempdir().unwrap(),
            resources,
            &["--in-memory"],
            env,
        )
    }

    pub fn start_in_with(
        dir: tempfile::TempDir,
        resources: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let (child, endpoint, output) = Self::launch(&dir, resources, extra, env);
        let endpoint = endpoint.expect("the embedded emulator started");
        let client = common::client(&endpoint, "AKIDEXAMPLE");
        Self {
            runner: Runner::Process(child),
            client,
            dir,
            output,
        }
    }

    /// The app in this process, built and started the way `lockgate up` does it, on an
    /// in-memory emulator. Its functions' output is captured as `lockgate up` prints it.
    pub async fn in_process(resources: &str) -> Self {
        Self::in_process_on(resources, lockgate_emulator::SystemClock::shared()).await
    }

    /// [`App::in_process`] with the emulator and the mappings on `clock`.
    pub async fn in_process_on(resources: &str, clock: lockgate_emulator::SharedClock) -> Self {
        let dir = tempfile::tempdir().unwrap();
        write_template(&dir, resources);
        let template = Template::load(&dir.path().join("template.yaml")).unwrap();
        let output: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = output.clone();
        let options = AppOptions {
            sqs: SqsTarget::Embedded(Box::new(lockgate_emulator::EmulatorConfig::ephemeral())),
            build_profile: Profile::Dev,
            region: "us-east-1".into(),
            clock,
            logbook: lockgate_runtime::logbook::LogBook::new(Arc::new(move |function, line| {
                sink.lock().unwrap().push(format!("[{function}] {line}"));
            })),
            s3_endpoint: None,
        };
        let app = lockgate_runtime::App::start(&template, options)
            .await
            .unwrap();
        let endpoint = app.emulator_endpoint().expect("the embedded emulator");
        Self {
            client: common::client(&endpoint, "AKIDEXAMPLE"),
            runner: Runner::InProcess(Some(Box::new(app))),
            dir,
            output,
        }
    }

    /// The in-process app, to read its report.
    pub fn report(&self) -> &lockgate_runtime::App {
        match &self.runner {
            Runner::InProcess(Some(app)) => app,
            _ => panic!("only an in-process app has a report"),
        }
    }

    /// The `lockgate up` process.
    pub fn child(&mut self) -> &mut Child {
        match &mut self.runner {
            Runner::Process(child) => child,
            Runner::InProcess(_) => panic!("an in-process app has no child process"),
        }
    }

    /// Shuts an in-process app down in order (a process is killed when dropped).
    pub async fn stop(mut self) {
        if let Runner::InProcess(app) = &mut self.runner
            && let Some(app) = app.take()
        {
            app.shutdown().await;
        }
    }

    /// Writes the template and starts `lockgate up` with `extra` arguments and `env`; returns
    /// once it runs its mappings, with the embedded emulator's endpoint if it started one and
    /// the buffer its stderr lines keep arriving in.
    pub fn launch(
        dir: &tempfile::TempDir,
        resources: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (Child, Option<String>, Arc<Mutex<Vec<String>>>) {
        Self::launch_template(dir, &format!("Resources:\n{resources}"), extra, env)
    }

    /// `lockgate up` on a whole template (any format; placeholders as in [`write_template`]).
    pub fn start_template(text: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let extra = [&["--in-memory"][..], extra].concat();
        let (child, endpoint, output) = Self::launch_template(&dir, text, &extra, &[]);
        let endpoint = endpoint.expect("the embedded emulator started");
        Self {
            runner: Runner::Process(child),
            client: common::client(&endpoint, "AKIDEXAMPLE"),
            dir,
            output,
        }
    }

    /// [`App::launch`] on a whole template (placeholders as in [`write_template`]).
    pub fn launch_whole(
        dir: &tempfile::TempDir,
        text: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (Child, Option<String>, Arc<Mutex<Vec<String>>>) {
        Self::launch_template(dir, text, extra, env)
    }

    /// The endpoint of the emulator `lockgate up` embeds (from its log).
    pub fn url_of_emulator(&self) -> String {
        self.output
            .lock()
            .unwrap()
            .iter()
            .find_map(|l| {
                l.split("SQS emulator ready on ")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_string)
            })
            .expect("lockgate up embeds an emulator")
    }

    fn launch_template(
        dir: &tempfile::TempDir,
        text: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (Child, Option<String>, Arc<Mutex<Vec<String>>>) {
        write_whole_template(dir, text);
        let mut child = Command::new(env!("CARGO_BIN_EXE_lockgate"))
            .current_dir(dir.path())
            .args([
                "up",
                "--build-profile",
                "dev",
                "--bind",
                "127.0.0.1:0",
                "--status-interval",
                "3600",
            ])
            .args(extra)
            .env("NO_COLOR", "1")
            // Hermetic: nothing from the caller's AWS environment, only what the test sets.
            .env_remove("AWS_ENDPOINT_URL_SQS")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut endpoint = None;
        loop {
            let line = lines
                .next()
                .expect("lockgate up reported that it runs")
                .unwrap();
            eprintln!("{line}");
            output.lock().unwrap().push(line.clone());
            if let Some(rest) = line.split("SQS emulator ready on ").nth(1) {
                endpoint = Some(rest.split_whitespace().next().unwrap().to_string());
            }
            if line.contains("running: send messages") {
                break;
            }
        }
        let sink = output.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                eprintln!("{line}");
                sink.lock().unwrap().push(line);
            }
        });
        (child, endpoint, output)
    }

    pub async fn url(&self, name: &str) -> String {
        let client = self.client.clone();
        let name = name.to_string();
        common::eventually("the queue to exist", || {
            let client = client.clone();
            let name = name.clone();
            async move {
                client
                    .get_queue_url()
                    .queue_name(name)
                    .send()
                    .await
                    .ok()
                    .and_then(|o| o.queue_url)
            }
        })
        .await
    }

    pub async fn send(&self, queue: &str, bodies: &[String], group: Option<&str>) {
        let url = self.url(queue).await;
        for (n, chunk) in bodies.chunks(10).enumerate() {
            let mut req = self.client.send_message_batch().queue_url(&url);
            for (i, body) in chunk.iter().enumerate() {
                let mut e = SendMessageBatchRequestEntry::builder()
                    .id(format!("e{i}"))
                    .message_body(body);
                if let Some(g) = group {
                    e = e
                        .message_group_id(g)
                        .message_deduplication_id(format!("{g}-{n}-{i}"));
                }
                req = req.entries(e.build().unwrap());
            }
            let out = req.send().await.unwrap();
            assert!(out.failed.is_empty(), "{:?}", out.failed);
        }
    }

    /// The probe's log lines written so far. A read may meet a line whose write is still in
    /// progress (each line is one append, but a read may see part of it): only lines ended
    /// by their newline count.
    pub fn log(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir.path().join("probe.log")).unwrap_or_default();
        let complete = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
        complete.lines().map(str::to_string).collect()
    }

    /// (body, attempt) of every completed message, in completion order.
    pub fn done(&self) -> Vec<(String, u32)> {
        self.log()
            .iter()
            .filter_map(|l| l.strip_prefix("done "))
            .map(|l| {
                let parts: Vec<&str> = l.split(' ').collect();
                (parts[1].to_string(), parts[3].parse().unwrap())
            })
            .collect()
    }

    pub async fn wait_done(&self, count: usize) -> Vec<(String, u32)> {
        common::eventually(&format!("{count} messages processed"), || {
            let done = self.done();
            async move { (done.len() >= count).then_some(done) }
        })
        .await
    }

    pub async fn depth(&self, queue: &str) -> (u64, u64) {
        let url = self.url(queue).await;
        let attrs = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        let n = |k: &str| attrs[&k.into()].parse().unwrap();
        (
            n("ApproximateNumberOfMessages"),
            n("ApproximateNumberOfMessagesNotVisible"),
        )
    }

    pub async fn wait_empty(&self, queue: &str) {
        common::eventually(&format!("{queue} to be empty"), || async {
            (self.depth(queue).await == (0, 0)).then_some(())
        })
        .await
    }

    pub fn interrupt(&mut self) -> std::process::ExitStatus {
        let child = self.child();
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        child.wait().unwrap()
    }
}

/// Runs `lockgate ARGS` in `dir` to completion.
pub fn lockgate(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lockgate"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// `lockgate invoke FUNCTION --event EVENT` (dev profile) in `dir`: the function's response.
pub fn invoke(dir: &Path, function: &str, event: &Path) -> serde_json::Value {
    let event = event.to_str().unwrap();
    let out = lockgate(
        dir,
        &[
            "invoke",
            function,
            "--build-profile",
            "dev",
            "--event",
            event,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Writes `template.yaml` with these `Resources` (`{probe}`: the probe function's directory,
/// `{log}`: its log in `dir`).
pub fn write_template(dir: &tempfile::TempDir, resources: &str) {
    write_whole_template(dir, &format!("Resources:\n{resources}"));
}

/// Writes `template.yaml` with this text, placeholders replaced as in [`write_template`].
pub fn write_whole_template(dir: &tempfile::TempDir, text: &str) {
    let template = text
        .replace("{probe}", &probe_dir().display().to_string())
        .replace(
            "{wasm_probe}",
            &crate_dir("functions/wasm-probe").display().to_string(),
        )
        .replace(
            "{wasm_bootstrap}",
            &crate_dir("runtime/wasm-bootstrap").display().to_string(),
        )
        .replace(
            "{ts_probe}",
            &crate_dir("functions/ts-probe").display().to_string(),
        )
        .replace(
            "{node_probe}",
            &crate_dir("functions/node-probe").display().to_string(),
        )
        .replace(
            "{python_probe}",
            &crate_dir("functions/python-probe").display().to_string(),
        )
        .replace("{log}", &dir.path().join("probe.log").display().to_string());
    std::fs::write(dir.path().join("template.yaml"), template).unwrap();
}

impl App {
    /// The lines a function printed (`[Function] …` in lockgate's log), prefix removed.
    pub fn function_output(&self, function: &str) -> Vec<String> {
        let prefix = format!("[{function}] ");
        self.output
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix).map(str::to_string))
            .collect()
    }

    /// Waits until a line of lockgate's log contains `needle`.
    pub async fn wait_log(&self, what: &str, needle: &str) {
        common::eventually(what, || {
            let found = self
                .output
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(needle));
            async move { found.then_some(()) }
        })
        .await
    }

    /// Waits until `check` holds for a function's output lines and returns them.
    pub async fn wait_output(
        &self,
        function: &str,
        what: &str,
        check: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        common::eventually(what, || {
            let lines = self.function_output(function);
            let ok = check(&lines);
            async move { ok.then_some(lines) }
        })
        .await
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Runner::Process(child) = &mut self.runner {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether process `pid` has exited (gone, or a zombie waiting to be reaped).
pub fn process_gone(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z'))
        })
        .unwrap_or(true)
}

/// Queue `work` (visibility `timeout` s) whose dead-letter queue `work-dlq` takes a message
/// after `max_receives` receives, as template resources.
pub fn work_queues(timeout: u32, max_receives: u32) -> String {
    format!(
        "  Dlq:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: work-dlq
  Work:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: work
      VisibilityTimeout: {timeout}
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Dlq.Arn
        maxReceiveCount: {max_receives}
"
    )
}

/// `lockgate send work --file FILE` against the app's emulator (a file above the queue's
/// MaximumMessageSize is offloaded to its S3 endpoint); returns the endpoint.
pub async fn send_file(app: &App, file: &Path) -> String {
    let url = app.url("work").await;
    let endpoint = url.trim_end_matches("/000000000000/work").to_string();
    let out = lockgate(
        app.dir.path(),
        &[
            "send",
            "work",
            "--file",
            file.to_str().unwrap(),
            "--endpoint",
            &endpoint,
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("uploaded to s3://lockgate-payloads/"),
        "{stderr}"
    );
    endpoint
}

/// Waits until `bucket` of the emulator at `endpoint` (the S3 endpoint on its port) holds no
/// object.
pub async fn wait_bucket_empty(endpoint: &str, bucket: &str) {
    let addr: std::net::SocketAddr = endpoint.trim_start_matches("http://").parse().unwrap();
    let path = format!("/{bucket}?list-type=2");
    common::eventually(&format!("bucket {bucket} empty"), || async {
        let (status, _, listing) = common::raw_request(addr, "GET", &path, &[], b"").await;
        assert_eq!(status, 200, "{listing}");
        (!listing.contains("<Contents>")).then_some(())
    })
    .await;
}

pub fn cmd(action: &str, n: usize) -> String {
    format!(r#"{{"do":"{action}","n":{n}}}"#)
}

pub const PROBE: &str = "  Probe:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: probe
    Properties:
      CodeUri: {probe}
      Timeout: {timeout}
      Environment:
        Variables:
          PROBE_LOG: {log}
      Events:
        E:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
{event}";

pub fn app_yaml(queue: &str, timeout: u32, event: &str) -> String {
    format!(
        "  Dlq:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: work-dlq\n  Work:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: work\n{queue}{}",
        PROBE
            .replace("{timeout}", &timeout.to_string())
            .replace("{event}", event)
    )
}
