//! How far behind its source a mirror partition is in time. A fetcher feeds
//! [`LagClock`] after every fetch round with what the round showed (the
//! batches it appended, the first source batch beyond them if the response
//! held its header, the source high watermark); the clock then answers the
//! lag in seconds at any later moment, so the figure keeps growing while the
//! mirror does not fetch (paused, source unreachable). It must never talk to
//! the source or read the mirror log: it only remembers what fetches saw.
//!
//! The lag is `now - T`, where `T` is the source append time of the oldest
//! record the mirror partition does not hold yet (0 when it holds everything
//! up to the source high watermark last seen). `T` is the max timestamp of
//! that record's batch when a fetch response showed the batch's header (a
//! batch the response cut short). Otherwise `T` is bounded from below by the
//! newest batch timestamp the mirror appended and by the send time of the
//! last fetch that found the mirror caught up: every record it lacks was
//! appended after both, so the figure may overstate the lag but never
//! understates it (with CreateTime topics the timestamps are the producers').
//! Only when neither is known (no append since the broker started and never
//! caught up) does `T` fall back to the first fetch that saw the mirror
//! behind.

use strait_log::{BatchHeader, HEADER_SIZE};

/// The record batches of one fetch response, as far as the lag clock and
/// the traffic counters need them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FetchedBatches {
    /// Records in the whole batches appended (control records included).
    pub records: u64,
    /// The largest max timestamp among them.
    pub newest_timestamp: Option<i64>,
    /// Max timestamp of the first batch after them, when the response held
    /// at least its header.
    pub next_batch_timestamp: Option<i64>,
}

/// A batch's max timestamp, when it has one (Kafka's NO_TIMESTAMP is -1).
fn timestamp_of(header: &BatchHeader) -> Option<i64> {
    (header.max_timestamp >= 0).then_some(header.max_timestamp)
}

/// Reads the batch headers of `raw` (a fetched record set) up to
/// `appended` bytes, the whole batches that were appended, and the header
/// of the batch that follows them, if `raw` holds it.
pub fn summarize(raw: &[u8], appended: usize) -> FetchedBatches {
    let appended = appended.min(raw.len());
    let mut out = FetchedBatches::default();
    let mut pos = 0usize;
    while pos < appended {
        let Some(header) = BatchHeader::parse(&raw[pos..appended]) else {
            break;
        };
        if header.magic == 2 {
            out.records += u64::try_from(header.record_count).unwrap_or(0);
            if let Some(ts) = timestamp_of(&header) {
                out.newest_timestamp = Some(out.newest_timestamp.map_or(ts, |n| n.max(ts)));
            }
        }
        let size = header.size();
        if size < HEADER_SIZE {
            break;
        }
        pos += size;
    }
    out.next_batch_timestamp = BatchHeader::parse(&raw[appended..])
        .filter(|h| h.magic == 2)
        .and_then(|h| timestamp_of(&h));
    out
}

/// What the fetches of one mirror partition learnt about source append
/// times (see the module documentation for how the lag follows from it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LagClock {
    /// The largest max timestamp of the batches appended since start.
    newest_held: Option<i64>,
    /// Max timestamp of the first source batch the mirror lacks, when a
    /// fetch response showed it.
    next_batch: Option<i64>,
    /// Send time (ms) of the last fetch that found the mirror caught up.
    caught_up_ms: Option<i64>,
    /// Send time (ms) of the first fetch that found the mirror behind since
    /// it was last caught up.
    behind_since_ms: Option<i64>,
}

impl LagClock {
    /// Takes in one fetch round: sent at `sent_ms`, it appended `batches`
    /// (`appended` is false when nothing was appended), leaving the mirror
    /// at `log_end` while the source's high watermark was `high_watermark`.
    pub fn after_fetch(
        &mut self,
        sent_ms: i64,
        batches: &FetchedBatches,
        appended: bool,
        log_end: i64,
        high_watermark: i64,
    ) {
        if let Some(ts) = batches.newest_timestamp {
            self.newest_held = Some(self.newest_held.map_or(ts, |n| n.max(ts)));
        }
        if log_end >= high_watermark {
            self.caught_up_ms = Some(sent_ms);
            self.next_batch = None;
            self.behind_since_ms = None;
            return;
        }
        // A batch seen earlier stays the first missing one until something
        // is appended.
        if appended || batches.next_batch_timestamp.is_some() {
            self.next_batch = batches.next_batch_timestamp;
        }
        self.behind_since_ms.get_or_insert(sent_ms);
    }

    /// The source append time (ms) of the oldest record the mirror lacks,
    /// as far as the fetches tell; `None` if they tell nothing.
    fn oldest_missing_ms(&self) -> Option<i64> {
        let from_data = self.next_batch.or(self.newest_held);
        match (from_data, self.caught_up_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (Some(a), None) => Some(a),
            (None, Some(b)) => Some(b),
            (None, None) => self.behind_since_ms,
        }
    }

