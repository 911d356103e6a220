//! One connection to one broker. It owns the socket, correlation ids, request
//! pipelining (a writer task and a reader task routing responses by
//! correlation id) and API version negotiation. It must never retry, route
//! between brokers or interpret response bodies beyond ApiVersions; that is
//! the job of [`crate::KafkaClient`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::{Encodable, Request, StrBytes, VersionRange};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::frame::{
    decode_body, encode_request_frame, peek_correlation_id, read_frame, split_response_header,
};

/// Any byte stream a connection can run over: plain TCP today, TLS or a
/// SASL-wrapped stream later.
pub trait BrokerStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T> BrokerStream for T where T: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

/// The ApiVersions version tried first; older brokers answer UNSUPPORTED_VERSION.
const API_VERSIONS_FIRST_TRY: i16 = 3;
const UNSUPPORTED_VERSION_CODE: i16 = 35;
/// Frames queued for the writer task before `send` waits.
const OUTBOUND_QUEUE: usize = 256;

type Waiter = oneshot::Sender<Result<Bytes, ClientError>>;

#[derive(Default)]
struct InFlight {
    waiters: HashMap<i32, Waiter>,
    closed: Option<String>,
}

struct Shared {
    address: String,
    in_flight: Mutex<InFlight>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, InFlight> {
        self.in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks the connection dead and fails every request still waiting.
    fn close(&self, reason: String) {
        let waiters = {
            let mut state = self.lock();
            if state.closed.is_none() {
                state.closed = Some(reason.clone());
            }
            std::mem::take(&mut state.waiters)
        };
        if !waiters.is_empty() {
            tracing::debug!(address = %self.address, %reason, pending = waiters.len(), "failing in-flight requests");
        }
        for (_, waiter) in waiters {
            let _ = waiter.send(Err(ClientError::ConnectionClosed {
                address: self.address.clone(),
                reason: reason.clone(),
            }));
        }
    }

    fn closed_error(&self, reason: &str) -> ClientError {
        ClientError::ConnectionClosed {
            address: self.address.clone(),
            reason: reason.to_string(),
        }
    }
}

/// Removes a waiter if the request future is dropped or fails before its response.
struct WaiterGuard<'a> {
    shared: &'a Shared,
    correlation_id: i32,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock().waiters.remove(&self.correlation_id);
    }
}

/// A live, negotiated connection to one broker. Cheap to share behind an `Arc`;
/// every method takes `&self` and requests are pipelined.
pub struct Connection {
    shared: Arc<Shared>,
    outbound: mpsc::Sender<Bytes>,
    next_correlation_id: AtomicI32,
    client_id: String,
    request_timeout: Duration,
    broker_versions: BTreeMap<i16, VersionRange>,
    tasks: Vec<JoinHandle<()>>,
    /// When the SASL session lifetime (KIP-368) is nearly over: from then on
    /// the connection reports itself closed so pools open a fresh one.
    session_expiry: Option<Instant>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("address", &self.shared.address)
            .field("closed", &self.close_reason())
            .finish()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Connection {
    /// Opens a TCP connection to `address` (`host:port`) and negotiates API versions.
    pub async fn connect(address: &str, config: &ClientConfig) -> Result<Connection, ClientError> {
        let connect = TcpStream::connect(address);
        let stream = match tokio::time::timeout(config.connection_setup_timeout, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                return Err(ClientError::Connect {
                    address: address.to_string(),
                    reason: e.to_string(),
                });
            }
            Err(_) => {
                return Err(ClientError::Connect {
                    address: address.to_string(),
                    reason: format!(
                        "connection setup timed out after {} ms",
                        config.connection_setup_timeout.as_millis()
                    ),
                });
            }
        };
        let _ = stream.set_nodelay(true);
        if config.security_protocol.uses_tls() {
            let Some(tls) = &config.tls else {
                return Err(missing_security_settings(config));
            };
            let timeout = config.connection_setup_timeout;
            let stream = crate::tls::handshake(stream, address, tls, timeout).await?;
            return Connection::from_stream(stream, address, config).await;
        }
        Connection::from_stream(stream, address, config).await
    }

