//! The SAM template: what `lockgate up` runs and `sam deploy` ships.
//!
//! [`Template::load`] reads the YAML (keeping CloudFormation's short-form tags), applies
//! `Globals`, and validates everything the service would reject — with the resource's name in
//! every message — so a template that runs locally deploys. Unknown resource types are listed
//! in [`Template::skipped`], not rejected.

pub mod runtimes;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_yaml_ng::{Mapping, Value};

pub use lockgate_emulator::template::queues::{AttributeValue, QueueDef};
use lockgate_emulator::template::{Document, NoScope, boolean, ranged};
pub use lockgate_emulator::template::{Expr, Scope, StackOptions, intrinsic, queues, stack};

#[derive(Debug, Clone)]
pub struct Template {
    pub dir: PathBuf,
    pub queues: BTreeMap<String, QueueDef>,
    pub functions: BTreeMap<String, FunctionDef>,
    /// (logical id, type) of resources lockgate does not run.
    pub skipped: Vec<(String, String)>,
    /// What references to those resources resolve to (by logical id), so functions that name
    /// a table or a topic in their environment still start.
    pub others: BTreeMap<String, OtherResource>,
    /// Functions whose runtime lockgate cannot run: skipped with a warning, the rest of the
    /// template runs.
    pub unsupported: Vec<Unsupported>,
}

/// A resource lockgate does not run, as far as references to it go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherResource {
    /// `AWS::DynamoDB::Table`, …
    pub kind: String,
    /// Its name property (`TableName`, `TopicName`, `BucketName`, …) when the template gives
    /// a literal one.
    pub name: Option<String>,
}

impl OtherResource {
    /// What `!Ref` gives, as CloudFormation documents it for the common types: the name (or
    /// the logical id where CloudFormation would generate one), an SNS topic's ARN.
    pub fn reference(&self, id: &str, region: &str, account: &str) -> String {
        let name = self.name.clone().unwrap_or_else(|| id.to_string());
        match self.kind.as_str() {
            "AWS::SNS::Topic" => format!("arn:aws:sns:{region}:{account}:{name}"),
            _ => name,
        }
    }

    /// What `!GetAtt X.Arn` gives for the common types (None for other attributes).
    pub fn arn(&self, id: &str, region: &str, account: &str) -> Option<String> {
        let name = self.name.clone().unwrap_or_else(|| id.to_string());
        Some(match self.kind.as_str() {
            "AWS::DynamoDB::Table" => format!("arn:aws:dynamodb:{region}:{account}:table/{name}"),
            "AWS::SNS::Topic" => format!("arn:aws:sns:{region}:{account}:{name}"),
            "AWS::S3::Bucket" => format!("arn:aws:s3:::{name}"),
            "AWS::Events::EventBus" => {
                format!("arn:aws:events:{region}:{account}:event-bus/{name}")
            }
            "AWS::StepFunctions::StateMachine" => {
                format!("arn:aws:states:{region}:{account}:stateMachine:{name}")
            }
            "AWS::IAM::Role" => format!("arn:aws:iam::{account}:role/{name}"),
            "AWS::Kinesis::Stream" => format!("arn:aws:kinesis:{region}:{account}:stream/{name}"),
            _ => return None,
        })
    }
}

/// A function skipped for its runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub logical_id: String,
    pub runtime: String,
    /// Why, in words (from [`runtimes`]).
    pub why: String,
}

#[derive(Debug, Clone)]
pub struct FunctionDef {
    pub logical_id: String,
    /// FunctionName or the logical id.
    pub name: String,
    pub code_uri: PathBuf,
    pub timeout_s: u32,
    pub memory_mb: u32,
    /// `x86_64` or `arm64` (Lambda's `Architectures`); locally a function is built for the
    /// machine it runs on.
    pub architecture: String,
    /// It names a `CapacityProviderConfig` (Lambda Managed Instances): accepted, and run here as
    /// any function is.
    pub capacity_provider: bool,
    pub environment: BTreeMap<String, Expr>,
    pub kind: FunctionKind,
    /// Code given inline (`AWS::Lambda::Function` `Code.ZipFile`): it is the function's whole
    /// code, written as `index.py` / `index.js` when the function is prepared.
    pub inline_code: Option<String>,
    /// SAM's `BuildMethod: esbuild` (TypeScript and bundled JavaScript): what to bundle.
    pub bundle: Option<Bundle>,
    pub events: Vec<SqsEvent>,
}

