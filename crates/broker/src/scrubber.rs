//! The background scrubber (`log.scrub.interval.ms`, off by default): every
//! interval it re-reads the closed segments of every partition and checks
//! every batch's CRC (`strait_log::Log::scrub_segment`), no faster than
//! `log.scrub.bytes.per.second`, so that a byte that rots on disk after a
//! clean shutdown is found before a consumer that does not check CRCs
//! (librdkafka's default) is handed it.
//!
//! It owns the pass loop, its rate limit and [`ScrubState`], the findings
//! as of each partition's last scrub, which it logs once when found and
//! once when gone, and which the metrics read. A CRC finding in a partition
//! of an attached mirror is repaired: the link engine fetches the same
//! offsets again from the source and, when the source's batch has the same
//! base offset, last offset and size and a valid CRC,
//! `strait_log::Log::repair_batch` writes it over the bad copy in place
//! ("repaired from source", counted in the metrics). It must never change a
//! log any other way, nor repair a regular topic: there a finding is
//! reported only (a leader's data has no second copy on a single node).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strait_link::LinkError;
use strait_log::{LogError, ScrubFault, ScrubFinding};

use crate::state::Broker;
use crate::topic_table::Partition;

/// `log.scrub.interval.ms`: time between the starts of two passes; `-1`
/// (the default) turns the scrubber off.
pub const INTERVAL_KEY: &str = "log.scrub.interval.ms";
/// `log.scrub.bytes.per.second`: the most a pass reads per second.
pub const RATE_KEY: &str = "log.scrub.bytes.per.second";
/// Its default: 20 MiB/s, a small share of a disk, so a pass never competes
/// with produce and fetch.
pub const RATE_DEFAULT: i64 = 20 * 1024 * 1024;

/// What the scrubber has found, and how much it has done.
#[derive(Debug, Default)]
pub struct ScrubState {
    /// Findings per partition, as of that partition's last scrub; only
    /// partitions with findings are kept.
    findings: Mutex<BTreeMap<(String, i32), Vec<ScrubFinding>>>,
    /// Bytes read and batches checked since the broker started.
    pub bytes: AtomicU64,
    pub batches: AtomicU64,
    /// Corrupt batches of mirror partitions repaired from their source
    /// since the broker started.
    pub repaired: AtomicU64,
    /// Passes completed since the broker started.
    pub passes: AtomicU64,
    /// Wall-clock ms the last pass ended (0 = none yet).
    pub last_pass_end_ms: AtomicI64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ScrubState {
    /// Every partition with findings, in name order.
    pub fn findings(&self) -> Vec<((String, i32), Vec<ScrubFinding>)> {
        lock(&self.findings)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Whether the last scrub of `topic`-`partition` already found `f`.
    fn known(&self, topic: &str, partition: i32, f: &ScrubFinding) -> bool {
        lock(&self.findings)
            .get(&(topic.to_string(), partition))
            .is_some_and(|all| all.contains(f))
    }

    /// Records what the last scrub of `topic`-`partition` found, logging
    /// each finding that is new and saying when none is left.
    fn record(&self, topic: &str, partition: i32, found: Vec<ScrubFinding>) {
        let key = (topic.to_string(), partition);
        let mut all = lock(&self.findings);
        let known = |f: &ScrubFinding| all.get(&key).is_some_and(|before| before.contains(f));
        for f in found.iter().filter(|f| !known(f)) {
            tracing::error!(
                "log scrub: partition {topic}-{partition}: batch at position {} of {} \
                 (offsets {}..={}) is corrupt: {}",
                f.position,
                f.path.display(),
                f.base_offset,
                f.last_offset,
                f.reason
            );
        }
        if found.is_empty() {
            if all.remove(&key).is_some() {
                tracing::info!(
                    "log scrub: partition {topic}-{partition} has no corrupt batch any more"
                );
            }
        } else {
            all.insert(key, found);
        }
    }

    /// Drops the findings of partitions that no longer exist.
    fn retain(&self, live: &std::collections::BTreeSet<(String, i32)>) {
        lock(&self.findings).retain(|k, _| live.contains(k));
    }
}

/// The scrubber's settings, from the broker's properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrubConfig {
    pub interval: Duration,
    pub bytes_per_second: u64,
}

impl ScrubConfig {
    /// `None` when `log.scrub.interval.ms` is unset or `-1`. Values were
    /// range-checked when the configuration was loaded.
    pub fn from_properties(props: &BTreeMap<String, String>) -> Option<ScrubConfig> {
        let interval: i64 = props.get(INTERVAL_KEY)?.trim().parse().ok()?;
        if interval < 0 {
            return None;
        }
        let rate = props
            .get(RATE_KEY)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(RATE_DEFAULT);
        Some(ScrubConfig {
            interval: Duration::from_millis(interval.max(1) as u64),
            bytes_per_second: rate.max(1) as u64,
        })
    }
}

/// Keeps reads under a rate: after `bytes` more, sleeps until the total
/// read since `start` is no more than the rate allows.
struct Throttle {
    start: tokio::time::Instant,
    bytes: u64,
    per_second: u64,
}

impl Throttle {
    fn new(per_second: u64) -> Self {
        Throttle {
            start: tokio::time::Instant::now(),
            bytes: 0,
            per_second,
        }
    }