    /// The lag in seconds at `now_ms` of a partition `lag_records` behind
    /// its source: 0 when it lacks nothing.
    pub fn lag_seconds(&self, lag_records: i64, now_ms: i64) -> f64 {
        if lag_records <= 0 {
            return 0.0;
        }
        match self.oldest_missing_ms() {
            Some(t) => (now_ms - t).max(0) as f64 / 1000.0,
            None => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v2 batch header (no records behind it unless `body` > 0) with the
    /// given base offset, record count and max timestamp.
    fn batch(base: i64, count: i32, max_ts: i64, body: usize) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_SIZE + body];
        b[0..8].copy_from_slice(&base.to_be_bytes());
        let length = (HEADER_SIZE - 12 + body) as i32;
        b[8..12].copy_from_slice(&length.to_be_bytes());
        b[16] = 2;
        b[23..27].copy_from_slice(&(count - 1).to_be_bytes());
        b[35..43].copy_from_slice(&max_ts.to_be_bytes());
        b[57..61].copy_from_slice(&count.to_be_bytes());
        b
    }

    #[test]
    fn summarize_counts_records_and_sees_the_cut_batch() {
        let mut raw = batch(0, 3, 1_000, 10);
        raw.extend(batch(3, 2, 1_500, 0));
        let appended = raw.len();
        let mut next = batch(5, 4, 2_000, 40);
        next.truncate(HEADER_SIZE + 5); // cut short by the fetch limits
        raw.extend(next);
        let s = summarize(&raw, appended);
        assert_eq!(s.records, 5);
        assert_eq!(s.newest_timestamp, Some(1_500));
        assert_eq!(s.next_batch_timestamp, Some(2_000));
        let alone = summarize(&raw[..appended], appended);
        assert_eq!(alone.next_batch_timestamp, None);
        assert_eq!(summarize(&[], 0), FetchedBatches::default());
    }

    fn seen(records: u64, newest: Option<i64>, next: Option<i64>) -> FetchedBatches {
        FetchedBatches {
            records,
            newest_timestamp: newest,
            next_batch_timestamp: next,
        }
    }

    #[test]
    fn caught_up_means_zero_whatever_the_time() {
        let mut c = LagClock::default();
        c.after_fetch(10_000, &seen(5, Some(9_000), None), true, 5, 5);
        assert_eq!(c.lag_seconds(0, 99_000), 0.0);
    }

    #[test]
    fn a_seen_batch_gives_the_exact_time_and_it_grows_while_paused() {
        let mut c = LagClock::default();
        c.after_fetch(10_000, &seen(5, Some(9_000), Some(9_500)), true, 5, 8);
        assert_eq!(c.lag_seconds(3, 12_500), 3.0);
        // No fetch for a minute (paused): the same record is still missing.
        assert_eq!(c.lag_seconds(3, 69_500), 60.0);
    }

    #[test]
    fn unseen_batches_are_bounded_by_held_data_and_the_last_catch_up() {
        let mut c = LagClock::default();
        // Caught up at 20 s with data from 19 s.
        c.after_fetch(20_000, &seen(1, Some(19_000), None), true, 10, 10);
        // An old burst arrives later; the next fetch appends part of it and
        // does not see the first missing batch's header.
        c.after_fetch(30_000, &seen(4, Some(15_000), None), true, 14, 40);
        // The missing records came after the 20 s catch-up: never less lag
        // than that, never an old producer timestamp.
        assert_eq!(c.lag_seconds(26, 31_000), 11.0);
    }

    #[test]
    fn a_backlog_never_caught_up_uses_the_newest_held_timestamp() {
        let mut c = LagClock::default();
        c.after_fetch(100_000, &seen(10, Some(1_000), None), true, 10, 1_000);
        c.after_fetch(100_100, &seen(10, Some(2_000), None), true, 20, 1_000);
        assert_eq!(c.lag_seconds(980, 102_000), 100.0);
    }

    #[test]
    fn a_seen_batch_stays_known_until_something_is_appended() {
        let mut c = LagClock::default();
        c.after_fetch(10_000, &seen(1, Some(8_000), Some(9_000)), true, 5, 9);
        c.after_fetch(11_000, &seen(0, None, None), false, 5, 9);
        assert_eq!(c.lag_seconds(4, 12_000), 3.0);
        c.after_fetch(12_000, &seen(2, Some(9_000), None), true, 7, 9);
        assert_eq!(c.lag_seconds(2, 12_000), 3.0);
    }

    #[test]
    fn nothing_known_falls_back_to_when_the_lag_was_first_seen() {
        let mut c = LagClock::default();
        assert_eq!(c.lag_seconds(5, 1_000), 0.0);
        c.after_fetch(4_000, &seen(0, None, None), false, 0, 5);
        c.after_fetch(5_000, &seen(0, None, None), false, 0, 5);
        assert_eq!(c.lag_seconds(5, 6_000), 2.0);
    }
}
