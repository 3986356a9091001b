//! What a function sees in its environment, decided here for every command: the template's
//! variables (resolved against the running app, or only the literal ones when there is none)
//! and, for process functions, how to reach SQS. A WASM guest sees the template's variables and
//! nothing else.

use crate::template::{Expr, FunctionDef, Scope};

/// The embedded emulator's own CA (`up --tls-self-signed`), as functions are told to trust it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsTrust {
    /// The CA certificate alone.
    pub ca: std::path::PathBuf,
    /// The system's trusted certificates plus the CA: for variables that replace the trust
    /// store (a function calling other https services must still trust them).
    pub bundle: std::path::PathBuf,
}

impl TlsTrust {
    /// Writes `bundle.pem` beside `ca`: the first system bundle found, then the CA.
    pub fn for_ca(ca: &std::path::Path) -> anyhow::Result<Self> {
        const SYSTEM_BUNDLES: &[&str] = &[
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/cert.pem",
        ];
        let mut bundle = SYSTEM_BUNDLES
            .iter()
            .find_map(|p| std::fs::read(p).ok())
            .unwrap_or_default();
        if !bundle.is_empty() && !bundle.ends_with(b"\n") {
            bundle.push(b'\n');
        }
        bundle.extend(std::fs::read(ca)?);
        let path = ca.with_file_name("bundle.pem");
        std::fs::write(&path, bundle)?;
        Ok(Self {
            ca: ca.to_path_buf(),
            bundle: path,
        })
    }

    /// What a process is given: AWS SDKs and CLIs (`AWS_CA_BUNDLE`), Python's requests,
    /// OpenSSL and rustls-native-certs (`SSL_CERT_FILE`) get the bundle; Node.js adds the CA to
    /// its own roots (`NODE_EXTRA_CA_CERTS`).
    fn variables(&self) -> Vec<(String, String)> {
        let bundle = self.bundle.display().to_string();
        vec![
            ("AWS_CA_BUNDLE".to_string(), bundle.clone()),
            ("SSL_CERT_FILE".to_string(), bundle.clone()),
            ("REQUESTS_CA_BUNDLE".to_string(), bundle),
            (
                "NODE_EXTRA_CA_CERTS".to_string(),
                self.ca.display().to_string(),
            ),
        ]
    }
}

/// Which credentials functions get for SQS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqsCredentials {
    /// Placeholder keys: the emulator (or an endpoint without credentials).
    Placeholder,
    /// The caller's own AWS environment, with this profile when one was chosen (`--profile`).
    Caller { profile: Option<String> },
}

/// One function's environment, before its kind picks what it gets.
#[derive(Debug, Clone, Default)]
pub struct FunctionEnvironment {
    /// The template's `Environment.Variables`.
    pub variables: Vec<(String, String)>,
    /// What a process adds to reach SQS: endpoint and credentials.
    pub aws: Vec<(String, String)>,
}

impl FunctionEnvironment {
    /// Inside a running app (`lockgate up`): every variable resolved against the app's queues;
    /// the endpoint lockgate uses (so functions that send to other queues chain locally); and
    /// either placeholder credentials for the emulator or, with `aws`, the caller's own AWS
    /// environment (keys, profile, shared files, `HOME`) so the function's SDK resolves the
    /// same credentials lockgate did.
    pub fn in_app(
        function: &FunctionDef,
        scope: &dyn Scope,
        endpoints: Endpoints<'_>,
        credentials: &SqsCredentials,
        tls: Option<&TlsTrust>,
    ) -> anyhow::Result<Self> {
        let mut variables = Vec::new();
        for (key, value) in &function.environment {
            let value = value.resolve(scope).map_err(|e| {
                anyhow::anyhow!("function {}: Environment {key}: {e}", function.logical_id)
            })?;
            variables.push((key.clone(), value));
        }
        let mut aws = sqs_access(endpoints.sqs, credentials, std::env::vars());
        if let Some(s3) = endpoints.s3 {
            // Large payloads (the Extended Client convention) go through S3: the emulator's
            // port serves it, or `--s3-endpoint`.
            aws.push(("AWS_ENDPOINT_URL_S3".to_string(), s3.to_string()));
        }
        if let Some(lambda) = endpoints.lambda {
            // Functions that invoke other functions (lambda:InvokeFunction) reach the app's.
            aws.push(("AWS_ENDPOINT_URL_LAMBDA".to_string(), lambda.to_string()));
        }
        aws.extend(tls.map(TlsTrust::variables).unwrap_or_default());
        Ok(Self { variables, aws })
    }

