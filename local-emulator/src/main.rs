//! `lockgate-emulator`: the SQS-compatible emulator alone — no function runtime, no wasmtime,
//! no AWS SDK — for CI services, containers and anyone who only needs queues. The same server
//! and flags as `lockgate emulator`; every flag also reads a `LOCKGATE_*` variable.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lockgate_emulator::command::{self, HealthArgs, ServeArgs};

#[derive(Parser)]
#[command(
    name = "lockgate-emulator",
    version,
    about = "An SQS-compatible emulator: JSON and Query protocols, standard and FIFO queues, durable on disk.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Exit 0 when the emulator on --bind answers that it is ready (a container's HEALTHCHECK).
    Health(HealthArgs),
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOCKGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .init();
    let cli = Cli::parse();
    lockgate_emulator::raise_open_file_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Some(Command::Health(args)) => command::health(args).await,
            None => command::serve(cli.serve).await,
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
