//! A WASM guest for end-to-end tests and benchmarks. Each message body is a JSON command:
//! `{"do":"ok"}`, `{"do":"fail"}`, `{"do":"fail-until","attempt":N}` (fails the deliveries
//! before the N-th), `{"do":"trap"}` (the instance traps), `{"do":"loop"}`
//! (never returns), `{"do":"alloc","mb":N}` (touches N MB of memory), `{"do":"open","path":P}`
//! (tries to read and to create a file), `{"do":"connect","addr":A}` (tries a TCP connection),
//! `{"do":"write","path":P}` (writes the message id to a file, for granted directories).
//! `open` and `connect` take `"expect":"denied"` or `"allowed"` and fail the message when the
//! sandbox did otherwise.
//! Bodies that are not JSON succeed without a word (the benchmarks' no-op).
//! Every completed command prints `probe <command> <message id> <receive count> <tag> <detail>`
//! (`tag` is an optional field of the command; an `ok` over 4 KiB has `len:<bytes>` as detail).

use lockgate_guest::{Batch, Error, Message};

#[derive(serde::Deserialize)]
struct Command {
    #[serde(rename = "do")]
    action: String,
    #[serde(default)]
    mb: usize,
    #[serde(default)]
    path: String,
    #[serde(default)]
    addr: String,
    #[serde(default)]
    expect: String,
    #[serde(default)]
    attempt: u32,
    /// Echoed in the trace line, so tests can tell messages apart.
    #[serde(default)]
    tag: String,
}

fn run(message: &Message) -> Result<(), Error> {
    let Ok(command) = serde_json::from_str::<Command>(message.body()) else {
        return Ok(());
    };
    let detail = match command.action.as_str() {
        // A large payload (padding its command) is reported by its size.
        "ok" if message.body().len() > 4096 => format!("len:{}", message.body().len()),
        "ok" => String::new(),
        "fail" => return Err("asked to fail".into()),
        "fail-until" if message.receive_count() < command.attempt => {
            return Err(format!("failing attempt {}", message.receive_count()).into());
        }
        "fail-until" => String::new(),
        "trap" => panic!("asked to trap"),
        "loop" => {
            let mut n = 0u64;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "alloc" => {
            let mut block = vec![0u8; command.mb * 1024 * 1024];
            for i in (0..block.len()).step_by(4096) {
                block[i] = 1;
            }
            format!("{}", std::hint::black_box(&block).len())
        }
        "open" => {
            let read = std::fs::read(&command.path).map(|b| b.len());
            let create = std::fs::File::create(format!("{}.probe", command.path));
            let outcome = match (read, create) {
                (Err(r), Err(c)) => format!("denied read: {r}; create: {c}"),
                (read, create) => format!("allowed read: {read:?}; create: {}", create.is_ok()),
            };
            expect(&command.expect, outcome)?
        }
        "connect" => {
            let outcome = match std::net::TcpStream::connect(&command.addr) {
                Ok(_) => "allowed".to_string(),
                Err(e) => format!("denied {e}"),
            };
            expect(&command.expect, outcome)?
        }
        "write" => {
            std::fs::write(&command.path, message.id())?;
            "written".to_string()
        }
        other => return Err(format!("unknown command {other}").into()),
    };
    println!(
        "probe {} {} {} {} {detail}",
        command.action,
        message.id(),
        message.receive_count(),
        command.tag
    );
    Ok(())
}

/// `outcome` if it starts with what was expected, else an error (the message fails).
fn expect(expected: &str, outcome: String) -> Result<String, Error> {
    if outcome.starts_with(expected) {
        Ok(outcome)
    } else {
        Err(format!("expected {expected}, got {outcome}").into())
    }
}

fn handle(batch: Batch) -> Result<Vec<String>, Error> {
    Ok(lockgate_guest::process_messages(&batch.messages, run))
}

lockgate_guest::export_batch_handler!(handle);
