//! `lockgate reset`: deletes the emulator's queues, messages and objects in a data directory, after
//! asking (or with `--yes`). Refused while an emulator uses the directory; function builds
//! kept there (`.lockgate/build`) stay.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::bail;

#[derive(clap::Args)]
pub struct Args {
    /// The data directory (as given to `up` or `emulator`).
    #[arg(long, default_value = ".lockgate")]
    pub data_dir: PathBuf,
    /// Do not ask.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let dir = &args.data_dir;
    let files = lockgate_emulator::state_files(dir);
    if files.is_empty() {
        outln!(
            "nothing to reset: {} holds no emulator state",
            dir.display()
        )?;
        return Ok(());
    }
    if !args.yes {
        let size: u64 = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        if !std::io::stdin().is_terminal() {
            bail!(
                "reset deletes every queue and message in {} ({} files, {} bytes): pass --yes to confirm when not on a terminal",
                dir.display(),
                files.len(),
                size
            );
        }
        eprint!(
            "Delete every queue and message in {} ({} files, {} bytes)? Function builds are kept. [y/N] ",
            dir.display(),
            files.len(),
            size
        );
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            outln!("nothing deleted")?;
            return Ok(());
        }
    }
    let deleted = lockgate_emulator::reset_data_dir(dir).map_err(anyhow::Error::msg)?;
    outln!(
        "reset {}: deleted {}",
        dir.display(),
        deleted
            .iter()
            .filter_map(|f| f.file_name()?.to_str())
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    Ok(())
}
