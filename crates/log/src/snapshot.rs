//! Producer-state snapshot files (`{offset:020}.snapshot`).
//!
//! Owns the binary format (version, CRC32C, producers with their retained batches, open
//! transactions, aborted transactions) of the state as of an offset, and reading the newest
//! usable snapshot. Snapshots only shorten the header scan on open; a missing or corrupt one is
//! never an error. It must never decide when to snapshot — the log does (on roll and close).

use std::collections::VecDeque;
use std::path::Path;

use crate::aborted_txns::AbortedTxnRecord;
use crate::checkpoint::write_atomically;
use crate::error::LogError;
use crate::producer_state::{BATCHES_TO_RETAIN, BatchMetadata, ProducerEntry, ProducerStateTable};

const VERSION: u16 = 1;
/// Extension of snapshot files.
pub(crate) const SNAPSHOT_EXTENSION: &str = "snapshot";

/// File name of the snapshot taken at `offset`.
pub(crate) fn snapshot_file_name(offset: i64) -> String {
    format!("{offset:020}.{SNAPSHOT_EXTENSION}")
}

/// Producer state as of `offset` (every batch below it applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProducerSnapshot {
    pub offset: i64,
    pub producers: ProducerStateTable,
    pub aborted: Vec<AbortedTxnRecord>,
}

struct Writer(Vec<u8>);
impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn i16(&mut self, v: i16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
}

struct Reader<'a>(&'a [u8]);
impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }
    fn i16(&mut self) -> Option<i16> {
        self.take().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_be_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }
}

/// Encodes a snapshot.
pub(crate) fn encode(
    offset: i64,
    producers: &ProducerStateTable,
    aborted: &[AbortedTxnRecord],
) -> Vec<u8> {
    let mut body = Writer(Vec::with_capacity(64 + producers.len() * 160));
    body.i64(offset);
    body.u32(producers.len() as u32);
    for e in producers.entries() {
        body.i64(e.producer_id);
        body.i16(e.epoch);
        body.i32(e.coordinator_epoch);
        body.i64(e.last_timestamp);
        body.i64(e.current_txn_first_offset.unwrap_or(-1));
        body.u8(e.batches.len() as u8);
        for b in &e.batches {
            body.i32(b.last_seq);
            body.i64(b.last_offset);
            body.i32(b.offset_delta);
            body.i64(b.timestamp);
        }
    }
    body.u32(aborted.len() as u32);
    for a in aborted {
        body.i64(a.producer_id);
        body.i64(a.first_offset);
        body.i64(a.last_offset);
    }
    let mut out = Writer(Vec::with_capacity(body.0.len() + 6));
    out.0.extend_from_slice(&VERSION.to_be_bytes());
    out.u32(crc32c::crc32c(&body.0));
    out.0.extend_from_slice(&body.0);
    out.0
}

/// Decodes a snapshot; `None` if the version, CRC or layout is wrong.
pub(crate) fn decode(bytes: &[u8]) -> Option<ProducerSnapshot> {
    let mut r = Reader(bytes);
    if u16::from_be_bytes(r.take::<2>()?) != VERSION {
        return None;
    }
    let crc = r.u32()?;
    if crc32c::crc32c(r.0) != crc {
        return None;
    }
    let offset = r.i64()?;
    let mut producers = ProducerStateTable::default();
    for _ in 0..r.u32()? {
        let producer_id = r.i64()?;
        let epoch = r.i16()?;
        let coordinator_epoch = r.i32()?;
        let last_timestamp = r.i64()?;
        let txn = r.i64()?;
        let n = usize::from(r.u8()?);
        if n > BATCHES_TO_RETAIN {
            return None;
        }
        let mut batches = VecDeque::with_capacity(n);
        for _ in 0..n {
            batches.push_back(BatchMetadata {
                last_seq: r.i32()?,
                last_offset: r.i64()?,
                offset_delta: r.i32()?,
                timestamp: r.i64()?,
            });
        }
        producers.insert(ProducerEntry {
            producer_id,
            epoch,
            coordinator_epoch,
            last_timestamp,
            current_txn_first_offset: (txn >= 0).then_some(txn),
            batches,
        });
    }
    let mut aborted = Vec::new();
    for _ in 0..r.u32()? {
        aborted.push(AbortedTxnRecord {
            producer_id: r.i64()?,
            first_offset: r.i64()?,
            last_offset: r.i64()?,
        });
    }
    r.0.is_empty().then_some(ProducerSnapshot {
        offset,
        producers,
        aborted,
    })
}

