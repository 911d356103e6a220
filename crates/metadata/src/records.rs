//! The records kept in metadata. Plain data with serde; no behaviour beyond
//! small accessors.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A topic as the cluster knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicRecord {
    pub name: String,
    pub id: uuid::Uuid,
    pub partitions: u32,
    pub replication_factor: i16,
    /// Topic-level config overrides (only explicitly set keys).
    pub configs: BTreeMap<String, String>,
    pub created_ms: i64,
}

/// A (topic, partition) pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PartitionKey {
    pub topic: String,
    pub partition: i32,
}

impl PartitionKey {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

/// One committed offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetRecord {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
    pub commit_ms: i64,
}

/// All committed offsets of one group.
pub type GroupOffsets = BTreeMap<PartitionKey, OffsetRecord>;

/// A cluster link: how this cluster reaches a source cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRecord {
    pub name: String,
    pub id: uuid::Uuid,
    /// The source cluster's id, learnt or given at creation; never changes.
    pub source_cluster_id: Option<String>,
    /// Client configs for the source and link properties, as set.
    pub configs: BTreeMap<String, String>,
    pub created_ms: i64,
}

/// The persisted state of a mirror topic (the operator's intent and outcome;
/// transient conditions such as an unreachable source are not stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MirrorState {
    Active,
    Paused,
    PendingStopped,
    Stopped,
    Failed,
}

/// A mirror topic: a topic on this cluster fed by a topic of a link's source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorRecord {
    pub topic: String,
    pub link: String,
    pub source_topic: String,
    /// The source topic's id when mirroring started, to detect recreation.
    pub source_topic_id: Option<uuid::Uuid>,
    pub state: MirrorState,
    pub state_time_ms: i64,
    pub reason: Option<String>,
    /// Per partition, the source high watermark last seen (kept for
    /// describe after the mirror stops).
    #[serde(default)]
    pub last_source_offsets: Vec<i64>,
    /// Synced config keys given a local value when the mirror was created
    /// (`kafka-mirrors --create --config`): config sync leaves them alone.
    #[serde(default)]
    pub local_overrides: Vec<String>,
}

/// A user's SCRAM credential for one mechanism, as Kafka stores it: the salt,
/// the iteration count and the keys derived from the salted password
/// (RFC 5802 StoredKey and ServerKey). Neither the password nor the salted
/// password is ever kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: i32,
}
