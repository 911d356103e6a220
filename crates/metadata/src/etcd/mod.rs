//! The etcd v3 metadata store, shared by every broker of a cluster: the
//! same keys as the embedded store (`crate::state`), each under
//! `<prefix>/meta/`, with broker registrations under `<prefix>/brokers/`.
//!
//! It owns the [`MetadataStore`] trait over etcd: reads are served from a
//! local copy of the prefix that a watch keeps current; every write is one
//! etcd transaction, guarded by the mod revisions of the keys it was computed
//! from (so a create is exclusive and a read-modify-write never loses another
//! broker's change), and returns only once etcd has acknowledged it. It must
//! never answer a write from the local copy alone, nor write outside its
//! prefix.

mod cache;
mod connection;
mod registration;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use etcd_client::{Compare, CompareOp, Txn, TxnOp, TxnOpResponse};

pub use registration::{BrokerRegistration, RegistrationError};

use crate::acls::AclBinding;
use crate::records::{
    GroupOffsets, LinkRecord, MirrorRecord, OffsetRecord, PartitionKey, ScramCredential,
    TopicRecord,
};
use crate::state::{
    ACLS, BROKER_CONFIGS, CLUSTER_ID, GROUP_STATE_PREFIX, LINK_PREFIX, MIRROR_PREFIX,
    NEXT_PRODUCER_ID, SCRAM_PREFIX, State, TOPIC_PREFIX, TXN_STATE_PREFIX, encode, encode_offsets,
    new_cluster_id, offsets_key,
};
use crate::{MetadataError, MetadataStore};
use cache::Cache;
use connection::{Connection, read, write};

/// How many times a write is computed again after another writer changed
/// one of the keys it was computed from.
const MAX_ATTEMPTS: usize = 32;
/// How many dependent keys one transaction changes when a deletion cascades
/// (etcd refuses transactions of more than 128 operations by default).
const TXN_BATCH: usize = 100;
/// How long opening the store waits for etcd to answer.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
const OPEN_RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Where the etcd store is: `metadata.etcd.endpoints` and
/// `metadata.etcd.prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdSettings {
    /// `http://host:port` URLs of etcd members.
    pub endpoints: Vec<String>,
    /// The key prefix, starting with `/`, without a trailing `/`.
    pub prefix: String,
}

/// The prefix when `metadata.etcd.prefix` is not set.
const DEFAULT_PREFIX: &str = "/strait";

impl EtcdSettings {
    /// Checks a comma-separated endpoint list and a prefix (default
    /// [`DEFAULT_PREFIX`]).
    pub fn new(endpoints: &str, prefix: Option<&str>) -> Result<Self, EtcdError> {
        let mut list = Vec::new();
        for item in endpoints
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if item.starts_with("https://") {
                return Err(EtcdError::InvalidEndpoint(format!(
                    "'{item}': TLS to etcd is not supported yet; use http://"
                )));
            }
            let Some(rest) = item.strip_prefix("http://") else {
                return Err(EtcdError::InvalidEndpoint(format!(
                    "'{item}' is not http://host:port"
                )));
            };
            let valid_port = rest
                .trim_end_matches('/')
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !valid_port {
                return Err(EtcdError::InvalidEndpoint(format!(
                    "'{item}' is not http://host:port"
                )));
            }
            list.push(item.trim_end_matches('/').to_string());
        }
        if list.is_empty() {
            return Err(EtcdError::InvalidEndpoint("no endpoint given".into()));
        }
        let prefix = prefix.unwrap_or(DEFAULT_PREFIX).trim();
        let trimmed = prefix.trim_end_matches('/');
        if !prefix.starts_with('/') || trimmed.is_empty() {
            return Err(EtcdError::InvalidPrefix(format!(
                "'{prefix}' must start with / and name something below the root, e.g. /strait"
            )));
        }
        Ok(EtcdSettings {
            endpoints: list,
            prefix: trimmed.to_string(),
        })
    }

    /// Where the metadata keys live.
    fn meta_prefix(&self) -> String {
        format!("{}/meta/", self.prefix)
    }

    /// Where broker registrations live.
    fn brokers_prefix(&self) -> String {
        format!("{}/brokers/", self.prefix)
    }
}

/// Why the etcd store cannot be opened or configured.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    #[error("invalid metadata.etcd.endpoints: {0}")]
    InvalidEndpoint(String),
    #[error("invalid metadata.etcd.prefix: {0}")]
    InvalidPrefix(String),
    #[error("{0}; is etcd running there? (metadata.etcd.endpoints)")]
    Unreachable(String),
    /// The prefix holds no cluster and the caller did not allow creating one.
    #[error("etcd prefix {prefix} holds no cluster")]
    NoCluster { prefix: String },
    #[error("{0}")]
    Metadata(#[from] MetadataError),
}

