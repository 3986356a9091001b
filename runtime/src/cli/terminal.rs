//! Where `lockgate` writes for people: stderr. On a terminal, log lines and the functions'
//! output scroll above a status area pinned to the bottom (indicatif draws the area, and every
//! line written through here is printed above it, never over it); elsewhere plain lines, with
//! no cursor movement and no colours.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Screen {
    /// Present on a terminal: the pinned area's owner.
    pinned: Option<MultiProgress>,
}

static SCREEN: OnceLock<Screen> = OnceLock::new();

pub fn screen() -> &'static Screen {
    SCREEN.get_or_init(|| Screen {
        pinned: std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4))),
    })
}

impl Screen {
    /// Writes whole lines to stderr, above the pinned area (which is redrawn below them).
    pub fn write(&self, bytes: &[u8]) {
        let write = || {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(bytes);
            let _ = err.flush();
        };
        match &self.pinned {
            Some(area) => area.suspend(write),
            None => write(),
        }
    }

    pub fn line(&self, line: &str) {
        self.write(format!("{line}\n").as_bytes());
    }

    /// The pinned status area, on a terminal.
    pub fn area(&self) -> Option<StatusArea> {
        self.pinned.as_ref().map(|multi| StatusArea {
            multi: multi.clone(),
            bars: Vec::new(),
        })
    }
}

/// Lines pinned below the log; each is redrawn in place.
pub struct StatusArea {
    multi: MultiProgress,
    bars: Vec<ProgressBar>,
}

impl StatusArea {
    pub fn set(&mut self, lines: &[String]) {
        while self.bars.len() < lines.len() {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_style(ProgressStyle::with_template("{msg}").expect("a valid template"));
            self.bars.push(bar);
        }
        while self.bars.len() > lines.len() {
            if let Some(bar) = self.bars.pop() {
                bar.finish_and_clear();
                self.multi.remove(&bar);
            }
        }
        for (bar, line) in self.bars.iter().zip(lines) {
            bar.set_message(line.clone());
        }
    }
}

impl Drop for StatusArea {
    /// The area goes with the display: what is printed after (shutdown lines) is plain.
    fn drop(&mut self) {
        let _ = self.multi.clear();
        for bar in self.bars.drain(..) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }
}

/// A `tracing` writer: each event is written whole through the [`Screen`].
#[derive(Default)]
pub struct EventWriter(Vec<u8>);

impl Write for EventWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            screen().write(&self.0);
        }
    }
}
