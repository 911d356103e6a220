//! Topic and broker configs: list, get, set (`PUT`), reset (`DELETE`) and
//! `configs:alter`, through DescribeConfigs and IncrementalAlterConfigs.
//! Must never show a sensitive value.

use axum::Json;
use axum::http::StatusCode;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use kafka_protocol::protocol::StrBytes;
use serde::Serialize;
use strait_client::admin::configs::ConfigSource;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, PathOf, expect_response};
use crate::caller::RestCall;
use crate::envelope::{
    AlterConfigBatch, AlterOperation, ConfigChange, ConfigUpdate, ListMetadata, ResourceMetadata,
    crn, list_type,
};
use crate::error::ErrorBody;
use crate::{AppState, RestError};

const TOPIC: i8 = 2;
const BROKER: i8 = 4;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConfigSynonymData {
    pub name: String,
    pub value: Option<String>,
    pub source: String,
}

/// What topic and broker configs share: the config itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConfigFields {
    pub name: String,
    pub value: Option<String>,
    pub is_default: bool,
    pub is_read_only: bool,
    pub is_sensitive: bool,
    pub source: String,
    pub synonyms: Vec<ConfigSynonymData>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TopicConfigData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub cluster_id: String,
    pub topic_name: String,
    #[serde(flatten)]
    pub config: ConfigFields,
}
list_type!(TopicConfigDataList, TopicConfigData);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrokerConfigData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub cluster_id: String,
    pub broker_id: i32,
    #[serde(flatten)]
    pub config: ConfigFields,
}
list_type!(BrokerConfigDataList, BrokerConfigData);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_topic_configs))
        .routes(routes!(
            get_topic_config,
            set_topic_config,
            reset_topic_config
        ))
        .routes(routes!(alter_topic_configs))
        .routes(routes!(list_broker_configs))
        .routes(routes!(
            get_broker_config,
            set_broker_config,
            reset_broker_config
        ))
        .routes(routes!(alter_broker_configs))
}

/// Whose configs a route serves.
enum Owner {
    Topic(String),
    Broker(i32),
}

impl Owner {
    /// The config resource type and name on the wire.
    fn resource(&self) -> (i8, String) {
        match self {
            Owner::Topic(t) => (TOPIC, t.clone()),
            Owner::Broker(b) => (BROKER, b.to_string()),
        }
    }

    /// 404 for a topic or broker that does not exist, before its configs
    /// are touched.
    async fn check(&self, rc: &RestCall) -> Result<(), RestError> {
        match self {
            Owner::Topic(t) => super::topics::topic_metadata(rc, t, false)
                .await
                .map(|_| ()),
            Owner::Broker(b) if *b == rc.broker.node_id() => Ok(()),
            Owner::Broker(b) => Err(RestError::not_found(format!("Broker {b} cannot be found."))),
        }
    }
}

