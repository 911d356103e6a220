//! What a scrub of a closed segment finds: every batch re-read from disk and
//! checked (structure, offsets in order within the segment, CRC-32C over the
//! batch), so that a byte flipped after the batch was written and recovered
//! is found without a client asking for it.
//!
//! It owns the result types, the rule for what counts as a finding, and
//! [`StoredBatch`], the header-level view of a stored batch that mirror
//! verification compares with the source. It must never change a segment:
//! a finding is reported, and repairing it is the caller's decision (a
//! mirror can fetch the same bytes again from its source and hand them to
//! `Log::repair_batch`; a leader's data has no second copy on a single
//! node).

use std::path::PathBuf;

/// One bad batch of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrubFinding {
    /// The segment file.
    pub path: PathBuf,
    /// The segment's base offset.
    pub segment_base_offset: i64,
    /// Byte position of the batch in the file.
    pub position: u64,
    /// The offsets the batch header claims (`-1` when the header itself is
    /// unreadable).
    pub base_offset: i64,
    pub last_offset: i64,
    /// What kind of fault it is.
    pub fault: ScrubFault,
    /// What is wrong, for a log line.
    pub reason: String,
}

/// The kind of a scrub finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrubFault {
    /// The header frames the batch but its bytes do not match its CRC: the
    /// same bytes from another copy can be written over it in place.
    CrcMismatch,
    /// The batch cannot be framed or its offsets are out of order: the walk
    /// stopped there, and no in-place repair applies.
    Structure,
}

/// A stored batch as its header describes it, and whether its bytes still
/// match the CRC in that header (CRC-32C recomputed over the bytes; no
/// record is decoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredBatch {
    pub base_offset: i64,
    pub last_offset: i64,
    pub record_count: i32,
    /// Bytes of the whole batch, header included.
    pub size: usize,
    /// The CRC stored in the header.
    pub crc: u32,
    /// Whether the bytes match `crc`.
    pub crc_valid: bool,
}

impl StoredBatch {
    /// The view of the one whole batch `bytes` (header parsed, CRC checked).
    pub fn of(header: &crate::batch::BatchHeader, bytes: &[u8]) -> StoredBatch {
        StoredBatch {
            base_offset: header.base_offset,
            last_offset: header.last_offset(),
            record_count: header.record_count,
            size: header.size(),
            crc: header.crc,
            crc_valid: crate::batch::crc_matches(bytes),
        }
    }
}

/// The outcome of scrubbing one segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentScrub {
    /// Bytes read from the file.
    pub bytes: u64,
    /// Batches whose CRC was checked.
    pub batches: u64,
    /// Bad batches, in file order. A structural fault ends the walk (the
    /// rest of the file cannot be framed), so it is always the last.
    pub findings: Vec<ScrubFinding>,
}
