//! Command-line interface: one subcommand per module.

mod bench_invoke;
mod build;
mod emulator;
mod inspect;
mod invoke;
mod queues;
mod send;
pub mod status;
pub mod up;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "lockgate",
    version,
    about = "Run queue-triggered functions locally: an SQS emulator and Lambda event-source mappings."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build and run the template's functions against its queues (embedded emulator).
    Up(up::Args),
    /// Build the template's functions (native binaries, WASM components) and print them.
    Build(build::Args),
    /// Run the SQS-compatible emulator alone.
    Emulator(emulator::Args),
    /// Send messages to a queue.
    Send(send::Args),
    /// List queues with their depths.
    Queues(queues::Args),
    /// Invoke one function once with an SQS event file.
    Invoke(invoke::Args),
    /// Show messages without keeping them (a receive with visibility timeout 0).
    Peek(inspect::PeekArgs),
    /// Delete every message of a queue.
    Purge(inspect::PurgeArgs),
    /// Move a dead-letter queue's messages back to their source queue.
    Redrive(inspect::RedriveArgs),
    /// Measure the Runtime API round trip of a function (benchmarks).
    #[command(hide = true)]
    BenchInvoke(bench_invoke::Args),
}

pub fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Up(args) => up::run(args).await,
            Command::Build(args) => build::run(args).await,
            Command::Emulator(args) => emulator::run(args).await,
            Command::Send(args) => send::run(args).await,
            Command::Queues(args) => queues::run(args).await,
            Command::Invoke(args) => invoke::run(args).await,
            Command::Peek(args) => inspect::peek(args).await,
            Command::Purge(args) => inspect::purge(args).await,
            Command::Redrive(args) => inspect::redrive(args).await,
            Command::BenchInvoke(args) => bench_invoke::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOCKGATE_LOG")
        // aws-config narrates every credential lookup at info.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,aws_config=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// An SQS client for `endpoint` (the emulator accepts any credentials).
pub fn sqs_client(endpoint: &str, region: &str) -> aws_sdk_sqs::Client {
    let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "lockgate".into());
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "lockgate".into());
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            key, secret, None, None, "lockgate",
        ))
        // SQS bodies are small and a long poll is silent by design: the throughput watchdog
        // (a timer per body) only costs time here.
        .stalled_stream_protection(aws_sdk_sqs::config::StalledStreamProtectionConfig::disabled())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// An SQS client configured the way every AWS SDK configures itself: the default credential
/// chain (environment, shared files and profiles, credential processes, container and instance
/// roles), the region chain (falling back to `region`) and `AWS_ENDPOINT_URL_SQS`; `endpoint`
/// overrides the endpoint. Fails early, with the reason, when no credentials can be found.
pub async fn aws_sqs_client(
    endpoint: Option<&str>,
    region: &str,
) -> anyhow::Result<aws_sdk_sqs::Client> {
    use aws_config::meta::region::RegionProviderChain;
    use aws_sdk_sqs::config::ProvideCredentials;

    let regions = RegionProviderChain::default_provider()
        .or_else(aws_sdk_sqs::config::Region::new(region.to_string()));
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(regions);
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let shared = loader.load().await;
    let credentials = shared
        .credentials_provider()
        .ok_or_else(|| anyhow::anyhow!("the AWS SDK configuration has no credential provider"))?;
    credentials.provide_credentials().await.map_err(|e| {
        anyhow::anyhow!(
            "no AWS credentials: {}",
            aws_sdk_sqs::error::DisplayErrorContext(&e)
        )
    })?;
    let config = aws_sdk_sqs::config::Builder::from(&shared)
        .stalled_stream_protection(aws_sdk_sqs::config::StalledStreamProtectionConfig::disabled())
        .build();
    Ok(aws_sdk_sqs::Client::from_conf(config))
}

/// A queue given by name or URL, as a URL; a clear error when it does not exist.
pub async fn resolve_queue(sqs: &aws_sdk_sqs::Client, queue: &str) -> anyhow::Result<String> {
    if queue.starts_with("http://") || queue.starts_with("https://") {
        return Ok(queue.to_string());
    }
    match sqs.get_queue_url().queue_name(queue).send().await {
        Ok(out) => Ok(out.queue_url.unwrap_or_default()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_queue_does_not_exist()) =>
        {
            anyhow::bail!("queue {queue} does not exist (see `lockgate queues`)")
        }
        Err(e) => anyhow::bail!(
            "cannot reach SQS: {}",
            aws_sdk_sqs::error::DisplayErrorContext(&e)
        ),
    }
}

/// Where an SQS endpoint is, for the subcommands that talk to one.
#[derive(clap::Args)]
pub struct EndpointArgs {
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL_SQS",
        default_value = "http://127.0.0.1:9324"
    )]
    pub endpoint: String,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
}

impl EndpointArgs {
    pub fn client(&self) -> aws_sdk_sqs::Client {
        sqs_client(&self.endpoint, &self.region)
    }
}
