//! The links section of the engine: [`LinkRuntime`] (one link at run
//! time: its record and settings, its source client, its availability and
//! the outcome of its sync tasks) and the link admin operations (create,
//! list, delete, describe and alter configs). It owns the only place where
//! sealed link secrets are opened (`connect_source`). It must never change
//! a mirror's state but through the mirrors section (`stop_mirror`), and
//! never keep a source client built from configs that were altered since.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use strait_client::{ClientConfig, ClientError, KafkaClient};
use strait_metadata::{LinkRecord, MetadataError, MetadataStore, MirrorState};
use strait_protocol::admin::*;
use tokio_util::sync::CancellationToken;

use super::{LinkEngine, lock, unknown_link};
use crate::clock::now_ms;
use crate::config::{self, LinkSettings};
use crate::error::{LinkError, admin_error};
use crate::fetcher::FetchLink;
use crate::mirror::MirrorRuntime;
use crate::mirror_state::{MirrorStateError, MirrorTopicState};
use crate::secrets::LinkSecretKey;
use crate::task::{SyncTask, TaskOutcome};
use crate::traffic::FetchTraffic;

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
    pub(super) cancel: CancellationToken,
    pub(super) tasks: Mutex<BTreeMap<SyncTask, TaskOutcome>>,
    /// Bytes and records the link's fetchers appended, over all its mirrors.
    traffic: FetchTraffic,
}

impl LinkRuntime {
    pub(super) fn new(
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
            traffic: FetchTraffic::default(),
        }
    }

    /// The link's fetched traffic counters.
    pub fn traffic(&self) -> &FetchTraffic {
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

impl FetchLink for LinkRuntime {
    fn settings(&self) -> LinkSettings {
        LinkRuntime::settings(self)
    }

    fn set_available(&self, available: bool) {
        LinkRuntime::set_available(self, available);
    }

    fn traffic(&self) -> &FetchTraffic {
        LinkRuntime::traffic(self)
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
pub(super) const TASK_RETRY_CAP: Duration = Duration::from_secs(30);
/// How long link creation waits for an unreachable source before refusing.
pub(super) const VALIDATION_CAP: Duration = Duration::from_secs(10);

impl LinkEngine {
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
                    link_state: super::status::link_state(settings.paused).to_string(),
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
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use strait_metadata::{EmbeddedStore, LinkRecord, MetadataStore, MirrorRecord, MirrorState};

    use super::LinkRuntime;
    use crate::engine::secrets_at_rest_tests::key;
    use crate::mirror::MirrorRuntime;

    fn mirror(state: MirrorState) -> MirrorRecord {
        MirrorRecord {
            topic: "m".into(),
            link: "dr".into(),
            source_topic: "m".into(),
            source_topic_id: None,
            state,
            state_time_ms: 0,
            reason: None,
            last_source_offsets: vec![],
            local_overrides: vec![],
        }
    }

    /// Failing a mirror goes through the one write path: an active mirror
    /// fails (stored, fetchers stopped), a stopped or stopping one stays.
    #[tokio::test]
    async fn failing_a_mirror_follows_the_transition_table() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn MetadataStore> =
            Arc::new(EmbeddedStore::open(&dir.path().join("meta.redb")).unwrap());
        let link = LinkRuntime::new(
            LinkRecord {
                name: "dr".into(),
                id: uuid::Uuid::new_v4(),
                source_cluster_id: None,
                configs: Default::default(),
                created_ms: 0,
            },
            store.clone(),
            key(),
        );
        let cases = [
            (MirrorState::Active, MirrorState::Failed),
            (MirrorState::Paused, MirrorState::Failed),
            (MirrorState::PendingStopped, MirrorState::PendingStopped),
            (MirrorState::Stopped, MirrorState::Stopped),
            (MirrorState::Failed, MirrorState::Failed),
        ];
        for (from, to) in cases {
            store.put_mirror(mirror(from)).unwrap();
            let runtime = MirrorRuntime::new(mirror(from), 1);
            let fetchers = runtime.restart_token();
            link.fail_mirror(&runtime, "source topic 'm' was deleted");
            assert_eq!(runtime.state(), to, "{from:?}");
            let stored = store.mirror("m").unwrap();
            assert_eq!(stored.state, to, "{from:?}");
            let failed = from != to;
            assert_eq!(
                stored.reason.as_deref(),
                failed.then_some("source topic 'm' was deleted")
            );
            assert_eq!(fetchers.is_cancelled(), failed, "{from:?}");
        }
    }
}
