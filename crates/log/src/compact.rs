//! Log compaction (`cleanup.policy=compact`): the record-level half.
//!
//! Owns the cleaner checkpoint (how far the log has been cleaned, and when), the offset map of
//! the dirty range (key -> last offset), and rewriting one segment's batches keeping only the
//! records that survive. Rewritten batches keep their base offset, last offset delta, producer
//! id/epoch, base sequence, attributes and partition leader epoch; each kept record keeps its
//! offset and timestamp; the CRC is recomputed. Control batches and batches of aborted
//! transactions pass through untouched. It must never publish segments or touch the active
//! segment — `Log::compact` decides what to clean and swaps the results in.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::{self, Compressor};
use kafka_protocol::records::{Record, RecordBatchDecoder};

use crate::aborted_txns::AbortedTxnRecord;
use crate::batch::{BatchHeader, HEADER_SIZE, LOG_OVERHEAD, compute_crc, put_bytes, put_varint};
use crate::checkpoint::write_atomically;
use crate::error::LogError;
use crate::segment::Segment;

/// File holding the cleaner's progress: one `end_offset time_ms` line per cleaning pass.
pub(crate) const CLEANER_CHECKPOINT: &str = "cleaner.checkpoint";
/// Suffix of a segment log file being rewritten by the cleaner (removed on open).
pub(crate) const CLEANED_SUFFIX: &str = ".cleaned";
/// Passes remembered in the checkpoint (older ones only make tombstones live longer).
const MAX_PASSES: usize = 256;

/// What one `Log::compact` call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionStats {
    /// Segments rewritten.
    pub segments_cleaned: usize,
    /// Records removed (superseded values and expired tombstones).
    pub records_removed: u64,
    /// Bytes of the rewritten segments before cleaning.
    pub bytes_before: u64,
    /// Bytes of the rewritten segments after cleaning.
    pub bytes_after: u64,
    /// Offset below which the log is clean after this call (0 if the call did nothing).
    pub cleaned_up_to: i64,
}

/// The cleaner's progress: `(end_offset, time_ms)` of past passes, both ascending. A pass at
/// `time_ms` left every offset below `end_offset` clean.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CleanerCheckpoint {
    pub(crate) passes: Vec<(i64, i64)>,
}

impl CleanerCheckpoint {
    pub(crate) fn read(dir: &Path) -> Result<Self, LogError> {
        let path = dir.join(CLEANER_CHECKPOINT);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(LogError::file(&path, e)),
        };
        let mut passes = Vec::new();
        for line in text.lines() {
            let mut parts = line.split_whitespace();
            let parsed = parts
                .next()
                .and_then(|a| a.parse::<i64>().ok())
                .zip(parts.next().and_then(|b| b.parse::<i64>().ok()));
            match parsed {
                Some(p) => passes.push(p),
                None => {
                    // A damaged checkpoint only means cleaning again from the start.
                    tracing::warn!(path = %path.display(), "ignoring malformed cleaner checkpoint");
                    return Ok(Self::default());
                }
            }
        }
        Ok(CleanerCheckpoint { passes })
    }

    pub(crate) fn write(&self, dir: &Path) -> Result<(), LogError> {
        let mut text = String::new();
        for (end, time) in &self.passes {
            text.push_str(&format!("{end} {time}\n"));
        }
        write_atomically(dir, CLEANER_CHECKPOINT, text.as_bytes(), true)
    }

    /// First offset not yet cleaned.
    pub(crate) fn first_dirty(&self) -> i64 {
        self.passes.last().map_or(0, |p| p.0)
    }

    /// Tombstones below this offset were cleaned at least `delete_retention_ms` ago.
    pub(crate) fn tombstone_horizon(&self, now_ms: i64, delete_retention_ms: i64) -> i64 {
        let limit = now_ms.saturating_sub(delete_retention_ms.max(0));
        self.passes
            .iter()
            .filter(|p| p.1 <= limit)
            .map(|p| p.0)
            .max()
            .unwrap_or(i64::MIN)
    }

    /// Records a pass that left everything below `end` clean.
    pub(crate) fn record(&mut self, end: i64, now_ms: i64, delete_retention_ms: i64) {
        if self.passes.last().is_some_and(|p| p.0 >= end) {
            return;
        }
        let limit = now_ms.saturating_sub(delete_retention_ms.max(0));
        // Of the passes already past the retention, only the newest matters.
        let old = self.passes.iter().filter(|p| p.1 <= limit).count();
        if old > 1 {
            self.passes.drain(..old - 1);
        }
        self.passes.push((end, now_ms));
        while self.passes.len() > MAX_PASSES {
            self.passes.remove(0);
        }
    }
}

