//! Building the template's functions with cargo and finding their executables.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::template::FunctionDef;

/// `release` (what `lockgate up` uses by default) or `dev` (quicker builds, for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    Release,
    Dev,
}

/// Builds one function's binary; on failure the error carries the compiler's message.
pub fn build(
    template_dir: &Path,
    function: &FunctionDef,
    profile: Profile,
) -> anyhow::Result<PathBuf> {
    let manifest = template_dir.join(&function.code_uri).join("Cargo.toml");
    if !manifest.exists() {
        bail!(
            "function {}: CodeUri {} has no Cargo.toml",
            function.logical_id,
            function.code_uri.display()
        );
    }
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args([
            "--bin",
            &function.binary,
            "--message-format=json-render-diagnostics",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if profile == Profile::Release {
        command.arg("--release");
    }
    let output = command
        .output()
        .with_context(|| format!("function {}: cannot run cargo", function.logical_id))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| {
                !l.trim_start().starts_with("Compiling") && !l.trim_start().starts_with("Blocking")
            })
            .collect();
        bail!(
            "function {}: build failed:\n{}",
            function.logical_id,
            errors.join("\n")
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| {
            m["reason"] == "compiler-artifact" && m["target"]["name"] == function.binary.as_str()
        })
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .with_context(|| {
            format!(
                "function {}: cargo built no binary named {}",
                function.logical_id, function.binary
            )
        })
}

/// [`build`] on a blocking thread, so the async runtime keeps serving while cargo works.
pub async fn build_in_background(
    template_dir: &Path,
    function: &FunctionDef,
    profile: Profile,
) -> anyhow::Result<PathBuf> {
    let dir = template_dir.to_path_buf();
    let function = function.clone();
    tokio::task::spawn_blocking(move || build(&dir, &function, profile)).await?
}
