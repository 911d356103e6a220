//! `LinkEngine`: the cluster links of this cluster and their mirror topics.
//! It owns link lifecycles (create, alter, pause, delete), each link's
//! control loop (source availability, source topic deletion/recreation,
//! partition growth), the mirror state machine's transitions (pause, unpause,
//! promote, failover, fail) and the fetcher tasks. Every state change is
//! persisted in metadata before it takes effect. It must never write to a
//! mirror log except through [`LocalCluster::mirror_append`] and friends.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use strait_client::{ClientConfig, ClientError, KafkaClient};
use strait_metadata::{
    LinkRecord, MetadataError, MetadataStore, MirrorRecord, MirrorState, TopicRecord,
};
use strait_protocol::admin::*;
use tokio_util::sync::CancellationToken;

use crate::config::{self, LinkSettings, StartOffsetSpec};
use crate::error::{LinkError, admin_error};
use crate::fetcher::MirrorFetcher;
use crate::local::LocalCluster;
use crate::mirror::MirrorRuntime;
use crate::mirror_state::{MirrorStateError, MirrorTopicState};
use crate::secrets::LinkSecretKey;
use crate::task::{SyncTask, TaskOutcome};

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn unknown_link(name: &str) -> LinkError {
    LinkError::UnknownLink(name.to_string())
}

/// One link at run time.
pub struct LinkRuntime {
    record: Mutex<LinkRecord>,
    settings: RwLock<LinkSettings>,
    client: tokio::sync::Mutex<Option<Arc<KafkaClient>>>,
    available: AtomicBool,
    store: Arc<dyn MetadataStore>,
    /// Opens the sealed sensitive configs when the source client is built.
    secret_key: Arc<LinkSecretKey>,
    /// Cancels the control loop when the link is deleted.
    cancel: CancellationToken,
    tasks: Mutex<BTreeMap<SyncTask, TaskOutcome>>,
    /// Bytes and records the link's fetchers appended, over all its mirrors.
    traffic: crate::traffic::FetchTraffic,
}

impl LinkRuntime {
    fn new(
        record: LinkRecord,
        store: Arc<dyn MetadataStore>,
        secret_key: Arc<LinkSecretKey>,
    ) -> Self {
        let settings = LinkSettings::from_configs(&record.configs);
        LinkRuntime {
            record: Mutex::new(record),
            settings: RwLock::new(settings),
            client: tokio::sync::Mutex::new(None),
            available: AtomicBool::new(false),
            store,
            secret_key,
            cancel: CancellationToken::new(),
            tasks: Mutex::new(BTreeMap::new()),
            traffic: crate::traffic::FetchTraffic::default(),
        }
    }

    /// The link's fetched traffic counters.
    pub fn traffic(&self) -> &crate::traffic::FetchTraffic {
        &self.traffic
    }

    pub fn settings(&self) -> LinkSettings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn record(&self) -> LinkRecord {
        lock(&self.record).clone()
    }

    pub fn name(&self) -> String {
        lock(&self.record).name.clone()
    }

    pub fn available(&self) -> bool {
        self.available.load(Ordering::Relaxed)
    }

    pub fn set_available(&self, available: bool) {
        self.available.store(available, Ordering::Relaxed);
    }

    /// The client for the source cluster, connected on first use.
    pub async fn client(&self) -> Result<Arc<KafkaClient>, ClientError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let client =
            Arc::new(connect_source(&self.settings(), &self.secret_key, TASK_RETRY_CAP).await?);
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Drops the source client so the next use reconnects with current configs.
    pub async fn reset_client(&self) {
        *self.client.lock().await = None;
    }

    /// Drops the status of a task that is no longer configured.
    pub fn forget_task(&self, task: SyncTask) {
        lock(&self.tasks).remove(&task);
    }

    /// Records the outcome of one run of `task`.
    pub fn report_task(&self, task: SyncTask, result: Result<(), LinkError>) {
        if let Err(e) = &result {
            tracing::warn!("link {}: {task} failed: {e}", self.name());
        }
        lock(&self.tasks)
            .entry(task)
            .or_default()
            .record(&result, now_ms());
    }

    /// Moves a mirror to FAILED with a reason (persisted) and stops its
    /// fetchers. Its data stays as it is. A mirror that may not fail (already
    /// failed, stopping or stopped) is left alone.
    pub fn fail_mirror(&self, mirror: &MirrorRuntime, reason: &str) {
        let topic = mirror.topic();
        match mirror.write_state(
            self.store.as_ref(),
            MirrorTopicState::Failed,
            Some(reason.to_string()),
            now_ms(),
        ) {
            Ok(_) => tracing::error!("mirror topic {topic} failed: {reason}"),
            Err(e @ MirrorStateError::Refused { .. }) => {
                tracing::debug!("not failing mirror topic {topic} ({reason}): {e}");
                return;
            }
            Err(e) => {
                tracing::error!("persisting the failure of mirror {topic} ({reason}) failed: {e}")
            }
        }
        mirror.stop_fetchers();
    }
}

