//! Command-line interface: one subcommand per module.

/// `println!` that hands back the write's error instead of panicking: when the reader closed
/// the pipe (`lockgate queues | head`), the command ends quietly with success (see [`main`]).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod bench_invoke;
mod build;
mod completions;
mod console_api;
mod emulator;
mod inspect;
mod invoke;
mod queues;
mod reset;
mod send;
mod status;
mod terminal;
mod up;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

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
    /// Show messages without receiving them (the emulator's console API; `--receive` for SQS).
    Peek(inspect::PeekArgs),
    /// Delete every message of a queue.
    Purge(inspect::PurgeArgs),
    /// Move a dead-letter queue's messages back to their source queue.
    Redrive(inspect::RedriveArgs),
    /// Delete the emulator's queues, messages and objects in a data directory (asks first).
    Reset(reset::Args),
    /// Print a shell completion script: `lockgate completions bash > /etc/bash_completion.d/lockgate`.
    Completions(completions::Args),
    /// Measure the Runtime API round trip of a function (benchmarks).
    #[command(hide = true)]
    BenchInvoke(bench_invoke::Args),
}

pub fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    // Before any limit is derived from it (the emulator's connection cap).
    lockgate_emulator::raise_open_file_limit();
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
            Command::Reset(args) => reset::run(args),
            Command::Completions(args) => completions::run(args, Cli::command()),
            Command::BenchInvoke(args) => bench_invoke::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader stopped reading (`| head`): done, as Unix tools are.
        Err(e) if closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether `error` is a write to a pipe whose reader has gone.
fn closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOCKGATE_LOG")
        // aws-config narrates every credential lookup at info.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,aws_config=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(terminal::EventWriter::default)
        .with_ansi(colours())
        .with_target(false)
        .init();
}

/// Colours only on a terminal, and not when `NO_COLOR` is set to anything (no-color.org).
fn colours() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub use lockgate_emulator::command::shutdown_signal;

pub use lockgate_runtime::app::clients::resolve_queue;

/// How a command prints what it found.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Output {
    /// For people.
    Text,
    /// One JSON document on stdout, for scripts.
    Json,
}

pub fn print_json(value: &serde_json::Value) -> std::io::Result<()> {
    outln!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON serializes")
    )
}

/// Which template, with which parameter values, for the subcommands that read one.
#[derive(clap::Args)]
pub struct TemplateArgs {
    /// The SAM or CloudFormation template (YAML or JSON).
    #[arg(long = "template", default_value = "template.yaml")]
    pub path: std::path::PathBuf,
    /// Values for the template's Parameters, as `Key=Value` (several may follow).
    #[arg(long = "parameter-overrides", num_args = 1.., value_name = "KEY=VALUE")]
    pub parameter_overrides: Vec<String>,
}

impl TemplateArgs {
    /// The template, its conditions evaluated in `region`.
    pub fn load(&self, region: &str) -> anyhow::Result<lockgate_runtime::template::Template> {
        let mut parameter_overrides = std::collections::BTreeMap::new();
        for pair in &self.parameter_overrides {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("--parameter-overrides {pair}: expected Key=Value")
            })?;
            parameter_overrides.insert(key.to_string(), value.to_string());
        }
        let options = lockgate_runtime::template::StackOptions {
            parameter_overrides,
            region: Some(region.to_string()),
        };
        lockgate_runtime::template::Template::load_with(&self.path, &options)
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
        lockgate_runtime::app::clients::endpoint_client(&self.endpoint, &self.region)
    }
}
