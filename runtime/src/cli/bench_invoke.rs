//! `lockgate bench-invoke` (hidden): the Runtime API round trip. Invokes a template function
//! N times in a row with a one-record event through the process pool and prints latency
//! percentiles. Used by `lockgate-bench runtime`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::builder::{self, Profile};
use crate::invoke::lambda_process::{FunctionSpec, ProcessPool};
use crate::template::Template;

#[derive(clap::Args)]
pub struct Args {
    pub function: String,
    #[arg(long, default_value = "template.yaml")]
    pub template: PathBuf,
    #[arg(long, default_value_t = 5000)]
    pub count: usize,
    #[arg(long, value_enum, default_value = "release")]
    pub profile: Profile,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let template = Template::load(&args.template)?;
    let function = template
        .functions
        .get(&args.function)
        .context("no such function")?
        .clone();
    let executable = builder::build_in_background(&template.dir, &function, args.profile).await?;
    let pool = ProcessPool::new(FunctionSpec::new(
        &function,
        executable,
        "us-east-1",
        Vec::new(),
    ));
    let event = br#"{"Records":[{"messageId":"m1","receiptHandle":"h","body":"x","attributes":{"ApproximateReceiveCount":"1","SentTimestamp":"1"},"messageAttributes":{},"md5OfBody":"9dd4e461268c8034f5c8564e155c67a6","eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:000000000000:q","awsRegion":"us-east-1"}]}"#;
    // The first call starts the process; measure warm round trips.
    pool.invoke(event.to_vec())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut samples = Vec::with_capacity(args.count);
    for _ in 0..args.count {
        let started = Instant::now();
        pool.invoke(event.to_vec())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        samples.push(started.elapsed());
    }
    pool.shutdown();
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    println!(
        "runtime-api round trip over {} invocations: p50 {:.0} µs, p99 {:.0} µs, mean {:.0} µs",
        samples.len(),
        at(0.5),
        at(0.99),
        samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64 * 1e6
    );
    Ok(())
}
