//! `MirrorFetcher`: copies one source partition into its mirror partition,
//! fetching like a follower replica (read_uncommitted, from the mirror's log
//! end offset) and appending the very same batches at the very same offsets
//! with the log's mirror append. One task per mirror partition, each with its
//! own connection so long polls never queue behind each other. After each
//! round it counts the fetched traffic and feeds the partition's lag clock
//! (`crate::lag`). It must never change a batch's bytes or assign offsets.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest};
use strait_client::{Connection, KafkaClient};
use strait_log::LogError;
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::engine::LinkRuntime;
use crate::local::LocalCluster;
use crate::mirror::MirrorRuntime;

pub struct MirrorFetcher {
    pub link: Arc<LinkRuntime>,
    pub mirror: Arc<MirrorRuntime>,
    pub local: Arc<dyn LocalCluster>,
    pub partition: i32,
    pub cancel: CancellationToken,
}

/// What a fetch round decided.
enum Next {
    /// Fetch again at once.
    Continue,
    /// Back off, then try again (drop the connection if `reconnect`).
    Retry { reconnect: bool },
    /// Stop this fetcher: the mirror failed.
    Fail(String),
}

/// Cuts a fetched record set at the last whole batch (Kafka sources may end
/// a response with a partial batch).
pub fn whole_batches(records: &Bytes) -> Bytes {
    let mut pos = 0usize;
    while records.len() - pos >= 12 {
        let len = i32::from_be_bytes([
            records[pos + 8],
            records[pos + 9],
            records[pos + 10],
            records[pos + 11],
        ]);
        if len < 0 {
            break;
        }
        let end = pos + 12 + len as usize;
        if end > records.len() {
            break;
        }
        pos = end;
    }
    records.slice(0..pos)
}

