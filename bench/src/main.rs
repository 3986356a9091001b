//! `lockgate-bench`: emulator throughput, side by side with a floor server (parses requests,
//! answers success, nothing else) and with moto_server, all measured in the same run on the
//! same machine. Prints msgs/s and ratios. See the README's "Benchmarks" section.

mod ab;
mod backlog;
mod distribution;
mod floor;
mod http;
mod runtime;
mod servers;
mod wasm;
mod workloads;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// The allocator `lockgate` itself uses, so in-process measurements (the WASM host) see the
/// same costs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use servers::{Server, Storage};
use workloads::{Figures, Load};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// The lockgate binary to measure (build it with --release).
    #[arg(long, default_value = "target/release/lockgate")]
    lockgate: PathBuf,
    /// moto_server from `pip install moto[server]`; skipped when absent.
    #[arg(long, default_value = "target/bench-venv/bin/moto_server")]
    moto: PathBuf,
    /// Seconds per timed workload.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent connections per workload.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Messages in the backlog test (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    backlog: usize,
    /// Messages in the start-up recovery test, without and with SSE (0 skips it).
    #[arg(long, default_value_t = 200_000)]
    recovery: usize,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 256)]
    body_bytes: usize,
}

#[derive(Subcommand)]
enum Command {
    /// Internal: run the floor server (used as a child process by the benchmark).
    Floor,
    /// End-to-end throughput through `lockgate up` with a no-op function.
    Runtime {
        /// Messages per run.
        #[arg(long, default_value_t = 200_000)]
        messages: usize,
        /// Batch sizes to measure, one run each.
        #[arg(long, value_delimiter = ',', default_values_t = [10, 100, 1000])]
        batch_sizes: Vec<u32>,
        /// Which no-op functions to run: native (a Lambda bootstrap process), wasm (a
        /// component in lockgate's wasmtime host), python, node.
        #[arg(long, value_delimiter = ',', default_values_t = [runtime::Kind::Native, runtime::Kind::Wasm, runtime::Kind::Python, runtime::Kind::Node])]
        functions: Vec<runtime::Kind>,
    },
    /// Sizes of the static binaries and the container image, and the time from starting each
    /// to its first answered request (scripts/release.sh and scripts/image.sh first).
    Distribution {
        /// Where scripts/release.sh put the binaries.
        #[arg(long, default_value = "target/dist")]
        dist: PathBuf,
        /// The image scripts/image.sh built.
        #[arg(long, default_value = "lockgate:latest")]
        image: String,
    },
    /// Backlogs larger than memory: resident memory and restart time as a durable queue grows
    /// to each size, the drain of the largest, and large messages.
    Backlog {
        /// Backlog sizes the queue is filled to, one after the other.
        #[arg(long, value_delimiter = ',', default_values_t = [1_000_000, 5_000_000, 10_000_000])]
        sizes: Vec<usize>,
        /// Body size of the backlog's messages.
        #[arg(long, default_value_t = 1024)]
        message_bytes: usize,
        /// Large messages in the second queue (0 skips it).
        #[arg(long, default_value_t = 2_000)]
        large: usize,
        /// Their size.
        #[arg(long, default_value_t = 1 << 20)]
        large_bytes: usize,
    },
    /// This build (--lockgate) against another (--baseline), in one run: durable send, drain
    /// and cycle in alternating rounds, and lockgate up's end-to-end drain.
    Ab {
        /// The other build's lockgate binary.
        #[arg(long)]
        baseline: PathBuf,
        /// Rounds of each build.
        #[arg(long, default_value_t = 2)]
        rounds: usize,
        /// Messages of the end-to-end drain through lockgate up (0 skips it).
        #[arg(long, default_value_t = 100_000)]
        runtime_messages: usize,
        /// Messages of the durable backlog each build fills, restarts and drains (0 skips it).
        #[arg(long = "ab-backlog", default_value_t = 1_000_000)]
        ab_backlog: usize,
    },
    /// The durable cycle alone, on one server, for a profiler: prints the server's pid, waits
    /// a second, then runs the cycle for --seconds.
    Cycle,
    /// WASM per-batch invocation overhead (instantiate + call + drop) for 1, 10, 100 messages.
    WasmOverhead {
        /// Batches per size.
        #[arg(long, default_value_t = 20_000)]
        iterations: usize,
        /// Batch sizes to measure.
        #[arg(long, value_delimiter = ',', default_values_t = [1, 10, 100])]
        sizes: Vec<usize>,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match args.command {
        Some(Command::Floor) => return runtime.block_on(floor::run()),
        Some(Command::Runtime {
            messages,
            batch_sizes,
            functions,
        }) => {
            let body = "x".repeat(args.body_bytes);
            return runtime.block_on(runtime::run(
                &args.lockgate,
                messages,
                &batch_sizes,
                &functions,
                args.connections,
                &body,
            ));
        }
        Some(Command::Distribution { dist, image }) => return distribution::run(&dist, &image),
        Some(Command::Backlog {
            sizes,
            message_bytes,
            large,
            large_bytes,
        }) => {
            let sizes = backlog::Sizes {
                steps: sizes,
                body_bytes: message_bytes,
                large,
                large_bytes,
                connections: args.connections,
            };
            return runtime.block_on(backlog::run(&args.lockgate, &sizes));
        }
        Some(Command::Cycle) => {
            let load = Load {
                duration: Duration::from_secs(args.seconds),
                connections: args.connections,
                body: "x".repeat(args.body_bytes),
            };
            return runtime.block_on(async {
                let server = Server::lockgate(&args.lockgate, Storage::Durable).await?;
                println!("server pid {}", server.child.id());
                tokio::time::sleep(Duration::from_secs(1)).await;
                let rate = workloads::cycle(&server, &load).await?;
                println!("durable cycle: {rate:.0} msgs/s");
                let mut conn = http::Connection::open(&server.host).await?;
                let request = format!("GET /metrics HTTP/1.1\r\nHost: {}\r\n\r\n", server.host);
                let (_, body) = conn.send(request.as_bytes()).await?;
                for line in String::from_utf8_lossy(&body).lines() {
                    if line.starts_with("lockgate_store_commit_seconds_count")
                        || line.starts_with("lockgate_store_commit_seconds_sum")
                    {
                        println!("{line}");
                    }
                }
                server.stop();
                Ok(())
            });
        }
        Some(Command::Ab {
            baseline,
            rounds,
            runtime_messages,
            ab_backlog,
        }) => {
            let load = Load {
                duration: Duration::from_secs(args.seconds),
                connections: args.connections,
                body: "x".repeat(args.body_bytes),
            };
            return runtime.block_on(ab::run(
                &baseline,
                &args.lockgate,
                &load,
                rounds,
                runtime_messages,
                ab_backlog,
            ));
        }
        Some(Command::WasmOverhead { iterations, sizes }) => {
            let body = "x".repeat(args.body_bytes);
            return runtime.block_on(wasm::run(iterations, &sizes, &body));
        }
        None => {}
    }
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let load = Load {
        duration: Duration::from_secs(args.seconds),
        connections: args.connections,
        body: "x".repeat(args.body_bytes),
    };
    println!(
        "lockgate-bench: {} s per workload, {} connections, batches of 10 × {} B bodies, {} cores",
        args.seconds,
        args.connections,
        args.body_bytes,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let floor = Server::floor().await?;
    let floor_send = workloads::send_only(&floor, &load).await?;
    floor.stop();
    println!("floor server (parse + answer 200): {floor_send:>10.0} msgs/s");

    let mut rows = Vec::new();
    for storage in [Storage::Memory, Storage::Durable, Storage::DurableEncrypted] {
        let server = Server::lockgate(&args.lockgate, storage).await?;
        let figures = workloads::standard_suite(&server, &load).await?;
        let fifo = workloads::fifo_suite(&server, &load).await?;
        if storage == Storage::Memory {
            workloads::parked_polls(&server, 1_000).await?;
        }
        let name = server.name;
        server.stop();
        rows.push((name, figures, Some(fifo)));
    }
    let moto = if args.moto.exists() {
        let server = Server::moto(&args.moto).await?;
        let figures = workloads::standard_suite(&server, &load).await?;
        server.stop();
        Some(figures)
    } else {
        println!(
            "moto_server not found at {} (run scripts/bench.sh to install it)",
            args.moto.display()
        );
        None
    };

    println!();
    println!(
        "{:<22} {:>12} {:>14} {:>12} {:>10} {:>10}",
        "server", "send msg/s", "recv+del msg/s", "cycle msg/s", "÷ floor", "× moto"
    );
    for (name, f, _) in &rows {
        print_row(name, f, floor_send, moto.as_ref());
    }
    if let Some(m) = &moto {
        print_row("moto_server", m, floor_send, None);
    }
    println!();
    for (name, _, fifo) in &rows {
        if let Some(fifo) = fifo {
            println!(
                "{name:<22} FIFO send+receive+delete: {:>9.0} msgs/s with 10 groups, {:>9.0} msgs/s with 1,000 groups",
                fifo.ten_groups, fifo.thousand_groups
            );
        }
    }

    if let [.., (_, plain, _), (_, sealed, _)] = &rows[..] {
        // Sealed in the store's writer on send; opened on receive whenever a content is not in
        // the readers' cache (a drain of more than --cache-size of messages reads most of them
        // back from the store).
        println!(
            "encryption at rest (SQS-managed SSE) ÷ none, durable: send {:.0}%, receive+delete {:.0}%, cycle {:.0}%",
            100.0 * sealed.send / plain.send,
            100.0 * sealed.drain / plain.drain,
            100.0 * sealed.cycle / plain.cycle
        );
    }
    if args.recovery > 0 {
        workloads::recovery(&args.lockgate, &load, args.recovery).await?;
    }

    if args.backlog > 0 {
        println!();
        let server = Server::lockgate(&args.lockgate, Storage::Durable).await?;
        workloads::backlog(server, &args.lockgate, &load, args.backlog).await?;
    }
    Ok(())
}

fn print_row(name: &str, f: &Figures, floor: f64, moto: Option<&Figures>) {
    let vs_moto = moto.map_or("-".to_string(), |m| {
        format!(
            "{:.0}×",
            geometric_mean(&[f.send / m.send, f.drain / m.drain, f.cycle / m.cycle])
        )
    });
    println!(
        "{:<22} {:>12.0} {:>14.0} {:>12.0} {:>9.0}% {:>10}",
        name,
        f.send,
        f.drain,
        f.cycle,
        100.0 * f.send / floor,
        vs_moto
    );
}

fn geometric_mean(values: &[f64]) -> f64 {
    (values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64).exp()
}
