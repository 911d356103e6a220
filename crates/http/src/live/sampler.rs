//! The live page's lag history: every [`SAMPLE_INTERVAL`] the sampler
//! task takes each mirror's total lag in records and its largest lag in
//! seconds from the link engine, into a bounded ring per mirror holding
//! [`HISTORY_WINDOW`]; mirrors that are gone are dropped, and at most
//! [`MAX_MIRRORS`] mirrors (the first by topic name) are kept, so memory
//! stays bounded however many mirrors there are. Kept on the server so a
//! page opened just now still draws the last 15 minutes.
//!
//! It only reads figures; it must never act on a link or a mirror.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use strait_link::MirrorStatus;

/// How often the sampler takes a sample.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);
/// How far back the history goes.
pub const HISTORY_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The most mirrors with a history; the others show their current lag only.
pub const MAX_MIRRORS: usize = 1000;

/// One sample of one mirror.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LagSample {
    /// Wall-clock ms the sample was taken at.
    pub time_ms: i64,
    /// The sum over the mirror's partitions.
    pub lag_records: i64,
    /// The largest over the mirror's partitions.
    pub max_lag_seconds: f64,
}

impl LagSample {
    /// The sample of `mirror` at `time_ms`.
    pub fn of(mirror: &MirrorStatus, time_ms: i64) -> Self {
        LagSample {
            time_ms,
            lag_records: mirror.partitions.iter().map(|p| p.records.max(0)).sum(),
            max_lag_seconds: mirror
                .partitions
                .iter()
                .map(|p| p.seconds)
                .fold(0.0, f64::max),
        }
    }
}

/// The samples of one mirror, oldest first.
#[derive(Debug)]
struct MirrorHistory {
    link: String,
    samples: VecDeque<LagSample>,
}

/// Every mirror's ring of samples, by topic.
#[derive(Debug)]
pub struct LagHistory {
    /// Samples kept per mirror.
    capacity: usize,
    max_mirrors: usize,
    mirrors: Mutex<BTreeMap<String, MirrorHistory>>,
}

impl Default for LagHistory {
    fn default() -> Self {
        Self::new(
            samples_in_window(SAMPLE_INTERVAL, HISTORY_WINDOW),
            MAX_MIRRORS,
        )
    }
}

/// How many samples taken every `interval` cover `window` (and one more,
/// so the oldest one reaches the window's start).
fn samples_in_window(interval: Duration, window: Duration) -> usize {
    let interval = interval.as_millis().max(1);
    usize::try_from(window.as_millis().div_ceil(interval)).unwrap_or(usize::MAX) + 1
}

