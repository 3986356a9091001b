//! Template loading and validation, including what only the service checks.

use super::*;

fn parse(yaml: &str) -> anyhow::Result<Template> {
    Template::parse(yaml, PathBuf::from("."))
}

fn app(queue_props: &str, event_props: &str, function_props: &str) -> String {
    format!(
        r#"
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        A: global
        B: global
Resources:
  Dlq:
    Type: AWS::SQS::Queue
  Q:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
{queue_props}
  Fn:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: orders
    Properties:
      CodeUri: functions/orders
      Runtime: provided.al2023
{function_props}
      Events:
        E:
          Type: SQS
          Properties:
            Queue: !GetAtt Q.Arn
{event_props}
  Topic:
    Type: AWS::SNS::Topic
"#
    )
}

#[test]
fn the_bundled_template_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let t = Template::load(&path).unwrap();
    assert_eq!(t.functions.len(), 5);
    assert_eq!(t.queues.len(), 10);
    assert_eq!(
        t.functions["ReceiptsFunction"].kind,
        FunctionKind::Python {
            handler: "app.handler".into(),
            version: "3.12".into()
        }
    );
    assert_eq!(
        t.functions["ThumbnailsFunction"].kind,
        FunctionKind::Node {
            handler: "index.handler".into(),
            version: "22".into()
        }
    );
    assert_eq!(
        t.functions["WebhooksFunction"].kind,
        FunctionKind::Wasm {
            component: "webhooks.wasm".into()
        }
    );
    let orders = &t.functions["OrdersFunction"];
    assert_eq!(
        orders.kind,
        FunctionKind::Native {
            binary: "orders".into()
        }
    );
    assert_eq!(orders.timeout_s, 10);
    assert!(orders.events[0].report_batch_item_failures);
    assert_eq!(
        orders.events[0].scaling,
        Scaling::OnDemand {
            max_concurrency: Some(5)
        }
    );
    assert!(t.queues["SequenceQueue"].fifo);
}

#[test]
fn globals_merge_and_unknown_resources_are_skipped() {
    let t = parse(&app(
        "",
        "",
        "      Environment:\n        Variables:\n          B: own\n",
    ))
    .unwrap();
    let f = &t.functions["Fn"];
    assert_eq!(f.environment["A"], Expr::Literal("global".into()));
    assert_eq!(f.environment["B"], Expr::Literal("own".into()));
    assert_eq!(
        t.skipped,
        vec![("Topic".to_string(), "AWS::SNS::Topic".to_string())]
    );
    let e = &f.events[0];
    assert_eq!((e.batch_size, e.window_s, e.enabled), (10, 0, true));
    assert_eq!(e.queue, Expr::GetAtt("Q".into(), "Arn".into()));
}

#[test]
fn service_side_rules_are_checked_with_resource_names() {
    let cases = [
        (
            app(
                "",
                "            BatchSize: 10001\n            MaximumBatchingWindowInSeconds: 1\n",
                "",
            ),
            "BatchSize",
        ),
        (
            app("", "            MaximumBatchingWindowInSeconds: 301\n", ""),
            "MaximumBatchingWindowInSeconds",
        ),
        (
            app(
                "",
                "            ScalingConfig:\n              MaximumConcurrency: 1\n",
                "",
            ),
            "MaximumConcurrency",
        ),
        (
            app("", "            FunctionResponseTypes: [Bogus]\n", ""),
            "FunctionResponseTypes",
        ),
        (
            app("", "", "      Timeout: 60\n"),
            "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds",
        ),
        (app("", "", "      Timeout: 901\n"), "Timeout"),
        (app("", "", "      MemorySize: 64\n"), "MemorySize"),
        (app("      DelaySeconds: 901\n", "", ""), "DelaySeconds"),
        (
            app(
                "      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt Nope.Arn\n        maxReceiveCount: 3\n",
                "",
                "",
            ),
            "Nope",
        ),
        (
            app("      Colour: blue\n", "", ""),
            "unknown property Colour",
        ),
        (
            app(
                "",
                "            FilterCriteria:\n              Filters:\n                - Pattern: 'not json'\n",
                "",
            ),
            "not JSON",
        ),
        (
            app(
                "",
                "            FilterCriteria:\n              Filters:\n                - Pattern: '{\"attributes\":{\"SenderId\":[\"x\"]}}'\n",
                "",
            ),
            "only support filtering on the body key, not \"attributes\"",
        ),
        (
            app("", "            BatchSize: 11\n", ""),
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
        ),
    ];
    for (yaml, expected) in cases {
        let err = format!("{:#}", parse(&yaml).unwrap_err());
        assert!(err.contains(expected), "expected {expected:?} in: {err}");
        assert!(
            err.contains("function Fn") || err.contains("queue Q"),
            "resource named in: {err}"
        );
    }
}

