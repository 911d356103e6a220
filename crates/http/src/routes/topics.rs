//! `/clusters/{id}/topics` and their partitions: list, create, get and
//! delete topics (Metadata, CreateTopics, DeleteTopics) and describe
//! partitions. Must never create a topic on a read.

use axum::Json;
use axum::http::StatusCode;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::{
    MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    CreateTopicsRequest, DeleteTopicsRequest, MetadataRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use serde::{Deserialize, Serialize};
use strait_client::admin::acls::AclOperation;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, PathOf, expect_response, flag};
use crate::caller::RestCall;
use crate::envelope::{ConfigValue, ListMetadata, Related, ResourceMetadata, crn, list_type};
use crate::error::ErrorBody;
use crate::{AppState, RestError};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TopicData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub cluster_id: String,
    pub topic_name: String,
    pub is_internal: bool,
    pub replication_factor: i32,
    pub partitions_count: i32,
    pub partitions: Related,
    pub configs: Related,
    pub partition_reassignments: Related,
    pub authorized_operations: Vec<String>,
}
list_type!(TopicDataList, TopicData);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PartitionData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub cluster_id: String,
    pub topic_name: String,
    pub partition_id: i32,
    pub leader: Option<Related>,
    pub replicas: Related,
    pub reassignment: Related,
}
list_type!(PartitionDataList, PartitionData);

/// The body of `POST /topics`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateTopicRequestData {
    pub topic_name: String,
    #[serde(default)]
    pub partitions_count: Option<i32>,
    #[serde(default)]
    pub replication_factor: Option<i16>,
    #[serde(default)]
    pub configs: Vec<ConfigValue>,
    #[serde(default)]
    pub validate_only: Option<bool>,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_topics, create_topic))
        .routes(routes!(get_topic, delete_topic))
        .routes(routes!(list_partitions))
        .routes(routes!(get_partition))
}

/// Metadata of `names` (every topic when `None`), never auto-creating; with
/// each topic's authorized operations when `with_operations`.
async fn metadata(
    rc: &RestCall,
    names: Option<&[&str]>,
    with_operations: bool,
) -> Result<Vec<MetadataResponseTopic>, RestError> {
    let mut req = MetadataRequest::default();
    req.topics = names.map(|names| {
        names
            .iter()
            .map(|n| {
                let mut t = MetadataRequestTopic::default();
                t.name = Some(TopicName(StrBytes::from_string(n.to_string())));
                t
            })
            .collect()
    });
    req.allow_auto_topic_creation = false;
    req.include_topic_authorized_operations = with_operations;
    let resp = expect_response!(rc.kafka(req, 12).await?, Metadata);
    Ok(resp.topics)
}

/// One topic's metadata, or its error as a REST error.
pub async fn topic_metadata(
    rc: &RestCall,
    name: &str,
    with_operations: bool,
) -> Result<MetadataResponseTopic, RestError> {
    let mut topics = metadata(rc, Some(&[name]), with_operations).await?;
    let t = topics
        .pop()
        .ok_or_else(|| RestError::internal("no metadata for the topic"))?;
    if t.error_code != 0 {
        return Err(RestError::kafka(t.error_code, None));
    }
    Ok(t)
}

/// The operations of an authorized-operations bit field, by Kafka's names.
fn operations(bits: i32) -> Vec<String> {
    if bits == i32::MIN {
        return Vec::new();
    }
    AclOperation::ALL
        .iter()
        .filter(|op| bits & (1 << op.code()) != 0)
        .map(|op| op.name().to_string())
        .collect()
}

fn topic_url(rc: &RestCall, name: &str) -> String {
    format!("{}/topics/{name}", rc.cluster_url)
}

