//! `lockgate build`: build the template's functions (native binaries with cargo, WASM
//! components for wasm32-wasip2) and print where each artifact is.

use std::path::PathBuf;

use lockgate_runtime::builder::{self, Profile};
use lockgate_runtime::template::Template;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "template.yaml")]
    pub template: PathBuf,
    /// Build only these functions (logical ids); all when omitted.
    pub functions: Vec<String>,
    #[arg(long, value_enum, default_value = "release")]
    pub profile: Profile,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let template = Template::load(&args.template)?;
    if let Some(unknown) = args
        .functions
        .iter()
        .find(|f| !template.functions.contains_key(*f))
    {
        let known: Vec<_> = template.functions.keys().collect();
        anyhow::bail!(
            "no function {unknown} in {} (functions: {known:?})",
            args.template.display()
        );
    }
    for (id, function) in &template.functions {
        if !args.functions.is_empty() && !args.functions.contains(id) {
            continue;
        }
        tracing::info!("building {id} ({})", function.kind.artifact());
        let artifact = builder::build_in_background(&template.dir, function, args.profile).await?;
        println!("{id}\t{}", artifact.path().display());
    }
    Ok(())
}
