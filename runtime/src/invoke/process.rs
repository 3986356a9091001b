//! Native functions: the function's `bootstrap` binary runs as child processes with Lambda's
//! environment, each talking to its own Runtime API endpoint. One invocation per process at a
//! time; idle processes are reused; a process that times out or dies is replaced.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot, watch};

use super::event::{self, LambdaRecord};
use super::runtime_api::{Api, Pending, router};
use super::{InvokeError, Invoker, Outcome, response};
use crate::builder::Artifact;
use crate::template::FunctionKind;

/// What it takes to start a function's process.
#[derive(Clone)]
pub struct FunctionSpec {
    pub name: String,
    /// The program that speaks the Runtime API, and its arguments: the function's `bootstrap`,
    /// or an interpreter running lockgate's bootstrap for the language.
    pub program: PathBuf,
    pub args: Vec<std::ffi::OsString>,
    /// Lambda's `LAMBDA_TASK_ROOT`, `_HANDLER` and `AWS_EXECUTION_ENV`.
    pub task_root: PathBuf,
    pub handler: String,
    pub execution_env: String,
    pub arn: String,
    pub timeout: Duration,
    pub memory_mb: u32,
    pub region: String,
    /// Template variables plus what lockgate adds (AWS_ENDPOINT_URL_SQS, credentials) and what
    /// the language needs (PYTHONPATH).
    pub env: Vec<(String, String)>,
    /// Where the process's stdout and stderr lines go.
    pub log: crate::logbook::LineSink,
}

impl FunctionSpec {
    /// The spec of a template function that runs `artifact` as a process (a native or prebuilt
    /// bootstrap, or a Python function); `None` for a WASM component.
    pub fn new(
        function: &crate::template::FunctionDef,
        artifact: &Artifact,
        region: &str,
        mut env: Vec<(String, String)>,
    ) -> Option<Self> {
        let (program, args, task_root, handler, execution_env) = match (artifact, &function.kind) {
            (Artifact::Executable(bootstrap), _) => (
                bootstrap.clone(),
                Vec::new(),
                bootstrap
                    .parent()
                    .map_or_else(|| PathBuf::from("."), PathBuf::from),
                "bootstrap".to_string(),
                "AWS_Lambda_provided.al2023".to_string(),
            ),
            (
                Artifact::Python {
                    interpreter,
                    bootstrap,
                    runtime_client,
                    dependencies,
                    task_root,
                    ..
                },
                FunctionKind::Python { handler, version },
            ) => {
                let mut path = vec![dependencies.clone(), task_root.clone()];
                path.extend(runtime_client.clone());
                let path = std::env::join_paths(path)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // Lambda's own variables first: a template variable of the same name wins.
                env.insert(0, ("PYTHONPATH".to_string(), path));
                // Lambda's task root is read-only, so no bytecode cache is written there; here
                // one would litter the function's sources, and a cached module can outlive an
                // edit made within the same second at the same size (watch mode would then
                // run the old code).
                env.insert(0, ("PYTHONDONTWRITEBYTECODE".to_string(), "1".to_string()));
                // Unbuffered, so the function's output shows as it is written.
                let args = match runtime_client {
                    Some(_) => vec![
                        "-u".into(),
                        "-m".into(),
                        "awslambdaric".into(),
                        handler.into(),
                    ],
                    None => vec!["-u".into(), bootstrap.clone().into_os_string()],
                };
                (
                    interpreter.clone(),
                    args,
                    task_root.clone(),
                    handler.clone(),
                    format!("AWS_Lambda_python{version}"),
                )
            }
            (
                Artifact::Node {
                    node,
                    bootstrap,
                    task_root,
                    modules,
                },
                FunctionKind::Node { handler, version },
            ) => {
                env.insert(0, ("NODE_PATH".to_string(), modules.display().to_string()));
                (
                    node.clone(),
                    vec![bootstrap.clone().into_os_string()],
                    task_root.clone(),
                    handler.clone(),
                    format!("AWS_Lambda_nodejs{version}.x"),
                )
            }
            _ => return None,
        };
        Some(Self {
            name: function.name.clone(),
            program,
            args,
            task_root,
            handler,
            execution_env,
            arn: format!(
                "arn:aws:lambda:{region}:000000000000:function:{}",
                function.name
            ),
            timeout: Duration::from_secs(u64::from(function.timeout_s)),
            memory_mb: function.memory_mb,
            region: region.to_string(),
            env,
            log: {
                let name = function.name.clone();
                std::sync::Arc::new(move |line: &str| eprintln!("[{name}] {line}"))
            },
        })
    }
}

