//! The runtime side of one mirror topic: its state (persisted state plus
//! the transient "source unavailable" condition) and the one function that
//! writes it ([`MirrorRuntime::write_state`], checked against
//! [`crate::mirror_state`]), per-partition fetch statistics for describe and
//! metrics (lag in records and seconds, fetched traffic), and the
//! cancellation of its fetchers. Must never talk to the source or write
//! logs: fetchers do that.

use std::sync::Mutex;

use strait_metadata::{MetadataStore, MirrorRecord, MirrorState};
use strait_protocol::admin::{MirrorDescription, MirrorPartitionDescription};
use tokio_util::sync::CancellationToken;

use crate::lag::LagClock;
use crate::mirror_state::{MirrorStateError, MirrorTopicState, check_move};
use crate::traffic::FetchTraffic;
use crate::verification::PartitionVerification;

/// Every state [`MirrorRuntime::display_state`] can show.
pub const DISPLAY_STATES: [&str; 7] = [
    MirrorTopicState::Active.as_str(),
    MirrorTopicState::Paused.as_str(),
    MirrorTopicState::LinkPaused.as_str(),
    MirrorTopicState::SourceUnavailable.as_str(),
    MirrorTopicState::PendingStopped.as_str(),
    MirrorTopicState::Stopped.as_str(),
    MirrorTopicState::Failed.as_str(),
];

/// What a fetcher last saw for its partition.
#[derive(Debug, Clone, Default)]
pub struct PartitionStats {
    pub dest_log_end_offset: i64,
    pub source_high_watermark: i64,
    /// Wall-clock ms of the last successful fetch (0 = never).
    pub last_fetch_ms: i64,
    pub source_unavailable: bool,
    pub error: Option<String>,
    /// What the fetches learnt about source append times (lag in seconds).
    pub lag_clock: LagClock,
    /// Continuous verification's record (`mirror.verification.interval.ms`).
    pub verification: PartitionVerification,
}

/// One mirror partition's lag behind its source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartitionLag {
    pub partition: i32,
    /// Source high watermark last seen minus the mirror's log end offset
    /// (never negative), as `kafka-mirrors --describe` shows it.
    pub records: i64,
    /// See [`crate::lag`].
    pub seconds: f64,
}

pub struct MirrorRuntime {
    /// Written only by [`MirrorRuntime::write_state`].
    record: Mutex<MirrorRecord>,
    pub partitions: Mutex<Vec<PartitionStats>>,
    /// Cancels the running fetchers; replaced whenever they are restarted.
    pub fetchers: Mutex<Option<CancellationToken>>,
    /// Bytes and records the fetchers appended to this mirror topic.
    pub traffic: FetchTraffic,
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
            traffic: FetchTraffic::default(),
        }
    }

    pub fn record(&self) -> MirrorRecord {
        lock(&self.record).clone()
    }

    /// The one write path of a mirror's state: checks the move against the
    /// transition table, stores the record (with `reason`, the time of the
    /// change, and on STOPPED the source high watermarks last seen), then
    /// makes it current. Nothing changes when the move is refused or the
    /// store fails. The record stays locked throughout, so two moves never
    /// interleave.
    pub fn write_state(
        &self,
        store: &dyn MetadataStore,
        to: MirrorTopicState,
        reason: Option<String>,
        now_ms: i64,
    ) -> Result<MirrorRecord, MirrorStateError> {
        let mut current = lock(&self.record);
        let stored = check_move(&current.topic, current.state.into(), to)?;
        let mut record = current.clone();
        record.state = stored;
        record.state_time_ms = now_ms;
        record.reason = reason;
        if stored == MirrorState::Stopped {
            record.last_source_offsets = lock(&self.partitions)
                .iter()
                .map(|s| s.source_high_watermark)
                .collect();
        }
        store.put_mirror(record.clone())?;
        *current = record.clone();
        Ok(record)
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
    pub fn display_state(&self, link_paused: bool) -> MirrorTopicState {
        match self.state() {
            MirrorState::Active if link_paused => MirrorTopicState::LinkPaused,
            MirrorState::Active if self.source_unavailable() => MirrorTopicState::SourceUnavailable,
            stored => stored.into(),
        }
    }

    /// Every partition's lag at `now_ms`, measured as [`Self::describe`]
    /// measures it.
    pub fn partition_lags(&self, now_ms: i64, dest_leo: impl Fn(i32) -> i64) -> Vec<PartitionLag> {
        let record = self.record();
        // Copied out first: the fetchers' updates never wait for the log
        // end offset lookups.
        let seen: Vec<(i64, LagClock)> = lock(&self.partitions)
            .iter()
            .enumerate()
            .map(|(i, s)| (source_high_watermark(&record, i, s), s.lag_clock))
            .collect();
        seen.into_iter()
            .enumerate()
            .map(|(i, (source_hw, clock))| {
                let partition = i as i32;
                let records = (source_hw - dest_leo(partition)).max(0);
                PartitionLag {
                    partition,
                    records,
                    seconds: clock.lag_seconds(records, now_ms),
                }
            })
            .collect()
    }

    pub fn describe(
        &self,
        link_id: &str,
        link_paused: bool,
        verification_configured: bool,
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
                let source_hw = source_high_watermark(&record, i, s);
                let partition_state = match record.state {
                    MirrorState::Active if s.source_unavailable && !link_paused => {
                        MirrorTopicState::SourceUnavailable
                    }
                    _ => state,
                };
                MirrorPartitionDescription {
                    partition,
                    state: partition_state.as_str().to_string(),
                    dest_log_end_offset: leo,
                    last_fetch_source_high_watermark: source_hw,
                    lag: (source_hw - leo).max(0),
                    time_since_last_fetch_ms: if s.last_fetch_ms == 0 {
                        -1
                    } else {
                        (now_ms - s.last_fetch_ms).max(0)
                    },
                    verification: verification_configured.then(|| s.verification.status()),
                }
            })
            .collect();
        MirrorDescription {
            mirror_topic: record.topic.clone(),
            source_topic: record.source_topic.clone(),
            link_name: record.link.clone(),
            link_id: link_id.to_string(),
            state: state.as_str().to_string(),
            state_time_ms: record.state_time_ms,
            reason: record.reason.clone(),
            partitions,
        }
    }
}