fn topic_data(
    rc: &RestCall,
    name: &str,
    is_internal: bool,
    partitions: i32,
    replication_factor: i32,
    ops: Vec<String>,
) -> TopicData {
    let id = rc.cluster_id.clone();
    let url = topic_url(rc, name);
    TopicData {
        kind: "KafkaTopic".into(),
        metadata: ResourceMetadata {
            self_url: url.clone(),
            resource_name: Some(crn(&id, &[("topic", name)])),
        },
        cluster_id: id,
        topic_name: name.to_string(),
        is_internal,
        replication_factor,
        partitions_count: partitions,
        partitions: Related::to(format!("{url}/partitions")),
        configs: Related::to(format!("{url}/configs")),
        partition_reassignments: Related::to(format!("{url}/partitions/-/reassignment")),
        authorized_operations: ops,
    }
}

fn from_metadata(rc: &RestCall, t: &MetadataResponseTopic) -> Option<TopicData> {
    let name = t.name.as_ref()?.0.to_string();
    let rf = t
        .partitions
        .first()
        .map_or(0, |p| p.replica_nodes.len() as i32);
    Some(topic_data(
        rc,
        &name,
        t.is_internal,
        t.partitions.len() as i32,
        rf,
        operations(t.topic_authorized_operations),
    ))
}

fn partition_data(rc: &RestCall, topic: &str, p: &MetadataResponsePartition) -> PartitionData {
    let id = rc.cluster_id.clone();
    let url = format!("{}/partitions/{}", topic_url(rc, topic), p.partition_index);
    PartitionData {
        kind: "KafkaPartition".into(),
        metadata: ResourceMetadata {
            self_url: url.clone(),
            resource_name: Some(crn(
                &id,
                &[
                    ("topic", topic),
                    ("partition", &p.partition_index.to_string()),
                ],
            )),
        },
        cluster_id: id,
        topic_name: topic.to_string(),
        partition_id: p.partition_index,
        leader: (p.leader_id.0 >= 0)
            .then(|| Related::to(format!("{url}/replicas/{}", p.leader_id.0))),
        replicas: Related::to(format!("{url}/replicas")),
        reassignment: Related::to(format!("{url}/reassignment")),
    }
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/topics", tag = "Topic",
    params(("cluster_id" = String, Path)),
    responses((status = 200, body = TopicDataList), (status = 404, body = ErrorBody)))]
async fn list_topics(
    rc: RestCall,
    PathOf(cluster_id): PathOf<String>,
) -> Result<Json<TopicDataList>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let topics = metadata(&rc, None, true).await?;
    let mut data: Vec<TopicData> = topics
        .iter()
        .filter(|t| t.error_code == 0)
        .filter_map(|t| from_metadata(&rc, t))
        .collect();
    data.sort_by(|a, b| a.topic_name.cmp(&b.topic_name));
    Ok(Json(TopicDataList {
        kind: "KafkaTopicList".into(),
        metadata: ListMetadata::of(format!("{}/topics", rc.cluster_url)),
        data,
    }))
}

#[utoipa::path(post, path = "/clusters/{cluster_id}/topics", tag = "Topic",
    params(("cluster_id" = String, Path)),
    request_body = CreateTopicRequestData,
    responses((status = 201, body = TopicData), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_topic(
    rc: RestCall,
    PathOf(cluster_id): PathOf<String>,
    Body(body): Body<CreateTopicRequestData>,
) -> Result<(StatusCode, Json<TopicData>), RestError> {
    rc.check_cluster(&cluster_id)?;
    let mut topic = CreatableTopic::default();
    topic.name = TopicName(StrBytes::from_string(body.topic_name.clone()));
    topic.num_partitions = body.partitions_count.unwrap_or(-1);
    topic.replication_factor = body.replication_factor.unwrap_or(-1);
    for c in &body.configs {
        let mut config = CreatableTopicConfig::default();
        config.name = StrBytes::from_string(c.name.clone());
        config.value = c.value.clone().map(StrBytes::from_string);
        topic.configs.push(config);
    }
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![topic];
    req.timeout_ms = 30_000;
    req.validate_only = flag(body.validate_only);
    let resp = expect_response!(rc.kafka(req, 7).await?, CreateTopics);
    let result = resp
        .topics
        .into_iter()
        .next()
        .ok_or_else(|| RestError::internal("no result for the topic"))?;
    if result.error_code != 0 {
        return Err(RestError::kafka(
            result.error_code,
            result.error_message.as_deref(),
        ));
    }
    let data = topic_data(
        &rc,
        &body.topic_name,
        false,
        result.num_partitions,
        i32::from(result.replication_factor),
        Vec::new(),
    );
    Ok((StatusCode::CREATED, Json(data)))
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/topics/{topic_name}", tag = "Topic",
    params(("cluster_id" = String, Path), ("topic_name" = String, Path)),
    responses((status = 200, body = TopicData), (status = 404, body = ErrorBody)))]
