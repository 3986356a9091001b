//! What one connection or request may hold, in time and memory: read by the accept loop
//! (connections) and by each request (headers, body).

use std::time::Duration;

/// What one connection or request may hold, in time and memory.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time to send a request's headers, counted from when the server is ready to read them:
    /// slow headers and idle keep-alive connections are closed after it.
    pub header_read_timeout: Duration,
    /// Time to send a whole request body once its headers arrived.
    pub body_read_timeout: Duration,
    /// The largest request body; a larger Content-Length is refused before reading any of it
    /// (SQS's cap on a batch is 1 MiB of payload; form-encoding can triple it).
    pub max_body_bytes: usize,
    /// Connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// Body bytes all connections together may have buffered at once.
    pub max_buffered_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(60),
            max_body_bytes: 4 * 1024 * 1024,
            max_connections: default_max_connections(),
            max_buffered_body_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Raises the process's soft open-file limit to its hard limit, as servers do at start: the
/// connection cap derives from it, and a distribution's default soft limit (often 1,024)
/// would cap a server at a few hundred clients. Returns the soft limit in force.
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    // An unlimited hard limit: the kernel's usual ceiling for open files.
    let wanted = limit.maximum.unwrap_or(1 << 20);
    if limit.current.is_some_and(|soft| soft < wanted) {
        limit.current = Some(wanted);
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::debug!(error = %e, "the open-file limit stays as it was");
        }
    }
    getrlimit(Resource::Nofile).current
}

/// Below the process's open-file limit, with room for the store and function processes.
fn default_max_connections() -> usize {
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse::<usize>().ok())
        })
        .unwrap_or(1024);
    soft_limit.saturating_sub(128).clamp(64, 10_000)
}
