//! The cluster-level client: bootstrap, cached metadata, one connection per
//! broker address, request routing (any broker, a given broker, a partition
//! leader, the controller, a group coordinator) and retries until
//! `default.api.timeout.ms`. It must never interpret request-specific
//! payloads; typed admin calls live in [`crate::admin`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::{Request, StrBytes};

use crate::admin::groups::{CoordinatorNode, CoordinatorType};
use crate::config::ClientConfig;
use crate::connection::{Connection, api_key_of};
use crate::error::ClientError;
use crate::metadata::{ClusterMetadata, MetadataUpdate};

/// Where a request should go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Any reachable broker (bootstrap servers before metadata is known).
    Any,
    /// A specific broker id.
    Broker(i32),
    /// The current leader of a partition.
    Leader { topic: String, partition: i32 },
    /// The active controller if metadata names one, otherwise any broker
    /// (KRaft brokers forward controller requests).
    Controller,
    /// The coordinator of a group or transactional id.
    Coordinator {
        key: String,
        key_type: CoordinatorType,
    },
}

/// A decoded response with the version it was sent at and the broker that answered.
#[derive(Debug, Clone)]
pub struct VersionedResponse<T> {
    pub body: T,
    pub version: i16,
    pub address: String,
}

#[derive(Default)]
struct MetadataCache {
    snapshot: Arc<ClusterMetadata>,
    fetched_at: Option<Instant>,
    stale: bool,
}

type ConnectionSlot = Arc<tokio::sync::Mutex<Option<Arc<Connection>>>>;

/// An async Kafka client shared by tools and the cluster-link engine.
/// All methods take `&self`; wrap it in an `Arc` to share between tasks.
pub struct KafkaClient {
    config: ClientConfig,
    metadata: RwLock<MetadataCache>,
    connections: Mutex<HashMap<String, ConnectionSlot>>,
    coordinators: Mutex<HashMap<(i8, String), CoordinatorNode>>,
}

