//! Consumer group calls: FindCoordinator, ListGroups, DescribeGroups (with
//! ConsumerGroupDescribe for KIP-848 groups), OffsetFetch, OffsetCommit (admin-style, outside any generation),
//! DeleteGroups and OffsetDelete. Coordinator errors drop the cached
//! coordinator and retry until `default.api.timeout.ms`. It must never join
//! groups or run a consumer protocol.

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::{Buf, Bytes};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerProtocolAssignment, DeleteGroupsRequest,
    DescribeGroupsRequest, FindCoordinatorRequest, ListGroupsRequest, OffsetCommitRequest,
    OffsetDeleteRequest, OffsetFetchRequest,
};
use kafka_protocol::protocol::{Decodable, Message};

use super::topics::ItemResults;
use super::{TopicPartition, group_by, group_id, str_bytes, topic_name};
use crate::client::{KafkaClient, Route, VersionedResponse};
use crate::error::ClientError;
use crate::metadata::socket_address;

/// What a coordinator coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoordinatorType {
    Group = 0,
    Transaction = 1,
}

/// A coordinator broker as FindCoordinator reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordinatorNode {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
}

impl CoordinatorNode {
    /// `host:port`.
    pub fn address(&self) -> String {
        socket_address(&self.host, self.port)
    }
}

/// One entry of ListGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub group_id: String,
    pub protocol_type: String,
    /// Present when the broker reports states (ListGroups v4+).
    pub state: Option<String>,
    /// Present when the broker reports types (ListGroups v5+).
    pub group_type: Option<String>,
}

/// A described group member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// Assigned partitions, decoded when the group uses the consumer protocol.
    pub assignment: Vec<TopicPartition>,
    pub raw_metadata: Bytes,
    pub raw_assignment: Bytes,
}

/// A described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    /// Broker state name: Stable, Empty, Dead, PreparingRebalance, ...
    pub state: String,
    pub protocol_type: String,
    /// The chosen protocol (partition assignor for consumer groups).
    pub protocol: String,
    pub members: Vec<GroupMember>,
    pub coordinator: CoordinatorNode,
}

/// A committed group offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: Option<i32>,
    pub metadata: Option<String>,
}

/// Outcome of OffsetDelete: the group-level result and per-partition results.
#[derive(Debug)]
pub struct OffsetDeletion {
    pub group_result: Result<(), ClientError>,
    pub partitions: ItemResults<TopicPartition, ()>,
}

/// Decodes a consumer-protocol assignment (`version: i16` then the body).
pub fn decode_consumer_assignment(bytes: &Bytes) -> Result<Vec<TopicPartition>, ClientError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let mut buf = bytes.clone();
    if buf.remaining() < 2 {
        return Err(ClientError::InvalidArgument(
            "truncated consumer assignment".to_string(),
        ));
    }
    let version = buf.get_i16().min(ConsumerProtocolAssignment::VERSIONS.max);
    let assignment = ConsumerProtocolAssignment::decode(&mut buf, version)
        .map_err(|e| ClientError::InvalidArgument(format!("invalid consumer assignment: {e}")))?;
    Ok(assignment
        .assigned_partitions
        .iter()
        .flat_map(|tp| {
            let topic = tp.topic.0.to_string();
            tp.partitions
                .iter()
                .map(move |p| TopicPartition::new(topic.clone(), *p))
        })
        .collect())
}

