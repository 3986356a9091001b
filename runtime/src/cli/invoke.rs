//! `lockgate invoke`: one invocation of a template function with an SQS event file, through
//! the same Runtime API and process (or WASM host) the mappings use (like `sam local invoke`).

use std::path::PathBuf;

use anyhow::Context;

use lockgate_runtime::builder::Profile;

#[derive(clap::Args)]
pub struct Args {
    /// Logical id of the function in the template.
    pub function: String,
    /// An SQS event JSON file (`{"Records": [...]}`); `-` reads stdin.
    #[arg(long)]
    pub event: PathBuf,
    #[command(flatten)]
    pub template: super::TemplateArgs,
    /// Cargo profile for building functions (`dev` or `release`).
    #[arg(long = "build-profile", value_enum, default_value = "release")]
    pub build_profile: Profile,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let template = args.template.load(&args.region)?;
    if !template.functions.contains_key(&args.function) {
        let known: Vec<_> = template.functions.keys().collect();
        anyhow::bail!(
            "no function {} in {} (functions: {known:?})",
            args.function,
            args.template.path.display()
        );
    }
    let event = if args.event.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(&args.event)
            .with_context(|| format!("reading {}", args.event.display()))?
    };
    let parsed: serde_json::Value =
        serde_json::from_str(&event).context("the event is not JSON")?;
    anyhow::ensure!(
        parsed["Records"].is_array(),
        "the event has no Records list (an SQS event looks like events/sqs-sample.json)"
    );

    let function = lockgate_runtime::app::standalone_function(
        &template,
        &args.function,
        args.build_profile,
        &args.region,
    )
    .await?;
    let result = function.invoke_event(event.into_bytes()).await;
    function.shutdown();
    match result {
        Ok(body) => {
            outln!("{}", String::from_utf8_lossy(&body))?;
            Ok(())
        }
        Err(e) => anyhow::bail!("invocation failed: {e}"),
    }
}
