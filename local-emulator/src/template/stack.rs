//! What CloudFormation settles before it creates anything: `Parameters` (defaults and
//! `--parameter-overrides`), `Conditions`, and what depends only on them. [`Stack::fold`]
//! rewrites a resource's properties with `Fn::If` branches chosen, `AWS::NoValue` removed and
//! parameter references (`Ref`, `${Param}` in `Fn::Sub`) replaced by their values, so the rest
//! of the loader sees plain values and the intrinsics that need the running app (`Ref` and
//! `Fn::GetAtt` of resources, pseudo parameters).

use std::collections::{BTreeMap, HashSet};

use anyhow::{Context, bail};
use serde_yaml_ng::{Mapping, Value};

/// Parameters' values and conditions' truth for one load of a template.
#[derive(Debug, Default)]
pub struct Stack {
    pub parameters: BTreeMap<String, String>,
    pub conditions: BTreeMap<String, bool>,
}

/// What the template is loaded with.
#[derive(Debug, Clone, Default)]
pub struct StackOptions {
    /// `--parameter-overrides Key=Value`.
    pub parameter_overrides: BTreeMap<String, String>,
    /// The region conditions see as `AWS::Region` (the app's, when the template loads).
    pub region: Option<String>,
}

/// Deeper nesting than any template uses: a guard against hostile input (the YAML itself is
/// bounded by the loader's size and nesting checks).
const MAX_DEPTH: usize = 64;

impl Stack {
    pub fn new(root: &Value, options: &StackOptions) -> anyhow::Result<Self> {
        let mut stack = Stack::default();
        let declared = root.get("Parameters").and_then(Value::as_mapping);
        for key in options.parameter_overrides.keys() {
            if !declared.is_some_and(|d| d.contains_key(key.as_str())) {
                bail!("--parameter-overrides {key}: the template declares no parameter {key}");
            }
        }
        for (name, declaration) in declared.into_iter().flatten() {
            let name = name.as_str().context("parameter names are strings")?;
            let value = match options.parameter_overrides.get(name) {
                Some(value) => value.clone(),
                None => match declaration.get("Default") {
                    Some(default) => scalar(default)
                        .with_context(|| format!("parameter {name}: its Default is not a value"))?,
                    None => bail!(
                        "parameter {name} has no value: give it a Default, or run with --parameter-overrides {name}=…"
                    ),
                },
            };
            if let Some(allowed) = declaration
                .get("AllowedValues")
                .and_then(Value::as_sequence)
            {
                let allowed: Vec<String> = allowed.iter().filter_map(scalar).collect();
                if !allowed.contains(&value) {
                    bail!(
                        "parameter {name}: {value:?} is not one of its AllowedValues {allowed:?}"
                    );
                }
            }
            stack.parameters.insert(name.to_string(), value);
        }
        let pseudo = pseudo_parameters(options);
        if let Some(conditions) = root.get("Conditions").and_then(Value::as_mapping) {
            let names: Vec<String> = conditions
                .keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect();
            for name in names {
                let truth = stack
                    .condition(&name, conditions, &pseudo, &mut HashSet::new())
                    .with_context(|| format!("condition {name}"))?;
                stack.conditions.insert(name, truth);
            }
        }
        Ok(stack)
    }

    /// Whether a resource with this `Condition` (if any) is created.
    pub fn includes(&self, resource: &Value) -> anyhow::Result<bool> {
        let Some(name) = resource.get("Condition") else {
            return Ok(true);
        };
        let name = name.as_str().context("Condition names a condition")?;
        self.conditions
            .get(name)
            .copied()
            .with_context(|| format!("Condition {name} is not declared in Conditions"))
    }

    /// `value` with `Fn::If` decided, `AWS::NoValue` removed and parameters substituted; None
    /// when the whole value is `AWS::NoValue`.
    pub fn fold(&self, value: &Value) -> anyhow::Result<Option<Value>> {
        self.fold_at(value, 0)
    }

    fn fold_at(&self, value: &Value, depth: usize) -> anyhow::Result<Option<Value>> {
        if depth > MAX_DEPTH {
            bail!("values nest more than {MAX_DEPTH} levels deep");
        }
        if let Some((name, argument)) = intrinsic(value) {
            match name {
                "If" => {
                    let items = argument
                        .as_sequence()
                        .filter(|s| s.len() == 3)
                        .context("Fn::If takes [condition, value if true, value if false]")?;
                    let condition = items[0].as_str().context("Fn::If names a condition")?;
                    let truth = *self.conditions.get(condition).with_context(|| {
                        format!("Fn::If: condition {condition} is not declared in Conditions")
                    })?;
                    return self.fold_at(&items[if truth { 1 } else { 2 }], depth + 1);
                }
                "Ref" => match argument.as_str() {
                    Some("AWS::NoValue") => return Ok(None),
                    Some(name) if self.parameters.contains_key(name) => {
                        return Ok(Some(Value::String(self.parameters[name].clone())));
                    }
                    _ => return Ok(Some(value.clone())),
                },
                "Sub" => return Ok(Some(self.fold_sub(value, argument)?)),
                _ => {}
            }
        }
        Ok(Some(match value {
            Value::Mapping(map) => {
                let mut folded = Mapping::new();
                for (k, v) in map {
                    if let Some(v) = self.fold_at(v, depth + 1)? {
                        folded.insert(k.clone(), v);
                    }
                }
                Value::Mapping(folded)
            }
            Value::Sequence(items) => {
                let mut folded = Vec::new();
                for item in items {
                    folded.extend(self.fold_at(item, depth + 1)?);
                }
                Value::Sequence(folded)
            }
            Value::Tagged(tagged) => {
                let mut tagged = tagged.clone();
                tagged.value = self
                    .fold_at(&tagged.value, depth + 1)?
                    .unwrap_or(Value::Null);
                Value::Tagged(tagged)
            }
            other => other.clone(),
        }))
    }

