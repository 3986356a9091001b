//! `lockgate invoke`: one invocation of a template function with an SQS event file, through
//! the same Runtime API and process (or WASM host) the mappings use (like `sam local invoke`).

use std::path::PathBuf;

use anyhow::Context;

use crate::builder::{self, Profile};
use crate::invoke::Invoker;
use crate::invoke::lambda_process::{FunctionSpec, ProcessPool};
use crate::invoke::wasm::WasmInvoker;
use crate::template::{FunctionKind, Template};

#[derive(clap::Args)]
pub struct Args {
    /// Logical id of the function in the template.
    pub function: String,
    /// An SQS event JSON file (`{"Records": [...]}`); `-` reads stdin.
    #[arg(long)]
    pub event: PathBuf,
    #[arg(long, default_value = "template.yaml")]
    pub template: PathBuf,
    #[arg(long, value_enum, default_value = "release")]
    pub profile: Profile,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let template = Template::load(&args.template)?;
    let function = template.functions.get(&args.function).with_context(|| {
        let known: Vec<_> = template.functions.keys().collect();
        format!(
            "no function {} in {} (functions: {known:?})",
            args.function,
            args.template.display()
        )
    })?;
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

    let artifact = builder::build_in_background(&template.dir, function, args.profile).await?;
    // Environment values that name queues need a running app; plain values are passed on.
    let variables = function.environment.iter().filter_map(|(k, v)| match v {
        crate::template::Expr::Literal(s) => Some((k.clone(), s.clone())),
        _ => None,
    });
    let invoker = match function.kind {
        FunctionKind::Wasm { .. } => {
            let engine = crate::invoke::wasm::engine(1, function.memory_mb)?;
            Invoker::Wasm(WasmInvoker::load(
                engine,
                function,
                artifact,
                variables.collect(),
            )?)
        }
        FunctionKind::Native { .. } => {
            let env = variables
                .chain(
                    std::env::var("AWS_ENDPOINT_URL_SQS")
                        .ok()
                        .map(|e| ("AWS_ENDPOINT_URL_SQS".to_string(), e)),
                )
                .collect();
            Invoker::Process(ProcessPool::new(FunctionSpec::new(
                function,
                artifact,
                &args.region,
                env,
            )))
        }
    };
    let result = invoker.invoke_event(event.into_bytes()).await;
    invoker.shutdown();
    match result {
        Ok(body) => {
            println!("{}", String::from_utf8_lossy(&body));
            Ok(())
        }
        Err(e) => anyhow::bail!("invocation failed: {e}"),
    }
}
