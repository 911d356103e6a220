//! CreateTopics, DeleteTopics and CreatePartitions. Every change is persisted
//! in metadata before the partition logs follow it; a failed log step rolls
//! the metadata back so nothing is half-created.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse,
};
use strait_metadata::{MetadataError, TopicRecord};

use super::partition_cap::{self, PartitionBudget, RequestedTopic, TOO_MANY_PARTITIONS};
use super::{str_bytes, topic_name, validate_topic_name};
use crate::errors;
use crate::state::Broker;
use crate::topic_config::validate_topic_config;

type Failure = (ResponseError, String);

pub fn create_topic_record(
    name: &str,
    partitions: u32,
    replication_factor: i16,
    configs: BTreeMap<String, String>,
) -> TopicRecord {
    TopicRecord {
        name: name.to_string(),
        id: uuid::Uuid::new_v4(),
        partitions,
        replication_factor,
        configs,
        created_ms: Broker::now_ms(),
    }
}

/// Persists a new topic and opens its partitions; on a storage failure the
/// metadata record is removed again.
pub async fn persist_new_topic(broker: &Arc<Broker>, record: TopicRecord) -> Result<(), Failure> {
    let b = broker.clone();
    tokio::task::spawn_blocking(move || {
        b.store.create_topic(record.clone()).map_err(|e| match e {
            MetadataError::TopicExists(n) => (
                ResponseError::TopicAlreadyExists,
                format!("Topic '{n}' already exists."),
            ),
            other => errors::metadata_failure(&other),
        })?;
        let config = b.log_config(&record);
        if let Err(e) = b.topics.create(&record, &config) {
            tracing::error!("creating partitions of {} failed: {e}", record.name);
            let _ = b.topics.delete(&record.name);
            let _ = b.store.delete_topic(&record.name);
            return Err(errors::log_failure(&e));
        }
        Ok(())
    })
    .await
    .map_err(|e| (ResponseError::UnknownServerError, e.to_string()))?
}

fn check_new_topic(
    broker: &Broker,
    name: &str,
    num_partitions: i32,
    replication_factor: i16,
    assignments: &[(i32, Vec<i32>)],
    configs: &[(String, Option<String>)],
) -> Result<(u32, i16, BTreeMap<String, String>), Failure> {
    validate_topic_name(name).map_err(|m| (ResponseError::InvalidTopicException, m))?;
    if broker.topics.get(name).is_some() {
        return Err((
            ResponseError::TopicAlreadyExists,
            format!("Topic '{name}' already exists."),
        ));
    }
    let collision_key = |n: &str| n.replace('.', "_");
    if let Some(other) = broker
        .topics
        .all()
        .into_iter()
        .find(|t| collision_key(&t.name) == collision_key(name))
    {
        return Err((
            ResponseError::InvalidTopicException,
            format!(
                "Topic '{name}' collides with existing topic: {}",
                other.name
            ),
        ));
    }
    let (partitions, rf) = if assignments.is_empty() {
        let partitions = match num_partitions {
            -1 => broker.config.num_partitions,
            n if n > 0 => n,
            _ => {
                return Err((
                    ResponseError::InvalidPartitions,
                    "Number of partitions was set to an invalid non-positive value.".into(),
                ));
            }
        };
        let rf = match replication_factor {
            -1 => broker.config.default_replication_factor,
            n if n > 0 => n,
            _ => {
                return Err((
                    ResponseError::InvalidReplicationFactor,
                    "Replication factor must be larger than 0, or -1 to use the default value."
                        .into(),
                ));
            }
        };
        (partitions, rf)
    } else {
        if num_partitions != -1 || replication_factor != -1 {
            return Err((
                ResponseError::InvalidRequest,
                "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.".into(),
            ));
        }
        check_assignments(broker, assignments.iter().map(|(_, b)| b.as_slice()))?;
        let mut indexes: Vec<i32> = assignments.iter().map(|(i, _)| *i).collect();
        indexes.sort_unstable();
        if indexes.iter().enumerate().any(|(i, p)| *p != i as i32) {
            return Err((
                ResponseError::InvalidReplicaAssignment,
                "Partitions should be a consecutive 0-based integer sequence".into(),
            ));
        }
        (assignments.len() as i32, assignments[0].1.len() as i16)
    };
    if rf > 1 {
        return Err((
            ResponseError::InvalidReplicationFactor,
            format!(
                "Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only 1 broker(s) are registered."
            ),
        ));
    }
    let mut map = BTreeMap::new();
    for (key, value) in configs {
        let Some(value) = value else {
            return Err((
                ResponseError::InvalidConfig,
                format!("Null value not supported for topic configs: {key}"),
            ));
        };
        validate_topic_config(key, value)
            .map_err(|e| (ResponseError::InvalidConfig, e.to_string()))?;
        map.insert(key.clone(), value.clone());
    }
    Ok((partitions as u32, rf, map))
}

