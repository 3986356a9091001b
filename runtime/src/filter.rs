//! Lambda event filtering (FilterCriteria) on SQS records, in Lambda's event-pattern syntax:
//! a record is kept when any pattern matches it. Amazon SQS event source mappings only support
//! filtering on the `body` key (Lambda developer guide, with-sqs-filtering), so a pattern is a
//! JSON object `{"body": …}` and one on any other field is refused; leaves are arrays of
//! accepted values or matchers: exact strings / numbers / null, `{"prefix"}`, `{"suffix"}`,
//! `{"equals-ignore-case"}`, `{"anything-but": …}`, `{"numeric": [op, n, …]}`, `{"exists"}`.
//! A JSON body is matched field by field; a body that is not JSON only by a plain string.

use serde_json::Value;

/// Rejects patterns Lambda would reject for an SQS mapping.
pub fn check_pattern(pattern: &Value) -> Result<(), String> {
    let object = pattern
        .as_object()
        .ok_or("a pattern must be a JSON object")?;
    if let Some(key) = object.keys().find(|k| *k != "body") {
        return Err(format!(
            "Amazon SQS event source mappings only support filtering on the body key, not {key:?}"
        ));
    }
    check_fields(pattern)
}

fn check_fields(pattern: &Value) -> Result<(), String> {
    let object = pattern
        .as_object()
        .ok_or("a pattern must be a JSON object")?;
    for (key, value) in object {
        match value {
            Value::Object(_) => check_fields(value)?,
            Value::Array(matchers) => {
                for m in matchers {
                    check_matcher(m).map_err(|e| format!("{key}: {e}"))?;
                }
            }
            _ => {
                return Err(format!(
                    "{key}: a leaf must be an array of values or matchers"
                ));
            }
        }
    }
    Ok(())
}

fn check_matcher(m: &Value) -> Result<(), String> {
    let Value::Object(o) = m else {
        return Ok(());
    };
    let (kind, arg) = o.iter().next().ok_or("an empty matcher")?;
    match kind.as_str() {
        "prefix" | "suffix" | "equals-ignore-case" if arg.is_string() => Ok(()),
        "exists" if arg.is_boolean() => Ok(()),
        "anything-but" => Ok(()),
        "numeric" => {
            let items = arg.as_array().ok_or("numeric takes an array")?;
            if items.len() % 2 != 0 || items.is_empty() {
                return Err("numeric takes operator/number pairs".into());
            }
            for pair in items.chunks(2) {
                let op = pair[0].as_str().unwrap_or_default();
                if !["<", "<=", "=", ">", ">="].contains(&op) || !pair[1].is_number() {
                    return Err(format!("numeric: bad pair {pair:?}"));
                }
            }
            Ok(())
        }
        other => Err(format!("unsupported matcher {other}")),
    }
}

/// Whether a message with this body passes any of `patterns`. No patterns: all pass.
pub fn body_matches_any(patterns: &[Value], body: &str) -> bool {
    if patterns.is_empty() {
        return true;
    }
    // Lambda filters on the parsed body when it is a JSON object, else on the string.
    let body = serde_json::from_str::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| Value::String(body.to_string()));
    let view = serde_json::json!({ "body": body });
    patterns.iter().any(|p| matches_object(p, &view))
}

fn matches_object(pattern: &Value, value: &Value) -> bool {
    let Some(fields) = pattern.as_object() else {
        return false;
    };
    fields.iter().all(|(key, expected)| {
        let actual = value.get(key);
        match expected {
            Value::Object(_) => actual.is_some_and(|a| matches_object(expected, a)),
            Value::Array(matchers) => matchers.iter().any(|m| matches_leaf(m, actual)),
            _ => false,
        }
    })
}

