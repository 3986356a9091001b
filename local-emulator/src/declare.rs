//! Queues declared up front, so a CI service starts ready: a SAM or CloudFormation
//! template's queues (`--template`, read as `lockgate up` reads it, functions left out) or a
//! small queues file (`--queues`). They are created when the emulator starts, before it
//! accepts a connection, through CreateQueue itself (so they are validated as any request
//! is); a queue that already exists (a durable restart) gets the declared attributes.
//!
//! A queues file maps queue names to SQS attributes (YAML or JSON); a RedrivePolicy may name
//! its dead-letter queue by name:
//!
//! ```yaml
//! orders:
//!   VisibilityTimeout: 60
//!   RedrivePolicy: {deadLetterTargetArn: orders-dlq, maxReceiveCount: 3}
//! orders-dlq: {}
//! events.fifo:
//!   ContentBasedDeduplication: true
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use serde_yaml_ng::{Mapping, Value};

use crate::actions::{self, Context};
use crate::error::ErrorCode;
use crate::move_tasks::MoveTasks;
use crate::sqs::Sqs;
use crate::template::queues::{self, QueueDef};
use crate::template::{Document, Scope, StackOptions};

/// Declared queues by logical id.
pub type Declared = BTreeMap<String, QueueDef>;

/// A template's queues (its other resources are not the emulator's).
pub fn from_template(text: &str, options: &StackOptions) -> anyhow::Result<Declared> {
    let document = Document::parse(text, options)?;
    let mut declared = Declared::new();
    for resource in document.resources()? {
        if resource.kind != "AWS::SQS::Queue" {
            continue;
        }
        let Some(props) = &resource.properties else {
            continue; // its Condition is false
        };
        let queue = queues::parse_queue(&resource.id, props)
            .with_context(|| format!("queue {}", resource.id))?;
        declared.insert(resource.id, queue);
    }
    queues::check_dead_letter_targets(&declared)?;
    Ok(declared)
}

/// A queues file: `name: {Attribute: value, …}` (see the module's documentation).
pub fn from_queues_file(text: &str) -> anyhow::Result<Declared> {
    let file: Value =
        serde_yaml_ng::from_str(text).context("the queues file is not YAML or JSON")?;
    let entries = match file {
        Value::Mapping(entries) => entries,
        Value::Null => Mapping::new(),
        _ => bail!("the queues file maps queue names to their attributes"),
    };
    // The same queues as a template's resources, so they meet the same checks.
    let ids: BTreeMap<String, String> = entries
        .keys()
        .enumerate()
        .filter_map(|(i, name)| Some((name.as_str()?.to_string(), format!("Queue{i}Declared"))))
        .collect();
    let mut resources = Mapping::new();
    for (name, attributes) in &entries {
        let name = name
            .as_str()
            .context("queue names in the queues file are strings")?;
        let mut properties = match attributes {
            Value::Mapping(m) => m.clone(),
            Value::Null => Mapping::new(),
            _ => bail!("queue {name}: its attributes are a mapping"),
        };
        properties.insert("QueueName".into(), name.into());
        if name.ends_with(".fifo") {
            properties.insert("FifoQueue".into(), true.into());
        }
        // A dead-letter queue named by name: the queue of that name in this file.
        if let Some(Value::Mapping(policy)) = properties.get_mut("RedrivePolicy")
            && let Some(target) = policy
                .get("deadLetterTargetArn")
                .and_then(Value::as_str)
                .and_then(|t| ids.get(t))
        {
            let get_att: Value =
                serde_yaml_ng::from_str(&format!("{{\"Fn::GetAtt\": [\"{target}\", \"Arn\"]}}"))?;
            policy.insert("deadLetterTargetArn".into(), get_att);
        }
        let mut resource = Mapping::new();
        resource.insert("Type".into(), "AWS::SQS::Queue".into());
        resource.insert("Properties".into(), Value::Mapping(properties));
        resources.insert(ids[name].clone().into(), Value::Mapping(resource));
    }
    let mut template = Mapping::new();
    template.insert("Resources".into(), Value::Mapping(resources));
    let text = serde_yaml_ng::to_string(&Value::Mapping(template))?;
    let named: BTreeMap<&str, &str> = ids
        .iter()
        .map(|(n, id)| (id.as_str(), n.as_str()))
        .collect();
    from_template(&text, &StackOptions::default()).map_err(|e| {
        // Name the queue, not the logical id the file never had.
        let mut message = format!("{e:#}");
        for (id, name) in &named {
            message = message.replace(&format!("queue {id}"), &format!("queue {name}"));
        }
        anyhow::anyhow!(message)
    })
}

