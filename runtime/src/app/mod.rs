//! The composition root: a template and options become a running app, in one order that every
//! entry point shares (`lockgate up`, `lockgate invoke`, the benchmarks, in-process tests):
//!
//! build the functions → start the emulator or pick the endpoint → provision the queues →
//! load the invokers → start the mappings; [`App::shutdown`] undoes it in reverse (mappings
//! drain, function processes stop, the emulator closes its store).
//!
//! - [`clients`]: SQS client factories.
//! - [`provision`]: queues created in dead-letter order, and the scope that resolves references.
//! - [`environment`]: what each function sees in its environment.
//! - [`functions`]: built functions handed to the invoker of their kind.
//! - [`invocable`]: the functions as the emulator's Lambda Invoke API reaches them.
//! - [`view`]: the running app as the console and `/metrics` see it.
//! - [`watcher`]: rebuild a function when its sources change and swap the new build in.

pub mod clients;
pub mod environment;
pub mod functions;
pub mod invocable;
pub mod provision;
pub mod view;
pub mod watcher;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use lockgate_emulator::{EmulatorConfig, RunningEmulator, SharedClock, StartError};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::builder::{self, Artifact, Profile};
use crate::esm::{MappingConfig, MappingHandle};
use crate::logbook::LogBook;
use crate::template::{Scaling, Template};
use environment::{Endpoints, FunctionEnvironment, SqsCredentials, TlsTrust};
use functions::{Function, MappingRun};
use provision::{AppScope, ProvisionedQueue};

/// Where the app's queues live.
pub enum SqsTarget {
    /// The embedded emulator, started with this configuration.
    Embedded(Box<EmulatorConfig>),
    /// An SQS-compatible endpoint, with placeholder credentials.
    Endpoint(String),
    /// Real SQS (or `endpoint`) with the AWS SDK's default configuration: credential chain,
    /// profile (`profile`, else AWS_PROFILE's), region. Functions inherit the same AWS
    /// environment, with AWS_PROFILE set to `profile`.
    Aws {
        endpoint: Option<String>,
        profile: Option<String>,
    },
}

pub struct AppOptions {
    pub sqs: SqsTarget,
    /// Cargo profile for building functions.
    pub build_profile: Profile,
    /// The region when neither the target nor the AWS configuration names one.
    pub region: String,
    /// The time SQS's rules and the batching windows are measured in: the embedded emulator
    /// and the mappings share it. Tests inject a `ManualClock`; against an endpoint or AWS it
    /// must be the wall clock. Function deadlines are always wall-clock time (a function
    /// reads its own clock).
    pub clock: SharedClock,
    /// Where the functions' output goes (and is kept for the console).
    pub logbook: Arc<LogBook>,
    /// The S3 endpoint functions are given for large payloads (`AWS_ENDPOINT_URL_S3`);
    /// `None`: the SQS endpoint's (a Lockgate emulator serves both), or AWS's own S3 with `Aws`.
    pub s3_endpoint: Option<String>,
}

/// A running app: its queues, its mappings' live counters, and what to stop.
pub struct App {
    sqs: aws_sdk_sqs::Client,
    region: String,
    queues: BTreeMap<String, ProvisionedQueue>,
    mappings: Vec<MappingHandle>,
    functions: Vec<Function>,
    /// What rebuilding each function (same order as `functions`) takes.
    rebuilds: Vec<Rebuild>,
    engine: Option<std::sync::Arc<lockgate_wasm_host::WasmEngine>>,
    template_dir: std::path::PathBuf,
    build_profile: Profile,
    views: Vec<view::FunctionView>,
    logbook: Arc<LogBook>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    emulator: Option<RunningEmulator>,
}

