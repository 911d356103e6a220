//! `/clusters/{id}/links/{link}/mirrors`: list (one link or `-` for all),
//! create and get mirror topics, and the `mirrors:promote`, `:failover`,
//! `:pause` and `:resume` actions, through the admin requests
//! `kafka-mirrors` sends, and Strait's own `mirrors:verify` (VerifyMirrors:
//! each partition compared with its source). A multi-topic action answers
//! 200 with one result per topic, as Confluent does. Must never change a mirror any other way.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use strait_protocol::admin::{
    AdminRequest, AlterMirrorsRequest, CreateMirrorTopicRequest, DescribeMirrorsRequest,
    MirrorDescription, MirrorOp, VerifyMirrorsRequest,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, Params, PathOf, ValidateOnlyQuery, config_map, expect_admin, flag};
use crate::caller::RestCall;
use crate::envelope::{ConfigValue, ListMetadata, ResourceMetadata, crn, list_type};
use crate::error::ErrorBody;
use crate::{AppState, RestError};

/// Every mirror topic state Confluent lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MirrorTopicStatus {
    Active,
    Failed,
    LinkFailed,
    LinkPaused,
    Paused,
    PendingStopped,
    SourceUnavailable,
    Stopped,
    PendingMirror,
    PendingSynchronize,
    PendingSetupForRestore,
    PendingRestore,
}

impl MirrorTopicStatus {
    fn parse(state: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(state.to_string())).ok()
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MirrorLag {
    pub partition: i32,
    pub lag: i64,
    pub last_source_fetch_offset: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MirrorData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub link_name: String,
    pub mirror_topic_name: String,
    pub source_topic_name: String,
    pub num_partitions: i32,
    pub mirror_lags: Vec<MirrorLag>,
    pub mirror_status: MirrorTopicStatus,
    pub state_time_ms: i64,
    pub mirror_topic_error: Option<String>,
    /// Continuous verification per partition, present only when the link
    /// sets `mirror.verification.interval.ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror_verifications: Option<Vec<MirrorPartitionVerificationData>>,
}
list_type!(MirrorDataList, MirrorData);

/// One mirror partition's last continuous verification run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MirrorPartitionVerificationData {
    pub partition: i32,
    /// The last offset found equal to the source (-1: none yet).
    pub last_verified_offset: i64,
    /// `PENDING` (no run yet), `OK`, `MISMATCH` or `ERROR`.
    pub result: String,
    pub first_different_offset: Option<i64>,
    pub reason: Option<String>,
    /// Wall-clock ms of the last run (0: none yet).
    pub verified_time_ms: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlterMirrorStatusResponseData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub mirror_topic_name: String,
    /// An HTTP-style status of this topic's failure (for example 400), or null.
    pub error_code: Option<i32>,
    pub error_message: Option<String>,
    pub mirror_lags: Vec<MirrorLag>,
}
list_type!(
    AlterMirrorStatusResponseDataList,
    AlterMirrorStatusResponseData
);

/// One mirror partition compared with its source (`mirrors:verify`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MirrorVerificationData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub mirror_topic_name: String,
    pub partition_id: i32,
    /// The offsets compared, `[verified_from, verified_to)`.
    pub verified_from: i64,
    pub verified_to: i64,
    /// Batches found equal.
    pub batches: u64,
    /// `OK` or `MISMATCH`.
    pub result: String,
    pub first_different_offset: Option<i64>,
    pub reason: Option<String>,
}
list_type!(MirrorVerificationDataList, MirrorVerificationData);

/// The body of `POST /links/{link}/mirrors`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateMirrorTopicRequestData {
    pub source_topic_name: String,
    #[serde(default)]
    pub mirror_topic_name: Option<String>,
    #[serde(default)]
    pub replication_factor: Option<i16>,
    #[serde(default)]
    pub configs: Vec<ConfigValue>,
}

