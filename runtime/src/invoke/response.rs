//! Lambda's response to an SQS batch, read from its JSON wire form into an [`Outcome`]:
//! `{"batchItemFailures":[{"itemIdentifier":…}]}`, or an empty / null / failure-free response
//! for success.

use super::Outcome;

/// The outcome a response body stands for. Whether the named ids belong to the batch is for
/// settling to decide (`esm::settle`).
pub fn outcome(body: &[u8]) -> Outcome {
    match failed_items(body) {
        Ok(ids) if ids.is_empty() => Outcome::Success,
        Ok(ids) => Outcome::FailedItems(ids),
        Err(why) => Outcome::MalformedResponse(why),
    }
}

fn failed_items(body: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(body)
        .map_err(|_| "response is not UTF-8".to_string())?
        .trim();
    if text.is_empty() || text == "null" {
        return Ok(Vec::new());
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| format!("response is not valid JSON: {text:.200}"))?;
    let Some(object) = value.as_object() else {
        return Err(format!("response is not a JSON object: {text:.200}"));
    };
    let failures = match object.get("batchItemFailures") {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(serde_json::Value::Array(list)) => list,
        Some(other) => return Err(format!("batchItemFailures is not a list: {other}")),
    };
    failures
        .iter()
        .map(|failure| {
            failure
                .get("itemIdentifier")
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .ok_or_else(|| {
                    format!("a batchItemFailures entry has no itemIdentifier: {failure}")
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_forms() {
        for success in [
            "",
            " null ",
            "{}",
            r#"{"batchItemFailures":[]}"#,
            r#"{"batchItemFailures":null}"#,
        ] {
            assert_eq!(outcome(success.as_bytes()), Outcome::Success, "{success:?}");
        }
    }

    #[test]
    fn failed_items_are_read_in_order() {
        assert_eq!(
            outcome(br#"{"batchItemFailures":[{"itemIdentifier":"b"},{"itemIdentifier":""}]}"#),
            Outcome::FailedItems(vec!["b".into(), String::new()])
        );
    }

    #[test]
    fn malformed_forms() {
        for bad in [
            &b"not json"[..],
            b"[1]",
            br#"{"batchItemFailures":"a"}"#,
            br#"{"batchItemFailures":[{}]}"#,
            br#"{"batchItemFailures":[{"itemIdentifier":7}]}"#,
            b"\xff",
        ] {
            assert!(
                matches!(outcome(bad), Outcome::MalformedResponse(_)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
