//! CloudFormation intrinsic functions in both forms: `!Ref X` / `{"Ref": "X"}`,
//! `!GetAtt X.Arn` / `{"Fn::GetAtt": ["X", "Arn"]}`, `!Sub "…${X.Arn}…"` / `{"Fn::Sub": …}`
//! (with a variable map and `${!Literal}`), `Fn::Join`, `Fn::Select`, `Fn::Split`. Values stay
//! symbolic until the queues exist, then [`Expr::resolve`] turns them into strings. (`Fn::If`
//! and parameters are settled earlier, by `stack`.)

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(String),
    Ref(String),
    GetAtt(String, String),
    Sub(String, BTreeMap<String, Expr>),
    /// A literal list (`Fn::Join`'s and `Fn::Select`'s argument).
    List(Vec<Expr>),
    Join(String, Box<Expr>),
    Select(usize, Box<Expr>),
    Split(String, Box<Expr>),
}

/// What intrinsics resolve against.
pub trait Scope {
    /// `Ref` of a logical id (a queue's URL) or pseudo parameter (`AWS::Region`, …).
    fn reference(&self, name: &str) -> Option<String>;
    /// `GetAtt` of a logical id (`Arn`, `QueueName`, `QueueUrl`).
    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<String>;
}

impl Expr {
    /// Reads a scalar or an intrinsic; None for anything else (maps, lists, null).
    pub fn parse(value: &Value) -> Result<Self, String> {
        match value {
            Value::String(s) => Ok(Expr::Literal(s.clone())),
            Value::Number(n) => Ok(Expr::Literal(n.to_string())),
            Value::Bool(b) => Ok(Expr::Literal(b.to_string())),
            Value::Tagged(tagged) => {
                let tag = tagged.tag.to_string();
                let tag = tag.trim_start_matches('!');
                Self::intrinsic(tag, &tagged.value)
            }
            Value::Mapping(map) if map.len() == 1 => {
                let (key, inner) = map.iter().next().expect("one entry");
                let key = key.as_str().unwrap_or_default();
                let name = key.strip_prefix("Fn::").unwrap_or(key);
                Self::intrinsic(name, inner)
            }
            other => Err(format!(
                "expected a value or an intrinsic function, found {other:?}"
            )),
        }
    }

    fn intrinsic(name: &str, arg: &Value) -> Result<Self, String> {
        match name {
            "Ref" => arg
                .as_str()
                .map(|s| Expr::Ref(s.to_string()))
                .ok_or_else(|| "Ref takes a logical id".to_string()),
            "GetAtt" => {
                let (id, attr) = match arg {
                    Value::String(s) => s
                        .split_once('.')
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                        .ok_or_else(|| format!("GetAtt {s:?} needs the form Resource.Attribute"))?,
                    Value::Sequence(seq) if seq.len() == 2 => (
                        seq[0].as_str().unwrap_or_default().to_string(),
                        seq[1].as_str().unwrap_or_default().to_string(),
                    ),
                    _ => {
                        return Err(
                            "GetAtt takes Resource.Attribute or [Resource, Attribute]".into()
                        );
                    }
                };
                Ok(Expr::GetAtt(id, attr))
            }
            "Sub" => match arg {
                Value::String(s) => Ok(Expr::Sub(s.clone(), BTreeMap::new())),
                Value::Sequence(seq) if seq.len() == 2 => {
                    let template = seq[0].as_str().ok_or("Sub's first item is the string")?;
                    let mut vars = BTreeMap::new();
                    if let Value::Mapping(map) = &seq[1] {
                        for (k, v) in map {
                            vars.insert(
                                k.as_str().unwrap_or_default().to_string(),
                                Expr::parse(v)?,
                            );
                        }
                    }
                    Ok(Expr::Sub(template.to_string(), vars))
                }
                _ => Err("Sub takes a string or [string, variables]".into()),
            },
            "Join" => {
                let (delimiter, list) = pair(arg, "Join takes [delimiter, list]")?;
                let delimiter = delimiter.as_str().ok_or("Join's delimiter is a string")?;
                Ok(Expr::Join(
                    delimiter.to_string(),
                    Box::new(Self::list(list)?),
                ))
            }
            "Select" => {
                let (index, list) = pair(arg, "Select takes [index, list]")?;
                let index = match index {
                    Value::Number(n) => n.as_u64().map(|n| n as usize),
                    Value::String(s) => s.parse().ok(),
                    _ => None,
                }
                .ok_or("Select's index is a number")?;
                Ok(Expr::Select(index, Box::new(Self::list(list)?)))
            }
            "Split" => {
                let (delimiter, source) = pair(arg, "Split takes [delimiter, string]")?;
                let delimiter = delimiter.as_str().ok_or("Split's delimiter is a string")?;
                if delimiter.is_empty() {
                    return Err("Split's delimiter is empty".into());
                }
                Ok(Expr::Split(
                    delimiter.to_string(),
                    Box::new(Expr::parse(source)?),
                ))
            }
            other => Err(format!("intrinsic function {other} is not supported")),
        }
    }

    /// A list argument: a YAML sequence, or an intrinsic that gives a list.
    fn list(value: &Value) -> Result<Self, String> {
        match value {
            Value::Sequence(items) => Ok(Expr::List(
                items.iter().map(Expr::parse).collect::<Result<_, _>>()?,
            )),
            other => Expr::parse(other),
        }
    }