    async fn consumed(&mut self, bytes: u64) {
        self.bytes += bytes;
        let due = Duration::from_secs_f64(self.bytes as f64 / self.per_second as f64);
        let elapsed = self.start.elapsed();
        if due > elapsed {
            tokio::time::sleep(due - elapsed).await;
        }
    }
}

/// Runs passes until the broker stops: one at start-up, then one every
/// `interval` (right away when a pass took longer).
pub async fn run(broker: Arc<Broker>, config: ScrubConfig) {
    tracing::info!(
        "log scrub: every {} ms, at most {} bytes/s",
        config.interval.as_millis(),
        config.bytes_per_second
    );
    loop {
        let started = tokio::time::Instant::now();
        pass(&broker, config.bytes_per_second).await;
        let next = started + config.interval;
        tokio::time::sleep_until(next).await;
    }
}

/// One pass over every partition's closed segments.
async fn pass(broker: &Arc<Broker>, bytes_per_second: u64) {
    let state = &broker.scrub;
    let mut throttle = Throttle::new(bytes_per_second);
    let mut topics = broker.topics.all();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let mut live = std::collections::BTreeSet::new();
    for topic in topics {
        for p in &topic.partitions {
            live.insert((p.topic.clone(), p.index));
            let mut found = Vec::new();
            for base in p.log.closed_segment_base_offsets() {
                let partition = p.clone();
                let scrubbed =
                    tokio::task::spawn_blocking(move || partition.log.scrub_segment(base)).await;
                match scrubbed {
                    Ok(Ok(Some(s))) => {
                        state.bytes.fetch_add(s.bytes, Ordering::Relaxed);
                        state.batches.fetch_add(s.batches, Ordering::Relaxed);
                        found.extend(s.findings);
                        throttle.consumed(s.bytes).await;
                    }
                    // Retention or compaction replaced the segment meanwhile.
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => p.storage_failed("scrub", &e),
                    Err(e) => tracing::error!("log scrub of {}-{} failed: {e}", p.topic, p.index),
                }
            }
            let found = if broker.is_read_only_mirror(&p.topic) {
                repair_from_source(broker, p, found).await
            } else {
                found
            };
            state.record(&p.topic, p.index, found);
        }
    }
    state.retain(&live);
    state.passes.fetch_add(1, Ordering::Relaxed);
    state
        .last_pass_end_ms
        .store(Broker::now_ms(), Ordering::Relaxed);
}

/// Why a corrupt batch of a mirror partition was not repaired.
#[derive(Debug, thiserror::Error)]
enum RepairError {
    #[error("the link engine is not running")]
    NoEngine,
    #[error("only a batch with a bad CRC is repaired in place")]
    NotCrcFault,
    #[error(transparent)]
    Source(#[from] LinkError),
    #[error(transparent)]
    Write(#[from] LogError),
    #[error("the repair task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Repairs what it can of a mirror partition's findings from the source;
/// returns the findings that are left. A failed repair is logged once per
/// finding, as the finding is.
async fn repair_from_source(
    broker: &Arc<Broker>,
    partition: &Arc<Partition>,
    found: Vec<ScrubFinding>,
) -> Vec<ScrubFinding> {
    let mut left = Vec::new();
    for f in found {
        match repair_one(broker, partition, &f).await {
            Ok(()) => {
                broker.scrub.repaired.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "log scrub: partition {}-{}: batch at position {} of {} (offsets {}..={}) was corrupt ({}); repaired from source",
                    partition.topic,
                    partition.index,
                    f.position,
                    f.path.display(),
                    f.base_offset,
                    f.last_offset,
                    f.reason
                );
            }
            Err(e) => {
                if !broker.scrub.known(&partition.topic, partition.index, &f) {
                    tracing::warn!(
                        "log scrub: partition {}-{}: batch at position {} of {} (offsets {}..={}) not repaired from source: {e}",
                        partition.topic,
                        partition.index,
                        f.position,
                        f.path.display(),
                        f.base_offset,
                        f.last_offset
                    );
                }
                left.push(f);
            }
        }
    }
    left
}

/// Fetches the finding's batch again from the source and writes it over
/// the bad copy (the log checks offsets, size and CRC first).
async fn repair_one(
    broker: &Arc<Broker>,
    partition: &Arc<Partition>,
    f: &ScrubFinding,
) -> Result<(), RepairError> {
    if f.fault != ScrubFault::CrcMismatch {
        return Err(RepairError::NotCrcFault);
    }
    let engine = broker.links.get().ok_or(RepairError::NoEngine)?;
    let bytes = engine
        .refetch_source_batch(
            &partition.topic,
            partition.index,
            f.base_offset,
            f.last_offset,
        )
        .await?;
    let (p, segment, position) = (partition.clone(), f.segment_base_offset, f.position);
    tokio::task::spawn_blocking(move || p.log.repair_batch(segment, position, &bytes)).await??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(position: u64) -> ScrubFinding {
        ScrubFinding {
            path: "/d/00000000000000000000.log".into(),
            segment_base_offset: 0,
            position,
            base_offset: 5,
            last_offset: 9,
            fault: strait_log::ScrubFault::CrcMismatch,
            reason: "CRC mismatch".into(),
        }
    }

    #[test]
    fn findings_are_kept_per_partition_until_a_clean_scrub() {
        let state = ScrubState::default();
        state.record("t", 0, vec![finding(100)]);
        state.record("t", 1, vec![]);
        assert_eq!(state.findings().len(), 1);
        assert_eq!(state.findings()[0].0, ("t".to_string(), 0));
        state.record("t", 0, vec![finding(100), finding(200)]);
        assert_eq!(state.findings()[0].1.len(), 2);
        state.record("t", 0, vec![]);
        assert!(state.findings().is_empty());
        state.record("gone", 0, vec![finding(1)]);
        state.retain(&Default::default());
        assert!(state.findings().is_empty());
    }

    #[test]
    fn configuration_is_off_unless_an_interval_is_set() {
        let mut props = BTreeMap::new();
        assert_eq!(ScrubConfig::from_properties(&props), None);
        props.insert(INTERVAL_KEY.to_string(), "-1".to_string());
        assert_eq!(ScrubConfig::from_properties(&props), None);
        props.insert(INTERVAL_KEY.to_string(), "60000".to_string());
        let c = ScrubConfig::from_properties(&props).unwrap();
        assert_eq!(c.interval, Duration::from_secs(60));
        assert_eq!(c.bytes_per_second, RATE_DEFAULT as u64);
        props.insert(RATE_KEY.to_string(), "1024".to_string());
        assert_eq!(
            ScrubConfig::from_properties(&props)
                .unwrap()
                .bytes_per_second,
            1024
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_throttle_holds_reads_to_the_rate() {
        let start = tokio::time::Instant::now();
        let mut t = Throttle::new(1000);
        t.consumed(500).await;
        t.consumed(1500).await;
        assert!(start.elapsed() >= Duration::from_secs(2));
        assert!(start.elapsed() < Duration::from_millis(2100));
    }
}