/// Whether the batch belongs to an aborted transaction.
pub(crate) fn is_aborted(header: &BatchHeader, aborted: &[AbortedTxnRecord]) -> bool {
    header.is_transactional()
        && aborted.iter().any(|a| {
            a.producer_id == header.producer_id
                && a.first_offset <= header.base_offset
                && header.base_offset <= a.last_offset
        })
}

fn corrupt(segment: &Segment, pos: u64, reason: String) -> LogError {
    LogError::CorruptLog {
        path: segment.log_path().to_path_buf(),
        position: pos,
        reason,
    }
}

fn decode(batch: &[u8]) -> Result<Vec<Record>, String> {
    let mut bytes = Bytes::copy_from_slice(batch);
    RecordBatchDecoder::decode(&mut bytes)
        .map(|set| set.records)
        .map_err(|e| e.to_string())
}

/// Adds the keys of the data records in `[from, to)` of `segment` to `map` (later offsets
/// win). Control batches and aborted transactions are skipped.
pub(crate) fn build_offset_map(
    segment: &Segment,
    from: i64,
    to: i64,
    aborted: &[AbortedTxnRecord],
    map: &mut HashMap<Bytes, i64>,
) -> Result<(), LogError> {
    segment.scan_from(from.max(segment.base_offset()), |h, pos, cursor| {
        if h.is_control() || h.last_offset() < from || h.base_offset >= to || is_aborted(h, aborted)
        {
            return Ok(());
        }
        let records = decode(cursor.bytes(pos, h.size())?).map_err(|r| corrupt(segment, pos, r))?;
        for r in records {
            if let Some(key) = r.key
                && r.offset >= from
                && r.offset < to
            {
                map.insert(key, r.offset);
            }
        }
        Ok(())
    })
}

/// What survives in one segment.
pub(crate) struct CleanedSegment {
    /// The new contents of the segment's log file.
    pub bytes: Vec<u8>,
    pub records_removed: u64,
}

/// Rules for one cleaning pass.
pub(crate) struct CleanRules<'a> {
    pub map: &'a HashMap<Bytes, i64>,
    /// Tombstones below this offset are removed.
    pub tombstone_horizon: i64,
    /// Last offset of each producer's last batch (kept even if all its records go).
    pub producer_last: &'a HashMap<i64, i64>,
    pub aborted: &'a [AbortedTxnRecord],
}

