//! Making the template's functions ready to run: cargo builds of native binaries and WASM
//! components for wasm32-wasip2 (finding what cargo built), prebuilt `bootstrap`s and
//! components used as they are, and Python and Node.js functions prepared by [`python`] and
//! [`node`].

pub mod node;
pub mod python;

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

/// What a function runs.
#[derive(Debug, Clone)]
pub enum Artifact {
    /// A native `bootstrap`: built by cargo, or prebuilt in CodeUri.
    Executable(PathBuf),
    /// A WASM component.
    Component(PathBuf),
    /// A Python function: the interpreter, what speaks the Runtime API (AWS's runtime
    /// interface client where it installed, else lockgate's bootstrap script), the directory
    /// its requirements were installed in, and its code (the task root).
    Python {
        interpreter: PathBuf,
        bootstrap: PathBuf,
        runtime_client: Option<PathBuf>,
        dependencies: PathBuf,
        task_root: PathBuf,
    },
    /// A Node.js function: lockgate's bootstrap, the task root (its code, or its bundle) and
    /// where its packages are.
    Node {
        node: PathBuf,
        bootstrap: PathBuf,
        task_root: PathBuf,
        modules: PathBuf,
    },
}

impl Artifact {
    /// The file that was built (or prepared), to show.
    pub fn path(&self) -> &Path {
        match self {
            Artifact::Executable(path) | Artifact::Component(path) => path,
            Artifact::Python { task_root, .. } | Artifact::Node { task_root, .. } => task_root,
        }
    }
}

/// This machine's architecture as Lambda names it (`x86_64`, `arm64`).
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        other => other,
    }
}

/// Where a function's prepared files go: `<template dir>/.lockgate/build/<LogicalId>`.
pub fn build_dir(template_dir: &Path, function: &FunctionDef) -> PathBuf {
    template_dir
        .join(".lockgate")
        .join("build")
        .join(&function.logical_id)
}

/// Makes one function ready to run and returns what it runs; on failure the error carries the
/// compiler's (or pip's) message.
pub fn build(
    template_dir: &Path,
    function: &FunctionDef,
    profile: Profile,
) -> anyhow::Result<Artifact> {
    let mut code = template_dir.join(&function.code_uri);
    if let Some(source) = &function.inline_code {
        code = write_inline_code(template_dir, function, source)?;
    }
    let target = match &function.kind {
        FunctionKind::Python { version, .. } => {
            return python::prepare(&code, &build_dir(template_dir, function), function, version);
        }
        FunctionKind::Node { version, .. } => {
            return node::prepare(&code, &build_dir(template_dir, function), function, version);
        }
        FunctionKind::Native { binary } => CargoTarget::Bin(binary),
        FunctionKind::Wasm { component } => CargoTarget::Component(component),
    };
    let manifest = code.join("Cargo.toml");
    // cargo-lambda's (and SAM's rust-cargolambda's) default: without BuildProperties.Binary,
    // a package's only binary is the bootstrap.
    let chosen;
    let target = match target {
        CargoTarget::Bin(DEFAULT_BINARY) if manifest.exists() => {
            chosen = bootstrap_binary(&manifest)
                .with_context(|| format!("function {}", function.logical_id))?;
            CargoTarget::Bin(&chosen)
        }
        other => other,
    };
    if !manifest.exists() {
        // A component built by another language's toolchain (componentize-py, wasi-sdk, …)
        // is used as it is.
        let missing = match target {
            CargoTarget::Component(component) if code.join(component).is_file() => {
                return Ok(Artifact::Component(code.join(component)));
            }
            // A prebuilt bootstrap (Go, C++, the output of `sam build`, …) runs as it is.
            CargoTarget::Bin(_) if is_executable(&code.join("bootstrap")) => {
                return Ok(Artifact::Executable(code.join("bootstrap")));
            }
            CargoTarget::Bin(_) => "no Cargo.toml and no executable bootstrap".to_string(),
            CargoTarget::Component(component) => {
                format!("no Cargo.toml and no built {component}")
            }
        };
        bail!(
            "function {}: CodeUri {} has {missing}",
            function.logical_id,
            function.code_uri.display()
        );
    }
    if matches!(target, CargoTarget::Component(_)) {
        ensure_wasm_target(&code, &Toolchain::from_path())?;
    }
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match target {
        CargoTarget::Bin(binary) => command.args(["--bin", binary]),
        CargoTarget::Component(_) => command.args(["--lib", "--target", WASM_TARGET]),
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
        let hint = if matches!(target, CargoTarget::Component(_))
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
    let found = match target {
        CargoTarget::Bin(binary) => artifacts
            .filter(|m| m["target"]["name"] == binary)
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .map(Artifact::Executable),
        CargoTarget::Component(component) => artifacts
            .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
            .filter_map(|f| f.as_str().map(PathBuf::from))
            .find(|f| f.file_name().is_some_and(|n| n == component))
            .map(Artifact::Component),
    };
    found.with_context(|| match target {
        CargoTarget::Bin(binary) => format!(
            "function {}: cargo built no binary named {binary}",
            function.logical_id
        ),
        CargoTarget::Component(component) => format!(
            "function {}: cargo built no {component} (Handler names the component: the crate's \
             lib name with .wasm, and the lib's crate-type must include cdylib)",
            function.logical_id
        ),
    })
}

/// The binary a native function names when it names none (Handler's conventional value).
const DEFAULT_BINARY: &str = "bootstrap";

/// The binary of the package at `manifest` that is its bootstrap: one named `bootstrap`, else
/// its only binary. Several binaries, none of them `bootstrap`, is an error naming them.
fn bootstrap_binary(manifest: &Path) -> anyhow::Result<String> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed:\n{}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let manifest = manifest.canonicalize()?;
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| {
            p["manifest_path"]
                .as_str()
                .and_then(|m| Path::new(m).canonicalize().ok())
                .is_some_and(|m| m == manifest)
        })
        .context("cargo metadata does not list the package")?;
    let binaries: Vec<&str> = package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"))
        })
        .filter_map(|t| t["name"].as_str())
        .collect();
    match binaries[..] {
        _ if binaries.contains(&DEFAULT_BINARY) => Ok(DEFAULT_BINARY.to_string()),
        [only] => Ok(only.to_string()),
        [] => bail!("the package has no binary to run as the bootstrap"),
        _ => bail!(
            "the package has several binaries ({}): name the bootstrap with Metadata BuildProperties.Binary",
            binaries.join(", ")
        ),
    }
}

