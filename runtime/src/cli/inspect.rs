//! `lockgate peek`, `purge` and `redrive`: day-to-day queue chores.

use anyhow::{Context, bail};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};

#[derive(clap::Args)]
pub struct PeekArgs {
    /// Queue name or URL.
    pub queue: String,
    /// How many messages to show (1–100; 1–10 with --receive).
    #[arg(long, default_value_t = 10)]
    pub max: u32,
    /// Receive with visibility timeout 0 instead (works on any SQS, but counts as a receive:
    /// it raises each message's receive count and can send it to a dead-letter queue).
    #[arg(long)]
    pub receive: bool,
    /// `json` prints the console API's `{"messages": [...]}` (docs/console.md).
    #[arg(long, value_enum, default_value_t = super::Output::Text)]
    pub output: super::Output,
    #[command(flatten)]
    pub sqs: super::EndpointArgs,
}

/// Shows messages without receiving them: the emulator's console API copies them, so no
/// receive count, visibility or dead-letter move changes (SQS itself has no such call; with
/// `--receive` it is a receive with visibility timeout 0).
pub async fn peek(args: PeekArgs) -> anyhow::Result<()> {
    if args.receive {
        return peek_by_receiving(args).await;
    }
    if !(1..=100).contains(&args.max) {
        bail!("--max must be between 1 and 100");
    }
    let endpoint = &args.sqs.endpoint;
    let listed = super::console_api::get(endpoint, "queues").await?;
    let queues = listed["queues"].as_array().cloned().unwrap_or_default();
    let wanted = |q: &&serde_json::Value| {
        if args.queue.contains("://") {
            let path = |url: &str| url.splitn(4, '/').nth(3).map(str::to_string);
            path(q["url"].as_str().unwrap_or_default()) == path(&args.queue)
        } else {
            q["name"] == args.queue.as_str()
        }
    };
    let mut matches: Vec<&serde_json::Value> = queues.iter().filter(wanted).collect();
    if matches.len() > 1 {
        matches.retain(|q| q["region"] == args.sqs.region.as_str());
    }
    let Some(queue) = matches.first() else {
        bail!("no queue {} at {endpoint}", args.queue);
    };
    let path = format!(
        "queues/{}/{}/{}/messages?limit={}",
        queue["region"].as_str().unwrap_or_default(),
        queue["account"].as_str().unwrap_or_default(),
        queue["name"].as_str().unwrap_or_default(),
        args.max
    );
    let browsed = super::console_api::get(endpoint, &path).await?;
    if let super::Output::Json = args.output {
        super::print_json(&browsed)?;
        return Ok(());
    }
    let messages = browsed["messages"].as_array().cloned().unwrap_or_default();
    if messages.is_empty() {
        outln!("no messages in {}", args.queue)?;
    }
    for m in messages {
        let text = |k: &str| m[k].as_str().unwrap_or_default().to_string();
        outln!(
            "{}  {}  receives={}{}  {}",
            text("messageId"),
            text("state"),
            m["approximateReceiveCount"],
            m["messageGroupId"]
                .as_str()
                .map(|g| format!(" group={g}"))
                .unwrap_or_default(),
            text("body")
        )?;
    }
    Ok(())
}