impl App {
    /// Builds and starts everything `template` declares.
    pub async fn start(template: &Template, options: AppOptions) -> anyhow::Result<Self> {
        if !template.skipped.is_empty() {
            let listed: Vec<String> = template
                .skipped
                .iter()
                .map(|(id, kind)| format!("{id} ({kind})"))
                .collect();
            tracing::info!(
                "not run here (lockgate runs SQS queues and Lambda functions; calls to these fail as a missing endpoint does): {}",
                listed.join(", ")
            );
        }
        for skipped in &template.unsupported {
            tracing::warn!(
                "skipping function {}: Runtime {}: {}; the rest of the template runs",
                skipped.logical_id,
                skipped.runtime,
                skipped.why
            );
        }
        let artifacts = build_all(template, options.build_profile).await?;

        let on_aws = matches!(options.sqs, SqsTarget::Aws { .. });
        let connected = connect(options.sqs, &options.clock, &options.region).await?;
        let s3_endpoint = options
            .s3_endpoint
            .clone()
            .or_else(|| (!on_aws).then(|| connected.endpoint.clone()).flatten());
        let (stop, shutdown) = watch::channel(false);
        let mut app = App {
            sqs: connected.sqs,
            region: connected.region,
            queues: BTreeMap::new(),
            mappings: Vec::new(),
            functions: Vec::new(),
            rebuilds: Vec::new(),
            engine: None,
            template_dir: template.dir.clone(),
            build_profile: options.build_profile,
            views: Vec::new(),
            logbook: options.logbook.clone(),
            stop,
            tasks: JoinSet::new(),
            emulator: connected.emulator,
        };
        let lambda_endpoint = app.emulator.as_ref().map(RunningEmulator::endpoint);
        let wiring = Wiring {
            artifacts: &artifacts,
            clock: &options.clock,
            endpoint: connected.endpoint.as_deref(),
            s3_endpoint: s3_endpoint.as_deref(),
            lambda_endpoint: lambda_endpoint.as_deref(),
            credentials: connected.credentials.clone(),
            tls: connected.tls.clone(),
            shutdown: &shutdown,
        };
        // Whatever was started before a failure is stopped in order.
        match app.provision_and_map(template, wiring).await {
            Ok(()) => {
                app.say_what_runs(template);
                if let Some(emulator) = &app.emulator {
                    emulator.attach_app(Some(app.running_app()));
                    tracing::info!("console: {}", emulator.console_url());
                }
                Ok(app)
            }
            Err(e) => {
                app.shutdown().await;
                Err(e)
            }
        }
    }

    /// Logs what the app runs: its mappings, and the functions nothing maps (invoked through
    /// the Lambda API or by other functions).
    fn say_what_runs(&self, template: &Template) {
        let unmapped: Vec<&str> = self
            .views
            .iter()
            .filter(|v| v.mappings.is_empty())
            .map(|v| v.name.as_str())
            .collect();
        tracing::info!(
            "{} SQS event mapping(s); {} function(s) without one{}",
            self.mappings.len(),
            unmapped.len(),
            if unmapped.is_empty() {
                String::new()
            } else {
                format!(
                    " ({}: invoke them through the Lambda API)",
                    unmapped.join(", ")
                )
            }
        );
        for def in template.functions.values().filter(|f| f.capacity_provider) {
            tracing::info!(
                "function {}: CapacityProviderConfig (Lambda Managed Instances) is for AWS; here it runs as any function does, one invocation per process",
                def.logical_id
            );
        }
    }

    /// Creates the queues, loads every function into its invoker and starts its mappings.
    async fn provision_and_map(
        &mut self,
        template: &Template,
        wiring: Wiring<'_>,
    ) -> anyhow::Result<()> {
        self.queues = provision::create_queues(&self.sqs, template).await?;
        let scope = AppScope::of(template, &self.queues, self.region.clone());
        let engine = functions::wasm_engine_for(template)?;
        self.engine = engine.clone();
        let run = MappingRun {
            sqs: &self.sqs,
            clock: wiring.clock,
            shutdown: wiring.shutdown,
        };
        for (id, def) in &template.functions {
            let env = FunctionEnvironment::in_app(
                def,
                &scope,
                Endpoints {
                    sqs: wiring.endpoint,
                    s3: wiring.s3_endpoint,
                    lambda: wiring.lambda_endpoint,
                },
                &wiring.credentials,
                wiring.tls.as_ref(),
            )?;
            let artifact = &wiring.artifacts[id];
            let log = self.logbook.sink(&def.name);
            let function = Function::load(def, artifact, &self.region, &env, engine.as_ref(), log)?;
            let first_mapping = self.mappings.len();
            for event in def.events.iter().filter(|e| e.enabled) {
                let queue_arn = event
                    .queue
                    .resolve(&scope)
                    .map_err(|e| anyhow::anyhow!("function {id}: event {}: {e}", event.name))?;
                let queue = self
                    .queues
                    .values()
                    .find(|q| q.arn == queue_arn)
                    .with_context(|| format!("function {id}: event {}: queue {queue_arn} is not one of the template's queues", event.name))?;
                let config = MappingConfig {
                    function: def.name.clone(),
                    queue_url: queue.url.clone(),
                    queue_arn: queue.arn.clone(),
                    region: self.region.clone(),
                    fifo: queue.fifo,
                    batch_size: event.batch_size,
                    window: Duration::from_secs(u64::from(event.window_s)),
                    report_batch_item_failures: event.report_batch_item_failures,
                    scaling: event.scaling,
                    filters: event.filters.clone(),
                };
                let scaling = match event.scaling {
                    Scaling::OnDemand { .. } => {
                        format!("concurrency ≤ {}", event.scaling.maximum())
                    }
                    Scaling::Provisioned { minimum, maximum } => {
                        format!("provisioned: {minimum}–{maximum} pollers")
                    }
                };
                tracing::info!(
                    "mapping {} ← {} (batch {}, window {} s, {scaling})",
                    def.name,
                    queue.name,
                    event.batch_size,
                    event.window_s,
                );
                self.mappings
                    .push(function.map(config, &run, &mut self.tasks));
            }
            self.views.push(view::FunctionView {
                name: def.name.clone(),
                logical_id: id.clone(),
                kind: def.kind.label(),
                mappings: self.mappings[first_mapping..].to_vec(),
            });
            self.functions.push(function);
            self.rebuilds.push(Rebuild {
                def: def.clone(),
                env,
            });
        }
        Ok(())
    }