impl std::fmt::Debug for KafkaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaClient")
            .field("bootstrap_servers", &self.config.bootstrap_servers)
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl KafkaClient {
    /// A client that has not talked to anyone yet; the first call bootstraps.
    pub fn new(config: ClientConfig) -> Result<KafkaClient, ClientError> {
        if config.bootstrap_servers.is_empty() {
            return Err(ClientError::InvalidConfig {
                property: "bootstrap.servers".to_string(),
                value: String::new(),
                reason: "no bootstrap server given".to_string(),
            });
        }
        Ok(KafkaClient {
            config,
            metadata: RwLock::new(MetadataCache::default()),
            connections: Mutex::new(HashMap::new()),
            coordinators: Mutex::new(HashMap::new()),
        })
    }

    /// Creates a client and fetches the broker list, so an unreachable
    /// cluster is reported here.
    pub async fn connect(config: ClientConfig) -> Result<KafkaClient, ClientError> {
        let client = KafkaClient::new(config)?;
        client.refresh_brokers().await?;
        Ok(client)
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The cached metadata snapshot (possibly empty or stale).
    pub fn metadata(&self) -> Arc<ClusterMetadata> {
        self.metadata
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .snapshot
            .clone()
    }

    /// Marks cached metadata as stale so the next routed call refreshes it.
    pub fn invalidate_metadata(&self) {
        self.metadata
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .stale = true;
    }

    fn metadata_needs_refresh(&self) -> bool {
        let cache = self.metadata.read().unwrap_or_else(|p| p.into_inner());
        match cache.fetched_at {
            None => true,
            Some(at) => cache.stale || at.elapsed() >= self.config.metadata_max_age,
        }
    }

    /// Fetches brokers, controller and cluster id (no topics) and caches them.
    pub async fn refresh_brokers(&self) -> Result<Arc<ClusterMetadata>, ClientError> {
        self.fetch_metadata(Some(&[])).await?;
        Ok(self.metadata())
    }

    /// Sends a Metadata request for `topics` (`None` = all topics) and merges
    /// the answer into the cache. Returns the raw response for callers that
    /// need every field.
    pub async fn fetch_metadata(
        &self,
        topics: Option<&[String]>,
    ) -> Result<VersionedResponse<MetadataResponse>, ClientError> {
        self.fetch_metadata_as("fetchMetadata", topics).await
    }

    /// [`KafkaClient::fetch_metadata`] with the call named `call` in timeout errors.
    pub(crate) async fn fetch_metadata_as(
        &self,
        call: &str,
        topics: Option<&[String]>,
    ) -> Result<VersionedResponse<MetadataResponse>, ClientError> {
        let wanted: Option<Vec<String>> = topics.map(<[String]>::to_vec);
        let response = self
            .call(call, &Route::Any, |version| {
                metadata_request(wanted.as_deref(), version)
            })
            .await?;
        let update = ClusterMetadata::from_response(&response.body);
        self.merge_metadata(update, topics.is_none());
        Ok(response)
    }

    fn merge_metadata(&self, update: MetadataUpdate, full: bool) {
        let mut cache = self.metadata.write().unwrap_or_else(|p| p.into_inner());
        let mut merged = update.metadata;
        if !full {
            let mut topics = cache.snapshot.topics.clone();
            for name in update.topic_errors.keys() {
                topics.remove(name);
            }
            topics.extend(merged.topics);
            merged.topics = topics;
        }
        cache.snapshot = Arc::new(merged);
        cache.fetched_at = Some(Instant::now());
        cache.stale = false;
    }

    /// Makes sure metadata for `topic` is cached and fresh; returns the
    /// broker's error for the topic (e.g. unknown topic) if it has one.
    pub async fn ensure_topic_metadata(
        &self,
        topic: &str,
    ) -> Result<Arc<ClusterMetadata>, ClientError> {
        let cached = self.metadata();
        if !self.metadata_needs_refresh() && cached.topics.contains_key(topic) {
            return Ok(cached);
        }
        let response = self.fetch_metadata(Some(&[topic.to_string()])).await?;
        let update = ClusterMetadata::from_response(&response.body);
        if let Some(err) = update.topic_errors.into_values().next() {
            return Err(err);
        }
        Ok(self.metadata())
    }

    /// A connection to `address` (`host:port`), reusing a live one.
    pub async fn connection_to_address(
        &self,
        address: &str,
    ) -> Result<Arc<Connection>, ClientError> {
        let slot = lock(&self.connections)
            .entry(address.to_string())
            .or_default()
            .clone();
        let mut guard = slot.lock().await;
        if let Some(connection) = guard.as_ref().filter(|c| !c.is_closed()) {
            return Ok(connection.clone());
        }
        let connection = Arc::new(Connection::connect(address, &self.config).await?);
        *guard = Some(connection.clone());
        Ok(connection)
    }

    /// A connection to broker `id`, refreshing metadata once if the id is unknown.
    pub async fn connection_to_broker(&self, id: i32) -> Result<Arc<Connection>, ClientError> {
        let address = match self.metadata().broker(id) {
            Some(broker) => broker.address(),
            None => {
                let metadata = self.refresh_brokers().await?;
                metadata
                    .broker(id)
                    .map(|b| b.address())
                    .ok_or(ClientError::UnknownBroker(id))?
            }
        };
        self.connection_to_address(&address).await
    }

    /// A connection to some broker: known brokers first, then bootstrap
    /// servers. `attempt` rotates through the candidates.
    pub async fn connection_to_any(&self, attempt: usize) -> Result<Arc<Connection>, ClientError> {
        let candidates = self.any_candidates();
        // Prefer an already open connection on the first attempt.
        if attempt == 0 {
            let slots: Vec<ConnectionSlot> = {
                let map = lock(&self.connections);
                candidates
                    .iter()
                    .filter_map(|a| map.get(a).cloned())
                    .collect()
            };
            for slot in slots {
                if let Ok(guard) = slot.try_lock()
                    && let Some(connection) = guard.as_ref().filter(|c| !c.is_closed())
                {
                    return Ok(connection.clone());
                }
            }
        }
        let index = attempt % candidates.len().max(1);
        let address = candidates
            .get(index)
            .cloned()
            .ok_or_else(|| ClientError::InvalidArgument("no broker address known".to_string()))?;
        self.connection_to_address(&address).await
    }

    fn any_candidates(&self) -> Vec<String> {
        let mut candidates: Vec<String> = self
            .metadata()
            .brokers
            .values()
            .map(|b| b.address())
            .collect();
        for server in &self.config.bootstrap_servers {
            if !candidates.contains(server) {
                candidates.push(server.clone());
            }
        }
        candidates
    }

    /// Boxed because routing may itself fetch metadata or find a
    /// coordinator, which are routed calls again.
    fn connection_for_route<'a>(
        &'a self,
        route: &'a Route,
        attempt: usize,
    ) -> Pin<Box<dyn Future<Output = Result<Arc<Connection>, ClientError>> + Send + 'a>> {
        Box::pin(async move {
            match route {
                Route::Any => self.connection_to_any(attempt).await,
                Route::Broker(id) => self.connection_to_broker(*id).await,
                Route::Controller => {
                    if self.metadata_needs_refresh() {
                        self.refresh_brokers().await?;
                    }
                    match self.metadata().controller_id {
                        Some(id) if self.metadata().broker(id).is_some() => {
                            self.connection_to_broker(id).await
                        }
                        _ => self.connection_to_any(attempt).await,
                    }
                }
                Route::Leader { topic, partition } => {
                    let metadata = self.ensure_topic_metadata(topic).await?;
                    let leader = match metadata.topics.get(topic) {
                        None => return Err(unknown_partition(topic, *partition)),
                        Some(info) => match info.partitions.get(partition) {
                            None => return Err(unknown_partition(topic, *partition)),
                            Some(p) => p.leader,
                        },
                    };
                    match leader {
                        Some(id) => self.connection_to_broker(id).await,
                        None => {
                            self.invalidate_metadata();
                            Err(ClientError::from_code(5, None).unwrap_or_else(|| {
                                ClientError::InvalidArgument("no leader".to_string())
                            }))
                        }
                    }
                }
                Route::Coordinator { key, key_type } => {
                    let node = self.find_coordinator(key, *key_type).await?;
                    self.connection_to_address(&node.address()).await
                }
            }
        })
    }

    /// Core routed call: picks a connection for `route`, builds the request
    /// for the negotiated version and retries transport and routing failures
    /// with `retry.backoff.ms` pauses until `default.api.timeout.ms`.
    /// `call` names the operation in timeout errors.
    pub async fn call<R, F>(
        &self,
        call: &str,
        route: &Route,
        build: F,
    ) -> Result<VersionedResponse<R::Response>, ClientError>
    where
        R: Request,
        F: Fn(i16) -> R,
    {
        let deadline = Instant::now() + self.config.default_api_timeout;
        let mut attempt = 0usize;
        let mut connected_once = false;
        let mut last_error: Option<ClientError>;
        loop {
            match self.connection_for_route(route, attempt).await {
                Ok(connection) => {
                    connected_once = true;
                    let version = connection.version_for::<R>()?;
                    let request = build(version);
                    match connection.send_versioned(request, version).await {
                        Ok(body) => {
                            return Ok(VersionedResponse {
                                body,
                                version,
                                address: connection.address().to_string(),
                            });
                        }
                        Err(err) if err.is_transport() => {
                            self.after_route_failure(route);
                            last_error = Some(err);
                        }
                        Err(err) => return Err(err),
                    }
                }
                Err(err) if is_routing_retriable(&err) => {
                    self.after_route_failure(route);
                    last_error = Some(err);
                }
                Err(err) => return Err(err),
            }
            attempt += 1;
            let backoff = self.config.retry_backoff;
            if Instant::now() + backoff >= deadline {
                let last_error = last_error.map(|e| e.to_string());
                return Err(if connected_once {
                    ClientError::Timeout {
                        call: call.to_string(),
                        timeout_ms: millis(self.config.default_api_timeout),
                        last_error,
                    }
                } else {
                    ClientError::NodeUnavailable {
                        call: call.to_string(),
                        last_error,
                    }
                });
            }
            tokio::time::sleep(backoff).await;
        }
    }

    fn after_route_failure(&self, route: &Route) {
        match route {
            Route::Leader { .. } | Route::Broker(_) | Route::Controller => {
                self.invalidate_metadata()
            }
            Route::Coordinator { key, key_type } => self.forget_coordinator(key, *key_type),
            Route::Any => {}
        }
    }

    /// Sends to the route with the highest mutually supported version.
    /// The request must be valid at whatever version gets negotiated; use
    /// [`KafkaClient::call`] to build it per version instead.
    pub async fn send_routed<R>(
        &self,
        route: &Route,
        request: R,
    ) -> Result<R::Response, ClientError>
    where
        R: Request + Clone,
    {
        let name = format!("{:?}", api_key_of::<R>()?);
        Ok(self.call(&name, route, |_| request.clone()).await?.body)
    }

    /// Sends to any broker.
    pub async fn send_to_any<R: Request + Clone>(
        &self,
        request: R,
    ) -> Result<R::Response, ClientError> {
        self.send_routed(&Route::Any, request).await
    }

    /// Sends to broker `id`.
    pub async fn send_to_broker<R: Request + Clone>(
        &self,
        id: i32,
        request: R,
    ) -> Result<R::Response, ClientError> {
        self.send_routed(&Route::Broker(id), request).await
    }

    /// Sends to the leader of `topic`/`partition`. Partition errors inside the
    /// response are the caller's to inspect; on NOT_LEADER_OR_FOLLOWER and
    /// similar call [`KafkaClient::invalidate_metadata`] and retry.
    pub async fn send_to_leader<R: Request + Clone>(
        &self,
        topic: &str,
        partition: i32,
        request: R,
    ) -> Result<R::Response, ClientError> {
        let route = Route::Leader {
            topic: topic.to_string(),
            partition,
        };
        self.send_routed(&route, request).await
    }

    /// Sends to the controller (or any broker, which forwards).
    pub async fn send_to_controller<R: Request + Clone>(
        &self,
        request: R,
    ) -> Result<R::Response, ClientError> {
        self.send_routed(&Route::Controller, request).await
    }

    /// The leader of a partition, refreshing metadata when needed.
    pub async fn leader_for(&self, topic: &str, partition: i32) -> Result<i32, ClientError> {
        let metadata = self.ensure_topic_metadata(topic).await?;
        metadata
            .leader_for(topic, partition)
            .ok_or_else(|| unknown_partition(topic, partition))
    }

    pub(crate) fn cached_coordinator(
        &self,
        key: &str,
        key_type: CoordinatorType,
    ) -> Option<CoordinatorNode> {
        lock(&self.coordinators)
            .get(&(key_type as i8, key.to_string()))
            .cloned()
    }

    pub(crate) fn remember_coordinator(
        &self,
        key: &str,
        key_type: CoordinatorType,
        node: CoordinatorNode,
    ) {
        lock(&self.coordinators).insert((key_type as i8, key.to_string()), node);
    }

    /// Drops a cached coordinator (after NOT_COORDINATOR and friends).
    pub fn forget_coordinator(&self, key: &str, key_type: CoordinatorType) {
        lock(&self.coordinators).remove(&(key_type as i8, key.to_string()));
    }

    /// Supported version range check against any broker, e.g. to pick an API.
    pub async fn any_broker_supports(&self, api: ApiKey) -> Result<bool, ClientError> {
        let deadline = Instant::now() + self.config.default_api_timeout;
        let mut attempt = 0;
        loop {
            match self.connection_to_any(attempt).await {
                Ok(connection) => return Ok(connection.supports(api)),
                Err(err)
                    if err.is_transport()
                        && Instant::now() + self.config.retry_backoff < deadline =>
                {
                    attempt += 1;
                    tokio::time::sleep(self.config.retry_backoff).await;
                }
                Err(err) if err.is_transport() => {
                    return Err(ClientError::NodeUnavailable {
                        call: format!("{api:?}"),
                        last_error: Some(err.to_string()),
                    });
                }
                Err(err) => return Err(err),
            }
        }
    }
}

