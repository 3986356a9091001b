//! `lockgate up` on a real terminal (a tmux pane): the status table stays pinned below the
//! log and never overwrites a log line, colours follow NO_COLOR, and Ctrl-C stops cleanly.
//! Off a terminal: one plain status line, printed only when it changed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use lockgate_test_support as common;

const TEMPLATE: &str = "\
Transform: AWS::Serverless-2016-10-31
Resources:
  Work:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: work
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: worker
      Runtime: python3.12
      Handler: app.handler
      CodeUri: worker/
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
            BatchSize: 1
";

const HANDLER: &str = "\
def handler(event, context):
    for record in event['Records']:
        print(f\"processed {record['body']} end\", flush=True)
";

fn write_app(dir: &Path) {
    std::fs::create_dir_all(dir.join("worker")).unwrap();
    std::fs::write(dir.join("template.yaml"), TEMPLATE).unwrap();
    std::fs::write(dir.join("worker/app.py"), HANDLER).unwrap();
}

/// A tmux server of its own (so tests never share one) with one 150×30 pane.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(dir: &Path, env: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let socket = format!(
            "lockgate-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let command = format!(
            "cd {} && {env} LOCKGATE_PYTHON_BOOTSTRAP=builtin {} up --bind 127.0.0.1:0 --in-memory --build-profile dev; sleep 600",
            dir.display(),
            env!("CARGO_BIN_EXE_lockgate")
        );
        let tmux = Self { socket };
        let status = tmux
            .cmd(&[
                "new-session",
                "-d",
                "-x",
                "150",
                "-y",
                "30",
                "-s",
                "t",
                &command,
            ])
            .status()
            .expect("tmux runs (the test command installs it)");
        assert!(status.success());
        tmux
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket]).args(args).env_remove("TMUX");
        cmd
    }

    /// The pane's text (`history`: the scrollback too; `escapes`: with colour codes).
    fn capture(&self, history: bool, escapes: bool) -> String {
        let mut args = vec!["capture-pane", "-p", "-t", "t"];
        if history {
            args.extend(["-S", "-"]);
        }
        if escapes {
            args.push("-e");
        }
        let out = self.cmd(&args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (generously) until the pane's whole text satisfies `check`.
    fn wait(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let text = self.capture(true, false);
            if check(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).status();
    }
}

fn endpoint_in(text: &str) -> String {
    let at = text
        .find("SQS emulator ready on ")
        .expect("the endpoint line")
        + 22;
    text[at..].split_whitespace().next().unwrap().to_string()
}

fn send(endpoint: &str, bodies: &[String]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = common::client(endpoint, "AKIDEXAMPLE");
        let url = client
            .get_queue_url()
            .queue_name("work")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        for body in bodies {
            client
                .send_message()
                .queue_url(&url)
                .message_body(body)
                .send()
                .await
                .unwrap();
        }
    });
}

#[test]
fn the_status_stays_below_the_log_and_never_overwrites_it() {
    let dir = tempfile::tempdir().unwrap();
    write_app(dir.path());
    let tmux = Tmux::start(dir.path(), "NO_COLOR=1");
    let text = tmux.wait("the app and its status", |t| {
        t.contains("console: ") && t.contains("function ← queue")
    });
    let bodies: Vec<String> = (0..60).map(|i| format!("message-{i:02}")).collect();
    send(&endpoint_in(&text), &bodies);
    let all = tmux.wait("every output line", |t| {
        bodies
            .iter()
            .all(|b| t.contains(&format!("[worker] processed {b} end")))
    });
    // Every line the function printed is there whole, once: nothing was drawn over it.
    for body in &bodies {
        let line = format!("[worker] processed {body} end");
        assert_eq!(
            all.lines().filter(|l| *l == line).count(),
            1,
            "{line} is not intact exactly once:\n{all}"
        );
    }
    // The status table is pinned: drawn once, at the bottom of the screen, after all of it.
    let screen = tmux.wait("the counts in the status", |_| {
        tmux.capture(false, false)
            .lines()
            .any(|l| l.starts_with("worker ← work") && l.split_whitespace().nth(3) == Some("60"))
    });
    assert_eq!(
        all.lines()
            .filter(|l| l.starts_with("function ← queue"))
            .count(),
        1,
        "the status table was printed into the log:\n{all}"
    );
    let visible = tmux.capture(false, false);
    let last = visible.lines().rfind(|l| !l.trim().is_empty()).unwrap();
    assert!(
        last.starts_with("worker ← work"),
        "the status is not at the bottom:\n{screen}"
    );
    // NO_COLOR: no colour codes at all.
    assert!(
        !tmux.capture(true, true).contains("\u{1b}[3"),
        "colours despite NO_COLOR"
    );
    tmux.cmd(&["send-keys", "-t", "t", "C-c"]).status().unwrap();
    tmux.wait("a clean stop", |t| t.contains("INFO stopped"));
}

#[test]
fn a_terminal_without_no_color_gets_colours() {
    let dir = tempfile::tempdir().unwrap();
    write_app(dir.path());
    let tmux = Tmux::start(dir.path(), "env -u NO_COLOR");
    tmux.wait("the app", |t| t.contains("console: "));
    assert!(
        tmux.capture(true, true).contains("\u{1b}[3"),
        "no colours on a terminal"
    );
}

#[test]
fn off_a_terminal_the_status_is_a_plain_line_printed_only_when_it_changed() {
    let dir = tempfile::tempdir().unwrap();
    write_app(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_lockgate"))
        .current_dir(dir.path())
        .args([
            "up",
            "--bind",
            "127.0.0.1:0",
            "--in-memory",
            "--build-profile",
            "dev",
        ])
        .args(["--status-interval", "1"])
        .env("LOCKGATE_PYTHON_BOOTSTRAP", "builtin")
        .env_remove("NO_COLOR")
        .env_remove("AWS_ENDPOINT_URL_SQS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            sink.lock().unwrap().push(line);
        }
    });
    let wait = |what: &str, check: &dyn Fn(&[String]) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let now = lines.lock().unwrap().clone();
            if check(&now) {
                return now;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{now:#?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let seen = wait("the first status line", &|l| {
        l.iter().any(|l| l.starts_with("status: "))
    });
    let endpoint = endpoint_in(&seen.join("\n"));
    send(&endpoint, &["one".to_string(), "two".to_string()]);
    let seen = wait("the status after two messages", &|l| {
        l.iter()
            .any(|l| l.starts_with("status: ") && l.contains("ok=2"))
    });
    // Several intervals pass with nothing changing: no new status line.
    let printed = seen.iter().filter(|l| l.starts_with("status: ")).count();
    let marker = seen.len();
    // Nothing changes now: watch five status intervals for a repeated line (an absence has
    // no condition to wait for, only a window to watch).
    std::thread::sleep(Duration::from_secs(5));
    let after: Vec<String> = lines.lock().unwrap()[marker..].to_vec();
    assert!(
        after
            .iter()
            .all(|l| !l.starts_with("status: ") || !l.contains("ok=2")),
        "an unchanged status was printed again: {after:#?}"
    );
    let statuses: Vec<&String> = seen.iter().filter(|l| l.starts_with("status: ")).collect();
    assert!(printed >= 2, "{statuses:#?}");
    for pair in statuses.windows(2) {
        assert_ne!(pair[0], pair[1], "the same status twice in a row");
    }
    let all = lines.lock().unwrap().join("\n");
    assert!(
        !all.contains('\u{1b}'),
        "escape codes off a terminal:\n{all}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