/// A change computed from the local copy: the keys it was computed from (the
/// transaction only commits if none of them changed since), the keys to put
/// (Some) or delete (None), and what the caller gets back.
struct Plan<R> {
    guards: Vec<String>,
    changes: Vec<(String, Option<Vec<u8>>)>,
    result: R,
}

impl<R> Plan<R> {
    fn new(guards: Vec<String>, changes: Vec<(String, Option<Vec<u8>>)>, result: R) -> Self {
        Plan {
            guards,
            changes,
            result,
        }
    }
}

/// Metadata kept in etcd under one prefix.
pub struct EtcdStore {
    settings: EtcdSettings,
    connection: Arc<Connection>,
    cache: Arc<RwLock<Cache>>,
}

impl EtcdStore {
    /// Connects to etcd (waiting a few seconds at most), reads the prefix and
    /// starts following it. A prefix with no cluster id gets a new one when
    /// `may_create_cluster`, and is refused with [`EtcdError::NoCluster`]
    /// otherwise.
    pub fn open(settings: &EtcdSettings, may_create_cluster: bool) -> Result<Self, EtcdError> {
        let connection = Connection::open(&settings.endpoints).map_err(unreachable)?;
        let prefix = settings.meta_prefix();
        // etcd may be starting too: it is asked again until OPEN_TIMEOUT.
        let started = std::time::Instant::now();
        let read_all = loop {
            let p = prefix.clone();
            let left = OPEN_TIMEOUT.saturating_sub(started.elapsed());
            match connection.call_within(left, move |c| async move {
                connection::read_prefix(c, &p).await
            }) {
                Ok(r) => break r,
                Err(e) if started.elapsed() + OPEN_RETRY_PAUSE >= OPEN_TIMEOUT => {
                    return Err(unreachable(e));
                }
                Err(_) => std::thread::sleep(OPEN_RETRY_PAUSE),
            }
        };
        let (kvs, revision) = read_all;
        let revision = revision.unwrap_or(0);
        let mut cache = Cache::default();
        cache.reload(kvs, revision);
        let store = EtcdStore {
            settings: settings.clone(),
            connection: Arc::new(connection),
            cache: Arc::new(RwLock::new(cache)),
        };
        if store.cluster_id().is_empty() {
            if !may_create_cluster {
                return Err(EtcdError::NoCluster {
                    prefix: settings.prefix.clone(),
                });
            }
            // Two brokers starting on an empty prefix agree on one id: the
            // guard makes the second one's creation fail and re-read.
            let id = new_cluster_id();
            store.mutate(|state| {
                if !state.cluster_id.is_empty() {
                    return Ok(Plan::new(vec![], vec![], ()));
                }
                Ok(Plan::new(
                    vec![CLUSTER_ID.into()],
                    vec![(CLUSTER_ID.into(), Some(encode(&id)?))],
                    (),
                ))
            })?;
        }
        store.connection.follow(prefix, store.cache.clone())?;
        Ok(store)
    }

    /// Computes a change from the local copy and commits it as one etcd
    /// transaction guarded by the keys it read; when another writer got
    /// there first, those keys are re-read and the change computed again.
    fn mutate<R>(
        &self,
        plan: impl Fn(&State) -> Result<Plan<R>, MetadataError>,
    ) -> Result<R, MetadataError> {
        let prefix = self.settings.meta_prefix();
        for _ in 0..MAX_ATTEMPTS {
            let (plan, compares) = {
                let cache = read(&self.cache);
                let plan = plan(&cache.state)?;
                let compares: Vec<Compare> = plan
                    .guards
                    .iter()
                    .map(|k| {
                        Compare::mod_revision(
                            format!("{prefix}{k}"),
                            CompareOp::Equal,
                            cache.mod_revision(k),
                        )
                    })
                    .collect();
                (plan, compares)
            };
            if plan.changes.is_empty() {
                return Ok(plan.result);
            }
            let ops: Vec<TxnOp> = plan
                .changes
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => TxnOp::put(format!("{prefix}{k}"), v.clone(), None),
                    None => TxnOp::delete(format!("{prefix}{k}"), None),
                })
                .collect();
            let rereads: Vec<TxnOp> = plan
                .guards
                .iter()
                .map(|k| TxnOp::get(format!("{prefix}{k}"), None))
                .collect();
            let txn = Txn::new().when(compares).and_then(ops).or_else(rereads);
            let response = self
                .connection
                .call(move |mut c| async move { c.txn(txn).await })?;
            let revision = response
                .header()
                .map(|h| h.revision())
                .ok_or_else(|| MetadataError::Storage("etcd answered without a header".into()))?;
            let mut cache = write(&self.cache);
            if response.succeeded() {
                for (key, value) in &plan.changes {
                    cache.apply(key, value.as_deref(), revision);
                }
                return Ok(plan.result);
            }
            for (key, op) in plan.guards.iter().zip(response.op_responses()) {
                if let TxnOpResponse::Get(got) = op {
                    match got.kvs().first() {
                        Some(kv) => cache.apply(key, Some(kv.value()), kv.mod_revision()),
                        None => cache.apply(key, None, revision),
                    }
                }
            }
        }
        Err(MetadataError::Storage(format!(
            "a metadata change kept conflicting with concurrent changes ({MAX_ATTEMPTS} attempts)"
        )))
    }

    fn state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&read(&self.cache).state)
    }
}