impl KafkaClient {
    /// Finds (and caches) the coordinator for a group or transactional id,
    /// retrying while the coordinator is not yet available.
    pub async fn find_coordinator(
        &self,
        key: &str,
        key_type: CoordinatorType,
    ) -> Result<CoordinatorNode, ClientError> {
        if let Some(node) = self.cached_coordinator(key, key_type) {
            return Ok(node);
        }
        let deadline = Instant::now() + self.config().default_api_timeout;
        loop {
            let response = self
                .call("findCoordinator", &Route::Any, |version| {
                    let request = FindCoordinatorRequest::default();
                    if version >= 4 {
                        request
                            .with_key_type(key_type as i8)
                            .with_coordinator_keys(vec![str_bytes(key)])
                    } else if version >= 1 {
                        request
                            .with_key(str_bytes(key))
                            .with_key_type(key_type as i8)
                    } else {
                        request.with_key(str_bytes(key))
                    }
                })
                .await?;
            let body = response.body;
            let (code, message, node) = if response.version >= 4 {
                match body.coordinators.first() {
                    Some(c) => (
                        c.error_code,
                        c.error_message.as_ref().map(|m| m.to_string()),
                        CoordinatorNode {
                            node_id: c.node_id.0,
                            host: c.host.to_string(),
                            port: c.port,
                        },
                    ),
                    None => {
                        return Err(ClientError::InvalidArgument(format!(
                            "FindCoordinator returned no coordinator for '{key}'"
                        )));
                    }
                }
            } else {
                (
                    body.error_code,
                    body.error_message.as_ref().map(|m| m.to_string()),
                    CoordinatorNode {
                        node_id: body.node_id.0,
                        host: body.host.to_string(),
                        port: body.port,
                    },
                )
            };
            match ClientError::from_code(code, message.as_deref()) {
                None => {
                    self.remember_coordinator(key, key_type, node.clone());
                    return Ok(node);
                }
                Some(err)
                    if err.is_coordinator_error()
                        && Instant::now() + self.config().retry_backoff < deadline =>
                {
                    tokio::time::sleep(self.config().retry_backoff).await;
                }
                Some(err) => return Err(err),
            }
        }
    }

    /// Runs a coordinator-routed call, retrying when `coordinator_error`
    /// extracts a coordinator error from the response.
    async fn call_coordinator<R, F, E>(
        &self,
        call: &str,
        group: &str,
        build: F,
        coordinator_error: E,
    ) -> Result<VersionedResponse<R::Response>, ClientError>
    where
        R: kafka_protocol::protocol::Request,
        F: Fn(i16) -> R,
        E: Fn(&VersionedResponse<R::Response>) -> i16,
    {
        let deadline = Instant::now() + self.config().default_api_timeout;
        let route = Route::Coordinator {
            key: group.to_string(),
            key_type: CoordinatorType::Group,
        };
        loop {
            let response = self.call(call, &route, &build).await?;
            let code = coordinator_error(&response);
            match ClientError::from_code(code, None) {
                Some(err) if err.is_coordinator_error() => {
                    self.forget_coordinator(group, CoordinatorType::Group);
                    if Instant::now() + self.config().retry_backoff >= deadline {
                        return Err(err);
                    }
                    tokio::time::sleep(self.config().retry_backoff).await;
                }
                _ => return Ok(response),
            }
        }
    }

    /// Lists groups on every broker (optionally filtered by state and type,
    /// where the broker supports it) and merges the answers.
    pub async fn list_groups(
        &self,
        states_filter: &[String],
        types_filter: &[String],
    ) -> Result<Vec<GroupListing>, ClientError> {
        let metadata = self.refresh_brokers().await?;
        let mut listings: BTreeMap<String, GroupListing> = BTreeMap::new();
        for broker in metadata.brokers.keys() {
            let deadline = Instant::now() + self.config().default_api_timeout;
            loop {
                let response = self
                    .call("listGroups", &Route::Broker(*broker), |version| {
                        let mut request = ListGroupsRequest::default();
                        if version >= 4 {
                            request = request.with_states_filter(
                                states_filter.iter().map(|s| str_bytes(s)).collect(),
                            );
                        }
                        if version >= 5 {
                            request = request.with_types_filter(
                                types_filter.iter().map(|s| str_bytes(s)).collect(),
                            );
                        }
                        request
                    })
                    .await?;
                match ClientError::from_code(response.body.error_code, None) {
                    Some(err)
                        if err.is_coordinator_error()
                            && Instant::now() + self.config().retry_backoff < deadline =>
                    {
                        tokio::time::sleep(self.config().retry_backoff).await;
                        continue;
                    }
                    Some(err) => return Err(err),
                    None => {}
                }
                for group in response.body.groups {
                    let listing = GroupListing {
                        group_id: group.group_id.0.to_string(),
                        protocol_type: group.protocol_type.to_string(),
                        state: (response.version >= 4).then(|| group.group_state.to_string()),
                        group_type: (response.version >= 5).then(|| group.group_type.to_string()),
                    };
                    listings.insert(listing.group_id.clone(), listing);
                }
                break;
            }
        }
        Ok(listings.into_values().collect())
    }

