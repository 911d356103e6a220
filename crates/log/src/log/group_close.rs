//! Closing many logs together: the steps of [`Log::close`] without their
//! per-file fsyncs, for a caller that puts one filesystem-wide sync
//! ([`crate::sync_filesystem`]) between the steps. Ten thousand partitions then
//! cost three syncs instead of several fsyncs each.
//!
//! The order is what keeps a crash between steps safe, as in `close`:
//! 1. [`Log::close_write_state`]: stop appends, write the producer snapshot;
//! 2. sync; [`Log::close_checkpoint`]: drop older snapshots, move the recovery
//!    point to the log end and write the checkpoint (the data is on disk now);
//! 3. sync; [`Log::close_mark_clean`]: write the clean-shutdown marker;
//! 4. sync.
//!
//! A step called out of order fails instead of writing a marker that lies.

use std::sync::atomic::Ordering;

use super::{Log, lock, read, wall_clock_ms};
use crate::checkpoint;
use crate::error::LogError;
use crate::snapshot;

impl Log {
    /// Step 1: refuses appends from now on and writes the producer snapshot at the log end
    /// (not fsynced).
    pub fn close_write_state(&self) -> Result<(), LogError> {
        let mut w = lock(&self.writer);
        self.closed.store(true, Ordering::Release);
        let segments = self.segments();
        segments.active().finish_time_index()?;
        let log_end = self.offsets.log_end.load(Ordering::Acquire);
        {
            let aborted = read(&self.aborted);
            snapshot::write(&self.dir, log_end, &w.producers, aborted.records(), false)?;
        }
        if !w.snapshot_offsets.contains(&log_end) {
            w.snapshot_offsets.push(log_end);
        }
        Ok(())
    }

    /// Step 2, after a filesystem sync: removes snapshots beyond those kept, sets the recovery
    /// point to the log end and writes the checkpoint (not fsynced). Background flushes stop.
    pub fn close_checkpoint(&self) -> Result<(), LogError> {
        if !self.closed.load(Ordering::Acquire) {
            return Err(LogError::CloseOutOfOrder(
                "close_checkpoint before close_write_state",
            ));
        }
        {
            let mut w = lock(&self.writer);
            self.prune_snapshots(&mut w)?;
        }
        let _flush = lock(&self.offsets.flush_lock);
        let log_end = self.offsets.log_end.load(Ordering::Acquire);
        let point = self.offsets.recovery_point.load(Ordering::Acquire);
        self.offsets
            .recovery_point
            .store(point.max(log_end), Ordering::Release);
        self.offsets
            .last_flush_ms
            .store(wall_clock_ms(), Ordering::Release);
        self.offsets.retired.store(true, Ordering::Release);
        self.offsets.write_checkpoint_with(false)
    }

    /// Step 3, after a filesystem sync: writes the clean-shutdown marker (not fsynced).
    pub fn close_mark_clean(&self) -> Result<(), LogError> {
        if !self.offsets.retired.load(Ordering::Acquire) {
            return Err(LogError::CloseOutOfOrder(
                "close_mark_clean before close_checkpoint",
            ));
        }
        checkpoint::mark_clean_shutdown_with(&self.dir, false)
    }
}
