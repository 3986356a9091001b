//! `lockgate emulator`: the SQS-compatible server alone — the same command, flags and
//! `LOCKGATE_*` variables as the `lockgate-emulator` binary (`lockgate_emulator::command`).

pub use lockgate_emulator::command::{ServeArgs as Args, TlsArgs};

pub async fn run(args: Args) -> anyhow::Result<()> {
    lockgate_emulator::command::serve(args).await
}
