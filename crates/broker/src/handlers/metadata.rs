//! Metadata: brokers, the cluster id and topic/partition leadership (always
//! this node). Auto-creates topics when the broker and request allow it.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};

use super::{str_bytes, topic_name, validate_topic_name};
use crate::handlers::topics::create_topic_record;
use crate::server::ConnectionContext;
use crate::state::Broker;
use crate::topic_table::{LiveTopic, Partition};

const NO_OPERATIONS: i32 = i32::MIN;

pub async fn handle(
    broker: &Arc<Broker>,
    req: MetadataRequest,
    version: i16,
    ctx: &ConnectionContext,
) -> MetadataResponse {
    let mut resp = MetadataResponse::default();
    let (host, port) = broker.endpoint_for(&ctx.listener);
    let mut b = MetadataResponseBroker::default();
    b.node_id = BrokerId(broker.node_id());
    b.host = str_bytes(host);
    b.port = port;
    resp.brokers = vec![b];
    resp.cluster_id = Some(str_bytes(broker.cluster_id()));
    resp.controller_id = BrokerId(broker.node_id());
    resp.cluster_authorized_operations = NO_OPERATIONS;

    let include_operations = version >= 8 && req.include_topic_authorized_operations;
    // v0: an empty list means all topics; v1+: null means all.
    let requested = match req.topics {
        None => None,
        Some(list) if list.is_empty() && version == 0 => None,
        Some(list) => Some(list),
    };
    let auto_create =
        broker.config.auto_create_topics_enable && (version < 4 || req.allow_auto_topic_creation);
    match requested {
        None => {
            let mut all = broker.topics.all();
            all.sort_by(|a, b| a.name.cmp(&b.name));
            resp.topics = all
                .iter()
                .map(|t| describe(broker, t, include_operations))
                .collect();
        }
        Some(list) => {
            for wanted in list {
                let topic = match &wanted.name {
                    Some(name) => lookup_or_create(broker, name.0.as_str(), auto_create).await,
                    None => match broker.topics.get_by_id(wanted.topic_id) {
                        Some(t) => Ok(t),
                        None => Err((ResponseError::UnknownTopicId, String::new())),
                    },
                };
                resp.topics.push(match topic {
                    Ok(t) => describe(broker, &t, include_operations),
                    Err((error, name)) => {
                        let mut t = MetadataResponseTopic::default();
                        t.error_code = error.code();
                        t.name = wanted.name.clone().or(Some(topic_name(name)));
                        t.topic_id = wanted.topic_id;
                        t.topic_authorized_operations = NO_OPERATIONS;
                        t
                    }
                });
            }
        }
    }
    resp
}

async fn lookup_or_create(
    broker: &Arc<Broker>,
    name: &str,
    auto_create: bool,
) -> Result<Arc<LiveTopic>, (ResponseError, String)> {
    if let Some(t) = broker.topics.get(name) {
        return Ok(t);
    }
    if validate_topic_name(name).is_err() {
        return Err((ResponseError::InvalidTopicException, name.to_string()));
    }
    if !auto_create {
        return Err((ResponseError::UnknownTopicOrPartition, name.to_string()));
    }
    let _guard = broker.admin.lock().await;
    if let Some(t) = broker.topics.get(name) {
        return Ok(t);
    }
    let record = create_topic_record(
        name,
        broker.config.num_partitions as u32,
        broker.config.default_replication_factor,
        Default::default(),
    );
    match crate::handlers::topics::persist_new_topic(broker, record).await {
        Ok(()) => broker
            .topics
            .get(name)
            .ok_or((ResponseError::LeaderNotAvailable, name.to_string())),
        Err((e, _)) => Err((e, name.to_string())),
    }
}

fn describe(broker: &Broker, topic: &LiveTopic, include_operations: bool) -> MetadataResponseTopic {
    let mut t = MetadataResponseTopic::default();
    t.name = Some(topic_name(topic.name.clone()));
    t.topic_id = topic.id;
    t.is_internal = is_internal(&topic.name);
    t.topic_authorized_operations = if include_operations {
        all_topic_operations()
    } else {
        NO_OPERATIONS
    };
    t.partitions = topic
        .partitions
        .iter()
        .map(|p| {
            let place = placement(broker, p);
            let mut mp = MetadataResponsePartition::default();
            mp.partition_index = p.index;
            mp.leader_id = place.leader;
            mp.leader_epoch = place.leader_epoch;
            mp.replica_nodes = place.replicas;
            mp.isr_nodes = place.isr;
            mp.offline_replicas = place.offline;
            mp
        })
        .collect();
    t
}

/// Where a partition lives and who leads it, as Metadata and
/// DescribeTopicPartitions report it.
pub(super) struct Placement {
    pub leader: BrokerId,
    pub leader_epoch: i32,
    pub replicas: Vec<BrokerId>,
    pub isr: Vec<BrokerId>,
    pub offline: Vec<BrokerId>,
}

/// The placement of `partition`: on a single node, this node leads every
/// partition, at the partition's leader epoch, and is its only replica, always
/// in sync.
pub(super) fn placement(broker: &Broker, partition: &Partition) -> Placement {
    let node = BrokerId(broker.node_id());
    Placement {
        leader: node,
        leader_epoch: partition.log.leader_epoch(),
        replicas: vec![node],
        isr: vec![node],
        offline: Vec::new(),
    }
}

/// Kafka's internal topics (`Topic.isInternal`).
pub(super) fn is_internal(name: &str) -> bool {
    matches!(name, "__consumer_offsets" | "__transaction_state")
}

/// Every operation a topic supports, as a bit field: what Kafka reports as a
/// topic's authorized operations when no authorizer is configured (the gate
/// narrows it to the session's when one is).
pub(super) fn all_topic_operations() -> i32 {
    use crate::authz::acl;
    acl::operation_bits(acl::supported_operations(
        strait_metadata::AclResourceType::Topic,
    ))
}