    /// Outside an app (`lockgate invoke`): values that name queues need a running app, so only
    /// literal variables are passed; the shell's `AWS_ENDPOINT_URL_SQS` is passed on.
    pub fn standalone(function: &FunctionDef) -> Self {
        let variables = function
            .environment
            .iter()
            .filter_map(|(k, v)| match v {
                Expr::Literal(s) => Some((k.clone(), s.clone())),
                _ => None,
            })
            .collect();
        let aws = std::env::var("AWS_ENDPOINT_URL_SQS")
            .ok()
            .map(|e| ("AWS_ENDPOINT_URL_SQS".to_string(), e))
            .into_iter()
            .collect();
        Self { variables, aws }
    }

    /// A process's environment: the SQS access first, so a template variable of the same name
    /// wins.
    pub fn for_process(&self) -> Vec<(String, String)> {
        self.aws.iter().chain(&self.variables).cloned().collect()
    }

    /// What fetches large payloads for a function that cannot (a WASM guest): from the S3
    /// endpoint the function is given, with `LOCKGATE_DELETE_PAYLOADS` as it sets it.
    pub fn payload_fetcher(&self, region: &str) -> crate::payloads::Fetcher {
        let value = |name: &str| {
            self.for_process()
                .into_iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v)
        };
        crate::payloads::Fetcher::new(
            value("AWS_ENDPOINT_URL_S3"),
            region,
            value("LOCKGATE_DELETE_PAYLOADS").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        )
    }

    /// A guest's environment: the template's variables only.
    pub fn for_guest(&self) -> Vec<(String, String)> {
        self.variables.clone()
    }
}

/// Where a function's SDK reaches SQS and S3 (`None`: AWS's own).
#[derive(Clone, Copy)]
pub struct Endpoints<'a> {
    pub sqs: Option<&'a str>,
    pub s3: Option<&'a str>,
    /// The Lambda Invoke API of the app's emulator (`AWS_ENDPOINT_URL_LAMBDA`).
    pub lambda: Option<&'a str>,
}

/// See [`FunctionEnvironment::in_app`]; `vars` is the caller's environment.
fn sqs_access(
    endpoint: Option<&str>,
    credentials: &SqsCredentials,
    vars: impl Iterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    let mut env = Vec::new();
    if let Some(endpoint) = endpoint {
        env.push(("AWS_ENDPOINT_URL_SQS".to_string(), endpoint.to_string()));
    }
    if let SqsCredentials::Caller { profile } = credentials {
        // Lambda sets these itself; everything else AWS_* passes through.
        const SET_BY_LAMBDA: &[&str] =
            &["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_SQS"];
        env.extend(vars.filter(|(k, _)| {
            (k == "HOME"
                || (k.starts_with("AWS_")
                    && !k.starts_with("AWS_LAMBDA_")
                    && !SET_BY_LAMBDA.contains(&k.as_str())))
                && !(profile.is_some() && k == "AWS_PROFILE")
        }));
        if let Some(profile) = profile {
            env.push(("AWS_PROFILE".to_string(), profile.clone()));
        }
    } else {
        env.push(("AWS_ACCESS_KEY_ID".to_string(), "lockgate".to_string()));
        env.push(("AWS_SECRET_ACCESS_KEY".to_string(), "lockgate".to_string()));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> impl Iterator<Item = (String, String)> {
        [
            ("HOME", "/home/me"),
            ("AWS_PROFILE", "prod"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_LAMBDA_FUNCTION_NAME", "x"),
            ("PATH", "/bin"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
    }

    #[test]
    fn the_emulator_gets_placeholder_credentials_and_no_caller_environment() {
        let env = sqs_access(
            Some("http://127.0.0.1:1"),
            &SqsCredentials::Placeholder,
            vars(),
        );
        let keys: Vec<_> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "AWS_ENDPOINT_URL_SQS",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY"
            ]
        );
    }

    #[test]
    fn aws_passes_the_callers_aws_environment_but_not_what_lambda_sets() {
        let env = sqs_access(None, &SqsCredentials::Caller { profile: None }, vars());
        let keys: Vec<_> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["HOME", "AWS_PROFILE"]);
    }

    #[test]
    fn a_chosen_profile_replaces_the_callers() {
        let caller = SqsCredentials::Caller {
            profile: Some("staging".into()),
        };
        let env = sqs_access(None, &caller, vars());
        let profiles: Vec<_> = env.iter().filter(|(k, _)| k == "AWS_PROFILE").collect();
        assert_eq!(
            profiles,
            [&("AWS_PROFILE".to_string(), "staging".to_string())]
        );
    }
}
