//! Python functions made ready to run the way `sam build` prepares them: the interpreter of
//! the requested version, the function's `requirements.txt` installed with pip into a
//! per-function build directory (reused while the requirements and the interpreter are the
//! same), and lockgate's bootstrap (`runtime/bootstraps/python.py`) written beside it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use super::Artifact;
use crate::template::FunctionDef;

/// Lockgate's Runtime API loop for Python, shipped inside the binary.
const BOOTSTRAP: &str = include_str!("../../bootstraps/python.py");

/// The versions Lambda runs, newest first: where a requested one is missing, the nearest
/// present stands in.
const VERSIONS: &[&str] = &["3.13", "3.12", "3.11", "3.10", "3.9"];

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
    Ok(Artifact::Python {
        interpreter: interpreter.path,
        version: interpreter.version,
        bootstrap,
        dependencies,
        task_root: code.canonicalize().unwrap_or_else(|_| code.to_path_buf()),
    })
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
    let mut candidates = VERSIONS.to_vec();
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
    let stamp_path = target.join(".lockgate-requirements");
    let stamp = format!(
        "{}\n{}\n{wanted}",
        interpreter.path.display(),
        interpreter.version
    );
    if std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str()) {
        return Ok(());
    }
    if target.exists() {
        std::fs::remove_dir_all(target)
            .with_context(|| format!("cannot clear {}", target.display()))?;
    }
    tracing::info!("installing {} with pip", requirements.display());
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
        .arg("-r")
        .arg(&requirements)
        .current_dir(code)
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
        assert_eq!(by_nearness("3.11"), ["3.11", "3.12", "3.10", "3.13", "3.9"]);
        assert_eq!(by_nearness("3.14"), ["3.13", "3.12", "3.11", "3.10", "3.9"]);
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