/// The configs of `owner`: every one, or only `key`.
async fn describe(
    rc: &RestCall,
    owner: &Owner,
    key: Option<&str>,
) -> Result<Vec<ConfigFields>, RestError> {
    owner.check(rc).await?;
    let (kind, name) = owner.resource();
    let mut resource = DescribeConfigsResource::default();
    resource.resource_type = kind;
    resource.resource_name = StrBytes::from_string(name);
    resource.configuration_keys = key.map(|k| vec![StrBytes::from_string(k.to_string())]);
    let mut req = DescribeConfigsRequest::default();
    req.resources = vec![resource];
    req.include_synonyms = true;
    let resp = expect_response!(rc.kafka(req, 4).await?, DescribeConfigs);
    let result: DescribeConfigsResult = resp
        .results
        .into_iter()
        .next()
        .ok_or_else(|| RestError::internal("no result for the resource"))?;
    if result.error_code != 0 {
        return Err(RestError::kafka(
            result.error_code,
            result.error_message.as_deref(),
        ));
    }
    let mut out: Vec<ConfigFields> = result
        .configs
        .into_iter()
        .map(|c| {
            let sensitive = c.is_sensitive;
            ConfigFields {
                name: c.name.to_string(),
                value: if sensitive {
                    None
                } else {
                    c.value.map(|v| v.to_string())
                },
                is_default: ConfigSource::from_code(c.config_source) == ConfigSource::DefaultConfig,
                is_read_only: c.read_only,
                is_sensitive: sensitive,
                source: ConfigSource::from_code(c.config_source).name().to_string(),
                synonyms: c
                    .synonyms
                    .into_iter()
                    .map(|s| ConfigSynonymData {
                        name: s.name.to_string(),
                        value: if sensitive {
                            None
                        } else {
                            s.value.map(|v| v.to_string())
                        },
                        source: ConfigSource::from_code(s.source).name().to_string(),
                    })
                    .collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Config `name` of `owner`, or a 404.
async fn describe_one(rc: &RestCall, owner: &Owner, name: &str) -> Result<ConfigFields, RestError> {
    describe(rc, owner, Some(name))
        .await?
        .into_iter()
        .find(|e| e.name == name)
        .ok_or_else(|| {
            let what = match owner {
                Owner::Topic(t) => format!("topic {t}"),
                Owner::Broker(b) => format!("broker {b}"),
            };
            RestError::new(
                StatusCode::NOT_FOUND,
                40403,
                format!("Config {name} cannot be found for {what}."),
            )
        })
}

async fn alter(
    rc: &RestCall,
    owner: &Owner,
    changes: Vec<ConfigChange>,
    validate_only: bool,
) -> Result<StatusCode, RestError> {
    owner.check(rc).await?;
    let (kind, name) = owner.resource();
    let mut resource = AlterConfigsResource::default();
    resource.resource_type = kind;
    resource.resource_name = StrBytes::from_string(name);
    for (config, op, value) in changes {
        if op == AlterOperation::Set && value.is_none() {
            return Err(RestError::bad_request(format!(
                "Config '{config}' is set without a value."
            )));
        }
        let mut c = AlterableConfig::default();
        c.name = StrBytes::from_string(config);
        c.config_operation = match op {
            AlterOperation::Set => 0,
            AlterOperation::Delete => 1,
        };
        c.value = value.map(StrBytes::from_string);
        resource.configs.push(c);
    }
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources = vec![resource];
    req.validate_only = validate_only;
    let resp = expect_response!(rc.kafka(req, 1).await?, IncrementalAlterConfigs);
    match resp.responses.first() {
        Some(r) if r.error_code != 0 => {
            Err(RestError::kafka(r.error_code, r.error_message.as_deref()))
        }
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(RestError::internal("no result for the resource")),
    }
}

fn topic_config(rc: &RestCall, topic: &str, e: ConfigFields) -> TopicConfigData {
    let id = rc.cluster_id.clone();
    TopicConfigData {
        kind: "KafkaTopicConfig".into(),
        metadata: ResourceMetadata {
            self_url: format!("{}/topics/{topic}/configs/{}", rc.cluster_url, e.name),
            resource_name: Some(crn(&id, &[("topic", topic), ("config", &e.name)])),
        },
        cluster_id: id,
        topic_name: topic.to_string(),
        config: e,
    }
}

fn broker_config(rc: &RestCall, broker: i32, e: ConfigFields) -> BrokerConfigData {
    let id = rc.cluster_id.clone();
    BrokerConfigData {
        kind: "KafkaBrokerConfig".into(),
        metadata: ResourceMetadata {
            self_url: format!("{}/brokers/{broker}/configs/{}", rc.cluster_url, e.name),
            resource_name: Some(crn(
                &id,
                &[("broker", &broker.to_string()), ("config", &e.name)],
            )),
        },
        cluster_id: id,
        broker_id: broker,
        config: e,
    }
}

// ----- topics -------------------------------------------------------------------

#[utoipa::path(get, path = "/clusters/{cluster_id}/topics/{topic_name}/configs", tag = "Configs",
    params(("cluster_id" = String, Path), ("topic_name" = String, Path)),
    responses((status = 200, body = TopicConfigDataList), (status = 404, body = ErrorBody)))]
async fn list_topic_configs(
    rc: RestCall,
    PathOf((cluster_id, topic)): PathOf<(String, String)>,
) -> Result<Json<TopicConfigDataList>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let entries = describe(&rc, &Owner::Topic(topic.clone()), None).await?;
    Ok(Json(TopicConfigDataList {
        kind: "KafkaTopicConfigList".into(),
        metadata: ListMetadata::of(format!("{}/topics/{topic}/configs", rc.cluster_url)),
        data: entries
            .into_iter()
            .map(|e| topic_config(&rc, &topic, e))
            .collect(),
    }))
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/topics/{topic_name}/configs/{name}",
    tag = "Configs",
    params(("cluster_id" = String, Path), ("topic_name" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = TopicConfigData), (status = 404, body = ErrorBody)))]
async fn get_topic_config(
    rc: RestCall,
    PathOf((cluster_id, topic, name)): PathOf<(String, String, String)>,
) -> Result<Json<TopicConfigData>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let e = describe_one(&rc, &Owner::Topic(topic.clone()), &name).await?;
    Ok(Json(topic_config(&rc, &topic, e)))
}

#[utoipa::path(put, path = "/clusters/{cluster_id}/topics/{topic_name}/configs/{name}",
    tag = "Configs",
    params(("cluster_id" = String, Path), ("topic_name" = String, Path), ("name" = String, Path)),
    request_body = ConfigUpdate,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_topic_config(
    rc: RestCall,
    PathOf((cluster_id, topic, name)): PathOf<(String, String, String)>,
    Body(body): Body<ConfigUpdate>,
) -> Result<StatusCode, RestError> {
    rc.check_cluster(&cluster_id)?;
    let changes = vec![(name, AlterOperation::Set, body.value)];
    alter(&rc, &Owner::Topic(topic), changes, false).await
}