fn unreachable(e: MetadataError) -> EtcdError {
    match e {
        MetadataError::Unavailable(why) => EtcdError::Unreachable(why),
        other => EtcdError::Metadata(other),
    }
}

fn topic_key(name: &str) -> String {
    format!("{TOPIC_PREFIX}{name}")
}

fn link_key(name: &str) -> String {
    format!("{LINK_PREFIX}{name}")
}

fn mirror_key(topic: &str) -> String {
    format!("{MIRROR_PREFIX}{topic}")
}

impl MetadataStore for EtcdStore {
    fn cluster_id(&self) -> String {
        self.state(|s| s.cluster_id.clone())
    }

    fn topics(&self) -> Vec<TopicRecord> {
        self.state(|s| s.topics.values().cloned().collect())
    }

    fn topic(&self, name: &str) -> Option<TopicRecord> {
        self.state(|s| s.topics.get(name).cloned())
    }

    fn create_topic(&self, topic: TopicRecord) -> Result<(), MetadataError> {
        let key = topic_key(&topic.name);
        let value = encode(&topic)?;
        self.mutate(|state| {
            if state.topics.contains_key(&topic.name) {
                return Err(MetadataError::TopicExists(topic.name.clone()));
            }
            Ok(Plan::new(
                vec![key.clone()],
                vec![(key.clone(), Some(value.clone()))],
                (),
            ))
        })
    }

    fn update_topic(&self, topic: TopicRecord) -> Result<(), MetadataError> {
        let key = topic_key(&topic.name);
        let value = encode(&topic)?;
        self.mutate(|state| {
            if !state.topics.contains_key(&topic.name) {
                return Err(MetadataError::UnknownTopic(topic.name.clone()));
            }
            Ok(Plan::new(
                vec![key.clone()],
                vec![(key.clone(), Some(value.clone()))],
                (),
            ))
        })
    }

    fn delete_topic(&self, name: &str) -> Result<TopicRecord, MetadataError> {
        // The offsets of many groups are cleaned in batches first (etcd caps
        // a transaction's operations); the topic goes with the last batch.
        loop {
            let deleted = self.mutate(|state| {
                let Some(topic) = state.topics.get(name).cloned() else {
                    return Err(MetadataError::UnknownTopic(name.to_string()));
                };
                let mut guards = Vec::new();
                let mut changes = Vec::new();
                let groups = state
                    .offsets
                    .iter()
                    .filter(|(_, offsets)| offsets.keys().any(|k| k.topic == name));
                for (group, offsets) in groups.take(TXN_BATCH) {
                    let kept: GroupOffsets = offsets
                        .iter()
                        .filter(|(k, _)| k.topic != name)
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    guards.push(offsets_key(group));
                    changes.push((offsets_key(group), encode_offsets(&kept)?));
                }
                if changes.len() == TXN_BATCH {
                    return Ok(Plan::new(guards, changes, None));
                }
                guards.push(topic_key(name));
                changes.push((topic_key(name), None));
                changes.push((mirror_key(name), None));
                Ok(Plan::new(guards, changes, Some(topic)))
            })?;
            if let Some(topic) = deleted {
                return Ok(topic);
            }
        }
    }

    fn broker_configs(&self) -> BTreeMap<String, String> {
        self.state(|s| s.broker_configs.clone())
    }

    fn set_broker_configs(&self, configs: BTreeMap<String, String>) -> Result<(), MetadataError> {
        let value = encode(&configs)?;
        self.mutate(|_| {
            Ok(Plan::new(
                vec![],
                vec![(BROKER_CONFIGS.into(), Some(value.clone()))],
                (),
            ))
        })
    }