    /// Each function's logical id and the directory its sources are in (inline code lives in
    /// the template: nothing to watch).
    pub fn sources(&self) -> Vec<(String, std::path::PathBuf)> {
        self.rebuilds
            .iter()
            .filter(|r| r.def.inline_code.is_none())
            .map(|r| {
                (
                    r.def.logical_id.clone(),
                    self.template_dir.join(&r.def.code_uri),
                )
            })
            .collect()
    }

    /// Builds function `id` again and swaps the new build in: batches running now finish on
    /// the old build, the next ones run the new one. On any failure the old build stays.
    pub async fn rebuild(&self, id: &str) -> anyhow::Result<()> {
        let i = self
            .rebuilds
            .iter()
            .position(|r| r.def.logical_id == id)
            .with_context(|| format!("no function {id}"))?;
        let Rebuild { def, env } = &self.rebuilds[i];
        let artifact =
            builder::build_in_background(&self.template_dir, def, self.build_profile).await?;
        let checked = artifact.clone();
        tokio::task::spawn_blocking(move || builder::check_syntax(&checked)).await??;
        let log = self.logbook.sink(&def.name);
        let next = Function::load(def, &artifact, &self.region, env, self.engine.as_ref(), log)?;
        self.functions[i].replace(next)
    }

    /// The client the app's mappings use.
    pub fn sqs(&self) -> &aws_sdk_sqs::Client {
        &self.sqs
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The template's queues by logical id.
    pub fn queues(&self) -> &BTreeMap<String, ProvisionedQueue> {
        &self.queues
    }

    /// Every running mapping, in template order.
    pub fn mappings(&self) -> &[MappingHandle] {
        &self.mappings
    }

    /// The app as the console and `/metrics` see it.
    pub fn running_app(&self) -> Arc<view::RunningApp> {
        let invocable = invocable::Invocable {
            functions: self
                .views
                .iter()
                .zip(&self.functions)
                .map(|(view, function)| (view.name.clone(), function.clone()))
                .collect(),
        };
        view::RunningApp::new(
            self.views.clone(),
            self.logbook.clone(),
            Arc::new(invocable),
        )
    }

    /// The embedded emulator's console, when the app started one.
    pub fn console_url(&self) -> Option<String> {
        self.emulator.as_ref().map(RunningEmulator::console_url)
    }

    /// The embedded emulator's endpoint, when the app started one.
    pub fn emulator_endpoint(&self) -> Option<String> {
        self.emulator.as_ref().map(RunningEmulator::endpoint)
    }

    /// Stops in reverse order: no new batches, in-flight batches finish (each bounded by its
    /// function's timeout), function processes stop, then the emulator.
    pub async fn shutdown(mut self) {
        if let Some(emulator) = &self.emulator {
            emulator.attach_app(None);
        }
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        for function in &self.functions {
            function.shutdown();
        }
        if let Some(emulator) = self.emulator.take() {
            emulator.shutdown().await;
        }
    }
}

/// What a function's rebuild needs: its definition and its environment in this app.
struct Rebuild {
    def: crate::template::FunctionDef,
    env: FunctionEnvironment,
}

/// What wiring the template's functions needs beside the app itself.
struct Wiring<'a> {
    artifacts: &'a BTreeMap<String, Artifact>,
    clock: &'a SharedClock,
    /// The SQS endpoint functions are given (none: AWS's own).
    endpoint: Option<&'a str>,
    /// The S3 endpoint functions are given (none: AWS's own).
    s3_endpoint: Option<&'a str>,
    /// The embedded emulator's Lambda Invoke API, which functions are given (none without
    /// one: a function's Lambda calls go to AWS's, as on Lambda).
    lambda_endpoint: Option<&'a str>,
    credentials: SqsCredentials,
    /// The embedded emulator's own CA, which functions are told to trust.
    tls: Option<TlsTrust>,
    shutdown: &'a watch::Receiver<bool>,
}

/// SQS, reached.
struct Connected {
    emulator: Option<RunningEmulator>,
    endpoint: Option<String>,
    sqs: aws_sdk_sqs::Client,
    region: String,
    credentials: SqsCredentials,
    tls: Option<TlsTrust>,
}

