//! Python functions made ready to run the way `sam build` prepares them: the interpreter of
//! the requested version, the function's `requirements.txt` installed with pip into a
//! per-function build directory (reused while the requirements and the interpreter are the
//! same), and what speaks the Runtime API: AWS's own runtime interface client (`awslambdaric`,
//! installed from PyPI as a prebuilt wheel, once per interpreter) or, when it cannot be
//! installed (offline, no wheel for the interpreter), lockgate's bootstrap
//! (`runtime/bootstraps/python.py`, standard library only), written beside it either way.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use super::Artifact;
use crate::template::FunctionDef;

/// Lockgate's Runtime API loop for Python, shipped inside the binary.
const BOOTSTRAP: &str = include_str!("../../bootstraps/python.py");

/// The Python versions Lambda runs or ran, newest first: where a requested one is missing,
/// the nearest present stands in.
fn versions() -> Vec<&'static str> {
    crate::template::runtimes::versions(crate::template::runtimes::Family::Python).collect()
}

/// Prepares `function` (Runtime `python<version>`) under `build_dir`.
pub fn prepare(
    code: &Path,
    build_dir: &Path,
    function: &FunctionDef,
    version: &str,
) -> anyhow::Result<Artifact> {
    let id = &function.logical_id;
    let (code, build_dir) = &super::interpreted_dirs(code, build_dir, function)?;
    let interpreter = interpreter(version)
        .with_context(|| format!("function {id}: no Python interpreter found"))?;
    if interpreter.version != version {
        tracing::warn!(
            "function {id}: Runtime python{version} asked, but no Python {version} was found; using Python {} ({})",
            interpreter.version,
            interpreter.path.display()
        );
    }
    std::fs::create_dir_all(build_dir)
        .with_context(|| format!("function {id}: cannot create {}", build_dir.display()))?;
    let dependencies = build_dir.join("dependencies");
    install_requirements(code, &dependencies, &interpreter)
        .with_context(|| format!("function {id}: installing requirements.txt"))?;
    let bootstrap = build_dir.join("lockgate_bootstrap.py");
    if std::fs::read_to_string(&bootstrap).ok().as_deref() != Some(BOOTSTRAP) {
        std::fs::write(&bootstrap, BOOTSTRAP)
            .with_context(|| format!("function {id}: cannot write {}", bootstrap.display()))?;
    }
    // LOCKGATE_PYTHON_BOOTSTRAP=builtin: lockgate's own bootstrap even where AWS's client
    // installs (an offline machine, or to compare them).
    let builtin = std::env::var("LOCKGATE_PYTHON_BOOTSTRAP").is_ok_and(|v| v == "builtin");
    let shared = build_dir.parent().unwrap_or(build_dir);
    let runtime_client = (!builtin)
        .then(|| runtime_client(&interpreter, shared))
        .flatten();
    Ok(Artifact::Python {
        interpreter: interpreter.path,
        bootstrap,
        runtime_client,
        dependencies,
        task_root: code.canonicalize().unwrap_or_else(|_| code.to_path_buf()),
    })
}

/// The runtime interface client AWS's Python images run, pinned, as prebuilt wheels only (no
/// compiler needed): its newest release has wheels for 3.10 and later.
pub const RUNTIME_CLIENT: &str = "awslambdaric==4.2.2";
/// The last release with wheels for Python 3.9.
pub const RUNTIME_CLIENT_PYTHON_3_9: &str = "awslambdaric==4.0.4";

fn runtime_client_requirement(version: &str) -> &'static str {
    if version == "3.9" {
        RUNTIME_CLIENT_PYTHON_3_9
    } else {
        RUNTIME_CLIENT
    }
}

/// `awslambdaric` for `interpreter`, installed once under `shared`; None (with a warning) when
/// pip cannot install it, and lockgate's own bootstrap runs the function instead.
fn runtime_client(interpreter: &Interpreter, shared: &Path) -> Option<PathBuf> {
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let requirement = runtime_client_requirement(&interpreter.version);
    let target = shared.join(format!("awslambdaric-python{}", interpreter.version));
    let stamp = format!("{}\n{requirement}", interpreter.path.display());
    let installed = pip_install(
        interpreter,
        &target,
        &stamp,
        shared,
        &["--only-binary=:all:", requirement],
    );
    match installed {
        Ok(()) => Some(target),
        Err(e) => {
            tracing::warn!(
                "cannot install {requirement} for Python {} ({e:#}); Python functions run on lockgate's own Runtime API bootstrap",
                interpreter.version
            );
            None
        }
    }
}

/// A Python interpreter that runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    pub path: PathBuf,
    /// `3.12`.
    pub version: String,
}

