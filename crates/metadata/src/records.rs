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
