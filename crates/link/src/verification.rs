//! Continuous verification of mirrors (`mirror.verification.interval.ms`):
//! when it runs, which range of a mirror partition each run checks, and
//! what each partition's last run found. A run picks up where the last one
//! ended (the source's log start may have moved past it: then it starts at
//! the overlap), and a partition that mismatched is checked again from its
//! first different offset, so its result stays MISMATCH until the copy is
//! repaired. It must never fetch, read a log or change a mirror: the
//! engine's integrity section does the I/O with the same comparison as
//! `kafka-mirrors --verify`.

use std::time::Duration;

use strait_protocol::admin::MirrorPartitionVerificationStatus;
use tokio::time::Instant;

/// What a partition's last verification run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerificationOutcome {
    /// The mirror matched its source up to the verified offset.
    Ok,
    /// The mirror first differs from its source at `offset`.
    Mismatch { offset: i64, reason: String },
    /// The run could not compare (the source did not answer, the log could
    /// not be read).
    Error { reason: String },
}

/// One mirror partition's continuous-verification record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartitionVerification {
    /// The next offset a run starts from: the end of the last matching
    /// range, or the first different offset of a mismatch (None before the
    /// first run: start at the log start).
    pub resume_from: Option<i64>,
    /// The last run's outcome (None before the first run).
    pub outcome: Option<VerificationOutcome>,
    /// The first different offset of the mismatch already logged, until a
    /// run finds the partition matching again.
    pub logged_mismatch: Option<i64>,
    /// Wall-clock ms of the last run (0: none yet).
    pub verified_ms: i64,
}

/// The offsets `from..to` one run compares: from the resume point (or the
/// log start), never before either side's log start, never past either
/// side's end.
pub fn run_range(
    resume_from: Option<i64>,
    local_start: i64,
    local_end: i64,
    source_start: i64,
    source_end: i64,
) -> (i64, i64) {
    let from = local_start
        .max(source_start)
        .max(resume_from.unwrap_or(i64::MIN));
    let to = local_end.min(source_end).max(from);
    (from, to)
}

impl PartitionVerification {
    /// Records a run over `from..to` and its outcome; returns whether the
    /// outcome is a mismatch newly found (to be logged once, not on every
    /// run that finds it again).
    pub fn record(&mut self, to: i64, outcome: VerificationOutcome, now_ms: i64) -> bool {
        self.verified_ms = now_ms;
        let newly_mismatched = match &outcome {
            VerificationOutcome::Ok => {
                self.resume_from = Some(to);
                self.logged_mismatch = None;
                false
            }
            VerificationOutcome::Mismatch { offset, .. } => {
                self.resume_from = Some(*offset);
                self.logged_mismatch.replace(*offset) != Some(*offset)
            }
            VerificationOutcome::Error { .. } => false,
        };
        self.outcome = Some(outcome);
        newly_mismatched
    }
}

impl PartitionVerification {
    /// The record as `--describe` and REST show it.
    pub fn status(&self) -> MirrorPartitionVerificationStatus {
        let last_verified_offset = self.resume_from.map_or(-1, |next| next - 1);
        let (result, first_different_offset, reason) = match &self.outcome {
            None => ("PENDING", None, None),
            Some(VerificationOutcome::Ok) => ("OK", None, None),
            Some(VerificationOutcome::Mismatch { offset, reason }) => {
                ("MISMATCH", Some(*offset), Some(reason.clone()))
            }
            Some(VerificationOutcome::Error { reason }) => ("ERROR", None, Some(reason.clone())),
        };
        MirrorPartitionVerificationStatus {
            last_verified_offset,
            result: result.to_string(),
            first_different_offset,
            reason,
            verified_time_ms: self.verified_ms,
        }
    }
}

/// When the next run of a link's continuous verification is due.
#[derive(Debug, Clone, Copy)]
pub struct VerificationSchedule {
    due: Instant,
}

