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
use crate::topic_table::LiveTopic;

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
            resp.topics = all.iter().map(|t| describe(broker, t)).collect();
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
                    Ok(t) => describe(broker, &t),
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

fn describe(broker: &Broker, topic: &LiveTopic) -> MetadataResponseTopic {
    let node = BrokerId(broker.node_id());
    let mut t = MetadataResponseTopic::default();
    t.name = Some(topic_name(topic.name.clone()));
    t.topic_id = topic.id;
    t.is_internal = topic.name.starts_with("__");
    t.topic_authorized_operations = NO_OPERATIONS;
    t.partitions = topic
        .partitions
        .iter()
        .map(|p| {
            let mut mp = MetadataResponsePartition::default();
            mp.partition_index = p.index;
            mp.leader_id = node;
            mp.leader_epoch = 0;
            mp.replica_nodes = vec![node];
            mp.isr_nodes = vec![node];
            mp
        })
        .collect();
    t
}
