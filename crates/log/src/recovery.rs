//! Opening a partition directory: turns whatever a clean shutdown or a crash left on disk into
//! a consistent log.
//!
//! Owns the open-time sequence: sweep temporary and orphaned files, drop segments below the
//! checkpointed log start offset, validate (CRC) every segment from the recovery point on when
//! the clean-shutdown marker is missing and truncate the first torn or corrupt batch, check or
//! rebuild indexes elsewhere, and rebuild producer and transaction state from the newest
//! snapshot plus a header scan. It must never accept an append or serve a read; and it must
//! never delete data that a clean shutdown or flush recorded as valid except at a detected
//! corruption.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::aborted_txns::{AbortedTxnIndex, AbortedTxnRecord};
use crate::batch::read_txn_marker;
use crate::checkpoint::{OffsetsCheckpoint, TMP_SUFFIX, clean_shutdown_marked, sync_dir};
use crate::config::LogConfig;
use crate::error::LogError;
use crate::producer_state::ProducerStateTable;
use crate::segment::{OpenCheck, Segment, index_file_name, time_index_file_name};
use crate::segments::SegmentSet;
use crate::snapshot::{self, SNAPSHOT_EXTENSION, snapshot_file_name};

/// The in-memory state of a freshly opened log.
#[derive(Debug)]
pub(crate) struct LoadedLog {
    pub segments: SegmentSet,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    pub recovery_point: i64,
    pub producers: ProducerStateTable,
    pub aborted: AbortedTxnIndex,
    /// Offsets of the snapshot files left in the directory, ascending.
    pub snapshot_offsets: Vec<i64>,
}

/// Parses `{offset:020}.{extension}`.
pub(crate) fn offset_from_file_name(name: &str, extension: &str) -> Option<i64> {
    let stem = name.strip_suffix(extension)?.strip_suffix('.')?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

fn remove_if_exists(path: &Path) -> Result<(), LogError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LogError::file(path, e)),
    }
}

fn delete_segment_files(dir: &Path, base: i64) -> Result<(), LogError> {
    remove_if_exists(&dir.join(crate::segment::log_file_name(base)))?;
    remove_if_exists(&dir.join(index_file_name(base)))?;
    remove_if_exists(&dir.join(time_index_file_name(base)))
}

struct DirListing {
    log_bases: Vec<i64>,
    index_bases: Vec<i64>,
    snapshot_offsets: Vec<i64>,
}