/// The source high watermark partition `i` is measured against: the last
/// one a fetch saw, or before any fetch the one kept when the mirror stopped.
fn source_high_watermark(record: &MirrorRecord, i: usize, s: &PartitionStats) -> i64 {
    if s.last_fetch_ms == 0 {
        record
            .last_source_offsets
            .get(i)
            .copied()
            .unwrap_or(s.source_high_watermark)
    } else {
        s.source_high_watermark
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lag::FetchedBatches;
    use crate::mirror_state::MirrorTopicState;
    use strait_metadata::MetadataStore;

    fn mirror(state: MirrorState) -> MirrorRuntime {
        MirrorRuntime::new(
            MirrorRecord {
                topic: "m".into(),
                link: "dr".into(),
                source_topic: "s".into(),
                source_topic_id: None,
                state,
                state_time_ms: 0,
                reason: None,
                last_source_offsets: vec![],
                local_overrides: vec![],
            },
            2,
        )
    }

    fn store() -> (tempfile::TempDir, strait_metadata::EmbeddedStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = strait_metadata::EmbeddedStore::open(&dir.path().join("meta.redb")).unwrap();
        (dir, store)
    }

    /// Every stored state to every state: the write path stores exactly the
    /// moves the table allows, and leaves memory and store alone otherwise.
    #[test]
    fn the_write_path_follows_the_transition_table() {
        use crate::mirror_state::{MirrorStateError, MirrorTopicState, allowed};
        let stored_states = [
            MirrorState::Active,
            MirrorState::Paused,
            MirrorState::PendingStopped,
            MirrorState::Stopped,
            MirrorState::Failed,
        ];
        for from in stored_states {
            for to in MirrorTopicState::ALL {
                let (_dir, store) = store();
                let m = mirror(from);
                let outcome = m.write_state(&store, to, Some("why".into()), 42);
                let from_state = MirrorTopicState::from(from);
                match outcome {
                    Ok(record) => {
                        assert!(allowed(from_state, to), "{from_state} -> {to}");
                        assert_eq!(MirrorTopicState::from(record.state), to);
                        assert_eq!(
                            (record.state_time_ms, record.reason.as_deref()),
                            (42, Some("why"))
                        );
                        assert_eq!(m.record(), record);
                        assert_eq!(store.mirror("m"), Some(record));
                    }
                    Err(MirrorStateError::Refused { .. }) => {
                        assert!(!allowed(from_state, to), "{from_state} -> {to}");
                        assert_eq!(m.state(), from);
                        assert_eq!(store.mirror("m").map(|r| r.state), None);
                    }
                    Err(MirrorStateError::NotStored { .. }) => {
                        assert!(allowed(from_state, to) && to.stored().is_none());
                        assert_eq!(m.state(), from);
                        assert_eq!(store.mirror("m").map(|r| r.state), None);
                    }
                    Err(e) => panic!("{from_state} -> {to}: {e}"),
                }
            }
        }
    }

    #[test]
    fn stopping_keeps_the_source_high_watermarks_last_seen() {
        let (_dir, store) = store();
        let m = mirror(MirrorState::Active);
        m.update_partition(0, |s| s.source_high_watermark = 7);
        m.update_partition(1, |s| s.source_high_watermark = 9);
        let record = m
            .write_state(&store, MirrorTopicState::Stopped, None, 1)
            .unwrap();
        assert_eq!(record.last_source_offsets, vec![7, 9]);
        assert_eq!(store.mirror("m").unwrap().last_source_offsets, vec![7, 9]);
    }

    #[test]
    fn partition_lags_match_describe_and_grow_while_paused() {
        let m = mirror(MirrorState::Paused);
        let batches = FetchedBatches {
            records: 10,
            newest_timestamp: Some(5_000),
            next_batch_timestamp: Some(6_000),
        };
        m.update_partition(1, |s| {
            s.source_high_watermark = 15;
            s.dest_log_end_offset = 10;
            s.last_fetch_ms = 7_000;
            s.lag_clock.after_fetch(6_900, &batches, true, 10, 15);
        });
        let leo = |p: i32| if p == 1 { 10 } else { 0 };
        let described = m.describe("id", false, false, 8_000, leo);
        let lags = m.partition_lags(8_000, leo);
        for (d, l) in described.partitions.iter().zip(&lags) {
            assert_eq!(d.lag, l.records);
        }
        assert_eq!(lags[1].records, 5);
        assert_eq!(lags[1].seconds, 2.0);
        assert_eq!(lags[0].seconds, 0.0);
        assert_eq!(m.partition_lags(68_000, leo)[1].seconds, 62.0);
    }
}
