//! `MirrorFetcher`: copies one source partition into its mirror partition,
//! fetching like a follower replica (read_uncommitted, from the mirror's log
//! end offset) and appending the very same batches at the very same offsets
//! with the log's mirror append. One task per mirror partition. After each
//! round it counts the fetched traffic and feeds the partition's lag clock
//! (`crate::lag`).
//!
//! The fetcher sees its source only through [`MirrorSource`] (fetch,
//! bounds), its mirror log only through [`LocalCluster`] (the sink) and its
//! link only through [`FetchLink`]; what to do with each fetch answer is
//! decided by the pure functions [`decide`], [`decide_bounds`] and
//! [`decide_append`]. The client-backed source lives with the engine
//! (`engine::source::ClientSource`), so this module imports nothing from
//! the engine. A fetcher never changes a mirror's state: when the mirror
//! must fail, [`MirrorFetcher::run`] returns why and its spawner fails it.
//! It must never change a batch's bytes or assign offsets.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use strait_client::ClientError;
use strait_log::LogError;
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::config::LinkSettings;
use crate::local::LocalCluster;
use crate::mirror::MirrorRuntime;
use crate::traffic::FetchTraffic;

/// The size limits and wait of one fetch, from the link's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub partition_max_bytes: i32,
    pub response_max_bytes: i32,
}

impl FetchLimits {
    pub fn from_settings(settings: &LinkSettings) -> Self {
        FetchLimits {
            max_wait_ms: settings.fetch_wait_max.as_millis().min(i32::MAX as u128) as i32,
            min_bytes: settings.fetch_min_bytes,
            partition_max_bytes: settings.fetch_max_bytes,
            response_max_bytes: settings.fetch_response_max_bytes,
        }
    }
}

/// The source's answer for the mirrored partition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchAnswer {
    /// The partition's error, if any.
    pub error: Option<ResponseError>,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    /// The record set as fetched; it may end with a partial batch.
    pub records: Bytes,
}

/// Where a source partition starts and ends (ListOffsets earliest, latest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceBounds {
    pub log_start: i64,
    pub log_end: i64,
}

/// Why a source call gave no answer for the partition.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source could not be reached: the partition shows
    /// SOURCE_UNAVAILABLE until it answers again.
    #[error(transparent)]
    Unreachable(ClientError),
    /// The source was reached but the call failed.
    #[error(transparent)]
    Failed(ClientError),
    /// The fetch response carried a top-level error.
    #[error("fetch failed: {0:?}")]
    Fetch(Option<ResponseError>),
    /// The source's metadata names a leader it has no address for.
    #[error("no address for the source leader {0}")]
    UnknownLeader(i32),
    /// The response did not mention the partition.
    #[error("the fetch response has no answer for the partition")]
    NoAnswer,
}

/// The source partition a fetcher copies. The real one speaks Kafka over a
/// dedicated connection to the partition's leader; tests script one.
pub trait MirrorSource: Send + 'static {
    /// One Fetch (read_uncommitted) at `offset`.
    fn fetch(
        &mut self,
        offset: i64,
        limits: FetchLimits,
    ) -> impl Future<Output = Result<FetchAnswer, SourceError>> + Send;
    /// The partition's log start and log end.
    fn bounds(&mut self) -> impl Future<Output = Result<SourceBounds, SourceError>> + Send;
}

/// What a fetcher needs from its link.
pub trait FetchLink: Send + Sync + 'static {
    /// The link's current settings (read each round: they may be altered).
    fn settings(&self) -> LinkSettings;
    /// Records whether the source answered.
    fn set_available(&self, available: bool);
    /// The link's fetched traffic counters.
    fn traffic(&self) -> &FetchTraffic;
}

/// Why a fetcher stopped and its mirror must fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MirrorFailure {
    #[error("mirror partition {topic}-{partition} is missing")]
    PartitionMissing { topic: String, partition: i32 },
    #[error(
        "source partition {partition} returned batches that overlap the mirror at offset {fetch_offset}"
    )]
    Overlap { partition: i32, fetch_offset: i64 },
    #[error(
        "source partition {partition} ends at offset {end}, before the mirror's log end offset {fetch_offset}: the source topic was truncated or recreated"
    )]
    SourceBehind {
        partition: i32,
        end: i64,
        fetch_offset: i64,
    },
}