/// Lambda's limit on a new execution environment's init phase (start-up until the runtime asks
/// for its first event).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct ProcessPool {
    spec: Arc<FunctionSpec>,
    idle: Mutex<Vec<Worker>>,
    requests: AtomicU64,
}

struct Worker {
    events: mpsc::Sender<Pending>,
    api: Arc<Api>,
    exited: watch::Receiver<Option<String>>,
    kill: Option<oneshot::Sender<()>>,
    /// The function runs in its own process group: this kills it and everything it started.
    group: Option<ProcessGroup>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        // At once, not from a task: a worker dropped while lockgate exits still takes its
        // processes with it, as Lambda tears down an environment.
        if let Some(group) = self.group.take() {
            group.kill();
        }
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
    }
}

impl ProcessPool {
    pub fn new(spec: FunctionSpec) -> Self {
        Self {
            spec: Arc::new(spec),
            idle: Mutex::new(Vec::new()),
            requests: AtomicU64::new(0),
        }
    }

    /// Runs one invocation on an idle process (or a new one) and returns the function's
    /// response body.
    pub async fn run(&self, payload: Vec<u8>) -> Result<Vec<u8>, InvokeError> {
        let worker = loop {
            let candidate = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match candidate {
                Some(w) if w.exited.borrow().is_none() => break w,
                Some(_) => continue,
                None => break self.spawn().await?,
            }
        };
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let (started, taken) = oneshot::channel();
        let (done, outcome) = oneshot::channel();
        let pending = Pending {
            request_id: request_id(n),
            payload,
            timeout: self.spec.timeout,
            started,
            done,
        };
        if worker.events.send(pending).await.is_err() {
            return Err(InvokeError::Crashed(
                "the runtime stopped accepting events".into(),
            ));
        }
        let mut exited = worker.exited.clone();
        let crashed = |status: Option<String>| {
            let why = status.unwrap_or_default();
            let why = worker
                .api
                .init_error()
                .map_or(why.clone(), |e| format!("{why}; init error: {e}"));
            InvokeError::Crashed(why)
        };
        let result = async {
            // A new process first initialises: Lambda gives that phase its own limit, and the
            // function's timeout starts when the runtime takes the event.
            let deadline = tokio::select! {
                deadline = taken => deadline.map_err(|_| InvokeError::Crashed("the runtime went away".into()))?,
                _ = tokio::time::sleep(INIT_TIMEOUT) => return Err(InvokeError::InitTimeout),
                status = exited.wait_for(Option::is_some) => return Err(crashed(status.ok().and_then(|s| s.clone()))),
            };
            tokio::select! {
                r = outcome => r.unwrap_or_else(|_| Err(InvokeError::Crashed("the runtime went away".into()))),
                _ = tokio::time::sleep_until(deadline) => Err(InvokeError::Timeout),
                status = exited.wait_for(Option::is_some) => Err(crashed(status.ok().and_then(|s| s.clone()))),
            }
        }
        .await;
        match &result {
            // The process is healthy: keep it for the next invocation.
            Ok(_) | Err(InvokeError::Function { .. }) => self
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(worker),
            // Timed out or dead: dropping the worker kills the process.
            Err(_) => drop(worker),
        }
        result
    }

