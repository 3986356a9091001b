//! `lockgate send`: send messages (a body, a file, stdin lines, or `--count N` copies).

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

#[derive(clap::Args)]
pub struct Args {
    /// Queue name or URL.
    pub queue: String,
    /// Message body (omit to read one message per stdin line, or use --file).
    pub body: Option<String>,
    /// Send the contents of this file as one message. A file larger than the queue's
    /// MaximumMessageSize goes to S3 and the message points at it (the SQS Extended Client
    /// convention: `ExtendedPayloadSize`), for functions using the SDK's `large-payloads`.
    #[arg(long, conflicts_with = "body")]
    pub file: Option<PathBuf>,
    /// The bucket large payloads go to (made if missing).
    #[arg(long, default_value = lockgate_runtime::payloads::DEFAULT_BUCKET)]
    pub bucket: String,
    /// The S3-compatible endpoint for large payloads (default: the SQS endpoint, whose port
    /// a Lockgate emulator also serves S3 on).
    #[arg(long, env = "AWS_ENDPOINT_URL_S3", value_name = "URL")]
    pub s3_endpoint: Option<String>,
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
    /// `json` prints `{"queueUrl", "sent", "messageIds"}` (ids in the order batches completed).
    #[arg(long, value_enum, default_value_t = super::Output::Text)]
    pub output: super::Output,
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
    let mut attributes: Vec<(String, MessageAttributeValue)> = args
        .attributes
        .iter()
        .map(|(k, v)| {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()?;
            Ok((k.clone(), value))
        })
        .collect::<anyhow::Result<_>>()?;
    let bodies: Vec<String> = match (&args.body, &args.file) {
        (Some(body), _) => vec![body.clone()],
        (None, Some(file)) => {
            let size = std::fs::metadata(file)
                .with_context(|| format!("reading {}", file.display()))?
                .len();
            if size > maximum_message_size(&sqs, &url).await? {
                if args.count > 1 {
                    bail!(
                        "a large payload is sent once (its object belongs to one message): drop --count"
                    );
                }
                let endpoint = args.s3_endpoint.as_deref().unwrap_or(&args.sqs.endpoint);
                let s3 = lockgate_runtime::payloads::s3_client(endpoint, &args.sqs.region);
                let (key, size) =
                    lockgate_runtime::payloads::offload(&s3, &args.bucket, file).await?;
                eprintln!(
                    "{} ({size} bytes) is larger than the queue's MaximumMessageSize: uploaded to s3://{}/{key}, the message points at it",
                    file.display(),
                    args.bucket
                );
                attributes.push((
                    lockgate_runtime::payloads::SIZE_ATTRIBUTE.to_string(),
                    MessageAttributeValue::builder()
                        .data_type("Number")
                        .string_value(size.to_string())
                        .build()?,
                ));
                vec![lockgate_runtime::payloads::pointer_body(&args.bucket, &key)]
            } else {
                vec![std::fs::read_to_string(file).with_context(|| {
                    format!("reading {} (a message body is text)", file.display())
                })?]
            }
        }
        (None, None) => std::io::stdin().lock().lines().collect::<Result<_, _>>()?,
    };
    if bodies.is_empty() {
        bail!("nothing to send: give a body, --file, or lines on stdin");
    }
    let total = bodies.len() as u64 * args.count;
    let mut progress = Progress::new(total);
    // FIFO sends go one batch at a time so a group keeps its order; other queues get several
    // batches in flight.
    let in_flight = if args.group.is_some() || url.ends_with(".fifo") {
        1
    } else {
        SEND_CONCURRENCY
    };
    let mut sending = tokio::task::JoinSet::new();
    let mut entries = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    let mut n = 0u64;
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
            for (name, value) in &attributes {
                entry = entry.message_attributes(name, value.clone());
            }
            entries.push(entry.build()?);
            n += 1;
            if entries.len() == 10 {
                if sending.len() >= in_flight {
                    ids.extend(sending.join_next().await.expect("a batch in flight")??);
                    progress.update(ids.len() as u64);
                }
                sending.spawn(flush(
                    sqs.clone(),
                    url.clone(),
                    std::mem::take(&mut entries),
                ));
            }
        }
    }
    if !entries.is_empty() {
        if sending.len() >= in_flight {
            ids.extend(sending.join_next().await.expect("a batch in flight")??);
        }
        sending.spawn(flush(sqs.clone(), url.clone(), entries));
    }
    while let Some(batch) = sending.join_next().await {
        ids.extend(batch??);
        progress.update(ids.len() as u64);
    }
    progress.finish();
    match args.output {
        super::Output::Text => outln!("sent {} message(s) to {url}", ids.len())?,
        super::Output::Json => super::print_json(&serde_json::json!({
            "queueUrl": url,
            "sent": ids.len(),
            "messageIds": ids,
        }))?,
    }
    Ok(())
}

/// The queue's MaximumMessageSize: a file above it is offloaded.
async fn maximum_message_size(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<u64> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::MaximumMessageSize)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot read the queue's MaximumMessageSize: {}",
                aws_sdk_sqs::error::DisplayErrorContext(&e)
            )
        })?;
    Ok(attributes
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::MaximumMessageSize).cloned())
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024 * 1024))
}

/// SendMessageBatch calls in flight at once for standard queues.
const SEND_CONCURRENCY: usize = 8;

/// A progress bar on stderr for large sends: redrawn in place on a terminal, a line every ten
/// percent otherwise.
struct Progress {
    total: u64,
    started: Instant,
    tty: bool,
    last_draw: Option<Instant>,
    last_tenth: u64,
}

impl Progress {
    /// Sends smaller than this print no progress.
    const THRESHOLD: u64 = 1000;
    const WIDTH: u64 = 30;

    fn new(total: u64) -> Self {
        Self {
            total,
            started: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            last_draw: None,
            last_tenth: 0,
        }
    }

    fn update(&mut self, sent: u64) {
        if self.total < Self::THRESHOLD {
            return;
        }
        let rate = sent as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        if self.tty {
            let due = self
                .last_draw
                .is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
            if due || sent == self.total {
                let filled = (sent * Self::WIDTH / self.total) as usize;
                let bar = format!(
                    "{}{}",
                    "#".repeat(filled),
                    "-".repeat(Self::WIDTH as usize - filled)
                );
                eprint!(
                    "\r[{bar}] {:>3}% {sent}/{} {rate:.0} msgs/s",
                    sent * 100 / self.total,
                    self.total
                );
                self.last_draw = Some(Instant::now());
            }
        } else {
            let tenth = sent * 10 / self.total;
            if tenth > self.last_tenth {
                self.last_tenth = tenth;
                eprintln!("sent {sent}/{} ({rate:.0} msgs/s)", self.total);
            }
        }
    }

    fn finish(&self) {
        if self.tty && self.total >= Self::THRESHOLD {
            eprintln!();
        }
    }
}

async fn flush(
    sqs: aws_sdk_sqs::Client,
    url: String,
    entries: Vec<SendMessageBatchRequestEntry>,
) -> anyhow::Result<Vec<String>> {
    let out = sqs
        .send_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
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
    Ok(out.successful.into_iter().map(|e| e.message_id).collect())
}