/// `peek --receive`: a receive with visibility timeout 0 (counts toward the receive count).
async fn peek_by_receiving(args: PeekArgs) -> anyhow::Result<()> {
    let sqs = args.sqs.client();
    let url = super::resolve_queue(&sqs, &args.queue).await?;
    let out = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(args.max.clamp(1, 10) as i32)
        .visibility_timeout(0)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await?;
    let messages = out.messages.unwrap_or_default();
    if let super::Output::Json = args.output {
        let listed: Vec<serde_json::Value> = messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, serde_json::Value> = m
                    .attributes()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str().to_string(), v.clone().into()))
                    .collect();
                serde_json::json!({
                    "messageId": m.message_id(),
                    "body": m.body(),
                    "attributes": attributes,
                })
            })
            .collect();
        super::print_json(&serde_json::json!({ "messages": listed }))?;
        return Ok(());
    }
    if messages.is_empty() {
        outln!("no visible messages in {}", args.queue)?;
    }
    for m in messages {
        let attrs = m.attributes.unwrap_or_default();
        let get = |k: MessageSystemAttributeName| attrs.get(&k).cloned().unwrap_or_default();
        outln!(
            "{}  receives={} group={}  {}",
            m.message_id.unwrap_or_default(),
            get(MessageSystemAttributeName::ApproximateReceiveCount),
            get(MessageSystemAttributeName::MessageGroupId),
            m.body.unwrap_or_default()
        )?;
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct PurgeArgs {
    /// Queue name or URL.
    pub queue: String,
    #[command(flatten)]
    pub sqs: super::EndpointArgs,
}

pub async fn purge(args: PurgeArgs) -> anyhow::Result<()> {
    let sqs = args.sqs.client();
    let url = super::resolve_queue(&sqs, &args.queue).await?;
    sqs.purge_queue()
        .queue_url(&url)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
    outln!("purged {}", args.queue)?;
    Ok(())
}

#[derive(clap::Args)]
pub struct RedriveArgs {
    /// The dead-letter queue (name or URL).
    pub dead_letter_queue: String,
    /// Where to move messages; defaults to the one queue whose redrive policy targets the DLQ.
    #[arg(long)]
    pub to: Option<String>,
    #[command(flatten)]
    pub sqs: super::EndpointArgs,
}

/// Moves every message from a dead-letter queue back to its source: each is sent (body,
/// attributes, FIFO group and dedup ids) before it is deleted, so a failure midway duplicates
/// at most, never loses.
pub async fn redrive(args: RedriveArgs) -> anyhow::Result<()> {
    let sqs = args.sqs.client();
    let dlq = super::resolve_queue(&sqs, &args.dead_letter_queue).await?;
    let target = match &args.to {
        Some(to) => super::resolve_queue(&sqs, to).await?,
        None => {
            let sources = sqs
                .list_dead_letter_source_queues()
                .queue_url(&dlq)
                .send()
                .await?
                .queue_urls;
            match sources.as_slice() {
                [one] => one.clone(),
                [] => bail!(
                    "no queue uses {} as its dead-letter queue; pass --to",
                    args.dead_letter_queue
                ),
                many => bail!("several queues use this dead-letter queue ({many:?}); pass --to"),
            }
        }
    };
    let mut moved = 0;
    loop {
        let messages = sqs
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await?
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        let mut send = sqs.send_message_batch().queue_url(&target);
        for (i, m) in messages.iter().enumerate() {
            let attrs = m.attributes.clone().unwrap_or_default();
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(m.body.clone().unwrap_or_default())
                .set_message_attributes(m.message_attributes.clone());
            if let Some(group) = attrs.get(&MessageSystemAttributeName::MessageGroupId) {
                entry = entry.message_group_id(group);
            }
            if let Some(dedup) = attrs.get(&MessageSystemAttributeName::MessageDeduplicationId) {
                entry = entry.message_deduplication_id(dedup);
            }
            send = send.entries(entry.build()?);
        }
        let out = send.send().await.context("sending to the source queue")?;
        if let Some(f) = out.failed.first() {
            bail!(
                "the source queue refused a message: {}: {}",
                f.code,
                f.message.clone().unwrap_or_default()
            );
        }
        let mut delete = sqs.delete_message_batch().queue_url(&dlq);
        for (i, m) in messages.iter().enumerate() {
            delete = delete.entries(
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                    .build()?,
            );
        }
        delete.send().await?;
        moved += messages.len();
    }
    outln!(
        "moved {moved} message(s) from {} to {target}",
        args.dead_letter_queue
    )?;
    Ok(())
}