    /// `Fn::Sub` with `${Param}` replaced by the parameter's value (unless the variable map
    /// names it); `${!Literal}` and everything else stay for the resolver.
    fn fold_sub(&self, whole: &Value, argument: &Value) -> anyhow::Result<Value> {
        let (text, variables) = match argument {
            Value::String(text) => (text.as_str(), None),
            Value::Sequence(items) if items.len() == 2 => (
                items[0]
                    .as_str()
                    .context("Fn::Sub's first item is the string")?,
                items[1].as_mapping(),
            ),
            _ => return Ok(whole.clone()),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            let mapped = variables.is_some_and(|v| v.contains_key(name));
            match self.parameters.get(name) {
                Some(value) if !mapped && !name.starts_with('!') => out.push_str(value),
                _ => out.push_str(&rest[start..start + 2 + end + 1]),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        let mut folded_variables = Mapping::new();
        if let Some(variables) = variables {
            for (k, v) in variables {
                if let Some(v) = self.fold(v)? {
                    folded_variables.insert(k.clone(), v);
                }
            }
        }
        let argument = match variables {
            None => Value::String(out),
            Some(_) => Value::Sequence(vec![Value::String(out), Value::Mapping(folded_variables)]),
        };
        let mut map = Mapping::new();
        map.insert(Value::from("Fn::Sub"), argument);
        Ok(Value::Mapping(map))
    }

    fn condition(
        &self,
        name: &str,
        conditions: &Mapping,
        pseudo: &BTreeMap<&str, String>,
        visiting: &mut HashSet<String>,
    ) -> anyhow::Result<bool> {
        if let Some(known) = self.conditions.get(name) {
            return Ok(*known);
        }
        if !visiting.insert(name.to_string()) {
            bail!("conditions refer to each other in a cycle through {name}");
        }
        let body = conditions
            .get(name)
            .with_context(|| format!("condition {name} is not declared"))?;
        let truth = self.evaluate(body, conditions, pseudo, visiting, 0);
        visiting.remove(name);
        truth
    }

    fn evaluate(
        &self,
        value: &Value,
        conditions: &Mapping,
        pseudo: &BTreeMap<&str, String>,
        visiting: &mut HashSet<String>,
        depth: usize,
    ) -> anyhow::Result<bool> {
        if depth > MAX_DEPTH {
            bail!("conditions nest more than {MAX_DEPTH} levels deep");
        }
        let (name, argument) = intrinsic(value)
            .context("a condition is Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition")?;
        let items = || {
            argument
                .as_sequence()
                .with_context(|| format!("Fn::{name} takes a list"))
        };
        match name {
            "Equals" => {
                let items = items()?;
                if items.len() != 2 {
                    bail!("Fn::Equals takes two values");
                }
                let a = self.value_of(&items[0], pseudo)?;
                let b = self.value_of(&items[1], pseudo)?;
                Ok(a == b)
            }
            "Not" => {
                let items = items()?;
                if items.len() != 1 {
                    bail!("Fn::Not takes one condition");
                }
                Ok(!self.evaluate(&items[0], conditions, pseudo, visiting, depth + 1)?)
            }
            "And" | "Or" => {
                let items = items()?;
                if !(2..=10).contains(&items.len()) {
                    bail!("Fn::{name} takes 2 to 10 conditions");
                }
                let mut truths = Vec::new();
                for item in items {
                    truths.push(self.evaluate(item, conditions, pseudo, visiting, depth + 1)?);
                }
                Ok(if name == "And" {
                    truths.iter().all(|t| *t)
                } else {
                    truths.iter().any(|t| *t)
                })
            }
            "Condition" => {
                let other = argument.as_str().context("Condition names a condition")?;
                self.condition(other, conditions, pseudo, visiting)
            }
            other => bail!("Fn::{other} is not a condition function"),
        }
    }

    /// A value a condition compares: a literal, a parameter or a pseudo parameter.
    fn value_of(&self, value: &Value, pseudo: &BTreeMap<&str, String>) -> anyhow::Result<String> {
        if let Some(("Ref", name)) = intrinsic(value).map(|(n, a)| (n, a.as_str().unwrap_or(""))) {
            return self
                .parameters
                .get(name)
                .or_else(|| pseudo.get(name))
                .cloned()
                .with_context(|| format!("Ref {name}: no such parameter"));
        }
        scalar(value).context("Fn::Equals compares values, parameters and pseudo parameters")
    }
}

/// The pseudo parameters a condition may compare.
fn pseudo_parameters(options: &StackOptions) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        (
            "AWS::Region",
            options.region.clone().unwrap_or_else(|| "us-east-1".into()),
        ),
        ("AWS::AccountId", "000000000000".into()),
        ("AWS::StackName", "lockgate".into()),
        ("AWS::Partition", "aws".into()),
        ("AWS::URLSuffix", "amazonaws.com".into()),
    ])
}

