//! The emulator as a command: `lockgate-emulator` (this crate's binary) and `lockgate emulator`
//! share these flags and this loop. Every flag can also come from a `LOCKGATE_*` environment
//! variable (`--bind` from `LOCKGATE_BIND`, …), which is how a container is configured.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};

use crate::template::StackOptions;
use crate::{Config, EmulatorConfig, Limits, RunningEmulator, TlsSource};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (9324 is the port local SQS users expect).
    #[arg(long, env = "LOCKGATE_BIND", default_value = "127.0.0.1:9324")]
    pub bind: SocketAddr,
    /// Directory for durable state.
    #[arg(long, env = "LOCKGATE_DATA_DIR", default_value = ".lockgate")]
    pub data_dir: PathBuf,
    /// Keep everything in memory (nothing survives a restart).
    #[arg(long, env = "LOCKGATE_IN_MEMORY")]
    pub in_memory: bool,
    /// Account id for requests not signed with a 12-digit access key id.
    #[arg(long, env = "LOCKGATE_ACCOUNT_ID", default_value = "000000000000")]
    pub account_id: String,
    /// The region of requests that name none (unsigned, no `sqs.<region>.` host) and of queues
    /// stored before queues had regions; signed requests act in their own region. Default:
    /// `AWS_REGION`, else us-east-1.
    #[arg(long, env = "LOCKGATE_REGION")]
    pub region: Option<String>,
    /// Require SigV4-signed requests from these credentials (a file of
    /// `ACCESS_KEY_ID SECRET_ACCESS_KEY` lines). Without it any credentials are accepted.
    #[arg(long, env = "LOCKGATE_CREDENTIALS")]
    pub credentials: Option<PathBuf>,
    /// A browser origin (e.g. `http://localhost:3000`) whose pages may call the emulator; may
    /// be given more than once (comma-separated in the variable). Other sites' pages are
    /// refused.
    #[arg(
        long = "allow-origin",
        env = "LOCKGATE_ALLOW_ORIGIN",
        value_name = "ORIGIN",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Connections served at once (default: below the open-file limit).
    #[arg(long, env = "LOCKGATE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Cap the store's size in bytes: past it writes fail as on a full disk (and the emulator
    /// refuses every write until restarted), leaving the rest of the disk alone.
    #[arg(long, env = "LOCKGATE_MAX_STORE_SIZE", value_name = "BYTES")]
    pub max_store_size: Option<u64>,
    /// The keyring of encrypted queues' keys (default: `keyring` in the data directory),
    /// e.g. to keep keys off the disk that holds the messages.
    #[arg(long, env = "LOCKGATE_KEY_FILE", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Memory for message bodies about to be delivered (a durable emulator keeps bodies on
    /// disk and only an index of each message in memory): bytes, or with KiB, MiB or GiB.
    #[arg(long, env = "LOCKGATE_CACHE_SIZE", value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub cache_size: usize,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub declare: DeclareArgs,
}

/// https on the emulator's port.
#[derive(clap::Args, Debug)]
pub struct TlsArgs {
    /// Serve https with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(
        long,
        env = "LOCKGATE_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        env = "LOCKGATE_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Serve https with a certificate for localhost, 127.0.0.1 and ::1 signed by a local CA
    /// made once in the data directory (`tls/ca.pem` is what clients trust).
    #[arg(long, env = "LOCKGATE_TLS_SELF_SIGNED")]
    pub tls_self_signed: bool,
}

impl TlsArgs {
    /// Where the certificate comes from; self-signed files live in `data_dir` (or a directory
    /// under the system's temporary one for an in-memory emulator).
    pub fn source(&self, data_dir: Option<&Path>) -> Option<TlsSource> {
        match (&self.tls_cert, &self.tls_key, self.tls_self_signed) {
            (Some(cert), Some(key), _) => Some(TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (_, _, true) => Some(TlsSource::SelfSigned {
                dir: data_dir.map_or_else(
                    || std::env::temp_dir().join("lockgate-tls"),
                    Path::to_path_buf,
                ),
            }),
            _ => None,
        }
    }
}

/// Queues created at start (see [`crate::declare`]).
#[derive(clap::Args, Debug)]
pub struct DeclareArgs {
    /// Create a SAM or CloudFormation template's queues (with their redrive policies and
    /// attributes) at start; its functions are not run (that is `lockgate up`).
    #[arg(long = "template", env = "LOCKGATE_TEMPLATE", value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Values for the template's Parameters, as `Key=Value` (several may follow;
    /// comma-separated in the variable).
    #[arg(
        long = "parameter-overrides",
        env = "LOCKGATE_PARAMETER_OVERRIDES",
        num_args = 1..,
        value_delimiter = ',',
        value_name = "KEY=VALUE",
        requires = "template"
    )]
    pub parameter_overrides: Vec<String>,
    /// Create the queues of a queues file at start: `name: {Attribute: value, …}` in YAML or
    /// JSON (a RedrivePolicy may name its dead-letter queue by name).
    #[arg(long = "queues", env = "LOCKGATE_QUEUES", value_name = "FILE")]
    pub queues: Option<PathBuf>,
}