/// Builds a client for a link's source from its settings, opening the sealed
/// sensitive values (the only place they are decrypted). Calls retry for at
/// most `cap` (and never longer than `cluster.link.retry.timeout.ms`).
async fn connect_source(
    settings: &LinkSettings,
    secret_key: &LinkSecretKey,
    cap: Duration,
) -> Result<KafkaClient, ClientError> {
    let mut properties = settings.client_properties();
    for (name, value) in properties.iter_mut() {
        *value = secret_key
            .open(name, value)
            .map_err(|e| ClientError::InvalidConfig {
                property: name.clone(),
                value: "[hidden]".to_string(),
                reason: e.to_string(),
            })?;
    }
    let mut config = ClientConfig::from_properties(&properties)?;
    let retry = settings.retry_timeout.max(Duration::from_secs(1));
    config = config.with_default_api_timeout(retry.min(cap));
    KafkaClient::connect(config).await
}

/// How long background tasks retry a source call before reporting failure.
const TASK_RETRY_CAP: Duration = Duration::from_secs(30);
/// How long link creation waits for an unreachable source before refusing.
const VALIDATION_CAP: Duration = Duration::from_secs(10);

/// The source's (log start, high watermark) of a partition.
pub async fn partition_bounds(
    client: &KafkaClient,
    topic: &str,
    partition: i32,
) -> Result<(i64, i64), ClientError> {
    let start = list_offset(client, topic, partition, -2).await?;
    let end = list_offset(client, topic, partition, -1).await?;
    Ok((start, end))
}

/// ListOffsets for one partition; `timestamp` -1 latest, -2 earliest.
/// Returns -1 when no record has a timestamp at or after the one asked for.
pub async fn list_offset(
    client: &KafkaClient,
    topic: &str,
    partition: i32,
    timestamp: i64,
) -> Result<i64, ClientError> {
    let mut p = ListOffsetsPartition::default();
    p.partition_index = partition;
    p.current_leader_epoch = -1;
    p.timestamp = timestamp;
    let mut t = ListOffsetsTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = vec![p];
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(-1);
    req.topics = vec![t];
    let resp = client.send_to_leader(topic, partition, req).await?;
    let part = resp
        .topics
        .into_iter()
        .flat_map(|t| t.partitions)
        .find(|p| p.partition_index == partition)
        .ok_or_else(|| {
            ClientError::InvalidArgument(format!("no ListOffsets answer for {topic}-{partition}"))
        })?;
    ClientError::check(part.error_code, None)?;
    Ok(part.offset)
}

pub struct LinkEngine {
    local: Arc<dyn LocalCluster>,
    store: Arc<dyn MetadataStore>,
    /// Seals sensitive link configs before they are stored.
    secret_key: Arc<LinkSecretKey>,
    links: Mutex<BTreeMap<String, Arc<LinkRuntime>>>,
    mirrors: Mutex<BTreeMap<String, Arc<MirrorRuntime>>>,
}

impl LinkEngine {
    /// Loads links and mirrors from metadata and starts them. Sensitive
    /// configs of links stored before sealing existed are sealed now.
    pub fn start(local: Arc<dyn LocalCluster>, secret_key: Arc<LinkSecretKey>) -> Arc<LinkEngine> {
        let store = local.store();
        let engine = Arc::new(LinkEngine {
            local,
            store: store.clone(),
            secret_key: secret_key.clone(),
            links: Mutex::new(BTreeMap::new()),
            mirrors: Mutex::new(BTreeMap::new()),
        });
        for mut link in store.links() {
            if secret_key.needs_sealing(&link.configs) {
                match engine.seal_and_store(&link) {
                    Ok(sealed) => {
                        tracing::info!(
                            "cluster link {}: sensitive configs stored in clear or with the old password.encoder secret were encrypted with the current key",
                            link.name
                        );
                        link = sealed;
                    }
                    Err(e) => tracing::error!(
                        "cluster link {}: encrypting its sensitive configs failed: {e}",
                        link.name
                    ),
                }
            }
            let runtime = Arc::new(LinkRuntime::new(
                link.clone(),
                store.clone(),
                secret_key.clone(),
            ));
            lock(&engine.links).insert(link.name.clone(), runtime.clone());
            engine.spawn_control_loop(runtime);
        }
        for mirror in store.mirrors() {
            let partitions = store
                .topic(&mirror.topic)
                .map(|t| t.partitions)
                .unwrap_or(0);
            let runtime = Arc::new(MirrorRuntime::new(mirror.clone(), partitions as usize));
            lock(&engine.mirrors).insert(mirror.topic.clone(), runtime.clone());
            if mirror.state == MirrorState::PendingStopped {
                // A promote was interrupted: finish it as the operator asked.
                engine.stop_mirror(&runtime, None);
            } else if mirror.state == MirrorState::Active {
                engine.start_fetchers(&runtime);
            }
        }
        engine
    }