/// What to do with one fetch answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Append these whole batches (possibly none: a partial trailing batch
    /// is left for the next fetch), then follow the source's log start.
    Append {
        batches: Bytes,
        high_watermark: i64,
        log_start_offset: i64,
    },
    /// The fetch offset is outside the source's log: read its bounds.
    CheckBounds,
    /// The leader moved or the partition is unknown for now: the source is
    /// reachable; retry once its metadata is fresh.
    LeaderMoved(ResponseError),
    /// Any other partition error: retry later.
    Retry(ResponseError),
}

/// The decision for one fetch answer.
pub fn decide(answer: &FetchAnswer) -> Decision {
    match answer.error {
        None => Decision::Append {
            batches: whole_batches(&answer.records),
            high_watermark: answer.high_watermark,
            log_start_offset: answer.log_start_offset,
        },
        Some(ResponseError::OffsetOutOfRange) => Decision::CheckBounds,
        Some(e) if leader_moved(e) => Decision::LeaderMoved(e),
        Some(e) => Decision::Retry(e),
    }
}

/// Partition errors after which the source's metadata must be refreshed.
pub fn leader_moved(e: ResponseError) -> bool {
    matches!(
        e,
        ResponseError::NotLeaderOrFollower
            | ResponseError::LeaderNotAvailable
            | ResponseError::FencedLeaderEpoch
            | ResponseError::UnknownLeaderEpoch
            | ResponseError::UnknownTopicOrPartition
            | ResponseError::UnknownTopicId
            | ResponseError::InconsistentTopicId
    )
}

/// What the source's bounds say about a fetch offset it did not serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundsDecision {
    /// The source ends before the mirror (truncated or recreated): never
    /// destroy mirrored data silently, fail instead.
    Fail(MirrorFailure),
    /// The source's log start moved past the mirror (retention while it was
    /// away): continue there, leaving a gap.
    SkipTo(i64),
    /// The offset is inside the bounds after all: fetch again.
    Retry,
}

pub fn decide_bounds(partition: i32, fetch_offset: i64, bounds: SourceBounds) -> BoundsDecision {
    if fetch_offset > bounds.log_end {
        BoundsDecision::Fail(MirrorFailure::SourceBehind {
            partition,
            end: bounds.log_end,
            fetch_offset,
        })
    } else if fetch_offset < bounds.log_start {
        BoundsDecision::SkipTo(bounds.log_start)
    } else {
        BoundsDecision::Retry
    }
}

/// What a mirror append's result means.
#[derive(Debug)]
pub enum AppendOutcome {
    /// Appended; the mirror's new log end offset.
    Appended(i64),
    /// The batches overlap what the mirror holds: the source diverged.
    Fail(MirrorFailure),
    /// The local log failed; retry later.
    Retry(LogError),
}

pub fn decide_append(
    partition: i32,
    fetch_offset: i64,
    result: Result<i64, LogError>,
) -> AppendOutcome {
    match result {
        Ok(leo) => AppendOutcome::Appended(leo),
        Err(LogError::OffsetOutOfOrder { .. }) => AppendOutcome::Fail(MirrorFailure::Overlap {
            partition,
            fetch_offset,
        }),
        Err(e) => AppendOutcome::Retry(e),
    }
}