/// An intrinsic function's name (without `Fn::` or `!`) and argument.
pub fn intrinsic(value: &Value) -> Option<(&str, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            // The tag's text lives in the value; find the static name it matches.
            KNOWN
                .iter()
                .find(|k| **k == name)
                .map(|k| (*k, &tagged.value))
        }
        Value::Mapping(map) if map.len() == 1 => {
            let (key, argument) = map.iter().next()?;
            let key = key.as_str()?;
            let name = key.strip_prefix("Fn::").unwrap_or(key);
            (key == "Ref" || key == "Condition" || key.starts_with("Fn::"))
                .then_some((name, argument))
        }
        _ => None,
    }
}

const KNOWN: &[&str] = &[
    "Ref",
    "Condition",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Sub",
    "GetAtt",
    "Join",
    "Select",
    "Split",
    "Base64",
    "FindInMap",
    "ImportValue",
    "GetAZs",
    "Cidr",
];

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml_ng::from_str(text).unwrap()
    }

    const TEMPLATE: &str = r#"
Parameters:
  Env:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Size:
    Type: Number
    Default: 10
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: {"Fn::Not": [{"Condition": "IsProd"}]}
  InUsEast: !Equals [!Ref "AWS::Region", us-east-1]
  Both: !And [!Condition NotProd, !Condition InUsEast]
  Either: !Or [!Condition IsProd, !Equals [!Ref Size, 10]]
"#;

    fn stack(overrides: &[(&str, &str)]) -> anyhow::Result<Stack> {
        let options = StackOptions {
            parameter_overrides: overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            region: Some("us-east-1".into()),
        };
        Stack::new(&yaml(TEMPLATE), &options)
    }

    #[test]
    fn parameters_and_conditions() {
        let s = stack(&[]).unwrap();
        assert_eq!(s.parameters["Env"], "dev");
        assert_eq!(s.parameters["Size"], "10");
        let truth = |n: &str| s.conditions[n];
        assert!(!truth("IsProd") && truth("NotProd") && truth("InUsEast"));
        assert!(truth("Both") && truth("Either"));
        let prod = stack(&[("Env", "prod"), ("Size", "3")]).unwrap();
        assert!(prod.conditions["IsProd"] && !prod.conditions["Both"]);
        assert!(prod.conditions["Either"]);
        let err = stack(&[("Env", "test")]).unwrap_err().to_string();
        assert!(err.contains("AllowedValues"), "{err}");
        let err = stack(&[("Nope", "x")]).unwrap_err().to_string();
        assert!(err.contains("declares no parameter Nope"), "{err}");
    }

    #[test]
    fn a_parameter_without_a_value_and_a_cycle_are_errors() {
        let no_value = yaml("Parameters:\n  P:\n    Type: String\n");
        let err = Stack::new(&no_value, &StackOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("--parameter-overrides P="),
            "{err}"
        );
        let cycle = yaml("Conditions:\n  A: !Condition B\n  B: !Not [!Condition A]\n");
        let err = format!(
            "{:#}",
            Stack::new(&cycle, &StackOptions::default()).unwrap_err()
        );
        assert!(err.contains("cycle"), "{err}");
    }

    #[test]
    fn folding_chooses_branches_drops_no_value_and_substitutes_parameters() {
        let s = stack(&[("Env", "prod")]).unwrap();
        let props = yaml(
            r#"
Name: !Sub "${Env}-orders-${!Literal}-${AWS::Region}"
Mapped: {"Fn::Sub": ["${Env}/${Env2}", {"Env2": {"Ref": "Env"}}]}
Timeout: !If [IsProd, 30, 3]
Dlq: {"Fn::If": ["NotProd", {"Ref": "Dlq"}, {"Ref": "AWS::NoValue"}]}
List: [a, !Ref AWS::NoValue, !Ref Env]
Queue: !GetAtt Q.Arn
"#,
        );
        let folded = s.fold(&props).unwrap().unwrap();
        assert_eq!(
            folded["Name"]["Fn::Sub"],
            Value::from("prod-orders-${!Literal}-${AWS::Region}")
        );
        assert_eq!(folded["Mapped"]["Fn::Sub"][0], Value::from("prod/${Env2}"));
        assert_eq!(folded["Mapped"]["Fn::Sub"][1]["Env2"], Value::from("prod"));
        assert_eq!(folded["Timeout"], yaml("30"));
        assert!(folded.get("Dlq").is_none());
        assert_eq!(folded["List"], yaml("[a, prod]"));
        assert!(matches!(folded["Queue"], Value::Tagged(_)));
    }
}
