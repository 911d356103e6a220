//! The leader epoch cache: which leader epoch started at which offset, and its checkpoint.
//!
//! Owns the in-memory list of (epoch, start offset) entries of a partition, Kafka's rules for
//! changing it (`LeaderEpochFileCache`: assign, truncate from start and from end) and for
//! answering OffsetForLeaderEpoch (`endOffsetFor`), and the `leader-epoch-checkpoint` file in
//! Kafka's text format (`0`, the entry count, then one `epoch start_offset` line per entry).
//! Every change is written to the file atomically before the caller goes on, so the file never
//! misses an entry whose batch is in the log. It must never read record batches (the log
//! rebuilds the entries from batch headers and feeds them through [`LeaderEpochCache::assign`])
//! and never decide what the current leader epoch is: the broker does.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::checkpoint::write_atomically;
use crate::error::LogError;

/// Name of the checkpoint file in the partition directory.
pub const LEADER_EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";
/// Version line of the checkpoint format.
const CHECKPOINT_VERSION: i32 = 0;
/// Kafka's `UNDEFINED_EPOCH`.
pub const UNDEFINED_EPOCH: i32 = -1;
/// Kafka's `UNDEFINED_EPOCH_OFFSET`.
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// One entry: `epoch` started at `start_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    /// The leader epoch.
    pub epoch: i32,
    /// The first offset written in that epoch.
    pub start_offset: i64,
}

/// Why a checkpoint file could not be read (it is then rebuilt from the batches).
#[derive(Debug, thiserror::Error)]
pub enum CheckpointFormatError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file does not follow the format.
    #[error("malformed leader epoch checkpoint line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

/// The entries of one partition, sorted by epoch and by start offset (both strictly
/// increasing), and the directory its checkpoint lives in.
#[derive(Debug)]
pub struct LeaderEpochCache {
    dir: PathBuf,
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    /// An empty cache for `dir`; nothing is written until the first change.
    pub fn empty(dir: &Path) -> Self {
        LeaderEpochCache {
            dir: dir.to_path_buf(),
            entries: Vec::new(),
        }
    }

    /// Reads the checkpoint of `dir`: `Ok(None)` when there is no file.
    pub fn read(dir: &Path) -> Result<Option<Self>, CheckpointFormatError> {
        let path = dir.join(LEADER_EPOCH_CHECKPOINT);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CheckpointFormatError::Io { path, source }),
        };
        let entries = decode(&text)?;
        Ok(Some(LeaderEpochCache {
            dir: dir.to_path_buf(),
            entries,
        }))
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// The latest entry.
    pub fn latest(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    /// The latest epoch, the one still being written to.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.latest().map(|e| e.epoch)
    }

    /// Records that `epoch` starts at `start_offset` (Kafka's `assign`): negative epochs and
    /// offsets are ignored; nothing changes unless the epoch differs from the latest one or
    /// starts earlier; entries that would break monotonicity (an epoch `>=` the new one or a
    /// start offset `>=` the new one) are removed first. Returns whether the cache changed; a
    /// change is written to the checkpoint before this returns.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> Result<bool, LogError> {
        if !self.assign_in_memory(epoch, start_offset) {
            return Ok(false);
        }
        self.write(true)?;
        Ok(true)
    }

    /// [`assign`](Self::assign) without writing the file (for rebuilding a whole cache).
    pub(crate) fn assign_in_memory(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || start_offset < 0 {
            return false;
        }
        let needed = match self.entries.last() {
            None => true,
            Some(latest) => epoch != latest.epoch || start_offset < latest.start_offset,
        };
        if !needed {
            return false;
        }
        while let Some(last) = self.entries.last() {
            if last.epoch >= epoch || last.start_offset >= start_offset {
                self.entries.pop();
            } else {
                break;
            }
        }
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        true
    }

    /// The epoch and end offset answering a request for `requested` (Kafka's `endOffsetFor`):
    /// the largest cached epoch `<= requested` and the start offset of the first epoch after
    /// it, or `log_end` for the latest epoch; `requested` itself with the first entry's start
    /// when it is older than every entry; undefined (-1, -1) for -1, for an epoch newer than
    /// the latest, and on an empty cache.
    pub fn end_offset_for(&self, requested: i32, log_end: i64) -> (i32, i64) {
        let undefined = (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        if requested == UNDEFINED_EPOCH {
            return undefined;
        }
        if self.latest_epoch() == Some(requested) {
            return (requested, log_end);
        }
        let Some(higher) = self.entries.iter().find(|e| e.epoch > requested) else {
            return undefined;
        };
        match self.entries.iter().rev().find(|e| e.epoch <= requested) {
            None => (requested, higher.start_offset),
            Some(floor) => (floor.epoch, higher.start_offset),
        }
    }

    /// Removes every entry starting at or after `end_offset` (Kafka's `truncateFromEnd`), for
    /// a log truncated to `end_offset`. Returns whether the cache changed (it is then written).
    pub fn truncate_from_end(&mut self, end_offset: i64) -> Result<bool, LogError> {
        if !self.truncate_from_end_in_memory(end_offset) {
            return Ok(false);
        }
        self.write(true)?;
        Ok(true)
    }

    fn truncate_from_end_in_memory(&mut self, end_offset: i64) -> bool {
        if end_offset < 0 {
            return false;
        }
        let before = self.entries.len();
        self.entries.retain(|e| e.start_offset < end_offset);
        self.entries.len() != before
    }

    /// Drops the entries wholly below `start_offset` and moves the one covering it to start
    /// there (Kafka's `truncateFromStart`, exclusive: an entry starting exactly at
    /// `start_offset` stays as it is). Returns whether the cache changed (it is then written).
    pub fn truncate_from_start(&mut self, start_offset: i64) -> Result<bool, LogError> {
        if !self.truncate_from_start_in_memory(start_offset) {
            return Ok(false);
        }
        self.write(true)?;
        Ok(true)
    }

    fn truncate_from_start_in_memory(&mut self, start_offset: i64) -> bool {
        let removed = self
            .entries
            .iter()
            .take_while(|e| e.start_offset <= start_offset)
            .count();
        if removed == 0 {
            return false;
        }
        let covering = self.entries[removed - 1];
        self.entries.drain(..removed);
        self.entries.insert(
            0,
            EpochEntry {
                epoch: covering.epoch,
                start_offset,
            },
        );
        // Kafka reports a change whenever entries were removed, even if the one at the start
        // was only rewritten in place.
        !(removed == 1 && covering.start_offset == start_offset)
    }

    /// Both truncations in memory, then one write if anything changed (used on open).
    pub(crate) fn fit_to(
        &mut self,
        log_start: i64,
        log_end: i64,
        durable: bool,
    ) -> Result<(), LogError> {
        let from_end = self.truncate_from_end_in_memory(log_end);
        let from_start = self.truncate_from_start_in_memory(log_start);
        if from_end || from_start {
            self.write(durable)?;
        }
        Ok(())
    }

    /// Writes the checkpoint file atomically.
    pub(crate) fn write(&self, durable: bool) -> Result<(), LogError> {
        write_atomically(
            &self.dir,
            LEADER_EPOCH_CHECKPOINT,
            encode(&self.entries).as_bytes(),
            durable,
        )
    }
}

