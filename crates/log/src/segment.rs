//! One log segment: a `.log` file of concatenated v2 record batches plus its two indexes.
//!
//! Owns the segment files, the published byte size readers may see, appending batches at the
//! end (and the index entries that are due), locating batches by offset or timestamp, reading
//! byte ranges of whole batches, and recovering a segment (CRC scan, truncating a torn tail,
//! rebuilding indexes). It must never assign offsets, validate producers, or decide when to
//! roll or delete — the log does that. Readers never take a lock around disk reads.

use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;

use crate::batch::{BatchHeader, BatchSpan, HEADER_SIZE, crc_matches};
use crate::error::LogError;
use crate::index::{IndexFileState, OffsetEntry, OffsetIndex, TimeEntry, TimeIndex};
use crate::lazy_file::LazyFile;
use crate::scrub::{ScrubFault, ScrubFinding, SegmentScrub, StoredBatch};

/// Largest offset distance from a segment's base that its indexes can hold (Kafka keeps
/// relative offsets within `i32`).
pub(crate) const MAX_RELATIVE_OFFSET: i64 = i32::MAX as i64;

const SCAN_WINDOW: usize = 64 * 1024;
const RECOVERY_WINDOW: usize = 1 << 20;
const MAX_READ_WINDOW: usize = 32 << 20;

/// File name of a segment's log file.
pub(crate) fn log_file_name(base_offset: i64) -> String {
    format!("{base_offset:020}.log")
}
/// File name of a segment's offset index.
pub(crate) fn index_file_name(base_offset: i64) -> String {
    format!("{base_offset:020}.index")
}
/// File name of a segment's time index.
pub(crate) fn time_index_file_name(base_offset: i64) -> String {
    format!("{base_offset:020}.timeindex")
}

/// The largest timestamp in a segment and the base offset of the batch that first reached it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MaxTimestamp {
    pub timestamp: i64,
    pub batch_offset: i64,
}

impl MaxTimestamp {
    const NONE: MaxTimestamp = MaxTimestamp {
        timestamp: -1,
        batch_offset: -1,
    };
}

/// What a segment read produced.
#[derive(Debug)]
pub(crate) enum SegmentRead {
    /// Whole batches starting with the one holding the requested offset.
    Data(Bytes),
    /// The batch holding the offset is at or beyond the upper bound: nothing to return.
    Bounded,
    /// The segment holds no batch at or after the offset: look in the next segment.
    Beyond,
}

/// What a recovery scan found.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recovered {
    /// Offset after the last valid batch, `None` if no batch is valid.
    pub next_offset: Option<i64>,
    /// Bytes cut off the end of the file.
    pub truncated_bytes: u64,
}

/// What `check_on_open` concluded for a segment opened without recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenCheck {
    /// Indexes are consistent with the log; for the last segment `next_offset` is set.
    Consistent { next_offset: Option<i64> },
    /// Indexes are missing or inconsistent, or the tail is damaged: run `recover`.
    NeedsRecovery,
}

/// The next thing found at a position while walking batch headers.
#[derive(Debug, Clone)]
pub(crate) enum HeaderAt {
    /// A structurally valid header (CRC not yet checked).
    Batch(BatchHeader),
    /// Exactly the end of the readable bytes.
    End,
    /// Unparseable bytes or a batch running past the end.
    Invalid(String),
}

/// Sequential or random header/batch access to a segment file through a read window, so that
/// walking many small batches costs few system calls. Never reads past `limit`.
pub(crate) struct BatchCursor<'a> {
    file: &'a LazyFile,
    limit: u64,
    window: Vec<u8>,
    window_start: u64,
    window_size: usize,
}

impl<'a> BatchCursor<'a> {
    fn new(file: &'a LazyFile, limit: u64, window_size: usize) -> Self {
        BatchCursor {
            file,
            limit,
            window: Vec::new(),
            window_start: 0,
            window_size,
        }
    }

    fn io(&self, e: io::Error) -> LogError {
        LogError::file(self.file.path(), e)
    }

