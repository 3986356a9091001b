//! HTTP: the accept loop and the connection limits that keep one client (or a hostile one)
//! from holding the server: a cap on concurrent connections, a deadline for request headers
//! (which is also the idle keep-alive timeout), a deadline and a size cap for bodies, and a
//! budget for all body bytes buffered at once. Each request is handled in [`crate::request`].
//! Shutdown is passed in as a future; open requests finish (long polls return at once) and the
//! store is flushed before [`RunningEmulator::shutdown`] returns.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};

use crate::console::{AppView, Attached};
use crate::limits::Limits;
use crate::move_tasks::MoveTasks;
use crate::request;
use crate::s3::Objects;
use crate::shared::Shared;
use crate::sqs::{Config, Sqs};
use crate::tls::{PLAIN_HTTP_REFUSED, Tls, TlsSource};

#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub bind: SocketAddr,
    /// `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    pub sqs: Config,
    pub limits: Limits,
    /// Browser origins (`http://localhost:3000`) whose pages may call the emulator; others
    /// are refused (see [`crate::request`]). The emulator's own origin is always allowed.
    pub allowed_origins: Vec<String>,
    /// Serve https (see [`crate::tls`]); `None` serves plain HTTP.
    pub tls: Option<TlsSource>,
    /// Queues created at start, before the first connection is accepted (a template's or a
    /// queues file's: see [`crate::declare`]).
    pub declare: crate::declare::Declared,
}

impl EmulatorConfig {
    /// In memory on 127.0.0.1 with an ephemeral port: what tests want.
    pub fn ephemeral() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: None,
            sqs: Config::default(),
            limits: Limits::default(),
            allowed_origins: Vec::new(),
            tls: None,
            declare: Default::default(),
        }
    }
}

/// Why the emulator did not start. Each message names what to fix (the file, the key, the
/// address); [`StartError::Listen`] is the one a caller can fix by choosing another address.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The TLS certificate or key could not be read, or a self-signed one made.
    #[error("{0}")]
    Tls(String),
    /// The data directory could not be locked, read, recovered, upgraded or decrypted.
    #[error("{0}")]
    DataDir(String),
    /// The S3 endpoint's object directory could not be opened or made.
    #[error("{0}")]
    Objects(String),
    /// A queue declared at start (`--queues`, `--template`) could not be created.
    #[error("declaring queues: {0}")]
    Declare(String),
    /// The address could not be bound (taken, or not this machine's).
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A started emulator.
pub struct RunningEmulator {
    pub addr: SocketAddr,
    pub sqs: Arc<Sqs>,
    connections: Arc<Semaphore>,
    max_connections: usize,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    writer: Option<std::thread::JoinHandle<()>>,
    app: Attached,
    https: bool,
    ca_file: Option<PathBuf>,
}

impl RunningEmulator {
    /// Opens the store (recovering what it holds), binds, and starts serving.
    pub async fn start(mut config: EmulatorConfig) -> Result<Self, StartError> {
        let tls = match &config.tls {
            Some(source) => Some(Tls::load(source).map_err(StartError::Tls)?),
            None => None,
        };
        config.sqs.https = tls.is_some();
        let ca_file = tls.as_ref().and_then(|t| t.ca_file.clone());
        let (sqs, objects, writer) = match &config.data_dir {
            Some(dir) => {
                let dir = dir.clone();
                let sqs_config = config.sqs.clone();
                tokio::task::spawn_blocking(move || {
                    let keyring = sqs_config.keyring(&dir);
                    let (sqs, writer) =
                        Sqs::durable(sqs_config, &dir).map_err(StartError::DataDir)?;
                    let objects =
                        Objects::in_data_dir(&dir, &keyring).map_err(StartError::Objects)?;
                    Ok::<_, StartError>((sqs, objects, Some(writer)))
                })
                .await
                .map_err(|e| StartError::DataDir(format!("opening the data directory: {e}")))??
            }
            None => (
                Sqs::in_memory(config.sqs.clone()),
                Objects::temporary().map_err(StartError::Objects)?,
                None,
            ),
        };
        let move_tasks = Arc::new(MoveTasks::default());
        if !config.declare.is_empty() {
            crate::declare::create(&sqs, &move_tasks, &config.declare, &config.bind.to_string())
                .await
                .map_err(|e| StartError::Declare(format!("{e:#}")))?;
        }
        let listen = |source| StartError::Listen {
            addr: config.bind,
            source,
        };
        let listener = TcpListener::bind(config.bind).await.map_err(listen)?;
        let addr = listener.local_addr().map_err(listen)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let max_connections = config.limits.max_connections;
        let connections = Arc::new(Semaphore::new(max_connections));
        let app = Attached::default();
        let serving = Serving {
            objects,
            move_tasks,
            limits: config.limits,
            allowed_origins: config.allowed_origins,
            app: app.clone(),
            tls: tls.clone(),
        };
        let task = tokio::spawn(serve_with(
            listener,
            sqs.clone(),
            serving,
            connections.clone(),
            async {
                let _ = stopped.await;
            },
        ));
        Ok(Self {
            addr,
            sqs,
            connections,
            max_connections,
            stop: Some(stop),
            task,
            writer,
            app,
            https: config.sqs.https,
            ca_file,
        })
    }

