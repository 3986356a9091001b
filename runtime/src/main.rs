//! `lockgate`: run queue-triggered functions locally.
//!
//! Modules: [`cli`] (subcommands), [`template`] (SAM template loading and validation),
//! [`builder`] (cargo builds of functions), [`esm`] (event source mappings: poll, batch,
//! filter, invoke, settle, scale), [`invoke`] (Runtime API host and function processes),
//! [`status`] (live counters).

mod builder;
mod cli;
mod esm;
mod invoke;
mod status;
mod template;

fn main() -> std::process::ExitCode {
    cli::main()
}