    /// Runs the protocol over an already established stream (TLS, SASL or a
    /// test pipe) and negotiates API versions.
    pub async fn from_stream<S: BrokerStream>(
        stream: S,
        address: impl Into<String>,
        config: &ClientConfig,
    ) -> Result<Connection, ClientError> {
        let mut connection = Connection::start(stream, address.into(), config);
        connection.negotiate_api_versions().await?;
        if config.security_protocol.uses_sasl() {
            let Some(sasl) = &config.sasl else {
                return Err(missing_security_settings(config));
            };
            if let Some(lifetime) = crate::sasl::authenticate(&connection, sasl).await? {
                // Like Java clients, move on well before the broker's deadline.
                connection.session_expiry = Some(Instant::now() + lifetime / 10 * 9);
            }
        }
        Ok(connection)
    }

    fn start<S: BrokerStream>(stream: S, address: String, config: &ClientConfig) -> Connection {
        let shared = Arc::new(Shared {
            address,
            in_flight: Mutex::new(InFlight::default()),
        });
        let (reader, writer) = tokio::io::split(stream);
        let (outbound, outbound_rx) = mpsc::channel(OUTBOUND_QUEUE);
        let writer_task = tokio::spawn(write_loop(writer, outbound_rx, shared.clone()));
        let reader_task = tokio::spawn(read_loop(reader, shared.clone()));
        Connection {
            shared,
            outbound,
            next_correlation_id: AtomicI32::new(1),
            client_id: config.client_id.clone(),
            request_timeout: config.request_timeout,
            broker_versions: BTreeMap::new(),
            tasks: vec![writer_task, reader_task],
            session_expiry: None,
        }
    }

    /// The `host:port` this connection was opened to.
    pub fn address(&self) -> &str {
        &self.shared.address
    }

    /// Why the connection is unusable, if it is.
    pub fn close_reason(&self) -> Option<String> {
        self.shared.lock().closed.clone().or_else(|| {
            self.session_expired()
                .then(|| "the SASL session is about to expire".to_string())
        })
    }