impl DeclareArgs {
    /// The queues to create at start.
    pub fn load(&self, region: &str) -> anyhow::Result<crate::declare::Declared> {
        let mut declared = crate::declare::Declared::new();
        if let Some(path) = &self.template {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read template {}", path.display()))?;
            let mut parameter_overrides = std::collections::BTreeMap::new();
            for pair in &self.parameter_overrides {
                let (key, value) = pair.split_once('=').ok_or_else(|| {
                    anyhow::anyhow!("--parameter-overrides {pair}: expected Key=Value")
                })?;
                parameter_overrides.insert(key.to_string(), value.to_string());
            }
            let options = StackOptions {
                parameter_overrides,
                region: Some(region.to_string()),
            };
            declared.extend(
                crate::declare::from_template(&text, &options)
                    .with_context(|| format!("in {}", path.display()))?,
            );
        }
        if let Some(path) = &self.queues {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read queues file {}", path.display()))?;
            for (id, queue) in crate::declare::from_queues_file(&text)
                .with_context(|| format!("in {}", path.display()))?
            {
                if declared.values().any(|q| q.name == queue.name) {
                    bail!("queue {} is declared twice", queue.name);
                }
                declared.insert(id, queue);
            }
        }
        Ok(declared)
    }
}

/// The region an emulator command runs in: `--region`, else `AWS_REGION`, else us-east-1.
pub fn region(flag: &Option<String>) -> String {
    flag.clone()
        .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
        .unwrap_or_else(|| "us-east-1".into())
}

/// Runs the emulator until SIGINT or SIGTERM, then stops it cleanly (open requests finish,
/// the store is flushed).
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    if args.account_id.len() != 12 || !args.account_id.bytes().all(|b| b.is_ascii_digit()) {
        bail!("--account-id must be 12 digits, got {:?}", args.account_id);
    }
    let region = region(&args.region);
    let credentials = match &args.credentials {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading credentials {}", path.display()))?;
            let table = crate::load_credentials(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Some(Arc::new(table))
        }
        None => None,
    };
    let authenticated = credentials.is_some();
    let declare = args.declare.load(&region)?;
    let tls = args
        .tls
        .source((!args.in_memory).then_some(args.data_dir.as_path()));
    let config = EmulatorConfig {
        bind: args.bind,
        data_dir: (!args.in_memory).then(|| args.data_dir.clone()),
        sqs: Config {
            account_id: args.account_id,
            region,
            credentials,
            max_store_bytes: args.max_store_size,
            key_file: args.key_file,
            cache_bytes: args.cache_size,
            ..Config::default()
        },
        limits: Limits {
            max_connections: args
                .max_connections
                .unwrap_or(Limits::default().max_connections),
            ..Default::default()
        },
        allowed_origins: args.allowed_origins,
        tls,
        declare,
    };
    let declared = config.declare.len();
    let emulator = RunningEmulator::start(config)
        .await
        .context("starting the emulator")?;
    let storage = if args.in_memory {
        "in memory".to_string()
    } else {
        format!("durable in {}", args.data_dir.display())
    };
    let queues = if declared > 0 {
        format!(", {declared} queue(s) declared")
    } else {
        String::new()
    };
    tracing::info!(
        "SQS emulator ready on {} ({storage}{queues}); set AWS_ENDPOINT_URL_SQS={}",
        emulator.endpoint(),
        emulator.endpoint()
    );
    log_trust(&emulator);
    if !emulator.addr.ip().is_loopback() && !authenticated {
        tracing::warn!(
            "WARNING: listening on {} without --credentials: anyone who can reach this address can read, send and delete messages in every queue",
            emulator.addr
        );
    }
    shutdown_signal().await;
    tracing::info!("shutting down: finishing open requests and flushing the store");
    emulator.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Tells the user how to trust a self-signed setup.
pub fn log_trust(emulator: &RunningEmulator) {
    if let Some(ca) = emulator.ca_file() {
        let ca = ca.display();
        tracing::info!(
            "TLS: a certificate for localhost, 127.0.0.1 and ::1 signed by a local CA; trust it with AWS_CA_BUNDLE={ca} (AWS SDKs and CLI), NODE_EXTRA_CA_CERTS={ca} (Node.js), SSL_CERT_FILE={ca} (most others)"
        );
    }
}

/// Resolves on SIGINT or SIGTERM (a container's `docker stop`).
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// `lockgate-emulator health`: what a container's HEALTHCHECK runs (the image has no shell or
/// curl).
#[derive(clap::Args, Debug)]
pub struct HealthArgs {
    /// The emulator's address (a wildcard bind is checked on loopback).
    #[arg(long, env = "LOCKGATE_BIND", default_value = "127.0.0.1:9324")]
    pub bind: SocketAddr,
}

/// GET /health: Ok when the emulator answers that it is ready. An emulator serving https
/// (which answers a plain request by naming https) counts as up.
pub async fn health(args: HealthArgs) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut addr = args.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(
                format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await?;
        anyhow::Ok(String::from_utf8_lossy(&reply).into_owned())
    };
    let reply = tokio::time::timeout(std::time::Duration::from_secs(5), check)
        .await
        .context("no answer within 5 s")?
        .with_context(|| format!("cannot reach the emulator on {addr}"))?;
    let status = reply.split(' ').nth(1).unwrap_or_default();
    if status == "200" || reply.contains("https") {
        Ok(())
    } else {
        bail!("not ready: {}", reply.lines().last().unwrap_or_default())
    }
}

/// A size in bytes: a number, optionally followed by KiB, MiB or GiB (or K, M, G, which
/// mean the same here).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: usize = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 64MiB, 1GiB, 1048576)"))?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KiB" | "KB" | "k" => 10,
        "M" | "MiB" | "MB" => 20,
        "G" | "GiB" | "GB" => 30,
        other => return Err(format!("unknown size unit {other:?} (use KiB, MiB or GiB)")),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_read_with_binary_units() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
        assert!(
            parse_size("5TiB")
                .unwrap_err()
                .contains("unknown size unit")
        );
        assert!(parse_size("99999999999999999999GiB").is_err());
    }
}
