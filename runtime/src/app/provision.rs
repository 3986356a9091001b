//! Provisioning: the template's queues created (or updated) in SQS, dead-letter queues first,
//! and the scope that resolves the template's references against them.

use std::collections::BTreeMap;

use anyhow::{Context, bail};

use crate::template::{OtherResource, Scope, Template, queues};

/// A template queue as it exists in SQS.
#[derive(Debug, Clone)]
pub struct ProvisionedQueue {
    pub name: String,
    pub url: String,
    pub arn: String,
    pub fifo: bool,
}

/// Creates the template's queues, dead-letter queues first; an existing queue gets the
/// template's attributes.
pub async fn create_queues(
    sqs: &aws_sdk_sqs::Client,
    template: &Template,
) -> anyhow::Result<BTreeMap<String, ProvisionedQueue>> {
    let mut created: BTreeMap<String, ProvisionedQueue> = BTreeMap::new();
    for id in queues::creation_order(&template.queues)? {
        let queue = &template.queues[id];
        let scope = AppScope::of(template, &created, String::new());
        let attrs = queues::create_attributes(queue, &scope)?;
        let mut request = sqs.create_queue().queue_name(&queue.name);
        for (k, v) in &attrs {
            request = request.attributes(k.as_str().into(), v);
        }
        let url = match request.send().await {
            Ok(out) => out.queue_url.unwrap_or_default(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_queue_name_exists()) =>
            {
                let url = sqs
                    .get_queue_url()
                    .queue_name(&queue.name)
                    .send()
                    .await?
                    .queue_url
                    .unwrap_or_default();
                let mut set = sqs.set_queue_attributes().queue_url(&url);
                for (k, v) in attrs.iter().filter(|(k, _)| k != "FifoQueue") {
                    set = set.attributes(k.as_str().into(), v);
                }
                set.send()
                    .await
                    .with_context(|| format!("queue {id}: updating attributes"))?;
                url
            }
            Err(e) => {
                let message = aws_sdk_sqs::error::DisplayErrorContext(&e);
                bail!("queue {id}: cannot create {}: {message}", queue.name);
            }
        };
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await?
            .attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .unwrap_or_default();
        created.insert(
            id.to_string(),
            ProvisionedQueue {
                name: queue.name.clone(),
                url,
                arn,
                fifo: queue.fifo,
            },
        );
    }
    Ok(created)
}

/// The template's references, resolved against the provisioned queues, the template's
/// functions and the app's region.
pub struct AppScope<'a> {
    pub queues: &'a BTreeMap<String, ProvisionedQueue>,
    /// Function names by logical id: `Ref` gives the name, `GetAtt F.Arn` the function's ARN.
    pub functions: BTreeMap<String, String>,
    /// Resources lockgate does not run: references resolve as CloudFormation's would.
    pub others: BTreeMap<String, OtherResource>,
    pub region: String,
}

impl<'a> AppScope<'a> {
    /// The scope of `template`'s functions and these queues.
    pub fn of(
        template: &Template,
        queues: &'a BTreeMap<String, ProvisionedQueue>,
        region: String,
    ) -> Self {
        Self {
            queues,
            functions: template
                .functions
                .iter()
                .map(|(id, f)| (id.clone(), f.name.clone()))
                .collect(),
            others: template.others.clone(),
            region,
        }
    }

    fn region(&self) -> String {
        if self.region.is_empty() {
            "us-east-1".into()
        } else {
            self.region.clone()
        }
    }

    /// The account the queues live in (the emulator's default before any exists).
    fn account(&self) -> String {
        self.queues
            .values()
            .find_map(|q| q.arn.split(':').nth(4))
            .unwrap_or("000000000000")
            .to_string()
    }
}

impl Scope for AppScope<'_> {
    fn reference(&self, name: &str) -> Option<String> {
        match name {
            "AWS::Region" => Some(self.region()),
            "AWS::AccountId" => Some(self.account()),
            "AWS::StackName" => Some("lockgate".into()),
            "AWS::Partition" => Some("aws".into()),
            "AWS::URLSuffix" => Some("amazonaws.com".into()),
            id => self
                .queues
                .get(id)
                .map(|q| q.url.clone())
                .or_else(|| self.functions.get(id).cloned())
                .or_else(|| {
                    let other = self.others.get(id)?;
                    Some(other.reference(id, &self.region(), &self.account()))
                }),
        }
    }

    fn attribute(&self, id: &str, attribute: &str) -> Option<String> {
        if let Some(name) = self.functions.get(id) {
            return (attribute == "Arn").then(|| {
                format!(
                    "arn:aws:lambda:{}:{}:function:{name}",
                    self.region(),
                    self.account()
                )
            });
        }
        if let Some(other) = self.others.get(id) {
            return (attribute == "Arn")
                .then(|| other.arn(id, &self.region(), &self.account()))
                .flatten();
        }
        let q = self.queues.get(id)?;
        match attribute {
            "Arn" => Some(q.arn.clone()),
            "QueueName" => Some(q.name.clone()),
            "QueueUrl" => Some(q.url.clone()),
            _ => None,
        }
    }
}
