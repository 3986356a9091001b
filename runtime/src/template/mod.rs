//! The SAM template: what `lockgate up` runs and `sam deploy` ships.
//!
//! [`Template::load`] reads the YAML (keeping CloudFormation's short-form tags), applies
//! `Globals`, and validates everything the service would reject — with the resource's name in
//! every message — so a template that runs locally deploys. Unknown resource types are listed
//! in [`Template::skipped`], not rejected.

mod function;
mod mapping;
pub mod runtimes;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_yaml_ng::{Mapping, Value};

use lockgate_emulator::template::Document;
pub use lockgate_emulator::template::queues::{AttributeValue, QueueDef};
pub use lockgate_emulator::template::{Expr, Scope, StackOptions, intrinsic, queues, stack};

use function::{lambda_function, parse_function, unsupported_runtime};

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

#[cfg(test)]
mod tests;