#[utoipa::path(delete, path = "/clusters/{cluster_id}/topics/{topic_name}/configs/{name}",
    tag = "Configs",
    params(("cluster_id" = String, Path), ("topic_name" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn reset_topic_config(
    rc: RestCall,
    PathOf((cluster_id, topic, name)): PathOf<(String, String, String)>,
) -> Result<StatusCode, RestError> {
    rc.check_cluster(&cluster_id)?;
    let changes = vec![(name, AlterOperation::Delete, None)];
    alter(&rc, &Owner::Topic(topic), changes, false).await
}

#[utoipa::path(post, path = "/clusters/{cluster_id}/topics/{topic_name}/configs:alter",
    tag = "Configs",
    params(("cluster_id" = String, Path), ("topic_name" = String, Path)),
    request_body = AlterConfigBatch,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn alter_topic_configs(
    rc: RestCall,
    PathOf((cluster_id, topic)): PathOf<(String, String)>,
    Body(body): Body<AlterConfigBatch>,
) -> Result<StatusCode, RestError> {
    rc.check_cluster(&cluster_id)?;
    let (changes, validate_only) = body.into_changes();
    alter(&rc, &Owner::Topic(topic), changes, validate_only).await
}

// ----- brokers ------------------------------------------------------------------

#[utoipa::path(get, path = "/clusters/{cluster_id}/brokers/{broker_id}/configs", tag = "Configs",
    params(("cluster_id" = String, Path), ("broker_id" = i32, Path)),
    responses((status = 200, body = BrokerConfigDataList), (status = 404, body = ErrorBody)))]
async fn list_broker_configs(
    rc: RestCall,
    PathOf((cluster_id, broker)): PathOf<(String, i32)>,
) -> Result<Json<BrokerConfigDataList>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let entries = describe(&rc, &Owner::Broker(broker), None).await?;
    Ok(Json(BrokerConfigDataList {
        kind: "KafkaBrokerConfigList".into(),
        metadata: ListMetadata::of(format!("{}/brokers/{broker}/configs", rc.cluster_url)),
        data: entries
            .into_iter()
            .map(|e| broker_config(&rc, broker, e))
            .collect(),
    }))
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/brokers/{broker_id}/configs/{name}",
    tag = "Configs",
    params(("cluster_id" = String, Path), ("broker_id" = i32, Path), ("name" = String, Path)),
    responses((status = 200, body = BrokerConfigData), (status = 404, body = ErrorBody)))]
async fn get_broker_config(
    rc: RestCall,
    PathOf((cluster_id, broker, name)): PathOf<(String, i32, String)>,
) -> Result<Json<BrokerConfigData>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let e = describe_one(&rc, &Owner::Broker(broker), &name).await?;
    Ok(Json(broker_config(&rc, broker, e)))
}

#[utoipa::path(put, path = "/clusters/{cluster_id}/brokers/{broker_id}/configs/{name}",
    tag = "Configs",
    params(("cluster_id" = String, Path), ("broker_id" = i32, Path), ("name" = String, Path)),
    request_body = ConfigUpdate,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_broker_config(
    rc: RestCall,
    PathOf((cluster_id, broker, name)): PathOf<(String, i32, String)>,
    Body(body): Body<ConfigUpdate>,
) -> Result<StatusCode, RestError> {
    rc.check_cluster(&cluster_id)?;
    let changes = vec![(name, AlterOperation::Set, body.value)];
    alter(&rc, &Owner::Broker(broker), changes, false).await
}

#[utoipa::path(delete, path = "/clusters/{cluster_id}/brokers/{broker_id}/configs/{name}",
    tag = "Configs",
    params(("cluster_id" = String, Path), ("broker_id" = i32, Path), ("name" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn reset_broker_config(
    rc: RestCall,
    PathOf((cluster_id, broker, name)): PathOf<(String, i32, String)>,
) -> Result<StatusCode, RestError> {
    rc.check_cluster(&cluster_id)?;
    let changes = vec![(name, AlterOperation::Delete, None)];
    alter(&rc, &Owner::Broker(broker), changes, false).await
}

#[utoipa::path(post, path = "/clusters/{cluster_id}/brokers/{broker_id}/configs:alter",
    tag = "Configs",
    params(("cluster_id" = String, Path), ("broker_id" = i32, Path)),
    request_body = AlterConfigBatch,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn alter_broker_configs(
    rc: RestCall,
    PathOf((cluster_id, broker)): PathOf<(String, i32)>,
    Body(body): Body<AlterConfigBatch>,
) -> Result<StatusCode, RestError> {
    rc.check_cluster(&cluster_id)?;
    let (changes, validate_only) = body.into_changes();
    alter(&rc, &Owner::Broker(broker), changes, validate_only).await
}
