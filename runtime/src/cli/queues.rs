//! `lockgate queues`: every queue with its depths.

use aws_sdk_sqs::types::QueueAttributeName;

#[derive(clap::Args)]
pub struct Args {
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL_SQS",
        default_value = "http://127.0.0.1:9324"
    )]
    pub endpoint: String,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let sqs = super::sqs_client(&args.endpoint, &args.region);
    let urls = sqs
        .list_queues()
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot list queues at {}: {}",
                args.endpoint,
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
