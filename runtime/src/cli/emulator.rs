//! `lockgate emulator`: the SQS-compatible server alone.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use lockgate_emulator::{Config, EmulatorConfig, RunningEmulator};

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (9324 is the port local SQS users expect).
    #[arg(long, default_value = "127.0.0.1:9324")]
    bind: SocketAddr,
    /// Directory for durable state.
    #[arg(long, default_value = ".lockgate")]
    data_dir: PathBuf,
    /// Keep everything in memory (nothing survives a restart).
    #[arg(long)]
    in_memory: bool,
    /// Account id for requests not signed with a 12-digit access key id.
    #[arg(long, default_value = "000000000000")]
    account_id: String,
    /// The region of requests that name none (unsigned, no `sqs.<region>.` host) and of queues
    /// stored before queues had regions; signed requests act in their own region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Require SigV4-signed requests from these credentials (a file of
    /// `ACCESS_KEY_ID SECRET_ACCESS_KEY` lines). Without it any credentials are accepted.
    #[arg(long)]
    credentials: Option<PathBuf>,
    /// A browser origin (e.g. `http://localhost:3000`) whose pages may call the emulator; may
    /// be given more than once. Other sites' pages are refused.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// Connections served at once (default: below the open-file limit).
    #[arg(long)]
    max_connections: Option<usize>,
    /// Cap the store's size in bytes: past it writes fail as on a full disk (and the emulator
    /// refuses every write until restarted), leaving the rest of the disk alone.
    #[arg(long, value_name = "BYTES")]
    max_store_size: Option<u64>,
    /// The keyring of encrypted queues' keys (default: `keyring` in the data directory),
    /// e.g. to keep keys off the disk that holds the messages.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    #[command(flatten)]
    tls: TlsArgs,
}

/// https on the emulator's port.
#[derive(clap::Args)]
pub struct TlsArgs {
    /// Serve https with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve https with a certificate for localhost, 127.0.0.1 and ::1 signed by a local CA
    /// made once in the data directory (`tls/ca.pem` is what clients trust).
    #[arg(long)]
    pub tls_self_signed: bool,
}

impl TlsArgs {
    /// Where the certificate comes from; self-signed files live in `data_dir` (or a directory
    /// under the system's temporary one for an in-memory emulator).
    pub fn source(
        &self,
        data_dir: Option<&std::path::Path>,
    ) -> Option<lockgate_emulator::TlsSource> {
        match (&self.tls_cert, &self.tls_key, self.tls_self_signed) {
            (Some(cert), Some(key), _) => Some(lockgate_emulator::TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (_, _, true) => Some(lockgate_emulator::TlsSource::SelfSigned {
                dir: data_dir.map_or_else(
                    || std::env::temp_dir().join("lockgate-tls"),
                    std::path::Path::to_path_buf,
                ),
            }),
            _ => None,
        }
    }
}

/// Tells the user how to trust a self-signed setup.
pub fn log_trust(emulator: &lockgate_emulator::RunningEmulator) {
    if let Some(ca) = emulator.ca_file() {
        let ca = ca.display();
        tracing::info!(
            "TLS: a certificate for localhost, 127.0.0.1 and ::1 signed by a local CA; trust it with AWS_CA_BUNDLE={ca} (AWS SDKs and CLI), NODE_EXTRA_CA_CERTS={ca} (Node.js), SSL_CERT_FILE={ca} (most others)"
        );
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.account_id.len() != 12 || !args.account_id.bytes().all(|b| b.is_ascii_digit()) {
        bail!("--account-id must be 12 digits, got {:?}", args.account_id);
    }
    let credentials = match &args.credentials {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading credentials {}", path.display()))?;
            let table = lockgate_emulator::load_credentials(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Some(std::sync::Arc::new(table))
        }
        None => None,
    };
    let authenticated = credentials.is_some();
    let tls = args
        .tls
        .source((!args.in_memory).then_some(args.data_dir.as_path()));
    let config = EmulatorConfig {
        bind: args.bind,
        data_dir: (!args.in_memory).then(|| args.data_dir.clone()),
        sqs: Config {
            account_id: args.account_id,
            region: args.region,
            credentials,
            max_store_bytes: args.max_store_size,
            key_file: args.key_file,
            ..Config::default()
        },
        limits: lockgate_emulator::Limits {
            max_connections: args
                .max_connections
                .unwrap_or(lockgate_emulator::Limits::default().max_connections),
            ..Default::default()
        },
        allowed_origins: args.allowed_origins,
        tls,
    };
    let emulator = RunningEmulator::start(config)
        .await
        .map_err(anyhow::Error::msg)
        .context("starting the emulator")?;
    let storage = if args.in_memory {
        "in memory".to_string()
    } else {
        format!("durable in {}", args.data_dir.display())
    };
    tracing::info!(
        "SQS emulator ready on {} ({storage}); set AWS_ENDPOINT_URL_SQS={}",
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
    super::shutdown_signal().await;
    tracing::info!("shutting down: finishing open requests and flushing the store");
    emulator.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}
