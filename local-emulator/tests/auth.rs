//! Opt-in SigV4 verification: correctly signed requests pass (in the signer's account when its
//! key id has 12 digits); a wrong secret, an unknown key or no signature are refused as SQS
//! refuses them.

use lockgate_test_support as common;

use std::collections::HashMap;
use std::sync::Arc;

use lockgate_emulator::{EmulatorConfig, RunningEmulator};

async fn start() -> RunningEmulator {
    let mut config = EmulatorConfig::ephemeral();
    let mut table = HashMap::new();
    table.insert("AKIDGOOD".to_string(), "good-secret".to_string());
    table.insert("111122223333".to_string(), "tenant-secret".to_string());
    config.sqs.credentials = Some(Arc::new(table));
    RunningEmulator::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_requests_pass_and_others_are_refused() {
    let emulator = start().await;
    let endpoint = emulator.endpoint();

    let good = common::client_with_secret(&endpoint, "AKIDGOOD", "good-secret");
    let url = good
        .create_queue()
        .queue_name("private")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    good.send_message()
        .queue_url(&url)
        .message_body("signed body ✓")
        .send()
        .await
        .unwrap();
    let got = good
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(got[0].body.as_deref(), Some("signed body ✓"));

    let tenant = common::client_with_secret(&endpoint, "111122223333", "tenant-secret");
    let tenant_url = tenant
        .create_queue()
        .queue_name("mine")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    assert!(tenant_url.contains("/111122223333/mine"));

    let wrong_secret = common::client_with_secret(&endpoint, "AKIDGOOD", "not-the-secret");
    let err = wrong_secret.list_queues().send().await.unwrap_err();
    let (code, message, status) = common::error_of(err);
    assert_eq!((code.as_str(), status), ("SignatureDoesNotMatch", 403));
    assert!(message.starts_with("The request signature we calculated does not match"));

    let unknown = common::client_with_secret(&endpoint, "AKIDUNKNOWN", "whatever");
    let err = unknown.list_queues().send().await.unwrap_err();
    assert_eq!(
        common::error_of(err),
        (
            "InvalidClientTokenId".into(),
            "The security token included in the request is invalid.".into(),
            403
        )
    );

    let (status, _, body) = common::raw_post(
        emulator.addr,
        &[
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", "AmazonSQS.ListQueues"),
        ],
        b"{}",
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.contains("MissingAuthenticationToken"), "{body}");
    emulator.shutdown().await;
}
