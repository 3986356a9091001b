//! `lockgate up`: the template's app (see `lockgate_runtime::app`) with live status until
//! Ctrl-C, then a clean stop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use lockgate_emulator::{Config, EmulatorConfig};
use lockgate_runtime::builder::Profile;
use lockgate_runtime::{App, AppOptions, SqsTarget};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub template: super::TemplateArgs,
    /// Where the embedded emulator listens.
    #[arg(long, default_value = "127.0.0.1:9324")]
    pub bind: SocketAddr,
    /// Directory for the emulator's durable state.
    #[arg(long, default_value = ".lockgate")]
    pub data_dir: PathBuf,
    /// Keep the embedded emulator's state in memory.
    #[arg(long)]
    pub in_memory: bool,
    /// Use this SQS endpoint instead of starting the embedded emulator (default:
    /// AWS_ENDPOINT_URL_SQS, when set; `up` logs which endpoint it uses and why).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Run against real SQS (or `--endpoint`) with the AWS SDK's default configuration:
    /// credential chain, profile, region. Functions inherit the same AWS environment.
    #[arg(long)]
    pub aws: bool,
    /// Cargo profile for building functions (`dev` or `release`).
    #[arg(long = "build-profile", value_enum, default_value = "release")]
    pub build_profile: Profile,
    /// The AWS credentials profile (as for the AWS CLI and SAM) for `--aws`; functions get it
    /// as AWS_PROFILE.
    #[arg(long, requires = "aws")]
    pub profile: Option<String>,
    /// Rebuild a function when its sources change and swap the new build in (batches running
    /// finish on the old build; a failed build keeps the old one and shows the error).
    #[arg(long)]
    pub watch: bool,
    /// Seconds between status lines when not on a terminal.
    #[arg(long, default_value_t = 5)]
    pub status_interval: u64,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// A browser origin (e.g. `http://localhost:3000`) whose pages may call the embedded
    /// emulator; may be given more than once. Other sites' pages are refused.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
    /// The S3-compatible endpoint functions use for large payloads (AWS_ENDPOINT_URL_S3);
    /// default: the SQS endpoint's port, which a Lockgate emulator serves S3 on (with --aws:
    /// AWS's S3).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// The keyring of encrypted queues' keys (default: `keyring` in the data directory).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Memory for message bodies about to be delivered (the emulator keeps bodies on disk):
    /// bytes, or with KiB, MiB or GiB.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = lockgate_emulator::command::parse_size)]
    pub cache_size: usize,
    #[command(flatten)]
    pub tls: super::emulator::TlsArgs,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let template = args.template.load(&args.region)?;
    let endpoint = chosen_endpoint(args.endpoint, args.aws);
    let tls = args
        .tls
        .source((!args.in_memory).then_some(args.data_dir.as_path()));
    let sqs = match (endpoint, args.aws) {
        (endpoint, true) => SqsTarget::Aws {
            endpoint,
            profile: args.profile.clone(),
        },
        (Some(endpoint), false) => SqsTarget::Endpoint(endpoint),
        (None, false) => SqsTarget::Embedded(Box::new(EmulatorConfig {
            bind: args.bind,
            data_dir: (!args.in_memory).then_some(args.data_dir),
            sqs: Config {
                region: args.region.clone(),
                key_file: args.key_file,
                cache_bytes: args.cache_size,
                ..Config::default()
            },
            limits: Default::default(),
            allowed_origins: args.allowed_origins,
            tls,
            declare: Default::default(),
        })),
    };
    let options = AppOptions {
        sqs,
        build_profile: args.build_profile,
        region: args.region,
        clock: lockgate_emulator::SystemClock::shared(),
        // Functions' output scrolls above the status area like the log.
        logbook: lockgate_runtime::logbook::LogBook::new(std::sync::Arc::new(|function, line| {
            super::terminal::screen().line(&format!("[{function}] {line}"));
        })),
        s3_endpoint: args.s3_endpoint,
    };
    let app = App::start(&template, options).await?;
    tracing::info!("running: send messages with `lockgate send <queue> <body>`; Ctrl-C stops");
    let display = super::status::Display::new(&app, Duration::from_secs(args.status_interval));
    let watching = async {
        if args.watch {
            lockgate_runtime::app::watcher::watch(&app).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = super::shutdown_signal() => {}
        _ = display.run() => {}
        _ = watching => {}
    }
    tracing::info!("stopping: no new batches; waiting for in-flight batches to finish");
    app.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// The SQS endpoint `up` uses — `--endpoint`, else `AWS_ENDPOINT_URL_SQS` — logged with where
/// it came from, so a shell that exports the variable is never silently without the embedded
/// emulator.
fn chosen_endpoint(flag: Option<String>, aws: bool) -> Option<String> {
    let from_env = || {
        std::env::var("AWS_ENDPOINT_URL_SQS")
            .ok()
            .filter(|v| !v.is_empty())
    };
    let (endpoint, source) = match flag {
        Some(endpoint) => (Some(endpoint), "--endpoint"),
        None => (from_env(), "AWS_ENDPOINT_URL_SQS"),
    };
    match (&endpoint, aws) {
        (Some(endpoint), _) => tracing::info!(
            "SQS: {endpoint} (from {source}); no embedded emulator{}",
            if source == "AWS_ENDPOINT_URL_SQS" {
                " (unset AWS_ENDPOINT_URL_SQS to run the embedded one)"
            } else {
                ""
            }
        ),
        (None, true) => tracing::info!("SQS: AWS's regional endpoint (--aws)"),
        (None, false) => tracing::info!(
            "SQS: the embedded emulator (neither --endpoint nor AWS_ENDPOINT_URL_SQS is set)"
        ),
    }
    endpoint
}