    fn group_offsets(&self, group: &str) -> GroupOffsets {
        self.state(|s| s.offsets.get(group).cloned().unwrap_or_default())
    }

    fn groups(&self) -> Vec<String> {
        self.state(State::group_names)
    }

    fn commit_offsets(
        &self,
        group: &str,
        offsets: Vec<(PartitionKey, OffsetRecord)>,
    ) -> Result<(), MetadataError> {
        let key = offsets_key(group);
        self.mutate(|state| {
            let mut merged = state.offsets.get(group).cloned().unwrap_or_default();
            merged.extend(offsets.iter().cloned());
            Ok(Plan::new(
                vec![key.clone()],
                vec![(key.clone(), encode_offsets(&merged)?)],
                (),
            ))
        })
    }

    fn delete_offsets(
        &self,
        group: &str,
        partitions: &[PartitionKey],
    ) -> Result<(), MetadataError> {
        let key = offsets_key(group);
        self.mutate(|state| {
            let mut kept = state.offsets.get(group).cloned().unwrap_or_default();
            for p in partitions {
                kept.remove(p);
            }
            Ok(Plan::new(
                vec![key.clone()],
                vec![(key.clone(), encode_offsets(&kept)?)],
                (),
            ))
        })
    }

    fn delete_group(&self, group: &str) -> Result<(), MetadataError> {
        self.mutate(|_| {
            Ok(Plan::new(
                vec![],
                vec![
                    (offsets_key(group), None),
                    (format!("{GROUP_STATE_PREFIX}{group}"), None),
                ],
                (),
            ))
        })
    }

    fn group_state(&self, group: &str) -> Option<Vec<u8>> {
        self.state(|s| s.group_states.get(group).cloned())
    }

    fn set_group_state(&self, group: &str, value: Option<Vec<u8>>) -> Result<(), MetadataError> {
        let key = format!("{GROUP_STATE_PREFIX}{group}");
        self.mutate(|_| Ok(Plan::new(vec![], vec![(key.clone(), value.clone())], ())))
    }

    fn txn_state(&self, transactional_id: &str) -> Option<Vec<u8>> {
        self.state(|s| s.txn_states.get(transactional_id).cloned())
    }

    fn set_txn_state(
        &self,
        transactional_id: &str,
        value: Option<Vec<u8>>,
    ) -> Result<(), MetadataError> {
        let key = format!("{TXN_STATE_PREFIX}{transactional_id}");
        self.mutate(|_| Ok(Plan::new(vec![], vec![(key.clone(), value.clone())], ())))
    }