    /// `configs` with every sensitive value sealed, for storing.
    fn sealed(
        &self,
        configs: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, LinkError> {
        Ok(self.secret_key.seal_sensitive(configs)?)
    }

    /// Rewrites a stored link record with its sensitive values sealed.
    fn seal_and_store(&self, link: &LinkRecord) -> Result<LinkRecord, LinkError> {
        let mut record = link.clone();
        record.configs = self.sealed(&link.configs)?;
        self.store.update_link(record.clone())?;
        Ok(record)
    }

    pub(crate) fn local(&self) -> &Arc<dyn LocalCluster> {
        &self.local
    }

    pub(crate) fn store(&self) -> &Arc<dyn MetadataStore> {
        &self.store
    }

    /// Mirrors of a link, as runtime handles.
    pub(crate) fn link_mirrors(&self, link: &str) -> Vec<Arc<MirrorRuntime>> {
        self.mirrors_of(link)
    }

    fn link(&self, name: &str) -> Option<Arc<LinkRuntime>> {
        lock(&self.links).get(name).cloned()
    }

    fn mirror(&self, topic: &str) -> Option<Arc<MirrorRuntime>> {
        lock(&self.mirrors).get(topic).cloned()
    }

    /// Whether a topic refuses writes because it is an attached mirror.
    pub fn is_read_only(&self, topic: &str) -> bool {
        self.mirror(topic)
            .is_some_and(|m| m.state() != MirrorState::Stopped)
    }

    /// Whether `key` may be changed on `topic` now: always on a topic that is
    /// not an attached mirror; on a mirror only the configs that do not
    /// follow the source.
    pub fn config_settable(&self, topic: &str, key: &str) -> bool {
        let Some(mirror) = self.mirror(topic) else {
            return true;
        };
        if mirror.state() == MirrorState::Stopped {
            return true;
        }
        let record = mirror.record();
        let include = self.sync_include(&record.link);
        !crate::sync::follows_source(key, include.as_deref(), &record.local_overrides)
    }

    /// The `topic.config.sync.include` of `link`, if the link exists and sets it.
    fn sync_include(&self, link: &str) -> Option<String> {
        self.link(link)
            .and_then(|l| l.settings().raw.get("topic.config.sync.include").cloned())
    }

    /// Forgets a deleted topic's mirror and stops its fetchers.
    pub fn topic_deleted(&self, topic: &str) {
        if let Some(m) = lock(&self.mirrors).remove(topic) {
            m.stop_fetchers();
        }
    }

    /// (Re)starts the fetchers of an active mirror, one per partition.
    fn start_fetchers(&self, mirror: &Arc<MirrorRuntime>) {
        let record = mirror.record();
        let Some(link) = self.link(&record.link) else {
            return;
        };
        let token = mirror.restart_token();
        if link.settings().paused {
            return;
        }
        let partitions = self
            .store
            .topic(&record.topic)
            .map(|t| t.partitions)
            .unwrap_or(0);
        mirror.ensure_partitions(partitions as usize);
        for partition in 0..partitions as i32 {
            let fetcher = MirrorFetcher {
                link: link.clone(),
                mirror: mirror.clone(),
                local: self.local.clone(),
                partition,
                cancel: token.clone(),
            };
            tokio::spawn(fetcher.run());
        }
    }

    fn mirrors_of(&self, link: &str) -> Vec<Arc<MirrorRuntime>> {
        lock(&self.mirrors)
            .values()
            .filter(|m| m.record().link == link)
            .cloned()
            .collect()
    }

    /// Moves a mirror to `state` through its one write path.
    fn set_state(
        &self,
        mirror: &MirrorRuntime,
        state: MirrorTopicState,
        reason: Option<String>,
    ) -> Result<(), LinkError> {
        mirror.write_state(self.store.as_ref(), state, reason, now_ms())?;
        Ok(())
    }

    /// Stops mirroring for good: the topic becomes a normal writable topic.
    fn stop_mirror(&self, mirror: &Arc<MirrorRuntime>, reason: Option<String>) {
        mirror.stop_fetchers();
        if let Err(e) = self.set_state(mirror, MirrorTopicState::Stopped, reason) {
            tracing::error!("stopping mirror {} failed: {e}", mirror.topic());
        }
        tracing::info!(
            "mirror topic {} stopped; it is now writable",
            mirror.topic()
        );
    }

    // ---- links ----

    pub async fn create_link(self: &Arc<Self>, req: CreateClusterLinkRequest) -> AdminError {
        admin_error(self.try_create_link(req).await)
    }

    async fn try_create_link(
        self: &Arc<Self>,
        mut req: CreateClusterLinkRequest,
    ) -> Result<(), LinkError> {
        req.configs = config::normalized(std::mem::take(&mut req.configs));
        let name = req.link_name.clone();
        if name.is_empty() {
            return Err(LinkError::EmptyLinkName);
        }
        if name.len() > 200 {
            return Err(LinkError::LinkNameTooLong);
        }
        if name == "."
            || name == ".."
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(LinkError::IllegalLinkName(name));
        }
        if self.link(&name).is_some() {
            return Err(LinkError::LinkExists(name));
        }
        let local_cluster_id = self.local.cluster_id();
        if req.cluster_id.as_deref() == Some(local_cluster_id.as_str()) {
            return Err(LinkError::LinkToSelf(local_cluster_id));
        }
        config::validate_new(&req.configs)?;
        let settings = LinkSettings::from_configs(&req.configs);
        let mut source_cluster_id = req.cluster_id.clone().filter(|c| !c.is_empty());
        let mut validated = None;
        if req.validate_link {
            let client = connect_source(&settings, &self.secret_key, VALIDATION_CAP)
                .await
                .map_err(|error| LinkError::ValidationUnreachable {
                    link: name.clone(),
                    error,
                })?;
            let found = client.metadata().cluster_id.clone();
            if found.as_deref() == Some(local_cluster_id.as_str()) {
                return Err(LinkError::LinkToSelf(local_cluster_id));
            }
            match (&source_cluster_id, found) {
                (Some(given), Some(actual)) if *given != actual => {
                    return Err(LinkError::ClusterIdMismatch {
                        link: name,
                        given: given.clone(),
                        actual,
                    });
                }
                (None, Some(actual)) => source_cluster_id = Some(actual),
                _ => {}
            }
            validated = Some(client);
        }
        if req.validate_only {
            return Ok(());
        }
        let record = LinkRecord {
            name: name.clone(),
            id: uuid::Uuid::new_v4(),
            source_cluster_id,
            configs: self.sealed(&req.configs)?,
            created_ms: now_ms(),
        };
        self.store
            .create_link(record.clone())
            .map_err(|e| match e {
                MetadataError::LinkExists(_) => LinkError::LinkExists(name.clone()),
                other => other.into(),
            })?;
        let runtime = Arc::new(LinkRuntime::new(
            record,
            self.store.clone(),
            self.secret_key.clone(),
        ));
        if let Some(client) = validated {
            // The source just answered: the link starts out available, with
            // the validated connection as its client.
            *runtime.client.lock().await = Some(Arc::new(client));
            runtime.set_available(true);
        }
        lock(&self.links).insert(name.clone(), runtime.clone());
        self.spawn_control_loop(runtime);
        tracing::info!("created cluster link {name}");
        Ok(())
    }