#[test]
fn fifo_mapping_rules() {
    let fifo = |event: &str| {
        format!(
            r#"
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: f
      Events:
        E:
          Type: SQS
          Properties:
            Queue: !GetAtt Q.Arn
{event}
"#
        )
    };
    let t = parse(&fifo("")).unwrap();
    assert_eq!(t.queues["Q"].name, "Q.fifo");
    let err = format!(
        "{:#}",
        parse(&fifo(
            "            BatchSize: 20\n            MaximumBatchingWindowInSeconds: 1\n"
        ))
        .unwrap_err()
    );
    assert!(err.contains("FIFO"), "{err}");
    let err = format!(
        "{:#}",
        parse(&fifo("            MaximumBatchingWindowInSeconds: 1\n")).unwrap_err()
    );
    assert!(err.contains("not supported for FIFO"), "{err}");
}

#[test]
fn a_wasm_handler_is_a_component_function() {
    let t = parse(&app("", "", "      Handler: webhooks.wasm\n")).unwrap();
    assert_eq!(
        t.functions["Fn"].kind,
        FunctionKind::Wasm {
            component: "webhooks.wasm".into()
        }
    );
    let err = format!(
        "{:#}",
        parse(&app("", "", "      Handler: dist/webhooks.wasm\n")).unwrap_err()
    );
    assert!(
        err.contains("function Fn") && err.contains("component file"),
        "{err}"
    );
}

/// The loader takes any text: nested YAML far deeper than any template, and random mutations
/// of the bundled template, end in a template or an error, never a panic or a stack overflow.
mod hostile_input {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn deep_nesting_is_an_error() {
        for deep in [
            format!("Resources: {}{}", "[".repeat(100_000), "]".repeat(100_000)),
            format!(
                "Resources:\n  Q: {}x{}",
                "{a: ".repeat(50_000),
                "}".repeat(50_000)
            ),
            format!(
                "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: {}x{}",
                "!Sub [".repeat(20_000),
                "]".repeat(20_000)
            ),
        ] {
            let err = parse(&deep).unwrap_err();
            assert!(err.to_string().contains("levels deep"), "{err:#}");
        }
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let text = format!(
            "# {}\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: \"{}\"\n",
            "[".repeat(500),
            "{".repeat(500)
        );
        let verdict = parse(&text).map(|_| ()).map_err(|e| format!("{e:#}"));
        assert!(
            !verdict
                .as_ref()
                .err()
                .is_some_and(|e| e.contains("levels deep")),
            "{verdict:?}"
        );
        let big = format!("Resources: {{}}\n#{}", "x".repeat(2 * 1024 * 1024));
        assert!(parse(&big).unwrap_err().to_string().contains("at most"));
    }

    fn bundled() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap()
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Flip(usize, u8),
        Cut(usize),
        Insert(usize, String),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let special = prop::sample::select(vec![
            "!Ref ", "!GetAtt ", "!Sub ", "!If ", "[", "]", "{", "}", ": ", "\n  ", "- ", "&a ",
            "*a", "<<: *a", "'", "\"", "${", "\t", "#", "\u{0}", "\u{FEFF}",
        ]);
        prop_oneof![
            (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Flip(at, b)),
            any::<usize>().prop_map(Mutation::Cut),
            (any::<usize>(), special).prop_map(|(at, s)| Mutation::Insert(at, s.to_string())),
        ]
    }

    /// 64 in the test command; `PROPTEST_CASES` asks for more (scripts/fuzz.sh).
    fn cases() -> u32 {
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(64)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

        #[test]
        fn mutated_templates_never_panic(mutations in prop::collection::vec(mutation(), 1..8)) {
            let mut bytes = bundled().into_bytes();
            for m in mutations {
                let len = bytes.len().max(1);
                match m {
                    Mutation::Flip(at, b) => {
                        if !bytes.is_empty() {
                            bytes[at % len] = b;
                        }
                    }
                    Mutation::Cut(at) => bytes.truncate(at % len),
                    Mutation::Insert(at, s) => {
                        let at = at % len.min(bytes.len() + 1);
                        bytes.splice(at..at, s.into_bytes());
                    }
                }
            }
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }
    }
}

