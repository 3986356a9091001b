//! `lockgate up --tls-self-signed`: the embedded emulator serves https with its own CA, the
//! mappings' client trusts it, and so do the functions (they are given the CA), which call the
//! emulator over https themselves.

mod harness;

use harness::{App, common};

const RESOURCES: &str = r#"  Work:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: work
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: worker
      Runtime: python3.12
      Handler: app.handler
      CodeUri: worker/
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
"#;

const HANDLER: &str = r#"import os, ssl, urllib.request

def handler(event, context):
    endpoint = os.environ["AWS_ENDPOINT_URL_SQS"]
    trusted = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    for record in event["Records"]:
        with urllib.request.urlopen(endpoint + "/health", context=trusted, timeout=30) as reply:
            node = os.environ["NODE_EXTRA_CA_CERTS"].endswith("ca.pem")
            print(f"{record['body']}: {endpoint.split(':')[0]} health {reply.status} node-ca {node}", flush=True)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_and_its_functions_speak_https_to_the_embedded_emulator() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("worker")).unwrap();
    std::fs::write(dir.path().join("worker/app.py"), HANDLER).unwrap();
    let data = dir.path().join("data");
    let (child, endpoint, output) = App::launch(
        &dir,
        RESOURCES,
        &["--tls-self-signed", "--data-dir", data.to_str().unwrap()],
        &[("LOCKGATE_PYTHON_BOOTSTRAP", "builtin")],
    );
    let _stop = Kill(child);
    let endpoint = endpoint.unwrap();
    assert!(endpoint.starts_with("https://"), "{endpoint}");
    let ca = std::fs::read(data.join("tls/ca.pem")).unwrap();
    let client =
        lockgate_runtime::app::clients::endpoint_client_trusting(&endpoint, "us-east-1", Some(ca));
    let url = client
        .get_queue_url()
        .queue_name("work")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    assert!(url.starts_with("https://"), "{url}");
    client
        .send_message()
        .queue_url(&url)
        .message_body("m1")
        .send()
        .await
        .unwrap();
    common::eventually("the function's https call", || {
        let seen = output
            .lock()
            .unwrap()
            .iter()
            .any(|l| l == "[worker] m1: https health 200 node-ca True");
        async move { seen.then_some(()) }
    })
    .await;
    // The mapping deleted it over https too.
    common::eventually("the queue to empty", || async {
        let attrs = client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        let n = |k| attrs.get(&k).cloned().unwrap_or_default();
        use aws_sdk_sqs::types::QueueAttributeName as A;
        (n(A::ApproximateNumberOfMessages) == "0"
            && n(A::ApproximateNumberOfMessagesNotVisible) == "0")
            .then_some(())
    })
    .await;
}

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