/// Where declared queues' references resolve: the ARNs of those already created.
struct Created<'a> {
    arns: &'a BTreeMap<String, String>,
}

impl Scope for Created<'_> {
    fn reference(&self, _: &str) -> Option<String> {
        None
    }
    fn attribute(&self, id: &str, attribute: &str) -> Option<String> {
        (attribute == "Arn")
            .then(|| self.arns.get(id).cloned())
            .flatten()
    }
}

/// Creates `declared` in `sqs` (dead-letter queues first), in its default account and region.
pub(crate) async fn create(
    sqs: &Arc<Sqs>,
    move_tasks: &Arc<MoveTasks>,
    declared: &Declared,
    host: &str,
) -> anyhow::Result<()> {
    let ctx = Context {
        sqs: sqs.clone(),
        region: sqs.config.region.clone(),
        account: sqs.config.account_id.clone(),
        host: host.to_string(),
        trace_header: None,
        signer: None,
        move_tasks: move_tasks.clone(),
    };
    let mut arns = BTreeMap::new();
    for id in queues::creation_order(declared)? {
        let queue = &declared[id];
        let attributes: BTreeMap<String, String> =
            queues::create_attributes(queue, &Created { arns: &arns })?
                .into_iter()
                .collect();
        let request = serde_json::json!({ "QueueName": queue.name, "Attributes": attributes });
        match actions::dispatch(&ctx, "CreateQueue", request.to_string().as_bytes()).await {
            Ok(_) => {}
            // Declared before (a durable restart): the declaration's attributes win.
            Err(e) if e.code == ErrorCode::QueueNameExists => {
                let url = format!("http://{host}/{}/{}", ctx.account, queue.name);
                let changed: BTreeMap<&String, &String> = attributes
                    .iter()
                    .filter(|(k, _)| *k != "FifoQueue")
                    .collect();
                let request = serde_json::json!({ "QueueUrl": url, "Attributes": changed });
                actions::dispatch(&ctx, "SetQueueAttributes", request.to_string().as_bytes())
                    .await
                    .map_err(|e| anyhow::anyhow!("queue {id}: {}", e.message))?;
            }
            Err(e) => bail!("queue {id} ({}): {}", queue.name, e.message),
        }
        arns.insert(
            id.to_string(),
            format!("arn:aws:sqs:{}:{}:{}", ctx.region, ctx.account, queue.name),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queues_file_reads_as_a_template_would() {
        let declared = from_queues_file(
            "orders:\n  VisibilityTimeout: 60\n  RedrivePolicy: {deadLetterTargetArn: orders-dlq, maxReceiveCount: 3}\norders-dlq: {}\nevents.fifo:\n  ContentBasedDeduplication: true\n",
        )
        .unwrap();
        let names: Vec<&str> = declared.values().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["orders", "orders-dlq", "events.fifo"]);
        let order: Vec<&str> = queues::creation_order(&declared)
            .unwrap()
            .into_iter()
            .map(|id| declared[id].name.as_str())
            .collect();
        assert!(
            order.iter().position(|n| *n == "orders-dlq")
                < order.iter().position(|n| *n == "orders")
        );
        assert!(declared.values().any(|q| q.name == "events.fifo" && q.fifo));
        let err = from_queues_file("orders:\n  VisibilityTimeout: 99999\n").unwrap_err();
        assert!(
            format!("{err:#}")
                .contains("queue orders: VisibilityTimeout must be between 0 and 43200"),
            "{err:#}"
        );
        let err = from_queues_file("orders:\n  RedrivePolicy: {deadLetterTargetArn: orders-dlq.fifo, maxReceiveCount: 3}\norders-dlq.fifo: {}\n").unwrap_err();
        assert!(format!("{err:#}").contains("same type"), "{err:#}");
    }
}