/// The body of the mirror actions.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AlterMirrorsRequestData {
    #[serde(default)]
    pub mirror_topic_names: Vec<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MirrorStatusQuery {
    pub mirror_status: Option<MirrorTopicStatus>,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_mirrors, create_mirror))
        .routes(routes!(get_mirror))
        .routes(routes!(promote))
        .routes(routes!(failover))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(verify))
}

/// Compares each partition of the named mirrors with its source, batch by
/// batch (Strait's own; `kafka-mirrors --verify`).
#[utoipa::path(post, path = "/clusters/{cluster_id}/links/{link_name}/mirrors:verify",
    tag = "Cluster Linking",
    params(("cluster_id" = String, Path), ("link_name" = String, Path)),
    request_body = AlterMirrorsRequestData,
    responses((status = 200, body = MirrorVerificationDataList),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
async fn verify(
    rc: RestCall,
    PathOf((cluster_id, link_name)): PathOf<(String, String)>,
    Body(body): Body<AlterMirrorsRequestData>,
) -> Result<Json<MirrorVerificationDataList>, RestError> {
    rc.check_cluster(&cluster_id)?;
    if body.mirror_topic_names.is_empty() {
        return Err(RestError::bad_request("mirror_topic_names is empty."));
    }
    let request = AdminRequest::VerifyMirrors(VerifyMirrorsRequest {
        topics: body.mirror_topic_names,
        link_name: Some(link_name.clone()),
    });
    let partitions = expect_admin!(rc.admin(request).await, Verified).partitions;
    let data = partitions
        .into_iter()
        .map(|p| MirrorVerificationData {
            kind: "KafkaMirrorVerificationData".into(),
            metadata: ResourceMetadata {
                self_url: mirror_url(&rc, &link_name, &p.topic),
                resource_name: None,
            },
            result: p.result.as_str().into(),
            mirror_topic_name: p.topic,
            partition_id: p.partition,
            verified_from: p.verified_from,
            verified_to: p.verified_to,
            batches: p.batches,
            first_different_offset: p.first_different_offset,
            reason: p.reason,
        })
        .collect();
    Ok(Json(MirrorVerificationDataList {
        kind: "KafkaMirrorVerificationDataList".into(),
        metadata: ListMetadata::of(format!(
            "{}/links/{link_name}/mirrors:verify",
            rc.cluster_url
        )),
        data,
    }))
}

/// Mirrors of `link` (every link when `None`), stopped ones included.
async fn describe(
    rc: &RestCall,
    link: Option<&str>,
    topics: Option<Vec<String>>,
) -> Result<Vec<MirrorDescription>, RestError> {
    let request = AdminRequest::DescribeMirrors(DescribeMirrorsRequest {
        link_name: link.map(str::to_string),
        topics,
        include_stopped: true,
    });
    Ok(expect_admin!(rc.admin(request).await, Mirrors).mirrors)
}

fn lags(m: &MirrorDescription) -> Vec<MirrorLag> {
    m.partitions
        .iter()
        .map(|p| MirrorLag {
            partition: p.partition,
            lag: p.lag,
            last_source_fetch_offset: p.last_fetch_source_high_watermark,
        })
        .collect()
}

/// The partitions' continuous verification, when the link configures it.
fn verifications(m: &MirrorDescription) -> Option<Vec<MirrorPartitionVerificationData>> {
    m.partitions
        .iter()
        .map(|p| {
            p.verification
                .as_ref()
                .map(|v| MirrorPartitionVerificationData {
                    partition: p.partition,
                    last_verified_offset: v.last_verified_offset,
                    result: v.result.clone(),
                    first_different_offset: v.first_different_offset,
                    reason: v.reason.clone(),
                    verified_time_ms: v.verified_time_ms,
                })
        })
        .collect()
}

fn mirror_url(rc: &RestCall, link: &str, topic: &str) -> String {
    format!("{}/links/{link}/mirrors/{topic}", rc.cluster_url)
}

fn mirror_data(rc: &RestCall, m: &MirrorDescription) -> Result<MirrorData, RestError> {
    let status = MirrorTopicStatus::parse(&m.state)
        .ok_or_else(|| RestError::internal(format!("unknown mirror state {}", m.state)))?;
    let cluster = rc.cluster_id.clone();
    Ok(MirrorData {
        kind: "KafkaMirrorData".into(),
        metadata: ResourceMetadata {
            self_url: mirror_url(rc, &m.link_name, &m.mirror_topic),
            resource_name: Some(crn(
                &cluster,
                &[("link", &m.link_name), ("topic", &m.mirror_topic)],
            )),
        },
        link_name: m.link_name.clone(),
        mirror_topic_name: m.mirror_topic.clone(),
        source_topic_name: m.source_topic.clone(),
        num_partitions: m.partitions.len() as i32,
        mirror_lags: lags(m),
        mirror_status: status,
        state_time_ms: m.state_time_ms,
        mirror_topic_error: m.reason.clone(),
        mirror_verifications: verifications(m),
    })
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/links/{link_name}/mirrors",
    tag = "Cluster Linking",
    params(("cluster_id" = String, Path),
           ("link_name" = String, Path, description = "A link, or `-` for every link"),
           MirrorStatusQuery),
    responses((status = 200, body = MirrorDataList), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn list_mirrors(
    rc: RestCall,
    PathOf((cluster_id, link_name)): PathOf<(String, String)>,
    Params(q): Params<MirrorStatusQuery>,
) -> Result<Json<MirrorDataList>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let link = (link_name != "-").then_some(link_name.as_str());
    let mirrors = describe(&rc, link, None).await?;
    let mut data = Vec::new();
    for m in &mirrors {
        let d = mirror_data(&rc, m)?;
        if q.mirror_status.is_none_or(|s| s == d.mirror_status) {
            data.push(d);
        }
    }
    Ok(Json(MirrorDataList {
        kind: "KafkaMirrorDataList".into(),
        metadata: ListMetadata::of(format!("{}/links/{link_name}/mirrors", rc.cluster_url)),
        data,
    }))
}

#[utoipa::path(post, path = "/clusters/{cluster_id}/links/{link_name}/mirrors",
    tag = "Cluster Linking",
    params(("cluster_id" = String, Path), ("link_name" = String, Path), ValidateOnlyQuery),
    request_body = CreateMirrorTopicRequestData,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_mirror(
    rc: RestCall,
    PathOf((cluster_id, link_name)): PathOf<(String, String)>,
    Params(q): Params<ValidateOnlyQuery>,
    Body(body): Body<CreateMirrorTopicRequestData>,
) -> Result<StatusCode, RestError> {
    rc.check_cluster(&cluster_id)?;
    let configs = config_map(body.configs)?;
    let request = CreateMirrorTopicRequest {
        mirror_topic: body
            .mirror_topic_name
            .unwrap_or_else(|| body.source_topic_name.clone()),
        link_name,
        source_topic: Some(body.source_topic_name),
        replication_factor: body.replication_factor,
        configs,
        validate_only: flag(q.validate_only),
    };
    expect_admin!(
        rc.admin(AdminRequest::CreateMirrorTopic(request)).await,
        Error
    );
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/links/{link_name}/mirrors/{mirror_topic_name}",
    tag = "Cluster Linking",
    params(("cluster_id" = String, Path), ("link_name" = String, Path),
           ("mirror_topic_name" = String, Path)),
    responses((status = 200, body = MirrorData), (status = 404, body = ErrorBody)))]
async fn get_mirror(
    rc: RestCall,
    PathOf((cluster_id, link_name, topic)): PathOf<(String, String, String)>,
) -> Result<Json<MirrorData>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let mirrors = describe(&rc, Some(&link_name), Some(vec![topic.clone()])).await?;
    let m = mirrors
        .iter()
        .find(|m| m.mirror_topic == topic && m.link_name == link_name)
        .ok_or_else(|| RestError::kafka(3, None))?;
    Ok(Json(mirror_data(&rc, m)?))
}

