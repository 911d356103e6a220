//! `/clusters/{id}/links`: create, list, get and delete cluster links and
//! manage their configs, through the same admin requests the
//! `kafka-cluster-links` and `kafka-configs --cluster-link` tools send.
//! Must never return a sensitive config value.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::StatusCode;
use base64::Engine;
use serde::{Deserialize, Serialize};
use strait_protocol::admin::{
    AdminRequest, AlterClusterLinkConfigsRequest, ClusterLinkListing, CreateClusterLinkRequest,
    DeleteClusterLinkRequest, DescribeClusterLinkConfigsRequest, LinkConfigEntry,
    ListClusterLinksRequest,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, Params, PathOf, ValidateOnlyQuery, config_map, expect_admin, flag};
use crate::caller::RestCall;
use crate::envelope::{
    AlterConfigBatch, AlterOperation, ConfigChange, ConfigUpdate, ConfigValue, ListMetadata,
    ResourceMetadata, crn, list_type,
};
use crate::error::ErrorBody;
use crate::{AppState, RestError};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkTaskError {
    pub error_code: String,
    pub error_message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkTask {
    pub task_name: String,
    pub state: String,
    pub errors: Vec<LinkTaskError>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub source_cluster_id: Option<String>,
    pub destination_cluster_id: Option<String>,
    pub remote_cluster_id: Option<String>,
    pub link_name: String,
    /// Deprecated by Confluent in favour of `cluster_link_id`: the dashed UUID.
    pub link_id: String,
    /// The link id in Kafka's base64 form.
    pub cluster_link_id: String,
    pub topic_names: Vec<String>,
    pub link_state: String,
    pub link_error: String,
    pub link_error_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<LinkTask>>,
}
list_type!(LinkDataList, LinkData);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkConfigData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub cluster_id: String,
    pub link_name: String,
    pub name: String,
    pub value: Option<String>,
    pub default: bool,
    pub read_only: bool,
    pub sensitive: bool,
    pub source: String,
    pub synonyms: Vec<String>,
}
list_type!(LinkConfigDataList, LinkConfigData);

/// The body of `POST /links`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CreateLinkRequestData {
    #[serde(default)]
    pub source_cluster_id: Option<String>,
    #[serde(default)]
    pub destination_cluster_id: Option<String>,
    #[serde(default)]
    pub remote_cluster_id: Option<String>,
    #[serde(default)]
    pub cluster_link_id: Option<String>,
    #[serde(default)]
    pub configs: Vec<ConfigValue>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CreateLinkQuery {
    pub link_name: Option<String>,
    pub validate_only: Option<bool>,
    pub validate_link: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct GetLinkQuery {
    pub include_tasks: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DeleteLinkQuery {
    pub force: Option<bool>,
    pub validate_only: Option<bool>,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_links, create_link))
        .routes(routes!(get_link, delete_link))
        .routes(routes!(list_link_configs))
        .routes(routes!(get_link_config, set_link_config, reset_link_config))
        .routes(routes!(alter_link_configs))
}

/// Kafka's URL-safe unpadded base64 of the engine's dashed link id.
fn kafka_link_id(link_id: &str) -> String {
    match uuid::Uuid::parse_str(link_id) {
        Ok(u) => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(u.as_bytes()),
        Err(_) => link_id.to_string(),
    }
}

pub async fn listings(
    rc: &RestCall,
    link_name: Option<&str>,
) -> Result<Vec<ClusterLinkListing>, RestError> {
    let request = AdminRequest::ListClusterLinks(ListClusterLinksRequest {
        link_name: link_name.map(str::to_string),
        include_topics: true,
    });
    Ok(expect_admin!(rc.admin(request).await, Links).links)
}

