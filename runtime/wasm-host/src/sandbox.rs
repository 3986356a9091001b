//! What a guest may touch. By default: WASI stdout and stderr (captured, then logged with the
//! function's name), the template's environment variables, clocks and randomness — no files,
//! no sockets, no name lookups. A template grants more through two variables, read here so
//! that the local host and the Lambda bootstrap grant the same things:
//! `LOCKGATE_WASI_NETWORK=allow` (TCP, UDP and name lookups to any address) and
//! `LOCKGATE_WASI_DIRS=host[:guest],…` (directories opened read-write at `guest`).

use std::path::PathBuf;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

/// Bytes of stdout (and of stderr) an invocation may write; more is refused to the guest.
const OUTPUT_CAPACITY: usize = 1024 * 1024;
/// Table elements a guest may grow to (Rust guests use a few hundred).
const MAX_TABLE_ELEMENTS: usize = 100_000;

pub const NETWORK_VARIABLE: &str = "LOCKGATE_WASI_NETWORK";
pub const DIRS_VARIABLE: &str = "LOCKGATE_WASI_DIRS";

/// What the template grants beyond the default sandbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub network: bool,
    /// (host directory, path the guest sees).
    pub dirs: Vec<(PathBuf, String)>,
}

impl Grants {
    /// The grants named by a function's environment variables.
    pub fn from_env<'a>(
        vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, String> {
        let mut grants = Grants::default();
        for (key, value) in vars {
            match key {
                NETWORK_VARIABLE => match value {
                    "allow" => grants.network = true,
                    "deny" | "" => grants.network = false,
                    other => {
                        return Err(format!(
                            "{NETWORK_VARIABLE} is allow or deny, not {other:?}"
                        ));
                    }
                },
                DIRS_VARIABLE => {
                    for entry in value.split(',').filter(|e| !e.trim().is_empty()) {
                        let (host, guest) = entry
                            .trim()
                            .split_once(':')
                            .unwrap_or((entry.trim(), entry.trim()));
                        if !std::path::Path::new(host).is_dir() {
                            return Err(format!("{DIRS_VARIABLE}: {host} is not a directory"));
                        }
                        grants.dirs.push((PathBuf::from(host), guest.to_string()));
                    }
                }
                _ => {}
            }
        }
        Ok(grants)
    }
}

/// The store data of one invocation.
pub struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) memory: MemoryCap,
    /// Set when the deadline stopped the guest.
    pub(crate) timed_out: bool,
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A guest's captured stdout and stderr.
pub(crate) struct Output {
    pub stdout: MemoryOutputPipe,
    pub stderr: MemoryOutputPipe,
}

impl Sandbox {
    pub(crate) fn new(
        env: &[(String, String)],
        grants: &Grants,
        memory_limit: usize,
    ) -> wasmtime::Result<(Self, Output)> {
        let output = Output {
            stdout: MemoryOutputPipe::new(OUTPUT_CAPACITY),
            stderr: MemoryOutputPipe::new(OUTPUT_CAPACITY),
        };
        let mut wasi = WasiCtx::builder();
        wasi.stdout(output.stdout.clone())
            .stderr(output.stderr.clone())
            .envs(env)
            .allow_tcp(grants.network)
            .allow_udp(grants.network)
            .allow_ip_name_lookup(grants.network);
        if grants.network {
            wasi.inherit_network();
        }
        for (host, guest) in &grants.dirs {
            wasi.preopened_dir(host, guest, FsPerms::ReadWrite)?;
        }
        let sandbox = Sandbox {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            memory: MemoryCap {
                limit: memory_limit,
                exceeded: false,
            },
            timed_out: false,
        };
        Ok((sandbox, output))
    }
}

/// The function's memory cap (template `MemorySize`): growing a linear memory past it traps,
/// and the flag tells the invocation why.
pub(crate) struct MemoryCap {
    limit: usize,
    pub exceeded: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = true;
            wasmtime::bail!(
                "memory cap reached: growing linear memory to {desired} bytes exceeds {} bytes",
                self.limit
            );
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_come_from_the_environment() {
        let dir = std::env::temp_dir();
        let host = dir.display().to_string();
        let dirs = format!("{host}:/data");
        let grants = Grants::from_env([
            ("OTHER", "x"),
            (NETWORK_VARIABLE, "allow"),
            (DIRS_VARIABLE, dirs.as_str()),
        ])
        .unwrap();
        assert!(grants.network);
        assert_eq!(grants.dirs, [(dir, "/data".to_string())]);
        assert_eq!(
            Grants::from_env([("OTHER", "x")]).unwrap(),
            Grants::default()
        );
        assert!(Grants::from_env([(NETWORK_VARIABLE, "yes")]).is_err());
        assert!(Grants::from_env([(DIRS_VARIABLE, "/no/such/dir")]).is_err());
    }
}
