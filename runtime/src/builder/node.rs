//! Node.js functions made ready to run the way `sam build` prepares them: `node` (its major
//! checked against the Runtime), and for a function with a `package.json` its code copied into
//! a per-function build directory where npm installs the production dependencies (reused while
//! package.json and the lock file are unchanged; ES modules resolve packages only from a
//! `node_modules` beside or above the code). A `BuildMethod: esbuild` function (TypeScript, or
//! bundled JavaScript) is bundled as `sam build` bundles it, with the esbuild of its
//! devDependencies (or on PATH), and runs from the bundle. Lockgate's bootstrap
//! (`runtime/bootstraps/node.mjs`) is written beside it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use super::Artifact;
use crate::template::{Bundle, FunctionDef};

/// Lockgate's Runtime API loop for Node.js, shipped inside the binary.
const BOOTSTRAP: &str = include_str!("../../bootstraps/node.mjs");

/// Prepares `function` (Runtime `nodejs<version>.x`) under `build_dir`.
pub fn prepare(
    code: &Path,
    build_dir: &Path,
    function: &FunctionDef,
    version: &str,
) -> anyhow::Result<Artifact> {
    let id = &function.logical_id;
    let (code, build_dir) = &super::interpreted_dirs(code, build_dir, function)?;
    let (node, major) = node().with_context(|| format!("function {id}: no Node.js found"))?;
    if major != version {
        tracing::warn!(
            "function {id}: Runtime nodejs{version}.x asked, but node is Node.js {major} ({}); using it",
            node.display()
        );
    }
    std::fs::create_dir_all(build_dir)
        .with_context(|| format!("function {id}: cannot create {}", build_dir.display()))?;
    // A bundle needs esbuild, which packages list as a devDependency.
    let with_dev = function.bundle.is_some();
    let code_root = if code.join("package.json").is_file() {
        let task = build_dir.join("task");
        copy_code(code, &task).with_context(|| format!("function {id}: copying its code"))?;
        install_packages(&task, &major, with_dev)
            .with_context(|| format!("function {id}: installing package.json's dependencies"))?;
        task
    } else {
        code.canonicalize().unwrap_or_else(|_| code.to_path_buf())
    };
    let modules = code_root.join("node_modules");
    let task_root = match &function.bundle {
        Some(bundle) => {
            let out = build_dir.join("bundle");
            // LOCKGATE_TOOLS_DIR: a cache of tools shared between projects (or filled ahead,
            // as the test command does); else the project's build cache.
            let tools = std::env::var_os("LOCKGATE_TOOLS_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| build_dir.parent().unwrap_or(build_dir).join(".tools"));
            let program = esbuild_program(&code_root, &tools)
                .with_context(|| format!("function {id}: finding esbuild"))?;
            esbuild(&program, &code_root, &out, bundle)
                .with_context(|| format!("function {id}: bundling with esbuild"))?;
            out
        }
        None => code_root,
    };
    let bootstrap = build_dir.join("lockgate_bootstrap.mjs");
    if std::fs::read_to_string(&bootstrap).ok().as_deref() != Some(BOOTSTRAP) {
        std::fs::write(&bootstrap, BOOTSTRAP)
            .with_context(|| format!("function {id}: cannot write {}", bootstrap.display()))?;
    }
    Ok(Artifact::Node {
        node,
        bootstrap,
        task_root,
        modules,
    })
}

/// The esbuild lockgate installs when a bundled function has none of its own: pinned, so every
/// machine bundles alike.
pub const ESBUILD_VERSION: &str = "0.28.2";

/// esbuild as SAM finds it — the function's own `node_modules`, then PATH — else lockgate's
/// pinned one, installed from npm once into `tools` (lockgate's build cache).
fn esbuild_program(code: &Path, tools: &Path) -> anyhow::Result<PathBuf> {
    let local = code.join("node_modules").join(".bin").join("esbuild");
    if local.is_file() {
        return Ok(local);
    }
    let on_path = Command::new("esbuild")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if on_path {
        return Ok(PathBuf::from("esbuild"));
    }
    let dir = tools.join(format!("esbuild-{ESBUILD_VERSION}"));
    let installed = dir.join("node_modules").join(".bin").join("esbuild");
    if !installed.is_file() {
        tracing::info!(
            "esbuild is neither in the function's node_modules nor on PATH: installing esbuild {ESBUILD_VERSION} from npm into {} (once)",
            dir.display()
        );
        std::fs::create_dir_all(&dir)?;
        let output = Command::new("npm")
            .args(["install", "--prefix"])
            .arg(&dir)
            .arg(format!("esbuild@{ESBUILD_VERSION}"))
            .args(["--no-audit", "--no-fund", "--loglevel=error", "--no-save"])
            .output()
            .context("cannot run npm (install Node.js with npm)")?;
        if !output.status.success() || !installed.is_file() {
            bail!(
                "installing esbuild {ESBUILD_VERSION} failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
    }
    Ok(installed)
}

/// Bundles each entry point of `code` into `out` (`app.ts` → `out/app.js`) with SAM's esbuild
/// options.
fn esbuild(program: &Path, code: &Path, out: &Path, bundle: &Bundle) -> anyhow::Result<()> {
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("cannot clear {}", out.display()))?;
    }
    let mut command = Command::new(program);
    command
        .current_dir(code)
        .args(&bundle.entry_points)
        .args(["--bundle", "--platform=node", "--log-level=warning"])
        .arg(format!("--target={}", bundle.target))
        .arg(format!("--format={}", bundle.format))
        .arg(format!("--outdir={}", out.display()));
    if bundle.minify {
        command.arg("--minify");
    }
    if bundle.sourcemap {
        command.arg("--sourcemap");
    }
    for package in &bundle.external {
        command.arg(format!("--external:{package}"));
    }
    let output = command
        .output()
        .with_context(|| format!("cannot run {}", program.display()))?;
    if !output.status.success() {
        bail!(
            "esbuild failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// `node` on PATH and its major version.
fn node() -> anyhow::Result<(PathBuf, String)> {
    let output = Command::new("node")
        .arg("--version")
        .output()
        .context("install Node.js (node on PATH)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let major = text
        .trim()
        .strip_prefix('v')
        .and_then(|v| v.split('.').next())
        .filter(|m| output.status.success() && !m.is_empty())
        .with_context(|| format!("node --version answered {text:?}"))?;
    Ok((PathBuf::from("node"), major.to_string()))
}

/// The function's code copied into `task`, replacing what an earlier start copied there but
/// keeping the installed `node_modules`.
fn copy_code(code: &Path, task: &Path) -> anyhow::Result<()> {
    if task.exists() {
        for entry in std::fs::read_dir(task)? {
            let path = entry?.path();
            if path.file_name().is_some_and(|n| n == "node_modules") {
                continue;
            }
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
    }
    copy_tree(code, task)
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        // Dependencies are installed here, not copied; dot-directories (.git, .lockgate) stay.
        if name == "node_modules" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).with_context(|| {
                format!(
                    "cannot copy {} to {}",
                    entry.path().display(),
                    target.display()
                )
            })?;
        }
    }
    Ok(())
}

/// `npm ci` (with a lock file) or `npm install`, production dependencies only unless
/// `with_dev`; skipped while package.json, the lock file and Node's major are what the last
/// install saw.
fn install_packages(task: &Path, major: &str, with_dev: bool) -> anyhow::Result<()> {
    let read = |name: &str| std::fs::read_to_string(task.join(name)).unwrap_or_default();
    let lock = read("package-lock.json");
    let stamp = format!(
        "node {major} dev {with_dev}\n{}\n{lock}",
        read("package.json")
    );
    let stamp_path = task.join("node_modules").join(".lockgate-packages");
    if std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str()) {
        return Ok(());
    }
    let verb: &[&str] = if lock.is_empty() {
        &["install", "--no-package-lock"]
    } else {
        &["ci"]
    };
    tracing::info!(
        "installing {} with npm {}",
        task.join("package.json").display(),
        verb[0]
    );
    let omit: &[&str] = if with_dev { &[] } else { &["--omit=dev"] };
    let output = Command::new("npm")
        .args(verb)
        .args(omit)
        .args(["--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(task)
        .output()
        .context("cannot run npm (install Node.js with npm)")?;
    if !output.status.success() {
        bail!(
            "npm {} failed ({}):\n{}",
            verb[0],
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    std::fs::create_dir_all(task.join("node_modules"))?;
    std::fs::write(&stamp_path, stamp)
        .with_context(|| format!("cannot write {}", stamp_path.display()))?;
    Ok(())
}