/// The log start the mirror follows after an append: the source's, never
/// past the mirror's log end; none when the source reports none.
pub fn log_start_to_follow(source_log_start: i64, mirror_log_end: i64) -> Option<i64> {
    (source_log_start > 0).then_some(source_log_start.min(mirror_log_end))
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

/// What a fetch round decided.
enum Next {
    /// Fetch again at once.
    Continue,
    /// Back off, then try again.
    Retry,
    /// Stop this fetcher: the mirror must fail.
    Fail(MirrorFailure),
}

pub struct MirrorFetcher<S> {
    pub source: S,
    pub link: Arc<dyn FetchLink>,
    pub mirror: Arc<MirrorRuntime>,
    /// The sink: the mirror partition is written only through it.
    pub local: Arc<dyn LocalCluster>,
    pub partition: i32,
    pub cancel: CancellationToken,
}

impl<S: MirrorSource> MirrorFetcher<S> {
    /// Copies until cancelled (`None`) or until the mirror must fail.
    pub async fn run(mut self) -> Option<MirrorFailure> {
        // The lowest offset to fetch from: raised when the source's log start
        // moved past the mirror's log end (the gap stays a gap).
        let mut floor = 0i64;
        let topic = self.mirror.topic();
        loop {
            if self.cancel.is_cancelled() {
                return None;
            }
            let settings = self.link.settings();
            match self.round(&topic, &settings, &mut floor).await {
                Next::Continue => {}
                Next::Retry => {
                    let backoff = settings.fetch_backoff.max(Duration::from_millis(50));
                    tokio::select! {
                        _ = self.cancel.cancelled() => return None,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                }
                Next::Fail(failure) => return Some(failure),
            }
        }
    }

    fn mark_unavailable(&self, error: &SourceError) {
        self.mirror.update_partition(self.partition, |s| {
            s.source_unavailable = true;
            s.error = Some(error.to_string());
        });
        self.link.set_available(false);
    }

    fn note_error(&self, error: String) {
        self.mirror
            .update_partition(self.partition, |s| s.error = Some(error));
    }

    async fn round(&mut self, topic: &str, settings: &LinkSettings, floor: &mut i64) -> Next {
        let Some(log_end) = self.local.log_end_offset(topic, self.partition) else {
            return Next::Fail(MirrorFailure::PartitionMissing {
                topic: topic.to_string(),
                partition: self.partition,
            });
        };
        let fetch_offset = log_end.max(*floor);
        let sent_ms = now_ms();
        let limits = FetchLimits::from_settings(settings);
        let answer = tokio::select! {
            _ = self.cancel.cancelled() => return Next::Continue,
            r = self.source.fetch(fetch_offset, limits) => r,
        };
        let answer = match answer {
            Ok(a) => a,
            Err(e @ SourceError::Unreachable(_)) => {
                self.mark_unavailable(&e);
                return Next::Retry;
            }
            Err(e) => {
                self.note_error(e.to_string());
                return Next::Retry;
            }
        };
        self.link.set_available(true);
        let (batches, high_watermark, log_start_offset) = match decide(&answer) {
            Decision::Append {
                batches,
                high_watermark,
                log_start_offset,
            } => (batches, high_watermark, log_start_offset),
            Decision::CheckBounds => return self.out_of_range(fetch_offset, floor).await,
            Decision::LeaderMoved(e) => {
                self.mirror.update_partition(self.partition, |s| {
                    s.source_unavailable = false;
                    s.error = Some(format!("source partition error {}", e.code()));
                });
                return Next::Retry;
            }
            Decision::Retry(e) => {
                self.note_error(format!("source fetch error: {e}"));
                return Next::Retry;
            }
        };
        let now = now_ms();
        let mut dest_leo = fetch_offset;
        let summary = crate::lag::summarize(&answer.records, batches.len());
        if !batches.is_empty() {
            let appended = self.local.mirror_append(topic, self.partition, &batches);
            match decide_append(self.partition, fetch_offset, appended) {
                AppendOutcome::Appended(leo) => {
                    dest_leo = leo;
                    let bytes = batches.len() as u64;
                    self.link.traffic().add(bytes, summary.records);
                    self.mirror.traffic.add(bytes, summary.records);
                }
                AppendOutcome::Fail(failure) => return Next::Fail(failure),
                AppendOutcome::Retry(e) => {
                    self.note_error(format!("mirror append failed: {e}"));
                    return Next::Retry;
                }
            }
        }
        // Records the source deleted (retention, DeleteRecords) are gone on
        // the mirror too, even where they share a batch with live ones.
        if let Some(start) = log_start_to_follow(log_start_offset, dest_leo)
            && let Err(e) = self.local.advance_log_start(topic, self.partition, start)
        {
            tracing::warn!(
                "{topic}-{}: following the source's log start failed: {e}",
                self.partition
            );
        }
        self.mirror.update_partition(self.partition, |s| {
            s.source_high_watermark = high_watermark;
            s.dest_log_end_offset = dest_leo;
            s.last_fetch_ms = now;
            s.source_unavailable = false;
            s.error = None;
            s.lag_clock.after_fetch(
                sent_ms,
                &summary,
                !batches.is_empty(),
                dest_leo,
                high_watermark,
            );
        });
        Next::Continue
    }

    /// The source no longer has our fetch offset: its bounds tell why.
    async fn out_of_range(&mut self, fetch_offset: i64, floor: &mut i64) -> Next {
        let bounds = match self.source.bounds().await {
            Ok(b) => b,
            Err(e) => {
                self.note_error(e.to_string());
                return Next::Retry;
            }
        };
        match decide_bounds(self.partition, fetch_offset, bounds) {
            BoundsDecision::Fail(failure) => Next::Fail(failure),
            BoundsDecision::SkipTo(start) => {
                tracing::info!(
                    "source partition {}-{} starts at {start}, past the mirror's {fetch_offset}: continuing there",
                    self.mirror.record().source_topic,
                    self.partition
                );
                *floor = start;
                Next::Continue
            }
            BoundsDecision::Retry => Next::Retry,
        }
    }
}

#[cfg(test)]
mod tests;