/// What cargo builds for a function.
#[derive(Clone, Copy)]
enum CargoTarget<'a> {
    /// A native binary of this name.
    Bin(&'a str),
    /// A component: the library, for wasm32-wasip2, found under this file name.
    Component(&'a str),
}

/// An interpreted function's code and build directories, absolute (its package manager runs in
/// the code's directory, so every path it is given must be), once the code is known to exist.
fn interpreted_dirs(
    code: &Path,
    build_dir: &Path,
    function: &FunctionDef,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    if !code.is_dir() {
        bail!(
            "function {}: CodeUri {} is not a directory",
            function.logical_id,
            code.display()
        );
    }
    Ok((std::path::absolute(code)?, std::path::absolute(build_dir)?))
}

/// `Code.ZipFile` written where Lambda puts it: `index.py` or `index.js` in a directory of its
/// own (under the function's build directory), which becomes the function's code.
fn write_inline_code(
    template_dir: &Path,
    function: &FunctionDef,
    source: &str,
) -> anyhow::Result<PathBuf> {
    let file = match function.kind {
        FunctionKind::Python { .. } => "index.py",
        FunctionKind::Node { .. } => "index.js",
        _ => bail!(
            "function {}: inline code (Code.ZipFile) is for Python and Node.js functions",
            function.logical_id
        ),
    };
    let dir = build_dir(template_dir, function).join("inline");
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(file), source))
        .with_context(|| format!("function {}: writing its inline code", function.logical_id))?;
    Ok(dir)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The target WASM handlers are built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// The commands that tell whether a target's standard library is installed and add it.
pub struct Toolchain {
    pub rustc: PathBuf,
    pub rustup: PathBuf,
}

impl Toolchain {
    /// `rustc` and `rustup` as cargo would find them (`RUSTC` overrides rustc).
    pub fn from_path() -> Self {
        Self {
            rustc: std::env::var_os("RUSTC").map_or_else(|| "rustc".into(), PathBuf::from),
            rustup: "rustup".into(),
        }
    }
}

/// A fresh rustup install has only the host target: when the toolchain that builds the
/// function in `dir` lacks wasm32-wasip2, add it through rustup, saying so (once per process;
/// concurrent builds wait for it). Without rustup the cargo error names the fix.
pub fn ensure_wasm_target(dir: &Path, toolchain: &Toolchain) -> anyhow::Result<()> {
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let sysroot = Command::new(&toolchain.rustc)
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .output();
    let Ok(sysroot) = sysroot.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()) else {
        return Ok(()); // no rustc to ask: cargo's own error will say what is wrong
    };
    let installed = Path::new(&sysroot)
        .join("lib/rustlib")
        .join(WASM_TARGET)
        .is_dir();
    if installed || sysroot.is_empty() {
        return Ok(());
    }
    tracing::info!(
        "the {WASM_TARGET} target is not installed for {sysroot}: adding it with `rustup target add {WASM_TARGET}` (once, about 30 MB)"
    );
    let status = Command::new(&toolchain.rustup)
        .args(["target", "add", WASM_TARGET])
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .with_context(|| {
            format!("the {WASM_TARGET} target is missing and rustup could not be run to add it")
        })?;
    if !status.success() {
        bail!("`rustup target add {WASM_TARGET}` failed ({status}); run it yourself and retry");
    }
    Ok(())
}

