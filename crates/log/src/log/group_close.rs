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

use super::{Log, lock, wall_clock_ms};
use crate::checkpoint;
use crate::error::LogError;

impl Log {
    /// Step 1: refuses appends from now on and writes the producer snapshot at the log end
    /// (not fsynced).
    pub fn close_write_state(&self) -> Result<(), LogError> {
        let mut w = lock(&self.writer);
        let segments = self.write_close_state(&mut w, false)?;
        // Closing thousands of logs must not hold a descriptor per file: the filesystem
        // sync that follows needs none, and reads reopen what they use.
        for segment in segments.iter() {
            segment.release_files();
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

#[cfg(test)]
mod tests {
    use kafka_protocol::records::Compression;

    use super::*;
    use crate::batch::tests::encode_batch;
    use crate::config::LogConfig;
    use crate::sync_filesystem;

    #[test]
    fn a_group_close_reopens_clean_with_every_record() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open_unsynced(dir.path(), LogConfig::default()).unwrap();
        sync_filesystem(dir.path()).unwrap();
        for i in 0..5 {
            let batch = encode_batch(3, 1000 + i, None, false, Compression::None);
            log.append_leader(&batch, 2000).unwrap();
        }
        log.close_write_state().unwrap();
        assert!(matches!(
            log.append_leader(&encode_batch(1, 1, None, false, Compression::None), 1),
            Err(LogError::Closed)
        ));
        sync_filesystem(dir.path()).unwrap();
        log.close_checkpoint().unwrap();
        sync_filesystem(dir.path()).unwrap();
        log.close_mark_clean().unwrap();
        sync_filesystem(dir.path()).unwrap();
        assert!(checkpoint::clean_shutdown_marked(dir.path()));
        drop(log);
        let reopened = Log::open(dir.path(), LogConfig::default()).unwrap();
        assert_eq!(reopened.log_end_offset(), 15);
        assert_eq!(reopened.offsets.recovery_point.load(Ordering::Acquire), 15);
    }

    #[test]
    fn a_created_log_takes_appends_and_reopens_and_never_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::create_unsynced(dir.path(), LogConfig::default()).unwrap();
        assert_eq!(log.log_end_offset(), 0);
        let batch = encode_batch(4, 1000, None, false, Compression::None);
        log.append_leader(&batch, 2000).unwrap();
        log.close().unwrap();
        drop(log);
        // Over an existing log it opens, keeping every record.
        let again = Log::create_unsynced(dir.path(), LogConfig::default()).unwrap();
        assert_eq!(again.log_end_offset(), 4);
        drop(again);
        let reopened = Log::open(dir.path(), LogConfig::default()).unwrap();
        assert_eq!(reopened.log_end_offset(), 4);
    }

    #[test]
    fn steps_out_of_order_write_no_clean_marker() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(dir.path(), LogConfig::default()).unwrap();
        assert!(matches!(
            log.close_checkpoint(),
            Err(LogError::CloseOutOfOrder(_))
        ));
        log.close_write_state().unwrap();
        assert!(matches!(
            log.close_mark_clean(),
            Err(LogError::CloseOutOfOrder(_))
        ));
        assert!(!checkpoint::clean_shutdown_marked(dir.path()));
    }
}