#[test]
fn python_functions_and_unsupported_runtimes() {
    let python = Template::parse(
        r#"
Resources:
  Q:
    Type: AWS::SQS::Queue
  Py:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/py
      Runtime: python3.12
      Handler: pkg.module.handle
      Events:
        E:
          Type: SQS
          Properties:
            Queue: !GetAtt Q.Arn
  Java:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/java
      Runtime: java21
      Handler: example.Handler::handleRequest
"#,
        PathBuf::from("."),
    )
    .unwrap();
    assert_eq!(
        python.functions["Py"].kind,
        FunctionKind::Python {
            handler: "pkg.module.handle".into(),
            version: "3.12".into()
        }
    );
    // The rest of the template runs; the function lockgate cannot run is named.
    assert!(!python.functions.contains_key("Java"));
    assert_eq!(python.unsupported.len(), 1);
    assert_eq!(
        (
            python.unsupported[0].logical_id.as_str(),
            python.unsupported[0].runtime.as_str()
        ),
        ("Java", "java21")
    );
    assert!(python.unsupported[0].why.contains("Java"));

    for (handler, fine) in [
        ("app.handler", true),
        ("app", false),
        ("app.", false),
        ("1app.handler", false),
        ("app-x.handler", false),
    ] {
        let yaml = format!(
            "Resources:\n  Py:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: x\n      Runtime: python3.11\n      Handler: {handler}\n"
        );
        let result = Template::parse(&yaml, PathBuf::from("."));
        assert_eq!(result.is_ok(), fine, "{handler}: {:?}", result.err());
    }
    let function = |runtime: &str| {
        format!(
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: x\n      Runtime: {runtime}\n      Handler: a.b\n"
        )
    };
    for runtime in ["python2.7", "ruby3.3", "dotnet8", "java25", "go1.x"] {
        let t = Template::parse(&function(runtime), PathBuf::from(".")).unwrap();
        assert_eq!(t.unsupported.len(), 1, "{runtime}");
        assert_eq!(t.unsupported[0].runtime, runtime);
        assert!(t.functions.is_empty());
    }
    // Every Python and Node.js runtime AWS lists, deprecated ones too, runs (on the nearest
    // interpreter when its own is missing: the builders decide).
    for (runtime, version) in [
        ("python3.14", "3.14"),
        ("python3.8", "3.8"),
        ("nodejs16.x", "16"),
        ("nodejs24.x", "24"),
    ] {
        let t = Template::parse(&function(runtime), PathBuf::from(".")).unwrap();
        let kind = &t.functions["F"].kind;
        assert!(
            matches!(kind, FunctionKind::Python { version: v, .. } | FunctionKind::Node { version: v, .. } if v == version),
            "{runtime}: {kind:?}"
        );
    }
    let err = Template::parse(&function("pyhton3.12"), PathBuf::from(".")).unwrap_err();
    assert!(
        format!("{err:#}").contains("Runtime pyhton3.12 is not one of Lambda's runtimes"),
        "{err:#}"
    );
}

#[test]
fn node_functions() {
    for (handler, fine) in [
        ("index.handler", true),
        ("src/app.handle", true),
        ("index", false),
        ("../up.handler", false),
        ("/abs.handler", false),
        ("index.", false),
    ] {
        let yaml = format!(
            "Resources:\n  N:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: x\n      Runtime: nodejs20.x\n      Handler: {handler}\n"
        );
        let result = Template::parse(&yaml, PathBuf::from("."));
        assert_eq!(result.is_ok(), fine, "{handler}: {:?}", result.err());
        if let Ok(t) = result {
            assert_eq!(
                t.functions["N"].kind,
                FunctionKind::Node {
                    handler: handler.into(),
                    version: "20".into()
                }
            );
        }
    }
}

