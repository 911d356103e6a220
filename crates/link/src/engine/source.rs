//! Source helpers of the engine: the ListOffsets calls that tell where a
//! source partition starts and ends, and [`ClientSource`], the real
//! [`MirrorSource`] a fetcher copies from. Plain requests over the link's
//! client; they must never change anything on either cluster, nor write a
//! mirror.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use strait_client::{ClientError, Connection, KafkaClient};

use super::links::LinkRuntime;
use crate::fetcher::{
    FetchAnswer, FetchLimits, MirrorSource, SourceBounds, SourceError, leader_moved,
};

/// The source's (log start, high watermark) of a partition.
pub async fn partition_bounds(
    client: &KafkaClient,
    topic: &str,
    partition: i32,
) -> Result<(i64, i64), ClientError> {
    let start = list_offset(client, topic, partition, -2).await?;
    let end = list_offset(client, topic, partition, -1).await?;
    Ok((start, end))
}

/// ListOffsets for one partition; `timestamp` -1 latest, -2 earliest.
/// Returns -1 when no record has a timestamp at or after the one asked for.
pub async fn list_offset(
    client: &KafkaClient,
    topic: &str,
    partition: i32,
    timestamp: i64,
) -> Result<i64, ClientError> {
    let mut p = ListOffsetsPartition::default();
    p.partition_index = partition;
    p.current_leader_epoch = -1;
    p.timestamp = timestamp;
    let mut t = ListOffsetsTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = vec![p];
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(-1);
    req.topics = vec![t];
    let resp = client.send_to_leader(topic, partition, req).await?;
    let part = resp
        .topics
        .into_iter()
        .flat_map(|t| t.partitions)
        .find(|p| p.partition_index == partition)
        .ok_or_else(|| {
            ClientError::InvalidArgument(format!("no ListOffsets answer for {topic}-{partition}"))
        })?;
    ClientError::check(part.error_code, None)?;
    Ok(part.offset)
}

/// The client-backed [`MirrorSource`]: one source partition, fetched over
/// a dedicated connection to its leader (a Kafka broker answers a
/// connection's requests in order, so long polls on a shared connection
/// would queue behind each other). The connection is dropped and the
/// source's metadata refreshed whenever the leader may have moved.
pub struct ClientSource {
    link: Arc<LinkRuntime>,
    topic: String,
    partition: i32,
    /// The leader's id and the connection to it.
    connection: Option<(i32, Connection)>,
}

impl ClientSource {
    pub fn new(link: Arc<LinkRuntime>, topic: String, partition: i32) -> Self {
        ClientSource {
            link,
            topic,
            partition,
            connection: None,
        }
    }

    async fn client(&mut self) -> Result<Arc<KafkaClient>, SourceError> {
        match self.link.client().await {
            Ok(c) => Ok(c),
            Err(e) => {
                self.connection = None;
                Err(SourceError::Unreachable(e))
            }
        }
    }

    /// The connection to the partition's leader, made if needed.
    async fn leader_connection(
        &mut self,
        client: &KafkaClient,
    ) -> Result<&Connection, SourceError> {
        let leader = match client.leader_for(&self.topic, self.partition).await {
            Ok(l) => l,
            Err(e) => {
                client.invalidate_metadata();
                self.connection = None;
                return Err(if e.is_transport() {
                    SourceError::Unreachable(e)
                } else {
                    SourceError::Failed(e)
                });
            }
        };
        if self
            .connection
            .as_ref()
            .is_none_or(|(id, c)| *id != leader || c.is_closed())
        {
            self.connection = None;
            let metadata = client.metadata();
            let Some(broker) = metadata.brokers.get(&leader) else {
                client.invalidate_metadata();
                return Err(SourceError::UnknownLeader(leader));
            };
            let connection = Connection::connect(&broker.address(), client.config())
                .await
                .map_err(SourceError::Unreachable)?;
            self.connection = Some((leader, connection));
        }
        match &self.connection {
            Some((_, c)) => Ok(c),
            None => Err(SourceError::UnknownLeader(leader)),
        }
    }
}

impl MirrorSource for ClientSource {
    async fn fetch(
        &mut self,
        offset: i64,
        limits: FetchLimits,
    ) -> Result<FetchAnswer, SourceError> {
        let client = self.client().await?;
        let topic_id = client
            .metadata()
            .topics
            .get(&self.topic)
            .map(|t| t.topic_id)
            .unwrap_or_default();
        let mut fp = FetchPartition::default();
        fp.partition = self.partition;
        fp.current_leader_epoch = -1;
        fp.fetch_offset = offset;
        fp.last_fetched_epoch = -1;
        fp.log_start_offset = -1;
        fp.partition_max_bytes = limits.partition_max_bytes;
        let mut ft = FetchTopic::default();
        ft.topic = TopicName(StrBytes::from_string(self.topic.clone()));
        ft.topic_id = topic_id;
        ft.partitions = vec![fp];
        let mut req = FetchRequest::default();
        req.replica_id = BrokerId(-1);
        req.max_wait_ms = limits.max_wait_ms;
        req.min_bytes = limits.min_bytes;
        req.max_bytes = limits.response_max_bytes;
        req.isolation_level = 0;
        req.session_epoch = -1;
        req.topics = vec![ft];
        let sent = self.leader_connection(&client).await?.send(req).await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                self.connection = None;
                return Err(SourceError::Unreachable(e));
            }
        };
        if response.error_code != 0 {
            self.connection = None;
            return Err(SourceError::Fetch(ResponseError::try_from_code(
                response.error_code,
            )));
        }
        let partition = self.partition;
        let pd = response
            .responses
            .into_iter()
            .flat_map(|t| t.partitions)
            .find(|p| p.partition_index == partition)
            .ok_or(SourceError::NoAnswer)?;
        let error = ResponseError::try_from_code(pd.error_code);
        if error.is_some_and(leader_moved) {
            client.invalidate_metadata();
            self.connection = None;
        }
        Ok(FetchAnswer {
            error,
            high_watermark: pd.high_watermark,
            log_start_offset: pd.log_start_offset,
            records: pd.records.unwrap_or_default(),
        })
    }

    async fn bounds(&mut self) -> Result<SourceBounds, SourceError> {
        let client = self.client().await?;
        let (log_start, log_end) = partition_bounds(&client, &self.topic, self.partition)
            .await
            .map_err(SourceError::Failed)?;
        Ok(SourceBounds { log_start, log_end })
    }
}
