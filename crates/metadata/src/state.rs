//! The in-memory form of all metadata and the key layout both backends store
//! it under: one JSON value per key (`topic/<name>`, `offsets/<group>`, ...).
//!
//! It owns turning a stored key and value into typed state, so the embedded
//! store (loading its redb file) and the etcd store (following its watch)
//! read the same keys the same way. It must never do I/O.

use crate::MetadataError;
use crate::acls::AclBinding;
use crate::records::{GroupOffsets, OffsetRecord, PartitionKey, ScramCredential};
use crate::records::{LinkRecord, MirrorRecord, TopicRecord};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub(crate) const CLUSTER_ID: &str = "cluster-id";
pub(crate) const BROKER_CONFIGS: &str = "broker-configs";
pub(crate) const NEXT_PRODUCER_ID: &str = "next-producer-id";
pub(crate) const TOPIC_PREFIX: &str = "topic/";
pub(crate) const OFFSETS_PREFIX: &str = "offsets/";
pub(crate) const GROUP_STATE_PREFIX: &str = "group-state/";
pub(crate) const LINK_PREFIX: &str = "link/";
pub(crate) const MIRROR_PREFIX: &str = "mirror/";
pub(crate) const SCRAM_PREFIX: &str = "scram/";
pub(crate) const TXN_STATE_PREFIX: &str = "txn-state/";
/// Every ACL, as one sorted JSON list.
pub(crate) const ACLS: &str = "acls";

/// Every piece of metadata, decoded.
#[derive(Default)]
pub(crate) struct State {
    pub cluster_id: String,
    pub topics: BTreeMap<String, TopicRecord>,
    pub broker_configs: BTreeMap<String, String>,
    pub offsets: HashMap<String, GroupOffsets>,
    pub group_states: HashMap<String, Vec<u8>>,
    pub txn_states: BTreeMap<String, Vec<u8>>,
    pub next_producer_id: i64,
    pub links: BTreeMap<String, LinkRecord>,
    pub mirrors: BTreeMap<String, MirrorRecord>,
    pub acls: BTreeSet<AclBinding>,
    /// user -> mechanism -> credential
    pub scram: BTreeMap<String, BTreeMap<String, ScramCredential>>,
}

/// The stored form of a group's offsets: a list, since JSON maps need string keys.
pub(crate) type StoredOffsets = Vec<(PartitionKey, OffsetRecord)>;

pub(crate) fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, MetadataError> {
    serde_json::from_slice(bytes).map_err(|e| MetadataError::Corrupt(format!("{key}: {e}")))
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, MetadataError> {
    serde_json::to_vec(value).map_err(|e| MetadataError::Corrupt(e.to_string()))
}

impl State {
    /// Every group with committed offsets or stored state, sorted, each once.
    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .offsets
            .keys()
            .chain(self.group_states.keys())
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Applies one stored key: its value (Some) or its removal (None). Keys
    /// this version does not know are left alone.
    pub fn apply(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), MetadataError> {
        match value {
            Some(value) => self.put(key, value),
            None => {
                self.remove(key);
                Ok(())
            }
        }
    }

    fn put(&mut self, key: &str, value: &[u8]) -> Result<(), MetadataError> {
        if key == CLUSTER_ID {
            self.cluster_id = decode(key, value)?;
        } else if key == BROKER_CONFIGS {
            self.broker_configs = decode(key, value)?;
        } else if key == ACLS {
            let list: Vec<AclBinding> = decode(key, value)?;
            self.acls = list.into_iter().collect();
        } else if key == NEXT_PRODUCER_ID {
            self.next_producer_id = decode(key, value)?;
        } else if let Some(name) = key.strip_prefix(TOPIC_PREFIX) {
            self.topics.insert(name.to_string(), decode(key, value)?);
        } else if let Some(group) = key.strip_prefix(OFFSETS_PREFIX) {
            let list: StoredOffsets = decode(key, value)?;
            self.offsets
                .insert(group.to_string(), list.into_iter().collect());
        } else if let Some(name) = key.strip_prefix(LINK_PREFIX) {
            self.links.insert(name.to_string(), decode(key, value)?);
        } else if let Some(topic) = key.strip_prefix(MIRROR_PREFIX) {
            self.mirrors.insert(topic.to_string(), decode(key, value)?);
        } else if let Some(group) = key.strip_prefix(GROUP_STATE_PREFIX) {
            self.group_states.insert(group.to_string(), value.to_vec());
        } else if let Some(user) = key.strip_prefix(SCRAM_PREFIX) {
            self.scram.insert(user.to_string(), decode(key, value)?);
        } else if let Some(id) = key.strip_prefix(TXN_STATE_PREFIX) {
            self.txn_states.insert(id.to_string(), value.to_vec());
        }
        Ok(())
    }

    fn remove(&mut self, key: &str) {
        if key == CLUSTER_ID {
            // The cluster id never changes once made; a removal is not followed.
        } else if key == BROKER_CONFIGS {
            self.broker_configs.clear();
        } else if key == ACLS {
            self.acls.clear();
        } else if key == NEXT_PRODUCER_ID {
            self.next_producer_id = 0;
        } else if let Some(name) = key.strip_prefix(TOPIC_PREFIX) {
            self.topics.remove(name);
        } else if let Some(group) = key.strip_prefix(OFFSETS_PREFIX) {
            self.offsets.remove(group);
        } else if let Some(name) = key.strip_prefix(LINK_PREFIX) {
            self.links.remove(name);
        } else if let Some(topic) = key.strip_prefix(MIRROR_PREFIX) {
            self.mirrors.remove(topic);
        } else if let Some(group) = key.strip_prefix(GROUP_STATE_PREFIX) {
            self.group_states.remove(group);
        } else if let Some(user) = key.strip_prefix(SCRAM_PREFIX) {
            self.scram.remove(user);
        } else if let Some(id) = key.strip_prefix(TXN_STATE_PREFIX) {
            self.txn_states.remove(id);
        }
    }
}

pub(crate) fn offsets_key(group: &str) -> String {
    format!("{OFFSETS_PREFIX}{group}")
}

/// None (delete the key) when a group has no offsets left.
pub(crate) fn encode_offsets(offsets: &GroupOffsets) -> Result<Option<Vec<u8>>, MetadataError> {
    if offsets.is_empty() {
        return Ok(None);
    }
    let list: StoredOffsets = offsets
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    encode(&list).map(Some)
}

pub(crate) fn set_group_offsets(state: &mut State, group: String, offsets: GroupOffsets) {
    if offsets.is_empty() {
        state.offsets.remove(&group);
    } else {
        state.offsets.insert(group, offsets);
    }
}

/// A Kafka-style cluster id: 16 random bytes in URL-safe base64 without padding.
pub(crate) fn new_cluster_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut out = String::with_capacity(22);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(char::from(ALPHABET[((acc >> bits) & 63) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (6 - bits)) & 63) as usize]));
    }
    out
}
