//! Sparse offset and time indexes of one segment.
//!
//! Owns the `.index` (relative offset u32 + file position u32, big-endian) and `.timeindex`
//! (timestamp i64 + relative offset u32) files and their in-memory copies, lookups over them,
//! appends and wholesale rewrites. Entries always point at batch starts: the relative offset is
//! the batch's base offset minus the segment base. It must never read the log file, nor decide
//! when an entry is due — the segment does that.

use std::fs::OpenOptions;
use std::io;
use std::path::Path;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::LogError;
use crate::lazy_file::LazyFile;

/// One fixed-size entry of an index file.
pub(crate) trait IndexEntry: Copy + PartialEq {
    /// Encoded size in bytes.
    const SIZE: usize;
    /// Writes the entry into `out` (exactly `SIZE` bytes).
    fn encode(&self, out: &mut [u8]);
    /// Reads an entry from `bytes` (exactly `SIZE` bytes).
    fn decode(bytes: &[u8]) -> Self;
}

/// An offset index entry: the batch with base offset `segment base + relative_offset` starts at
/// byte `position` of the log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

impl IndexEntry for OffsetEntry {
    const SIZE: usize = 8;
    fn encode(&self, out: &mut [u8]) {
        out[..4].copy_from_slice(&self.relative_offset.to_be_bytes());
        out[4..8].copy_from_slice(&self.position.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        OffsetEntry {
            relative_offset: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            position: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// A time index entry: `timestamp` is the largest timestamp of the segment up to this point,
/// first reached by the batch with base offset `segment base + relative_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

impl IndexEntry for TimeEntry {
    const SIZE: usize = 12;
    fn encode(&self, out: &mut [u8]) {
        out[..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.relative_offset.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[..8]);
        TimeEntry {
            timestamp: i64::from_be_bytes(ts),
            relative_offset: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        }
    }
}

/// How an index file looked when opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexFileState {
    /// Loaded; still to be checked against the log by the caller.
    Loaded,
    /// The file did not exist (now created empty).
    Missing,
    /// The file's length is not a multiple of the entry size.
    Malformed,
}

/// An index file plus all of its entries in memory. One writer (the log's append path) at a
/// time; readers take the lock only for the in-memory search.
#[derive(Debug)]
pub(crate) struct Index<E: IndexEntry> {
    file: LazyFile,
    entries: RwLock<Vec<E>>,
}

fn read_guard<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
fn write_guard<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<E: IndexEntry> Index<E> {
    /// Opens (creating if absent) the index file and loads its entries.
    pub(crate) fn open(path: &Path) -> Result<(Self, IndexFileState), LogError> {
        let (entries, state) = match std::fs::read(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(path)
                    .map_err(|e| LogError::file(path, e))?;
                (Vec::new(), IndexFileState::Missing)
            }
            Err(e) => return Err(LogError::file(path, e)),
            Ok(bytes) if bytes.len() % E::SIZE != 0 => (Vec::new(), IndexFileState::Malformed),
            Ok(bytes) => (
                bytes.chunks_exact(E::SIZE).map(E::decode).collect(),
                IndexFileState::Loaded,
            ),
        };
        Ok((
            Index {
                file: LazyFile::new(path.to_path_buf()),
                entries: RwLock::new(entries),
            },
            state,
        ))
    }

    /// Creates a new, empty index file (truncating any existing one).
    pub(crate) fn create(path: &Path) -> Result<Self, LogError> {
        Ok(Index {
            file: LazyFile::create_empty(path.to_path_buf())?,
            entries: RwLock::new(Vec::new()),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        self.file.path()
    }

    /// A read view of all entries.
    pub(crate) fn entries(&self) -> RwLockReadGuard<'_, Vec<E>> {
        read_guard(&self.entries)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries().len()
    }

    pub(crate) fn last(&self) -> Option<E> {
        self.entries().last().copied()
    }

    /// Appends entries to the file, then to memory.
    pub(crate) fn append(&self, new: &[E]) -> Result<(), LogError> {
        self.append_file(new)?;
        self.publish(new);
        Ok(())
    }

    /// Writes entries after the in-memory ones into the file only (the first half of an
    /// append; `publish` completes it, `discard_unpublished` undoes it). On failure the file is
    /// cut back to the published entries.
    pub(crate) fn append_file(&self, new: &[E]) -> Result<(), LogError> {
        if new.is_empty() {
            return Ok(());
        }
        let mut bytes = vec![0u8; new.len() * E::SIZE];
        for (entry, out) in new.iter().zip(bytes.chunks_exact_mut(E::SIZE)) {
            entry.encode(out);
        }
        let at = (self.len() * E::SIZE) as u64;
        if let Err(e) = self.file.write_all_at(&bytes, at) {
            let _ = self.file.set_len(at);
            return Err(e);
        }
        Ok(())
    }

    /// Makes entries written by `append_file` visible to lookups.
    pub(crate) fn publish(&self, new: &[E]) {
        if !new.is_empty() {
            write_guard(&self.entries).extend_from_slice(new);
        }
    }

    /// Cuts the file back to the published entries (undoing an `append_file`).
    pub(crate) fn discard_unpublished(&self) {
        let at = (self.len() * E::SIZE) as u64;
        let _ = self.file.set_len(at);
    }

    /// Replaces the whole index (file and memory) with `entries`.
    pub(crate) fn replace(&self, new: Vec<E>) -> Result<(), LogError> {
        let mut entries = write_guard(&self.entries);
        let mut bytes = vec![0u8; new.len() * E::SIZE];
        for (entry, out) in new.iter().zip(bytes.chunks_exact_mut(E::SIZE)) {
            entry.encode(out);
        }
        if *entries == new && self.file.len()? == bytes.len() as u64 {
            return Ok(());
        }
        self.file.set_len(0)?;
        self.file.write_all_at(&bytes, 0)?;
        self.file.set_len(bytes.len() as u64)?;
        *entries = new;
        Ok(())
    }

    /// Gives back the index file's descriptor (it reopens when next written).
    pub(crate) fn release(&self) {
        self.file.release();
    }

    /// fsyncs the index file if it was written since the last sync.
    pub(crate) fn sync(&self) -> Result<(), LogError> {
        self.file.sync_if_dirty()
    }
}

/// The offset index of a segment.
pub(crate) type OffsetIndex = Index<OffsetEntry>;
/// The time index of a segment.
pub(crate) type TimeIndex = Index<TimeEntry>;

impl Index<OffsetEntry> {
    /// The entry of the last indexed batch whose base offset is `<= relative_offset`, if any.
    pub(crate) fn lookup(&self, relative_offset: u64) -> Option<OffsetEntry> {
        let entries = self.entries();
        let n = entries.partition_point(|e| u64::from(e.relative_offset) <= relative_offset);
        n.checked_sub(1).map(|i| entries[i])
    }

    /// Whether entries are strictly increasing in offset and position and lie below
    /// `log_size` / `max_relative_offset`.
    pub(crate) fn is_consistent(&self, log_size: u64, max_relative_offset: u64) -> bool {
        let entries = self.entries();
        let ordered = entries
            .windows(2)
            .all(|w| w[0].relative_offset < w[1].relative_offset && w[0].position < w[1].position);
        ordered
            && entries.last().is_none_or(|e| {
                u64::from(e.position) < log_size
                    && u64::from(e.relative_offset) <= max_relative_offset
            })
    }
}

impl Index<TimeEntry> {
    /// The last entry whose timestamp is `<= timestamp`, if any.
    pub(crate) fn lookup(&self, timestamp: i64) -> Option<TimeEntry> {
        let entries = self.entries();
        let n = entries.partition_point(|e| e.timestamp <= timestamp);
        n.checked_sub(1).map(|i| entries[i])
    }

    /// Whether timestamps strictly increase, offsets never decrease, and offsets stay within
    /// `max_relative_offset`.
    pub(crate) fn is_consistent(&self, max_relative_offset: u64) -> bool {
        let entries = self.entries();
        let ordered = entries.windows(2).all(|w| {
            w[0].timestamp < w[1].timestamp && w[0].relative_offset <= w[1].relative_offset
        });
        ordered
            && entries
                .last()
                .is_none_or(|e| u64::from(e.relative_offset) <= max_relative_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oe(r: u32, p: u32) -> OffsetEntry {
        OffsetEntry {
            relative_offset: r,
            position: p,
        }
    }

    #[test]
    fn offset_lookup_finds_floor_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let idx = OffsetIndex::create(&path).unwrap();
        assert_eq!(idx.lookup(5), None);
        idx.append(&[oe(10, 100), oe(20, 200)]).unwrap();
        idx.append(&[oe(35, 350)]).unwrap();
        assert_eq!(idx.lookup(9), None);
        assert_eq!(idx.lookup(10), Some(oe(10, 100)));
        assert_eq!(idx.lookup(19), Some(oe(10, 100)));
        assert_eq!(idx.lookup(20), Some(oe(20, 200)));
        assert_eq!(idx.lookup(1000), Some(oe(35, 350)));
        assert!(idx.is_consistent(351, 35));
        assert!(!idx.is_consistent(350, 35));
        assert!(!idx.is_consistent(1000, 34));

        // Reopen from disk.
        let (again, state) = OffsetIndex::open(&path).unwrap();
        assert_eq!(state, IndexFileState::Loaded);
        assert_eq!(
            again.entries().clone(),
            vec![oe(10, 100), oe(20, 200), oe(35, 350)]
        );
        again.replace(vec![oe(1, 1)]).unwrap();
        drop(again);
        let (again, _) = OffsetIndex::open(&path).unwrap();
        assert_eq!(again.entries().clone(), vec![oe(1, 1)]);
    }

    #[test]
    fn malformed_and_missing_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let (_, state) = OffsetIndex::open(&path).unwrap();
        assert_eq!(state, IndexFileState::Missing);
        std::fs::write(&path, [0u8; 7]).unwrap();
        let (_, state) = OffsetIndex::open(&path).unwrap();
        assert_eq!(state, IndexFileState::Malformed);
    }

    #[test]
    fn unordered_offset_entries_are_inconsistent() {
        let dir = tempfile::tempdir().unwrap();
        let idx = OffsetIndex::create(&dir.path().join("0.index")).unwrap();
        idx.append(&[oe(10, 100), oe(10, 200)]).unwrap();
        assert!(!idx.is_consistent(1000, 100));
    }

    #[test]
    fn time_lookup_finds_floor_entry() {
        let dir = tempfile::tempdir().unwrap();
        let idx = TimeIndex::create(&dir.path().join("0.timeindex")).unwrap();
        let te = |t, r| TimeEntry {
            timestamp: t,
            relative_offset: r,
        };
        idx.append(&[te(100, 0), te(200, 5), te(300, 9)]).unwrap();
        assert_eq!(idx.lookup(99), None);
        assert_eq!(idx.lookup(100), Some(te(100, 0)));
        assert_eq!(idx.lookup(250), Some(te(200, 5)));
        assert_eq!(idx.lookup(i64::MAX), Some(te(300, 9)));
        assert!(idx.is_consistent(9));
        assert!(!idx.is_consistent(8));
        idx.append(&[te(300, 10)]).unwrap();
        assert!(!idx.is_consistent(100));
    }
}
