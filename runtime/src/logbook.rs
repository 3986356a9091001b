//! What functions print: every line goes to the terminal (through the [`Echo`] the caller
//! chose, so it can share the screen with a status area) and into a bounded ring per function
//! that the console reads (live logs, and the lines printed during a failed invocation).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where one function's output lines go (handed to process readers and the WASM host).
pub type LineSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Prints a function's line: `(function, line)`.
pub type Echo = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// Lines kept per function.
const KEEP: usize = 2000;
/// Longer lines are cut (a function printing a huge line must not fill memory).
const MAX_LINE_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, serde::Serialize)]
pub struct LogLine {
    pub seq: u64,
    /// Wall-clock milliseconds when the line was read.
    pub at: u64,
    pub line: String,
}

pub struct LogBook {
    rings: Mutex<HashMap<String, VecDeque<LogLine>>>,
    next_seq: AtomicU64,
    echo: Echo,
}

impl LogBook {
    pub fn new(echo: Echo) -> Arc<Self> {
        Arc::new(Self {
            rings: Mutex::default(),
            next_seq: AtomicU64::new(1),
            echo,
        })
    }

    /// Echoes `[function] line` to stderr.
    pub fn to_stderr() -> Arc<Self> {
        Self::new(Arc::new(|function, line| eprintln!("[{function}] {line}")))
    }

    /// Makes `function` known (its log is empty rather than absent).
    pub fn register(&self, function: &str) {
        self.lock().entry(function.to_string()).or_default();
    }

    /// The sink for `function`'s output.
    pub fn sink(self: &Arc<Self>, function: &str) -> LineSink {
        let book = self.clone();
        let function = function.to_string();
        book.register(&function);
        Arc::new(move |line| book.write(&function, line))
    }

    pub fn write(&self, function: &str, line: &str) {
        let line = if line.len() > MAX_LINE_BYTES {
            let mut end = MAX_LINE_BYTES;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}… ({} bytes cut)", &line[..end], line.len() - end)
        } else {
            line.to_string()
        };
        (self.echo)(function, &line);
        let entry = LogLine {
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed),
            at: now_ms(),
            line,
        };
        let mut rings = self.lock();
        let ring = rings.entry(function.to_string()).or_default();
        if ring.len() >= KEEP {
            ring.pop_front();
        }
        ring.push_back(entry);
    }

    /// `function`'s lines with a sequence number above `after`, and the number to ask after
    /// next; `None` for a function never registered.
    pub fn after(&self, function: &str, after: u64) -> Option<(Vec<LogLine>, u64)> {
        let rings = self.lock();
        let ring = rings.get(function)?;
        let lines: Vec<LogLine> = ring.iter().filter(|l| l.seq > after).cloned().collect();
        let next = lines.last().map_or(after, |l| l.seq);
        Some((lines, next))
    }

    /// `function`'s lines read between two wall-clock instants (ms).
    pub fn between(&self, function: &str, from_ms: u64, to_ms: u64) -> Vec<String> {
        self.lock().get(function).map_or_else(Vec::new, |ring| {
            ring.iter()
                .filter(|l| (from_ms..=to_ms).contains(&l.at))
                .map(|l| l.line.clone())
                .collect()
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<LogLine>>> {
        self.rings.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet() -> Arc<LogBook> {
        LogBook::new(Arc::new(|_, _| {}))
    }

    #[test]
    fn lines_are_kept_per_function_in_order_and_bounded() {
        let book = quiet();
        let sink = book.sink("a");
        book.register("b");
        for i in 0..KEEP + 5 {
            sink(&format!("line {i}"));
        }
        let (lines, next) = book.after("a", 0).unwrap();
        assert_eq!(lines.len(), KEEP);
        assert_eq!(lines[0].line, "line 5");
        assert_eq!(lines.last().unwrap().seq, next);
        assert!(book.after("a", next).unwrap().0.is_empty());
        assert!(book.after("b", 0).unwrap().0.is_empty());
        assert!(book.after("c", 0).is_none());
    }

    #[test]
    fn a_huge_line_is_cut() {
        let book = quiet();
        book.register("a");
        book.write("a", &"é".repeat(MAX_LINE_BYTES));
        let (lines, _) = book.after("a", 0).unwrap();
        assert!(lines[0].line.len() < MAX_LINE_BYTES + 64);
        assert!(lines[0].line.ends_with("bytes cut)"));
    }
}