fn matches_leaf(matcher: &Value, actual: Option<&Value>) -> bool {
    // Arrays in the event match when any element matches.
    if let Some(Value::Array(items)) = actual {
        return items.iter().any(|i| matches_leaf(matcher, Some(i)));
    }
    match matcher {
        Value::Object(o) => {
            let Some((kind, arg)) = o.iter().next() else {
                return false;
            };
            match kind.as_str() {
                "exists" => arg.as_bool() == Some(actual.is_some()),
                "prefix" => text(actual)
                    .zip(arg.as_str())
                    .is_some_and(|(a, p)| a.starts_with(p)),
                "suffix" => text(actual)
                    .zip(arg.as_str())
                    .is_some_and(|(a, s)| a.ends_with(s)),
                "equals-ignore-case" => text(actual)
                    .zip(arg.as_str())
                    .is_some_and(|(a, e)| a.eq_ignore_ascii_case(e)),
                "anything-but" => {
                    let Some(actual) = actual else { return false };
                    match arg {
                        Value::Array(values) => !values.iter().any(|v| equal(v, actual)),
                        Value::Object(_) => !matches_leaf(arg, Some(actual)),
                        v => !equal(v, actual),
                    }
                }
                "numeric" => {
                    let Some(n) = actual.and_then(number) else {
                        return false;
                    };
                    arg.as_array().is_some_and(|items| {
                        items.chunks(2).all(|pair| {
                            let bound = pair[1].as_f64().unwrap_or(f64::NAN);
                            match pair[0].as_str().unwrap_or_default() {
                                "<" => n < bound,
                                "<=" => n <= bound,
                                "=" => n == bound,
                                ">" => n > bound,
                                ">=" => n >= bound,
                                _ => false,
                            }
                        })
                    })
                }
                _ => false,
            }
        }
        Value::Null => matches!(actual, Some(Value::Null)),
        expected => actual.is_some_and(|a| equal(expected, a)),
    }
}

fn text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn equal(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(a), b) => number(b).is_some_and(|b| a.as_f64() == Some(b)),
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_fields_and_matchers() {
        let r = r#"{"type":"order","total":42,"tags":["a","b"],"region":"eu-west-1"}"#;
        let yes = [
            json!({"body": {"type": ["order"]}}),
            json!({"body": {"total": [{"numeric": [">", 10, "<=", 42]}]}}),
            json!({"body": {"tags": ["b"]}}),
            json!({"body": {"region": [{"prefix": "eu-"}]}}),
            json!({"body": {"type": [{"anything-but": ["refund"]}]}}),
            json!({"body": {"missing": [{"exists": false}]}}),
            json!({"body": {"type": [{"equals-ignore-case": "ORDER"}]}}),
        ];
        for p in &yes {
            check_pattern(p).unwrap();
            assert!(body_matches_any(std::slice::from_ref(p), r), "{p}");
        }
        let no = [
            json!({"body": {"type": ["refund"]}}),
            json!({"body": {"total": [{"numeric": [">", 100]}]}}),
            json!({"body": {"type": [{"anything-but": "order"}]}}),
            json!({"body": {"missing": [{"exists": true}]}}),
        ];
        for p in &no {
            assert!(!body_matches_any(std::slice::from_ref(p), r), "{p}");
        }
        // Any of several patterns.
        assert!(body_matches_any(&[no[0].clone(), yes[0].clone()], r));
        assert!(body_matches_any(&[], r));
    }

    #[test]
    fn plain_bodies_match_as_strings() {
        assert!(body_matches_any(&[json!({"body": ["hello"]})], "hello"));
        assert!(!body_matches_any(
            &[json!({"body": {"type": ["x"]}})],
            "hello"
        ));
    }

    #[test]
    fn bad_patterns_are_rejected() {
        assert!(check_pattern(&json!({"body": "x"})).is_err());
        assert!(check_pattern(&json!({"body": {"n": [{"numeric": [">"]}]}})).is_err());
        assert!(check_pattern(&json!({"body": {"n": [{"regex": "x"}]}})).is_err());
        // SQS mappings filter on the body only.
        for other in [
            json!({"messageAttributes": {"kind": {"stringValue": ["order"]}}}),
            json!({"attributes": {"SenderId": ["x"]}}),
            json!({"body": {"a": ["x"]}, "messageId": ["1"]}),
        ] {
            let err = check_pattern(&other).unwrap_err();
            assert!(
                err.contains("only support filtering on the body key"),
                "{err}"
            );
        }
    }
}