/// Starts the embedded emulator (on `clock`) or picks the endpoint, and makes the client.
async fn connect(
    target: SqsTarget,
    clock: &SharedClock,
    default_region: &str,
) -> anyhow::Result<Connected> {
    let credentials = match &target {
        SqsTarget::Aws { profile, .. } => SqsCredentials::Caller {
            profile: profile.clone(),
        },
        _ => SqsCredentials::Placeholder,
    };
    let (emulator, endpoint) = match target {
        SqsTarget::Embedded(mut config) => {
            config.sqs.clock = clock.clone();
            let bind = config.bind;
            let emulator = match RunningEmulator::start(*config).await {
                Ok(emulator) => emulator,
                Err(e @ StartError::Listen { .. }) => {
                    return Err(anyhow::Error::new(e).context(format!(
                        "starting the emulator on {bind} (choose another address with --bind)"
                    )));
                }
                Err(e) => return Err(anyhow::Error::new(e).context("starting the emulator")),
            };
            let endpoint = emulator.endpoint();
            tracing::info!("SQS emulator ready on {endpoint}");
            if let Some(ca) = emulator.ca_file() {
                let ca = ca.display();
                tracing::info!(
                    "TLS: a certificate for localhost, 127.0.0.1 and ::1 signed by a local CA; functions trust it; trust it elsewhere with AWS_CA_BUNDLE={ca} (AWS SDKs and CLI) or NODE_EXTRA_CA_CERTS={ca} (Node.js)"
                );
            }
            (Some(emulator), Some(endpoint))
        }
        SqsTarget::Endpoint(endpoint) => (None, Some(endpoint)),
        SqsTarget::Aws { endpoint, .. } => (None, endpoint),
    };
    let tls = match emulator.as_ref().and_then(RunningEmulator::ca_file) {
        Some(ca) => Some(
            TlsTrust::for_ca(ca)
                .with_context(|| format!("making a trust bundle beside {}", ca.display()))?,
        ),
        None => None,
    };
    let sqs = match (&credentials, &endpoint) {
        (SqsCredentials::Caller { profile }, _) => {
            clients::aws_client(endpoint.as_deref(), profile.as_deref(), default_region).await?
        }
        (SqsCredentials::Placeholder, Some(endpoint)) => {
            let ca_pem = match &tls {
                Some(trust) => Some(std::fs::read(&trust.ca)?),
                None => None,
            };
            clients::endpoint_client_trusting(endpoint, default_region, ca_pem)
        }
        (SqsCredentials::Placeholder, None) => {
            unreachable!("every target but Aws has an endpoint")
        }
    };
    let region = sqs
        .config()
        .region()
        .map_or_else(|| default_region.to_string(), ToString::to_string);
    if let SqsCredentials::Caller { profile } = &credentials {
        let at = endpoint.as_deref().unwrap_or("its regional endpoint");
        let with = profile.as_ref().map_or_else(
            || "the default credential chain".to_string(),
            |p| format!("profile {p}"),
        );
        tracing::info!("using AWS SQS in {region} at {at} with {with}");
    }
    Ok(Connected {
        emulator,
        endpoint,
        sqs,
        region,
        credentials,
        tls,
    })
}

/// One function of `template`, built and ready to invoke outside a running app (`lockgate
/// invoke`, the Runtime API benchmark): only literal environment variables.
pub async fn standalone_function(
    template: &Template,
    id: &str,
    profile: Profile,
    region: &str,
) -> anyhow::Result<Function> {
    let def = template.functions.get(id).with_context(|| {
        let known: Vec<_> = template.functions.keys().collect();
        format!("no function {id} in the template (functions: {known:?})")
    })?;
    let artifact = builder::build_in_background(&template.dir, def, profile).await?;
    let env = FunctionEnvironment::standalone(def);
    let log = LogBook::to_stderr().sink(&def.name);
    Function::load(def, &artifact, region, &env, None, log)
}

/// Every function of the template built, by logical id.
async fn build_all(
    template: &Template,
    profile: Profile,
) -> anyhow::Result<BTreeMap<String, Artifact>> {
    let mut artifacts = BTreeMap::new();
    for (id, function) in &template.functions {
        tracing::info!("building {id} ({})", function.kind.artifact());
        let host = builder::host_architecture();
        if function.architecture != host {
            tracing::info!(
                "{id}: Architectures [{}] on Lambda; built here for this machine ({host}) (`sam build` builds for {})",
                function.architecture,
                function.architecture
            );
        }
        let artifact = builder::build_in_background(&template.dir, function, profile).await?;
        artifacts.insert(id.clone(), artifact);
    }
    Ok(artifacts)
}