/// What `cdk synth` writes: the function's code is an asset directory named in its metadata,
/// its mapping a separate resource, the bootstrap version a parameter of an SSM type.
#[test]
fn a_cdk_synthesized_template_loads() {
    let json = r#"{
 "Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk-bootstrap/hnb659fds/version"}},
 "Resources": {
  "OrdersQueue4C6D7F3A": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 60}, "UpdateReplacePolicy": "Delete", "DeletionPolicy": "Delete"},
  "HandlerServiceRoleFCDC14AE": {"Type": "AWS::IAM::Role", "Properties": {}},
  "Handler886CB40B": {
   "Type": "AWS::Lambda::Function",
   "Properties": {
    "Code": {"S3Bucket": {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}, "S3Key": "0123abcd.zip"},
    "Handler": "index.handler",
    "Role": {"Fn::GetAtt": ["HandlerServiceRoleFCDC14AE", "Arn"]},
    "Runtime": "nodejs20.x",
    "Timeout": 30
   },
   "DependsOn": ["HandlerServiceRoleFCDC14AE"],
   "Metadata": {"aws:cdk:path": "App/Handler/Resource", "aws:asset:path": "asset.0123abcd", "aws:asset:is-bundled": false, "aws:asset:property": "Code"}
  },
  "HandlerSqsEventSourceAppOrdersQueue1234ABCD": {
   "Type": "AWS::Lambda::EventSourceMapping",
   "Properties": {
    "BatchSize": 10,
    "EventSourceArn": {"Fn::GetAtt": ["OrdersQueue4C6D7F3A", "Arn"]},
    "FunctionName": {"Ref": "Handler886CB40B"},
    "FunctionResponseTypes": ["ReportBatchItemFailures"]
   }
  }
 }
}"#;
    let t = Template::parse(json, PathBuf::from("cdk.out")).unwrap();
    let f = &t.functions["Handler886CB40B"];
    assert_eq!(f.code_uri, PathBuf::from("asset.0123abcd"));
    assert_eq!(
        f.kind,
        FunctionKind::Node {
            handler: "index.handler".into(),
            version: "20".into()
        }
    );
    assert_eq!(f.events.len(), 1);
    assert_eq!(f.events[0].batch_size, 10);
    assert!(f.events[0].report_batch_item_failures);
    assert_eq!(f.events[0].queue.target(), Some("OrdersQueue4C6D7F3A"));

    // Code in S3 without an asset cannot run locally: a clear error naming the function.
    let s3 = json.replace(
        r#""Metadata": {"aws:cdk:path""#,
        r#""Metadata2": {"aws:cdk:path""#,
    );
    let err = format!(
        "{:#}",
        Template::parse(&s3, PathBuf::from(".")).unwrap_err()
    );
    assert!(
        err.contains("function Handler886CB40B") && err.contains("S3"),
        "{err}"
    );
}

#[test]
fn esbuild_build_properties() {
    let function = |runtime: &str, properties: &str| {
        Template::parse(
            &format!(
                "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildMethod: esbuild\n      BuildProperties:\n{properties}\n    Properties:\n      CodeUri: x\n      Runtime: {runtime}\n      Handler: app.handler\n"
            ),
            PathBuf::from("."),
        )
    };
    let t = function(
        "nodejs22.x",
        "        EntryPoints: [app.ts]\n        Minify: true\n        External: [aws-sdk]",
    )
    .unwrap();
    assert_eq!(
        t.functions["F"].bundle,
        Some(Bundle {
            entry_points: vec!["app.ts".into()],
            target: "es2020".into(),
            format: "cjs".into(),
            minify: true,
            sourcemap: false,
            external: vec!["aws-sdk".into()],
        })
    );
    for (runtime, properties, expected) in [
        (
            "nodejs22.x",
            "        Minify: true",
            "needs BuildProperties.EntryPoints",
        ),
        (
            "nodejs22.x",
            "        EntryPoints: [../up.ts]",
            "not a path under CodeUri",
        ),
        (
            "nodejs22.x",
            "        EntryPoints: [a.ts]\n        Format: umd",
            "cjs or esm",
        ),
        (
            "python3.12",
            "        EntryPoints: [a.ts]",
            "is for Node.js functions",
        ),
    ] {
        let err = format!("{:#}", function(runtime, properties).unwrap_err());
        assert!(err.contains(expected), "{err}");
    }
}