    /// The certificate clients must trust, when the emulator made its own (`--tls-self-signed`).
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        self.ca_file.as_deref()
    }

    /// Shows `app` in the console and `/metrics` (`None` takes it away).
    pub fn attach_app(&self, app: Option<Arc<dyn AppView>>) {
        self.app.set(app);
    }

    /// The web console's address.
    pub fn console_url(&self) -> String {
        format!("{}/console/", self.endpoint())
    }

    pub fn endpoint(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Connections being served now.
    pub fn open_connections(&self) -> usize {
        self.max_connections - self.connections.available_permits()
    }

    /// Stops accepting, lets open requests finish, and flushes the store.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        self.sqs.store.flush().await;
        let writer = self.writer.take();
        drop(self);
        if let Some(writer) = writer {
            // The writer exits once the last store handle is gone; handles may still be held
            // by finishing tasks, so do not block the runtime on it.
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
    }
}

/// Serves until `shutdown` resolves, then drains open requests. The S3 endpoint's objects are
/// kept in a temporary directory, removed when it returns.
pub async fn serve(
    listener: TcpListener,
    sqs: Arc<Sqs>,
    limits: Limits,
    allowed_origins: Vec<String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let serving = Serving {
        objects: Objects::temporary().map_err(StartError::Objects)?,
        move_tasks: Arc::default(),
        limits,
        allowed_origins,
        app: Attached::default(),
        tls: None,
    };
    serve_with(listener, sqs, serving, connections, shutdown).await;
    Ok(())
}

/// How connections are served: the S3 endpoint's objects, the move tasks, the limits, the browser origins
/// allowed, the attached app and TLS.
struct Serving {
    objects: Objects,
    move_tasks: Arc<MoveTasks>,
    limits: Limits,
    allowed_origins: Vec<String>,
    app: Attached,
    tls: Option<Tls>,
}

async fn serve_with(
    listener: TcpListener,
    sqs: Arc<Sqs>,
    serving: Serving,
    connections: Arc<Semaphore>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let Serving {
        objects,
        move_tasks,
        limits,
        allowed_origins,
        app,
        tls,
    } = serving;
    let shared = Arc::new(Shared::new(
        sqs.clone(),
        objects,
        move_tasks,
        limits.clone(),
        allowed_origins,
        app,
    ));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    let mut at_limit_logged = false;
    loop {
        // A connection slot first: past the cap, clients wait in the listen backlog.
        let permit = if let Ok(permit) = connections.clone().try_acquire_owned() {
            permit
        } else {
            if !at_limit_logged {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "connection limit reached: new clients wait until a connection closes"
                );
                at_limit_logged = true;
            }
            tokio::select! {
                permit = connections.clone().acquire_owned() => {
                    permit.expect("the semaphore is never closed")
                }
                () = &mut shutdown => break,
            }
        };
        if connections.available_permits() > limits.max_connections / 2 {
            at_limit_logged = false;
        }
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors (EMFILE) or a connection reset before accept: keep
                    // serving the connections we have and try again shortly.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let shared = shared.clone();
            async move { Ok::<_, Infallible>(request::handle(&shared, req).await) }
        });
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let Some(tls) = &tls else {
            let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
            tokio::spawn(async move {
                let _slot = permit;
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "connection closed");
                }
            });
            continue;
        };
        // TLS: the handshake happens in the connection's task, within the header deadline.
        let acceptor = tls.acceptor.clone();
        let handshake_deadline = limits.header_read_timeout;
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = permit;
            let mut stream = stream;
            let mut first = [0u8; 1];
            // A TLS client speaks first with a handshake record (0x16); anything else is
            // plain HTTP (or noise) and gets told to use https.
            match tokio::time::timeout(handshake_deadline, stream.peek(&mut first)).await {
                Ok(Ok(1)) if first[0] == 0x16 => {}
                Ok(Ok(1)) => {
                    use tokio::io::AsyncWriteExt;
                    let _ = stream.write_all(PLAIN_HTTP_REFUSED).await;
                    let _ = stream.shutdown().await;
                    return;
                }
                _ => return,
            }
            let tls_stream =
                match tokio::time::timeout(handshake_deadline, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            let connection =
                watcher.watch(http.serve_connection(TokioIo::new(tls_stream), service));
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed");
            }
        });
    }
    drop(listener);
    // Long polls return at once; open requests finish; idle connections close.
    sqs.close();
    graceful.shutdown().await;
}