/// Directories that hold build outputs, caches or installed packages, never sources.
const NOT_SOURCES: &[&str] = &[
    "target",
    "node_modules",
    ".lockgate",
    ".aws-sam",
    ".git",
    "__pycache__",
    ".venv",
    ".mypy_cache",
    ".pytest_cache",
];

/// Every file under `root` that may be a source (see [`NOT_SOURCES`]), sorted; `None` when
/// there are more than `limit`. Symbolic links are not followed into directories.
pub fn source_files(root: &Path, limit: usize) -> Option<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if !NOT_SOURCES.iter().any(|s| entry.file_name() == *s) {
                    dirs.push(entry.path());
                }
            } else {
                files.push(entry.path());
                if files.len() > limit {
                    return None;
                }
            }
        }
    }
    files.sort();
    Some(files)
}

/// Compiles an interpreted function's sources without running them (Python's `compile`,
/// `node --check`), so watch mode can refuse a build with a syntax error and keep the old one
/// running. Compiled kinds were checked by their compiler.
pub fn check_syntax(artifact: &Artifact) -> anyhow::Result<()> {
    let sources = |root: &Path, extensions: &[&str]| {
        source_files(root, usize::MAX)
            .unwrap_or_default()
            .into_iter()
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| extensions.contains(&e))
            })
            .collect::<Vec<_>>()
    };
    let failed = |what: &str, output: std::process::Output| {
        anyhow::anyhow!(
            "{what}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };
    match artifact {
        Artifact::Python {
            interpreter,
            task_root,
            ..
        } => {
            let files = sources(task_root, &["py"]);
            let output = Command::new(interpreter)
                .arg("-c")
                .arg("import sys\nfor f in sys.argv[1:]:\n    compile(open(f, encoding='utf-8').read(), f, 'exec')")
                .args(&files)
                .output()?;
            if !output.status.success() {
                return Err(failed("Python cannot compile the function", output));
            }
        }
        Artifact::Node {
            node, task_root, ..
        } => {
            for file in sources(task_root, &["js", "mjs", "cjs"]) {
                let output = Command::new(node).arg("--check").arg(&file).output()?;
                if !output.status.success() {
                    return Err(failed("Node.js cannot parse the function", output));
                }
            }
        }
        Artifact::Executable(_) | Artifact::Component(_) => {}
    }
    Ok(())
}

/// [`build`] on a blocking thread, so the async runtime keeps serving while cargo works.
pub async fn build_in_background(
    template_dir: &Path,
    function: &FunctionDef,
    profile: Profile,
) -> anyhow::Result<Artifact> {
    let dir = template_dir.to_path_buf();
    let function = function.clone();
    tokio::task::spawn_blocking(move || build(&dir, &function, profile)).await?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake rustc whose sysroot lacks the target, and a fake rustup that records its
    /// arguments and then creates the target's directory, as `rustup target add` does.
    fn fake_toolchain(dir: &Path) -> Toolchain {
        use std::os::unix::fs::PermissionsExt;
        let sysroot = dir.join("sysroot");
        std::fs::create_dir_all(sysroot.join("lib/rustlib")).unwrap();
        let write = |name: &str, script: String| {
            let path = dir.join(name);
            std::fs::write(&path, script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            path
        };
        Toolchain {
            rustc: write("rustc", format!("#!/bin/sh\necho {}\n", sysroot.display())),
            rustup: write(
                "rustup",
                format!(
                    "#!/bin/sh\necho \"$@\" >> {log}\nmkdir -p {sysroot}/lib/rustlib/$3\n",
                    log = dir.join("rustup.log").display(),
                    sysroot = sysroot.display()
                ),
            ),
        }
    }

    #[test]
    fn a_missing_wasm_target_is_added_once_through_rustup() {
        let dir = tempfile::tempdir().unwrap();
        let toolchain = fake_toolchain(dir.path());
        ensure_wasm_target(dir.path(), &toolchain).unwrap();
        ensure_wasm_target(dir.path(), &toolchain).unwrap();
        let log = std::fs::read_to_string(dir.path().join("rustup.log")).unwrap();
        assert_eq!(
            log,
            format!("target add {WASM_TARGET}\n"),
            "added once, then found"
        );
    }

    #[test]
    fn a_failing_rustup_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut toolchain = fake_toolchain(dir.path());
        toolchain.rustup = "/bin/false".into();
        let err = ensure_wasm_target(dir.path(), &toolchain).unwrap_err();
        assert!(
            err.to_string().contains("rustup target add wasm32-wasip2"),
            "{err}"
        );
    }
}
