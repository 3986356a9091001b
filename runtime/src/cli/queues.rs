//! `lockgate queues`: every queue with its depths.

use aws_sdk_sqs::types::QueueAttributeName;

#[derive(clap::Args)]
pub struct Args {
    /// `json` prints `[{"name", "url", "visible", "inFlight", "delayed", "attributes"}]`.
    #[arg(long, value_enum, default_value_t = super::Output::Text)]
    pub output: super::Output,
    #[command(flatten)]
    pub sqs: super::EndpointArgs,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let sqs = args.sqs.client();
    let urls = sqs
        .list_queues()
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot list queues at {}: {}",
                args.sqs.endpoint,
                aws_sdk_sqs::error::DisplayErrorContext(&e)
            )
        })?
        .queue_urls
        .unwrap_or_default();
    let text = matches!(args.output, super::Output::Text);
    if text {
        outln!(
            "{:<40} {:>9} {:>9} {:>9}",
            "queue",
            "visible",
            "in flight",
            "delayed"
        )?;
    }
    let mut listed = Vec::new();
    for url in urls {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await?
            .attributes
            .unwrap_or_default();
        let get = |k: QueueAttributeName| attrs.get(&k).cloned().unwrap_or_default();
        let name = url.rsplit('/').next().unwrap_or_default().to_string();
        let (visible, in_flight, delayed) = (
            get(QueueAttributeName::ApproximateNumberOfMessages),
            get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        );
        if text {
            outln!("{name:<40} {visible:>9} {in_flight:>9} {delayed:>9}")?;
        } else {
            let number = |s: &str| s.parse::<u64>().unwrap_or(0);
            let attributes: serde_json::Map<String, serde_json::Value> = attrs
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.clone().into()))
                .collect();
            listed.push(serde_json::json!({
                "name": name,
                "url": url,
                "visible": number(&visible),
                "inFlight": number(&in_flight),
                "delayed": number(&delayed),
                "attributes": attributes,
            }));
        }
    }
    if !text {
        super::print_json(&serde_json::Value::Array(listed))?;
    }
    Ok(())
}