    /// True once the socket failed, the broker hung up, a request timed out
    /// or the SASL session is about to expire.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed.is_some() || self.session_expired()
    }

    /// True once 90% of the SASL session lifetime the broker granted has
    /// passed (see [`crate::sasl`]); requests in flight still complete.
    pub fn session_expired(&self) -> bool {
        self.session_expiry.is_some_and(|at| Instant::now() >= at)
    }

    /// Closes the connection, failing requests still in flight.
    pub fn close(&self) {
        self.shared.close("closed by the client".to_string());
    }

    /// The API version ranges the broker advertised, keyed by API key.
    pub fn broker_api_versions(&self) -> &BTreeMap<i16, VersionRange> {
        &self.broker_versions
    }

    /// The highest version of `api` that both this client (limited to `ours`)
    /// and the broker support.
    pub fn negotiated_version(&self, api: ApiKey, ours: VersionRange) -> Result<i16, ClientError> {
        let ours = ours.intersect(&api.valid_versions());
        let broker = self.broker_versions.get(&(api as i16)).copied();
        let unsupported = || ClientError::UnsupportedVersion {
            api,
            address: self.shared.address.clone(),
            ours,
            broker,
        };
        let Some(broker_range) = broker else {
            return Err(unsupported());
        };
        let common = ours.intersect(&broker_range);
        if common.is_empty() {
            return Err(unsupported());
        }
        Ok(common.max)
    }

    /// True when the broker supports `api` at a version this client can speak.
    pub fn supports(&self, api: ApiKey) -> bool {
        self.negotiated_version(api, api.valid_versions()).is_ok()
    }

    /// The version [`Connection::send`] would use for request type `R`.
    pub fn version_for<R: Request>(&self) -> Result<i16, ClientError> {
        self.negotiated_version(api_key_of::<R>()?, R::VERSIONS)
    }

    /// Sends `request` at the highest mutually supported version and waits for its response.
    pub async fn send<R: Request>(&self, request: R) -> Result<R::Response, ClientError> {
        let version = self.version_for::<R>()?;
        self.send_versioned(request, version).await
    }

    /// Sends `request` at exactly `version` and waits for its response.
    pub async fn send_versioned<R: Request>(
        &self,
        request: R,
        version: i16,
    ) -> Result<R::Response, ClientError> {
        let api = api_key_of::<R>()?;
        let body = self.round_trip(api, version, &request).await?;
        decode_body(body, version).map_err(|e| ClientError::Decode {
            api,
            version,
            address: self.shared.address.clone(),
            reason: e.0,
        })
    }

    /// Sends a request the broker will not answer (e.g. Produce with acks=0).
    pub async fn send_without_response<R: Request>(
        &self,
        request: R,
        version: i16,
    ) -> Result<(), ClientError> {
        let api = api_key_of::<R>()?;
        let correlation_id = self.next_correlation_id();
        let frame = self.encode(api, version, correlation_id, &request)?;
        if let Some(reason) = self.close_reason() {
            return Err(self.shared.closed_error(&reason));
        }
        self.outbound
            .send(frame)
            .await
            .map_err(|_| self.shared.closed_error("the writer stopped"))
    }

    fn next_correlation_id(&self) -> i32 {
        // Stay positive and wrap around; ids only need to be unique among in-flight requests.
        self.next_correlation_id.fetch_add(1, Ordering::Relaxed) & i32::MAX
    }

    fn encode<B: Encodable>(
        &self,
        api: ApiKey,
        version: i16,
        correlation_id: i32,
        body: &B,
    ) -> Result<Bytes, ClientError> {
        encode_request_frame(api, version, correlation_id, &self.client_id, body).map_err(|e| {
            ClientError::Encode {
                api,
                version,
                reason: e.0,
            }
        })
    }

    /// Sends one request and returns the response body (header already stripped).
    async fn round_trip<B: Encodable>(
        &self,
        api: ApiKey,
        version: i16,
        body: &B,
    ) -> Result<Bytes, ClientError> {
        let correlation_id = self.next_correlation_id();
        let frame = self.encode(api, version, correlation_id, body)?;
        let (sender, receiver) = oneshot::channel();
        {
            let mut state = self.shared.lock();
            if let Some(reason) = &state.closed {
                return Err(self.shared.closed_error(reason));
            }
            state.waiters.insert(correlation_id, sender);
        }
        let _guard = WaiterGuard {
            shared: &self.shared,
            correlation_id,
        };
        if self.outbound.send(frame).await.is_err() {
            return Err(self.shared.closed_error("the writer stopped"));
        }
        let frame = match tokio::time::timeout(self.request_timeout, receiver).await {
            Ok(Ok(result)) => result?,
            Ok(Err(_)) => {
                let reason = self
                    .close_reason()
                    .unwrap_or_else(|| "the connection was dropped".to_string());
                return Err(self.shared.closed_error(&reason));
            }
            Err(_) => {
                // Like the Java client: a request timeout means the connection is suspect.
                let timeout_ms =
                    u64::try_from(self.request_timeout.as_millis()).unwrap_or(u64::MAX);
                self.shared
                    .close(format!("request {api:?} timed out after {timeout_ms} ms"));
                return Err(ClientError::RequestTimeout {
                    api,
                    address: self.shared.address.clone(),
                    timeout_ms,
                });
            }
        };
        let (response_id, body) =
            split_response_header(api, version, frame).map_err(|e| ClientError::Decode {
                api,
                version,
                address: self.shared.address.clone(),
                reason: e.0,
            })?;
        if response_id != correlation_id {
            let reason = format!("expected correlation id {correlation_id}, got {response_id}");
            self.shared.close(reason.clone());
            return Err(ClientError::InvalidFrame {
                address: self.shared.address.clone(),
                reason,
            });
        }
        Ok(body)
    }

    /// Sends a frame that is not a kafka-protocol request (Strait's admin
    /// messages, see [`crate::admin::links`]): `build` gets a fresh
    /// correlation id and the client id and returns the complete frame,
    /// length prefix included. Returns the raw response frame, which starts
    /// with the correlation id. Timeouts close the connection like
    /// [`Connection::send`]; `call` names the request in that error.
    pub(crate) async fn exchange_raw(
        &self,
        call: &str,
        build: impl FnOnce(i32, &str) -> Result<Bytes, ClientError>,
    ) -> Result<Bytes, ClientError> {
        let correlation_id = self.next_correlation_id();
        let frame = build(correlation_id, &self.client_id)?;
        let (sender, receiver) = oneshot::channel();
        {
            let mut state = self.shared.lock();
            if let Some(reason) = &state.closed {
                return Err(self.shared.closed_error(reason));
            }
            state.waiters.insert(correlation_id, sender);
        }
        let _guard = WaiterGuard {
            shared: &self.shared,
            correlation_id,
        };
        if self.outbound.send(frame).await.is_err() {
            return Err(self.shared.closed_error("the writer stopped"));
        }
        match tokio::time::timeout(self.request_timeout, receiver).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => {
                let reason = self
                    .close_reason()
                    .unwrap_or_else(|| "the connection was dropped".to_string());
                Err(self.shared.closed_error(&reason))
            }
            Err(_) => {
                let timeout_ms =
                    u64::try_from(self.request_timeout.as_millis()).unwrap_or(u64::MAX);
                self.shared
                    .close(format!("request {call} timed out after {timeout_ms} ms"));
                Err(ClientError::Timeout {
                    call: call.to_string(),
                    timeout_ms,
                    last_error: None,
                })
            }
        }
    }

    /// ApiVersions handshake: v3 first, then whatever the broker says it
    /// supports (v0 when it says nothing usable).
    async fn negotiate_api_versions(&mut self) -> Result<(), ClientError> {
        let mut version = API_VERSIONS_FIRST_TRY;
        loop {
            let request = if version >= 3 {
                ApiVersionsRequest::default()
                    .with_client_software_name(StrBytes::from_static_str("strait-client"))
                    .with_client_software_version(StrBytes::from_static_str(env!(
                        "CARGO_PKG_VERSION"
                    )))
            } else {
                ApiVersionsRequest::default()
            };
            let body = self
                .round_trip(ApiKey::ApiVersions, version, &request)
                .await?;
            let error_code = body
                .get(0..2)
                .map(|b| i16::from_be_bytes([b[0], b[1]]))
                .unwrap_or(0);
            if error_code == UNSUPPORTED_VERSION_CODE && version > 0 {
                // The broker answers an unsupported ApiVersions request in the v0 layout.
                let advertised: Option<i16> = decode_body::<ApiVersionsResponse>(body, 0)
                    .ok()
                    .and_then(|r| {
                        r.api_keys
                            .iter()
                            .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                            .map(|k| k.max_version)
                    });
                version = match advertised {
                    Some(max) if max < version && max >= 0 => max,
                    _ => 0,
                };
                continue;
            }
            let response: ApiVersionsResponse =
                decode_body(body, version).map_err(|e| ClientError::Decode {
                    api: ApiKey::ApiVersions,
                    version,
                    address: self.shared.address.clone(),
                    reason: e.0,
                })?;
            ClientError::check(response.error_code, None)?;
            self.broker_versions = response
                .api_keys
                .iter()
                .map(|k| {
                    (
                        k.api_key,
                        VersionRange {
                            min: k.min_version,
                            max: k.max_version,
                        },
                    )
                })
                .collect();
            tracing::debug!(address = %self.shared.address, api_versions_version = version, apis = self.broker_versions.len(), "negotiated API versions");
            return Ok(());
        }
    }
}