/// The segment's batches with superseded records and expired tombstones removed, or `None`
/// if nothing would be removed.
pub(crate) fn clean_segment(
    segment: &Segment,
    rules: &CleanRules<'_>,
) -> Result<Option<CleanedSegment>, LogError> {
    let mut out = Vec::with_capacity(segment.size() as usize);
    let mut removed = 0u64;
    let mut failure = None;
    segment.scan_from(segment.base_offset(), |h, pos, cursor| {
        let batch = cursor.bytes(pos, h.size())?;
        if h.is_control() || is_aborted(h, rules.aborted) {
            out.extend_from_slice(batch);
            return Ok(());
        }
        let records = decode(batch).map_err(|r| corrupt(segment, pos, r))?;
        let keep: Vec<&Record> = records
            .iter()
            .filter(|r| match &r.key {
                None => true,
                Some(k) => {
                    let superseded = rules.map.get(k).is_some_and(|&last| r.offset < last);
                    let expired_tombstone = r.value.is_none() && r.offset < rules.tombstone_horizon;
                    !superseded && !expired_tombstone
                }
            })
            .collect();
        if keep.len() == records.len() {
            out.extend_from_slice(batch);
            return Ok(());
        }
        if keep.is_empty() {
            if h.has_producer_id()
                && rules.producer_last.get(&h.producer_id) == Some(&h.last_offset())
            {
                // The producer's last batch carries its sequence state: keep it whole.
                out.extend_from_slice(batch);
            } else {
                removed += records.len() as u64;
            }
            return Ok(());
        }
        match rebuild_batch(h, &keep) {
            Ok(b) => {
                removed += (records.len() - keep.len()) as u64;
                out.extend_from_slice(&b);
            }
            Err(e) => failure = Some(corrupt(segment, pos, e)),
        }
        Ok(())
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok((removed > 0).then_some(CleanedSegment {
        bytes: out,
        records_removed: removed,
    }))
}

/// Encodes `records` (a non-empty subset of the batch's records, in order) as a v2 batch with
/// `original`'s header fields; base/max timestamps follow the kept records under CreateTime.
pub(crate) fn rebuild_batch(
    original: &BatchHeader,
    records: &[&Record],
) -> Result<Vec<u8>, String> {
    let Some(first) = records.first() else {
        return Err("no records to keep".into());
    };
    let (base_timestamp, max_timestamp) = if original.is_log_append_time() {
        (original.base_timestamp, original.max_timestamp)
    } else {
        (
            first.timestamp,
            records
                .iter()
                .map(|r| r.timestamp)
                .max()
                .unwrap_or(first.timestamp),
        )
    };
    let mut body = Vec::new();
    for r in records {
        let ts = if original.is_log_append_time() {
            // The decoder reports the append time; the original delta is not needed by
            // readers, who take every timestamp from the batch's max timestamp.
            0
        } else {
            r.timestamp - base_timestamp
        };
        let mut rec = Vec::new();
        rec.push(0u8);
        put_varint(&mut rec, ts);
        put_varint(&mut rec, r.offset - original.base_offset);
        put_bytes(&mut rec, r.key.as_deref());
        put_bytes(&mut rec, r.value.as_deref());
        put_varint(&mut rec, r.headers.len() as i64);
        for (k, v) in &r.headers {
            put_bytes(&mut rec, Some(k.as_bytes()));
            put_bytes(&mut rec, v.as_deref());
        }
        put_varint(&mut body, rec.len() as i64);
        body.extend_from_slice(&rec);
    }
    let payload = compress(original.compression(), &body)?;

    let mut out = Vec::with_capacity(HEADER_SIZE + payload.len());
    out.extend_from_slice(&original.base_offset.to_be_bytes());
    let length = (HEADER_SIZE - LOG_OVERHEAD + payload.len()) as i32;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&original.partition_leader_epoch.to_be_bytes());
    out.push(original.magic as u8);
    out.extend_from_slice(&0u32.to_be_bytes()); // CRC, filled below
    out.extend_from_slice(&original.attributes.to_be_bytes());
    // The last offset delta is the original one, so producer state rebuilt from the log
    // still sees the batch's full offset (and sequence) range.
    out.extend_from_slice(&original.last_offset_delta.to_be_bytes());
    out.extend_from_slice(&base_timestamp.to_be_bytes());
    out.extend_from_slice(&max_timestamp.to_be_bytes());
    out.extend_from_slice(&original.producer_id.to_be_bytes());
    out.extend_from_slice(&original.producer_epoch.to_be_bytes());
    out.extend_from_slice(&original.base_sequence.to_be_bytes());
    out.extend_from_slice(&(records.len() as i32).to_be_bytes());
    out.extend_from_slice(&payload);
    let crc = compute_crc(&out);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

fn compress(codec: i16, body: &[u8]) -> Result<Vec<u8>, String> {
    fn with<C: Compressor<BytesMut>>(body: &[u8]) -> Result<Vec<u8>, String> {
        let mut buf = BytesMut::new();
        C::compress(&mut buf, |inner| {
            bytes::BufMut::put_slice(inner, body);
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        Ok(buf.to_vec())
    }
    match codec {
        0 => Ok(body.to_vec()),
        1 => with::<compression::Gzip>(body),
        2 => with::<compression::Snappy>(body),
        3 => with::<compression::Lz4>(body),
        4 => with::<compression::Zstd>(body),
        other => Err(format!("unknown compression codec {other}")),
    }
}

/// Whether any record of the v2 batch lacks a key (for `cleanup.policy=compact` appends).
pub(crate) fn has_keyless_record(batch: &[u8]) -> Result<bool, LogError> {
    let records = decode(batch).map_err(LogError::CorruptRecord)?;
    Ok(records.iter().any(|r| r.key.is_none()))
}
