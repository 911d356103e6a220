//! The runtime side of one mirror topic: its state machine (persisted state
//! plus the transient "source unavailable" condition), per-partition fetch
//! statistics for describe, and the cancellation of its fetchers. Must never
//! talk to the source or write logs: fetchers do that.

use std::sync::Mutex;

use strait_metadata::{MirrorRecord, MirrorState};
use strait_protocol::admin::{MirrorDescription, MirrorPartitionDescription};
use tokio_util::sync::CancellationToken;

/// What a fetcher last saw for its partition.
#[derive(Debug, Clone, Default)]
pub struct PartitionStats {
    pub dest_log_end_offset: i64,
    pub source_high_watermark: i64,
    /// Wall-clock ms of the last successful fetch (0 = never).
    pub last_fetch_ms: i64,
    pub source_unavailable: bool,
    pub error: Option<String>,
}

pub struct MirrorRuntime {
    pub record: Mutex<MirrorRecord>,
    pub partitions: Mutex<Vec<PartitionStats>>,
    /// Cancels the running fetchers; replaced whenever they are restarted.
    pub fetchers: Mutex<Option<CancellationToken>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl MirrorRuntime {
    pub fn new(record: MirrorRecord, partitions: usize) -> Self {
        MirrorRuntime {
            record: Mutex::new(record),
            partitions: Mutex::new(vec![PartitionStats::default(); partitions]),
            fetchers: Mutex::new(None),
        }
    }

    pub fn record(&self) -> MirrorRecord {
        lock(&self.record).clone()
    }

    pub fn set_record(&self, record: MirrorRecord) {
        *lock(&self.record) = record;
    }

    pub fn state(&self) -> MirrorState {
        lock(&self.record).state
    }

    pub fn topic(&self) -> String {
        lock(&self.record).topic.clone()
    }

    pub fn ensure_partitions(&self, count: usize) {
        let mut p = lock(&self.partitions);
        if p.len() < count {
            p.resize(count, PartitionStats::default());
        }
    }

    pub fn update_partition(&self, partition: i32, f: impl FnOnce(&mut PartitionStats)) {
        let mut p = lock(&self.partitions);
        if let Some(stats) = usize::try_from(partition).ok().and_then(|i| p.get_mut(i)) {
            f(stats);
        }
    }

    pub fn partition_stats(&self) -> Vec<PartitionStats> {
        lock(&self.partitions).clone()
    }

    /// Cancels running fetchers (if any) and installs a new token for the
    /// next set; returns it.
    pub fn restart_token(&self) -> CancellationToken {
        let mut slot = lock(&self.fetchers);
        if let Some(old) = slot.take() {
            old.cancel();
        }
        let token = CancellationToken::new();
        *slot = Some(token.clone());
        token
    }

    pub fn stop_fetchers(&self) {
        if let Some(old) = lock(&self.fetchers).take() {
            old.cancel();
        }
    }

    pub fn source_unavailable(&self) -> bool {
        lock(&self.partitions).iter().any(|p| p.source_unavailable)
    }

    /// The state shown to operators: the persisted state, except that an
    /// active mirror whose source cannot be reached shows SOURCE_UNAVAILABLE,
    /// and one whose link is paused shows LINK_PAUSED.
    pub fn display_state(&self, link_paused: bool) -> &'static str {
        match self.state() {
            MirrorState::Active if link_paused => "LINK_PAUSED",
            MirrorState::Active if self.source_unavailable() => "SOURCE_UNAVAILABLE",
            MirrorState::Active => "ACTIVE",
            MirrorState::Paused => "PAUSED",
            MirrorState::PendingStopped => "PENDING_STOPPED",
            MirrorState::Stopped => "STOPPED",
            MirrorState::Failed => "FAILED",
        }
    }

    pub fn describe(
        &self,
        link_id: &str,
        link_paused: bool,
        now_ms: i64,
        dest_leo: impl Fn(i32) -> i64,
    ) -> MirrorDescription {
        let record = self.record();
        let state = self.display_state(link_paused);
        let stats = self.partition_stats();
        let partitions = stats
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let partition = i as i32;
                let leo = dest_leo(partition);
                let source_hw = if s.last_fetch_ms == 0 {
                    record
                        .last_source_offsets
                        .get(i)
                        .copied()
                        .unwrap_or(s.source_high_watermark)
                } else {
                    s.source_high_watermark
                };
                let partition_state = match record.state {
                    MirrorState::Active if s.source_unavailable && !link_paused => {
                        "SOURCE_UNAVAILABLE"
                    }
                    _ => state,
                };
                MirrorPartitionDescription {
                    partition,
                    state: partition_state.to_string(),
                    dest_log_end_offset: leo,
                    last_fetch_source_high_watermark: source_hw,
                    lag: (source_hw - leo).max(0),
                    time_since_last_fetch_ms: if s.last_fetch_ms == 0 {
                        -1
                    } else {
                        (now_ms - s.last_fetch_ms).max(0)
                    },
                }
            })
            .collect();
        MirrorDescription {
            mirror_topic: record.topic.clone(),
            source_topic: record.source_topic.clone(),
            link_name: record.link.clone(),
            link_id: link_id.to_string(),
            state: state.to_string(),
            state_time_ms: record.state_time_ms,
            reason: record.reason.clone(),
            partitions,
        }
    }
}
