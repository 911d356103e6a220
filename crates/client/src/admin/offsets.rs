//! Partition offset calls routed to partition leaders: ListOffsets (earliest,
//! latest, by timestamp) and DeleteRecords. Stale-leader errors refresh
//! metadata and retry until `default.api.timeout.ms`. It must never commit
//! group offsets (that is [`crate::admin::groups`]).

use std::collections::BTreeMap;
use std::time::Instant;

use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, DeleteRecordsRequest, ListOffsetsRequest};

use super::topics::ItemResults;
use super::{TopicPartition, group_by, topic_name};
use crate::client::{KafkaClient, Route, millis, unknown_partition};
use crate::error::ClientError;

/// Which offset to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    Earliest,
    Latest,
    /// The offset of the record with the largest timestamp (ListOffsets v7+).
    MaxTimestamp,
    /// Earliest offset still in local storage (v8+).
    EarliestLocal,
    /// Latest offset in tiered storage (v9+).
    LatestTiered,
    /// First offset whose timestamp is at or after this many ms since the epoch.
    Timestamp(i64),
}

impl OffsetSpec {
    /// The timestamp value ListOffsets uses for this spec.
    pub fn wire_timestamp(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::MaxTimestamp => -3,
            OffsetSpec::EarliestLocal => -4,
            OffsetSpec::LatestTiered => -5,
            OffsetSpec::Timestamp(ts) => ts,
        }
    }
}

/// Read isolation for ListOffsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    #[default]
    ReadUncommitted,
    ReadCommitted,
}

/// One ListOffsets answer. `offset` is -1 when no record matches a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    pub offset: i64,
    pub timestamp: i64,
    pub leader_epoch: Option<i32>,
}