fn missing_security_settings(config: &ClientConfig) -> ClientError {
    ClientError::InvalidConfig {
        property: "security.protocol".to_string(),
        value: config.security_protocol.name().to_string(),
        reason: "the TLS or SASL settings it needs are missing (build the configuration with ClientConfig::from_properties or with_security)".to_string(),
    }
}

/// The [`ApiKey`] of request type `R`.
pub fn api_key_of<R: Request>() -> Result<ApiKey, ClientError> {
    ApiKey::try_from(R::KEY)
        .map_err(|_| ClientError::InvalidArgument(format!("unknown API key {}", R::KEY)))
}

async fn write_loop<S: BrokerStream>(
    mut writer: WriteHalf<S>,
    mut frames: mpsc::Receiver<Bytes>,
    shared: Arc<Shared>,
) {
    while let Some(frame) = frames.recv().await {
        let written = async {
            writer.write_all(&frame).await?;
            writer.flush().await
        }
        .await;
        if let Err(e) = written {
            shared.close(format!("write failed: {e}"));
            return;
        }
    }
    let _ = writer.shutdown().await;
}

async fn read_loop<S: BrokerStream>(mut reader: ReadHalf<S>, shared: Arc<Shared>) {
    loop {
        match read_frame(&mut reader).await {
            Ok(Some(frame)) => {
                let Some(correlation_id) = peek_correlation_id(&frame) else {
                    shared.close("response frame shorter than its header".to_string());
                    return;
                };
                let waiter = shared.lock().waiters.remove(&correlation_id);
                match waiter {
                    Some(waiter) => {
                        let _ = waiter.send(Ok(frame));
                    }
                    None => {
                        tracing::debug!(address = %shared.address, correlation_id, "dropping response nobody waits for");
                    }
                }
            }
            Ok(None) => {
                shared.close("the broker closed the connection".to_string());
                return;
            }
            Err(e) => {
                shared.close(format!("read failed: {e}"));
                return;
            }
        }
    }
}