    /// Bytes `[pos, pos + len)`, which must lie below `limit`.
    pub(crate) fn bytes(&mut self, pos: u64, len: usize) -> Result<&[u8], LogError> {
        let in_window = pos >= self.window_start
            && pos + len as u64 <= self.window_start + self.window.len() as u64;
        if !in_window {
            let available = self.limit.saturating_sub(pos);
            let want = (self.window_size.max(len) as u64).min(available) as usize;
            if want < len {
                return Err(self.io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "read of {len} bytes at {pos} past segment end {}",
                        self.limit
                    ),
                )));
            }
            self.window.clear();
            // Opens the file on the first read only: an empty segment never needs it.
            let file = self.file.get()?;
            if let Err(e) = read_exact_into(&file, &mut self.window, pos, want) {
                self.window.clear();
                return Err(self.io(e));
            }
            self.window_start = pos;
        }
        let at = (pos - self.window_start) as usize;
        Ok(&self.window[at..at + len])
    }

    /// The batch header at `pos`, structurally checked against the remaining bytes.
    pub(crate) fn header_at(&mut self, pos: u64) -> Result<HeaderAt, LogError> {
        if pos >= self.limit {
            return Ok(HeaderAt::End);
        }
        let available = self.limit - pos;
        if available < HEADER_SIZE as u64 {
            return Ok(HeaderAt::Invalid(format!(
                "{available} trailing bytes, less than a batch header"
            )));
        }
        let header = match BatchHeader::parse(self.bytes(pos, HEADER_SIZE)?) {
            Some(h) => h,
            None => return Ok(HeaderAt::Invalid("short header".into())),
        };
        let available = usize::try_from(available).unwrap_or(usize::MAX);
        match header.check_structure(available) {
            Ok(()) => Ok(HeaderAt::Batch(header)),
            Err(e) => Ok(HeaderAt::Invalid(LogError::from(e).to_string())),
        }
    }

    /// Takes `[pos, pos + len)` as `Bytes`, reusing the window allocation when it covers the
    /// range.
    fn take(&mut self, pos: u64, len: usize) -> Result<Bytes, LogError> {
        let end = pos + len as u64;
        if pos >= self.window_start && end <= self.window_start + self.window.len() as u64 {
            let at = (pos - self.window_start) as usize;
            let window = std::mem::take(&mut self.window);
            return Ok(Bytes::from(window).slice(at..at + len));
        }
        let mut out = Vec::new();
        let file = self.file.get()?;
        read_exact_into(&file, &mut out, pos, len).map_err(|e| self.io(e))?;
        Ok(Bytes::from(out))
    }
}

/// Reads exactly `len` bytes at `pos` into `out` (cleared first). The bytes
/// land in the vector's spare capacity, so nothing is zero-filled only to
/// be overwritten: a fetch touches its bytes once on the way in.
fn read_exact_into(file: &File, out: &mut Vec<u8>, pos: u64, len: usize) -> io::Result<()> {
    out.clear();
    out.reserve_exact(len);
    while out.len() < len {
        let before = out.len();
        let n = rustix::io::pread(
            file,
            rustix::buffer::spare_capacity(out),
            pos + before as u64,
        )
        .map_err(io::Error::from)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("read of {len} bytes at {pos} ended after {before}"),
            ));
        }
    }
    // The capacity may exceed `len`; bytes past it may belong to an append
    // in progress and are never handed out.
    out.truncate(len);
    Ok(())
}

/// Index-building state carried across the batches of a segment.
#[derive(Debug, Clone, Copy)]
struct IndexCursor {
    bytes_since_index: u64,
    max: MaxTimestamp,
    last_time_entry: i64,
}

impl IndexCursor {
    /// Accounts for one batch at `position`; pushes the index entries that are due.
    fn add(
        &mut self,
        base_offset: i64,
        position: u64,
        header: &BatchHeader,
        interval: u32,
        offsets: &mut Vec<OffsetEntry>,
        times: &mut Vec<TimeEntry>,
    ) {
        if header.max_timestamp > self.max.timestamp {
            self.max = MaxTimestamp {
                timestamp: header.max_timestamp,
                batch_offset: header.base_offset,
            };
        }
        if self.bytes_since_index > u64::from(interval) {
            offsets.push(OffsetEntry {
                relative_offset: (header.base_offset - base_offset) as u32,
                position: position as u32,
            });
            self.maybe_time_entry(base_offset, times);
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += header.size() as u64;
    }

    fn maybe_time_entry(&mut self, base_offset: i64, times: &mut Vec<TimeEntry>) {
        if self.max.timestamp > self.last_time_entry {
            times.push(TimeEntry {
                timestamp: self.max.timestamp,
                relative_offset: (self.max.batch_offset - base_offset) as u32,
            });
            self.last_time_entry = self.max.timestamp;
        }
    }
}

/// One segment of a partition log.
#[derive(Debug)]
pub(crate) struct Segment {
    base_offset: i64,
    /// Opened on first read or write, so idle segments hold no descriptor.
    log: LazyFile,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    /// Bytes of whole, indexed batches that readers may see.
    size: AtomicU64,
    max_timestamp: RwLock<MaxTimestamp>,
    /// Wall-clock ms of the first append (for `segment.ms`), -1 before any.
    rolling_ms: AtomicI64,
    bytes_since_index: AtomicU64,
}

impl Segment {
    /// Creates a new empty segment (replacing any files of the same base offset).
    pub(crate) fn create(dir: &Path, base_offset: i64) -> Result<Segment, LogError> {
        let log_path = dir.join(log_file_name(base_offset));
        let log = LazyFile::create_empty(log_path)?;
        let offset_index = OffsetIndex::create(&dir.join(index_file_name(base_offset)))?;
        let time_index = TimeIndex::create(&dir.join(time_index_file_name(base_offset)))?;
        Ok(Segment {
            base_offset,
            log,
            offset_index,
            time_index,
            size: AtomicU64::new(0),
            max_timestamp: RwLock::new(MaxTimestamp::NONE),
            rolling_ms: AtomicI64::new(-1),
            bytes_since_index: AtomicU64::new(0),
        })
    }

