//! Topic administration: create, delete, add partitions, list and describe
//! (DescribeTopicPartitions when the broker has it, Metadata otherwise).
//! It must never print or decide CLI semantics such as regex filtering.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    DescribeTopicPartitionsRequest,
};
use uuid::Uuid;

use super::{str_bytes, topic_name};
use crate::client::{KafkaClient, Route, millis};
use crate::error::ClientError;

/// A topic to create. `None` partitions/replication mean "broker default"
/// (needs CreateTopics v4+). A non-empty `assignments` map overrides both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTopic {
    pub name: String,
    pub num_partitions: Option<i32>,
    pub replication_factor: Option<i16>,
    /// Partition index to replica broker ids.
    pub assignments: BTreeMap<i32, Vec<i32>>,
    pub configs: BTreeMap<String, String>,
}

/// What the broker reported for a created topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTopic {
    pub name: String,
    pub topic_id: Uuid,
    /// -1 when the broker does not report it (CreateTopics < v5).
    pub num_partitions: i32,
    pub replication_factor: i16,
}

/// A request to grow a topic to `total_count` partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPartitions {
    pub topic: String,
    pub total_count: i32,
    /// Replica lists for the new partitions only, if chosen by the caller.
    pub assignments: Option<Vec<Vec<i32>>>,
}

/// One entry of [`KafkaClient::list_topics`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicListing {
    pub name: String,
    pub topic_id: Uuid,
    pub is_internal: bool,
}

/// A described topic with its partitions sorted by index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    pub name: String,
    pub topic_id: Uuid,
    pub is_internal: bool,
    pub partitions: Vec<PartitionDescription>,
}

/// A described partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDescription {
    pub partition: i32,
    pub leader: Option<i32>,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline_replicas: Vec<i32>,
    /// Eligible leader replicas; `None` when the broker did not report them.
    pub eligible_leader_replicas: Option<Vec<i32>>,
    /// Last known ELR; `None` when the broker did not report it.
    pub last_known_elr: Option<Vec<i32>>,
}

/// Per-item outcome of a batch admin call.
pub type ItemResults<K, T> = BTreeMap<K, Result<T, ClientError>>;

const DESCRIBE_PARTITION_LIMIT: i32 = 2000;

