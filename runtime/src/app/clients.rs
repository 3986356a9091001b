//! SQS clients, made one way for every command: placeholder credentials for the emulator or an
//! SQS-compatible endpoint, or the AWS SDK's default configuration for real SQS.

use aws_sdk_sqs::config::StalledStreamProtectionConfig;

/// An SQS client for `endpoint` (the emulator accepts any credentials unless it was started
/// with `--credentials`; `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` are used when set).
pub fn endpoint_client(endpoint: &str, region: &str) -> aws_sdk_sqs::Client {
    endpoint_client_trusting(endpoint, region, None)
}

/// [`endpoint_client`] for an https endpoint whose certificate `ca_pem` signed (the embedded
/// emulator's own CA); `None` trusts what the system trusts.
pub fn endpoint_client_trusting(
    endpoint: &str,
    region: &str,
    ca_pem: Option<Vec<u8>>,
) -> aws_sdk_sqs::Client {
    let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "lockgate".into());
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "lockgate".into());
    let mut config = aws_sdk_sqs::Config::builder();
    if let Some(ca_pem) = ca_pem {
        use aws_smithy_http_client::tls;
        let trust = tls::TlsContext::builder()
            .with_trust_store(tls::TrustStore::empty().with_pem_certificate(ca_pem))
            .build()
            .expect("a trust store of one certificate");
        config = config.http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .tls_context(trust)
                .build_https(),
        );
    }
    let config = config
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            key, secret, None, None, "lockgate",
        ))
        // SQS bodies are small and a long poll is silent by design: the throughput watchdog
        // (a timer per body) only costs time here.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// An SQS client configured the way every AWS SDK configures itself: the default credential
/// chain (environment, shared files and profiles, credential processes, container and instance
/// roles), the region chain (falling back to `region`) and `AWS_ENDPOINT_URL_SQS`; `endpoint`
/// overrides the endpoint. Fails early, with the reason, when no credentials can be found.
pub async fn aws_client(
    endpoint: Option<&str>,
    profile: Option<&str>,
    region: &str,
) -> anyhow::Result<aws_sdk_sqs::Client> {
    use aws_config::meta::region::RegionProviderChain;
    use aws_sdk_sqs::config::ProvideCredentials;

    let fallback = aws_sdk_sqs::config::Region::new(region.to_string());
    // A chosen profile's region comes before the environment's default chain's.
    let regions = match profile {
        Some(profile) => RegionProviderChain::first_try(
            aws_config::profile::ProfileFileRegionProvider::builder()
                .profile_name(profile)
                .build(),
        )
        .or_else(fallback),
        None => RegionProviderChain::default_provider().or_else(fallback),
    };
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(regions);
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let shared = loader.load().await;
    let credentials = shared
        .credentials_provider()
        .ok_or_else(|| anyhow::anyhow!("the AWS SDK configuration has no credential provider"))?;
    credentials.provide_credentials().await.map_err(|e| {
        anyhow::anyhow!(
            "no AWS credentials: {}",
            aws_sdk_sqs::error::DisplayErrorContext(&e)
        )
    })?;
    let config = aws_sdk_sqs::config::Builder::from(&shared)
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .build();
    Ok(aws_sdk_sqs::Client::from_conf(config))
}

/// A queue given by name or URL, as a URL; a clear error when it does not exist.
pub async fn resolve_queue(sqs: &aws_sdk_sqs::Client, queue: &str) -> anyhow::Result<String> {
    if queue.starts_with("http://") || queue.starts_with("https://") {
        return Ok(queue.to_string());
    }
    match sqs.get_queue_url().queue_name(queue).send().await {
        Ok(out) => Ok(out.queue_url.unwrap_or_default()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_queue_does_not_exist()) =>
        {
            anyhow::bail!("queue {queue} does not exist (see `lockgate queues`)")
        }
        Err(e) => anyhow::bail!(
            "cannot reach SQS: {}",
            aws_sdk_sqs::error::DisplayErrorContext(&e)
        ),
    }
}