fn check_assignments<'a>(
    broker: &Broker,
    replica_lists: impl Iterator<Item = &'a [i32]>,
) -> Result<(), Failure> {
    for brokers in replica_lists {
        if brokers.is_empty() || brokers.iter().any(|b| *b != broker.node_id()) {
            return Err((
                ResponseError::InvalidReplicaAssignment,
                format!(
                    "Replica assignment {brokers:?} names brokers that are not registered; the only broker is {}.",
                    broker.node_id()
                ),
            ));
        }
    }
    Ok(())
}

pub async fn create(
    broker: &Arc<Broker>,
    req: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let mut resp = CreateTopicsResponse::default();
    let requested = req.topics.iter().map(|t| RequestedTopic {
        num_partitions: t.num_partitions,
        assignments: t.assignments.len(),
    });
    if !partition_cap::create_topics_allowed(requested, broker.config.num_partitions) {
        tracing::warn!(
            "refused a CreateTopics request asking for more than {} partitions",
            partition_cap::MAX_PARTITIONS_PER_REQUEST
        );
        for topic in req.topics {
            let mut result = CreatableTopicResult::default();
            result.name = topic.name;
            result.num_partitions = -1;
            result.replication_factor = -1;
            result.error_code = ResponseError::PolicyViolation.code();
            result.error_message = Some(str_bytes(TOO_MANY_PARTITIONS));
            resp.topics.push(result);
        }
        return resp;
    }
    let _guard = broker.admin.lock().await;
    let mut seen = HashSet::new();
    let duplicates: HashSet<String> = req
        .topics
        .iter()
        .filter(|t| !seen.insert(t.name.0.to_string()))
        .map(|t| t.name.0.to_string())
        .collect();
    for topic in req.topics {
        let name = topic.name.0.to_string();
        let mut result = CreatableTopicResult::default();
        result.name = topic.name.clone();
        result.num_partitions = -1;
        result.replication_factor = -1;
        let assignments: Vec<(i32, Vec<i32>)> = topic
            .assignments
            .iter()
            .map(|a| {
                (
                    a.partition_index,
                    a.broker_ids.iter().map(|b| b.0).collect(),
                )
            })
            .collect();
        let configs: Vec<(String, Option<String>)> = topic
            .configs
            .iter()
            .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
            .collect();
        let outcome = if duplicates.contains(&name) {
            Err((
                ResponseError::InvalidRequest,
                format!(
                    "Create topics request from client contains multiple entries for the following topics: {name}"
                ),
            ))
        } else {
            check_new_topic(
                broker,
                &name,
                topic.num_partitions,
                topic.replication_factor,
                &assignments,
                &configs,
            )
        };
        match outcome {
            Err((code, message)) => {
                result.error_code = code.code();
                result.error_message = Some(str_bytes(message));
            }
            Ok((partitions, rf, configs)) => {
                let record = create_topic_record(&name, partitions, rf, configs);
                let done = if req.validate_only {
                    Ok(())
                } else {
                    persist_new_topic(broker, record.clone()).await
                };
                match done {
                    Err((code, message)) => {
                        result.error_code = code.code();
                        result.error_message = Some(str_bytes(message));
                    }
                    Ok(()) => {
                        if !req.validate_only {
                            tracing::info!("created topic {name} with {partitions} partition(s)");
                            result.topic_id = record.id;
                        }
                        result.num_partitions = partitions as i32;
                        result.replication_factor = rf;
                        if version >= 5 {
                            result.configs =
                                Some(broker.with_config_layers(&record.configs, |layers| {
                                    layers
                                        .all()
                                        .into_iter()
                                        .map(|c| {
                                            let mut out = CreatableTopicConfigs::default();
                                            out.name = str_bytes(c.def.name);
                                            out.value = Some(str_bytes(c.value));
                                            out.config_source = c.source as i8;
                                            out
                                        })
                                        .collect()
                                }));
                        }
                    }
                }
            }
        }
        resp.topics.push(result);
    }
    resp
}

