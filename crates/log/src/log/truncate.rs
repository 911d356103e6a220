//! Truncating the tail of a log (Kafka's `UnifiedLog.truncateTo`): everything at and above an
//! offset goes, for a follower dropping a divergent tail (issue 12) and for truncate-and-restore
//! (issue 13).
//!
//! Owns the order of the steps and the `truncation-in-progress` marker that makes them
//! crash-safe: the target is written durably first, the recovery point is lowered to the base
//! of the segment being cut (so a crash makes recovery re-validate it and rebuild its indexes),
//! segments above are deleted newest first, the cut segment is shortened, then producer state,
//! the transaction index and the epoch cache are rebuilt as recovery does, and the marker goes
//! last. Opening a directory that still holds the marker redoes the truncation, which is
//! idempotent, so a crash at any step ends at the target and never below it. It must never cut
//! below the log start offset nor touch data below the target.

use std::sync::atomic::Ordering;

use super::{Log, WriterState, lock, remove_file_if_exists, write};
use crate::aborted_txns::AbortedTxnIndex;
use crate::checkpoint::{self, write_atomically};
use crate::compact::CLEANER_CHECKPOINT;
use crate::error::LogError;
use crate::producer_state::ProducerStateTable;
use crate::recovery;
use crate::segments::SegmentSet;
use crate::snapshot::{self, snapshot_file_name};

/// The marker holding the target of a truncation under way.
pub(crate) const TRUNCATION_MARKER: &str = "truncation-in-progress";

/// Steps of a truncation, for tests that stop after one of them to simulate a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Step {
    MarkerWritten,
    RecoveryPointLowered,
    FirstSegmentDeleted,
    SegmentCut,
    StateRebuilt,
    EpochsTruncated,
    Done,
}

impl Log {
    /// Truncates the log to `offset` (Kafka's `truncateTo`): every batch holding an offset at
    /// or above it is removed, and the log end offset becomes `offset` when it is a batch
    /// boundary (as it is for a follower's divergence point), otherwise the end of the last
    /// whole batch below it — never above `offset`, and never below the log start offset,
    /// which stays. Producer state, the transaction index, the last stable offset and the
    /// high watermark follow, and the leader epoch cache is truncated from the end. An
    /// `offset` at or above the log end changes nothing. Fails with `OffsetOutOfRange` below
    /// the log start offset. Appends wait for it; a read that took the segment set before it
    /// may fail on a removed file, as a read racing retention can.
    pub fn truncate_to(&self, offset: i64) -> Result<(), LogError> {
        self.truncate_to_until(offset, Step::Done)
    }