async fn get_topic(
    rc: RestCall,
    PathOf((cluster_id, topic_name)): PathOf<(String, String)>,
) -> Result<Json<TopicData>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let t = topic_metadata(&rc, &topic_name, true).await?;
    from_metadata(&rc, &t)
        .map(Json)
        .ok_or_else(|| RestError::internal("topic without a name"))
}

#[utoipa::path(delete, path = "/clusters/{cluster_id}/topics/{topic_name}", tag = "Topic",
    params(("cluster_id" = String, Path), ("topic_name" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_topic(
    rc: RestCall,
    PathOf((cluster_id, topic_name)): PathOf<(String, String)>,
) -> Result<StatusCode, RestError> {
    rc.check_cluster(&cluster_id)?;
    let mut state = DeleteTopicState::default();
    state.name = Some(TopicName(StrBytes::from_string(topic_name)));
    let mut req = DeleteTopicsRequest::default();
    req.topics = vec![state];
    req.timeout_ms = 30_000;
    let resp = expect_response!(rc.kafka(req, 6).await?, DeleteTopics);
    match resp.responses.first() {
        Some(r) if r.error_code != 0 => {
            Err(RestError::kafka(r.error_code, r.error_message.as_deref()))
        }
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(RestError::internal("no result for the topic")),
    }
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/topics/{topic_name}/partitions", tag = "Partition",
    params(("cluster_id" = String, Path), ("topic_name" = String, Path)),
    responses((status = 200, body = PartitionDataList), (status = 404, body = ErrorBody)))]
async fn list_partitions(
    rc: RestCall,
    PathOf((cluster_id, topic_name)): PathOf<(String, String)>,
) -> Result<Json<PartitionDataList>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let t = topic_metadata(&rc, &topic_name, false).await?;
    let mut parts: Vec<&MetadataResponsePartition> = t.partitions.iter().collect();
    parts.sort_by_key(|p| p.partition_index);
    Ok(Json(PartitionDataList {
        kind: "KafkaPartitionList".into(),
        metadata: ListMetadata::of(format!("{}/partitions", topic_url(&rc, &topic_name))),
        data: parts
            .into_iter()
            .map(|p| partition_data(&rc, &topic_name, p))
            .collect(),
    }))
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/topics/{topic_name}/partitions/{partition_id}",
    tag = "Partition",
    params(("cluster_id" = String, Path), ("topic_name" = String, Path), ("partition_id" = i32, Path)),
    responses((status = 200, body = PartitionData), (status = 404, body = ErrorBody)))]
async fn get_partition(
    rc: RestCall,
    PathOf((cluster_id, topic_name, partition_id)): PathOf<(String, String, i32)>,
) -> Result<Json<PartitionData>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let t = topic_metadata(&rc, &topic_name, false).await?;
    t.partitions
        .iter()
        .find(|p| p.partition_index == partition_id)
        .map(|p| Json(partition_data(&rc, &topic_name, p)))
        .ok_or_else(|| RestError::kafka(3, None))
}