/// The interpreter of `version` if there is one that runs (`python3.12` on PATH, then pyenv's
/// versions), else the nearest version present.
pub fn interpreter(version: &str) -> anyhow::Result<Interpreter> {
    for candidate in by_nearness(version) {
        if let Some(path) = find_version(candidate) {
            return Ok(Interpreter {
                path,
                version: candidate.to_string(),
            });
        }
    }
    bail!("install Python {version} (python{version} on PATH, or with pyenv)")
}

/// Lambda's versions, the requested one first, then by distance (newer first on a tie).
fn by_nearness(version: &str) -> Vec<&'static str> {
    let minor = |v: &str| v.trim_start_matches("3.").parse::<i32>().unwrap_or(0);
    let wanted = minor(version);
    let mut candidates = versions();
    candidates.sort_by_key(|v| ((minor(v) - wanted).abs(), -minor(v)));
    candidates
}

/// An interpreter of exactly `version` that runs, if any.
fn find_version(version: &str) -> Option<PathBuf> {
    let name = format!("python{version}");
    let mut candidates = vec![PathBuf::from(&name)];
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pyenv")));
    if let Some(versions) = pyenv_root.map(|r| r.join("versions"))
        && let Ok(entries) = std::fs::read_dir(&versions)
    {
        let mut installed: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n == version || n.starts_with(&format!("{version}.")))
            })
            .collect();
        installed.sort();
        candidates.extend(
            installed
                .into_iter()
                .rev()
                .map(|p| p.join("bin").join(&name)),
        );
    }
    candidates.into_iter().find(|c| runs_as(c, version))
}

/// Whether `path --version` runs and reports `version` (a pyenv shim for a version not
/// selected exits with an error instead).
fn runs_as(path: &Path, version: &str) -> bool {
    Command::new(path)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout).to_string()
                + &String::from_utf8_lossy(&o.stderr);
            text.trim()
                .strip_prefix("Python ")
                .is_some_and(|v| v == version || v.starts_with(&format!("{version}.")))
        })
        .unwrap_or(false)
}

/// `requirements.txt` of `code` installed into `target` with the function's interpreter, as
/// `sam build` does; skipped while neither the file nor the interpreter changed.
fn install_requirements(
    code: &Path,
    target: &Path,
    interpreter: &Interpreter,
) -> anyhow::Result<()> {
    let requirements = code.join("requirements.txt");
    let Ok(wanted) = std::fs::read_to_string(&requirements) else {
        return Ok(());
    };
    let stamp = format!(
        "{}\n{}\n{wanted}",
        interpreter.path.display(),
        interpreter.version
    );
    let requirements = requirements.to_string_lossy();
    pip_install(interpreter, target, &stamp, code, &["-r", &requirements])
}

/// `pip install --target target what…` run in `cwd`, skipped while `stamp` is what the last
/// install into `target` was made with.
fn pip_install(
    interpreter: &Interpreter,
    target: &Path,
    stamp: &str,
    cwd: &Path,
    what: &[&str],
) -> anyhow::Result<()> {
    let stamp_path = target.join(".lockgate-installed");
    if std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp) {
        return Ok(());
    }
    if target.exists() {
        std::fs::remove_dir_all(target)
            .with_context(|| format!("cannot clear {}", target.display()))?;
    }
    tracing::info!("installing {} with pip", what.join(" "));
    let output = Command::new(&interpreter.path)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--no-input", "--target"])
        .arg(target)
        .args(what)
        .current_dir(cwd)
        .output()
        .with_context(|| format!("cannot run {} -m pip", interpreter.path.display()))?;
    if !output.status.success() {
        bail!(
            "pip failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    std::fs::write(&stamp_path, stamp)
        .with_context(|| format!("cannot write {}", stamp_path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_version_is_replaced_by_the_nearest() {
        assert_eq!(
            by_nearness("3.11"),
            [
                "3.11", "3.12", "3.10", "3.13", "3.9", "3.14", "3.8", "3.7", "3.6"
            ]
        );
        // The newest runtime first, then older interpreters nearest first.
        assert_eq!(
            by_nearness("3.14"),
            [
                "3.14", "3.13", "3.12", "3.11", "3.10", "3.9", "3.8", "3.7", "3.6"
            ]
        );
        assert_eq!(by_nearness("3.6")[..3], ["3.6", "3.7", "3.8"]);
    }

    #[test]
    fn only_an_interpreter_that_runs_as_the_version_counts() {
        // Some Python 3.9+ runs wherever the tests do.
        let found = interpreter("3.12").expect("a Python 3.9+ interpreter");
        assert!(runs_as(&found.path, &found.version), "{found:?}");
        assert!(!runs_as(&found.path, "3.1"), "3.1 is not {}", found.version);
        assert!(!runs_as(Path::new("/nonexistent/python3.12"), "3.12"));
    }
}
