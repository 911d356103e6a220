//! What a scrub of a closed segment finds: every batch re-read from disk and
//! checked (structure, offsets in order within the segment, CRC-32C over the
//! batch), so that a byte flipped after the batch was written and recovered
//! is found without a client asking for it.
//!
//! It owns the result types and the rule for what counts as a finding. It
//! must never change a segment: a finding is reported, and repairing it is
//! the caller's decision (a mirror can fetch the same bytes again from its
//! source; a leader's data has no second copy on a single node).

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
    /// What is wrong, for a log line.
    pub reason: String,
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