/// What a function's CodeUri builds and how lockgate runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionKind {
    /// A native Lambda `bootstrap`: the cargo binary `binary` (Metadata.BuildProperties.Binary,
    /// else Handler), run as processes through the Runtime API.
    Native { binary: String },
    /// A WASM component (Handler `name.wasm`): the cargo package at CodeUri built for
    /// wasm32-wasip2, run in wasmtime; on Lambda the `lockgate-wasm-bootstrap` host loads it.
    Wasm { component: String },
    /// A Python function (`Runtime: python3.X`): `handler` is `module.function` (dotted
    /// packages too) under CodeUri, run by lockgate's Python bootstrap on the interpreter of
    /// `version` (`3.12`), with `requirements.txt` installed beside it.
    Python { handler: String, version: String },
    /// A Node.js function (`Runtime: nodejsNN.x`): `handler` is `file.export` under CodeUri
    /// (ES module or CommonJS), run by lockgate's Node.js bootstrap; `version` is the major
    /// (`20`); `package.json` dependencies are installed with npm.
    Node { handler: String, version: String },
}

impl FunctionKind {
    /// What is built: the binary or the component file.
    pub fn artifact(&self) -> &str {
        match self {
            FunctionKind::Native { binary } => binary,
            FunctionKind::Wasm { component } => component,
            FunctionKind::Python { handler, .. } | FunctionKind::Node { handler, .. } => handler,
        }
    }

    /// What the function is written as: `rust`, `wasm`, `python3.12`, `nodejs22.x`.
    pub fn label(&self) -> String {
        match self {
            FunctionKind::Native { .. } => "bootstrap".into(),
            FunctionKind::Wasm { .. } => "wasm".into(),
            FunctionKind::Python { version, .. } => format!("python{version}"),
            FunctionKind::Node { version, .. } => format!("nodejs{version}.x"),
        }
    }
}

/// `Metadata.BuildProperties` of a `BuildMethod: esbuild` function, as `sam build` reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Files under CodeUri to bundle (`app.ts`); each becomes `<name>.js` in the task root.
    pub entry_points: Vec<String>,
    /// esbuild's `--target` (SAM's default `es2020`).
    pub target: String,
    /// `cjs` (SAM's default) or `esm`.
    pub format: String,
    pub minify: bool,
    pub sourcemap: bool,
    /// Packages left out of the bundle (loaded from node_modules at run time).
    pub external: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SqsEvent {
    pub name: String,
    pub queue: Expr,
    pub batch_size: u32,
    pub window_s: u32,
    pub report_batch_item_failures: bool,
    pub scaling: Scaling,
    /// Lambda filter patterns (each the JSON of one `Pattern` string).
    pub filters: Vec<serde_json::Value>,
    pub enabled: bool,
}

/// How an SQS mapping scales (Lambda developer guide, services-sqs-scaling): on demand, up to
/// `ScalingConfig.MaximumConcurrency`, or in provisioned mode between
/// `ProvisionedPollerConfig`'s minimum and maximum pollers (the two are exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaling {
    OnDemand { max_concurrency: Option<u32> },
    Provisioned { minimum: u32, maximum: u32 },
}

/// Lambda's most concurrent invocations for one on-demand SQS mapping without
/// MaximumConcurrency.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 1250;

impl Scaling {
    /// The most batches the mapping runs at once.
    pub fn maximum(&self) -> u32 {
        match *self {
            Scaling::OnDemand { max_concurrency } => {
                max_concurrency.unwrap_or(DEFAULT_MAX_CONCURRENCY)
            }
            Scaling::Provisioned { maximum, .. } => maximum,
        }
    }
}