fn link_data(rc: &RestCall, l: ClusterLinkListing, include_tasks: bool) -> LinkData {
    let cluster = rc.cluster_id.clone();
    let url = format!("{}/links/{}", rc.cluster_url, l.link_name);
    let tasks = include_tasks.then(|| {
        l.tasks
            .iter()
            .map(|t| LinkTask {
                task_name: t.task.clone(),
                state: t.state.clone(),
                errors: t
                    .last_error
                    .iter()
                    .map(|m| LinkTaskError {
                        error_code: "TASK_FAILED".into(),
                        error_message: m.clone(),
                    })
                    .collect(),
            })
            .collect()
    });
    LinkData {
        kind: "KafkaLinkData".into(),
        metadata: ResourceMetadata {
            self_url: url,
            resource_name: Some(crn(&cluster, &[("link", &l.link_name)])),
        },
        source_cluster_id: l.remote_cluster_id.clone(),
        destination_cluster_id: None,
        remote_cluster_id: l.remote_cluster_id,
        cluster_link_id: kafka_link_id(&l.link_id),
        link_id: l.link_id,
        link_name: l.link_name,
        topic_names: l.topics.unwrap_or_default(),
        link_state: l.link_state,
        link_error: if l.link_error.is_some() {
            "UNKNOWN_ERROR".into()
        } else {
            "NO_ERROR".into()
        },
        link_error_message: l.link_error,
        tasks,
    }
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/links", tag = "Cluster Linking",
    params(("cluster_id" = String, Path)),
    responses((status = 200, body = LinkDataList), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn list_links(
    rc: RestCall,
    PathOf(cluster_id): PathOf<String>,
) -> Result<Json<LinkDataList>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let links = listings(&rc, None).await?;
    Ok(Json(LinkDataList {
        kind: "KafkaLinkDataList".into(),
        metadata: ListMetadata::of(format!("{}/links", rc.cluster_url)),
        data: links
            .into_iter()
            .map(|l| link_data(&rc, l, false))
            .collect(),
    }))
}

#[utoipa::path(post, path = "/clusters/{cluster_id}/links", tag = "Cluster Linking",
    params(("cluster_id" = String, Path), CreateLinkQuery),
    request_body = CreateLinkRequestData,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn create_link(
    rc: RestCall,
    PathOf(cluster_id): PathOf<String>,
    Params(q): Params<CreateLinkQuery>,
    Body(body): Body<CreateLinkRequestData>,
) -> Result<StatusCode, RestError> {
    rc.check_cluster(&cluster_id)?;
    let Some(link_name) = q.link_name.filter(|n| !n.is_empty()) else {
        return Err(RestError::bad_request("link_name is required."));
    };
    if body.cluster_link_id.is_some() {
        return Err(RestError::bad_request(
            "cluster_link_id cannot be chosen: Strait assigns a new link its id.",
        ));
    }
    if body.destination_cluster_id.is_some() {
        return Err(RestError::bad_request(
            "Source-initiated links (destination_cluster_id) are not served yet.",
        ));
    }
    let configs = config_map(body.configs)?;
    let request = CreateClusterLinkRequest {
        link_name,
        cluster_id: body.source_cluster_id.or(body.remote_cluster_id),
        configs,
        validate_only: flag(q.validate_only),
        validate_link: q.validate_link.unwrap_or(true),
    };
    expect_admin!(
        rc.admin(AdminRequest::CreateClusterLink(request)).await,
        Error
    );
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/links/{link_name}", tag = "Cluster Linking",
    params(("cluster_id" = String, Path), ("link_name" = String, Path), GetLinkQuery),
    responses((status = 200, body = LinkData), (status = 404, body = ErrorBody)))]
async fn get_link(
    rc: RestCall,
    PathOf((cluster_id, link_name)): PathOf<(String, String)>,
    Params(q): Params<GetLinkQuery>,
) -> Result<Json<LinkData>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let links = listings(&rc, Some(&link_name)).await?;
    links
        .into_iter()
        .find(|l| l.link_name == link_name)
        .map(|l| Json(link_data(&rc, l, flag(q.include_tasks))))
        .ok_or_else(|| RestError::kafka(strait_protocol::admin::CLUSTER_LINK_NOT_FOUND, None))
}

#[utoipa::path(delete, path = "/clusters/{cluster_id}/links/{link_name}", tag = "Cluster Linking",
    params(("cluster_id" = String, Path), ("link_name" = String, Path), DeleteLinkQuery),
    responses((status = 200), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_link(
    rc: RestCall,
    PathOf((cluster_id, link_name)): PathOf<(String, String)>,
    Params(q): Params<DeleteLinkQuery>,
) -> Result<StatusCode, RestError> {
    rc.check_cluster(&cluster_id)?;
    let request = DeleteClusterLinkRequest {
        link_name,
        force: flag(q.force),
        validate_only: flag(q.validate_only),
    };
    expect_admin!(
        rc.admin(AdminRequest::DeleteClusterLink(request)).await,
        Error
    );
    Ok(StatusCode::OK)
}

async fn link_configs(rc: &RestCall, link_name: &str) -> Result<Vec<LinkConfigEntry>, RestError> {
    let request = AdminRequest::DescribeClusterLinkConfigs(DescribeClusterLinkConfigsRequest {
        link_name: link_name.to_string(),
    });
    let mut configs = expect_admin!(rc.admin(request).await, LinkConfigs).configs;
    configs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(configs)
}

fn link_config(rc: &RestCall, link_name: &str, e: LinkConfigEntry) -> LinkConfigData {
    let cluster = rc.cluster_id.clone();
    LinkConfigData {
        kind: "KafkaLinkConfigData".into(),
        metadata: ResourceMetadata {
            self_url: format!("{}/links/{link_name}/configs/{}", rc.cluster_url, e.name),
            resource_name: Some(crn(&cluster, &[("link", link_name), ("config", &e.name)])),
        },
        cluster_id: cluster,
        link_name: link_name.to_string(),
        default: e.source == "DEFAULT_CONFIG",
        value: if e.sensitive { None } else { e.value },
        name: e.name,
        read_only: e.read_only,
        sensitive: e.sensitive,
        source: e.source,
        synonyms: Vec::new(),
    }
}

async fn alter(
    rc: &RestCall,
    link_name: String,
    changes: Vec<ConfigChange>,
    validate_only: bool,
) -> Result<StatusCode, RestError> {
    let mut set = BTreeMap::new();
    let mut delete = Vec::new();
    for (name, op, value) in changes {
        match (op, value) {
            (AlterOperation::Set, Some(v)) => {
                set.insert(name, v);
            }
            (AlterOperation::Set, None) => {
                return Err(RestError::bad_request(format!(
                    "Config '{name}' is set without a value."
                )));
            }
            (AlterOperation::Delete, _) => delete.push(name),
        }
    }
    let request = AlterClusterLinkConfigsRequest {
        link_name,
        set,
        delete,
        validate_only,
    };
    expect_admin!(
        rc.admin(AdminRequest::AlterClusterLinkConfigs(request))
            .await,
        Error
    );
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/links/{link_name}/configs",
    tag = "Cluster Linking",
    params(("cluster_id" = String, Path), ("link_name" = String, Path)),
    responses((status = 200, body = LinkConfigDataList), (status = 404, body = ErrorBody)))]