impl LagHistory {
    pub fn new(capacity: usize, max_mirrors: usize) -> Self {
        LagHistory {
            capacity: capacity.max(1),
            max_mirrors,
            mirrors: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, MirrorHistory>> {
        self.mirrors.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one sample of every mirror in `mirrors` at `time_ms`; mirrors
    /// not in `mirrors` lose their history, and so does a topic that now
    /// mirrors through another link (it was deleted and created again).
    pub fn record(&self, time_ms: i64, mirrors: &[MirrorStatus]) {
        let mut by_topic: BTreeMap<&str, &MirrorStatus> = BTreeMap::new();
        for m in mirrors {
            by_topic.insert(m.topic.as_str(), m);
        }
        let current: BTreeMap<&str, &MirrorStatus> =
            by_topic.into_iter().take(self.max_mirrors).collect();
        let mut kept = self.lock();
        kept.retain(|topic, h| {
            current
                .get(topic.as_str())
                .is_some_and(|m| m.link == h.link)
        });
        for (topic, m) in current {
            let h = kept
                .entry(topic.to_string())
                .or_insert_with(|| MirrorHistory {
                    link: m.link.clone(),
                    samples: VecDeque::with_capacity(self.capacity),
                });
            while h.samples.len() >= self.capacity {
                h.samples.pop_front();
            }
            h.samples.push_back(LagSample::of(m, time_ms));
        }
    }

    /// The samples of every mirror taken after `after_ms` (all of them
    /// when `None`), oldest first, read under one lock so that every
    /// mirror answers up to the same sample.
    pub fn samples_after(&self, after_ms: Option<i64>) -> BTreeMap<String, Vec<LagSample>> {
        self.lock()
            .iter()
            .map(|(topic, h)| {
                let samples = h
                    .samples
                    .iter()
                    .filter(|s| after_ms.is_none_or(|after| s.time_ms > after))
                    .copied()
                    .collect();
                (topic.clone(), samples)
            })
            .collect()
    }

    /// How many mirrors have a history.
    pub fn mirror_count(&self) -> usize {
        self.lock().len()
    }
}

/// Samples `read()` into `history` every `interval` until the task is
/// dropped; `read` answers the wall-clock ms and the mirrors at that moment.
pub async fn run(
    history: Arc<LagHistory>,
    interval: Duration,
    read: impl Fn() -> (i64, Vec<MirrorStatus>) + Send + 'static,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let (now_ms, mirrors) = read();
        history.record(now_ms, &mirrors);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use strait_link::PartitionLag;

    use super::*;

    fn mirror(link: &str, topic: &str, lags: &[(i64, f64)]) -> MirrorStatus {
        MirrorStatus {
            link: link.into(),
            topic: topic.into(),
            state: "ACTIVE",
            source_topic: topic.into(),
            reason: None,
            fetched_bytes: 0,
            fetched_records: 0,
            verifications: vec![],
            partitions: lags
                .iter()
                .enumerate()
                .map(|(i, (records, seconds))| PartitionLag {
                    partition: i as i32,
                    records: *records,
                    seconds: *seconds,
                })
                .collect(),
        }
    }

    fn samples(h: &LagHistory, topic: &str, after_ms: Option<i64>) -> Vec<LagSample> {
        h.samples_after(after_ms).remove(topic).unwrap_or_default()
    }

    #[test]
    fn a_sample_sums_records_and_takes_the_largest_seconds() {
        let s = LagSample::of(&mirror("l", "t", &[(3, 1.5), (4, 9.0), (0, 0.0)]), 7);
        assert_eq!(
            s,
            LagSample {
                time_ms: 7,
                lag_records: 7,
                max_lag_seconds: 9.0
            }
        );
    }

    #[test]
    fn fifteen_minutes_of_five_second_samples() {
        assert_eq!(samples_in_window(SAMPLE_INTERVAL, HISTORY_WINDOW), 181);
    }

    #[test]
    fn rings_are_bounded_and_gone_mirrors_dropped() {
        let h = LagHistory::new(3, 2);
        for t in 0..5 {
            h.record(t, &[mirror("l", "a", &[(t, 0.0)]), mirror("l", "b", &[])]);
        }
        let a: Vec<i64> = samples(&h, "a", None)
            .iter()
            .map(|s| s.lag_records)
            .collect();
        assert_eq!(a, [2, 3, 4]);
        assert_eq!(samples(&h, "a", Some(3)).len(), 1);
        // At most two mirrors, the first by name.
        h.record(5, &[mirror("l", "c", &[]), mirror("l", "b", &[])]);
        assert_eq!(h.mirror_count(), 2);
        assert!(samples(&h, "a", None).is_empty());
        assert_eq!(samples(&h, "b", None).len(), 3);
        assert_eq!(samples(&h, "c", None).len(), 1);
        // A mirror that sorts first takes the place of the last one.
        h.record(
            6,
            &[
                mirror("l", "a", &[]),
                mirror("l", "b", &[]),
                mirror("l", "c", &[]),
            ],
        );
        assert_eq!(h.mirror_count(), 2);
        assert_eq!(
            (samples(&h, "a", None).len(), samples(&h, "c", None).len()),
            (1, 0)
        );
        // The same topic through another link starts again.
        h.record(7, &[mirror("other", "b", &[])]);
        assert_eq!(samples(&h, "b", None).len(), 1);
        h.record(8, &[]);
        assert_eq!(h.mirror_count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_sampler_samples_every_interval() {
        let history = Arc::new(LagHistory::new(4, 10));
        let lag = Arc::new(AtomicI64::new(0));
        let read_lag = lag.clone();
        let start = tokio::time::Instant::now();
        let task = tokio::spawn(run(history.clone(), SAMPLE_INTERVAL, move || {
            let ms = i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX);
            let lag = read_lag.fetch_add(10, Ordering::Relaxed);
            (ms, vec![mirror("l", "m", &[(lag, 0.5)])])
        }));
        // The first sample at once, then one per interval.
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(samples(&history, "m", None).len(), 1);
        tokio::time::sleep(SAMPLE_INTERVAL * 6).await;
        let taken = samples(&history, "m", None);
        let times: Vec<i64> = taken.iter().map(|s| s.time_ms).collect();
        assert_eq!(times, [15_000, 20_000, 25_000, 30_000]);
        let lags: Vec<i64> = taken.iter().map(|s| s.lag_records).collect();
        assert_eq!(lags, [30, 40, 50, 60]);
        task.abort();
    }
}
