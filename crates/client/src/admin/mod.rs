//! Typed admin operations on top of [`crate::KafkaClient`] (topics, configs,
//! cluster, offsets, consumer groups), shaped after what Kafka's AdminClient
//! offers. Each call builds the raw kafka-protocol request for the negotiated
//! version and converts per-item error codes into [`crate::ClientError`]s.
//! Nothing here prints or formats for humans; that belongs to the tools.

pub mod acls;
pub mod cluster;
pub mod configs;
pub mod groups;
pub mod links;
pub mod offsets;
pub mod topics;

use kafka_protocol::messages::{GroupId, TopicName};
use kafka_protocol::protocol::StrBytes;

/// A topic name and partition index. Displays as `topic-partition` like Kafka.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

pub(crate) fn str_bytes(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

pub(crate) fn topic_name(value: &str) -> TopicName {
    TopicName(str_bytes(value))
}

pub(crate) fn group_id(value: &str) -> GroupId {
    GroupId(str_bytes(value))
}

/// Groups items by a key while keeping first-seen order of keys.
pub(crate) fn group_by<K: PartialEq, V>(
    items: impl IntoIterator<Item = (K, V)>,
) -> Vec<(K, Vec<V>)> {
    let mut groups: Vec<(K, Vec<V>)> = Vec::new();
    for (key, value) in items {
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value),
            None => groups.push((key, vec![value])),
        }
    }
    groups
}
