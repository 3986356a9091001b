//! `lockgate completions bash|zsh|fish`: the shell's completion script, from the CLI's own
//! definition (so it never lags behind a new flag).

#[derive(clap::Args)]
pub struct Args {
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args, mut command: clap::Command) {
    clap_complete::generate(args.shell, &mut command, "lockgate", &mut std::io::stdout());
}
