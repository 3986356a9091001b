//! `lockgate queues`: every queue with its depths.

use aws_sdk_sqs::types::QueueAttributeName;

#[derive(clap::Args)]
pub struct Args {
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
    println!(
        "{:<40} {:>9} {:>9} {:>9}",
        "queue", "visible", "in flight", "delayed"
    );
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
        println!(
            "{:<40} {:>9} {:>9} {:>9}",
            url.rsplit('/').next().unwrap_or_default(),
            get(QueueAttributeName::ApproximateNumberOfMessages),
            get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            get(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        );
    }
    Ok(())
}