    pub(crate) fn truncate_to_until(&self, target: i64, stop_after: Step) -> Result<(), LogError> {
        let mut w = lock(&self.writer);
        self.ensure_open()?;
        let _no_flush = lock(&self.offsets.flush_lock);
        let log_start = self.offsets.log_start.load(Ordering::Acquire);
        let log_end = self.offsets.log_end.load(Ordering::Acquire);
        if target < log_start {
            return Err(LogError::OffsetOutOfRange {
                offset: target,
                log_start_offset: log_start,
                log_end_offset: log_end,
            });
        }
        if target >= log_end {
            return remove_file_if_exists(&self.dir.join(TRUNCATION_MARKER));
        }

        write_atomically(
            &self.dir,
            TRUNCATION_MARKER,
            format!("0\n{target}\n").as_bytes(),
            true,
        )?;
        if stop_after == Step::MarkerWritten {
            return Ok(());
        }

        let segments = self.segments();
        let keep = segments.floor_index(target).unwrap_or(0);
        let Some(cut) = segments.get(keep).cloned() else {
            return Err(LogError::InvalidOffset {
                offset: target,
                log_end_offset: log_end,
            });
        };
        let lowered = self
            .offsets
            .recovery_point
            .load(Ordering::Acquire)
            .min(cut.base_offset());
        self.offsets
            .recovery_point
            .store(lowered, Ordering::Release);
        self.write_checkpoint()?;
        if stop_after == Step::RecoveryPointLowered {
            return Ok(());
        }

        // Where the cut segment ends: the first batch reaching `target` goes with all after it.
        let mut cut_at: Option<(u64, i64)> = None;
        let mut end_of_kept = cut.base_offset();
        cut.scan_until(cut.base_offset(), |h, pos, _| {
            if h.last_offset() >= target {
                cut_at = Some((pos, h.base_offset));
                return Ok(std::ops::ControlFlow::Break(()));
            }
            end_of_kept = h.next_offset();
            Ok(std::ops::ControlFlow::Continue(()))
        })?;
        let new_end = end_of_kept.max(log_start);

        // Readers see the new end before any byte goes.
        let kept: Vec<_> = segments.iter().take(keep + 1).cloned().collect();
        let removed: Vec<_> = segments.iter().skip(keep + 1).cloned().collect();
        let Some(set) = SegmentSet::from_sorted(kept) else {
            return Err(LogError::InvalidOffset {
                offset: target,
                log_end_offset: log_end,
            });
        };
        self.offsets.log_end.store(new_end, Ordering::Release);
        self.publish_segments(set);
        for (i, s) in removed.iter().rev().enumerate() {
            s.delete_files()?;
            if i == 0 && stop_after == Step::FirstSegmentDeleted {
                return Ok(());
            }
        }
        checkpoint::sync_dir(&self.dir)?;

        if let Some((position, _)) = cut_at {
            cut.cut_to(position)?;
            if stop_after == Step::SegmentCut {
                return Ok(());
            }
            cut.recover(self.config().index_interval_bytes)?;
            cut.sync()?;
        }

        self.rebuild_state_below(&mut w, log_start, new_end)?;
        if stop_after == Step::StateRebuilt {
            return Ok(());
        }

        self.with_epochs(|epochs| epochs.truncate_from_end(new_end))?;
        if stop_after == Step::EpochsTruncated {
            return Ok(());
        }

        self.offsets
            .recovery_point
            .store(new_end, Ordering::Release);
        self.write_checkpoint()?;
        remove_file_if_exists(&self.dir.join(TRUNCATION_MARKER))?;
        checkpoint::sync_dir(&self.dir)?;
        tracing::info!(dir = %self.dir.display(), target, log_end = new_end, "truncated the log");
        Ok(())
    }

    /// Producer state and the transaction index as recovery builds them for a log ending at
    /// `new_end`: snapshots above it go, the newest one left is loaded and the batches after
    /// it are scanned. The cleaner checkpoint goes too (its passes may cover removed offsets;
    /// without it compaction just treats everything as dirty again).
    fn rebuild_state_below(
        &self,
        w: &mut WriterState,
        log_start: i64,
        new_end: i64,
    ) -> Result<(), LogError> {
        let (keep, drop): (Vec<i64>, Vec<i64>) =
            w.snapshot_offsets.iter().partition(|&&o| o <= new_end);
        for o in drop {
            remove_file_if_exists(&self.dir.join(snapshot_file_name(o)))?;
        }
        w.snapshot_offsets = keep;
        let (mut producers, aborted_records, scan_from) =
            match snapshot::load_latest(&self.dir, &w.snapshot_offsets, new_end) {
                Some(s) => (s.producers, s.aborted, s.offset.max(log_start)),
                None => (ProducerStateTable::default(), Vec::new(), log_start),
            };
        let mut aborted = AbortedTxnIndex::from_records(aborted_records);
        if scan_from < new_end {
            recovery::rebuild_producer_state(
                &self.segments(),
                scan_from,
                &mut producers,
                &mut aborted,
            )?;
        }
        aborted.truncate_before(log_start);
        w.producers = producers;
        *write(&self.aborted) = aborted;
        self.publish_first_unstable(w);
        *lock(&self.cleaner) = None;
        remove_file_if_exists(&self.dir.join(CLEANER_CHECKPOINT))
    }

    /// On open: finishes a truncation a crash interrupted.
    pub(crate) fn finish_interrupted_truncation(&self) -> Result<(), LogError> {
        let path = self.dir.join(TRUNCATION_MARKER);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(LogError::file(&path, e)),
        };
        let mut lines = text.lines();
        let target = match (lines.next(), lines.next().map(|l| l.trim().parse::<i64>())) {
            (Some("0"), Some(Ok(target))) => target,
            _ => {
                // Written atomically, so a torn marker cannot exist; an unknown one is left
                // alone rather than guessed at.
                return Err(LogError::CorruptLog {
                    path,
                    position: 0,
                    reason: "unreadable truncation marker".into(),
                });
            }
        };
        let log_start = self.offsets.log_start.load(Ordering::Acquire);
        tracing::warn!(dir = %self.dir.display(), target, "finishing an interrupted truncation");
        self.truncate_to(target.max(log_start))
    }
}