fn encode(entries: &[EpochEntry]) -> String {
    let mut out = format!("{CHECKPOINT_VERSION}\n{}\n", entries.len());
    for e in entries {
        out.push_str(&format!("{} {}\n", e.epoch, e.start_offset));
    }
    out
}

fn decode(text: &str) -> Result<Vec<EpochEntry>, CheckpointFormatError> {
    let malformed =
        |line: usize, reason: &'static str| CheckpointFormatError::Malformed { line, reason };
    let mut lines = text.lines();
    let version: i32 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or(malformed(1, "missing or non-numeric version"))?;
    if version != CHECKPOINT_VERSION {
        return Err(malformed(1, "unsupported version"));
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or(malformed(2, "missing or non-numeric entry count"))?;
    let mut entries: Vec<EpochEntry> = Vec::new();
    for i in 0..count {
        let line_no = i + 3;
        let line = lines.next().ok_or(malformed(line_no, "missing entry"))?;
        let mut fields = line.split_whitespace();
        let epoch: i32 = fields
            .next()
            .and_then(|f| f.parse().ok())
            .ok_or(malformed(line_no, "bad epoch"))?;
        let start_offset: i64 = fields
            .next()
            .and_then(|f| f.parse().ok())
            .ok_or(malformed(line_no, "bad start offset"))?;
        if fields.next().is_some() {
            return Err(malformed(line_no, "extra fields"));
        }
        if epoch < 0 || start_offset < 0 {
            return Err(malformed(line_no, "negative epoch or offset"));
        }
        if let Some(prev) = entries.last()
            && (epoch <= prev.epoch || start_offset <= prev.start_offset)
        {
            return Err(malformed(line_no, "entries not increasing"));
        }
        entries.push(EpochEntry {
            epoch,
            start_offset,
        });
    }
    if lines.any(|l| !l.trim().is_empty()) {
        return Err(malformed(count + 3, "more entries than the count says"));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(entries: &[(i32, i64)]) -> LeaderEpochCache {
        LeaderEpochCache {
            dir: PathBuf::from("/nonexistent"),
            entries: entries
                .iter()
                .map(|&(epoch, start_offset)| EpochEntry {
                    epoch,
                    start_offset,
                })
                .collect(),
        }
    }

    fn pairs(c: &LeaderEpochCache) -> Vec<(i32, i64)> {
        c.entries
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect()
    }

    #[test]
    fn assign_follows_kafkas_rules() {
        // (cache before, assign epoch, assign offset, changed, cache after)
        #[allow(clippy::type_complexity)]
        let table: &[(&[(i32, i64)], i32, i64, bool, &[(i32, i64)])] = &[
            // Negative epochs and offsets are ignored.
            (&[], -1, 0, false, &[]),
            (&[], 0, -1, false, &[]),
            // First entry.
            (&[], 2, 10, true, &[(2, 10)]),
            // Same epoch at a later offset: nothing to do.
            (&[(2, 10)], 2, 20, false, &[(2, 10)]),
            // Same epoch at an earlier offset: the entry moves back.
            (&[(2, 10)], 2, 5, true, &[(2, 5)]),
            // A new epoch.
            (&[(2, 10)], 3, 20, true, &[(2, 10), (3, 20)]),
            // An older epoch removes the newer ones it conflicts with.
            (&[(2, 10), (4, 20)], 3, 30, true, &[(2, 10), (3, 30)]),
            // A newer epoch at an offset below a cached start removes that entry.
            (&[(2, 10), (4, 20)], 5, 15, true, &[(2, 10), (5, 15)]),
            // A newer epoch at the same start replaces (no data was written).
            (&[(2, 10)], 3, 10, true, &[(3, 10)]),
        ];
        for (before, epoch, offset, changed, after) in table {
            let mut c = cache(before);
            assert_eq!(
                c.assign_in_memory(*epoch, *offset),
                *changed,
                "{before:?} + ({epoch}, {offset})"
            );
            assert_eq!(pairs(&c), *after, "{before:?} + ({epoch}, {offset})");
        }
    }

    #[test]
    fn end_offset_for_follows_kafkas_rules() {
        let c = cache(&[(1, 10), (3, 20), (6, 35)]);
        let log_end = 50;
        // (requested, answer)
        let table: &[(i32, (i32, i64))] = &[
            (-1, (-1, -1)),
            // The latest epoch ends at the log end.
            (6, (6, 50)),
            // A cached epoch ends where the next starts.
            (1, (1, 20)),
            (3, (3, 35)),
            // An epoch between cached ones: the floor epoch, ending where the next starts.
            (2, (1, 20)),
            (4, (3, 35)),
            (5, (3, 35)),
            // Older than every entry: itself, ending where the first entry starts.
            (0, (0, 10)),
            // Newer than every entry: undefined.
            (7, (-1, -1)),
        ];
        for (requested, answer) in table {
            assert_eq!(
                c.end_offset_for(*requested, log_end),
                *answer,
                "{requested}"
            );
        }
        assert_eq!(cache(&[]).end_offset_for(0, 5), (-1, -1));
    }

    #[test]
    fn truncations_follow_kafkas_rules() {
        let mut c = cache(&[(1, 10), (3, 20), (6, 35)]);
        assert!(!c.truncate_from_end_in_memory(40));
        assert!(c.truncate_from_end_in_memory(35));
        assert_eq!(pairs(&c), [(1, 10), (3, 20)]);
        assert!(!c.truncate_from_end_in_memory(-1));

        let mut c = cache(&[(1, 10), (3, 20), (6, 35)]);
        assert!(!c.truncate_from_start_in_memory(5));
        assert!(!c.truncate_from_start_in_memory(10));
        assert!(c.truncate_from_start_in_memory(25));
        assert_eq!(pairs(&c), [(3, 25), (6, 35)]);
        assert!(c.truncate_from_start_in_memory(35));
        assert_eq!(pairs(&c), [(6, 35)]);
        assert!(c.truncate_from_start_in_memory(99));
        assert_eq!(pairs(&c), [(6, 99)]);
    }

    #[test]
    fn checkpoint_round_trips_in_kafkas_format() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        assert!(LeaderEpochCache::read(dir.path())?.is_none());
        let mut c = LeaderEpochCache::empty(dir.path());
        c.assign(0, 0)?;
        c.assign(5, 12)?;
        let text = fs::read_to_string(dir.path().join(LEADER_EPOCH_CHECKPOINT))?;
        assert_eq!(text, "0\n2\n0 0\n5 12\n");
        let back = LeaderEpochCache::read(dir.path())?.ok_or("missing")?;
        assert_eq!(pairs(&back), [(0, 0), (5, 12)]);
        c.truncate_from_end(12)?;
        let back = LeaderEpochCache::read(dir.path())?.ok_or("missing")?;
        assert_eq!(pairs(&back), [(0, 0)]);
        Ok(())
    }

    #[test]
    fn malformed_checkpoints_are_rejected() {
        for text in [
            "",
            "1\n0\n",
            "0\n2\n0 0\n",
            "0\n1\n0 0\n1 5\n",
            "0\n1\nx 0\n",
            "0\n2\n3 0\n2 5\n",
            "0\n1\n-1 0\n",
        ] {
            assert!(decode(text).is_err(), "{text:?}");
        }
        assert!(decode("0\n0\n").is_ok_and(|e| e.is_empty()));
    }
}