impl Template {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        Self::load_with(path, &StackOptions::default())
    }

    /// A SAM or CloudFormation template (YAML or JSON), with these parameter values.
    pub fn load_with(path: &Path, options: &StackOptions) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read template {}", path.display()))?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse_with(&text, dir, options).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str, dir: PathBuf) -> anyhow::Result<Self> {
        Self::parse_with(text, dir, &StackOptions::default())
    }

    pub fn parse_with(text: &str, dir: PathBuf, options: &StackOptions) -> anyhow::Result<Self> {
        let document = Document::parse(text, options)?;
        let globals = document.function_globals()?;
        let mut template = Template {
            dir,
            queues: BTreeMap::new(),
            functions: BTreeMap::new(),
            skipped: Vec::new(),
            others: BTreeMap::new(),
            unsupported: Vec::new(),
        };
        let mut event_source_mappings = Vec::new();
        for resource in document.resources()? {
            let id = resource.id;
            let kind = resource.kind.as_str();
            let Some(props) = &resource.properties else {
                let condition = resource.condition.unwrap_or_default();
                template
                    .skipped
                    .push((id, format!("{kind}, its Condition {condition} is false")));
                continue;
            };
            let empty = Value::Mapping(Mapping::new());
            let metadata = &resource.metadata;
            match kind {
                "AWS::SQS::Queue" => {
                    let queue =
                        queues::parse_queue(&id, props).with_context(|| format!("queue {id}"))?;
                    template.queues.insert(id, queue);
                }
                "AWS::Serverless::Function" => {
                    let merged = merge_globals(&globals, props);
                    if let Some(skip) = unsupported_runtime(&id, &merged)? {
                        template.unsupported.push(skip);
                        continue;
                    }
                    let function = parse_function(&id, &merged, metadata)
                        .with_context(|| format!("function {id}"))?;
                    template.functions.insert(id, function);
                }
                "AWS::Lambda::Function" => {
                    let (sam, inline_code) = lambda_function(props, metadata)
                        .with_context(|| format!("function {id}"))?;
                    if let Some(skip) = unsupported_runtime(&id, &sam)? {
                        template.unsupported.push(skip);
                        continue;
                    }
                    let mut function = parse_function(&id, &sam, &empty)
                        .with_context(|| format!("function {id}"))?;
                    function.inline_code = inline_code;
                    template.functions.insert(id, function);
                }
                "AWS::Lambda::EventSourceMapping" => {
                    event_source_mappings.push((id, props.clone()));
                }
                other => {
                    let name = props.as_mapping().and_then(|m| {
                        m.iter().find_map(|(k, v)| {
                            let key = k.as_str()?;
                            (key.ends_with("Name") && key != "DisplayName")
                                .then(|| v.as_str().map(str::to_string))?
                        })
                    });
                    template.others.insert(
                        id.clone(),
                        OtherResource {
                            kind: other.to_string(),
                            name,
                        },
                    );
                    template.skipped.push((id, other.to_string()));
                }
            }
        }
        for (id, props) in event_source_mappings {
            template
                .add_event_source_mapping(&id, &props)
                .with_context(|| format!("event source mapping {id}"))?;
        }
        template.validate()?;
        Ok(template)
    }

    /// An `AWS::Lambda::EventSourceMapping` becomes an SQS event of the function it names
    /// (`FunctionName`: a `Ref` or `GetAtt` of the function, its name or its logical id).
    /// Mappings of other event sources, or of functions skipped for their runtime, are noted.
    fn add_event_source_mapping(&mut self, id: &str, props: &Value) -> anyhow::Result<()> {
        let function = props
            .get("FunctionName")
            .context("FunctionName is required")?;
        let function = Expr::parse(function).map_err(anyhow::Error::msg)?;
        let target = match &function {
            Expr::Ref(target) | Expr::GetAtt(target, _) => target.clone(),
            Expr::Literal(name) => {
                let name = name.rsplit(':').next().unwrap_or(name);
                self.functions
                    .iter()
                    .find(|(logical, f)| f.name == name || *logical == name)
                    .map(|(logical, _)| logical.clone())
                    .unwrap_or_else(|| name.to_string())
            }
            other => bail!("FunctionName {other:?} does not name a function"),
        };
        if self.unsupported.iter().any(|u| u.logical_id == target) {
            self.skipped.push((
                id.to_string(),
                format!("AWS::Lambda::EventSourceMapping of {target}, whose runtime is skipped"),
            ));
            return Ok(());
        }
        let source = props
            .get("EventSourceArn")
            .context("EventSourceArn is required (lockgate runs SQS event sources)")?;
        if let Ok(Expr::Literal(arn)) = Expr::parse(source)
            && !arn.contains(":sqs:")
        {
            self.skipped.push((
                id.to_string(),
                format!("AWS::Lambda::EventSourceMapping of {arn}, not an SQS queue"),
            ));
            return Ok(());
        }
        let mut sam = props.as_mapping().cloned().unwrap_or_default();
        sam.insert(Value::from("Queue"), source.clone());
        let event = parse_sqs_event(id, &Value::Mapping(sam))?;
        let function = self
            .functions
            .get_mut(&target)
            .with_context(|| format!("FunctionName {target} is not a function of this template"))?;
        function.events.push(event);
        Ok(())
    }

    /// Checks that span resources: event queues exist, visibility timeout ≥ function timeout,
    /// FIFO mapping rules, dead-letter targets exist and match the queue type.
    fn validate(&self) -> anyhow::Result<()> {
        queues::check_dead_letter_targets(&self.queues)?;
        for function in self.functions.values() {
            for event in &function.events {
                let Some(queue_id) = event.queue.target() else {
                    continue; // an ARN of a queue outside the template
                };
                let queue = self.queues.get(queue_id).with_context(|| {
                    format!("function {}: event {} reads queue {queue_id}, which is not a queue in this template", function.logical_id, event.name)
                })?;
                if queue.visibility_timeout < function.timeout_s {
                    bail!(
                        "function {}: event {}: Queue visibility timeout: {} seconds is less than Function timeout: {} seconds (queue {queue_id})",
                        function.logical_id,
                        event.name,
                        queue.visibility_timeout,
                        function.timeout_s
                    );
                }
                if queue.fifo {
                    if event.batch_size > 10 {
                        bail!(
                            "function {}: event {}: BatchSize {} is above 10, the maximum for a FIFO queue ({queue_id})",
                            function.logical_id,
                            event.name,
                            event.batch_size
                        );
                    }
                    if event.window_s > 0 {
                        bail!(
                            "function {}: event {}: MaximumBatchingWindowInSeconds is not supported for FIFO queues ({queue_id})",
                            function.logical_id,
                            event.name
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

fn merge_globals(globals: &Mapping, props: &Value) -> Mapping {
    let mut merged = globals.clone();
    if let Some(own) = props.as_mapping() {
        for (k, v) in own {
            // Environment variables merge key by key; everything else is replaced.
            if k.as_str() == Some("Environment")
                && let (Some(Value::Mapping(g)), Value::Mapping(o)) = (merged.get(k).cloned(), v)
            {
                let mut env = g.clone();
                let gvars = g
                    .get("Variables")
                    .and_then(Value::as_mapping)
                    .cloned()
                    .unwrap_or_default();
                let mut vars = gvars;
                if let Some(ovars) = o.get("Variables").and_then(Value::as_mapping) {
                    for (vk, vv) in ovars {
                        vars.insert(vk.clone(), vv.clone());
                    }
                }
                env.insert(Value::from("Variables"), Value::Mapping(vars));
                merged.insert(k.clone(), Value::Mapping(env));
                continue;
            }
            merged.insert(k.clone(), v.clone());
        }
    }
    merged
}

fn parse_function(id: &str, props: &Mapping, metadata: &Value) -> anyhow::Result<FunctionDef> {
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
fn bundle(kind: &FunctionKind, metadata: &Value) -> anyhow::Result<Option<Bundle>> {
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
fn lambda_function(props: &Value, metadata: &Value) -> anyhow::Result<(Mapping, Option<String>)> {
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
fn unsupported_runtime(id: &str, props: &Mapping) -> anyhow::Result<Option<Unsupported>> {
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
fn check_node_handler(handler: &str) -> anyhow::Result<()> {
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
fn check_python_handler(handler: &str) -> anyhow::Result<()> {
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

fn parse_sqs_event(_name: &str, p: &Value) -> anyhow::Result<SqsEvent> {
    let queue =
        Expr::parse(p.get("Queue").context("Queue is required")?).map_err(anyhow::Error::msg)?;
    let batch_size = ranged(p, "BatchSize", 1, 10_000)?.unwrap_or(10);
    let window_s = ranged(p, "MaximumBatchingWindowInSeconds", 0, 300)?.unwrap_or(0);
    if batch_size > 10 && window_s == 0 {
        // CreateEventSourceMapping's own wording.
        bail!(
            "BatchSize {batch_size}: Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        );
    }
    let report_batch_item_failures = match p.get("FunctionResponseTypes") {
        Some(Value::Sequence(types)) => {
            for t in types {
                if t.as_str() != Some("ReportBatchItemFailures") {
                    bail!(
                        "FunctionResponseTypes: only ReportBatchItemFailures is valid, got {t:?}"
                    );
                }
            }
            !types.is_empty()
        }
        None => false,
        Some(other) => bail!("FunctionResponseTypes must be a list, got {other:?}"),
    };
    let max_concurrency = match p.get("ScalingConfig") {
        Some(scaling) => ranged(scaling, "MaximumConcurrency", 2, 1000)?,
        None => None,
    };
    let scaling = match p.get("ProvisionedPollerConfig") {
        None => Scaling::OnDemand { max_concurrency },
        Some(_) if max_concurrency.is_some() => bail!(
            "ProvisionedPollerConfig and ScalingConfig.MaximumConcurrency cannot be used together: provisioned mode sets the pollers, MaximumConcurrency is for on-demand scaling"
        ),
        Some(provisioned) => {
            // SQS mappings: MinimumPollers 2–200 (default 2), MaximumPollers 2–10,000
            // (default 200).
            let minimum = ranged(provisioned, "MinimumPollers", 2, 200)?.unwrap_or(2);
            let maximum = ranged(provisioned, "MaximumPollers", 2, 10_000)?.unwrap_or(200);
            if minimum > maximum {
                bail!(
                    "ProvisionedPollerConfig: MinimumPollers {minimum} is above MaximumPollers {maximum}"
                );
            }
            Scaling::Provisioned { minimum, maximum }
        }
    };
    let mut filters = Vec::new();
    if let Some(list) = p
        .get("FilterCriteria")
        .and_then(|f| f.get("Filters"))
        .and_then(Value::as_sequence)
    {
        for filter in list {
            let pattern = filter
                .get("Pattern")
                .and_then(Value::as_str)
                .context("each filter needs a Pattern string")?;
            let json: serde_json::Value = serde_json::from_str(pattern)
                .with_context(|| format!("filter pattern {pattern:?} is not JSON"))?;
            crate::filter::check_pattern(&json)
                .map_err(|e| anyhow::anyhow!("filter pattern {pattern}: {e}"))?;
            filters.push(json);
        }
        if filters.len() > 5 {
            bail!(
                "FilterCriteria allows at most 5 filters, got {}",
                filters.len()
            );
        }
    }
    Ok(SqsEvent {
        name: _name.to_string(),
        queue,
        batch_size,
        window_s,
        report_batch_item_failures,
        scaling,
        filters,
        enabled: boolean(p, "Enabled")?.unwrap_or(true),
    })
}

#[cfg(test)]
mod tests;
