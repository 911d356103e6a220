//! Cluster-wide admin calls: describe the cluster (DescribeCluster, falling
//! back to Metadata) and unregister a broker. It must never cache results;
//! the metadata cache belongs to [`crate::KafkaClient`].

use kafka_protocol::messages::{ApiKey, BrokerId, DescribeClusterRequest, UnregisterBrokerRequest};

use crate::client::{KafkaClient, Route};
use crate::error::ClientError;
use crate::metadata::BrokerInfo;

/// The cluster as DescribeCluster (or Metadata) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    pub cluster_id: Option<String>,
    pub controller_id: Option<i32>,
    pub brokers: Vec<BrokerInfo>,
}

impl KafkaClient {
    /// Cluster id, controller and live brokers.
    pub async fn describe_cluster(&self) -> Result<ClusterDescription, ClientError> {
        if !self.any_broker_supports(ApiKey::DescribeCluster).await? {
            let metadata = self.refresh_brokers().await?;
            return Ok(ClusterDescription {
                cluster_id: metadata.cluster_id.clone(),
                controller_id: metadata.controller_id,
                brokers: metadata.brokers.values().cloned().collect(),
            });
        }
        let response = self
            .call("describeCluster", &Route::Any, |_version| {
                DescribeClusterRequest::default()
            })
            .await?
            .body;
        ClientError::check(response.error_code, response.error_message.as_deref())?;
        let mut brokers: Vec<BrokerInfo> = response
            .brokers
            .iter()
            .map(|b| BrokerInfo {
                id: b.broker_id.0,
                host: b.host.to_string(),
                port: b.port,
                rack: b.rack.as_ref().map(|r| r.to_string()),
            })
            .collect();
        brokers.sort_by_key(|b| b.id);
        Ok(ClusterDescription {
            cluster_id: Some(response.cluster_id.to_string()).filter(|c| !c.is_empty()),
            controller_id: (response.controller_id.0 >= 0).then_some(response.controller_id.0),
            brokers,
        })
    }

    /// Removes a broker's registration from the cluster.
    pub async fn unregister_broker(&self, broker_id: i32) -> Result<(), ClientError> {
        let response = self
            .call("unregisterBroker", &Route::Controller, |_version| {
                UnregisterBrokerRequest::default().with_broker_id(BrokerId(broker_id))
            })
            .await?
            .body;
        ClientError::check(response.error_code, response.error_message.as_deref())
    }
}