    pub fn list_links(&self, req: ListClusterLinksRequest) -> ListClusterLinksResponse {
        let links: Vec<Arc<LinkRuntime>> = match &req.link_name {
            Some(name) => match self.link(name) {
                Some(l) => vec![l],
                None => {
                    return ListClusterLinksResponse {
                        error: unknown_link(name).into(),
                        links: vec![],
                    };
                }
            },
            None => lock(&self.links).values().cloned().collect(),
        };
        let local_cluster_id = self.local.cluster_id();
        let links = links
            .into_iter()
            .map(|l| {
                let record = l.record();
                let settings = l.settings();
                let topics = req.include_topics.then(|| {
                    let mut t: Vec<String> = self
                        .mirrors_of(&record.name)
                        .iter()
                        .filter(|m| m.state() != MirrorState::Stopped)
                        .map(|m| m.topic())
                        .collect();
                    t.sort();
                    t
                });
                ClusterLinkListing {
                    link_name: record.name.clone(),
                    link_id: record.id.to_string(),
                    remote_cluster_id: record.source_cluster_id.clone(),
                    local_cluster_id: local_cluster_id.clone(),
                    remote_cluster_available: l.available(),
                    link_state: status::link_state(settings.paused).to_string(),
                    link_error: None,
                    topics,
                    tasks: lock(&l.tasks)
                        .iter()
                        .map(|(task, outcome)| outcome.listing(*task, settings.paused))
                        .collect(),
                }
            })
            .collect();
        ListClusterLinksResponse {
            error: AdminError::none(),
            links,
        }
    }

    pub async fn delete_link(self: &Arc<Self>, req: DeleteClusterLinkRequest) -> AdminError {
        admin_error(self.try_delete_link(req))
    }

    fn try_delete_link(&self, req: DeleteClusterLinkRequest) -> Result<(), LinkError> {
        let link = self
            .link(&req.link_name)
            .ok_or_else(|| unknown_link(&req.link_name))?;
        let attached: Vec<Arc<MirrorRuntime>> = self
            .mirrors_of(&req.link_name)
            .into_iter()
            .filter(|m| m.state() != MirrorState::Stopped)
            .collect();
        if !attached.is_empty() && !req.force {
            let mut topics: Vec<String> = attached.iter().map(|m| m.topic()).collect();
            topics.sort();
            return Err(LinkError::LinkInUse {
                link: req.link_name,
                id: link.record().id.to_string(),
                topics,
            });
        }
        if req.validate_only {
            return Ok(());
        }
        for mirror in &attached {
            self.stop_mirror(mirror, Some("cluster link was deleted".into()));
        }
        self.store.delete_link(&req.link_name)?;
        link.cancel.cancel();
        lock(&self.links).remove(&req.link_name);
        lock(&self.mirrors).retain(|_, m| m.record().link != req.link_name);
        tracing::info!("deleted cluster link {}", req.link_name);
        Ok(())
    }

    pub fn describe_link_configs(
        &self,
        req: DescribeClusterLinkConfigsRequest,
    ) -> DescribeClusterLinkConfigsResponse {
        let Some(link) = self.link(&req.link_name) else {
            return DescribeClusterLinkConfigsResponse {
                error: unknown_link(&req.link_name).into(),
                configs: vec![],
            };
        };
        let configs = config::describe(&link.record().configs)
            .into_iter()
            .map(|(name, value, sensitive, set)| LinkConfigEntry {
                read_only: config::property(&name).is_some_and(|p| !p.alterable),
                name,
                value,
                sensitive,
                source: if set {
                    "DYNAMIC_CLUSTER_LINK_CONFIG"
                } else {
                    "DEFAULT_CONFIG"
                }
                .to_string(),
            })
            .collect();
        DescribeClusterLinkConfigsResponse {
            error: AdminError::none(),
            configs,
        }
    }