pub async fn delete(
    broker: &Arc<Broker>,
    req: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    let _guard = broker.admin.lock().await;
    let mut resp = DeleteTopicsResponse::default();
    // v0-5 name topics in topic_names; v6 in topics (by name or id).
    let mut targets: Vec<(Option<String>, uuid::Uuid)> = req
        .topic_names
        .iter()
        .map(|n| (Some(n.0.to_string()), uuid::Uuid::nil()))
        .collect();
    if version >= 6 {
        targets.extend(
            req.topics
                .iter()
                .map(|t| (t.name.as_ref().map(|n| n.0.to_string()), t.topic_id)),
        );
    }
    for (name, id) in targets {
        let mut result = DeletableTopicResult::default();
        result.topic_id = id;
        let live = match &name {
            Some(n) => broker.topics.get(n),
            None => broker.topics.get_by_id(id),
        };
        result.name = name.clone().map(topic_name);
        let Some(live) = live else {
            let error = if name.is_some() {
                ResponseError::UnknownTopicOrPartition
            } else {
                ResponseError::UnknownTopicId
            };
            result.error_code = error.code();
            result.error_message = Some(str_bytes(error.to_string()));
            resp.responses.push(result);
            continue;
        };
        result.name = Some(topic_name(live.name.clone()));
        result.topic_id = live.id;
        let b = broker.clone();
        let topic = live.name.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            b.store
                .delete_topic(&topic)
                .map_err(|e| errors::metadata_failure(&e))?;
            b.topics.delete(&topic).map_err(|e| errors::log_failure(&e))
        })
        .await
        .unwrap_or_else(|e| Err((ResponseError::UnknownServerError, e.to_string())));
        match outcome {
            Ok(()) => {
                if let Some(engine) = broker.links.get() {
                    engine.topic_deleted(&live.name);
                }
                tracing::info!("deleted topic {}", live.name)
            }
            Err((code, message)) => {
                result.error_code = code.code();
                result.error_message = Some(str_bytes(message));
            }
        }
        resp.responses.push(result);
    }
    resp
}

pub async fn create_partitions(
    broker: &Arc<Broker>,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let _guard = broker.admin.lock().await;
    let mut resp = CreatePartitionsResponse::default();
    let mut budget = PartitionBudget::default();
    for topic in req.topics {
        let name = topic.name.0.to_string();
        let mut result = CreatePartitionsTopicResult::default();
        result.name = topic.name.clone();
        let outcome = grow(
            broker,
            &name,
            topic.count,
            topic.assignments.as_deref(),
            req.validate_only,
            &mut budget,
        )
        .await;
        if let Err((code, message)) = outcome {
            result.error_code = code.code();
            result.error_message = Some(str_bytes(message));
        }
        resp.results.push(result);
    }
    resp
}

async fn grow(
    broker: &Arc<Broker>,
    name: &str,
    count: i32,
    assignments: Option<
        &[kafka_protocol::messages::create_partitions_request::CreatePartitionsAssignment],
    >,
    validate_only: bool,
    budget: &mut PartitionBudget,
) -> Result<(), Failure> {
    let Some(mut record) = broker.store.topic(name) else {
        return Err((
            ResponseError::UnknownTopicOrPartition,
            format!("The topic '{name}' does not exist."),
        ));
    };
    let current = record.partitions as i32;
    if broker.is_read_only_mirror(name) && count > current {
        return Err((
            ResponseError::InvalidPartitions,
            format!(
                "Cannot set '{count}' partitions for topic '{name}', exceeds linked topic's '{current}' partitions."
            ),
        ));
    }
    if count < current {
        return Err((
            ResponseError::InvalidPartitions,
            format!(
                "Topic currently has {current} partitions, which is higher than the requested {count}."
            ),
        ));
    }
    if count == current {
        return Err((
            ResponseError::InvalidPartitions,
            format!("Topic already has {current} partitions."),
        ));
    }
    if let Some(list) = assignments {
        if list.len() as i32 != count - current {
            return Err((
                ResponseError::InvalidReplicaAssignment,
                format!(
                    "Increasing the number of partitions by {} but {} assignments provided.",
                    count - current,
                    list.len()
                ),
            ));
        }
        let ids: Vec<Vec<i32>> = list
            .iter()
            .map(|a| a.broker_ids.iter().map(|b| b.0).collect())
            .collect();
        check_assignments(broker, ids.iter().map(Vec::as_slice))?;
    }
    if !budget.charge((count - current) as u64) {
        return Err((ResponseError::PolicyViolation, TOO_MANY_PARTITIONS.into()));
    }
    if validate_only {
        return Ok(());
    }
    let before = record.clone();
    record.partitions = count as u32;
    let b = broker.clone();
    tokio::task::spawn_blocking(move || {
        b.store
            .update_topic(record.clone())
            .map_err(|e| errors::metadata_failure(&e))?;
        let config = b.log_config(&record);
        if let Err(e) = b.topics.grow(&record, &config) {
            // The new partitions' directories are gone again: so must they be
            // from the metadata.
            tracing::error!("adding partitions to {} failed: {e}", record.name);
            if let Err(m) = b.store.update_topic(before) {
                tracing::error!(
                    "restoring the partition count of {} failed: {m}",
                    record.name
                );
            }
            return Err(errors::log_failure(&e));
        }
        Ok(())
    })
    .await
    .unwrap_or_else(|e| Err((ResponseError::UnknownServerError, e.to_string())))?;
    tracing::info!("topic {name} now has {count} partitions");
    Ok(())
}