impl KafkaClient {
    /// Groups partitions by current leader; partitions whose topic or leader
    /// cannot be resolved come back as errors.
    async fn partitions_by_leader(
        &self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> (
        Vec<(i32, Vec<TopicPartition>)>,
        Vec<(TopicPartition, ClientError)>,
    ) {
        let mut located = Vec::new();
        let mut failed = Vec::new();
        for tp in partitions {
            match self.ensure_topic_metadata(&tp.topic).await {
                Ok(metadata) => match metadata
                    .topics
                    .get(&tp.topic)
                    .and_then(|t| t.partitions.get(&tp.partition))
                {
                    Some(info) => match info.leader {
                        Some(leader) => located.push((leader, tp)),
                        None => {
                            let err = ClientError::from_code(5, None)
                                .unwrap_or_else(|| unknown_partition(&tp.topic, tp.partition));
                            failed.push((tp, err));
                        }
                    },
                    None => {
                        let err = unknown_partition(&tp.topic, tp.partition);
                        failed.push((tp, err));
                    }
                },
                Err(err) => failed.push((tp, err)),
            }
        }
        (group_by(located), failed)
    }

    /// Looks up offsets for partitions, asking each partition's leader.
    pub async fn list_offsets(
        &self,
        requests: &[(TopicPartition, OffsetSpec)],
        isolation: IsolationLevel,
    ) -> Result<ItemResults<TopicPartition, ListedOffset>, ClientError> {
        let specs: BTreeMap<TopicPartition, OffsetSpec> = requests.iter().cloned().collect();
        let timeout_ms = i32::try_from(millis(self.config().request_timeout)).unwrap_or(i32::MAX);
        let deadline = Instant::now() + self.config().default_api_timeout;
        let mut results: ItemResults<TopicPartition, ListedOffset> = BTreeMap::new();
        let mut pending: Vec<TopicPartition> = specs.keys().cloned().collect();
        while !pending.is_empty() {
            let mut retry = Vec::new();
            let (by_leader, failed) = self.partitions_by_leader(pending.drain(..)).await;
            for (tp, err) in failed {
                if is_leader_retriable(&err) && Instant::now() < deadline {
                    retry.push(tp);
                } else {
                    results.insert(tp, Err(err));
                }
            }
            for (leader, partitions) in by_leader {
                let topics = group_by(partitions.iter().map(|tp| (tp.topic.clone(), tp.partition)));
                let response = self
                    .call("listOffsets", &Route::Broker(leader), |version| {
                        let mut request = ListOffsetsRequest::default()
                            .with_replica_id(BrokerId(-1))
                            .with_topics(
                                topics
                                    .iter()
                                    .map(|(topic, indexes)| {
                                        ListOffsetsTopic::default()
                                            .with_name(topic_name(topic))
                                            .with_partitions(
                                                indexes
                                                    .iter()
                                                    .map(|p| {
                                                        let spec = specs
                                                            .get(&TopicPartition::new(
                                                                topic.clone(),
                                                                *p,
                                                            ))
                                                            .copied()
                                                            .unwrap_or(OffsetSpec::Latest);
                                                        let partition =
                                                            ListOffsetsPartition::default()
                                                                .with_partition_index(*p)
                                                                .with_timestamp(
                                                                    spec.wire_timestamp(),
                                                                );
                                                        if version >= 4 {
                                                            partition.with_current_leader_epoch(-1)
                                                        } else {
                                                            partition
                                                        }
                                                    })
                                                    .collect(),
                                            )
                                    })
                                    .collect(),
                            );
                        if version >= 2 && isolation == IsolationLevel::ReadCommitted {
                            request = request.with_isolation_level(1);
                        }
                        if version >= 10 {
                            request = request.with_timeout_ms(timeout_ms);
                        }
                        request
                    })
                    .await?;
                for topic in response.body.topics {
                    let name = topic.name.0.to_string();
                    for p in topic.partitions {
                        let tp = TopicPartition::new(name.clone(), p.partition_index);
                        match ClientError::from_code(p.error_code, None) {
                            Some(err) if is_leader_retriable(&err) && Instant::now() < deadline => {
                                self.invalidate_metadata();
                                retry.push(tp);
                            }
                            Some(err) => {
                                results.insert(tp, Err(err));
                            }
                            None => {
                                results.insert(
                                    tp,
                                    Ok(ListedOffset {
                                        offset: p.offset,
                                        timestamp: p.timestamp,
                                        leader_epoch: (p.leader_epoch >= 0)
                                            .then_some(p.leader_epoch),
                                    }),
                                );
                            }
                        }
                    }
                }
                for tp in partitions {
                    if !results.contains_key(&tp) && !retry.contains(&tp) {
                        results.insert(
                            tp.clone(),
                            Err(ClientError::InvalidArgument(format!(
                                "The broker did not return an offset for {tp}"
                            ))),
                        );
                    }
                }
            }
            if !retry.is_empty() {
                self.invalidate_metadata();
                tokio::time::sleep(self.config().retry_backoff).await;
            }
            pending = retry;
        }
        Ok(results)
    }

    /// Deletes records before the given offsets (-1 = high watermark),
    /// returning the new low watermark per partition.
    pub async fn delete_records(
        &self,
        before: &[(TopicPartition, i64)],
    ) -> Result<ItemResults<TopicPartition, i64>, ClientError> {
        let offsets: BTreeMap<TopicPartition, i64> = before.iter().cloned().collect();
        let timeout_ms = i32::try_from(millis(self.config().request_timeout)).unwrap_or(i32::MAX);
        let deadline = Instant::now() + self.config().default_api_timeout;
        let mut results: ItemResults<TopicPartition, i64> = BTreeMap::new();
        let mut pending: Vec<TopicPartition> = offsets.keys().cloned().collect();
        while !pending.is_empty() {
            let mut retry = Vec::new();
            let (by_leader, failed) = self.partitions_by_leader(pending.drain(..)).await;
            for (tp, err) in failed {
                if is_leader_retriable(&err) && Instant::now() < deadline {
                    retry.push(tp);
                } else {
                    results.insert(tp, Err(err));
                }
            }
            for (leader, partitions) in by_leader {
                let topics = group_by(partitions.iter().map(|tp| (tp.topic.clone(), tp.partition)));
                let response = self
                    .call("deleteRecords", &Route::Broker(leader), |_version| {
                        DeleteRecordsRequest::default()
                            .with_timeout_ms(timeout_ms)
                            .with_topics(
                                topics
                                    .iter()
                                    .map(|(topic, indexes)| {
                                        DeleteRecordsTopic::default()
                                            .with_name(topic_name(topic))
                                            .with_partitions(
                                                indexes
                                                    .iter()
                                                    .map(|p| {
                                                        let offset = offsets
                                                            .get(&TopicPartition::new(
                                                                topic.clone(),
                                                                *p,
                                                            ))
                                                            .copied()
                                                            .unwrap_or(-1);
                                                        DeleteRecordsPartition::default()
                                                            .with_partition_index(*p)
                                                            .with_offset(offset)
                                                    })
                                                    .collect(),
                                            )
                                    })
                                    .collect(),
                            )
                    })
                    .await?;
                for topic in response.body.topics {
                    let name = topic.name.0.to_string();
                    for p in topic.partitions {
                        let tp = TopicPartition::new(name.clone(), p.partition_index);
                        match ClientError::from_code(p.error_code, None) {
                            Some(err) if is_leader_retriable(&err) && Instant::now() < deadline => {
                                retry.push(tp);
                            }
                            Some(err) => {
                                results.insert(tp, Err(err));
                            }
                            None => {
                                results.insert(tp, Ok(p.low_watermark));
                            }
                        }
                    }
                }
            }
            if !retry.is_empty() {
                self.invalidate_metadata();
                tokio::time::sleep(self.config().retry_backoff).await;
            }
            pending = retry;
        }
        Ok(results)
    }
}

/// Partition errors after which asking the (new) leader again may work.
fn is_leader_retriable(err: &ClientError) -> bool {
    use kafka_protocol::ResponseError as E;
    matches!(
        err.server_error(),
        Some(
            E::NotLeaderOrFollower
                | E::LeaderNotAvailable
                | E::FencedLeaderEpoch
                | E::UnknownLeaderEpoch
                | E::OffsetNotAvailable
                | E::ReplicaNotAvailable
        )
    )
}
