//! Reading a SAM or CloudFormation template (YAML or JSON) as far as queues go: the document
//! bounded and parsed (CloudFormation's short-form tags kept), `Parameters` and `Conditions`
//! settled ([`stack`]), intrinsics kept symbolic until resources exist ([`intrinsic`]), and its
//! `AWS::SQS::Queue` resources validated by the same rules a CreateQueue call meets
//! ([`queues`]). The emulator creates a template's queues at start from this
//! (`lockgate-emulator --template`); `lockgate up`'s loader builds its functions and event
//! mappings on the same [`Document`].

pub mod intrinsic;
pub mod queues;
pub mod stack;

use anyhow::{Context, bail};
use serde_yaml_ng::{Mapping, Value};

pub use intrinsic::{Expr, Scope};
pub use queues::{AttributeValue, QueueDef};
pub use stack::{Stack, StackOptions};

/// CloudFormation's own limit on a template's size.
const MAX_TEMPLATE_BYTES: usize = 1024 * 1024;
/// Far deeper than any template; the YAML parser takes time quadratic in flow-collection
/// depth (10,000 nested `[` took 40 s), so deeper input is refused before it is parsed.
const MAX_FLOW_NESTING: usize = 100;

/// A parsed template with its parameters and conditions settled.
pub struct Document {
    root: Value,
    pub stack: Stack,
}

/// One resource of the template.
pub struct Resource {
    pub id: String,
    /// `AWS::SQS::Queue`, `AWS::Serverless::Function`, …
    pub kind: String,
    /// Its properties with `Fn::If`, `AWS::NoValue` and parameters settled; `None` when its
    /// `Condition` is false (the resource does not exist).
    pub properties: Option<Value>,
    /// The condition that left it out.
    pub condition: Option<String>,
    pub metadata: Value,
}

impl Document {
    /// Bounds, parses and settles `text`.
    pub fn parse(text: &str, options: &StackOptions) -> anyhow::Result<Self> {
        check_size_and_nesting(text)?;
        let root: Value = serde_yaml_ng::from_str(text).context("template is not valid YAML")?;
        let stack = Stack::new(&root, options)?;
        Ok(Self { root, stack })
    }

    /// `Globals.Function`, settled (SAM's defaults for every function).
    pub fn function_globals(&self) -> anyhow::Result<Mapping> {
        Ok(self
            .root
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .map(|g| self.stack.fold(g))
            .transpose()
            .context("Globals")?
            .flatten()
            .and_then(|g| g.as_mapping().cloned())
            .unwrap_or_default())
    }

    /// Every resource, in the template's order.
    pub fn resources(&self) -> anyhow::Result<Vec<Resource>> {
        let resources = self
            .root
            .get("Resources")
            .and_then(Value::as_mapping)
            .context("template has no Resources")?;
        let empty = Value::Mapping(Mapping::new());
        let mut out = Vec::with_capacity(resources.len());
        for (id, resource) in resources {
            let id = id.as_str().context("resource ids are strings")?.to_string();
            let kind = resource
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let metadata = resource.get("Metadata").cloned().unwrap_or(empty.clone());
            if !self
                .stack
                .includes(resource)
                .with_context(|| format!("resource {id}"))?
            {
                let condition = resource["Condition"].as_str().map(str::to_string);
                out.push(Resource {
                    id,
                    kind,
                    properties: None,
                    condition,
                    metadata,
                });
                continue;
            }
            let properties = match resource.get("Properties") {
                Some(props) => self
                    .stack
                    .fold(props)
                    .with_context(|| format!("resource {id}"))?
                    .unwrap_or_else(|| empty.clone()),
                None => empty.clone(),
            };
            out.push(Resource {
                id,
                kind,
                properties: Some(properties),
                condition: None,
                metadata,
            });
        }
        Ok(out)
    }
}

/// Refuses templates over CloudFormation's size limit, or whose flow collections (`[…]`,
/// `{…}`) nest deeper than any template needs. (Block-style nesting is bounded by the size.)
fn check_size_and_nesting(text: &str) -> anyhow::Result<()> {
    if text.len() > MAX_TEMPLATE_BYTES {
        bail!(
            "template is {} bytes; CloudFormation accepts at most {MAX_TEMPLATE_BYTES}",
            text.len()
        );
    }
    let mut depth = 0usize;
    let mut quote = None;
    let mut escaped = false;
    let mut comment = false;
    let mut previous = '\n';
    for c in text.chars() {
        match (quote, c) {
            _ if comment => comment = c != '\n',
            (Some('"'), '\\') if !escaped => {
                escaped = true;
                previous = c;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') if previous.is_whitespace() => comment = true,
            (None, '[' | '{') => {
                depth += 1;
                if depth > MAX_FLOW_NESTING {
                    bail!("template nests collections more than {MAX_FLOW_NESTING} levels deep");
                }
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        escaped = false;
        previous = c;
    }
    Ok(())
}

/// A number property (a YAML number, or a string of one, as CloudFormation accepts).
pub fn number(props: &Value, key: &str) -> anyhow::Result<Option<i64>> {
    match props.get(key) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_i64()),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .with_context(|| format!("{key} must be a number, got {s:?}")),
        Some(other) => bail!("{key} must be a number, got {other:?}"),
    }
}

/// A boolean property (`true`/`false`, or their strings).
pub fn boolean(props: &Value, key: &str) -> anyhow::Result<Option<bool>> {
    match props.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => bail!("{key} must be true or false, got {other:?}"),
    }
}

/// A number property within `min..=max`.
pub fn ranged(props: &Value, key: &str, min: i64, max: i64) -> anyhow::Result<Option<u32>> {
    match number(props, key)? {
        Some(v) if !(min..=max).contains(&v) => {
            bail!("{key} must be between {min} and {max}, got {v}")
        }
        other => Ok(other.map(|v| v as u32)),
    }
}

/// Resolves only pseudo parameters that make sense before anything exists.
pub struct NoScope;

impl Scope for NoScope {
    fn reference(&self, name: &str) -> Option<String> {
        match name {
            "AWS::Region" => {
                Some(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()))
            }
            "AWS::StackName" => Some("lockgate".into()),
            _ => None,
        }
    }
    fn attribute(&self, _: &str, _: &str) -> Option<String> {
        None
    }
}