async fn list_link_configs(
    rc: RestCall,
    PathOf((cluster_id, link_name)): PathOf<(String, String)>,
) -> Result<Json<LinkConfigDataList>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let configs = link_configs(&rc, &link_name).await?;
    Ok(Json(LinkConfigDataList {
        kind: "KafkaLinkConfigDataList".into(),
        metadata: ListMetadata::of(format!("{}/links/{link_name}/configs", rc.cluster_url)),
        data: configs
            .into_iter()
            .map(|e| link_config(&rc, &link_name, e))
            .collect(),
    }))
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/links/{link_name}/configs/{config_name}",
    tag = "Cluster Linking",
    params(("cluster_id" = String, Path), ("link_name" = String, Path),
           ("config_name" = String, Path)),
    responses((status = 200, body = LinkConfigData), (status = 404, body = ErrorBody)))]
async fn get_link_config(
    rc: RestCall,
    PathOf((cluster_id, link_name, name)): PathOf<(String, String, String)>,
) -> Result<Json<LinkConfigData>, RestError> {
    rc.check_cluster(&cluster_id)?;
    link_configs(&rc, &link_name)
        .await?
        .into_iter()
        .find(|e| e.name == name)
        .map(|e| Json(link_config(&rc, &link_name, e)))
        .ok_or_else(|| {
            RestError::new(
                StatusCode::NOT_FOUND,
                40403,
                format!("Config {name} cannot be found for cluster link {link_name}."),
            )
        })
}

#[utoipa::path(put, path = "/clusters/{cluster_id}/links/{link_name}/configs/{config_name}",
    tag = "Cluster Linking",
    params(("cluster_id" = String, Path), ("link_name" = String, Path),
           ("config_name" = String, Path)),
    request_body = ConfigUpdate,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_link_config(
    rc: RestCall,
    PathOf((cluster_id, link_name, name)): PathOf<(String, String, String)>,
    Body(body): Body<ConfigUpdate>,
) -> Result<StatusCode, RestError> {
    rc.check_cluster(&cluster_id)?;
    alter(
        &rc,
        link_name,
        vec![(name, AlterOperation::Set, body.value)],
        false,
    )
    .await
}

#[utoipa::path(delete, path = "/clusters/{cluster_id}/links/{link_name}/configs/{config_name}",
    tag = "Cluster Linking",
    params(("cluster_id" = String, Path), ("link_name" = String, Path),
           ("config_name" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn reset_link_config(
    rc: RestCall,
    PathOf((cluster_id, link_name, name)): PathOf<(String, String, String)>,
) -> Result<StatusCode, RestError> {
    rc.check_cluster(&cluster_id)?;
    alter(
        &rc,
        link_name,
        vec![(name, AlterOperation::Delete, None)],
        false,
    )
    .await
}

#[utoipa::path(put, path = "/clusters/{cluster_id}/links/{link_name}/configs:alter",
    tag = "Cluster Linking",
    params(("cluster_id" = String, Path), ("link_name" = String, Path), ValidateOnlyQuery),
    request_body = AlterConfigBatch,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn alter_link_configs(
    rc: RestCall,
    PathOf((cluster_id, link_name)): PathOf<(String, String)>,
    Params(q): Params<ValidateOnlyQuery>,
    Body(body): Body<AlterConfigBatch>,
) -> Result<StatusCode, RestError> {
    rc.check_cluster(&cluster_id)?;
    let (changes, body_validate_only) = body.into_changes();
    alter(
        &rc,
        link_name,
        changes,
        flag(q.validate_only) || body_validate_only,
    )
    .await
}
