//! A function resource (`AWS::Serverless::Function` or `AWS::Lambda::Function`): its runtime,
//! handler, code and build settings, checked as the service checks them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_yaml_ng::{Mapping, Value};

use super::mapping::parse_sqs_event;
use super::runtimes;
use super::{Bundle, Expr, FunctionDef, FunctionKind, Unsupported};
use lockgate_emulator::template::{NoScope, boolean, ranged};

pub(super) fn parse_function(
    id: &str,
    props: &Mapping,
    metadata: &Value,
) -> anyhow::Result<FunctionDef> {
    let props = Value::Mapping(props.clone());
    let text = |key: &str| -> anyhow::Result<Option<String>> {
        props
            .get(key)
            .map(|v| {
                Expr::parse(v)
                    .and_then(|e| e.resolve(&NoScope))
                    .map_err(|e| anyhow::anyhow!("{key}: {e}"))
            })
            .transpose()
    };
    let code_uri =
        text("CodeUri")?.context("CodeUri is required (the function's crate directory)")?;
    let handler = text("Handler")?.unwrap_or_else(|| "bootstrap".into());
    let runtime = text("Runtime")?.unwrap_or_else(|| "provided.al2023".into());
    let known = runtimes::lookup(&runtime)
        .with_context(|| format!("Runtime {runtime} is not one of Lambda's runtimes"))?;
    let python = (known.family == runtimes::Family::Python).then(|| known.version.to_string());
    let node = (known.family == runtimes::Family::Node).then(|| known.version.to_string());
    if let runtimes::Family::Skipped(why) = known.family {
        bail!("Runtime {runtime}: {why}");
    }
    let architectures: Vec<&str> = match props.get("Architectures") {
        Some(Value::Sequence(seq)) => seq.iter().filter_map(Value::as_str).collect(),
        _ => vec!["x86_64"],
    };
    let architecture = match architectures[..] {
        [arch @ ("x86_64" | "arm64")] => arch.to_string(),
        _ => bail!("Architectures is [x86_64] or [arm64], got {architectures:?}"),
    };
    let timeout_s = ranged(&props, "Timeout", 1, 900)?.unwrap_or(3);
    let memory_mb = ranged(&props, "MemorySize", 128, 10_240)?.unwrap_or(128);
    let mut environment = BTreeMap::new();
    if let Some(vars) = props
        .get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
    {
        for (k, v) in vars {
            let key = k
                .as_str()
                .context("environment variable names are strings")?;
            environment.insert(
                key.to_string(),
                Expr::parse(v).map_err(|e| anyhow::anyhow!("Environment {key}: {e}"))?,
            );
        }
    }
    let kind = if let Some(version) = python {
        check_python_handler(&handler)?;
        FunctionKind::Python { handler, version }
    } else if let Some(version) = node {
        check_node_handler(&handler)?;
        FunctionKind::Node { handler, version }
    } else if handler.ends_with(".wasm") {
        if handler.contains('/') || handler.len() == ".wasm".len() {
            bail!("Handler {handler}: name the component file, e.g. my_handler.wasm");
        }
        FunctionKind::Wasm { component: handler }
    } else {
        let binary = metadata
            .get("BuildProperties")
            .and_then(|b| b.get("Binary"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or(handler);
        FunctionKind::Native { binary }
    };
    let mut events = Vec::new();
    if let Some(map) = props.get("Events").and_then(Value::as_mapping) {
        for (name, event) in map {
            let name = name.as_str().unwrap_or_default().to_string();
            if event.get("Type").and_then(Value::as_str) != Some("SQS") {
                continue;
            }
            let empty = Value::Mapping(Mapping::new());
            let p = event.get("Properties").unwrap_or(&empty);
            events.push(parse_sqs_event(&name, p).with_context(|| format!("event {name}"))?);
        }
    }
    let name = text("FunctionName")?.unwrap_or_else(|| id.to_string());
    Ok(FunctionDef {
        logical_id: id.to_string(),
        name,
        code_uri: PathBuf::from(code_uri),
        timeout_s,
        memory_mb,
        architecture,
        capacity_provider: props.get("CapacityProviderConfig").is_some(),
        environment,
        bundle: bundle(&kind, metadata)?,
        kind,
        events,
        inline_code: None,
    })
}

/// The esbuild settings of a `BuildMethod: esbuild` function.
pub(super) fn bundle(kind: &FunctionKind, metadata: &Value) -> anyhow::Result<Option<Bundle>> {
    let method = metadata.get("BuildMethod").and_then(Value::as_str);
    if !method.is_some_and(|m| m.eq_ignore_ascii_case("esbuild")) {
        return Ok(None);
    }
    if !matches!(kind, FunctionKind::Node { .. }) {
        bail!("BuildMethod esbuild is for Node.js functions");
    }
    let empty = Value::Mapping(Mapping::new());
    let properties = metadata.get("BuildProperties").unwrap_or(&empty);
    let list = |key: &str| -> anyhow::Result<Vec<String>> {
        match properties.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Sequence(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .with_context(|| format!("BuildProperties.{key} is a list of strings")),
            Some(other) => bail!("BuildProperties.{key} is a list, got {other:?}"),
        }
    };
    let entry_points = list("EntryPoints")?;
    if entry_points.is_empty() {
        bail!("BuildMethod esbuild needs BuildProperties.EntryPoints (e.g. [app.ts])");
    }
    if let Some(bad) = entry_points
        .iter()
        .find(|e| e.starts_with('/') || e.split('/').any(|p| p == ".."))
    {
        bail!("BuildProperties.EntryPoints: {bad} is not a path under CodeUri");
    }
    let text = |key: &str, default: &str| {
        properties
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    let format = text("Format", "cjs");
    if format != "cjs" && format != "esm" {
        bail!("BuildProperties.Format is cjs or esm, got {format}");
    }
    Ok(Some(Bundle {
        entry_points,
        target: text("Target", "es2020"),
        format,
        minify: boolean(properties, "Minify")?.unwrap_or(false),
        sourcemap: boolean(properties, "Sourcemap")?.unwrap_or(false),
        external: list("External")?,
    }))
}

/// An `AWS::Lambda::Function`'s properties as SAM names them, and its inline code. The code
/// is a local path (`Code: ./src`, as before `aws cloudformation package`), a CDK asset
/// (`Metadata` `aws:asset:path`, under the template's directory as `cdk synth` writes it), or
/// `Code.ZipFile`.
pub(super) fn lambda_function(
    props: &Value,
    metadata: &Value,
) -> anyhow::Result<(Mapping, Option<String>)> {
    let mut sam = props.as_mapping().cloned().unwrap_or_default();
    let code = sam.remove("Code");
    let asset = metadata
        .get("aws:asset:path")
        .and_then(Value::as_str)
        .filter(|_| metadata.get("aws:asset:property").and_then(Value::as_str) != Some("Layers"));
    let mut inline = None;
    let code_uri = match (asset, &code) {
        (Some(asset), _) => asset.to_string(),
        (None, Some(Value::String(path))) => path.clone(),
        (None, Some(code)) if code.get("ZipFile").is_some() => {
            let text = code["ZipFile"]
                .as_str()
                .context("Code.ZipFile is the function's source text")?;
            inline = Some(text.to_string());
            ".".to_string()
        }
        (None, Some(code)) if code.get("S3Bucket").is_some() || code.get("ImageUri").is_some() => {
            bail!(
                "Code is in S3 or an image: lockgate runs local code (give Code a local path, or run the cdk.out template that cdk synth writes)"
            )
        }
        (None, _) => bail!("Code is required: a local path or Code.ZipFile"),
    };
    sam.insert(Value::from("CodeUri"), Value::String(code_uri));
    Ok((sam, inline))
}

/// The function is skipped when its Runtime (a literal) is one lockgate has no runner for; an
/// identifier Lambda never had is an error (a typo should not silently skip a function).
pub(super) fn unsupported_runtime(
    id: &str,
    props: &Mapping,
) -> anyhow::Result<Option<Unsupported>> {
    let Some(runtime) = props.get("Runtime").and_then(Value::as_str) else {
        return Ok(None);
    };
    let known = runtimes::lookup(runtime).with_context(|| {
        format!("function {id}: Runtime {runtime} is not one of Lambda's runtimes")
    })?;
    Ok(match known.family {
        runtimes::Family::Skipped(why) => Some(Unsupported {
            logical_id: id.to_string(),
            runtime: runtime.to_string(),
            why: why.to_string(),
        }),
        _ => None,
    })
}

/// `file.export`: a path under CodeUri (no extension) and an export name.
pub(super) fn check_node_handler(handler: &str) -> anyhow::Result<()> {
    let valid = handler.rsplit_once('.').is_some_and(|(file, export)| {
        !file.is_empty()
            && !file.starts_with('/')
            && !file.split('/').any(|part| part == "..")
            && !export.is_empty()
            && export
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    });
    if !valid {
        bail!("Handler {handler}: a Node.js handler is file.export (e.g. index.handler)");
    }
    Ok(())
}

/// `module.function`, each part an identifier, as Lambda's Python runtime requires.
pub(super) fn check_python_handler(handler: &str) -> anyhow::Result<()> {
    let parts: Vec<&str> = handler.split('.').collect();
    let identifier = |p: &&str| {
        p.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_alphanumeric() || c == '_')
    };
    if parts.len() < 2 || !parts.iter().all(identifier) {
        bail!("Handler {handler}: a Python handler is module.function (e.g. app.handler)");
    }
    Ok(())
}