    pub async fn alter_link_configs(
        self: &Arc<Self>,
        req: AlterClusterLinkConfigsRequest,
    ) -> AdminError {
        admin_error(self.try_alter_link_configs(req).await)
    }

    async fn try_alter_link_configs(
        self: &Arc<Self>,
        req: AlterClusterLinkConfigsRequest,
    ) -> Result<(), LinkError> {
        let link = self
            .link(&req.link_name)
            .ok_or_else(|| unknown_link(&req.link_name))?;
        let mut record = link.record();
        let next = config::normalized(config::alter(&record.configs, &req.set, &req.delete)?);
        if req.validate_only {
            return Ok(());
        }
        let before = link.settings();
        record.configs = self.sealed(&next)?;
        self.store.update_link(record.clone())?;
        let after = LinkSettings::from_configs(&record.configs);
        *lock(&link.record) = record;
        *link.settings.write().unwrap_or_else(|e| e.into_inner()) = after.clone();
        let client_changed = before.client_properties() != after.client_properties();
        if client_changed || before.paused != after.paused {
            link.reset_client().await;
            for mirror in self.mirrors_of(&req.link_name) {
                if mirror.state() == MirrorState::Active {
                    self.start_fetchers(&mirror);
                }
            }
        }
        tracing::info!("updated configs of cluster link {}", req.link_name);
        Ok(())
    }

    // ---- mirrors ----

    pub async fn create_mirror(self: &Arc<Self>, req: CreateMirrorTopicRequest) -> AdminError {
        admin_error(self.try_create_mirror(req).await)
    }

    async fn try_create_mirror(
        self: &Arc<Self>,
        req: CreateMirrorTopicRequest,
    ) -> Result<(), LinkError> {
        let link = self
            .link(&req.link_name)
            .ok_or_else(|| unknown_link(&req.link_name))?;
        let settings = link.settings();
        let source_topic = match (&settings.prefix, &req.source_topic) {
            (Some(prefix), None) => {
                return Err(LinkError::SourceTopicRequired {
                    link: req.link_name,
                    prefix: prefix.clone(),
                });
            }
            (Some(prefix), Some(source)) => {
                if req.mirror_topic != format!("{prefix}{source}") {
                    return Err(LinkError::RenameWithPrefix {
                        mirror: req.mirror_topic,
                        prefix: prefix.clone(),
                        source_topic: source.clone(),
                    });
                }
                source.clone()
            }
            (None, Some(source)) if *source != req.mirror_topic => {
                return Err(LinkError::Rename {
                    mirror: req.mirror_topic,
                    source_topic: source.clone(),
                });
            }
            (None, _) => req.mirror_topic.clone(),
        };
        if self.store.topic(&req.mirror_topic).is_some() {
            return Err(LinkError::TopicExists(req.mirror_topic));
        }
        let rf = req
            .replication_factor
            .unwrap_or_else(|| self.local.default_replication_factor());
        if rf != 1 && rf != -1 {
            return Err(LinkError::ReplicationFactor(rf));
        }
        let client = link
            .client()
            .await
            .map_err(|error| LinkError::SourceUnreachable {
                link: req.link_name.clone(),
                error,
            })?;
        let metadata = client
            .fetch_metadata(Some(std::slice::from_ref(&source_topic)))
            .await
            .map(|m| strait_client::ClusterMetadata::from_response(&m.body))
            .map_err(LinkError::SourceMetadata)?;
        let Some(source) = metadata.metadata.topics.get(&source_topic).cloned() else {
            return Err(LinkError::NoSourceTopic {
                topic: source_topic,
                link: req.link_name,
            });
        };
        let partitions = source.partitions.len() as u32;
        let mut configs = crate::sync::source_topic_configs(&client, &source_topic)
            .await
            .map_err(LinkError::SourceConfigs)?;
        let include = settings.raw.get("topic.config.sync.include").cloned();
        // Confluent's rule: a mirror is created with local values for the
        // configs that may follow the source (its REST example sets
        // retention.ms); those stay local. Only the always-synced ones
        // (cleanup.policy, max.message.bytes, ...) must come from the source.
        let local_overrides: Vec<String> = req
            .configs
            .keys()
            .filter(|k| crate::sync::is_synced(k, include.as_deref()))
            .cloned()
            .collect();
        configs.retain(|k, _| crate::sync::follows_source(k, include.as_deref(), &local_overrides));
        if let Some(key) = req
            .configs
            .keys()
            .find(|key| crate::sync::ALWAYS_SYNCED.contains(&key.as_str()))
        {
            return Err(LinkError::SyncedConfig {
                key: key.clone(),
                mirror: req.mirror_topic,
            });
        }
        configs.extend(req.configs.clone());
        self.local
            .validate_topic_configs(&configs)
            .map_err(LinkError::InvalidTopicConfig)?;
        if req.validate_only {
            return Ok(());
        }
        let topic = TopicRecord {
            name: req.mirror_topic.clone(),
            id: uuid::Uuid::new_v4(),
            partitions,
            replication_factor: 1,
            configs,
            created_ms: now_ms(),
        };
        let record = MirrorRecord {
            topic: req.mirror_topic.clone(),
            link: req.link_name.clone(),
            source_topic: source_topic.clone(),
            source_topic_id: Some(source.topic_id).filter(|id| !id.is_nil()),
            state: MirrorState::Active,
            state_time_ms: now_ms(),
            reason: None,
            last_source_offsets: vec![],
            local_overrides,
        };
        self.store
            .create_mirror_topic(topic.clone(), record.clone())
            .map_err(|e| match e {
                MetadataError::TopicExists(t) => LinkError::TopicExists(t),
                MetadataError::UnknownLink(l) => LinkError::UnknownLink(l),
                other => other.into(),
            })?;
        if let Err(e) = self.local.open_topic(&topic) {
            let _ = self.store.delete_topic(&topic.name);
            return Err(LinkError::OpenTopic(e));
        }
        if let Err(e) = self
            .position_new_mirror(&client, &topic, &source_topic, settings.start_offset)
            .await
        {
            tracing::warn!(
                "positioning mirror {} failed, it starts at the earliest source offset: {e}",
                topic.name
            );
        }
        let runtime = Arc::new(MirrorRuntime::new(record, partitions as usize));
        lock(&self.mirrors).insert(req.mirror_topic.clone(), runtime.clone());
        self.start_fetchers(&runtime);
        tracing::info!(
            "created mirror topic {} from {} over link {}",
            req.mirror_topic,
            source_topic,
            req.link_name
        );
        Ok(())
    }

