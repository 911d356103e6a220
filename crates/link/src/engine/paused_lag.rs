//! The lag of a paused mirror. Its fetchers are stopped, so nothing else
//! tells how far the source has moved on: on the link's metadata cadence
//! this sends each partition one Fetch at the mirror's log end, reads only
//! the source's high watermark and the timestamp of the first batch the
//! mirror lacks, and records them as a fetch that appended nothing. The
//! lag in records and in seconds of a paused mirror then grows as its
//! source does, as an operator asked for the RPO expects. It must never
//! append to the mirror.

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use strait_client::{ClientError, KafkaClient};

use super::LinkEngine;
use crate::clock::now_ms;
use crate::mirror::MirrorRuntime;

/// Enough for the first batch's header; a source returns the first batch
/// whole anyway (KIP-74), so more would only cost.
const PEEK_BYTES: i32 = strait_log::HEADER_SIZE as i32;

impl LinkEngine {
    /// Brings a paused mirror's figures up to date with its source; a
    /// partition the source does not answer for keeps the error.
    pub(super) async fn observe_paused(&self, client: &KafkaClient, mirror: &MirrorRuntime) {
        let record = mirror.record();
        let partitions = self.local_partitions(&record.topic);
        for p in 0..partitions as i32 {
            let Some(log_end) = self.local.log_end_offset(&record.topic, p) else {
                continue;
            };
            let sent_ms = now_ms();
            let (high_watermark, raw) = match peek(client, &record.source_topic, p, log_end).await {
                Ok(seen) => seen,
                Err(e) => {
                    mirror.update_partition(p, |s| {
                        s.error = Some(format!("source fetch error: {e}"));
                    });
                    continue;
                }
            };
            let batches = crate::lag::summarize(&raw, 0);
            mirror.update_partition(p, |s| {
                s.source_high_watermark = high_watermark;
                s.dest_log_end_offset = log_end;
                s.last_fetch_ms = now_ms();
                s.error = None;
                s.lag_clock
                    .after_fetch(sent_ms, &batches, false, log_end, high_watermark);
            });
        }
    }
}

/// The source partition's high watermark and the bytes at `offset`, at most
/// the first batch.
async fn peek(
    client: &KafkaClient,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<(i64, bytes::Bytes), ClientError> {
    let mut fp = FetchPartition::default();
    fp.partition = partition;
    fp.current_leader_epoch = -1;
    fp.fetch_offset = offset;
    fp.last_fetched_epoch = -1;
    fp.log_start_offset = -1;
    fp.partition_max_bytes = PEEK_BYTES;
    let mut ft = FetchTopic::default();
    ft.topic = TopicName(StrBytes::from_string(topic.to_string()));
    ft.topic_id = client
        .metadata()
        .topics
        .get(topic)
        .map(|t| t.topic_id)
        .unwrap_or_default();
    ft.partitions = vec![fp];
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = 0;
    req.min_bytes = 1;
    req.max_bytes = PEEK_BYTES;
    req.isolation_level = 0;
    req.session_epoch = -1;
    req.topics = vec![ft];
    let resp = client.send_to_leader(topic, partition, req).await?;
    ClientError::check(resp.error_code, None)?;
    let part = resp
        .responses
        .into_iter()
        .flat_map(|t| t.partitions)
        .find(|p| p.partition_index == partition)
        .ok_or_else(|| {
            ClientError::InvalidArgument(format!("no Fetch answer for {topic}-{partition}"))
        })?;
    // Out of range (the source's log moved past the mirror) still tells
    // nothing about timestamps; the high watermark stands.
    if part.error_code != kafka_protocol::error::ResponseError::OffsetOutOfRange.code() {
        ClientError::check(part.error_code, None)?;
    }
    Ok((part.high_watermark, part.records.unwrap_or_default()))
}