impl KafkaClient {
    /// Creates topics (sent to the controller). Returns one result per topic.
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
        validate_only: bool,
    ) -> Result<ItemResults<String, CreatedTopic>, ClientError> {
        let timeout_ms = i32::try_from(millis(self.config().request_timeout)).unwrap_or(i32::MAX);
        let response = self
            .call("createTopics", &Route::Controller, |_version| {
                let creatable = topics
                    .iter()
                    .map(|topic| {
                        let (partitions, replication) = if topic.assignments.is_empty() {
                            (
                                topic.num_partitions.unwrap_or(-1),
                                topic.replication_factor.unwrap_or(-1),
                            )
                        } else {
                            (-1, -1)
                        };
                        CreatableTopic::default()
                            .with_name(topic_name(&topic.name))
                            .with_num_partitions(partitions)
                            .with_replication_factor(replication)
                            .with_assignments(
                                topic
                                    .assignments
                                    .iter()
                                    .map(|(index, brokers)| {
                                        CreatableReplicaAssignment::default()
                                            .with_partition_index(*index)
                                            .with_broker_ids(
                                                brokers.iter().map(|b| BrokerId(*b)).collect(),
                                            )
                                    })
                                    .collect(),
                            )
                            .with_configs(
                                topic
                                    .configs
                                    .iter()
                                    .map(|(k, v)| {
                                        CreatableTopicConfig::default()
                                            .with_name(str_bytes(k))
                                            .with_value(Some(str_bytes(v)))
                                    })
                                    .collect(),
                            )
                    })
                    .collect();
                CreateTopicsRequest::default()
                    .with_topics(creatable)
                    .with_timeout_ms(timeout_ms)
                    .with_validate_only(validate_only)
            })
            .await?;
        let mut results = BTreeMap::new();
        for result in response.body.topics {
            let name = result.name.0.to_string();
            let outcome =
                match ClientError::from_code(result.error_code, result.error_message.as_deref()) {
                    Some(err) => Err(err),
                    None => Ok(CreatedTopic {
                        name: name.clone(),
                        topic_id: result.topic_id,
                        num_partitions: result.num_partitions,
                        replication_factor: result.replication_factor,
                    }),
                };
            results.insert(name, outcome);
        }
        fill_missing(
            &mut results,
            topics.iter().map(|t| t.name.clone()),
            "createTopics",
        );
        self.invalidate_metadata();
        Ok(results)
    }

    /// Deletes topics by name (sent to the controller).
    pub async fn delete_topics(
        &self,
        names: &[String],
    ) -> Result<ItemResults<String, ()>, ClientError> {
        let timeout_ms = i32::try_from(millis(self.config().request_timeout)).unwrap_or(i32::MAX);
        let response = self
            .call("deleteTopics", &Route::Controller, |version| {
                let request = DeleteTopicsRequest::default().with_timeout_ms(timeout_ms);
                if version >= 6 {
                    request.with_topics(
                        names
                            .iter()
                            .map(|n| DeleteTopicState::default().with_name(Some(topic_name(n))))
                            .collect(),
                    )
                } else {
                    request.with_topic_names(names.iter().map(|n| topic_name(n)).collect())
                }
            })
            .await?;
        let mut results = BTreeMap::new();
        for result in response.body.responses {
            let Some(name) = result.name.as_ref().map(|n| n.0.to_string()) else {
                continue;
            };
            let outcome = ClientError::check(result.error_code, result.error_message.as_deref());
            results.insert(name, outcome);
        }
        fill_missing(&mut results, names.iter().cloned(), "deleteTopics");
        self.invalidate_metadata();
        Ok(results)
    }

    /// Increases partition counts (sent to the controller).
    pub async fn create_partitions(
        &self,
        increases: &[NewPartitions],
        validate_only: bool,
    ) -> Result<ItemResults<String, ()>, ClientError> {
        let timeout_ms = i32::try_from(millis(self.config().request_timeout)).unwrap_or(i32::MAX);
        let response = self
            .call("createPartitions", &Route::Controller, |_version| {
                CreatePartitionsRequest::default()
                    .with_timeout_ms(timeout_ms)
                    .with_validate_only(validate_only)
                    .with_topics(
                        increases
                            .iter()
                            .map(|inc| {
                                CreatePartitionsTopic::default()
                                    .with_name(topic_name(&inc.topic))
                                    .with_count(inc.total_count)
                                    .with_assignments(inc.assignments.as_ref().map(|lists| {
                                        lists
                                            .iter()
                                            .map(|brokers| {
                                                CreatePartitionsAssignment::default()
                                                    .with_broker_ids(
                                                        brokers
                                                            .iter()
                                                            .map(|b| BrokerId(*b))
                                                            .collect(),
                                                    )
                                            })
                                            .collect()
                                    }))
                            })
                            .collect(),
                    )
            })
            .await?;
        let mut results = BTreeMap::new();
        for result in response.body.results {
            let outcome = ClientError::check(result.error_code, result.error_message.as_deref());
            results.insert(result.name.0.to_string(), outcome);
        }
        fill_missing(
            &mut results,
            increases.iter().map(|i| i.topic.clone()),
            "createPartitions",
        );
        self.invalidate_metadata();
        Ok(results)
    }

    /// All topic names (sorted), optionally without internal topics.
    pub async fn list_topics(
        &self,
        include_internal: bool,
    ) -> Result<Vec<TopicListing>, ClientError> {
        let response = self.fetch_metadata_as("listTopics", None).await?;
        let mut listings: Vec<TopicListing> = response
            .body
            .topics
            .iter()
            .filter(|t| t.error_code == 0)
            .filter_map(|t| {
                Some(TopicListing {
                    name: t.name.as_ref()?.0.to_string(),
                    topic_id: t.topic_id,
                    is_internal: t.is_internal,
                })
            })
            .filter(|t| include_internal || !t.is_internal)
            .collect();
        listings.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(listings)
    }

    /// Describes topics: partitions, leaders, replicas, ISR and (when the
    /// broker supports DescribeTopicPartitions) ELR.
    pub async fn describe_topics(
        &self,
        names: &[String],
    ) -> Result<ItemResults<String, TopicDescription>, ClientError> {
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        if self
            .any_broker_supports(ApiKey::DescribeTopicPartitions)
            .await?
        {
            self.describe_topics_paged(names).await
        } else {
            self.describe_topics_by_metadata(names).await
        }
    }

    async fn describe_topics_paged(
        &self,
        names: &[String],
    ) -> Result<ItemResults<String, TopicDescription>, ClientError> {
        let mut sorted: Vec<String> = names.to_vec();
        sorted.sort();
        sorted.dedup();
        let mut results: ItemResults<String, TopicDescription> = BTreeMap::new();
        let mut cursor: Option<(String, i32)> = None;
        loop {
            let remaining: Vec<&String> = match &cursor {
                Some((topic, _)) => sorted.iter().filter(|n| *n >= topic).collect(),
                None => sorted.iter().collect(),
            };
            let request_cursor = cursor.clone();
            let response = self
                .call("describeTopics", &Route::Any, |_version| {
                    DescribeTopicPartitionsRequest::default()
                        .with_topics(
                            remaining
                                .iter()
                                .map(|n| TopicRequest::default().with_name(topic_name(n)))
                                .collect(),
                        )
                        .with_response_partition_limit(DESCRIBE_PARTITION_LIMIT)
                        .with_cursor(request_cursor.as_ref().map(|(topic, partition)| {
                            Cursor::default()
                                .with_topic_name(topic_name(topic))
                                .with_partition_index(*partition)
                        }))
                })
                .await?;
            for topic in response.body.topics {
                let Some(name) = topic.name.as_ref().map(|n| n.0.to_string()) else {
                    continue;
                };
                if let Some(err) = ClientError::from_code(topic.error_code, None) {
                    results.insert(name, Err(err));
                    continue;
                }
                let partitions: Vec<PartitionDescription> = topic
                    .partitions
                    .iter()
                    .map(|p| PartitionDescription {
                        partition: p.partition_index,
                        leader: (p.leader_id.0 >= 0).then_some(p.leader_id.0),
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                        isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                        offline_replicas: p.offline_replicas.iter().map(|b| b.0).collect(),
                        eligible_leader_replicas: p
                            .eligible_leader_replicas
                            .as_ref()
                            .map(|v| v.iter().map(|b| b.0).collect()),
                        last_known_elr: p
                            .last_known_elr
                            .as_ref()
                            .map(|v| v.iter().map(|b| b.0).collect()),
                    })
                    .collect();
                match results.get_mut(&name) {
                    Some(Ok(existing)) => existing.partitions.extend(partitions),
                    _ => {
                        results.insert(
                            name.clone(),
                            Ok(TopicDescription {
                                name,
                                topic_id: topic.topic_id,
                                is_internal: topic.is_internal,
                                partitions,
                            }),
                        );
                    }
                }
            }
            match response.body.next_cursor {
                Some(next) => {
                    let next = (next.topic_name.0.to_string(), next.partition_index);
                    if cursor.as_ref() == Some(&next) {
                        return Err(ClientError::InvalidArgument(format!(
                            "broker returned the same DescribeTopicPartitions cursor twice ({}-{})",
                            next.0, next.1
                        )));
                    }
                    cursor = Some(next);
                }
                None => break,
            }
        }
        for description in results.values_mut().flatten() {
            description.partitions.sort_by_key(|p| p.partition);
            description.partitions.dedup_by_key(|p| p.partition);
        }
        fill_missing(&mut results, sorted.into_iter(), "describeTopics");
        Ok(results)
    }

    async fn describe_topics_by_metadata(
        &self,
        names: &[String],
    ) -> Result<ItemResults<String, TopicDescription>, ClientError> {
        let response = self
            .fetch_metadata_as("describeTopics", Some(names))
            .await?;
        let mut results = BTreeMap::new();
        for topic in &response.body.topics {
            let Some(name) = topic.name.as_ref().map(|n| n.0.to_string()) else {
                continue;
            };
            let outcome = match ClientError::from_code(topic.error_code, None) {
                Some(err) => Err(err),
                None => {
                    let mut partitions: Vec<PartitionDescription> = topic
                        .partitions
                        .iter()
                        .map(|p| PartitionDescription {
                            partition: p.partition_index,
                            leader: (p.leader_id.0 >= 0).then_some(p.leader_id.0),
                            leader_epoch: p.leader_epoch,
                            replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                            isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                            offline_replicas: p.offline_replicas.iter().map(|b| b.0).collect(),
                            eligible_leader_replicas: None,
                            last_known_elr: None,
                        })
                        .collect();
                    partitions.sort_by_key(|p| p.partition);
                    Ok(TopicDescription {
                        name: name.clone(),
                        topic_id: topic.topic_id,
                        is_internal: topic.is_internal,
                        partitions,
                    })
                }
            };
            results.insert(name, outcome);
        }
        fill_missing(&mut results, names.iter().cloned(), "describeTopics");
        Ok(results)
    }
}

/// Marks requested items the broker did not answer for.
pub(crate) fn fill_missing<K: Ord + Clone + std::fmt::Display, T>(
    results: &mut ItemResults<K, T>,
    requested: impl Iterator<Item = K>,
    call: &str,
) {
    for key in requested {
        let message = format!("The broker did not return a result for {key} in {call}");
        results
            .entry(key)
            .or_insert_with(|| Err(ClientError::InvalidArgument(message)));
    }
}