    /// Describes groups (classic DescribeGroups), each at its coordinator.
    pub async fn describe_groups(
        &self,
        group_ids: &[String],
    ) -> Result<ItemResults<String, GroupDescription>, ClientError> {
        let mut results = BTreeMap::new();
        for group in group_ids {
            let outcome = self.describe_group(group).await;
            match outcome {
                Err(err)
                    if !err.is_transport()
                        && !matches!(
                            err,
                            ClientError::NodeUnavailable { .. } | ClientError::Timeout { .. }
                        ) =>
                {
                    results.insert(group.clone(), Err(err));
                }
                Err(err) => return Err(err),
                Ok(description) => {
                    results.insert(group.clone(), Ok(description));
                }
            }
        }
        Ok(results)
    }

    /// A classic group through DescribeGroups; a group the broker does not
    /// know as classic is looked up as a KIP-848 consumer group, as Kafka's
    /// admin client does. Its original error stands when that fails too.
    async fn describe_group(&self, group: &str) -> Result<GroupDescription, ClientError> {
        match self.describe_classic_group(group).await {
            Err(e) if e.server_error() == Some(ResponseError::GroupIdNotFound) => {
                self.describe_consumer_group(group).await.map_err(|_| e)
            }
            other => other,
        }
    }

    async fn describe_consumer_group(&self, group: &str) -> Result<GroupDescription, ClientError> {
        let response = self
            .call_coordinator(
                "describeConsumerGroups",
                group,
                |_version| {
                    ConsumerGroupDescribeRequest::default().with_group_ids(vec![group_id(group)])
                },
                |r| r.body.groups.first().map(|g| g.error_code).unwrap_or(0),
            )
            .await?;
        let coordinator = self.find_coordinator(group, CoordinatorType::Group).await?;
        let Some(described) = response.body.groups.into_iter().next() else {
            return Err(ClientError::InvalidArgument(format!(
                "ConsumerGroupDescribe returned nothing for group '{group}'"
            )));
        };
        ClientError::check(described.error_code, described.error_message.as_deref())?;
        let members = described
            .members
            .iter()
            .map(|m| GroupMember {
                member_id: m.member_id.to_string(),
                group_instance_id: m.instance_id.as_ref().map(|i| i.to_string()),
                client_id: m.client_id.to_string(),
                client_host: m.client_host.to_string(),
                assignment: m
                    .assignment
                    .topic_partitions
                    .iter()
                    .flat_map(|tp| {
                        tp.partitions.iter().map(|p| TopicPartition {
                            topic: tp.topic_name.0.to_string(),
                            partition: *p,
                        })
                    })
                    .collect(),
                raw_metadata: Bytes::new(),
                raw_assignment: Bytes::new(),
            })
            .collect();
        Ok(GroupDescription {
            group_id: described.group_id.0.to_string(),
            state: described.group_state.to_string(),
            protocol_type: "consumer".to_string(),
            protocol: described.assignor_name.to_string(),
            members,
            coordinator,
        })
    }

    async fn describe_classic_group(&self, group: &str) -> Result<GroupDescription, ClientError> {
        let response = self
            .call_coordinator(
                "describeConsumerGroups",
                group,
                |_version| DescribeGroupsRequest::default().with_groups(vec![group_id(group)]),
                |r| r.body.groups.first().map(|g| g.error_code).unwrap_or(0),
            )
            .await?;
        let coordinator = self.find_coordinator(group, CoordinatorType::Group).await?;
        let Some(described) = response.body.groups.into_iter().next() else {
            return Err(ClientError::InvalidArgument(format!(
                "DescribeGroups returned nothing for group '{group}'"
            )));
        };
        ClientError::check(described.error_code, described.error_message.as_deref())?;
        let is_consumer = described.protocol_type.as_str() == "consumer";
        let members = described
            .members
            .iter()
            .map(|m| GroupMember {
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.as_ref().map(|i| i.to_string()),
                client_id: m.client_id.to_string(),
                client_host: m.client_host.to_string(),
                assignment: if is_consumer {
                    decode_consumer_assignment(&m.member_assignment).unwrap_or_default()
                } else {
                    Vec::new()
                },
                raw_metadata: m.member_metadata.clone(),
                raw_assignment: m.member_assignment.clone(),
            })
            .collect();
        Ok(GroupDescription {
            group_id: described.group_id.0.to_string(),
            state: described.group_state.to_string(),
            protocol_type: described.protocol_type.to_string(),
            protocol: described.protocol_data.to_string(),
            members,
            coordinator,
        })
    }