impl VerificationSchedule {
    /// The schedule of a link's control loop started at `start`: the first
    /// run is due at once.
    pub fn starting_at(start: Instant) -> Self {
        VerificationSchedule { due: start }
    }

    /// Whether a run is due at `now` with the link's interval (None: off),
    /// and if so schedules the next one an interval (at least `floor`)
    /// later. While off the next run stays due, so turning it on runs at
    /// once.
    pub fn take_due(&mut self, now: Instant, interval: Option<Duration>, floor: Duration) -> bool {
        let Some(interval) = interval else {
            self.due = now;
            return false;
        };
        if now < self.due {
            return false;
        }
        self.due = now + interval.max(floor);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mismatch(offset: i64) -> VerificationOutcome {
        VerificationOutcome::Mismatch {
            offset,
            reason: "crc differs".into(),
        }
    }

    #[test]
    fn the_first_run_covers_the_overlap_of_both_logs() {
        assert_eq!(run_range(None, 0, 100, 0, 100), (0, 100));
        assert_eq!(run_range(None, 10, 100, 0, 90), (10, 90));
    }

    #[test]
    fn later_runs_resume_where_the_last_one_ended() {
        let mut v = PartitionVerification::default();
        let (from, to) = run_range(v.resume_from, 0, 100, 0, 100);
        assert!(!v.record(to, VerificationOutcome::Ok, 7));
        let (from2, to2) = run_range(v.resume_from, 0, 150, 0, 140);
        assert_eq!((from, from2, to2), (0, 100, 140));
    }

    #[test]
    fn a_source_log_start_past_the_resume_point_starts_at_the_overlap() {
        assert_eq!(run_range(Some(50), 0, 200, 120, 200), (120, 200));
        // Nothing new on either side: an empty range.
        assert_eq!(run_range(Some(200), 0, 200, 0, 180), (200, 200));
    }

    #[test]
    fn a_mismatch_is_reported_once_and_checked_again_from_its_offset() {
        let mut v = PartitionVerification::default();
        assert!(v.record(100, mismatch(42), 7));
        assert_eq!(v.resume_from, Some(42));
        assert!(!v.record(120, mismatch(42), 7));
        assert!(!v.record(
            120,
            VerificationOutcome::Error {
                reason: "source silent".into()
            },
            8
        ));
        assert_eq!(v.resume_from, Some(42));
        assert!(!v.record(120, mismatch(42), 7));
        // Repaired, then corrupt elsewhere: a new mismatch.
        assert!(!v.record(130, VerificationOutcome::Ok, 7));
        assert!(v.record(150, mismatch(140), 9));
        let status = v.status();
        assert_eq!(
            (status.last_verified_offset, status.result.as_str()),
            (139, "MISMATCH")
        );
        assert_eq!(
            (status.first_different_offset, status.verified_time_ms),
            (Some(140), 9)
        );
        assert_eq!(PartitionVerification::default().status().result, "PENDING");
    }

    #[tokio::test(start_paused = true)]
    async fn runs_are_due_every_interval_and_only_when_configured() {
        let floor = Duration::from_millis(200);
        let interval = Some(Duration::from_millis(500));
        let mut schedule = VerificationSchedule::starting_at(Instant::now());
        assert!(!schedule.take_due(Instant::now(), None, floor));
        assert!(schedule.take_due(Instant::now(), interval, floor));
        tokio::time::advance(Duration::from_millis(499)).await;
        assert!(!schedule.take_due(Instant::now(), interval, floor));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(schedule.take_due(Instant::now(), interval, floor));
        // Turned off, then on again: due at once.
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(!schedule.take_due(Instant::now(), None, floor));
        assert!(schedule.take_due(Instant::now(), interval, floor));
        // A tiny interval runs no more often than the floor.
        let tiny = Some(Duration::from_millis(1));
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(schedule.take_due(Instant::now(), tiny, floor));
        tokio::time::advance(Duration::from_millis(199)).await;
        assert!(!schedule.take_due(Instant::now(), tiny, floor));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(schedule.take_due(Instant::now(), tiny, floor));
    }
}
