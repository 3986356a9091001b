//! `lockgate up`: build the template's functions, start the emulator (unless `--endpoint`),
//! create the queues, run every SQS event mapping, show live status, stop cleanly on Ctrl-C.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use lockgate_emulator::{Config, EmulatorConfig, RunningEmulator};
use tokio::sync::watch;

use crate::builder::{self, Profile};
use crate::esm::{Mapping, MappingConfig};
use crate::invoke::Invoker;
use crate::invoke::lambda_process::{FunctionSpec, ProcessPool};
use crate::invoke::wasm::WasmInvoker;
use crate::template::{AttributeValue, FunctionKind, Scope, Template};
use lockgate_wasm_host::WasmEngine;

#[derive(clap::Args)]
pub struct Args {
    /// The SAM template to run.
    #[arg(long, default_value = "template.yaml")]
    pub template: PathBuf,
    /// Where the embedded emulator listens.
    #[arg(long, default_value = "127.0.0.1:9324")]
    pub bind: SocketAddr,
    /// Directory for the emulator's durable state.
    #[arg(long, default_value = ".lockgate")]
    pub data_dir: PathBuf,
    /// Keep the embedded emulator's state in memory.
    #[arg(long)]
    pub in_memory: bool,
    /// Use this SQS endpoint instead of starting the embedded emulator.
    #[arg(long, env = "AWS_ENDPOINT_URL_SQS")]
    pub endpoint: Option<String>,
    /// Run against real SQS (or `--endpoint`) with the AWS SDK's default configuration:
    /// credential chain, profile, region. Functions inherit the same AWS environment.
    #[arg(long)]
    pub aws: bool,
    /// Cargo profile for building functions.
    #[arg(long, value_enum, default_value = "release")]
    pub profile: Profile,
    /// Seconds between status lines when not on a terminal.
    #[arg(long, default_value_t = 5)]
    pub status_interval: u64,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// A browser origin (e.g. `http://localhost:3000`) whose pages may call the embedded
    /// emulator; may be given more than once. Other sites' pages are refused.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let template = Template::load(&args.template)?;
    for (id, kind) in &template.skipped {
        tracing::info!("skipping {id} ({kind}): lockgate runs SQS queues and functions");
    }
    let mut executables = BTreeMap::new();
    for (id, function) in &template.functions {
        tracing::info!("building {id} ({})", function.kind.artifact());
        let exe = builder::build_in_background(&template.dir, function, args.profile).await?;
        executables.insert(id.clone(), exe);
    }

    let (emulator, endpoint) = match (&args.endpoint, args.aws) {
        (Some(endpoint), _) => (None, Some(endpoint.clone())),
        (None, true) => (None, None),
        (None, false) => {
            let emulator = RunningEmulator::start(EmulatorConfig {
                bind: args.bind,
                data_dir: (!args.in_memory).then(|| args.data_dir.clone()),
                sqs: Config {
                    region: args.region.clone(),
                    ..Config::default()
                },
                limits: Default::default(),
                allowed_origins: args.allowed_origins.clone(),
            })
            .await
            .map_err(anyhow::Error::msg)
            .with_context(|| {
                format!(
                    "starting the emulator on {} (is the port taken? use --bind)",
                    args.bind
                )
            })?;
            let endpoint = emulator.endpoint();
            tracing::info!("SQS emulator ready on {endpoint}");
            (Some(emulator), Some(endpoint))
        }
    };
    let sqs = if args.aws {
        super::aws_sqs_client(endpoint.as_deref(), &args.region).await?
    } else {
        let endpoint = endpoint.as_deref().expect("an endpoint without --aws");
        super::sqs_client(endpoint, &args.region)
    };
    let region = sqs
        .config()
        .region()
        .map_or_else(|| args.region.clone(), ToString::to_string);
    if args.aws {
        let at = endpoint.as_deref().unwrap_or("its regional endpoint");
        tracing::info!("using AWS SQS in {region} at {at} with the default credential chain");
    }
    let queues = create_queues(&sqs, &template).await?;
    let scope = AppScope {
        queues: &queues,
        region: region.clone(),
    };