async fn act(
    rc: RestCall,
    cluster_id: String,
    link_name: String,
    validate_only: bool,
    body: AlterMirrorsRequestData,
    op: MirrorOp,
) -> Result<Json<AlterMirrorStatusResponseDataList>, RestError> {
    rc.check_cluster(&cluster_id)?;
    if body.mirror_topic_names.is_empty() {
        return Err(RestError::bad_request("mirror_topic_names is empty."));
    }
    let request = AlterMirrorsRequest {
        op,
        topics: body.mirror_topic_names,
        validate_only,
        link_name: Some(link_name.clone()),
    };
    let results =
        expect_admin!(rc.admin(AdminRequest::AlterMirrors(request)).await, Altered).results;
    let topics: std::collections::HashSet<&str> =
        results.iter().map(|r| r.topic.as_str()).collect();
    let lag_by_topic: BTreeMap<String, Vec<MirrorLag>> =
        match describe(&rc, Some(&link_name), None).await {
            Ok(mirrors) => mirrors
                .iter()
                .filter(|m| topics.contains(m.mirror_topic.as_str()))
                .map(|m| (m.mirror_topic.clone(), lags(m)))
                .collect(),
            Err(_) => BTreeMap::new(),
        };
    let data = results
        .into_iter()
        .map(|r| {
            let failed = r
                .error
                .is_error()
                .then(|| RestError::kafka(r.error.error_code, r.error.error_message.as_deref()));
            AlterMirrorStatusResponseData {
                kind: "KafkaAlterMirrorStatusResponseData".into(),
                metadata: ResourceMetadata {
                    self_url: mirror_url(&rc, &link_name, &r.topic),
                    resource_name: None,
                },
                error_code: failed.as_ref().map(|e| i32::from(e.status.as_u16())),
                error_message: failed.map(|e| e.body.message),
                mirror_lags: lag_by_topic.get(&r.topic).cloned().unwrap_or_default(),
                mirror_topic_name: r.topic,
            }
        })
        .collect();
    Ok(Json(AlterMirrorStatusResponseDataList {
        kind: "KafkaAlterMirrorStatusResponseDataList".into(),
        metadata: ListMetadata::of(format!("{}/links/{link_name}/mirrors", rc.cluster_url)),
        data,
    }))
}

