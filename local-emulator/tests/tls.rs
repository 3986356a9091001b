//! https on the emulator's port: the self-signed setup is made once with a private key only
//! its owner reads, plain HTTP is told to use https, and the store still works behind it.
//! (boto3 over https trusting the generated CA: tests/python/test_tls.py.)

use std::os::unix::fs::PermissionsExt;

use lockgate_emulator::{EmulatorConfig, RunningEmulator, StartError, TlsSource};
use lockgate_test_support::raw_request;

async fn start(dir: &std::path::Path) -> RunningEmulator {
    let mut config = EmulatorConfig::ephemeral();
    config.data_dir = Some(dir.to_path_buf());
    config.tls = Some(TlsSource::SelfSigned {
        dir: dir.to_path_buf(),
    });
    RunningEmulator::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_setup_is_made_once_and_plain_http_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let emulator = start(dir.path()).await;
    assert!(emulator.endpoint().starts_with("https://"));
    let ca = emulator.ca_file().unwrap().to_path_buf();
    assert_eq!(ca, dir.path().join("tls/ca.pem"));
    let key_mode = std::fs::metadata(dir.path().join("tls/key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    let ca_pem = std::fs::read_to_string(&ca).unwrap();
    assert!(ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));

    let (status, _, body) = raw_request(emulator.addr, "GET", "/health", &[], b"").await;
    assert_eq!(status, 400);
    assert!(body.contains("speaks https"), "{body}");
    emulator.shutdown().await;

    // A restart keeps the certificate clients already trust.
    let emulator = start(dir.path()).await;
    assert_eq!(std::fs::read_to_string(&ca).unwrap(), ca_pem);
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_certificate_files_are_a_clear_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, "not a certificate").unwrap();
    std::fs::write(&key, "not a key").unwrap();
    let mut config = EmulatorConfig::ephemeral();
    config.tls = Some(TlsSource::Files {
        cert: cert.clone(),
        key,
    });
    let err = RunningEmulator::start(config).await.err().unwrap();
    assert!(matches!(err, StartError::Tls(_)), "{err:?}");
    let err = err.to_string();
    assert!(err.contains(&cert.display().to_string()), "{err}");
}
