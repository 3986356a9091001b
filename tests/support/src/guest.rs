//! WASM guests built the way `lockgate up` builds them: cargo, wasm32-wasip2, the library
//! target of a workspace package.

use std::path::PathBuf;
use std::process::Command;

/// Builds the library of workspace package `package` for wasm32-wasip2 and returns its
/// `.wasm`.
pub fn build_component(package: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "-p",
            package,
            "--lib",
            "--message-format=json-render-diagnostics",
        ])
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "building {package} failed (is the wasm32-wasip2 target installed?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = package.replace('-', "_");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == target)
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
                .collect::<Vec<_>>()
        })
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .unwrap_or_else(|| panic!("cargo reported no .wasm for {package}"))
}