macro_rules! mirror_action {
    ($name:ident, $path:literal, $op:expr) => {
        #[utoipa::path(post, path = $path, tag = "Cluster Linking",
            params(("cluster_id" = String, Path), ("link_name" = String, Path), ValidateOnlyQuery),
            request_body = AlterMirrorsRequestData,
            responses((status = 200, body = AlterMirrorStatusResponseDataList),
                      (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
        async fn $name(
            rc: RestCall,
            PathOf((cluster_id, link_name)): PathOf<(String, String)>,
            Params(q): Params<ValidateOnlyQuery>,
            Body(body): Body<AlterMirrorsRequestData>,
        ) -> Result<Json<AlterMirrorStatusResponseDataList>, RestError> {
            act(rc, cluster_id, link_name, flag(q.validate_only), body, $op).await
        }
    };
}

mirror_action!(
    promote,
    "/clusters/{cluster_id}/links/{link_name}/mirrors:promote",
    MirrorOp::Promote
);
mirror_action!(
    failover,
    "/clusters/{cluster_id}/links/{link_name}/mirrors:failover",
    MirrorOp::Failover
);
mirror_action!(
    pause,
    "/clusters/{cluster_id}/links/{link_name}/mirrors:pause",
    MirrorOp::Pause
);
mirror_action!(
    resume,
    "/clusters/{cluster_id}/links/{link_name}/mirrors:resume",
    MirrorOp::Unpause
);