    /// Opens an existing segment; its indexes are loaded but not yet checked (see
    /// `check_on_open` / `recover`). Returns whether either index file was missing or
    /// malformed.
    pub(crate) fn open(dir: &Path, base_offset: i64) -> Result<(Segment, bool), LogError> {
        let log_path = dir.join(log_file_name(base_offset));
        let log = LazyFile::new(log_path);
        let size = log.len()?;
        let (offset_index, offset_state) =
            OffsetIndex::open(&dir.join(index_file_name(base_offset)))?;
        let (time_index, time_state) =
            TimeIndex::open(&dir.join(time_index_file_name(base_offset)))?;
        let damaged =
            offset_state != IndexFileState::Loaded || time_state != IndexFileState::Loaded;
        let max = time_index
            .last()
            .map(|e| MaxTimestamp {
                timestamp: e.timestamp,
                batch_offset: base_offset + i64::from(e.relative_offset),
            })
            .unwrap_or(MaxTimestamp::NONE);
        Ok((
            Segment {
                base_offset,
                log,
                offset_index,
                time_index,
                size: AtomicU64::new(size),
                max_timestamp: RwLock::new(max),
                rolling_ms: AtomicI64::new(-1),
                bytes_since_index: AtomicU64::new(0),
            },
            damaged,
        ))
    }

    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub(crate) fn log_path(&self) -> &Path {
        self.log.path()
    }

    /// Published size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    pub(crate) fn max_timestamp(&self) -> MaxTimestamp {
        *self
            .max_timestamp
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_max_timestamp(&self, max: MaxTimestamp) {
        *self
            .max_timestamp
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = max;
    }

    /// The timestamp retention compares against: the largest record timestamp, or the file's
    /// modification time when no batch carries one (Kafka's `largestTimestamp`).
    pub(crate) fn largest_timestamp_for_retention(&self) -> i64 {
        let max = self.max_timestamp().timestamp;
        if max >= 0 {
            return max;
        }
        self.log
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(-1)
    }

    /// Wall-clock time of the first append, -1 if none yet.
    pub(crate) fn rolling_ms(&self) -> i64 {
        self.rolling_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn set_rolling_ms(&self, ms: i64) {
        self.rolling_ms.store(ms, Ordering::Relaxed);
    }

    fn relative(&self, offset: i64) -> u64 {
        offset.saturating_sub(self.base_offset).max(0) as u64
    }

    fn cursor(&self, limit: u64, window: usize) -> BatchCursor<'_> {
        BatchCursor::new(&self.log, limit, window)
    }

    /// Appends whole, validated batches (`spans` positions are relative to `bytes`). Everything
    /// is written before the new size is published; on failure nothing is published and the
    /// files are cut back.
    pub(crate) fn append(
        &self,
        bytes: &[u8],
        spans: &[BatchSpan],
        index_interval: u32,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let start = self.size.load(Ordering::Acquire);
        if let Err(e) = self.log.write_all_at(bytes, start) {
            let _ = self.log.set_len(start);
            return Err(e);
        }
        let mut cursor = IndexCursor {
            bytes_since_index: self.bytes_since_index.load(Ordering::Relaxed),
            max: self.max_timestamp(),
            last_time_entry: self.time_index.last().map_or(-1, |e| e.timestamp),
        };
        let mut offsets = Vec::new();
        let mut times = Vec::new();
        for span in spans {
            cursor.add(
                self.base_offset,
                start + span.position as u64,
                &span.header,
                index_interval,
                &mut offsets,
                &mut times,
            );
        }
        let written = self
            .offset_index
            .append_file(&offsets)
            .and_then(|()| self.time_index.append_file(&times));
        if let Err(e) = written {
            self.offset_index.discard_unpublished();
            self.time_index.discard_unpublished();
            let _ = self.log.set_len(start);
            return Err(e);
        }
        self.size
            .store(start + bytes.len() as u64, Ordering::Release);
        self.offset_index.publish(&offsets);
        self.time_index.publish(&times);
        self.set_max_timestamp(cursor.max);
        self.bytes_since_index
            .store(cursor.bytes_since_index, Ordering::Relaxed);
        if self.rolling_ms() < 0 {
            self.set_rolling_ms(now_ms);
        }
        Ok(())
    }

    /// Adds a last time index entry for the segment's largest timestamp if the index does not
    /// end with it yet (done when the segment stops being active, and at close).
    pub(crate) fn finish_time_index(&self) -> Result<(), LogError> {
        let max = self.max_timestamp();
        let last = self.time_index.last().map_or(-1, |e| e.timestamp);
        if max.timestamp > last {
            self.time_index.append(&[TimeEntry {
                timestamp: max.timestamp,
                relative_offset: self.relative(max.batch_offset) as u32,
            }])?;
        }
        Ok(())
    }