/// Writes the snapshot for `offset` (atomically; fsynced when `durable`).
pub(crate) fn write(
    dir: &Path,
    offset: i64,
    producers: &ProducerStateTable,
    aborted: &[AbortedTxnRecord],
    durable: bool,
) -> Result<(), LogError> {
    let bytes = encode(offset, producers, aborted);
    write_atomically(dir, &snapshot_file_name(offset), &bytes, durable)
}

/// The newest readable snapshot among `offsets` (ascending) that is `<= max_offset`.
pub(crate) fn load_latest(
    dir: &Path,
    offsets: &[i64],
    max_offset: i64,
) -> Option<ProducerSnapshot> {
    offsets
        .iter()
        .rev()
        .filter(|&&o| o <= max_offset)
        .find_map(|&o| {
            let path = dir.join(snapshot_file_name(o));
            let snapshot = std::fs::read(&path).ok().and_then(|b| decode(&b));
            match snapshot {
                Some(s) if s.offset == o => Some(s),
                _ => {
                    tracing::warn!(path = %path.display(), "ignoring unreadable producer snapshot");
                    None
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BatchHeader;

    fn table() -> ProducerStateTable {
        let mut t = ProducerStateTable::default();
        for (pid, txn) in [(1i64, false), (2, true)] {
            for i in 0..7 {
                let h = BatchHeader {
                    base_offset: pid * 100 + i,
                    length: 100,
                    partition_leader_epoch: 0,
                    magic: 2,
                    crc: 0,
                    attributes: if txn { 1 << 4 } else { 0 },
                    last_offset_delta: 0,
                    base_timestamp: 5,
                    max_timestamp: 5 + i,
                    producer_id: pid,
                    producer_epoch: 3,
                    base_sequence: i as i32,
                    record_count: 1,
                };
                t.apply_replicated(&h, None);
            }
        }
        t
    }

    #[test]
    fn round_trip() {
        let t = table();
        let aborted = vec![AbortedTxnRecord {
            producer_id: 9,
            first_offset: 1,
            last_offset: 4,
        }];
        let bytes = encode(77, &t, &aborted);
        let s = decode(&bytes).unwrap();
        assert_eq!(s.offset, 77);
        assert_eq!(s.producers, t);
        assert_eq!(s.producers.first_unstable_offset(), Some(200));
        assert_eq!(s.aborted, aborted);
    }

    #[test]
    fn corruption_is_detected() {
        let mut bytes = encode(77, &table(), &[]);
        let n = bytes.len();
        bytes[n / 2] ^= 1;
        assert!(decode(&bytes).is_none());
        assert!(decode(&bytes[..10]).is_none());
        assert!(decode(&[]).is_none());
    }

    #[test]
    fn latest_readable_wins() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), 10, &table(), &[], false).unwrap();
        write(dir.path(), 20, &ProducerStateTable::default(), &[], false).unwrap();
        std::fs::write(dir.path().join(snapshot_file_name(30)), b"junk").unwrap();
        let s = load_latest(dir.path(), &[10, 20, 30], 100).unwrap();
        assert_eq!(s.offset, 20);
        let s = load_latest(dir.path(), &[10, 20, 30], 15).unwrap();
        assert_eq!(s.offset, 10);
        assert!(load_latest(dir.path(), &[10, 20, 30], 5).is_none());
    }
}
