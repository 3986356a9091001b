//! A/B of two builds in one run (`lockgate-bench ab --baseline OLD`): durable send, drain and
//! cycle with a small backlog, each build twice in alternation (A B A B, so a machine getting
//! slower during the run weighs on both), then `lockgate up` draining through the native no-op
//! function at BatchSize 100 for each, and a durable backlog (1,000,000 messages by default)
//! filled, restarted and drained by each. Prints each build's figures and this ÷ baseline.

use std::path::Path;

use crate::runtime::{self, Kind};
use crate::servers::{Server, Storage};
use crate::workloads::{Figures, Load, standard_suite};

pub async fn run(
    baseline: &Path,
    this: &Path,
    load: &Load,
    rounds: usize,
    runtime_messages: usize,
    backlog: usize,
) -> anyhow::Result<()> {
    println!(
        "A/B: baseline {} against this build {}, durable (SSE off), {rounds} rounds alternating",
        baseline.display(),
        this.display()
    );
    let mut sums = [[0.0f64; 3]; 2];
    for round in 0..rounds {
        for (i, binary) in [baseline, this].into_iter().enumerate() {
            let server = Server::lockgate(binary, Storage::Durable).await?;
            let Figures { send, drain, cycle } = standard_suite(&server, load).await?;
            server.stop();
            println!(
                "  round {} {:<8}: send {send:>8.0}  receive+delete {drain:>8.0}  cycle {cycle:>8.0} msgs/s",
                round + 1,
                ["baseline", "this"][i]
            );
            for (sum, value) in sums[i].iter_mut().zip([send, drain, cycle]) {
                *sum += value;
            }
        }
    }
    let ratio = |k: usize| sums[1][k] / sums[0][k];
    println!(
        "this ÷ baseline (means of {rounds}): send {:.2}×, receive+delete {:.2}×, cycle {:.2}×",
        ratio(0),
        ratio(1),
        ratio(2)
    );
    if backlog > 0 {
        // Fill, resident memory, restart and drain of a durable backlog, each build in turn.
        for (name, binary) in [("baseline", baseline), ("this", this)] {
            println!("{name}:");
            let server = Server::lockgate(binary, Storage::Durable).await?;
            crate::workloads::backlog(server, binary, load, backlog).await?;
        }
    }
    if runtime_messages > 0 {
        let function = runtime::function_source(Kind::Native)?;
        let mut figures = Vec::new();
        for binary in [baseline, this] {
            figures.push(
                runtime::drain(
                    binary,
                    &function,
                    Kind::Native,
                    100,
                    runtime_messages,
                    load.connections,
                    &load.body,
                )
                .await?,
            );
        }
        println!(
            "lockgate up, native no-op, BatchSize 100, this ÷ baseline: overall {:.2}×, sustained {:.2}×, emulator alone {:.2}×",
            figures[1].overall / figures[0].overall,
            figures[1].sustained / figures[0].sustained,
            figures[1].floor / figures[0].floor
        );
    }
    Ok(())
}