    async fn spawn(&self) -> Result<Worker, InvokeError> {
        let spec = &self.spec;
        let (api, events) = Api::new(spec.arn.clone());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| InvokeError::Crashed(format!("cannot open a Runtime API port: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| InvokeError::Crashed(e.to_string()))?;
        let (stop_api, api_stopped) = oneshot::channel::<()>();
        let app = router(api.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = api_stopped.await;
                })
                .await;
        });

        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .current_dir(&spec.task_root)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                spec.memory_mb.to_string(),
            )
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", spec.name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", log_stream_name())
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("LANG", "en_US.UTF-8")
            .env("AWS_REGION", &spec.region)
            .env("AWS_DEFAULT_REGION", &spec.region)
            .env("AWS_EXECUTION_ENV", &spec.execution_env)
            .env("LAMBDA_TASK_ROOT", &spec.task_root)
            .env("_HANDLER", &spec.handler)
            .env("TZ", ":UTC")
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| {
            InvokeError::Crashed(format!("cannot start {}: {e}", spec.program.display()))
        })?;
        for stream in [
            child.stdout.take().map(box_reader),
            child.stderr.take().map(box_reader),
        ]
        .into_iter()
        .flatten()
        {
            let log = spec.log.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    log(&line);
                }
            });
        }
        let group = child.id().map(ProcessGroup::of_leader);
        let (exit_tx, exited) = watch::channel(None);
        let (kill, killed) = oneshot::channel::<()>();
        let watcher_api = api.clone();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
                _ = killed => {
                    let _ = child.kill().await;
                    "killed".to_string()
                }
            };
            // The bootstrap is gone; what it started must not outlive it.
            if let Some(group) = group {
                group.kill();
            }
            watcher_api.fail_current(InvokeError::Crashed(status.clone()));
            let _ = exit_tx.send(Some(status));
            let _ = stop_api.send(());
        });
        Ok(Worker {
            events,
            api,
            exited,
            kill: Some(kill),
            group,
        })
    }
}

/// A process takes its records as JSON and answers Lambda's JSON response.
impl Invoker for ProcessPool {
    type Record = Vec<u8>;

    fn prepare(
        &self,
        message: aws_sdk_sqs::types::Message,
        queue_arn: &str,
        region: &str,
    ) -> (Vec<u8>, usize) {
        let record = LambdaRecord::new(&message, queue_arn, region);
        let json = serde_json::to_vec(&record).expect("record serializes");
        let len = json.len();
        (json, len)
    }

    async fn invoke(&self, batch: Vec<Vec<u8>>) -> Outcome {
        match self.run(event::assemble(&batch)).await {
            Ok(body) => response::outcome(&body),
            Err(e) => Outcome::Error(e),
        }
    }

    async fn invoke_event(&self, event: Vec<u8>) -> Result<Vec<u8>, InvokeError> {
        self.run(event).await
    }

    /// Stops every idle process.
    fn shutdown(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// A log stream name shaped as Lambda's: `YYYY/MM/DD/[$LATEST]<32 hex digits>`, one per
/// process (an execution environment).
fn log_stream_name() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let (year, month, day) = lockgate_emulator::civil_date((now.as_secs() / 86_400) as i64);
    let id = now.as_nanos() ^ (u128::from(std::process::id()) << 64);
    format!("{year:04}/{month:02}/{day:02}/[$LATEST]{id:032x}")
}

/// A function process's group (its pid: the bootstrap leads the group it was started in).
#[derive(Debug, Clone, Copy)]
struct ProcessGroup(i32);

impl ProcessGroup {
    fn of_leader(pid: u32) -> Self {
        Self(pid as i32)
    }

    /// SIGKILL to every process of the group (a process that left it with setsid escapes;
    /// Lambda's own sandbox has the same edge).
    fn kill(self) {
        if self.0 <= 1 {
            return; // never signal "every process" (-1) or our own group (0)
        }
        #[allow(unsafe_code)] // one of two unsafe calls in the workspace (see main.rs)
        // SAFETY: kill(2) with a negative pid signals a process group; it touches no memory.
        unsafe {
            libc::kill(-self.0, libc::SIGKILL);
        }
    }
}

fn box_reader<R: tokio::io::AsyncRead + Send + Unpin + 'static>(
    r: R,
) -> Box<dyn tokio::io::AsyncRead + Send + Unpin> {
    Box::new(r)
}

pub fn request_id(n: u64) -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0) as u64;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (t >> 32) as u32,
        (t >> 16) as u16,
        (n >> 12) & 0xfff,
        n & 0xfff,
        t.wrapping_mul(0x9E37_79B9_7F4A_7C15) & 0xffff_ffff_ffff
    )
}
