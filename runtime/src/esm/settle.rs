//! Acknowledgement, decided in one place: which messages of an invoked batch are deleted and
//! which are left to return when their visibility timeout ends — Lambda's rules for
//! ReportBatchItemFailures (and its absence) and for FIFO groups.

use std::collections::HashSet;

use crate::invoke::Outcome;

/// What the settle step needs to know about each message of the batch, in batch order.
#[derive(Debug, Clone)]
pub struct Item {
    pub message_id: String,
    pub group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Indexes into the batch of messages to delete.
    pub delete: Vec<usize>,
    /// Indexes of messages left for redelivery.
    pub retry: Vec<usize>,
    /// Set when the whole batch failed, with the reason.
    pub batch_error: Option<String>,
}

impl Decision {
    fn all_fail(n: usize, why: String) -> Self {
        Self {
            delete: Vec::new(),
            retry: (0..n).collect(),
            batch_error: Some(why),
        }
    }
}

/// Decides the fate of every message of a batch given the invocation's outcome.
pub fn decide(
    items: &[Item],
    fifo: bool,
    report_batch_item_failures: bool,
    outcome: &Outcome,
) -> Decision {
    let failed_ids = match outcome {
        Outcome::Error(e) => return Decision::all_fail(items.len(), e.to_string()),
        // Without ReportBatchItemFailures the response is ignored: success deletes everything.
        _ if !report_batch_item_failures => {
            return Decision {
                delete: (0..items.len()).collect(),
                retry: Vec::new(),
                batch_error: None,
            };
        }
        Outcome::MalformedResponse(why) => return Decision::all_fail(items.len(), why.clone()),
        Outcome::Success => HashSet::new(),
        Outcome::FailedItems(ids) => match known_ids(ids, items) {
            Ok(ids) => ids,
            Err(why) => return Decision::all_fail(items.len(), why),
        },
    };
    let mut failed: Vec<bool> = items
        .iter()
        .map(|i| failed_ids.contains(i.message_id.as_str()))
        .collect();
    if fifo {
        // After a failure in a group, the later messages of that group fail too.
        let mut broken_groups = HashSet::new();
        for (i, item) in items.iter().enumerate() {
            let group = item.group.clone().unwrap_or_default();
            if broken_groups.contains(&group) {
                failed[i] = true;
            } else if failed[i] {
                broken_groups.insert(group);
            }
        }
    }
    let (retry, delete): (Vec<usize>, Vec<usize>) = (0..items.len()).partition(|&i| failed[i]);
    Decision {
        delete,
        retry,
        batch_error: None,
    }
}

/// The failed ids, when every one names a message of this batch; an empty or unknown
/// identifier fails the whole batch (as Lambda does).
fn known_ids<'a>(ids: &'a [String], items: &[Item]) -> Result<HashSet<&'a str>, String> {
    let known: HashSet<&str> = items.iter().map(|i| i.message_id.as_str()).collect();
    let mut failed = HashSet::new();
    for id in ids {
        if id.is_empty() {
            return Err("a batchItemFailures entry has an empty itemIdentifier".into());
        }
        if !known.contains(id.as_str()) {
            return Err(format!(
                "itemIdentifier {id:?} is not a message of this batch"
            ));
        }
        failed.insert(id.as_str());
    }
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(spec: &[(&str, Option<&str>)]) -> Vec<Item> {
        spec.iter()
            .map(|(id, g)| Item {
                message_id: id.to_string(),
                group: g.map(str::to_string),
            })
            .collect()
    }

    /// The outcome of a process that answered `body`.
    fn ok(body: &str) -> Outcome {
        crate::invoke::response::outcome(body.as_bytes())
    }

    #[test]
    fn without_report_success_deletes_all_and_errors_keep_all() {
        let b = items(&[("a", None), ("b", None)]);
        let d = decide(
            &b,
            false,
            false,
            &ok(r#"{"batchItemFailures":[{"itemIdentifier":"a"}]}"#),
        );
        assert_eq!(d.delete, [0, 1]);
        let d = decide(
            &b,
            false,
            false,
            &Outcome::Error(crate::invoke::InvokeError::Timeout),
        );
        assert_eq!(d.retry, [0, 1]);
        assert!(d.batch_error.is_some());
    }

    #[test]
    fn partial_failures() {
        let b = items(&[("a", None), ("b", None), ("c", None)]);
        let d = decide(
            &b,
            false,
            true,
            &ok(r#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#),
        );
        assert_eq!((d.delete, d.retry), (vec![0, 2], vec![1]));
        for success in [
            "",
            "null",
            "{}",
            r#"{"batchItemFailures":[]}"#,
            r#"{"batchItemFailures":null}"#,
        ] {
            assert_eq!(
                decide(&b, false, true, &ok(success)).delete,
                [0, 1, 2],
                "{success:?}"
            );
        }
    }

    #[test]
    fn malformed_responses_fail_the_batch() {
        let b = items(&[("a", None), ("b", None)]);
        for bad in [
            "not json",
            "[1]",
            r#"{"batchItemFailures":"a"}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#,
            r#"{"batchItemFailures":[{}]}"#,
        ] {
            let d = decide(&b, false, true, &ok(bad));
            assert_eq!(d.retry, [0, 1], "{bad}");
            assert!(d.batch_error.is_some(), "{bad}");
        }
    }

    #[test]
    fn fifo_failure_fails_the_rest_of_its_group() {
        let b = items(&[
            ("a1", Some("A")),
            ("b1", Some("B")),
            ("a2", Some("A")),
            ("a3", Some("A")),
            ("b2", Some("B")),
        ]);
        let d = decide(
            &b,
            true,
            true,
            &ok(r#"{"batchItemFailures":[{"itemIdentifier":"a2"}]}"#),
        );
        assert_eq!(d.delete, [0, 1, 4]);
        assert_eq!(d.retry, [2, 3]);
    }
}