    /// The strings of a list expression.
    fn resolve_list(&self, scope: &dyn Scope) -> Result<Vec<String>, String> {
        match self {
            Expr::List(items) => items.iter().map(|e| e.resolve(scope)).collect(),
            Expr::Split(delimiter, source) => Ok(source
                .resolve(scope)?
                .split(delimiter.as_str())
                .map(str::to_string)
                .collect()),
            other => Err(format!("{other:?} is not a list")),
        }
    }

    /// The logical id this expression points at, if it is `!Ref X` or `!GetAtt X.attr`.
    pub fn target(&self) -> Option<&str> {
        match self {
            Expr::Ref(id) | Expr::GetAtt(id, _) => Some(id),
            _ => None,
        }
    }

    pub fn resolve(&self, scope: &dyn Scope) -> Result<String, String> {
        match self {
            Expr::Literal(s) => Ok(s.clone()),
            Expr::Join(delimiter, list) => Ok(list.resolve_list(scope)?.join(delimiter)),
            Expr::Select(index, list) => {
                let items = list.resolve_list(scope)?;
                items
                    .get(*index)
                    .cloned()
                    .ok_or_else(|| format!("!Select {index}: the list has {} items", items.len()))
            }
            Expr::List(_) | Expr::Split(..) => {
                Err("a list where a value is needed (use Fn::Join or Fn::Select)".into())
            }
            Expr::Ref(name) => scope
                .reference(name)
                .ok_or_else(|| format!("!Ref {name}: no such resource or parameter")),
            Expr::GetAtt(id, attr) => scope
                .attribute(id, attr)
                .ok_or_else(|| format!("!GetAtt {id}.{attr}: no such resource or attribute")),
            Expr::Sub(template, vars) => {
                let mut out = String::new();
                let mut rest = template.as_str();
                while let Some(start) = rest.find("${") {
                    out.push_str(&rest[..start]);
                    let after = &rest[start + 2..];
                    let end = after
                        .find('}')
                        .ok_or_else(|| format!("!Sub {template:?}: unclosed ${{"))?;
                    let name = &after[..end];
                    let value = if let Some(literal) = name.strip_prefix('!') {
                        format!("${{{literal}}}")
                    } else if let Some(expr) = vars.get(name) {
                        expr.resolve(scope)?
                    } else if let Some((id, attr)) =
                        name.split_once('.').filter(|_| !name.starts_with("AWS::"))
                    {
                        Expr::GetAtt(id.into(), attr.into()).resolve(scope)?
                    } else {
                        Expr::Ref(name.into()).resolve(scope)?
                    };
                    out.push_str(&value);
                    rest = &after[end + 1..];
                }
                out.push_str(rest);
                Ok(out)
            }
        }
    }
}

/// The two items of an intrinsic's list argument.
fn pair<'a>(arg: &'a Value, usage: &str) -> Result<(&'a Value, &'a Value), String> {
    match arg {
        Value::Sequence(items) if items.len() == 2 => Ok((&items[0], &items[1])),
        _ => Err(usage.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Scope for Fixed {
        fn reference(&self, name: &str) -> Option<String> {
            match name {
                "AWS::Region" => Some("us-east-1".into()),
                "Orders" => Some("http://h/0/orders".into()),
                _ => None,
            }
        }
        fn attribute(&self, id: &str, attr: &str) -> Option<String> {
            (id == "Orders" && attr == "Arn").then(|| "arn:aws:sqs:us-east-1:0:orders".into())
        }
    }

    fn parse(yaml: &str) -> Expr {
        Expr::parse(&serde_yaml_ng::from_str::<Value>(yaml).unwrap()).unwrap()
    }

    #[test]
    fn short_and_long_forms() {
        for yaml in [
            "!GetAtt Orders.Arn",
            "Fn::GetAtt: [Orders, Arn]",
            "{\"Fn::GetAtt\": \"Orders.Arn\"}",
        ] {
            assert_eq!(
                parse(yaml),
                Expr::GetAtt("Orders".into(), "Arn".into()),
                "{yaml}"
            );
        }
        for yaml in ["!Ref Orders", "Ref: Orders"] {
            assert_eq!(parse(yaml).resolve(&Fixed).unwrap(), "http://h/0/orders");
        }
        let sub = parse("!Sub '${Orders.Arn} in ${AWS::Region} to ${Q}'");
        assert!(sub.resolve(&Fixed).is_err(), "unknown ${{Q}}");
        let sub = parse("Fn::Sub: ['${Orders.Arn}/${X}', {X: !Ref Orders}]");
        assert_eq!(
            sub.resolve(&Fixed).unwrap(),
            "arn:aws:sqs:us-east-1:0:orders/http://h/0/orders"
        );
        assert!(Expr::parse(&serde_yaml_ng::from_str::<Value>("!ImportValue x").unwrap()).is_err());
    }

    #[test]
    fn join_select_split_and_literal_sub() {
        let join = parse("!Join ['/', [a, !GetAtt Orders.Arn, !Ref AWS::Region]]");
        assert_eq!(
            join.resolve(&Fixed).unwrap(),
            "a/arn:aws:sqs:us-east-1:0:orders/us-east-1"
        );
        let select = parse("Fn::Select: ['5', !Split [':', !GetAtt Orders.Arn]]");
        assert_eq!(select.resolve(&Fixed).unwrap(), "orders");
        assert!(parse("!Select [9, [a, b]]").resolve(&Fixed).is_err());
        assert!(parse("!Split [',', 'a,b']").resolve(&Fixed).is_err());
        let sub = parse("!Sub '${!Literal}-${AWS::Region}'");
        assert_eq!(sub.resolve(&Fixed).unwrap(), "${Literal}-us-east-1");
    }
}
