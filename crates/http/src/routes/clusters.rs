//! `/clusters` and `/clusters/{id}/brokers`: the cluster and its brokers,
//! from DescribeCluster. Must never change anything.

use axum::Json;
use kafka_protocol::messages::DescribeClusterRequest;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{PathOf, expect_response};
use crate::caller::RestCall;
use crate::envelope::{ListMetadata, Related, ResourceMetadata, crn, list_type};
use crate::error::ErrorBody;
use crate::{AppState, RestError};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClusterData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub cluster_id: String,
    pub controller: Option<Related>,
    pub acls: Related,
    pub brokers: Related,
    pub broker_configs: Related,
    pub consumer_groups: Related,
    pub topics: Related,
    pub partition_reassignments: Related,
}
list_type!(ClusterDataList, ClusterData);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrokerData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub cluster_id: String,
    pub broker_id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
    pub configs: Related,
    pub partition_replicas: Related,
}
list_type!(BrokerDataList, BrokerData);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_clusters))
        .routes(routes!(get_cluster))
        .routes(routes!(list_brokers))
        .routes(routes!(get_broker))
}

async fn describe(rc: &RestCall) -> Result<(Option<i32>, Vec<DescribeClusterBroker>), RestError> {
    let resp = rc.kafka(DescribeClusterRequest::default(), 1).await?;
    let resp = expect_response!(resp, DescribeCluster);
    if resp.error_code != 0 {
        return Err(RestError::kafka(
            resp.error_code,
            resp.error_message.as_deref(),
        ));
    }
    let controller = (resp.controller_id.0 >= 0).then_some(resp.controller_id.0);
    Ok((controller, resp.brokers))
}

fn cluster_data(rc: &RestCall, controller: Option<i32>) -> ClusterData {
    let id = rc.cluster_id.clone();
    let url = &rc.cluster_url;
    ClusterData {
        kind: "KafkaCluster".into(),
        metadata: ResourceMetadata {
            self_url: url.clone(),
            resource_name: Some(crn(&id, &[])),
        },
        cluster_id: id,
        controller: controller.map(|c| Related::to(format!("{url}/brokers/{c}"))),
        acls: Related::to(format!("{url}/acls")),
        brokers: Related::to(format!("{url}/brokers")),
        broker_configs: Related::to(format!("{url}/broker-configs")),
        consumer_groups: Related::to(format!("{url}/consumer-groups")),
        topics: Related::to(format!("{url}/topics")),
        partition_reassignments: Related::to(format!("{url}/topics/-/partitions/-/reassignment")),
    }
}

pub fn broker_data(rc: &RestCall, b: &DescribeClusterBroker) -> BrokerData {
    let id = rc.cluster_id.clone();
    let url = format!("{}/brokers/{}", rc.cluster_url, b.broker_id.0);
    BrokerData {
        kind: "KafkaBroker".into(),
        metadata: ResourceMetadata {
            self_url: url.clone(),
            resource_name: Some(crn(&id, &[("broker", &b.broker_id.0.to_string())])),
        },
        cluster_id: id,
        broker_id: b.broker_id.0,
        host: b.host.to_string(),
        port: b.port,
        rack: b.rack.as_ref().map(|r| r.to_string()),
        configs: Related::to(format!("{url}/configs")),
        partition_replicas: Related::to(format!("{url}/partition-replicas")),
    }
}

/// The clusters this API serves: this one.
#[utoipa::path(get, path = "/clusters", tag = "Cluster",
    responses((status = 200, body = ClusterDataList), (status = 401, body = ErrorBody)))]
async fn list_clusters(rc: RestCall) -> Result<Json<ClusterDataList>, RestError> {
    let (controller, _) = describe(&rc).await?;
    Ok(Json(ClusterDataList {
        kind: "KafkaClusterList".into(),
        metadata: ListMetadata::of(format!("{}/clusters", rc.base)),
        data: vec![cluster_data(&rc, controller)],
    }))
}

#[utoipa::path(get, path = "/clusters/{cluster_id}", tag = "Cluster",
    params(("cluster_id" = String, Path)),
    responses((status = 200, body = ClusterData), (status = 404, body = ErrorBody)))]
async fn get_cluster(
    rc: RestCall,
    PathOf(cluster_id): PathOf<String>,
) -> Result<Json<ClusterData>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let (controller, _) = describe(&rc).await?;
    Ok(Json(cluster_data(&rc, controller)))
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/brokers", tag = "Broker",
    params(("cluster_id" = String, Path)),
    responses((status = 200, body = BrokerDataList), (status = 404, body = ErrorBody)))]
async fn list_brokers(
    rc: RestCall,
    PathOf(cluster_id): PathOf<String>,
) -> Result<Json<BrokerDataList>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let (_, brokers) = describe(&rc).await?;
    Ok(Json(BrokerDataList {
        kind: "KafkaBrokerList".into(),
        metadata: ListMetadata::of(format!("{}/brokers", rc.cluster_url)),
        data: brokers.iter().map(|b| broker_data(&rc, b)).collect(),
    }))
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/brokers/{broker_id}", tag = "Broker",
    params(("cluster_id" = String, Path), ("broker_id" = i32, Path)),
    responses((status = 200, body = BrokerData), (status = 404, body = ErrorBody)))]
async fn get_broker(
    rc: RestCall,
    PathOf((cluster_id, broker_id)): PathOf<(String, i32)>,
) -> Result<Json<BrokerData>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let (_, brokers) = describe(&rc).await?;
    brokers
        .iter()
        .find(|b| b.broker_id.0 == broker_id)
        .map(|b| Json(broker_data(&rc, b)))
        .ok_or_else(|| RestError::not_found(format!("Broker {broker_id} cannot be found.")))
}
