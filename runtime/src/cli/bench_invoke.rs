//! `lockgate bench-invoke` (hidden): the Runtime API round trip. Invokes a template function
//! N times in a row with a one-record event through the function's invoker and prints latency
//! percentiles. Used by `lockgate-bench runtime`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lockgate_runtime::builder::Profile;
use lockgate_runtime::template::Template;

#[derive(clap::Args)]
pub struct Args {
    pub function: String,
    #[arg(long, default_value = "template.yaml")]
    pub template: PathBuf,
    #[arg(long, default_value_t = 5000)]
    pub count: usize,
    /// Cargo profile for building functions (`dev` or `release`).
    #[arg(long = "build-profile", value_enum, default_value = "release")]
    pub build_profile: Profile,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let template = Template::load(&args.template)?;
    let function = lockgate_runtime::app::standalone_function(
        &template,
        &args.function,
        args.build_profile,
        "us-east-1",
    )
    .await?;
    let event = br#"{"Records":[{"messageId":"m1","receiptHandle":"h","body":"x","attributes":{"ApproximateReceiveCount":"1","SentTimestamp":"1"},"messageAttributes":{},"md5OfBody":"9dd4e461268c8034f5c8564e155c67a6","eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:000000000000:q","awsRegion":"us-east-1"}]}"#;
    // The first call starts the process (its cold start); then measure warm round trips.
    let cold = Instant::now();
    function
        .invoke_event(event.to_vec())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let cold = cold.elapsed();
    let mut samples = Vec::with_capacity(args.count);
    for _ in 0..args.count {
        let started = Instant::now();
        function
            .invoke_event(event.to_vec())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        samples.push(started.elapsed());
    }
    function.shutdown();
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    outln!(
        "cold start (process start to first response) {:.1} ms; runtime-api round trip over {} invocations: p50 {:.0} µs, p99 {:.0} µs, mean {:.0} µs",
        cold.as_secs_f64() * 1e3,
        samples.len(),
        at(0.5),
        at(0.99),
        samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64 * 1e6
    )?;
    Ok(())
}