impl MirrorFetcher {
    pub async fn run(self) {
        let mut conn: Option<(i32, Connection)> = None;
        // The lowest offset to fetch from: raised when the source's log start
        // moved past the mirror's log end (the gap stays a gap).
        let mut floor = 0i64;
        let topic = self.mirror.topic();
        loop {
            if self.cancel.is_cancelled() {
                return;
            }
            let settings = self.link.settings();
            let next = match self.link.client().await {
                Ok(client) => self.round(&client, &mut conn, &topic, &mut floor).await,
                Err(e) => {
                    self.mark_unavailable(&e.to_string());
                    Next::Retry { reconnect: true }
                }
            };
            match next {
                Next::Continue => {}
                Next::Retry { reconnect } => {
                    if reconnect {
                        conn = None;
                    }
                    let backoff = settings.fetch_backoff.max(Duration::from_millis(50));
                    tokio::select! {
                        _ = self.cancel.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                }
                Next::Fail(reason) => {
                    self.link.fail_mirror(&self.mirror, &reason);
                    return;
                }
            }
        }
    }

    fn mark_unavailable(&self, error: &str) {
        self.mirror.update_partition(self.partition, |s| {
            s.source_unavailable = true;
            s.error = Some(error.to_string());
        });
        self.link.set_available(false);
    }

    async fn round(
        &self,
        client: &Arc<KafkaClient>,
        conn: &mut Option<(i32, Connection)>,
        topic: &str,
        floor: &mut i64,
    ) -> Next {
        let record = self.mirror.record();
        let source_topic = record.source_topic.clone();
        let leader = match client.leader_for(&source_topic, self.partition).await {
            Ok(l) => l,
            Err(e) => {
                if e.is_transport() {
                    self.mark_unavailable(&e.to_string());
                } else {
                    self.mirror
                        .update_partition(self.partition, |s| s.error = Some(e.to_string()));
                }
                client.invalidate_metadata();
                return Next::Retry { reconnect: true };
            }
        };
        if conn
            .as_ref()
            .is_none_or(|(id, c)| *id != leader || c.is_closed())
        {
            let metadata = client.metadata();
            let Some(broker) = metadata.brokers.get(&leader) else {
                client.invalidate_metadata();
                return Next::Retry { reconnect: true };
            };
            match Connection::connect(&broker.address(), client.config()).await {
                Ok(c) => *conn = Some((leader, c)),
                Err(e) => {
                    self.mark_unavailable(&e.to_string());
                    return Next::Retry { reconnect: true };
                }
            }
        }
        let Some((_, connection)) = conn.as_ref() else {
            return Next::Retry { reconnect: true };
        };
        let topic_id = client
            .metadata()
            .topics
            .get(&source_topic)
            .map(|t| t.topic_id)
            .unwrap_or_default();
        let Some(log_end) = self.local.log_end_offset(topic, self.partition) else {
            return Next::Fail(format!(
                "mirror partition {topic}-{} is missing",
                self.partition
            ));
        };
        let fetch_offset = log_end.max(*floor);
        let settings = self.link.settings();
        let mut fp = FetchPartition::default();
        fp.partition = self.partition;
        fp.current_leader_epoch = -1;
        fp.fetch_offset = fetch_offset;
        fp.last_fetched_epoch = -1;
        fp.log_start_offset = -1;
        fp.partition_max_bytes = settings.fetch_max_bytes;
        let mut ft = FetchTopic::default();
        ft.topic = kafka_protocol::messages::TopicName(
            kafka_protocol::protocol::StrBytes::from_string(source_topic.clone()),
        );
        ft.topic_id = topic_id;
        ft.partitions = vec![fp];
        let mut req = FetchRequest::default();
        req.replica_id = BrokerId(-1);
        req.max_wait_ms = settings.fetch_wait_max.as_millis().min(i32::MAX as u128) as i32;
        req.min_bytes = settings.fetch_min_bytes;
        req.max_bytes = settings.fetch_response_max_bytes;
        req.isolation_level = 0;
        req.session_epoch = -1;
        req.topics = vec![ft];
        let sent_ms = now_ms();
        let response = tokio::select! {
            _ = self.cancel.cancelled() => return Next::Continue,
            r = connection.send(req) => r,
        };
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                self.mark_unavailable(&e.to_string());
                return Next::Retry { reconnect: true };
            }
        };
        if response.error_code != 0 {
            let e = ResponseError::try_from_code(response.error_code);
            self.mirror.update_partition(self.partition, |s| {
                s.error = Some(format!("fetch failed: {e:?}"));
            });
            return Next::Retry { reconnect: true };
        }
        let Some(pd) = response
            .responses
            .into_iter()
            .flat_map(|t| t.partitions)
            .find(|p| p.partition_index == self.partition)
        else {
            return Next::Retry { reconnect: false };
        };
        self.link.set_available(true);
        let now = now_ms();
        match ResponseError::try_from_code(pd.error_code) {
            None => {}
            Some(ResponseError::OffsetOutOfRange) => {
                return self
                    .out_of_range(client, &source_topic, fetch_offset, floor)
                    .await;
            }
            Some(
                ResponseError::NotLeaderOrFollower
                | ResponseError::LeaderNotAvailable
                | ResponseError::FencedLeaderEpoch
                | ResponseError::UnknownLeaderEpoch
                | ResponseError::UnknownTopicOrPartition
                | ResponseError::UnknownTopicId
                | ResponseError::InconsistentTopicId,
            ) => {
                client.invalidate_metadata();
                self.mirror.update_partition(self.partition, |s| {
                    s.source_unavailable = false;
                    s.error = Some(format!("source partition error {}", pd.error_code));
                });
                return Next::Retry { reconnect: true };
            }
            Some(other) => {
                self.mirror.update_partition(self.partition, |s| {
                    s.error = Some(format!("source fetch error: {other}"));
                });
                return Next::Retry { reconnect: false };
            }
        }
        let raw = pd.records.unwrap_or_default();
        let records = whole_batches(&raw);
        let mut dest_leo = fetch_offset;
        let batches = crate::lag::summarize(&raw, records.len());
        if !records.is_empty() {
            match self.local.mirror_append(topic, self.partition, &records) {
                Ok(leo) => {
                    dest_leo = leo;
                    let bytes = records.len() as u64;
                    self.link.traffic().add(bytes, batches.records);
                    self.mirror.traffic.add(bytes, batches.records);
                }
                Err(LogError::OffsetOutOfOrder { .. }) => {
                    return Next::Fail(format!(
                        "source partition {} returned batches that overlap the mirror at offset {fetch_offset}",
                        self.partition
                    ));
                }
                Err(e) => {
                    self.mirror.update_partition(self.partition, |s| {
                        s.error = Some(format!("mirror append failed: {e}"));
                    });
                    return Next::Retry { reconnect: false };
                }
            }
        }
        // Records the source deleted (retention, DeleteRecords) are gone on
        // the mirror too, even where they share a batch with live ones.
        if pd.log_start_offset > 0
            && let Err(e) = self.local.advance_log_start(
                topic,
                self.partition,
                pd.log_start_offset.min(dest_leo),
            )
        {
            tracing::warn!(
                "{topic}-{}: following the source's log start failed: {e}",
                self.partition
            );
        }
        self.mirror.update_partition(self.partition, |s| {
            s.source_high_watermark = pd.high_watermark;
            s.dest_log_end_offset = dest_leo;
            s.last_fetch_ms = now;
            s.source_unavailable = false;
            s.error = None;
            s.lag_clock.after_fetch(
                sent_ms,
                &batches,
                !records.is_empty(),
                dest_leo,
                pd.high_watermark,
            );
        });
        Next::Continue
    }

    /// The source no longer has our fetch offset: its log start moved past
    /// it (retention while we were away: continue at the source's start,
    /// leaving a gap) or its log end is behind us (the source was truncated
    /// or recreated: never destroy mirrored data silently, fail instead).
    async fn out_of_range(
        &self,
        client: &Arc<KafkaClient>,
        source_topic: &str,
        fetch_offset: i64,
        floor: &mut i64,
    ) -> Next {
        match crate::engine::source::partition_bounds(client, source_topic, self.partition).await {
            Ok((start, end)) => {
                if fetch_offset > end {
                    Next::Fail(format!(
                        "source partition {} ends at offset {end}, before the mirror's log end offset {fetch_offset}: the source topic was truncated or recreated",
                        self.partition
                    ))
                } else if fetch_offset < start {
                    tracing::info!(
                        "source partition {source_topic}-{} starts at {start}, past the mirror's {fetch_offset}: continuing there",
                        self.partition
                    );
                    *floor = start;
                    Next::Continue
                } else {
                    Next::Retry { reconnect: false }
                }
            }
            Err(e) => {
                self.mirror
                    .update_partition(self.partition, |s| s.error = Some(e.to_string()));
                Next::Retry { reconnect: false }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::whole_batches;
    use bytes::Bytes;

    fn batch(len_field: i32, body: usize) -> Vec<u8> {
        let mut b = vec![0u8; 8];
        b.extend_from_slice(&len_field.to_be_bytes());
        b.extend(std::iter::repeat_n(7u8, body));
        b
    }

    #[test]
    fn trims_partial_trailing_batch() {
        let mut all = batch(20, 20);
        all.extend(batch(30, 30));
        let whole = all.len();
        all.extend(batch(40, 10)); // cut short
        let r = whole_batches(&Bytes::from(all));
        assert_eq!(r.len(), whole);
        assert!(whole_batches(&Bytes::from_static(b"short")).is_empty());
    }
}