fn list_dir(dir: &Path) -> Result<DirListing, LogError> {
    let mut listing = DirListing {
        log_bases: Vec::new(),
        index_bases: Vec::new(),
        snapshot_offsets: Vec::new(),
    };
    for entry in fs::read_dir(dir).map_err(|e| LogError::file(dir, e))? {
        let entry = entry.map_err(|e| LogError::file(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(TMP_SUFFIX) || name.ends_with(crate::compact::CLEANED_SUFFIX) {
            remove_if_exists(&entry.path())?;
        } else if let Some(base) = offset_from_file_name(name, "log") {
            listing.log_bases.push(base);
        } else if let Some(base) = offset_from_file_name(name, "index")
            .or_else(|| offset_from_file_name(name, "timeindex"))
        {
            listing.index_bases.push(base);
        } else if let Some(offset) = offset_from_file_name(name, SNAPSHOT_EXTENSION) {
            listing.snapshot_offsets.push(offset);
        }
    }
    listing.log_bases.sort_unstable();
    listing.snapshot_offsets.sort_unstable();
    Ok(listing)
}

/// Opens `dir` (which must exist) and recovers it as needed.
pub(crate) fn load(dir: &Path, config: &LogConfig) -> Result<LoadedLog, LogError> {
    let clean = clean_shutdown_marked(dir);
    let checkpoint = OffsetsCheckpoint::read(dir)?;
    let listing = list_dir(dir)?;
    for base in &listing.index_bases {
        if listing.log_bases.binary_search(base).is_err() {
            remove_if_exists(&dir.join(index_file_name(*base)))?;
            remove_if_exists(&dir.join(time_index_file_name(*base)))?;
        }
    }
    let checkpoint_start = checkpoint.map_or(0, |c| c.log_start_offset);
    let mut bases = listing.log_bases;
    // Segments wholly below the checkpointed log start were being deleted: finish the job.
    while bases.len() > 1 && bases[1] <= checkpoint_start {
        delete_segment_files(dir, bases[0])?;
        bases.remove(0);
    }

    let recovery_point = if clean {
        i64::MAX
    } else {
        checkpoint.map_or(0, |c| c.recovery_point)
    };
    if !clean && !bases.is_empty() {
        tracing::info!(dir = %dir.display(), recovery_point, "no clean shutdown marker: recovering");
    }

    let mut segments: Vec<Arc<Segment>> = Vec::with_capacity(bases.len());
    let mut recovered_any = false;
    let mut log_end: Option<i64> = None;
    let mut i = 0;
    while i < bases.len() {
        let base = bases[i];
        let next_base = bases.get(i + 1).copied();
        let (segment, index_damaged) = Segment::open(dir, base)?;
        let unflushed = !clean && next_base.is_none_or(|n| n > recovery_point);
        let mut truncated_unflushed = false;
        let next_offset = if unflushed {
            let r = segment.recover(config.index_interval_bytes)?;
            recovered_any = true;
            truncated_unflushed = r.truncated_bytes > 0;
            r.next_offset
        } else {
            match segment.check_on_open(next_base, index_damaged)? {
                OpenCheck::Consistent { next_offset } => next_offset,
                OpenCheck::NeedsRecovery => {
                    tracing::warn!(path = %segment.log_path().display(), "inconsistent or missing index: rebuilding");
                    let r = segment.recover(config.index_interval_bytes)?;
                    recovered_any = true;
                    r.next_offset
                }
            }
        };
        log_end = Some(next_offset.unwrap_or(base));
        segments.push(Arc::new(segment));
        if truncated_unflushed && next_base.is_some() {
            // A torn batch in the middle of the unflushed tail: nothing after it can be
            // trusted to be contiguous.
            for later in &bases[i + 1..] {
                tracing::warn!(dir = %dir.display(), base = later, "deleting segment after a truncated one");
                delete_segment_files(dir, *later)?;
            }
            bases.truncate(i + 1);
        }
        i += 1;
    }

    let mut log_start = checkpoint_start;
    let mut log_end_offset = log_end.unwrap_or(checkpoint_start);
    if let Some(first) = segments.first() {
        log_start = log_start.max(first.base_offset());
    }
    if segments.is_empty() || log_start > log_end_offset {
        // Nothing on disk, or everything at and above the log start was lost: start afresh.
        for s in &segments {
            s.delete_files()?;
        }
        segments = vec![Arc::new(Segment::create(dir, log_start)?)];
        log_end_offset = log_start;
    }
    let segments = match SegmentSet::from_sorted(segments) {
        Some(s) => s,
        None => SegmentSet::single(Arc::new(Segment::create(dir, log_start)?)),
    };

    // Producer state: newest snapshot at or below the log end, then scan what follows.
    let mut snapshot_offsets = Vec::new();
    for offset in listing.snapshot_offsets {
        if offset > log_end_offset {
            remove_if_exists(&dir.join(snapshot_file_name(offset)))?;
        } else {
            snapshot_offsets.push(offset);
        }
    }
    let loaded = snapshot::load_latest(dir, &snapshot_offsets, log_end_offset);
    let (mut producers, aborted_records, scan_from) = match loaded {
        Some(s) => (s.producers, s.aborted, s.offset.max(log_start)),
        None => (ProducerStateTable::default(), Vec::new(), log_start),
    };
    let mut aborted = AbortedTxnIndex::from_records(aborted_records);
    if scan_from < log_end_offset {
        rebuild_producer_state(&segments, scan_from, &mut producers, &mut aborted)?;
    }
    aborted.truncate_before(log_start);

    if recovered_any {
        for s in segments.iter() {
            s.sync()?;
        }
        sync_dir(dir)?;
    }
    Ok(LoadedLog {
        segments,
        log_start_offset: log_start,
        log_end_offset,
        recovery_point: log_end_offset,
        producers,
        aborted,
        snapshot_offsets,
    })
}

/// Applies every batch from `from_offset` on to the producer state (headers only, plus the
/// marker record of control batches).
pub(crate) fn rebuild_producer_state(
    segments: &SegmentSet,
    from_offset: i64,
    producers: &mut ProducerStateTable,
    aborted: &mut AbortedTxnIndex,
) -> Result<(), LogError> {
    let start = segments.floor_index(from_offset).unwrap_or(0);
    for segment in segments.iter().skip(start) {
        segment.scan_from(from_offset.max(segment.base_offset()), |h, pos, cursor| {
            if h.last_offset() < from_offset || !h.has_producer_id() {
                return Ok(());
            }
            let marker = if h.is_control() {
                read_txn_marker(cursor.bytes(pos, h.size())?)
            } else {
                None
            };
            if let Some(txn) = producers.apply_replicated(h, marker)
                && txn.aborted
            {
                aborted.push(AbortedTxnRecord {
                    producer_id: txn.producer_id,
                    first_offset: txn.first_offset,
                    last_offset: txn.last_offset,
                });
            }
            Ok(())
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_parse() {
        assert_eq!(
            offset_from_file_name("00000000000000001000.log", "log"),
            Some(1000)
        );
        assert_eq!(
            offset_from_file_name("00000000000000001000.timeindex", "timeindex"),
            Some(1000)
        );
        assert_eq!(
            offset_from_file_name("00000000000000001000.timeindex", "index"),
            None
        );
        assert_eq!(offset_from_file_name("1000.log", "log"), None);
        assert_eq!(
            offset_from_file_name("0000000000000000100x.log", "log"),
            None
        );
        assert_eq!(offset_from_file_name("log.checkpoint", "log"), None);
    }
}