    let (stop, shutdown) = watch::channel(false);
    let wasm_engine = wasm_engine_for(&template)?;
    let mut mappings = Vec::new();
    let mut pools = Vec::new();
    for (id, function) in &template.functions {
        let mut variables = Vec::new();
        for (key, value) in &function.environment {
            let value = value
                .resolve(&scope)
                .map_err(|e| anyhow::anyhow!("function {id}: Environment {key}: {e}"))?;
            variables.push((key.clone(), value));
        }
        let pool = Arc::new(match (&function.kind, &wasm_engine) {
            (FunctionKind::Wasm { .. }, Some(engine)) => {
                // A guest sees the template's variables and nothing else.
                Invoker::Wasm(WasmInvoker::load(
                    engine.clone(),
                    function,
                    executables[id].clone(),
                    variables,
                )?)
            }
            _ => {
                let mut env = function_aws_environment(endpoint.as_deref(), args.aws);
                env.extend(variables);
                Invoker::Process(ProcessPool::new(FunctionSpec::new(
                    function,
                    executables[id].clone(),
                    &region,
                    env,
                )))
            }
        });
        pools.push(pool.clone());
        for event in function.events.iter().filter(|e| e.enabled) {
            let queue_arn = event
                .queue
                .resolve(&scope)
                .map_err(|e| anyhow::anyhow!("function {id}: event {}: {e}", event.name))?;
            let queue = queues
                .values()
                .find(|q| q.arn == queue_arn)
                .with_context(|| format!("function {id}: event {}: queue {queue_arn} is not one of the template's queues", event.name))?;
            let mapping = Mapping::new(
                MappingConfig {
                    function: function.name.clone(),
                    queue_url: queue.url.clone(),
                    queue_arn: queue.arn.clone(),
                    region: region.clone(),
                    fifo: queue.fifo,
                    batch_size: event.batch_size,
                    window: Duration::from_secs(u64::from(event.window_s)),
                    report_batch_item_failures: event.report_batch_item_failures,
                    max_concurrency: event.max_concurrency,
                    filters: event.filters.clone(),
                },
                sqs.clone(),
                pool.clone(),
            );
            tracing::info!(
                "mapping {} ← {} (batch {}, window {} s, concurrency ≤ {})",
                function.name,
                queue.name,
                event.batch_size,
                event.window_s,
                event.max_concurrency.unwrap_or(1000)
            );
            mappings.push(mapping);
        }
    }
    if mappings.is_empty() {
        bail!("the template has no enabled SQS event mappings");
    }
    let mut running = tokio::task::JoinSet::new();
    for m in &mappings {
        running.spawn(m.clone().run(shutdown.clone()));
    }
    tracing::info!("running: send messages with `lockgate send <queue> <body>`; Ctrl-C stops");
    let display = crate::cli::status::Display::new(
        &sqs,
        &queues,
        &mappings,
        Duration::from_secs(args.status_interval),
    );
    tokio::select! {
        _ = super::shutdown_signal() => {}
        _ = display.run() => {}
    }
    tracing::info!("stopping: no new batches; waiting for in-flight batches to finish");
    let _ = stop.send(true);
    while running.join_next().await.is_some() {}
    for pool in &pools {
        pool.shutdown();
    }
    if let Some(emulator) = emulator {
        emulator.shutdown().await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// The wasmtime engine for the template's WASM functions, if it has any: its instance pool
/// holds as many instances as their mappings may run at once.
fn wasm_engine_for(template: &Template) -> anyhow::Result<Option<Arc<WasmEngine>>> {
    let wasm: Vec<_> = template
        .functions
        .values()
        .filter(|f| matches!(f.kind, FunctionKind::Wasm { .. }))
        .collect();
    if wasm.is_empty() {
        return Ok(None);
    }
    let instances: u32 = wasm
        .iter()
        .flat_map(|f| f.events.iter().filter(|e| e.enabled))
        .map(|e| {
            e.max_concurrency
                .unwrap_or(crate::esm::DEFAULT_MAX_CONCURRENCY)
        })
        .sum();
    let max_memory_mb = wasm.iter().map(|f| f.memory_mb).max().unwrap_or(128);
    let instances = instances.clamp(1, crate::esm::DEFAULT_MAX_CONCURRENCY);
    crate::invoke::wasm::engine(instances, max_memory_mb).map(Some)
}

/// What a function process gets to reach SQS: the endpoint lockgate uses (so functions that
/// send to other queues chain locally), and either placeholder credentials for the emulator or,
/// with `--aws`, the caller's own AWS environment (keys, profile, shared files, `HOME`) so the
/// function's SDK resolves the same credentials lockgate did.
fn function_aws_environment(endpoint: Option<&str>, aws: bool) -> Vec<(String, String)> {
    let mut env = Vec::new();
    if let Some(endpoint) = endpoint {
        env.push(("AWS_ENDPOINT_URL_SQS".to_string(), endpoint.to_string()));
    }
    if aws {
        // Lambda sets these itself; everything else AWS_* passes through.
        const SET_BY_LAMBDA: &[&str] =
            &["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_SQS"];
        env.extend(std::env::vars().filter(|(k, _)| {
            k == "HOME"
                || (k.starts_with("AWS_")
                    && !k.starts_with("AWS_LAMBDA_")
                    && !SET_BY_LAMBDA.contains(&k.as_str()))
        }));
    } else {
        env.push(("AWS_ACCESS_KEY_ID".to_string(), "lockgate".to_string()));
        env.push(("AWS_SECRET_ACCESS_KEY".to_string(), "lockgate".to_string()));
    }
    env
}

/// A queue as created.
pub struct CreatedQueue {
    pub name: String,
    pub url: String,
    pub arn: String,
    pub fifo: bool,
}

/// Creates the template's queues, dead-letter queues first; an existing queue gets the
/// template's attributes.
async fn create_queues(
    sqs: &aws_sdk_sqs::Client,
    template: &Template,
) -> anyhow::Result<BTreeMap<String, CreatedQueue>> {
    let mut created: BTreeMap<String, CreatedQueue> = BTreeMap::new();
    let mut remaining: Vec<&str> = template.queues.keys().map(String::as_str).collect();
    while !remaining.is_empty() {
        let before = remaining.len();
        let mut next = Vec::new();
        for id in remaining {
            let queue = &template.queues[id];
            let ready = queue.attributes.values().all(|v| match v {
                AttributeValue::Redrive { target, .. } => {
                    target.target().is_none_or(|t| created.contains_key(t))
                }
                _ => true,
            });
            if !ready {
                next.push(id);
                continue;
            }
            let scope = AppScope {
                queues: &created,
                region: String::new(),
            };
            let mut attrs: Vec<(String, String)> = Vec::new();
            if queue.fifo {
                attrs.push(("FifoQueue".into(), "true".into()));
            }
            for (key, value) in &queue.attributes {
                let text = match value {
                    AttributeValue::Plain(e) => e.resolve(&scope).map_err(anyhow::Error::msg)?,
                    AttributeValue::Redrive {
                        target,
                        max_receive_count,
                    } => serde_json::json!({
                        "deadLetterTargetArn": target.resolve(&scope).map_err(anyhow::Error::msg)?,
                        "maxReceiveCount": max_receive_count,
                    })
                    .to_string(),
                    AttributeValue::Json(v) => v.to_string(),
                };
                attrs.push((key.clone(), text));
            }
            let mut request = sqs.create_queue().queue_name(&queue.name);
            for (k, v) in &attrs {
                request = request.attributes(k.as_str().into(), v);
            }
            let url = match request.send().await {
                Ok(out) => out.queue_url.unwrap_or_default(),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_queue_name_exists()) =>
                {
                    let url = sqs
                        .get_queue_url()
                        .queue_name(&queue.name)
                        .send()
                        .await?
                        .queue_url
                        .unwrap_or_default();
                    let mut set = sqs.set_queue_attributes().queue_url(&url);
                    for (k, v) in attrs.iter().filter(|(k, _)| k != "FifoQueue") {
                        set = set.attributes(k.as_str().into(), v);
                    }
                    set.send()
                        .await
                        .with_context(|| format!("queue {id}: updating attributes"))?;
                    url
                }
                Err(e) => {
                    let message = aws_sdk_sqs::error::DisplayErrorContext(&e);
                    bail!("queue {id}: cannot create {}: {message}", queue.name);
                }
            };
            let arn = sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .send()
                .await?
                .attributes
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                        .cloned()
                })
                .unwrap_or_default();
            created.insert(
                id.to_string(),
                CreatedQueue {
                    name: queue.name.clone(),
                    url,
                    arn,
                    fifo: queue.fifo,
                },
            );
        }
        if next.len() == before {
            bail!("queues {next:?} have dead-letter queues that form a cycle");
        }
        remaining = next;
    }
    Ok(created)
}

struct AppScope<'a> {
    queues: &'a BTreeMap<String, CreatedQueue>,
    region: String,
}

impl Scope for AppScope<'_> {
    fn reference(&self, name: &str) -> Option<String> {
        match name {
            "AWS::Region" => Some(if self.region.is_empty() {
                "us-east-1".into()
            } else {
                self.region.clone()
            }),
            // The account the queues live in (the emulator's default before any exists).
            "AWS::AccountId" => Some(
                self.queues
                    .values()
                    .find_map(|q| q.arn.split(':').nth(4))
                    .unwrap_or("000000000000")
                    .to_string(),
            ),
            "AWS::StackName" => Some("lockgate".into()),
            "AWS::Partition" => Some("aws".into()),
            "AWS::URLSuffix" => Some("amazonaws.com".into()),
            id => self.queues.get(id).map(|q| q.url.clone()),
        }
    }

    fn attribute(&self, id: &str, attribute: &str) -> Option<String> {
        let q = self.queues.get(id)?;
        match attribute {
            "Arn" => Some(q.arn.clone()),
            "QueueName" => Some(q.name.clone()),
            "QueueUrl" => Some(q.url.clone()),
            _ => None,
        }
    }
}