    /// Gives back the descriptors of the log file and both indexes (they reopen when next
    /// used).
    pub(crate) fn release_files(&self) {
        self.log.release();
        self.offset_index.release();
        self.time_index.release();
    }

    /// fsyncs whichever of the log file and its indexes were written since the last sync.
    pub(crate) fn sync(&self) -> Result<(), LogError> {
        self.log.sync_if_dirty()?;
        self.offset_index.sync()?;
        self.time_index.sync()
    }

    /// Opens the log file's descriptor if it is not open, so that a reader
    /// still holding this segment can read it after its path is removed or
    /// replaced (best effort: a file already gone stays gone).
    pub(crate) fn keep_readable(&self) {
        let _ = self.log.get();
    }

    /// Removes the segment's files; a reader still holding the segment keeps
    /// reading it (see [`Segment::keep_readable`]).
    pub(crate) fn delete_files(&self) -> Result<(), LogError> {
        self.keep_readable();
        for path in [
            self.log.path(),
            self.offset_index.path(),
            self.time_index.path(),
        ] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(LogError::file(path, e)),
            }
        }
        Ok(())
    }

    /// Shortens the log file to `position` (a batch boundary) for a truncation; the caller
    /// then rebuilds the indexes and cached state with [`Segment::recover`].
    pub(crate) fn cut_to(&self, position: u64) -> Result<(), LogError> {
        self.log.set_len(position)?;
        self.log.sync_if_dirty()
    }

    /// Validates every batch (structure, offsets, CRC) from the start of the file, truncates
    /// the file at the first invalid or partial batch, and rebuilds both indexes.
    pub(crate) fn recover(&self, index_interval: u32) -> Result<Recovered, LogError> {
        let file_len = self.log.len()?;
        let mut cursor = self.cursor(file_len, RECOVERY_WINDOW);
        let mut indexing = IndexCursor {
            bytes_since_index: 0,
            max: MaxTimestamp::NONE,
            last_time_entry: -1,
        };
        let mut offsets = Vec::new();
        let mut times = Vec::new();
        let mut pos = 0u64;
        let mut next_offset: Option<i64> = None;
        let mut first_max_timestamp = -1;
        loop {
            let header = match cursor.header_at(pos)? {
                HeaderAt::End => break,
                HeaderAt::Invalid(reason) => {
                    tracing::warn!(path = %self.log.path().display(), position = pos, %reason, "truncating invalid segment tail");
                    break;
                }
                HeaderAt::Batch(h) => h,
            };
            let min_base = next_offset.unwrap_or(self.base_offset);
            if header.base_offset < min_base
                || header.last_offset() - self.base_offset > MAX_RELATIVE_OFFSET
            {
                tracing::warn!(path = %self.log.path().display(), position = pos, base_offset = header.base_offset, "truncating at out-of-order batch offset");
                break;
            }
            if !crc_matches(cursor.bytes(pos, header.size())?) {
                tracing::warn!(path = %self.log.path().display(), position = pos, "truncating at batch with bad CRC");
                break;
            }
            if next_offset.is_none() {
                first_max_timestamp = header.max_timestamp;
            }
            indexing.add(
                self.base_offset,
                pos,
                &header,
                index_interval,
                &mut offsets,
                &mut times,
            );
            next_offset = Some(header.next_offset());
            pos += header.size() as u64;
        }
        let truncated_bytes = file_len - pos;
        if truncated_bytes > 0 {
            self.log.set_len(pos)?;
        }
        indexing.maybe_time_entry(self.base_offset, &mut times);
        self.offset_index.replace(offsets)?;
        self.time_index.replace(times)?;
        self.size.store(pos, Ordering::Release);
        self.set_max_timestamp(indexing.max);
        self.bytes_since_index
            .store(indexing.bytes_since_index, Ordering::Relaxed);
        if next_offset.is_some() {
            self.set_rolling_ms(first_max_timestamp);
        }
        Ok(Recovered {
            next_offset,
            truncated_bytes,
        })
    }

    /// Checks a segment opened without recovery: indexes consistent with the log, and (for the
    /// last segment, `next_base == None`) a structurally sound tail, whose end offset it
    /// returns. `index_file_damaged` comes from `open`.
    pub(crate) fn check_on_open(
        &self,
        next_base: Option<i64>,
        index_file_damaged: bool,
    ) -> Result<OpenCheck, LogError> {
        if index_file_damaged {
            return Ok(OpenCheck::NeedsRecovery);
        }
        let size = self.size();
        let max_relative = match next_base {
            Some(next) => (next - self.base_offset - 1).max(0) as u64,
            None => MAX_RELATIVE_OFFSET as u64,
        };
        if !self.offset_index.is_consistent(size, max_relative)
            || !self.time_index.is_consistent(max_relative)
        {
            return Ok(OpenCheck::NeedsRecovery);
        }
        let mut cursor = self.cursor(size, SCAN_WINDOW);
        let mut pos = 0u64;
        if let Some(last) = self.offset_index.last() {
            pos = u64::from(last.position);
            match cursor.header_at(pos)? {
                HeaderAt::Batch(h)
                    if h.base_offset == self.base_offset + i64::from(last.relative_offset) => {}
                _ => return Ok(OpenCheck::NeedsRecovery),
            }
        }
        if size > 0 {
            match cursor.header_at(0)? {
                HeaderAt::Batch(h) if h.base_offset >= self.base_offset => {
                    self.set_rolling_ms(h.max_timestamp);
                }
                _ => return Ok(OpenCheck::NeedsRecovery),
            }
        }
        if next_base.is_some() {
            return Ok(OpenCheck::Consistent { next_offset: None });
        }
        // The active segment: walk the tail to find the end offset and its timestamps.
        let mut max = self.max_timestamp();
        let mut next_offset = None;
        let mut since_index = 0u64;
        loop {
            match cursor.header_at(pos)? {
                HeaderAt::End => break,
                HeaderAt::Invalid(_) => return Ok(OpenCheck::NeedsRecovery),
                HeaderAt::Batch(h) => {
                    if next_offset.is_some_and(|n| h.base_offset < n) {
                        return Ok(OpenCheck::NeedsRecovery);
                    }
                    if h.max_timestamp > max.timestamp {
                        max = MaxTimestamp {
                            timestamp: h.max_timestamp,
                            batch_offset: h.base_offset,
                        };
                    }
                    next_offset = Some(h.next_offset());
                    since_index += h.size() as u64;
                    pos += h.size() as u64;
                }
            }
        }
        self.set_max_timestamp(max);
        self.bytes_since_index.store(since_index, Ordering::Relaxed);
        Ok(OpenCheck::Consistent { next_offset })
    }

    /// Position of the first batch whose last offset is `>= offset`, with its header.
    fn locate(
        &self,
        cursor: &mut BatchCursor<'_>,
        offset: i64,
    ) -> Result<Option<(u64, BatchHeader)>, LogError> {
        let mut pos = self
            .offset_index
            .lookup(self.relative(offset))
            .map_or(0, |e| u64::from(e.position));
        loop {
            match cursor.header_at(pos)? {
                HeaderAt::End => return Ok(None),
                HeaderAt::Invalid(reason) => {
                    return Err(LogError::CorruptLog {
                        path: self.log.path().to_path_buf(),
                        position: pos,
                        reason,
                    });
                }
                HeaderAt::Batch(h) if h.last_offset() >= offset => return Ok(Some((pos, h))),
                HeaderAt::Batch(h) => pos += h.size() as u64,
            }
        }
    }

    /// Reads whole batches starting with the one that holds `offset` (or the first after it):
    /// always that first batch, then more while the total stays within `max_bytes` and each
    /// batch ends below `upper_bound`.
    pub(crate) fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        upper_bound: i64,
    ) -> Result<SegmentRead, LogError> {
        let limit = self.size();
        let window = max_bytes.saturating_add(SCAN_WINDOW).min(MAX_READ_WINDOW);
        let mut cursor = self.cursor(limit, window);
        let Some((start, first)) = self.locate(&mut cursor, offset)? else {
            return Ok(SegmentRead::Beyond);
        };
        if first.last_offset() >= upper_bound {
            return Ok(SegmentRead::Bounded);
        }
        let mut end = start + first.size() as u64;
        loop {
            match cursor.header_at(end)? {
                HeaderAt::Batch(h)
                    if h.last_offset() < upper_bound
                        && (end - start) + h.size() as u64 <= max_bytes as u64 =>
                {
                    end += h.size() as u64;
                }
                _ => break,
            }
        }
        Ok(SegmentRead::Data(
            cursor.take(start, (end - start) as usize)?,
        ))
    }

    /// Re-reads the whole segment and checks every batch: structure, offsets
    /// in order within the segment, CRC. A bad CRC is reported and the walk
    /// goes on (the header still frames the batch); a structural fault is
    /// reported and ends the walk. Never changes the file.
    pub(crate) fn scrub(&self) -> Result<SegmentScrub, LogError> {
        self.giving_back_file(|| self.scrub_open())
    }

    /// Runs `f`, which reads or writes the log file, then gives back the
    /// file's descriptor if it was not open before, so that a pass over many
    /// idle partitions (scrub, verify, repair) does not pile up open files.
    /// A file already removed keeps its descriptor for readers still on it.
    fn giving_back_file<T>(&self, f: impl FnOnce() -> Result<T, LogError>) -> Result<T, LogError> {
        let was_open = self.log.is_open();
        let result = f();
        if !was_open && self.log.metadata().is_ok() {
            self.log.release();
        }
        result
    }

    fn scrub_open(&self) -> Result<SegmentScrub, LogError> {
        let size = self.size();
        let mut cursor = self.cursor(size, RECOVERY_WINDOW);
        let mut out = SegmentScrub::default();
        let mut pos = 0u64;
        let mut next_offset = self.base_offset;
        let finding =
            |pos: u64, base: i64, last: i64, fault: ScrubFault, reason: String| ScrubFinding {
                path: self.log.path().to_path_buf(),
                segment_base_offset: self.base_offset,
                position: pos,
                base_offset: base,
                last_offset: last,
                fault,
                reason,
            };
        loop {
            let header = match cursor.header_at(pos)? {
                HeaderAt::End => break,
                HeaderAt::Invalid(reason) => {
                    out.findings
                        .push(finding(pos, -1, -1, ScrubFault::Structure, reason));
                    break;
                }
                HeaderAt::Batch(h) => h,
            };
            if header.base_offset < next_offset
                || header.last_offset() - self.base_offset > MAX_RELATIVE_OFFSET
            {
                out.findings.push(finding(
                    pos,
                    header.base_offset,
                    header.last_offset(),
                    ScrubFault::Structure,
                    format!(
                        "batch offsets {}..={} out of order (expected at least {next_offset})",
                        header.base_offset,
                        header.last_offset()
                    ),
                ));
                break;
            }
            let bytes = cursor.bytes(pos, header.size())?;
            out.bytes += bytes.len() as u64;
            out.batches += 1;
            if !crc_matches(bytes) {
                out.findings.push(finding(
                    pos,
                    header.base_offset,
                    header.last_offset(),
                    ScrubFault::CrcMismatch,
                    format!(
                        "CRC mismatch: stored {:#010x}, computed {:#010x}",
                        header.crc,
                        crate::batch::compute_crc(bytes)
                    ),
                ));
            }
            next_offset = header.next_offset();
            pos += header.size() as u64;
        }
        Ok(out)
    }

    /// Appends to `out` the batches from the one holding `from` up to the
    /// last one starting below `to`, in file order: their headers, and
    /// whether each batch's bytes match its CRC (recomputed, nothing
    /// decoded). Never changes the file.
    pub(crate) fn stored_batches(
        &self,
        from: i64,
        to: i64,
        out: &mut Vec<StoredBatch>,
    ) -> Result<(), LogError> {
        self.giving_back_file(|| {
            self.walk_from(from, RECOVERY_WINDOW, |h, pos, cursor| {
                if h.base_offset >= to {
                    return Ok(ControlFlow::Break(()));
                }
                out.push(StoredBatch::of(h, cursor.bytes(pos, h.size())?));
                Ok(ControlFlow::Continue(()))
            })
        })
    }

    /// Writes `replacement` over the batch at `position`, then fsyncs:
    /// only when `replacement` is exactly one structurally valid batch whose
    /// CRC matches its bytes, with the same base offset, last offset and
    /// size as the batch framed at `position`. The file's length never
    /// changes. The caller must make sure this is not the active segment.
    pub(crate) fn overwrite_batch(
        &self,
        position: u64,
        replacement: &[u8],
    ) -> Result<(), LogError> {
        self.giving_back_file(|| self.overwrite_batch_open(position, replacement))
    }

    fn overwrite_batch_open(&self, position: u64, replacement: &[u8]) -> Result<(), LogError> {
        let refuse = |reason: String| LogError::RepairRefused {
            path: self.log.path().to_path_buf(),
            position,
            reason,
        };
        let new = BatchHeader::parse(replacement)
            .ok_or_else(|| refuse("the replacement is shorter than a batch header".into()))?;
        new.check_structure(replacement.len()).map_err(|e| {
            refuse(format!(
                "the replacement is malformed: {}",
                LogError::from(e)
            ))
        })?;
        if new.size() != replacement.len() {
            return Err(refuse(format!(
                "the replacement holds {} bytes, not exactly one batch of {}",
                replacement.len(),
                new.size()
            )));
        }
        if !crc_matches(replacement) {
            return Err(refuse("the replacement does not match its own CRC".into()));
        }
        let mut cursor = self.cursor(self.size(), HEADER_SIZE);
        let old = match cursor.header_at(position)? {
            HeaderAt::Batch(h) => h,
            HeaderAt::End => return Err(refuse("no batch starts there".into())),
            HeaderAt::Invalid(reason) => {
                return Err(refuse(format!(
                    "the stored batch cannot be framed: {reason}"
                )));
            }
        };
        if (old.base_offset, old.last_offset(), old.size())
            != (new.base_offset, new.last_offset(), new.size())
        {
            return Err(refuse(format!(
                "the replacement holds offsets {}..={} in {} bytes, the stored batch {}..={} in {} bytes",
                new.base_offset,
                new.last_offset(),
                new.size(),
                old.base_offset,
                old.last_offset(),
                old.size()
            )));
        }
        self.log.write_all_at(replacement, position)?;
        self.log.sync_if_dirty()
    }

    /// Walks batch headers from the batch holding `from_offset` to the end, handing each with
    /// its position and the cursor (to fetch batch bytes) to `visit`.
    pub(crate) fn scan_from<F>(&self, from_offset: i64, mut visit: F) -> Result<(), LogError>
    where
        F: FnMut(&BatchHeader, u64, &mut BatchCursor<'_>) -> Result<(), LogError>,
    {
        self.walk_from(from_offset, SCAN_WINDOW, |h, pos, cursor| {
            visit(h, pos, cursor).map(ControlFlow::Continue)
        })
    }

    /// [`Segment::scan_from`] that stops as soon as `visit` breaks.
    pub(crate) fn scan_until<F>(&self, from_offset: i64, visit: F) -> Result<(), LogError>
    where
        F: FnMut(&BatchHeader, u64, &mut BatchCursor<'_>) -> Result<ControlFlow<()>, LogError>,
    {
        self.walk_from(from_offset, SCAN_WINDOW, visit)
    }

    /// Walks batch headers from the batch holding `from_offset` until the
    /// end or until `visit` breaks, through a read window of `window` bytes.
    /// A header that frames nothing is [`LogError::CorruptLog`].
    fn walk_from<F>(&self, from_offset: i64, window: usize, mut visit: F) -> Result<(), LogError>
    where
        F: FnMut(&BatchHeader, u64, &mut BatchCursor<'_>) -> Result<ControlFlow<()>, LogError>,
    {
        let mut cursor = self.cursor(self.size(), window);
        let Some((mut pos, _)) = self.locate(&mut cursor, from_offset)? else {
            return Ok(());
        };
        loop {
            match cursor.header_at(pos)? {
                HeaderAt::End => return Ok(()),
                HeaderAt::Invalid(reason) => {
                    return Err(LogError::CorruptLog {
                        path: self.log.path().to_path_buf(),
                        position: pos,
                        reason,
                    });
                }
                HeaderAt::Batch(h) => {
                    if visit(&h, pos, &mut cursor)?.is_break() {
                        return Ok(());
                    }
                    pos += h.size() as u64;
                }
            }
        }
    }

    /// First record at or after `start_offset` whose timestamp is `>= target`:
    /// `(offset, timestamp)`.
    pub(crate) fn find_by_timestamp(
        &self,
        target: i64,
        start_offset: i64,
    ) -> Result<Option<(i64, i64)>, LogError> {
        let from = self
            .time_index
            .lookup(target)
            .map_or(self.base_offset, |e| {
                self.base_offset + i64::from(e.relative_offset)
            })
            .max(start_offset);
        let mut found = None;
        self.scan_from(from, |h, pos, cursor| {
            if found.is_some() || h.last_offset() < start_offset || h.max_timestamp < target {
                return Ok(());
            }
            let records = decode_offsets_and_timestamps(h, cursor.bytes(pos, h.size())?).map_err(
                |reason| LogError::CorruptLog {
                    path: self.log.path().to_path_buf(),
                    position: pos,
                    reason,
                },
            )?;
            found = records
                .into_iter()
                .find(|&(offset, ts)| offset >= start_offset && ts >= target);
            Ok(())
        })?;
        Ok(found)
    }

    /// The first record of the batch based at `batch_offset` whose timestamp equals
    /// `timestamp`: `(offset, timestamp)`.
    pub(crate) fn record_with_timestamp(
        &self,
        batch_offset: i64,
        timestamp: i64,
    ) -> Result<Option<(i64, i64)>, LogError> {
        let mut cursor = self.cursor(self.size(), SCAN_WINDOW);
        let Some((pos, h)) = self.locate(&mut cursor, batch_offset)? else {
            return Ok(None);
        };
        let records =
            decode_offsets_and_timestamps(&h, cursor.bytes(pos, h.size())?).map_err(|reason| {
                LogError::CorruptLog {
                    path: self.log.path().to_path_buf(),
                    position: pos,
                    reason,
                }
            })?;
        Ok(records
            .into_iter()
            .find(|&(_, ts)| ts == timestamp)
            .or(Some((h.base_offset, timestamp))))
    }
}

/// `(offset, timestamp)` of every record of one batch, decompressing as needed. Under
/// log-append time every record carries the batch's max timestamp.
fn decode_offsets_and_timestamps(
    header: &BatchHeader,
    batch: &[u8],
) -> Result<Vec<(i64, i64)>, String> {
    let mut bytes = Bytes::copy_from_slice(batch);
    let set = RecordBatchDecoder::decode(&mut bytes).map_err(|e| e.to_string())?;
    Ok(set
        .records
        .iter()
        .map(|r| {
            let ts = if header.is_log_append_time() {
                header.max_timestamp
            } else {
                r.timestamp
            };
            (r.offset, ts)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::split_and_verify;
    use crate::batch::tests::encode_batch;
    use kafka_protocol::records::Compression;
    use std::fs::OpenOptions;

    /// Appends `n` batches of 2 records at offsets base, base+2, ...
    fn filled(dir: &Path, base: i64, n: usize, interval: u32) -> (Segment, Vec<u8>) {
        let seg = Segment::create(dir, base).unwrap();
        let mut all = Vec::new();
        for i in 0..n {
            let mut b = encode_batch(2, 100 + i as i64, None, false, Compression::None);
            crate::batch::set_base_offset(&mut b, base + 2 * i as i64);
            let spans = split_and_verify(&b).unwrap();
            seg.append(&b, &spans, interval, 0).unwrap();
            all.extend_from_slice(&b);
        }
        (seg, all)
    }

    #[test]
    fn a_deleted_segment_stays_readable_by_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let (seg, all) = filled(dir.path(), 0, 10, 300);
        seg.release_files();
        seg.delete_files().unwrap();
        assert!(!dir.path().join(log_file_name(0)).exists());
        match seg.read(0, all.len(), i64::MAX).unwrap() {
            SegmentRead::Data(bytes) => assert_eq!(&bytes[..], &all[..]),
            SegmentRead::Bounded | SegmentRead::Beyond => panic!("expected the batches"),
        }
    }

    #[test]
    fn append_indexes_every_interval_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let (seg, all) = filled(dir.path(), 100, 50, 300);
        assert_eq!(seg.size(), all.len() as u64);
        let batch_len = all.len() / 50;
        // An entry is due once more than `interval` bytes were written since the last one.
        let expected_entries = 50 / (300 / batch_len + 1);
        assert!(seg.offset_index.len() >= expected_entries - 1);
        assert!(seg.offset_index.is_consistent(seg.size(), 1000));
        assert_eq!(
            seg.max_timestamp(),
            MaxTimestamp {
                timestamp: 150,
                batch_offset: 198
            }
        );
        match seg.read(100, usize::MAX, i64::MAX).unwrap() {
            SegmentRead::Data(b) => assert_eq!(b.as_ref(), &all[..]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            seg.read(200, 10, i64::MAX).unwrap(),
            SegmentRead::Beyond
        ));
        assert!(matches!(
            seg.read(150, 10, 151).unwrap(),
            SegmentRead::Bounded
        ));
        assert_eq!(seg.find_by_timestamp(120, 0).unwrap(), Some((139, 120)));
        assert_eq!(seg.find_by_timestamp(120, 141).unwrap(), Some((141, 121)));
        assert_eq!(
            seg.record_with_timestamp(198, 150).unwrap(),
            Some((199, 150))
        );
    }

    #[test]
    fn recover_truncates_partial_batch_and_rebuilds_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let (seg, all) = filled(dir.path(), 0, 20, 200);
        let entries = seg.offset_index.entries().clone();
        let times = seg.time_index.entries().clone();
        let path = seg.log_path().to_path_buf();
        drop(seg);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut f, &all[..70]).unwrap();
        drop(f);
        std::fs::write(dir.path().join(index_file_name(0)), [1u8; 16]).unwrap();

        let (seg, damaged) = Segment::open(dir.path(), 0).unwrap();
        assert!(!damaged);
        assert_eq!(
            seg.check_on_open(None, false).unwrap(),
            OpenCheck::NeedsRecovery
        );
        let r = seg.recover(200).unwrap();
        assert_eq!(r.next_offset, Some(40));
        assert_eq!(r.truncated_bytes, 70);
        assert_eq!(seg.size(), all.len() as u64);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), all.len() as u64);
        assert_eq!(*seg.offset_index.entries(), entries);
        // Recovery adds the closing time entry that a roll would have added.
        seg.finish_time_index().unwrap();
        let closing = TimeEntry {
            timestamp: 120,
            relative_offset: 38,
        };
        let mut expected_times = times;
        if expected_times.last() != Some(&closing) {
            expected_times.push(closing);
        }
        assert_eq!(*seg.time_index.entries(), expected_times);
        // A consistent segment passes the open check and reports its end offset.
        drop(seg);
        let (seg, _) = Segment::open(dir.path(), 0).unwrap();
        assert_eq!(
            seg.check_on_open(None, false).unwrap(),
            OpenCheck::Consistent {
                next_offset: Some(40)
            }
        );
        assert_eq!(
            seg.check_on_open(Some(40), false).unwrap(),
            OpenCheck::Consistent { next_offset: None }
        );
        // Index entries beyond the next segment's base are inconsistent.
        assert_eq!(
            seg.check_on_open(Some(10), false).unwrap(),
            OpenCheck::NeedsRecovery
        );
    }

    #[test]
    fn recover_rejects_offsets_going_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let (seg, all) = filled(dir.path(), 10, 3, 4096);
        let mut again = encode_batch(1, 1, None, false, Compression::None);
        crate::batch::set_base_offset(&mut again, 12);
        let spans = split_and_verify(&again).unwrap();
        seg.append(&again, &spans, 4096, 0).unwrap();
        let r = seg.recover(4096).unwrap();
        assert_eq!(r.next_offset, Some(16));
        assert_eq!(seg.size(), all.len() as u64);
        // A batch below the segment base is rejected too.
        let dir = tempfile::tempdir().unwrap();
        let seg = Segment::create(dir.path(), 50).unwrap();
        let b = encode_batch(1, 1, None, false, Compression::None);
        seg.append(&b, &split_and_verify(&b).unwrap(), 4096, 0)
            .unwrap();
        let r = seg.recover(4096).unwrap();
        assert_eq!((r.next_offset, seg.size()), (None, 0));
    }
}
