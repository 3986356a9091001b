//! `lockgate build`: build the template's functions (native binaries with cargo, WASM
//! components for wasm32-wasip2) and print where each artifact is.

use lockgate_runtime::builder::{self, Profile};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub template: super::TemplateArgs,
    /// Build only these functions (logical ids); all when omitted.
    pub functions: Vec<String>,
    /// Cargo profile for building functions (`dev` or `release`).
    #[arg(long = "build-profile", value_enum, default_value = "release")]
    pub build_profile: Profile,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let template = args.template.load("us-east-1")?;
    if let Some(unknown) = args
        .functions
        .iter()
        .find(|f| !template.functions.contains_key(*f))
    {
        let known: Vec<_> = template.functions.keys().collect();
        anyhow::bail!(
            "no function {unknown} in {} (functions: {known:?})",
            args.template.path.display()
        );
    }
    for (id, function) in &template.functions {
        if !args.functions.is_empty() && !args.functions.contains(id) {
            continue;
        }
        tracing::info!("building {id} ({})", function.kind.artifact());
        let artifact =
            builder::build_in_background(&template.dir, function, args.build_profile).await?;
        outln!("{id}\t{}", artifact.path().display())?;
    }
    Ok(())
}