    /// Moves each new (empty) mirror partition to where mirroring starts, per
    /// `mirror.start.offset.spec`, aligned to the start of a source batch.
    async fn position_new_mirror(
        &self,
        client: &KafkaClient,
        topic: &TopicRecord,
        source_topic: &str,
        spec: StartOffsetSpec,
    ) -> Result<(), LinkError> {
        for partition in 0..topic.partitions as i32 {
            let target = match spec {
                StartOffsetSpec::Earliest => list_offset(client, source_topic, partition, -2).await,
                StartOffsetSpec::Latest => list_offset(client, source_topic, partition, -1).await,
                StartOffsetSpec::Timestamp(ts) => {
                    match list_offset(client, source_topic, partition, ts).await {
                        Ok(-1) => list_offset(client, source_topic, partition, -1).await,
                        other => other,
                    }
                }
            }?;
            if target <= 0 {
                continue;
            }
            // The fetch answer, not ListOffsets alone, decides: a batch
            // boundary at or below the source's high watermark.
            let base =
                crate::sync::aligned_mirror_start(client, source_topic, partition, target).await?;
            self.local.reset_empty_to(&topic.name, partition, base)?;
        }
        Ok(())
    }

    pub fn list_mirrors(&self, req: ListMirrorsRequest) -> ListMirrorsResponse {
        if let Some(name) = &req.link_name
            && self.link(name).is_none()
        {
            return ListMirrorsResponse {
                error: unknown_link(name).into(),
                topics: vec![],
            };
        }
        let mut topics: Vec<String> = lock(&self.mirrors)
            .values()
            .map(|m| m.record())
            .filter(|r| req.link_name.as_ref().is_none_or(|l| *l == r.link))
            .filter(|r| req.include_stopped || r.state != MirrorState::Stopped)
            .map(|r| r.topic)
            .collect();
        topics.sort();
        ListMirrorsResponse {
            error: AdminError::none(),
            topics,
        }
    }

    pub fn describe_mirrors(&self, req: DescribeMirrorsRequest) -> DescribeMirrorsResponse {
        if let Some(name) = &req.link_name
            && self.link(name).is_none()
        {
            return DescribeMirrorsResponse {
                error: unknown_link(name).into(),
                mirrors: vec![],
            };
        }
        let all: Vec<Arc<MirrorRuntime>> = lock(&self.mirrors).values().cloned().collect();
        if let Some(topics) = &req.topics {
            for t in topics {
                if !all.iter().any(|m| m.topic() == *t) {
                    return DescribeMirrorsResponse {
                        error: LinkError::NotAMirrorTopic(t.clone()).into(),
                        mirrors: vec![],
                    };
                }
            }
        }
        let now = now_ms();
        let mut mirrors: Vec<MirrorDescription> = all
            .iter()
            .filter(|m| {
                let r = m.record();
                req.link_name.as_ref().is_none_or(|l| *l == r.link)
                    && req.topics.as_ref().is_none_or(|t| t.contains(&r.topic))
                    && (req.include_stopped
                        || req.topics.is_some()
                        || r.state != MirrorState::Stopped)
            })
            .map(|m| {
                let r = m.record();
                let (link_id, paused) = self
                    .link(&r.link)
                    .map(|l| (l.record().id.to_string(), l.settings().paused))
                    .unwrap_or_default();
                m.describe(&link_id, paused, now, |p| {
                    self.local.log_end_offset(&r.topic, p).unwrap_or(-1)
                })
            })
            .collect();
        mirrors.sort_by(|a, b| a.mirror_topic.cmp(&b.mirror_topic));
        DescribeMirrorsResponse {
            error: AdminError::none(),
            mirrors,
        }
    }