/// Failures while choosing a connection that a later attempt may not hit.
fn is_routing_retriable(err: &ClientError) -> bool {
    use kafka_protocol::ResponseError as E;
    err.is_transport()
        || matches!(err, ClientError::UnknownBroker(_))
        || matches!(
            err.server_error(),
            Some(
                E::LeaderNotAvailable
                    | E::CoordinatorNotAvailable
                    | E::CoordinatorLoadInProgress
                    | E::NotCoordinator
                    | E::NotController
            )
        )
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn unknown_partition(topic: &str, partition: i32) -> ClientError {
    ClientError::Server {
        error: kafka_protocol::ResponseError::UnknownTopicOrPartition,
        message: format!("Partition {topic}-{partition} does not exist."),
    }
}

/// Builds a Metadata request valid at `version`: `None` asks for all topics.
pub fn metadata_request(topics: Option<&[String]>, version: i16) -> MetadataRequest {
    let topics = match topics {
        // v0 has no way to say "all topics" other than an empty list.
        None if version == 0 => Some(Vec::new()),
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|name| {
                    MetadataRequestTopic::default()
                        .with_name(Some(TopicName(StrBytes::from_string(name.clone()))))
                })
                .collect(),
        ),
    };
    let mut request = MetadataRequest::default().with_topics(topics);
    if version >= 4 {
        request = request.with_allow_auto_topic_creation(false);
    }
    request
}
