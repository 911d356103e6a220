//! Source helpers of the engine: the ListOffsets calls that tell where a
//! source partition starts and ends. Plain requests over the link's client;
//! they must never change anything on either cluster.

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use strait_client::{ClientError, KafkaClient};

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
