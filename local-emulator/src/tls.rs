//! TLS on the emulator's port (rustls): a certificate chain and key from PEM files, or a local
//! certificate authority and a certificate for `localhost`, `127.0.0.1` and `::1` made once
//! in the data directory (`tls/`), which clients are told to trust (`AWS_CA_BUNDLE=…`).
//! With TLS on, a plain-HTTP request gets a short answer saying to use https, then the
//! connection closes.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Where the certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// A PEM certificate chain (leaf first) and its PEM private key.
    Files { cert: PathBuf, key: PathBuf },
    /// The data directory's own CA and certificate, made on first use.
    SelfSigned { dir: PathBuf },
}

/// A loaded TLS setup.
#[derive(Clone)]
pub struct Tls {
    pub acceptor: TlsAcceptor,
    /// The certificate clients must trust, for a self-signed setup.
    pub ca_file: Option<PathBuf>,
}

impl Tls {
    pub fn load(source: &TlsSource) -> Result<Self, String> {
        let (cert, key, ca_file) = match source {
            TlsSource::Files { cert, key } => (cert.clone(), key.clone(), None),
            TlsSource::SelfSigned { dir } => {
                let files = self_signed(dir)?;
                (files.cert, files.key, Some(files.ca))
            }
        };
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
            .map_err(|e| format!("cannot read the certificate {}: {e}", cert.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{} is not a PEM certificate chain: {e}", cert.display()))?;
        if chain.is_empty() {
            return Err(format!("{} holds no certificate", cert.display()));
        }
        let private_key = PrivateKeyDer::from_pem_file(&key)
            .map_err(|e| format!("cannot read the private key {}: {e}", key.display()))?;
        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, private_key)
            .map_err(|e| {
                format!(
                    "{} and {} do not make a usable certificate: {e}",
                    cert.display(),
                    key.display()
                )
            })?;
        let mut config = config;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            ca_file,
        })
    }
}

struct SelfSignedFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// `<dir>/tls/{ca.pem, cert.pem, key.pem}`, made on first use (the key 0600; the CA's own key
/// is not kept: nothing else is ever signed with it).
fn self_signed(dir: &Path) -> Result<SelfSignedFiles, String> {
    let tls = dir.join("tls");
    let files = SelfSignedFiles {
        ca: tls.join("ca.pem"),
        cert: tls.join("cert.pem"),
        key: tls.join("key.pem"),
    };
    if files.ca.is_file() && files.cert.is_file() && files.key.is_file() {
        return Ok(files);
    }
    std::fs::create_dir_all(&tls).map_err(|e| format!("cannot create {}: {e}", tls.display()))?;
    let made = |e: rcgen::Error| format!("cannot make a certificate: {e}");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(made)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Lockgate local CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = rcgen::KeyPair::generate().map_err(made)?;
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(made)?;
    let mut params = rcgen::CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])
    .map_err(made)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    let key = rcgen::KeyPair::generate().map_err(made)?;
    let cert = params.signed_by(&key, &ca).map_err(made)?;
    write(&files.key, key.serialize_pem().as_bytes(), 0o600)?;
    write(&files.cert, cert.pem().as_bytes(), 0o644)?;
    write(&files.ca, ca.pem().as_bytes(), 0o644)?;
    Ok(files)
}

fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// What a plain-HTTP client gets from a TLS port.
pub const PLAIN_HTTP_REFUSED: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 58\r\n\r\nThis endpoint speaks https: use an https:// endpoint URL.\n";
