//! Snapshot of cluster metadata (brokers, controller, cluster id, topics,
//! partition leaders) as the client last learnt it from Metadata responses.
//! It owns the conversion from the raw response and lookups; it must never
//! do I/O or decide when to refresh (that is [`crate::KafkaClient`]'s job).

use std::collections::BTreeMap;

use kafka_protocol::messages::MetadataResponse;
use uuid::Uuid;

use crate::error::ClientError;

/// One broker as advertised in metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`, with brackets around IPv6 literals.
    pub fn address(&self) -> String {
        socket_address(&self.host, self.port)
    }
}

/// Formats `host:port`, bracketing IPv6 literals.
pub fn socket_address(host: &str, port: i32) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub partition: i32,
    /// `None` when the partition has no leader (leader id -1).
    pub leader: Option<i32>,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline_replicas: Vec<i32>,
    /// Partition-level error code from the broker (0 = none).
    pub error_code: i16,
}

/// One topic with its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub topic_id: Uuid,
    pub is_internal: bool,
    pub partitions: BTreeMap<i32, PartitionInfo>,
}

/// What the client knows about the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterMetadata {
    pub cluster_id: Option<String>,
    pub controller_id: Option<i32>,
    pub brokers: BTreeMap<i32, BrokerInfo>,
    pub topics: BTreeMap<String, TopicInfo>,
}

/// A Metadata response split into usable topics and per-topic errors.
#[derive(Debug)]
pub struct MetadataUpdate {
    pub metadata: ClusterMetadata,
    /// Topics the broker reported an error for (e.g. UNKNOWN_TOPIC_OR_PARTITION).
    pub topic_errors: BTreeMap<String, ClientError>,
}

impl ClusterMetadata {
    /// Converts a raw Metadata response.
    pub fn from_response(response: &MetadataResponse) -> MetadataUpdate {
        let brokers = response
            .brokers
            .iter()
            .map(|b| {
                (
                    b.node_id.0,
                    BrokerInfo {
                        id: b.node_id.0,
                        host: b.host.to_string(),
                        port: b.port,
                        rack: b.rack.as_ref().map(|r| r.to_string()),
                    },
                )
            })
            .collect();
        let mut topics = BTreeMap::new();
        let mut topic_errors = BTreeMap::new();
        for topic in &response.topics {
            let Some(name) = topic.name.as_ref().map(|n| n.0.to_string()) else {
                continue;
            };
            if let Some(err) = ClientError::from_code(topic.error_code, None) {
                topic_errors.insert(name, err);
                continue;
            }
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    (
                        p.partition_index,
                        PartitionInfo {
                            partition: p.partition_index,
                            leader: (p.leader_id.0 >= 0).then_some(p.leader_id.0),
                            leader_epoch: p.leader_epoch,
                            replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                            isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                            offline_replicas: p.offline_replicas.iter().map(|b| b.0).collect(),
                            error_code: p.error_code,
                        },
                    )
                })
                .collect();
            topics.insert(
                name.clone(),
                TopicInfo {
                    name,
                    topic_id: topic.topic_id,
                    is_internal: topic.is_internal,
                    partitions,
                },
            );
        }
        MetadataUpdate {
            metadata: ClusterMetadata {
                cluster_id: response.cluster_id.as_ref().map(|c| c.to_string()),
                controller_id: (response.controller_id.0 >= 0).then_some(response.controller_id.0),
                brokers,
                topics,
            },
            topic_errors,
        }
    }

    /// The broker with id `id`.
    pub fn broker(&self, id: i32) -> Option<&BrokerInfo> {
        self.brokers.get(&id)
    }

    /// The current leader of a partition, if known.
    pub fn leader_for(&self, topic: &str, partition: i32) -> Option<i32> {
        self.topics.get(topic)?.partitions.get(&partition)?.leader
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::{BrokerId, TopicName};
    use kafka_protocol::protocol::StrBytes;

    #[test]
    fn converts_brokers_topics_and_errors() {
        let response = MetadataResponse::default()
            .with_cluster_id(Some(StrBytes::from_static_str("abc")))
            .with_controller_id(BrokerId(1))
            .with_brokers(vec![
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(1))
                    .with_host(StrBytes::from_static_str("::1"))
                    .with_port(9092),
            ])
            .with_topics(vec![
                MetadataResponseTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_static_str("t"))))
                    .with_partitions(vec![
                        MetadataResponsePartition::default()
                            .with_partition_index(0)
                            .with_leader_id(BrokerId(-1))
                            .with_replica_nodes(vec![BrokerId(1)]),
                    ]),
                MetadataResponseTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_static_str("gone"))))
                    .with_error_code(3),
            ]);
        let update = ClusterMetadata::from_response(&response);
        assert_eq!(update.metadata.cluster_id.as_deref(), Some("abc"));
        assert_eq!(update.metadata.controller_id, Some(1));
        assert_eq!(
            update.metadata.broker(1).map(BrokerInfo::address),
            Some("[::1]:9092".to_string())
        );
        assert_eq!(update.metadata.leader_for("t", 0), None);
        assert!(update.metadata.topics.contains_key("t"));
        assert!(update.topic_errors.contains_key("gone"));
    }
}
