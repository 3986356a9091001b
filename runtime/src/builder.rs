//! Building the template's functions with cargo (native binaries, or WASM components for
//! wasm32-wasip2) and finding what cargo built.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::template::{FunctionDef, FunctionKind};

/// `release` (what `lockgate up` uses by default) or `dev` (quicker builds, for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    Release,
    Dev,
}

/// Builds one function — its native binary, or its component for wasm32-wasip2 — and returns
/// the artifact's path; on failure the error carries the compiler's message.
pub fn build(
    template_dir: &Path,
    function: &FunctionDef,
    profile: Profile,
) -> anyhow::Result<PathBuf> {
    let code = template_dir.join(&function.code_uri);
    let manifest = code.join("Cargo.toml");
    if !manifest.exists() {
        // A component built by another language's toolchain (componentize-py, wasi-sdk, …)
        // is used as it is.
        if let FunctionKind::Wasm { component } = &function.kind
            && code.join(component).is_file()
        {
            return Ok(code.join(component));
        }
        let missing = match &function.kind {
            FunctionKind::Native { .. } => "no Cargo.toml".to_string(),
            FunctionKind::Wasm { component } => format!("no Cargo.toml and no built {component}"),
        };
        bail!(
            "function {}: CodeUri {} has {missing}",
            function.logical_id,
            function.code_uri.display()
        );
    }
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match &function.kind {
        FunctionKind::Native { binary } => command.args(["--bin", binary]),
        FunctionKind::Wasm { .. } => command.args(["--lib", "--target", WASM_TARGET]),
    };
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
        let hint = if matches!(function.kind, FunctionKind::Wasm { .. })
            && stderr.contains(WASM_TARGET)
            && stderr.contains("target may not be installed")
        {
            format!("\n(install the target: rustup target add {WASM_TARGET})")
        } else {
            String::new()
        };
        bail!(
            "function {}: build failed:\n{}{hint}",
            function.logical_id,
            errors.join("\n")
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let artifacts = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact");
    let found = match &function.kind {
        FunctionKind::Native { binary } => artifacts
            .filter(|m| m["target"]["name"] == binary.as_str())
            .find_map(|m| m["executable"].as_str().map(PathBuf::from)),
        FunctionKind::Wasm { component } => artifacts
            .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
            .filter_map(|f| f.as_str().map(PathBuf::from))
            .find(|f| f.file_name().is_some_and(|n| n == component.as_str())),
    };
    found.with_context(|| match &function.kind {
        FunctionKind::Native { binary } => format!(
            "function {}: cargo built no binary named {binary}",
            function.logical_id
        ),
        FunctionKind::Wasm { component } => format!(
            "function {}: cargo built no {component} (Handler names the component: the crate's \
             lib name with .wasm, and the lib's crate-type must include cdylib)",
            function.logical_id
        ),
    })
}

/// The target WASM handlers are built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

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