    /// Committed offsets of a group: for `partitions`, or all when `None`.
    /// Partitions without a committed offset are left out.
    pub async fn offset_fetch(
        &self,
        group: &str,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<BTreeMap<TopicPartition, CommittedOffset>, ClientError> {
        let wanted: Option<Vec<(String, Vec<i32>)>> =
            partitions.map(|list| group_by(list.iter().map(|tp| (tp.topic.clone(), tp.partition))));
        let response = self
            .call_coordinator(
                "listConsumerGroupOffsets",
                group,
                |version| {
                    if version >= 8 {
                        let topics = wanted.as_ref().map(|topics| {
                            topics
                                .iter()
                                .map(|(t, p)| {
                                    OffsetFetchRequestTopics::default()
                                        .with_name(topic_name(t))
                                        .with_partition_indexes(p.clone())
                                })
                                .collect()
                        });
                        OffsetFetchRequest::default().with_groups(vec![
                            OffsetFetchRequestGroup::default()
                                .with_group_id(group_id(group))
                                .with_topics(topics),
                        ])
                    } else {
                        let topics = match &wanted {
                            Some(topics) => Some(
                                topics
                                    .iter()
                                    .map(|(t, p)| {
                                        OffsetFetchRequestTopic::default()
                                            .with_name(topic_name(t))
                                            .with_partition_indexes(p.clone())
                                    })
                                    .collect(),
                            ),
                            None if version >= 2 => None,
                            None => Some(Vec::new()),
                        };
                        OffsetFetchRequest::default()
                            .with_group_id(group_id(group))
                            .with_topics(topics)
                    }
                },
                |r| {
                    if r.version >= 8 {
                        r.body.groups.first().map(|g| g.error_code).unwrap_or(0)
                    } else {
                        r.body.error_code
                    }
                },
            )
            .await?;
        let mut offsets = BTreeMap::new();
        let mut first_partition_error: Option<ClientError> = None;
        let mut record = |topic: String,
                          partition: i32,
                          offset: i64,
                          epoch: i32,
                          metadata: Option<String>,
                          code: i16| {
            if let Some(err) = ClientError::from_code(code, None) {
                if first_partition_error.is_none() {
                    first_partition_error = Some(err);
                }
                return;
            }
            if offset < 0 {
                return;
            }
            offsets.insert(
                TopicPartition::new(topic, partition),
                CommittedOffset {
                    offset,
                    leader_epoch: (epoch >= 0).then_some(epoch),
                    metadata,
                },
            );
        };
        if response.version >= 8 {
            let Some(group_result) = response.body.groups.first() else {
                return Err(ClientError::InvalidArgument(format!(
                    "OffsetFetch returned nothing for group '{group}'"
                )));
            };
            ClientError::check(group_result.error_code, None)?;
            for topic in &group_result.topics {
                for p in &topic.partitions {
                    record(
                        topic.name.0.to_string(),
                        p.partition_index,
                        p.committed_offset,
                        p.committed_leader_epoch,
                        p.metadata.as_ref().map(|m| m.to_string()),
                        p.error_code,
                    );
                }
            }
        } else {
            ClientError::check(response.body.error_code, None)?;
            for topic in &response.body.topics {
                for p in &topic.partitions {
                    record(
                        topic.name.0.to_string(),
                        p.partition_index,
                        p.committed_offset,
                        p.committed_leader_epoch,
                        p.metadata.as_ref().map(|m| m.to_string()),
                        p.error_code,
                    );
                }
            }
        }
        if let Some(err) = first_partition_error {
            return Err(err);
        }
        Ok(offsets)
    }

    /// Commits offsets for a group from outside any generation (as
    /// AdminClient's alterConsumerGroupOffsets does); the group must be empty.
    pub async fn offset_commit(
        &self,
        group: &str,
        offsets: &[(TopicPartition, i64, Option<String>)],
    ) -> Result<ItemResults<TopicPartition, ()>, ClientError> {
        let by_topic =
            group_by(offsets.iter().map(|(tp, offset, meta)| {
                (tp.topic.clone(), (tp.partition, *offset, meta.clone()))
            }));
        let response = self
            .call_coordinator(
                "alterConsumerGroupOffsets",
                group,
                |_version| {
                    OffsetCommitRequest::default()
                        .with_group_id(group_id(group))
                        .with_topics(
                            by_topic
                                .iter()
                                .map(|(topic, partitions)| {
                                    OffsetCommitRequestTopic::default()
                                        .with_name(topic_name(topic))
                                        .with_partitions(
                                            partitions
                                                .iter()
                                                .map(|(p, offset, meta)| {
                                                    OffsetCommitRequestPartition::default()
                                                        .with_partition_index(*p)
                                                        .with_committed_offset(*offset)
                                                        .with_committed_metadata(Some(str_bytes(
                                                            meta.as_deref().unwrap_or(""),
                                                        )))
                                                })
                                                .collect(),
                                        )
                                })
                                .collect(),
                        )
                },
                |r| {
                    r.body
                        .topics
                        .first()
                        .and_then(|t| t.partitions.first())
                        .map(|p| p.error_code)
                        .unwrap_or(0)
                },
            )
            .await?;
        let mut results = BTreeMap::new();
        for topic in response.body.topics {
            for p in topic.partitions {
                results.insert(
                    TopicPartition::new(topic.name.0.to_string(), p.partition_index),
                    ClientError::check(p.error_code, None),
                );
            }
        }
        for (tp, _, _) in offsets {
            if !results.contains_key(tp) {
                results.insert(
                    tp.clone(),
                    Err(ClientError::InvalidArgument(format!(
                        "The broker did not return a result for {tp}"
                    ))),
                );
            }
        }
        Ok(results)
    }

    /// Deletes groups, each at its coordinator.
    pub async fn delete_groups(
        &self,
        group_ids: &[String],
    ) -> Result<ItemResults<String, ()>, ClientError> {
        let mut results = BTreeMap::new();
        for group in group_ids {
            let response = self
                .call_coordinator(
                    "deleteConsumerGroups",
                    group,
                    |_version| {
                        DeleteGroupsRequest::default().with_groups_names(vec![group_id(group)])
                    },
                    |r| r.body.results.first().map(|g| g.error_code).unwrap_or(0),
                )
                .await;
            let outcome = match response {
                Ok(response) => match response.body.results.first() {
                    Some(result) => ClientError::check(result.error_code, None),
                    None => Err(ClientError::InvalidArgument(format!(
                        "DeleteGroups returned nothing for group '{group}'"
                    ))),
                },
                Err(err) if err.server_error().is_some() => Err(err),
                Err(err) => return Err(err),
            };
            results.insert(group.clone(), outcome);
        }
        Ok(results)
    }

    /// Deletes committed offsets of an (empty or non-subscribed) group.
    pub async fn delete_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<OffsetDeletion, ClientError> {
        let by_topic = group_by(partitions.iter().map(|tp| (tp.topic.clone(), tp.partition)));
        let response = self
            .call_coordinator(
                "deleteConsumerGroupOffsets",
                group,
                |_version| {
                    OffsetDeleteRequest::default()
                        .with_group_id(group_id(group))
                        .with_topics(
                            by_topic
                                .iter()
                                .map(|(topic, indexes)| {
                                    OffsetDeleteRequestTopic::default()
                                        .with_name(topic_name(topic))
                                        .with_partitions(
                                            indexes
                                                .iter()
                                                .map(|p| {
                                                    OffsetDeleteRequestPartition::default()
                                                        .with_partition_index(*p)
                                                })
                                                .collect(),
                                        )
                                })
                                .collect(),
                        )
                },
                |r| r.body.error_code,
            )
            .await?;
        let group_result = ClientError::check(response.body.error_code, None);
        let mut results = BTreeMap::new();
        for topic in response.body.topics {
            for p in topic.partitions {
                results.insert(
                    TopicPartition::new(topic.name.0.to_string(), p.partition_index),
                    ClientError::check(p.error_code, None),
                );
            }
        }
        Ok(OffsetDeletion {
            group_result,
            partitions: results,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};
    use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as WireTopicPartition;
    use kafka_protocol::protocol::Encodable;

    #[test]
    fn decodes_consumer_assignment() {
        let assignment = ConsumerProtocolAssignment::default().with_assigned_partitions(vec![
            WireTopicPartition::default()
                .with_topic(topic_name("orders"))
                .with_partitions(vec![0, 2]),
        ]);
        let mut buf = BytesMut::new();
        buf.put_i16(1);
        assert!(assignment.encode(&mut buf, 1).is_ok());
        let decoded = decode_consumer_assignment(&buf.freeze());
        let Ok(decoded) = decoded else {
            panic!("decode failed: {decoded:?}")
        };
        assert_eq!(
            decoded,
            vec![
                TopicPartition::new("orders", 0),
                TopicPartition::new("orders", 2)
            ]
        );
        assert!(decode_consumer_assignment(&Bytes::new()).is_ok_and(|v| v.is_empty()));
        assert!(decode_consumer_assignment(&Bytes::from_static(&[0])).is_err());
    }
}
