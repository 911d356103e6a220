//! `LinkEngine`: the cluster links of this cluster and their mirror topics.
//! This module owns the engine itself: loading links and mirrors at start
//! (finishing an interrupted promotion), the registries of links and
//! mirrors, and the questions the broker asks about a topic (read-only?
//! config settable?). The work is split along the engine's sections:
//! `links` (link lifecycles and `LinkRuntime`), `mirrors` (mirror
//! operations and the engine's side of the state machine), `control_loop`
//! (each link's periodic checks and sync tasks), `source` (ListOffsets
//! helpers), `integrity` (verifying mirrors against their source, fetching
//! a batch again for a scrub repair), `paused_lag` and `status` (read-only
//! figures). Every state
//! change is persisted in metadata before it takes effect. It must never
//! write to a mirror log except through [`LocalCluster::mirror_append`] and
//! friends.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use strait_metadata::{LinkRecord, MetadataStore, MirrorState};

use crate::error::LinkError;
use crate::local::LocalCluster;
use crate::mirror::MirrorRuntime;
use crate::secrets::LinkSecretKey;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn unknown_link(name: &str) -> LinkError {
    LinkError::UnknownLink(name.to_string())
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
    /// Partitions of local topic `topic` as the metadata store has it; 0
    /// once the topic is gone.
    fn local_partitions(&self, topic: &str) -> u32 {
        self.store.topic(topic).map(|t| t.partitions).unwrap_or(0)
    }

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
            let partitions = engine.local_partitions(&mirror.topic);
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

    pub(crate) fn mirrors_of(&self, link: &str) -> Vec<Arc<MirrorRuntime>> {
        lock(&self.mirrors)
            .values()
            .filter(|m| m.record().link == link)
            .cloned()
            .collect()
    }
}

mod control_loop;
mod integrity;
mod links;
mod mirrors;
mod paused_lag;
#[cfg(test)]
mod secrets_at_rest_tests;
pub mod source;
pub mod status;

pub use links::LinkRuntime;