    pub async fn alter_mirrors(self: &Arc<Self>, req: AlterMirrorsRequest) -> AlterMirrorsResponse {
        if let Some(name) = &req.link_name
            && self.link(name).is_none()
        {
            return AlterMirrorsResponse {
                error: unknown_link(name).into(),
                results: vec![],
            };
        }
        let mut results = Vec::new();
        for topic in &req.topics {
            let outcome = match self.mirror(topic) {
                Some(m)
                    if req
                        .link_name
                        .as_ref()
                        .is_some_and(|l| *l != m.record().link) =>
                {
                    Err(LinkError::NotMirrorOfLink {
                        topic: topic.clone(),
                        link: req.link_name.clone().unwrap_or_default(),
                    })
                }
                None if self.store.topic(topic).is_none() => {
                    Err(LinkError::UnknownTopic(topic.clone()))
                }
                None => Err(LinkError::NotMirrored(topic.clone())),
                Some(m) => self.alter_one(&m, req.op, req.validate_only).await,
            };
            results.push(MirrorOpResult {
                topic: topic.clone(),
                error: admin_error(outcome),
            });
        }
        AlterMirrorsResponse {
            error: AdminError::none(),
            results,
        }
    }

    async fn alter_one(
        self: &Arc<Self>,
        mirror: &Arc<MirrorRuntime>,
        op: MirrorOp,
        validate_only: bool,
    ) -> Result<(), LinkError> {
        let record = mirror.record();
        let topic = record.topic.clone();
        let state = record.state;
        let not_in = |operation: &'static str| LinkError::WrongMirrorState {
            operation,
            topic: topic.clone(),
            state: mirror.display_state(false),
        };
        match op {
            MirrorOp::Pause => {
                if state != MirrorState::Active {
                    return Err(not_in("pause"));
                }
                if validate_only {
                    return Ok(());
                }
                mirror.stop_fetchers();
                self.set_state(mirror, MirrorTopicState::Paused, None)
            }
            MirrorOp::Unpause => {
                if state != MirrorState::Paused {
                    return Err(not_in("unpause"));
                }
                if validate_only {
                    return Ok(());
                }
                self.set_state(mirror, MirrorTopicState::Active, None)?;
                self.start_fetchers(mirror);
                Ok(())
            }
            _ if state == MirrorState::Stopped
                && matches!(op, MirrorOp::Failover | MirrorOp::Promote) =>
            {
                Err(LinkError::AlreadyStopped {
                    topic,
                    link: record.link,
                })
            }
            MirrorOp::Failover => {
                if !validate_only {
                    self.stop_mirror(mirror, Some("failover".into()));
                }
                Ok(())
            }
            MirrorOp::Promote => {
                if !matches!(state, MirrorState::Active | MirrorState::Paused) {
                    return Err(not_in("promote"));
                }
                let link = self
                    .link(&record.link)
                    .ok_or_else(|| unknown_link(&record.link))?;
                // Bounded well inside the tools' 30 s call timeout, so an
                // unreachable source gets this answer rather than a timeout.
                let lag = tokio::time::timeout(VALIDATION_CAP, self.mirror_lag(&link, mirror))
                    .await
                    .unwrap_or(Err(LinkError::NoAnswerWithin(VALIDATION_CAP)))
                    .map_err(|e| LinkError::PromoteUnchecked {
                        topic: topic.clone(),
                        reason: Box::new(e),
                    })?;
                if lag > 0 {
                    return Err(LinkError::LagNotZero { topic, lag });
                }
                if validate_only {
                    return Ok(());
                }
                self.set_state(mirror, MirrorTopicState::PendingStopped, None)?;
                mirror.stop_fetchers();
                if let Err(e) = crate::sync::final_sync(self, &link, mirror).await {
                    tracing::warn!("final sync of {topic} before promotion failed: {e}");
                }
                self.stop_mirror(mirror, Some("promote".into()));
                Ok(())
            }
        }
    }

    /// Replaces a mirror topic's configs with the source's (local overrides
    /// given at creation are part of the stored record and are replaced too
    /// only where the source sets the same key).
    pub fn apply_source_configs(
        &self,
        topic: &str,
        source: BTreeMap<String, String>,
    ) -> Result<(), LinkError> {
        let Some(mut record) = self.store.topic(topic) else {
            return Err(LinkError::MirrorTopicMissing(topic.to_string()));
        };
        let (include, overrides) = match self.mirror(topic) {
            Some(m) => {
                let record = m.record();
                (self.sync_include(&record.link), record.local_overrides)
            }
            None => (None, Vec::new()),
        };
        let synced = |k: &str| crate::sync::follows_source(k, include.as_deref(), &overrides);
        let mut next: BTreeMap<String, String> = record
            .configs
            .iter()
            .filter(|(k, _)| !synced(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        next.extend(source.into_iter().filter(|(k, _)| synced(k)));
        if next == record.configs {
            return Ok(());
        }
        self.local.validate_topic_configs(&next)?;
        record.configs = next;
        self.store.update_topic(record.clone())?;
        self.local.reconfigure_topic(&record);
        Ok(())
    }

    /// Total lag of a mirror against the source's current high watermarks.
    async fn mirror_lag(
        &self,
        link: &LinkRuntime,
        mirror: &MirrorRuntime,
    ) -> Result<i64, LinkError> {
        let record = mirror.record();
        let client = link.client().await?;
        let partitions = self
            .store
            .topic(&record.topic)
            .map(|t| t.partitions)
            .unwrap_or(0);
        let mut lag = 0;
        for p in 0..partitions as i32 {
            let hw = list_offset(&client, &record.source_topic, p, -1).await?;
            let leo = self.local.log_end_offset(&record.topic, p).unwrap_or(0);
            lag += (hw - leo).max(0);
            mirror.update_partition(p, |s| s.source_high_watermark = hw);
        }
        Ok(lag)
    }

    // ---- the control loop ----

    fn spawn_control_loop(self: &Arc<Self>, link: Arc<LinkRuntime>) {
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            let floor = Duration::from_millis(200);
            let start = tokio::time::Instant::now();
            let (mut metadata_due, mut offsets_due, mut auto_due, mut acl_due) =
                (start, start, start, start);
            loop {
                tokio::select! {
                    _ = link.cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                let s = link.settings();
                if s.paused {
                    continue;
                }
                let now = tokio::time::Instant::now();
                if now >= metadata_due {
                    metadata_due = now + s.topic_config_sync.min(s.metadata_max_age).max(floor);
                    let outcome = engine.check_source(&link).await;
                    link.report_task(SyncTask::TopicConfigSync, outcome);
                }
                if s.auto_create_enable && now >= auto_due {
                    auto_due = now + s.metadata_max_age.max(floor);
                    let outcome = crate::sync::auto_create_mirrors(&engine, &link).await;
                    link.report_task(SyncTask::AutoCreateMirror, outcome);
                }
                if s.offset_sync_enable && now >= offsets_due {
                    offsets_due = now + s.offset_sync.max(floor);
                    let outcome = crate::sync::sync_consumer_offsets(&engine, &link, None).await;
                    link.report_task(SyncTask::ConsumerOffsetSync, outcome);
                }
                if !s.acl_sync_enable {
                    link.forget_task(SyncTask::AclSync);
                    // Enabling it later syncs at once.
                    acl_due = now;
                } else if now >= acl_due {
                    acl_due = now + s.acl_sync.max(floor);
                    let outcome = crate::acl_sync::sync_acls(&engine, &link).await;
                    link.report_task(SyncTask::AclSync, outcome);
                }
            }
        });
    }

    /// One pass of the link's control loop: is the source reachable; were
    /// source topics deleted, recreated or grown; the metadata sync tasks.
    async fn check_source(self: &Arc<Self>, link: &Arc<LinkRuntime>) -> Result<(), LinkError> {
        let client = match link.client().await {
            Ok(c) => c,
            Err(e) => {
                link.set_available(false);
                return Err(e.into());
            }
        };
        let mirrors: Vec<Arc<MirrorRuntime>> = self
            .mirrors_of(&link.name())
            .into_iter()
            .filter(|m| matches!(m.state(), MirrorState::Active | MirrorState::Paused))
            .collect();
        let sources: Vec<String> = mirrors.iter().map(|m| m.record().source_topic).collect();
        let update = match client.fetch_metadata(Some(&sources)).await {
            Ok(u) => strait_client::ClusterMetadata::from_response(&u.body),
            Err(e) => {
                link.set_available(false);
                link.reset_client().await;
                return Err(e.into());
            }
        };
        link.set_available(true);
        for mirror in mirrors {
            let record = mirror.record();
            match update.metadata.topics.get(&record.source_topic) {
                None => {
                    let gone = update
                        .topic_errors
                        .get(&record.source_topic)
                        .and_then(ClientError::server_error)
                        .is_some_and(|e| e == ResponseError::UnknownTopicOrPartition);
                    if gone {
                        link.fail_mirror(
                            &mirror,
                            &format!("source topic '{}' was deleted", record.source_topic),
                        );
                    }
                }
                Some(source) => {
                    if let Some(expected) = record.source_topic_id
                        && !source.topic_id.is_nil()
                        && source.topic_id != expected
                    {
                        link.fail_mirror(
                            &mirror,
                            &format!(
                                "source topic '{}' was deleted and recreated",
                                record.source_topic
                            ),
                        );
                        continue;
                    }
                    if mirror.state() == MirrorState::Paused {
                        self.observe_paused(&client, &mirror).await;
                    }
                    if mirror.state() == MirrorState::Active {
                        let configs =
                            crate::sync::source_topic_configs(&client, &record.source_topic)
                                .await?;
                        self.apply_source_configs(&record.topic, configs)?;
                    }
                    let count = source.partitions.len() as u32;
                    if let Some(mut topic) = self.store.topic(&record.topic)
                        && count > topic.partitions
                    {
                        topic.partitions = count;
                        self.store.update_topic(topic.clone())?;
                        self.local.grow_topic(&topic)?;
                        tracing::info!("mirror topic {} grew to {count} partitions", record.topic);
                        if mirror.state() == MirrorState::Active {
                            self.start_fetchers(&mirror);
                        } else {
                            mirror.ensure_partitions(count as usize);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

mod paused_lag;
#[cfg(test)]
mod secrets_at_rest_tests;
pub mod status;