    fn txn_states(&self) -> Vec<(String, Vec<u8>)> {
        self.state(|s| {
            s.txn_states
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
    }

    fn scram_credentials(&self, user: &str) -> BTreeMap<String, ScramCredential> {
        self.state(|s| s.scram.get(user).cloned().unwrap_or_default())
    }

    fn set_scram_credential(
        &self,
        user: &str,
        mechanism: &str,
        credential: Option<ScramCredential>,
    ) -> Result<(), MetadataError> {
        let key = format!("{SCRAM_PREFIX}{user}");
        self.mutate(|state| {
            let mut creds = state.scram.get(user).cloned().unwrap_or_default();
            match &credential {
                Some(c) => creds.insert(mechanism.to_string(), c.clone()),
                None => creds.remove(mechanism),
            };
            let value = if creds.is_empty() {
                None
            } else {
                Some(encode(&creds)?)
            };
            Ok(Plan::new(vec![key.clone()], vec![(key.clone(), value)], ()))
        })
    }

    fn scram_users(&self) -> Vec<String> {
        self.state(|s| s.scram.keys().cloned().collect())
    }

    fn allocate_producer_ids(&self, count: i64) -> Result<i64, MetadataError> {
        self.mutate(|state| {
            let first = state.next_producer_id;
            let next = first + count.max(1);
            Ok(Plan::new(
                vec![NEXT_PRODUCER_ID.into()],
                vec![(NEXT_PRODUCER_ID.into(), Some(encode(&next)?))],
                first,
            ))
        })
    }

    fn links(&self) -> Vec<LinkRecord> {
        self.state(|s| s.links.values().cloned().collect())
    }

    fn link(&self, name: &str) -> Option<LinkRecord> {
        self.state(|s| s.links.get(name).cloned())
    }

    fn create_link(&self, link: LinkRecord) -> Result<(), MetadataError> {
        let key = link_key(&link.name);
        let value = encode(&link)?;
        self.mutate(|state| {
            if state.links.contains_key(&link.name) {
                return Err(MetadataError::LinkExists(link.name.clone()));
            }
            Ok(Plan::new(
                vec![key.clone()],
                vec![(key.clone(), Some(value.clone()))],
                (),
            ))
        })
    }

    fn update_link(&self, link: LinkRecord) -> Result<(), MetadataError> {
        let key = link_key(&link.name);
        let value = encode(&link)?;
        self.mutate(|state| {
            if !state.links.contains_key(&link.name) {
                return Err(MetadataError::UnknownLink(link.name.clone()));
            }
            Ok(Plan::new(
                vec![key.clone()],
                vec![(key.clone(), Some(value.clone()))],
                (),
            ))
        })
    }

    fn delete_link(&self, name: &str) -> Result<(), MetadataError> {
        // Many mirrors' records go in batches first; the link with the last.
        loop {
            let deleted = self.mutate(|state| {
                if !state.links.contains_key(name) {
                    return Err(MetadataError::UnknownLink(name.to_string()));
                }
                let mirrors: Vec<String> = state
                    .mirrors
                    .values()
                    .filter(|m| m.link == name)
                    .take(TXN_BATCH)
                    .map(|m| mirror_key(&m.topic))
                    .collect();
                let mut changes: Vec<(String, Option<Vec<u8>>)> =
                    mirrors.iter().map(|k| (k.clone(), None)).collect();
                if mirrors.len() == TXN_BATCH {
                    return Ok(Plan::new(mirrors, changes, false));
                }
                let mut guards = mirrors;
                guards.push(link_key(name));
                changes.push((link_key(name), None));
                Ok(Plan::new(guards, changes, true))
            })?;
            if deleted {
                return Ok(());
            }
        }
    }

    fn mirrors(&self) -> Vec<MirrorRecord> {
        self.state(|s| s.mirrors.values().cloned().collect())
    }

    fn mirror(&self, topic: &str) -> Option<MirrorRecord> {
        self.state(|s| s.mirrors.get(topic).cloned())
    }

    fn put_mirror(&self, mirror: MirrorRecord) -> Result<(), MetadataError> {
        let key = mirror_key(&mirror.topic);
        let value = encode(&mirror)?;
        self.mutate(|_| {
            Ok(Plan::new(
                vec![],
                vec![(key.clone(), Some(value.clone()))],
                (),
            ))
        })
    }

    fn create_mirror_topic(
        &self,
        topic: TopicRecord,
        mirror: MirrorRecord,
    ) -> Result<(), MetadataError> {
        let topic_value = encode(&topic)?;
        let mirror_value = encode(&mirror)?;
        self.mutate(|state| {
            if state.topics.contains_key(&topic.name) {
                return Err(MetadataError::TopicExists(topic.name.clone()));
            }
            if !state.links.contains_key(&mirror.link) {
                return Err(MetadataError::UnknownLink(mirror.link.clone()));
            }
            Ok(Plan::new(
                vec![topic_key(&topic.name), link_key(&mirror.link)],
                vec![
                    (topic_key(&topic.name), Some(topic_value.clone())),
                    (mirror_key(&mirror.topic), Some(mirror_value.clone())),
                ],
                (),
            ))
        })
    }

    fn acls(&self) -> Vec<AclBinding> {
        self.state(|s| s.acls.iter().cloned().collect())
    }

    fn create_acls(&self, acls: Vec<AclBinding>) -> Result<(), MetadataError> {
        self.mutate(|state| {
            let mut next = state.acls.clone();
            next.extend(acls.iter().cloned());
            if next.len() == state.acls.len() {
                return Ok(Plan::new(vec![], vec![], ()));
            }
            let list: Vec<&AclBinding> = next.iter().collect();
            Ok(Plan::new(
                vec![ACLS.into()],
                vec![(ACLS.into(), Some(encode(&list)?))],
                (),
            ))
        })
    }

    fn delete_acls(
        &self,
        matches: &dyn Fn(&AclBinding) -> bool,
    ) -> Result<Vec<AclBinding>, MetadataError> {
        self.mutate(|state| {
            let (gone, kept): (Vec<AclBinding>, Vec<AclBinding>) =
                state.acls.iter().cloned().partition(|a| matches(a));
            if gone.is_empty() {
                return Ok(Plan::new(vec![], vec![], gone));
            }
            Ok(Plan::new(
                vec![ACLS.into()],
                vec![(ACLS.into(), Some(encode(&kept)?))],
                gone,
            ))
        })
    }
}
