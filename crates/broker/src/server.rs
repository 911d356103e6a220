//! Starting and stopping the broker, accepting connections and running each
//! connection's request loop over plain TCP or TLS, with the listener's
//! authentication (`crate::auth`) in front of the handlers. A connection
//! handles one request at a time, in order, as Kafka does. It must never let
//! one connection's bad input affect another: any protocol violation or
//! failed handshake closes only that connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::{ApiKey, ResponseKind};
use strait_metadata::{
    BrokerRegistration, EmbeddedStore, EtcdError, EtcdStore, MetadataError, MetadataStore,
    RegistrationError,
};
use strait_protocol::{
    Incoming, ProtocolError, decode_incoming, encode_response, encode_response_chunks, read_frame,
    write_frame_chunks,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, watch};

use crate::auth::{self, Authenticator, Outcome, RawOutcome};
use crate::config::{BrokerConfig, Listener, ListenerSecurity, SaslSettings, SecurityProtocol};
use crate::group::{GroupConfig, GroupCoordinator};
use crate::handlers;
use crate::metrics::{ApiName, BrokerMetrics, ListenerMetrics, OpenConnection};
use crate::producer_ids::ProducerIdAllocator;
use crate::state::Broker;
use crate::topic_table::TopicTable;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("metadata: {0}")]
    Metadata(#[from] MetadataError),
    #[error(
        "metadata store {path} cannot be opened ({source}); if the file is damaged or was cut \
         short, restore it from a backup"
    )]
    MetadataFile {
        path: std::path::PathBuf,
        source: MetadataError,
    },
    #[error("{0}")]
    DataDir(#[from] crate::meta_properties::DataDirError),
    #[error("log: {0}")]
    Log(#[from] strait_log::LogError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Tls(String),
    #[error("cluster link secrets: {0}")]
    LinkSecret(#[from] strait_link::secrets::SecretError),
    #[error("metadata on etcd: {0}")]
    Etcd(#[from] EtcdError),
    #[error(
        "etcd prefix {prefix} holds cluster {store_cluster}, but log dir {dir} belongs to cluster \
         {dir_cluster} ({dir}/meta.properties); point metadata.etcd.prefix at that cluster's \
         prefix, or use other log dirs"
    )]
    EtcdClusterMismatch {
        prefix: String,
        store_cluster: String,
        dir: std::path::PathBuf,
        dir_cluster: String,
    },
    #[error("{0}")]
    Registration(#[from] RegistrationError),
    #[error("stopping: this broker's registration on etcd was taken over: {0}")]
    Fenced(String),
}

/// Per-connection facts handlers may need.
pub struct ConnectionContext {
    pub peer: std::net::SocketAddr,
    /// The listener's name (`PLAINTEXT`, `SASL_SSL`, or a custom name).
    pub listener: String,
    pub security_protocol: SecurityProtocol,
    /// Who the client is, as Kafka names principals: `User:alice` after
    /// SASL, `User:<certificate subject DN>` with a TLS client certificate
    /// on an SSL listener, `User:ANONYMOUS` otherwise. The authorizer reads it.
    pub principal: String,
}

/// What a listener needs to serve connections: its security settings and,
/// for SSL and SASL_SSL, its TLS acceptor.
struct ListenerRuntime {
    security: ListenerSecurity,
    sasl: Option<Arc<SaslSettings>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// The listener's connection and authentication series.
    metrics: ListenerMetrics,
}

/// How long a TLS handshake may take before the connection is dropped.
pub(crate) const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A blocking task of the broker's that did not finish (it panicked or the
/// runtime is stopping), as an I/O error of the step that ran it.
fn joined(e: tokio::task::JoinError) -> BrokerError {
    BrokerError::Io(std::io::Error::other(e))
}

/// Runs a broker until SIGINT or SIGTERM, then closes every log cleanly.
pub async fn run(config: BrokerConfig) -> Result<(), BrokerError> {
    let shutdown = ShutdownSignal::install()?;
    let broker = start(config).await?;
    run_until_signal(broker, shutdown).await
}

/// SIGINT and SIGTERM, caught from the moment this is installed. Install it
/// before [`start`]: a signal that arrives while the broker is still
/// starting (listeners already bound, partitions still opening) is kept and
/// ends the broker cleanly once it is up, instead of killing the process
/// with the signal's default action.
pub struct ShutdownSignal {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Catches SIGINT and SIGTERM from now on. Needs a tokio runtime.
    pub fn install() -> Result<ShutdownSignal, BrokerError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(ShutdownSignal {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(ShutdownSignal {})
        }
    }

    /// Waits for either signal (returns at once for one already caught).
    async fn wait(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.terminate.recv() => {}
                _ = self.interrupt.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Serves a started broker until `shutdown` fires, then closes every log
/// cleanly.
pub async fn run_until_signal(
    broker: Arc<Broker>,
    mut shutdown: ShutdownSignal,
) -> Result<(), BrokerError> {
    let fenced = async {
        match &broker.registration {
            Some(r) => r.fenced().await,
            None => std::future::pending().await,
        }
    };
    let fenced = tokio::select! {
        _ = shutdown.wait() => None,
        reason = fenced => Some(reason),
    };
    tracing::info!("shutting down");
    // Lets a topic creation in progress finish, so no half-made topic is left.
    let _admin = broker.admin.lock().await;
    let started = std::time::Instant::now();
    let b = broker.clone();
    let failed = tokio::task::spawn_blocking(move || b.topics.close_all())
        .await
        .map_err(joined)?;
    tracing::info!(
        "closed every partition log in {} ms ({failed} failed)",
        started.elapsed().as_millis()
    );
    if let Some(reason) = fenced {
        return Err(BrokerError::Fenced(reason));
    }
    if broker.registration.is_some() {
        let b = broker.clone();
        let revoked = tokio::task::spawn_blocking(move || {
            b.registration.as_ref().map(BrokerRegistration::deregister)
        })
        .await;
        if let Ok(Some(Err(e))) = revoked {
            tracing::warn!("could not remove the broker registration from etcd: {e}");
        }
    }
    Ok(())
}

/// Opens storage, binds every listener and starts serving. Returns once the
/// broker accepts connections.
pub async fn start(config: BrokerConfig) -> Result<Arc<Broker>, BrokerError> {
    let first_dir = config
        .log_dirs
        .first()
        .cloned()
        .unwrap_or_else(|| std::path::PathBuf::from("/tmp/strait-logs"));
    std::fs::create_dir_all(&first_dir)?;
    let (store, etcd) = open_store(&config, &first_dir).await?;
    let link_secret_key = Arc::new(link_secret_key(&config, &first_dir)?);

    let metrics = BrokerMetrics::new(config.metrics_partition_series_max);
    let mut runtimes = Vec::new();
    for l in &config.listeners {
        let security = config.security.listener(&l.name).cloned().ok_or_else(|| {
            BrokerError::Tls(format!("listener {} has no security settings", l.name))
        })?;
        let tls = match &security.ssl {
            Some(ssl) => Some(auth::tls::acceptor(&l.name, ssl).map_err(BrokerError::Tls)?),
            None => None,
        };
        let sasl = security.sasl.clone().map(Arc::new);
        runtimes.push(Arc::new(ListenerRuntime {
            metrics: metrics.listener(&security.name),
            security,
            sasl,
            tls,
        }));
    }

    let mut bound = Vec::new();
    let mut advertised = Vec::new();
    for (l, runtime) in config.listeners.iter().zip(runtimes) {
        let addr = format!(
            "{}:{}",
            if l.host.is_empty() {
                "0.0.0.0"
            } else {
                &l.host
            },
            l.port
        );
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| BrokerError::Bind {
                addr: addr.clone(),
                source,
            })?;
        let port = listener.local_addr()?.port();
        let adv = config
            .advertised_listeners
            .iter()
            .find(|a| a.name == l.name)
            .cloned()
            .unwrap_or_else(|| l.clone());
        let host = match adv.host.as_str() {
            "" | "0.0.0.0" | "::" => "127.0.0.1".to_string(),
            h => h.to_string(),
        };
        advertised.push(Listener {
            name: adv.name.clone(),
            host,
            port: if adv.port == 0 { port } else { adv.port },
        });
        bound.push((l.name.clone(), listener, port, runtime));
    }

    // Registered before any partition is opened: a broker refused here
    // leaves nothing behind.
    let registration = match etcd {
        Some(etcd) => {
            let node_id = config.node_id;
            let listeners: Vec<String> = advertised
                .iter()
                .map(|l| format!("{}://{}:{}", l.name, l.host, l.port))
                .collect();
            let registered =
                tokio::task::spawn_blocking(move || etcd.register_broker(node_id, &listeners))
                    .await
                    .map_err(joined)??;
            Some(registered)
        }
        None => None,
    };

    let topics = TopicTable::new(config.log_dirs.clone());
    let (appended, _) = watch::channel(0u64);
    // Loads every persisted group and its committed offsets.
    let groups = GroupCoordinator::open(
        store.clone(),
        GroupConfig::from_properties(&config.properties),
    )
    .map_err(|e| BrokerError::Io(std::io::Error::other(e)))?;
    let txns = crate::txn::TxnCoordinator::open(
        store.clone(),
        groups.clone(),
        crate::txn::TxnConfig::from_properties(&config.properties),
    );
    let authorizer = crate::authz::Authorizer::open(&config.properties, store.clone())
        .map_err(|e| BrokerError::Io(std::io::Error::other(e.to_string())))?;
    let broker = Arc::new(Broker {
        config,
        advertised,
        store,
        topics,
        appended,
        admin: Mutex::new(()),
        producer_ids: ProducerIdAllocator::default(),
        groups,
        txns,
        links: std::sync::OnceLock::new(),
        authorizer,
        metrics,
        scrub: Default::default(),
        registration,
    });
    {
        let b = broker.clone();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let records = b.store.topics();
            b.topics.open_all(&records, |t| b.log_config(t))?;
            let partitions: u64 = records.iter().map(|t| u64::from(t.partitions)).sum();
            tracing::info!(
                "opened {partitions} partition(s) of {} topic(s) in {} ms",
                records.len(),
                started.elapsed().as_millis()
            );
            Ok::<(), strait_log::LogError>(())
        })
        .await
        .map_err(joined)??;
    }
    let engine = strait_link::LinkEngine::start(
        Arc::new(crate::local_cluster::LocalBroker {
            broker: Arc::downgrade(&broker),
            store: broker.store.clone(),
        }),
        link_secret_key,
    );
    let _ = broker.links.set(engine);
    tokio::spawn(crate::upkeep::run(broker.clone()));
    if let Some(scrub) = crate::scrubber::ScrubConfig::from_properties(&broker.config.properties) {
        tokio::spawn(crate::scrubber::run(broker.clone(), scrub));
    }
    // Transactions left open by the previous run end before clients connect.
    broker.txns.recover(broker.as_ref()).await;
    tokio::spawn(broker.txns.clone().run(Arc::downgrade(&broker)));

    for (name, listener, port, runtime) in bound {
        let protocol = runtime.security.protocol;
        tracing::info!(
            "listening on {name}://{} ({protocol})",
            listener.local_addr()?
        );
        if let Some(sasl) = &runtime.sasl {
            let names: Vec<&str> = sasl.mechanisms.iter().map(|m| m.name()).collect();
            tracing::info!(
                "listener {name}: SASL mechanisms {}, {} PLAIN user(s), connections.max.reauth.ms={}",
                names.join(","),
                sasl.plain_users.len(),
                sasl.max_reauth_ms
            );
        }
        println!("Strait listening: {name}://127.0.0.1:{port}");
        tokio::spawn(accept_loop(broker.clone(), listener, runtime));
    }
    println!(
        "Strait started: node {} cluster {}",
        broker.node_id(),
        broker.cluster_id()
    );
    Ok(broker)
}

/// Opens the metadata store the configuration names (etcd, or the embedded
/// store in the first log dir) and checks it against the log dirs'
/// `meta.properties`. Returns the etcd store too, for registration.
async fn open_store(
    config: &BrokerConfig,
    first_dir: &std::path::Path,
) -> Result<(Arc<dyn MetadataStore>, Option<Arc<EtcdStore>>), BrokerError> {
    let Some(settings) = &config.metadata_etcd else {
        let store_path = first_dir.join("strait-metadata.redb");
        crate::meta_properties::check_before_open(&store_path, &config.log_dirs)?;
        let store: Arc<dyn MetadataStore> =
            Arc::new(EmbeddedStore::open(&store_path).map_err(|source| {
                BrokerError::MetadataFile {
                    path: store_path.clone(),
                    source,
                }
            })?);
        crate::meta_properties::check_and_write(
            &config.log_dirs,
            &store.cluster_id(),
            config.node_id,
        )?;
        return Ok((store, None));
    };
    let described = format!(
        "etcd prefix {} at {}",
        settings.prefix,
        settings.endpoints.join(",")
    );
    // Log dirs that hold data may only meet a prefix that holds their cluster.
    let data_check = crate::meta_properties::check_no_data(&described, &config.log_dirs);
    let may_create_cluster = data_check.is_ok();
    let s = settings.clone();
    // Opening blocks (its own runtime, a bounded wait for etcd): off the
    // async threads.
    let opened = tokio::task::spawn_blocking(move || EtcdStore::open(&s, may_create_cluster))
        .await
        .map_err(joined)?;
    let etcd = match opened {
        Ok(store) => Arc::new(store),
        Err(e @ EtcdError::NoCluster { .. }) => {
            return Err(match data_check {
                Err(lost) => lost.into(),
                Ok(()) => e.into(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let cluster_id = etcd.cluster_id();
    match crate::meta_properties::check_and_write(&config.log_dirs, &cluster_id, config.node_id) {
        Err(crate::meta_properties::DataDirError::ClusterIdMismatch { path, found, .. }) => {
            return Err(BrokerError::EtcdClusterMismatch {
                prefix: settings.prefix.clone(),
                store_cluster: cluster_id,
                dir: path
                    .parent()
                    .map(std::path::Path::to_path_buf)
                    .unwrap_or_default(),
                dir_cluster: found,
            });
        }
        other => other?,
    }
    tracing::info!("metadata on {described}, cluster {cluster_id}");
    let store: Arc<dyn MetadataStore> = etcd.clone();
    Ok((store, Some(etcd)))
}

/// The file in the first log dir that keeps the link secret key when
/// `password.encoder.secret` is not set.
pub const LINK_SECRET_KEY_FILE: &str = "link-secret.key";

/// The key that seals sensitive cluster-link configs at rest: derived from
/// Kafka's `password.encoder.secret` when it is set, otherwise a random key
/// generated once and kept (mode 0600) in `<first log dir>/link-secret.key`.
///
/// Rotation works as Kafka's: with `password.encoder.old.secret` also set,
/// values sealed under the old secret still open and are sealed again with
/// the new one at start. Setting `password.encoder.secret` on a broker that
/// used the key file rotates away from the file's key the same way.
fn link_secret_key(
    config: &BrokerConfig,
    first_dir: &std::path::Path,
) -> Result<strait_link::LinkSecretKey, strait_link::secrets::SecretError> {
    let key_file = first_dir.join(LINK_SECRET_KEY_FILE);
    let configured = |name: &str| config.properties.get(name).filter(|s| !s.is_empty());
    let Some(secret) = configured("password.encoder.secret") else {
        return strait_link::LinkSecretKey::load_or_create(&key_file);
    };
    let key = strait_link::LinkSecretKey::from_passphrase(secret)?;
    if let Some(old) = configured("password.encoder.old.secret") {
        return Ok(key.with_previous(strait_link::LinkSecretKey::from_passphrase(old)?));
    }
    if key_file.exists() {
        return Ok(key.with_previous(strait_link::LinkSecretKey::load_or_create(&key_file)?));
    }
    Ok(key)
}

/// Kafka's meta.properties, so operators find the cluster and node ids where
/// they expect them.
async fn accept_loop(broker: Arc<Broker>, listener: TcpListener, runtime: Arc<ListenerRuntime>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let open = runtime.metrics.accepted();
                tokio::spawn(open_connection(
                    broker.clone(),
                    runtime.clone(),
                    stream,
                    peer,
                    open,
                ));
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Runs the TLS handshake where the listener has one, then the request loop.
/// The connection counts as open until `_open` drops with this task.
async fn open_connection(
    broker: Arc<Broker>,
    runtime: Arc<ListenerRuntime>,
    stream: TcpStream,
    peer: std::net::SocketAddr,
    _open: OpenConnection,
) {
    let _ = stream.set_nodelay(true);
    let security = &runtime.security;
    let ctx = ConnectionContext {
        peer,
        listener: security.name.clone(),
        security_protocol: security.protocol,
        principal: auth::ANONYMOUS.to_string(),
    };
    let store = broker.store.clone();
    match &runtime.tls {
        None => {
            let auth = Authenticator::new(security, runtime.sasl.clone(), store, None);
            serve_connection(broker, stream, ctx, auth, &runtime.metrics).await;
        }
        Some(acceptor) => {
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let cert_principal = auth::tls::peer_principal(tls.get_ref().1);
                    let auth =
                        Authenticator::new(security, runtime.sasl.clone(), store, cert_principal);
                    serve_connection(broker, tls, ctx, auth, &runtime.metrics).await;
                }
                Ok(Err(e)) => {
                    runtime.metrics.authentication_failed(TLS_MECHANISM);
                    tracing::info!(
                        "Failed authentication with {peer} on listener {} (SSL handshake failed: {e})",
                        security.name
                    )
                }
                Err(_) => {
                    runtime.metrics.authentication_failed(TLS_MECHANISM);
                    tracing::info!(
                        "Failed authentication with {peer} on listener {} (SSL handshake timed out)",
                        security.name
                    )
                }
            }
        }
    }
}

/// The mechanism label of a failed TLS handshake.
const TLS_MECHANISM: &str = "SSL";

/// The mechanism label of a failed SASL authentication.
fn sasl_mechanism(auth: &Authenticator) -> &'static str {
    auth.mechanism().map_or("UNSUPPORTED", |m| m.name())
}

async fn serve_connection<S>(
    broker: Arc<Broker>,
    stream: S,
    mut ctx: ConnectionContext,
    mut auth: Authenticator,
    metrics: &ListenerMetrics,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let peer = ctx.peer;
    ctx.principal = auth.principal().to_string();
    // Reads go straight to the stream; writes are buffered until flushed.
    let mut stream = BufWriter::with_capacity(64 * 1024, stream);
    let limit = broker.config.socket_request_max_bytes;
    loop {
        let frame_limit = if auth.is_authenticated() {
            limit
        } else {
            limit.min(auth::MAX_UNAUTHENTICATED_FRAME)
        };
        let frame = match read_frame(&mut stream, frame_limit).await {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            Err(e) => {
                tracing::info!("closing connection from {peer}: {e}");
                return;
            }
        };
        if auth.expects_raw_token() {
            match auth.on_raw_token(&frame, Instant::now()) {
                RawOutcome::Respond(bytes) => {
                    note_authentication(&mut auth, &mut ctx);
                    if write_response(&mut stream, bytes, peer).await.is_err() {
                        return;
                    }
                }
                RawOutcome::Close(reason) => {
                    metrics.authentication_failed(sasl_mechanism(&auth));
                    tracing::info!(
                        "Failed authentication with {peer} on listener {} ({reason})",
                        ctx.listener
                    );
                    tokio::time::sleep(auth::FAILED_AUTHENTICATION_DELAY).await;
                    return;
                }
            }
            continue;
        }
        let started = Instant::now();
        let request = match decode_incoming(frame) {
            Ok(Incoming::Kafka(request)) => *request,
            Ok(Incoming::Admin(frame)) => {
                if !auth.admits_admin_frame(Instant::now()) {
                    tracing::info!(
                        "closing connection from {peer}: Strait admin request before authentication"
                    );
                    return;
                }
                let correlation_id = frame.correlation_id;
                let (api, version) = (ApiName::Admin(frame.api), frame.version);
                match handlers::links::handle(&broker, frame, &ctx).await {
                    Ok(bytes) => {
                        let written = write_response(&mut stream, bytes, peer).await;
                        broker
                            .metrics
                            .record_request(api, version, 0, started.elapsed());
                        if written.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::error!(
                            "closing connection from {peer}: admin response {correlation_id}: {e}"
                        );
                        return;
                    }
                }
                continue;
            }
            Err(ProtocolError::UnsupportedVersion {
                api_key: ApiKey::ApiVersions,
                header,
            }) => {
                // Kafka answers an ApiVersions request it cannot parse with a
                // v0 response carrying UNSUPPORTED_VERSION and its versions.
                let mut resp = handlers::api_versions::served();
                resp.error_code = kafka_protocol::error::ResponseError::UnsupportedVersion.code();
                let body = ResponseKind::ApiVersions(resp);
                let Ok(bytes) =
                    encode_response(ApiKey::ApiVersions, 0, header.correlation_id, &body)
                else {
                    return;
                };
                let written = write_response(&mut stream, bytes, peer).await;
                // Counted as the v0 it is answered in: the version asked
                // for is any number a client sends.
                let took = started.elapsed();
                broker
                    .metrics
                    .record_response(ApiKey::ApiVersions, 0, &body, took);
                if written.is_err() {
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::info!("closing connection from {peer}: {e}");
                return;
            }
        };
        let api_key = request.api_key;
        let version = request.version();
        let correlation_id = request.header.correlation_id;
        let (response, close_after) = match auth.on_request(request, Instant::now()) {
            Outcome::Serve(request) => match handlers::handle(&broker, request, &ctx).await {
                handlers::Reply::Send(r) => (*r, false),
                handlers::Reply::Nothing => {
                    // acks=0 produce: no response
                    let api = ApiName::Kafka(api_key);
                    broker
                        .metrics
                        .record_request(api, version, 0, started.elapsed());
                    continue;
                }
                handlers::Reply::Close => {
                    tracing::info!("closing connection from {peer}: {api_key:?} is not served");
                    return;
                }
            },
            Outcome::Respond(r) => {
                note_authentication(&mut auth, &mut ctx);
                (r, false)
            }
            Outcome::RespondAndClose(r, reason) => {
                metrics.authentication_failed(sasl_mechanism(&auth));
                tracing::info!(
                    "Failed authentication with {peer} on listener {} ({reason})",
                    ctx.listener
                );
                tokio::time::sleep(auth::FAILED_AUTHENTICATION_DELAY).await;
                (r, true)
            }
            Outcome::Close(reason) => {
                tracing::info!("closing connection from {peer}: {reason}");
                return;
            }
        };
        let chunks = match encode_response_chunks(api_key, version, correlation_id, &response) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("closing connection from {peer}: {e}");
                return;
            }
        };
        let written = write_response_chunks(&mut stream, &chunks, peer).await;
        broker
            .metrics
            .record_response(api_key, version, &response, started.elapsed());
        if written.is_err() || close_after {
            return;
        }
    }
}

/// Copies a just-completed authentication into the connection's context.
fn note_authentication(auth: &mut Authenticator, ctx: &mut ConnectionContext) {
    if let Some((principal, reauth)) = auth.take_completed() {
        tracing::debug!(
            "{} {} as {principal} on listener {} ({})",
            ctx.peer,
            if reauth {
                "re-authenticated"
            } else {
                "authenticated"
            },
            ctx.listener,
            ctx.security_protocol
        );
        ctx.principal = principal;
    }
}

/// Writes one response frame given as chunks and flushes it.
async fn write_response_chunks<W: tokio::io::AsyncWrite + Unpin>(
    writer: &mut W,
    chunks: &[bytes::Bytes],
    peer: std::net::SocketAddr,
) -> Result<(), ()> {
    if let Err(e) = write_frame_chunks(writer, chunks).await {
        tracing::debug!("write to {peer} failed: {e}");
        return Err(());
    }
    if let Err(e) = writer.flush().await {
        tracing::debug!("write to {peer} failed: {e}");
        return Err(());
    }
    Ok(())
}

/// Writes one response frame and flushes it.
async fn write_response<W: tokio::io::AsyncWrite + Unpin>(
    writer: &mut W,
    bytes: impl Into<bytes::Bytes>,
    peer: std::net::SocketAddr,
) -> Result<(), ()> {
    write_response_chunks(writer, &[bytes.into()], peer).await
}
