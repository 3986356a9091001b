//! `lockgate send`: send messages (a body, a file, stdin lines, or `--count N` copies).

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context, bail};
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

#[derive(clap::Args)]
pub struct Args {
    /// Queue name or URL.
    pub queue: String,
    /// Message body (omit to read one message per stdin line, or use --file).
    pub body: Option<String>,
    /// Send the contents of this file as one message.
    #[arg(long, conflicts_with = "body")]
    pub file: Option<PathBuf>,
    /// Send the body this many times (load generation).
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// MessageGroupId (required for FIFO queues).
    #[arg(long)]
    pub group: Option<String>,
    /// MessageDeduplicationId (FIFO; a counter suffix is added when --count > 1).
    #[arg(long)]
    pub dedup: Option<String>,
    /// A String message attribute, name=value (repeatable).
    #[arg(long = "attr", value_parser = parse_attr)]
    pub attributes: Vec<(String, String)>,
    #[command(flatten)]
    pub sqs: super::EndpointArgs,
}

fn parse_attr(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected name=value, got {s:?}"))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let sqs = args.sqs.client();
    let url = super::resolve_queue(&sqs, &args.queue).await?;
    let bodies: Vec<String> = match (&args.body, &args.file) {
        (Some(body), _) => vec![body.clone()],
        (None, Some(file)) => vec![
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?,
        ],
        (None, None) => std::io::stdin().lock().lines().collect::<Result<_, _>>()?,
    };
    if bodies.is_empty() {
        bail!("nothing to send: give a body, --file, or lines on stdin");
    }
    let total = bodies.len() as u64 * args.count;
    let mut entries = Vec::new();
    let mut sent = 0u64;
    let mut n = 0u64;
    let progress = total >= 1000;
    for body in &bodies {
        for _ in 0..args.count {
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(format!("m{}", entries.len()))
                .message_body(body);
            if let Some(group) = &args.group {
                entry = entry.message_group_id(group);
            }
            if let Some(dedup) = &args.dedup {
                entry = entry.message_deduplication_id(if total > 1 {
                    format!("{dedup}-{n}")
                } else {
                    dedup.clone()
                });
            }
            for (k, v) in &args.attributes {
                entry = entry.message_attributes(
                    k,
                    MessageAttributeValue::builder()
                        .data_type("String")
                        .string_value(v)
                        .build()?,
                );
            }
            entries.push(entry.build()?);
            n += 1;
            if entries.len() == 10 {
                sent += flush(&sqs, &url, &mut entries).await?;
                if progress && sent % 10_000 == 0 {
                    eprint!("\rsent {sent}/{total}");
                }
            }
        }
    }
    sent += flush(&sqs, &url, &mut entries).await?;
    if progress {
        eprintln!();
    }
    println!("sent {sent} message(s) to {url}");
    Ok(())
}

async fn flush(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    entries: &mut Vec<SendMessageBatchRequestEntry>,
) -> anyhow::Result<u64> {
    if entries.is_empty() {
        return Ok(0);
    }
    let out = sqs
        .send_message_batch()
        .queue_url(url)
        .set_entries(Some(std::mem::take(entries)))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
    if let Some(f) = out.failed.first() {
        bail!(
            "{} message(s) rejected: {}: {}",
            out.failed.len(),
            f.code,
            f.message.clone().unwrap_or_default()
        );
    }
    Ok(out.successful.len() as u64)
}
