//! The partition log: the public API the broker calls.
//!
//! Owns offset assignment, the append paths (leader, mirror, transaction markers), segment
//! rolling, retention and DeleteRecords, flushing and the recovery point, the published
//! offsets (log start, log end, first unstable offset), and keeping the leader epoch cache in
//! step with them (every appended batch with an epoch goes through it before its bytes are
//! written; log start moves truncate it from the start); tail truncation lives in `truncate`.
//! Appends are serialised by one mutex; readers take a snapshot of the segment set and read
//! with positional I/O outside every lock, and only see bytes after the log end offset that
//! covers them is published. It must never
//! block a reader on an append's disk write, and never return Ok for an append whose bytes are
//! not yet written to the segment file, nor stamp a leader epoch below the latest cached one.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::aborted_txns::{AbortedTxn, AbortedTxnIndex, AbortedTxnRecord};
use crate::batch::{
    self, BatchHeader, BatchSpan, ControlBatchSpec, TxnMarker, build_control_batch,
    read_txn_marker, split_and_verify,
};
use crate::checkpoint::{self, OffsetsCheckpoint};
use crate::compact::{self, CLEANED_SUFFIX, CleanRules, CleanerCheckpoint, CompactionStats};
use crate::config::{LogConfig, TimestampType};
use crate::epoch_cache::{EpochEntry, LeaderEpochCache};
use crate::error::LogError;
use crate::producer_state::{AppendOrigin, CompletedTxn, ProducerAppendInfo, ProducerStateTable};
use crate::recovery;
use crate::scrub::{SegmentScrub, StoredBatch};
use crate::segment::{MAX_RELATIVE_OFFSET, Segment, SegmentRead};
use crate::segments::SegmentSet;
use crate::snapshot::{self, snapshot_file_name};

/// Producer snapshots kept on disk.
const SNAPSHOTS_TO_KEEP: usize = 2;
/// `first_unstable` when no transaction is open.
const NO_OPEN_TXN: i64 = i64::MAX;

/// Result of a leader append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderAppend {
    /// Offset of the first appended record.
    pub base_offset: i64,
    /// Offset of the last appended record.
    pub last_offset: i64,
    /// The log-append time stamped on the batches, -1 under CreateTime.
    pub log_append_time: i64,
    /// The batch duplicated one already in the log: nothing was written and the offsets are
    /// those of the original.
    pub duplicate: bool,
}

/// Result of a mirror append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MirrorAppend {
    /// Base offset of the first appended batch.
    pub base_offset: i64,
    /// Last offset of the last appended batch.
    pub last_offset: i64,
}

/// State only the (single) writer touches.
#[derive(Debug)]
struct WriterState {
    producers: ProducerStateTable,
    snapshot_offsets: Vec<i64>,
}

/// A partition log: one directory of segments. `Send + Sync`; every method takes `&self`.
#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    config: RwLock<LogConfig>,
    writer: Mutex<WriterState>,
    segments: RwLock<Arc<SegmentSet>>,
    offsets: Arc<SharedOffsets>,
    first_unstable: AtomicI64,
    aborted: RwLock<AbortedTxnIndex>,
    leader_epoch: AtomicI32,
    /// The leader epoch cache; taken after `writer` when both are needed.
    /// Changed only through [`Log::with_epochs`].
    epochs: Mutex<LeaderEpochCache>,
    /// The cache's latest epoch (-1: none), published by every change, so
    /// the epoch that Fetch, Metadata and appends read costs no lock.
    latest_epoch: AtomicI32,
    closed: AtomicBool,
    /// Serialises compactions; the cleaner checkpoint once loaded.
    cleaner: Mutex<Option<CleanerCheckpoint>>,
}

/// The published offsets and the flush/checkpoint machinery, shared with the background
/// flushes of rolled segments.
#[derive(Debug)]
struct SharedOffsets {
    dir: PathBuf,
    log_start: AtomicI64,
    log_end: AtomicI64,
    /// Everything below is fsynced.
    recovery_point: AtomicI64,
    last_flush_ms: AtomicI64,
    /// Serialises flushes, and keeps them out of `reset_empty_to` and `delete`.
    flush_lock: Mutex<()>,
    checkpoint_lock: Mutex<()>,
    /// Set once the log is closed or its directory removed: background flushes of rolled
    /// segments then do nothing.
    retired: AtomicBool,
}

impl SharedOffsets {
    fn write_checkpoint(&self) -> Result<(), LogError> {
        self.write_checkpoint_with(true)
    }

    /// Rewrites the checkpoint; without `durable`, a later filesystem sync must make it so.
    fn write_checkpoint_with(&self, durable: bool) -> Result<(), LogError> {
        let _guard = lock(&self.checkpoint_lock);
        OffsetsCheckpoint {
            log_start_offset: self.log_start.load(Ordering::Acquire),
            recovery_point: self
                .recovery_point
                .load(Ordering::Acquire)
                .min(self.log_end.load(Ordering::Acquire)),
        }
        .write_with(&self.dir, durable)
    }

    /// fsyncs every segment of `segments` holding offsets in `[recovery point, offset)` and
    /// moves the recovery point to `offset`. The checkpoint is rewritten when `force` is set
    /// or when the recovery point crosses into another segment (that is all recovery needs).
    fn flush_up_to(
        &self,
        segments: &SegmentSet,
        offset: i64,
        now_ms: i64,
        force: bool,
    ) -> Result<(), LogError> {
        let _guard = lock(&self.flush_lock);
        if self.retired.load(Ordering::Acquire) && !force {
            return Ok(());
        }
        // A flush queued before a truncation must not claim offsets the log no longer has.
        let offset = offset.min(self.log_end.load(Ordering::Acquire));
        let recovery_point = self.recovery_point.load(Ordering::Acquire);
        if offset <= recovery_point && !force {
            return Ok(());
        }
        for (i, segment) in segments.iter().enumerate() {
            let holds_unflushed = segments
                .next_base(i)
                .is_none_or(|next| next > recovery_point);
            if holds_unflushed && segment.base_offset() < offset.max(recovery_point + 1) {
                segment.sync()?;
            }
        }
        checkpoint::sync_dir(&self.dir)?;
        let new_point = offset.max(recovery_point);
        self.recovery_point.store(new_point, Ordering::Release);
        self.last_flush_ms.store(now_ms, Ordering::Release);
        let crossed = segments.floor_index(recovery_point) != segments.floor_index(new_point);
        if force || crossed {
            self.write_checkpoint()?;
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}
fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Checks the rules Kafka applies to batches coming from producers.
fn check_client_batch(header: &BatchHeader, config: &LogConfig) -> Result<(), LogError> {
    if header.size() > config.max_message_bytes {
        return Err(LogError::RecordTooLarge {
            size: header.size(),
            max: config.max_message_bytes,
        });
    }
    if header.base_offset != 0 {
        return Err(LogError::InvalidRecord(format!(
            "the base offset of a produced batch should be 0, but it is {}",
            header.base_offset
        )));
    }
    if header.record_count <= 0 {
        return Err(LogError::InvalidRecord(format!(
            "invalid record count {}",
            header.record_count
        )));
    }
    if i64::from(header.last_offset_delta) + 1 != i64::from(header.record_count) {
        return Err(LogError::InvalidRecord(format!(
            "inconsistent batch: last offset delta {} with {} records",
            header.last_offset_delta, header.record_count
        )));
    }
    if header.is_control() {
        return Err(LogError::InvalidRecord(
            "clients are not allowed to write control records".into(),
        ));
    }
    if header.has_producer_id() && header.base_sequence < 0 {
        return Err(LogError::InvalidRecord(format!(
            "invalid sequence number {} for producer {}",
            header.base_sequence, header.producer_id
        )));
    }
    if header.is_transactional() && !header.has_producer_id() {
        return Err(LogError::InvalidRecord(
            "transactional batch without a producer id".into(),
        ));
    }
    Ok(())
}

impl Log {
    /// Opens (creating if missing) the log in `dir`, recovering it if it was not closed
    /// cleanly.
    pub fn open(dir: &Path, config: LogConfig) -> Result<Log, LogError> {
        Self::open_with(dir, config, true)
    }

    /// Like [`Log::open`], but the files it writes (checkpoint, the removal of the
    /// clean-shutdown marker) are not fsynced: the caller opens many logs, then makes them all
    /// durable with one [`sync_filesystem`](crate::sync_filesystem) before appending to any.
    pub fn open_unsynced(dir: &Path, config: LogConfig) -> Result<Log, LogError> {
        Self::open_with(dir, config, false)
    }

    fn open_with(dir: &Path, config: LogConfig, durable: bool) -> Result<Log, LogError> {
        fs::create_dir_all(dir).map_err(|e| LogError::file(dir, e))?;
        let loaded = recovery::load(dir, &config)?;
        let log = Self::from_loaded(dir, config, loaded);
        {
            let mut w = lock(&log.writer);
            log.prune_snapshots(&mut w)?;
            log.load_epoch_cache(durable)?;
        }
        log.finish_interrupted_truncation()?;
        log.offsets.write_checkpoint_with(durable)?;
        checkpoint::clear_clean_shutdown_with(dir, durable)?;
        Ok(log)
    }

    /// Creates the log of a brand-new partition in `dir`, a directory the caller has just made:
    /// one empty segment and nothing else (a missing checkpoint means offset 0, and there is
    /// nothing to recover). Nothing is fsynced; a lost file is recreated by the next open. If
    /// the directory already holds a segment file, this opens it as [`Log::open_unsynced`]
    /// does, never truncating it.
    pub fn create_unsynced(dir: &Path, config: LogConfig) -> Result<Log, LogError> {
        if dir.join(crate::segment::log_file_name(0)).exists() {
            return Self::open_with(dir, config, false);
        }
        let segment = Segment::create(dir, 0)?;
        let loaded = recovery::LoadedLog {
            segments: SegmentSet::single(Arc::new(segment)),
            log_start_offset: 0,
            log_end_offset: 0,
            recovery_point: 0,
            producers: ProducerStateTable::default(),
            aborted: AbortedTxnIndex::from_records(Vec::new()),
            snapshot_offsets: Vec::new(),
        };
        Ok(Self::from_loaded(dir, config, loaded))
    }

    fn from_loaded(dir: &Path, config: LogConfig, loaded: recovery::LoadedLog) -> Log {
        let first_unstable = loaded
            .producers
            .first_unstable_offset()
            .unwrap_or(NO_OPEN_TXN);
        Log {
            dir: dir.to_path_buf(),
            config: RwLock::new(config),
            writer: Mutex::new(WriterState {
                producers: loaded.producers,
                snapshot_offsets: loaded.snapshot_offsets,
            }),
            segments: RwLock::new(Arc::new(loaded.segments)),
            offsets: Arc::new(SharedOffsets {
                dir: dir.to_path_buf(),
                log_start: AtomicI64::new(loaded.log_start_offset),
                log_end: AtomicI64::new(loaded.log_end_offset),
                recovery_point: AtomicI64::new(loaded.recovery_point),
                last_flush_ms: AtomicI64::new(wall_clock_ms()),
                flush_lock: Mutex::new(()),
                checkpoint_lock: Mutex::new(()),
                retired: AtomicBool::new(false),
            }),
            first_unstable: AtomicI64::new(first_unstable),
            aborted: RwLock::new(loaded.aborted),
            leader_epoch: AtomicI32::new(-1),
            epochs: Mutex::new(LeaderEpochCache::empty(dir)),
            latest_epoch: AtomicI32::new(-1),
            closed: AtomicBool::new(false),
            cleaner: Mutex::new(None),
        }
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current configuration.
    pub fn config(&self) -> LogConfig {
        read(&self.config).clone()
    }

    /// Replaces the configuration; it applies from the next operation on.
    pub fn update_config(&self, config: LogConfig) {
        *write(&self.config) = config;
    }

    /// Sets the partition leader epoch the broker leads this partition in (-1, the default,
    /// leaves producers' batches untouched). The epoch in effect never goes below the latest
    /// epoch in the cache: see [`Log::leader_epoch`].
    pub fn set_leader_epoch(&self, epoch: i32) {
        self.leader_epoch.store(epoch, Ordering::Relaxed);
    }

    /// The partition leader epoch in effect, stamped into leader appends and reported to
    /// clients: the epoch set by [`Log::set_leader_epoch`], raised to the latest epoch in the
    /// cache (a mirror holds the source's epochs, and a promoted mirror continues at them, so
    /// the epoch never goes backwards); -1 while none is set.
    pub fn leader_epoch(&self) -> i32 {
        let set = self.leader_epoch.load(Ordering::Relaxed);
        if set < 0 {
            return set;
        }
        set.max(self.latest_epoch().unwrap_or(set))
    }

    /// The epoch of the entry covering `offset` (Kafka's `epochForOffset`): `None` when the
    /// cache has no entry at or below it.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        lock(&self.epochs)
            .entries()
            .iter()
            .take_while(|e| e.start_offset <= offset)
            .last()
            .map(|e| e.epoch)
    }

    /// The latest epoch in the leader epoch cache (the one still being written to).
    pub fn latest_epoch(&self) -> Option<i32> {
        let epoch = self.latest_epoch.load(Ordering::Acquire);
        (epoch >= 0).then_some(epoch)
    }

    /// The one way the epoch cache changes: runs `change` under its lock and
    /// publishes the resulting latest epoch.
    fn with_epochs<R>(
        &self,
        change: impl FnOnce(&mut LeaderEpochCache) -> Result<R, LogError>,
    ) -> Result<R, LogError> {
        let mut epochs = lock(&self.epochs);
        let result = change(&mut epochs);
        self.latest_epoch
            .store(epochs.latest_epoch().unwrap_or(-1), Ordering::Release);
        result
    }

    /// The leader epoch cache's entries, oldest first.
    pub fn epoch_entries(&self) -> Vec<EpochEntry> {
        lock(&self.epochs).entries().to_vec()
    }

    /// OffsetForLeaderEpoch: the largest cached epoch `<= requested` and where it ends
    /// (Kafka's `LeaderEpochFileCache.endOffsetFor` against the log end offset); `None` when
    /// the answer is undefined (Kafka's `UnifiedLog.endOffsetForEpoch`).
    pub fn end_offset_for_epoch(&self, requested: i32) -> Option<(i32, i64)> {
        let epochs = lock(&self.epochs);
        let log_end = self.offsets.log_end.load(Ordering::Acquire);
        let (epoch, offset) = epochs.end_offset_for(requested, log_end);
        (offset != crate::epoch_cache::UNDEFINED_EPOCH_OFFSET).then_some((epoch, offset))
    }

    /// Loads the leader epoch checkpoint, rebuilding it from the batch headers when it is
    /// missing (a log written before the cache existed) or unreadable, then drops the
    /// entries outside [log start, log end) — an entry written just before a crash whose
    /// batch never landed goes here.
    fn load_epoch_cache(&self, durable: bool) -> Result<(), LogError> {
        let mut cache = match LeaderEpochCache::read(&self.dir) {
            Ok(Some(cache)) => cache,
            Ok(None) => self.rebuild_epoch_cache(durable)?,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "leader epoch checkpoint unreadable, rebuilding it from the batches");
                self.rebuild_epoch_cache(durable)?
            }
        };
        cache.fit_to(
            self.offsets.log_start.load(Ordering::Acquire),
            self.offsets.log_end.load(Ordering::Acquire),
            durable,
        )?;
        self.with_epochs(|epochs| {
            *epochs = cache;
            Ok(())
        })
    }

    fn rebuild_epoch_cache(&self, durable: bool) -> Result<LeaderEpochCache, LogError> {
        let mut cache = LeaderEpochCache::empty(&self.dir);
        for segment in self.segments().iter() {
            segment.scan_from(segment.base_offset(), |h, _, _| {
                cache.assign_in_memory(h.partition_leader_epoch, h.base_offset);
                Ok(())
            })?;
        }
        cache.write(durable)?;
        Ok(cache)
    }

    /// Records in the epoch cache (and its checkpoint) the epochs of batches about to be
    /// appended, each at its base offset, before their bytes are written: one lock for
    /// the whole append.
    fn assign_epochs<'a>(
        &self,
        batches: impl IntoIterator<Item = (&'a BatchHeader, i64)>,
    ) -> Result<(), LogError> {
        self.with_epochs(|epochs| {
            for (header, base_offset) in batches {
                if header.partition_leader_epoch >= 0 {
                    epochs.assign(header.partition_leader_epoch, base_offset)?;
                }
            }
            Ok(())
        })
    }

    /// The log start offset moved to `offset`: the epoch cache follows.
    fn epochs_start_at(&self, offset: i64) -> Result<(), LogError> {
        self.with_epochs(|epochs| epochs.truncate_from_start(offset))?;
        Ok(())
    }

    fn segments(&self) -> Arc<SegmentSet> {
        read(&self.segments).clone()
    }

    fn publish_segments(&self, set: SegmentSet) {
        *write(&self.segments) = Arc::new(set);
    }

    fn write_checkpoint(&self) -> Result<(), LogError> {
        self.offsets.write_checkpoint()
    }

    fn ensure_open(&self) -> Result<(), LogError> {
        if self.closed.load(Ordering::Acquire) {
            Err(LogError::Closed)
        } else {
            Ok(())
        }
    }

    fn publish_first_unstable(&self, w: &WriterState) {
        self.first_unstable.store(
            w.producers.first_unstable_offset().unwrap_or(NO_OPEN_TXN),
            Ordering::Release,
        );
    }

    /// Records completed transactions: aborted ones go into the aborted index before the log
    /// end offset moves past their marker.
    fn record_completed(&self, w: &mut WriterState, completed: &[CompletedTxn]) {
        for txn in completed {
            w.producers.complete(txn);
            if txn.aborted {
                write(&self.aborted).push(AbortedTxnRecord {
                    producer_id: txn.producer_id,
                    first_offset: txn.first_offset,
                    last_offset: txn.last_offset,
                });
            }
        }
    }

    // ----------------------------------------------------------------------------------
    // Appends
    // ----------------------------------------------------------------------------------

    /// Leader append of one or more v2 batches from a Produce request: validates them,
    /// assigns offsets from the log end offset, enforces idempotence and transaction rules,
    /// writes them, and returns the assigned offsets (or the original ones for a duplicate).
    pub fn append_leader(&self, records: &[u8], now_ms: i64) -> Result<LeaderAppend, LogError> {
        let config = self.config();
        let mut spans = split_and_verify(records)?;
        for span in &spans {
            check_client_batch(&span.header, &config)?;
            if config.cleanup_policy_compact
                && compact::has_keyless_record(
                    &records[span.position..span.position + span.header.size()],
                )?
            {
                return Err(LogError::InvalidRecord(
                    "compacted topic cannot accept message without key".into(),
                ));
            }
        }
        let log_append_time = config.timestamp_type == TimestampType::LogAppendTime;

        let mut w = lock(&self.writer);
        self.ensure_open()?;
        let leader_epoch = self.leader_epoch();
        let base_offset = self.offsets.log_end.load(Ordering::Acquire);
        let mut buf = records.to_vec();
        let mut next = base_offset;
        let mut staged: HashMap<i64, ProducerAppendInfo> = HashMap::new();
        for span in &mut spans {
            let bytes = &mut buf[span.position..span.position + span.header.size()];
            batch::set_base_offset(bytes, next);
            span.header.base_offset = next;
            if leader_epoch >= 0 {
                batch::set_partition_leader_epoch(bytes, leader_epoch);
                span.header.partition_leader_epoch = leader_epoch;
            }
            if log_append_time {
                batch::set_log_append_time(bytes, now_ms);
                span.header.max_timestamp = now_ms;
                span.header.base_timestamp = now_ms;
            }
            next = span.header.next_offset();
            let header = span.header;
            if header.has_producer_id() {
                let duplicate = w
                    .producers
                    .entry(header.producer_id)
                    .and_then(|e| e.find_duplicate(&header));
                if let Some(dup) = duplicate {
                    return Ok(LeaderAppend {
                        base_offset: dup.first_offset(),
                        last_offset: dup.last_offset,
                        log_append_time: if log_append_time { dup.timestamp } else { -1 },
                        duplicate: true,
                    });
                }
                let info = match staged.entry(header.producer_id) {
                    std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => v.insert(
                        w.producers
                            .prepare(header.producer_id, AppendOrigin::Client),
                    ),
                };
                info.append(&header, None)?;
            }
        }
        let last_offset = next - 1;
        let rolled =
            self.maybe_roll(&mut w, &config, buf.len(), base_offset, last_offset, now_ms)?;
        self.assign_epochs(spans.iter().map(|s| (&s.header, s.header.base_offset)))?;
        self.segments()
            .active()
            .append(&buf, &spans, config.index_interval_bytes, now_ms)?;
        for info in staged.into_values() {
            w.producers.update(info);
        }
        self.publish_first_unstable(&w);
        self.offsets.log_end.store(next, Ordering::Release);
        drop(w);

        self.after_append(rolled, now_ms, &config)?;
        Ok(LeaderAppend {
            base_offset,
            last_offset,
            log_append_time: if log_append_time { now_ms } else { -1 },
            duplicate: false,
        })
    }

    /// Mirror append: batches copied from a source cluster keep their offsets and bytes.
    /// The first base offset must be `>=` the log end offset (gaps are fine); on an empty log
    /// the log start offset moves to it only when the gap is wider than a segment can index. Producer and transaction state follow the batches
    /// without validation.
    pub fn append_mirror(&self, records: &[u8]) -> Result<MirrorAppend, LogError> {
        let config = self.config();
        let spans = split_and_verify(records)?;
        for pair in spans.windows(2) {
            if pair[1].header.base_offset <= pair[0].header.last_offset() {
                return Err(LogError::OffsetOutOfOrder {
                    offset: pair[1].header.base_offset,
                    log_end_offset: pair[0].header.next_offset(),
                });
            }
        }
        let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
            return Err(LogError::InvalidRecord("no record batches".into()));
        };
        let (first_offset, last_offset) = (first.header.base_offset, last.header.last_offset());
        let now_ms = wall_clock_ms();

        let mut w = lock(&self.writer);
        self.ensure_open()?;
        let log_end = self.offsets.log_end.load(Ordering::Acquire);
        if first_offset < log_end {
            return Err(LogError::OffsetOutOfOrder {
                offset: first_offset,
                log_end_offset: log_end,
            });
        }
        let segments = self.segments();
        if segments.size_bytes() == 0
            && first_offset > log_end
            && first_offset - segments.active().base_offset() > MAX_RELATIVE_OFFSET
        {
            // Empty log and a gap wider than a segment can index: it now
            // starts where the source's data starts. A narrower gap (a
            // compacted source head) stays in the log, whose start keeps
            // following the source's log start, as a follower's does.
            let active = segments.active();
            if active.base_offset() != first_offset {
                let fresh = Arc::new(Segment::create(&self.dir, first_offset)?);
                self.publish_segments(segments.with_active_replaced(fresh));
                active.delete_files()?;
            }
            self.offsets.log_end.store(first_offset, Ordering::Release);
            self.offsets
                .log_start
                .store(first_offset, Ordering::Release);
            self.offsets
                .recovery_point
                .store(first_offset, Ordering::Release);
            self.write_checkpoint()?;
            self.epochs_start_at(first_offset)?;
        }

        let mut rolled = None;
        let mut chunk_start = 0;
        while chunk_start < spans.len() {
            let chunk_base = spans[chunk_start].header.base_offset;
            let mut chunk_end = chunk_start + 1;
            while chunk_end < spans.len()
                && spans[chunk_end].header.last_offset() - chunk_base <= MAX_RELATIVE_OFFSET
            {
                chunk_end += 1;
            }
            let chunk = &spans[chunk_start..chunk_end];
            let from = chunk[0].position;
            let to = chunk[chunk.len() - 1].position + chunk[chunk.len() - 1].header.size();
            let chunk_last = chunk[chunk.len() - 1].header.last_offset();
            let rebased: Vec<BatchSpan> = chunk
                .iter()
                .map(|s| BatchSpan {
                    position: s.position - from,
                    header: s.header,
                })
                .collect();
            if let Some(r) =
                self.maybe_roll(&mut w, &config, to - from, chunk_base, chunk_last, now_ms)?
            {
                rolled = Some(r);
            }
            self.assign_epochs(chunk.iter().map(|s| (&s.header, s.header.base_offset)))?;
            self.segments().active().append(
                &records[from..to],
                &rebased,
                config.index_interval_bytes,
                now_ms,
            )?;
            let mut completed = Vec::new();
            for span in chunk {
                let h = &span.header;
                let marker = if h.is_control() {
                    read_txn_marker(&records[span.position..span.position + h.size()])
                } else {
                    None
                };
                if let Some(txn) = w.producers.apply_replicated(h, marker) {
                    completed.push(txn);
                }
            }
            self.record_completed(&mut w, &completed);
            self.publish_first_unstable(&w);
            self.offsets
                .log_end
                .store(chunk_last + 1, Ordering::Release);
            chunk_start = chunk_end;
        }
        drop(w);

        self.after_append(rolled, now_ms, &config)?;
        Ok(MirrorAppend {
            base_offset: first_offset,
            last_offset,
        })
    }

    /// Moves an empty log (or one being skipped ahead) to `offset`: log start = log end =
    /// `offset`, all data and producer state dropped. Fails if `offset` is below the log end.
    pub fn reset_empty_to(&self, offset: i64) -> Result<(), LogError> {
        let mut w = lock(&self.writer);
        self.ensure_open()?;
        let _no_flush = lock(&self.offsets.flush_lock);
        let log_end = self.offsets.log_end.load(Ordering::Acquire);
        if offset < log_end {
            return Err(LogError::InvalidOffset {
                offset,
                log_end_offset: log_end,
            });
        }
        // Producer snapshots of the old data go first (without them a reopen rebuilds state by
        // scanning). Then the new start is persisted: if we die half-way, opening the
        // directory drops every segment below it and starts afresh at `offset`.
        for o in std::mem::take(&mut w.snapshot_offsets) {
            remove_file_if_exists(&self.dir.join(snapshot_file_name(o)))?;
        }
        {
            let _guard = lock(&self.offsets.checkpoint_lock);
            OffsetsCheckpoint {
                log_start_offset: offset,
                recovery_point: offset,
            }
            .write(&self.dir)?;
        }
        let old = self.segments();
        let fresh = Arc::new(Segment::create(&self.dir, offset)?);
        self.publish_segments(SegmentSet::single(fresh));
        self.offsets.log_end.store(offset, Ordering::Release);
        self.offsets.log_start.store(offset, Ordering::Release);
        self.offsets.recovery_point.store(offset, Ordering::Release);
        for s in old.iter().filter(|s| s.base_offset() != offset) {
            s.delete_files()?;
        }
        w.producers.clear();
        write(&self.aborted).clear();
        self.publish_first_unstable(&w);
        self.write_checkpoint()?;
        // Kafka's truncateFullyAndStartAt clears the epoch cache: no epoch covers the new,
        // empty log.
        self.with_epochs(|epochs| epochs.truncate_from_end(0))?;
        checkpoint::sync_dir(&self.dir)
    }

    /// Writes a COMMIT or ABORT marker for `producer_id`'s transaction (WriteTxnMarkers) and
    /// returns its offset.
    pub fn append_control(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        now_ms: i64,
    ) -> Result<i64, LogError> {
        if producer_id < 0 {
            return Err(LogError::InvalidRecord(format!(
                "transaction marker for invalid producer id {producer_id}"
            )));
        }
        let config = self.config();
        let mut w = lock(&self.writer);
        self.ensure_open()?;
        let offset = self.offsets.log_end.load(Ordering::Acquire);
        let bytes = build_control_batch(&ControlBatchSpec {
            offset,
            partition_leader_epoch: self.leader_epoch(),
            producer_id,
            producer_epoch,
            commit,
            coordinator_epoch,
            timestamp: now_ms,
            log_append_time: config.timestamp_type == TimestampType::LogAppendTime,
        });
        let spans = split_and_verify(&bytes)?;
        let Some(span) = spans.first().copied() else {
            return Err(LogError::InvalidRecord("empty control batch".into()));
        };
        let mut info = w.producers.prepare(producer_id, AppendOrigin::Coordinator);
        let completed = info.append(
            &span.header,
            Some(TxnMarker {
                commit,
                coordinator_epoch,
                timestamp: now_ms,
            }),
        )?;
        let rolled = self.maybe_roll(&mut w, &config, bytes.len(), offset, offset, now_ms)?;
        self.assign_epochs([(&span.header, offset)])?;
        self.segments()
            .active()
            .append(&bytes, &spans, config.index_interval_bytes, now_ms)?;
        w.producers.update(info);
        self.record_completed(&mut w, completed.as_slice());
        self.publish_first_unstable(&w);
        self.offsets.log_end.store(offset + 1, Ordering::Release);
        drop(w);

        self.after_append(rolled, now_ms, &config)?;
        Ok(offset)
    }

    /// Work after an append released the writer lock: flush a just-rolled segment, then apply
    /// the flush policy.
    fn after_append(
        &self,
        rolled_at: Option<i64>,
        now_ms: i64,
        config: &LogConfig,
    ) -> Result<(), LogError> {
        if let Some(offset) = rolled_at {
            // Like Kafka, the rolled segment is flushed in the background so that this append
            // does not wait for a whole segment's fsync; the recovery point follows.
            let offsets = self.offsets.clone();
            let segments = self.segments();
            let spawned = std::thread::Builder::new()
                .name("strait-log-flush".into())
                .spawn(move || {
                    if let Err(e) = offsets.flush_up_to(&segments, offset, now_ms, false) {
                        tracing::error!(dir = %offsets.dir.display(), error = %e, "flushing a rolled segment failed");
                    }
                });
            if spawned.is_err() {
                self.flush_up_to(offset, now_ms, false)?;
            }
        }
        self.maybe_flush_with(now_ms, config)
    }

    /// Rolls to a new active segment at `first_offset` if the incoming bytes do not fit the
    /// current one (size, age, relative offset range). Returns the new segment's base offset
    /// when a non-empty segment was closed (it should then be flushed).
    fn maybe_roll(
        &self,
        w: &mut WriterState,
        config: &LogConfig,
        incoming_bytes: usize,
        first_offset: i64,
        last_offset: i64,
        now_ms: i64,
    ) -> Result<Option<i64>, LogError> {
        let segments = self.segments();
        let active = segments.active();
        let size = active.size();
        let overflow = last_offset - active.base_offset() > MAX_RELATIVE_OFFSET;
        let by_size = size > 0 && size + incoming_bytes as u64 > config.effective_segment_bytes();
        let by_time = size > 0
            && active.rolling_ms() >= 0
            && now_ms.saturating_sub(active.rolling_ms()) > config.segment_ms;
        if !(overflow || by_size || by_time) {
            return Ok(None);
        }
        if size == 0 {
            // An empty active segment is re-based instead of leaving an empty one behind.
            if active.base_offset() == first_offset {
                return Ok(None);
            }
            let fresh = Arc::new(Segment::create(&self.dir, first_offset)?);
            self.publish_segments(segments.with_active_replaced(fresh));
            active.delete_files()?;
            return Ok(None);
        }
        active.finish_time_index()?;
        {
            let aborted = read(&self.aborted);
            snapshot::write(
                &self.dir,
                first_offset,
                &w.producers,
                aborted.records(),
                false,
            )?;
        }
        if !w.snapshot_offsets.contains(&first_offset) {
            w.snapshot_offsets.push(first_offset);
        }
        self.prune_snapshots(w)?;
        let fresh = Arc::new(Segment::create(&self.dir, first_offset)?);
        self.publish_segments(segments.with_new_active(fresh));
        tracing::debug!(dir = %self.dir.display(), base_offset = first_offset, "rolled segment");
        Ok(Some(first_offset))
    }

    fn prune_snapshots(&self, w: &mut WriterState) -> Result<(), LogError> {
        w.snapshot_offsets.sort_unstable();
        while w.snapshot_offsets.len() > SNAPSHOTS_TO_KEEP {
            let o = w.snapshot_offsets.remove(0);
            remove_file_if_exists(&self.dir.join(snapshot_file_name(o)))?;
        }
        Ok(())
    }

    // ----------------------------------------------------------------------------------
    // Reads and queries
    // ----------------------------------------------------------------------------------

    /// Reads whole batches from the one holding `offset`: at least that batch even if it is
    /// bigger than `max_bytes`, more while they fit in `max_bytes`, none ending at or past
    /// `upper_bound` (exclusive; e.g. the high watermark or LSO). Empty at the log end.
    pub fn read(&self, offset: i64, max_bytes: usize, upper_bound: i64) -> Result<Bytes, LogError> {
        let log_start = self.offsets.log_start.load(Ordering::Acquire);
        let log_end = self.offsets.log_end.load(Ordering::Acquire);
        if offset < log_start || offset > log_end {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: log_start,
                log_end_offset: log_end,
            });
        }
        let bound = upper_bound.min(log_end);
        if offset >= bound {
            return Ok(Bytes::new());
        }
        let segments = self.segments();
        let Some(start) = segments.floor_index(offset) else {
            // The segment was deleted between the range check and now.
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: self.offsets.log_start.load(Ordering::Acquire),
                log_end_offset: log_end,
            });
        };
        for segment in segments.iter().skip(start) {
            if segment.base_offset() >= bound {
                break;
            }
            match segment.read(offset, max_bytes, bound)? {
                SegmentRead::Data(bytes) => return Ok(bytes),
                SegmentRead::Bounded => return Ok(Bytes::new()),
                SegmentRead::Beyond => continue,
            }
        }
        Ok(Bytes::new())
    }

    /// First offset that may be read.
    pub fn log_start_offset(&self) -> i64 {
        self.offsets.log_start.load(Ordering::Acquire)
    }

    /// Offset the next appended record gets.
    pub fn log_end_offset(&self) -> i64 {
        self.offsets.log_end.load(Ordering::Acquire)
    }

    /// High watermark; equal to the log end offset on a single node.
    pub fn high_watermark(&self) -> i64 {
        self.log_end_offset()
    }

    /// First offset of the oldest open transaction (never below the log start), else the
    /// high watermark.
    pub fn last_stable_offset(&self) -> i64 {
        let first_unstable = self.first_unstable.load(Ordering::Acquire);
        let log_start = self.offsets.log_start.load(Ordering::Acquire);
        let hw = self.high_watermark();
        if first_unstable == NO_OPEN_TXN {
            hw
        } else {
            first_unstable.max(log_start).min(hw)
        }
    }

    /// Aborted transactions overlapping `[fetch_offset, upper_bound)`.
    pub fn aborted_transactions(&self, fetch_offset: i64, upper_bound: i64) -> Vec<AbortedTxn> {
        read(&self.aborted).overlapping(fetch_offset, upper_bound)
    }

    /// ListOffsets by timestamp: `(offset, timestamp)` of the first record whose timestamp is
    /// `>= ts`, or `None`.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        let log_start = self.offsets.log_start.load(Ordering::Acquire);
        let log_end = self.offsets.log_end.load(Ordering::Acquire);
        let segments = self.segments();
        for (i, segment) in segments.iter().enumerate() {
            if segments.next_base(i).is_some_and(|next| next <= log_start)
                || segment.max_timestamp().timestamp < ts
            {
                continue;
            }
            if let Some(found) = segment.find_by_timestamp(ts, log_start)? {
                return Ok((found.0 < log_end).then_some(found));
            }
        }
        Ok(None)
    }

    /// ListOffsets MAX_TIMESTAMP: `(offset, timestamp)` of the first record carrying the
    /// largest timestamp, or `None` for an empty log.
    pub fn max_timestamp(&self) -> Result<Option<(i64, i64)>, LogError> {
        let segments = self.segments();
        let mut best: Option<(&Arc<Segment>, crate::segment::MaxTimestamp)> = None;
        for segment in segments.iter() {
            let max = segment.max_timestamp();
            if max.timestamp >= 0 && best.is_none_or(|(_, b)| max.timestamp > b.timestamp) {
                best = Some((segment, max));
            }
        }
        match best {
            Some((segment, max)) => segment.record_with_timestamp(max.batch_offset, max.timestamp),
            None => Ok(None),
        }
    }

    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments().size_bytes()
    }

    /// Number of segments (at least one).
    pub fn segment_count(&self) -> usize {
        self.segments().len()
    }

    /// Base offsets of all segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments().iter().map(|s| s.base_offset()).collect()
    }

    /// Base offsets of the closed segments (every one but the active
    /// segment, which appends still change), oldest first.
    pub fn closed_segment_base_offsets(&self) -> Vec<i64> {
        let set = self.segments();
        let active = set.active().base_offset();
        set.iter()
            .map(|s| s.base_offset())
            .filter(|base| *base != active)
            .collect()
    }

    /// Re-reads the closed segment starting at `base_offset` and checks
    /// every batch (see [`crate::scrub`]). `None` when no closed segment
    /// starts there any more (retention or compaction replaced it).
    pub fn scrub_segment(&self, base_offset: i64) -> Result<Option<SegmentScrub>, LogError> {
        match self.segment_at(base_offset) {
            Some((segment, false)) => segment.scrub().map(Some),
            _ => Ok(None),
        }
    }

    /// The segment starting exactly at `base_offset` (found by binary
    /// search), and whether it is the active one.
    fn segment_at(&self, base_offset: i64) -> Option<(Arc<Segment>, bool)> {
        let set = self.segments();
        let i = set.floor_index(base_offset)?;
        let segment = set.get(i).filter(|s| s.base_offset() == base_offset)?;
        Some((segment.clone(), i + 1 == set.len()))
    }

    /// The stored batches holding offsets in `[from, to)`, oldest first:
    /// from the batch holding `from` (which may start below it) to the last
    /// one starting below `to`, each with its header fields and whether its
    /// bytes still match its CRC (see [`StoredBatch`]). Reads batch bytes to
    /// recompute CRCs but decodes no record; `from` is raised to the log
    /// start and `to` lowered to the log end.
    pub fn stored_batches(&self, from: i64, to: i64) -> Result<Vec<StoredBatch>, LogError> {
        let from = from.max(self.log_start_offset());
        let to = to.min(self.log_end_offset());
        let mut out = Vec::new();
        if from >= to {
            return Ok(out);
        }
        let segments = self.segments();
        let Some(start) = segments.floor_index(from) else {
            return Ok(out);
        };
        for segment in segments.iter().skip(start) {
            if segment.base_offset() >= to {
                break;
            }
            segment.stored_batches(from, to, &mut out)?;
        }
        Ok(out)
    }

    /// Writes `replacement` over the batch at byte `position` of the closed
    /// segment starting at `segment_base_offset`, in place, then fsyncs.
    /// Refused ([`LogError::RepairRefused`], nothing written) for the active
    /// segment, a segment that is gone, or a replacement that is not one
    /// valid batch (CRC checked) with the stored batch's base offset, last
    /// offset and size: a repair never changes a file's length or any
    /// offset. Compaction waits for it.
    pub fn repair_batch(
        &self,
        segment_base_offset: i64,
        position: u64,
        replacement: &[u8],
    ) -> Result<(), LogError> {
        let _no_compaction = lock(&self.cleaner);
        let Some((segment, active)) = self.segment_at(segment_base_offset) else {
            return Err(LogError::RepairRefused {
                path: self.dir.clone(),
                position,
                reason: format!("no segment starts at offset {segment_base_offset}"),
            });
        };
        if active {
            return Err(LogError::RepairRefused {
                path: segment.log_path().to_path_buf(),
                position,
                reason: "the active segment is never changed in place".into(),
            });
        }
        segment.overwrite_batch(position, replacement)
    }

    /// The producers with state (DescribeProducers).
    pub fn active_producers(&self) -> Vec<crate::producer_state::ActiveProducer> {
        lock(&self.writer).producers.active()
    }

    /// Number of producer ids with state.
    pub fn producer_count(&self) -> usize {
        lock(&self.writer).producers.len()
    }

    // ----------------------------------------------------------------------------------
    // Deletion and retention
    // ----------------------------------------------------------------------------------

    /// DeleteRecords: moves the log start offset to `offset` (`-1` = the high watermark),
    /// persists it and deletes segments wholly below it. Returns the new log start offset.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, LogError> {
        let w = lock(&self.writer);
        let hw = self.high_watermark();
        let offset = if offset == -1 { hw } else { offset };
        let log_start = self.offsets.log_start.load(Ordering::Acquire);
        if offset < 0 || offset > hw {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: log_start,
                log_end_offset: hw,
            });
        }
        if offset <= log_start {
            return Ok(log_start);
        }
        self.offsets.log_start.store(offset, Ordering::Release);
        self.write_checkpoint()?;
        self.epochs_start_at(offset)?;
        write(&self.aborted).truncate_before(offset);
        let segments = self.segments();
        let count = (0..segments.len())
            .take_while(|&i| segments.next_base(i).is_some_and(|next| next <= offset))
            .count();
        self.delete_oldest(w, count)?;
        Ok(offset)
    }

    /// Applies retention: segments wholly below the log start offset, segments whose largest
    /// timestamp is more than `retention_ms` old, and the oldest segments while the log is
    /// over `retention_bytes`. Like Kafka, the active segment can go too (a fresh one is
    /// rolled first). Also expires idle producers. Returns the bytes deleted.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<u64, LogError> {
        let config = self.config();
        let mut w = lock(&self.writer);
        w.producers
            .remove_expired(now_ms, config.producer_id_expiration_ms);
        let mut deleted = 0u64;

        let log_start = self.offsets.log_start.load(Ordering::Acquire);
        let segments = self.segments();
        let count = (0..segments.len())
            .take_while(|&i| segments.next_base(i).is_some_and(|next| next <= log_start))
            .count();
        let (bytes, guard) = self.delete_oldest_keep_lock(w, count)?;
        deleted += bytes;
        w = guard;

        if config.cleanup_policy_delete && config.retention_ms >= 0 {
            let segments = self.segments();
            let last = segments.len() - 1;
            let count = segments
                .iter()
                .enumerate()
                .take_while(|&(i, s)| {
                    !(i == last && s.size() == 0)
                        && now_ms.saturating_sub(s.largest_timestamp_for_retention())
                            > config.retention_ms
                })
                .count();
            let (bytes, guard) = self.delete_oldest_keep_lock(w, count)?;
            deleted += bytes;
            w = guard;
        }

        if config.cleanup_policy_delete && config.retention_bytes >= 0 {
            let segments = self.segments();
            let mut excess = segments.size_bytes() as i64 - config.retention_bytes;
            let last = segments.len() - 1;
            let mut count = 0;
            for (i, s) in segments.iter().enumerate() {
                let size = s.size() as i64;
                if (i == last && size == 0) || excess - size < 0 {
                    break;
                }
                excess -= size;
                count += 1;
            }
            let (bytes, guard) = self.delete_oldest_keep_lock(w, count)?;
            deleted += bytes;
            w = guard;
        }
        drop(w);
        Ok(deleted)
    }

    /// Log compaction (a no-op unless `cleanup_policy_compact`): over the inactive segments
    /// below the first unstable offset whose records are all older than
    /// `min_compaction_lag_ms`, keeps only the latest record per key (keyless records, control
    /// batches and aborted transactions stay; tombstones go `delete_retention_ms` after they
    /// were first cleaned; a producer's last batch stays even when all its records are
    /// superseded). Runs only when the dirty share of those bytes reaches
    /// `min_cleanable_dirty_ratio`. Kept records keep their offsets, so the log gets gaps.
    /// Each changed segment is written to a `.cleaned` file, fsynced and renamed over the old
    /// one (its indexes rebuilt); readers holding the old segment keep reading it.
    pub fn compact(&self, now_ms: i64) -> Result<CompactionStats, LogError> {
        let config = self.config();
        let mut stats = CompactionStats::default();
        if !config.cleanup_policy_compact {
            return Ok(stats);
        }
        self.ensure_open()?;
        let mut cleaner = lock(&self.cleaner);
        let checkpoint = match cleaner.as_mut() {
            Some(c) => c,
            None => cleaner.insert(CleanerCheckpoint::read(&self.dir)?),
        };
        let segments = self.segments();
        let log_start = self.offsets.log_start.load(Ordering::Acquire);
        let first_unstable = self.first_unstable.load(Ordering::Acquire);
        let first_dirty = checkpoint.first_dirty().max(log_start);
        let lag_limit = now_ms.saturating_sub(config.min_compaction_lag_ms.max(0));

        // Cleanable: whole inactive segments [start, end_index) below the first unstable
        // offset and (with a lag) whose records are all old enough.
        let start = (0..segments.len())
            .take_while(|&i| segments.next_base(i).is_some_and(|n| n <= log_start))
            .count();
        let mut end_index = start;
        let mut end = log_start;
        for i in start..segments.len() {
            let (Some(segment), Some(next)) = (segments.get(i), segments.next_base(i)) else {
                break;
            };
            if next > first_unstable
                || (config.min_compaction_lag_ms > 0
                    && segment.largest_timestamp_for_retention() > lag_limit)
            {
                break;
            }
            end_index = i + 1;
            end = next;
        }
        if end <= first_dirty {
            return Ok(stats);
        }
        let mut total = 0u64;
        let mut dirty = 0u64;
        for i in start..end_index {
            let size = segments.get(i).map_or(0, |s| s.size());
            total += size;
            if segments.next_base(i).is_some_and(|n| n > first_dirty) {
                dirty += size;
            }
        }
        if total > 0 && (dirty as f64) / (total as f64) < config.min_cleanable_dirty_ratio {
            return Ok(stats);
        }

        let producer_last: HashMap<i64, i64> = lock(&self.writer)
            .producers
            .entries()
            .filter_map(|e| e.batches.back().map(|b| (e.producer_id, b.last_offset)))
            .collect();
        let aborted: Vec<AbortedTxnRecord> = read(&self.aborted)
            .records()
            .iter()
            .filter(|a| a.last_offset >= log_start && a.first_offset < end)
            .copied()
            .collect();
        let mut map = HashMap::new();
        for i in start..end_index {
            if let Some(segment) = segments.get(i)
                && segments.next_base(i).is_some_and(|n| n > first_dirty)
            {
                compact::build_offset_map(segment, first_dirty, end, &aborted, &mut map)?;
            }
        }
        let rules = CleanRules {
            map: &map,
            tombstone_horizon: checkpoint.tombstone_horizon(now_ms, config.delete_retention_ms),
            producer_last: &producer_last,
            aborted: &aborted,
        };

        // Rewrite outside the writer lock, into `.cleaned` files.
        let mut cleaned = Vec::new();
        for i in start..end_index {
            let Some(segment) = segments.get(i) else {
                continue;
            };
            let Some(result) = compact::clean_segment(segment, &rules)? else {
                continue;
            };
            let path = self.cleaned_path(segment.base_offset());
            let written = fs::File::create(&path).and_then(|mut f| {
                io::Write::write_all(&mut f, &result.bytes)?;
                f.sync_all()
            });
            if let Err(e) = written {
                let _ = fs::remove_file(&path);
                return Err(LogError::file(&path, e));
            }
            stats.records_removed += result.records_removed;
            stats.bytes_before += segment.size();
            stats.bytes_after += result.bytes.len() as u64;
            cleaned.push((segment.clone(), path));
        }

        // Swap the cleaned segments in under the writer lock (appends, retention and
        // DeleteRecords change the segment set only under it).
        if !cleaned.is_empty() {
            let _w = lock(&self.writer);
            let mut set = (*self.segments()).clone();
            let mut swapped = 0;
            let mut failure = None;
            for (old, path) in &cleaned {
                let position = set.iter().position(|s| Arc::ptr_eq(s, old));
                let Some(i) = position.filter(|_| failure.is_none()) else {
                    remove_file_if_exists(path)?;
                    continue;
                };
                match self.swap_in_cleaned(old, path, config.index_interval_bytes) {
                    Ok(fresh) => {
                        set = set.with_replaced(i, fresh);
                        swapped += 1;
                    }
                    Err(e) => failure = Some(e),
                }
            }
            self.publish_segments(set);
            stats.segments_cleaned = swapped;
            if let Some(e) = failure {
                return Err(e);
            }
        }
        checkpoint.record(end, now_ms, config.delete_retention_ms);
        checkpoint.write(&self.dir)?;
        stats.cleaned_up_to = end;
        if stats.segments_cleaned > 0 {
            tracing::debug!(dir = %self.dir.display(), segments = stats.segments_cleaned, removed = stats.records_removed, bytes_before = stats.bytes_before, bytes_after = stats.bytes_after, "compacted");
        }
        Ok(stats)
    }

    fn cleaned_path(&self, base_offset: i64) -> PathBuf {
        self.dir.join(format!(
            "{}{CLEANED_SUFFIX}",
            crate::segment::log_file_name(base_offset)
        ))
    }

    /// Replaces `old`'s files with the cleaned log at `cleaned` and opens the result. The old
    /// indexes go first: a crash at any point leaves either log file with missing indexes,
    /// which opening the directory rebuilds (and a leftover `.cleaned` file is removed).
    fn swap_in_cleaned(
        &self,
        old: &Segment,
        cleaned: &Path,
        index_interval: u32,
    ) -> Result<Arc<Segment>, LogError> {
        let base = old.base_offset();
        remove_file_if_exists(&self.dir.join(crate::segment::index_file_name(base)))?;
        remove_file_if_exists(&self.dir.join(crate::segment::time_index_file_name(base)))?;
        let target = old.log_path();
        // Readers holding `old` go on reading the file the rename replaces.
        old.keep_readable();
        fs::rename(cleaned, target).map_err(|e| LogError::file(target, e))?;
        checkpoint::sync_dir(&self.dir)?;
        let (fresh, _) = Segment::open(&self.dir, base)?;
        fresh.recover(index_interval)?;
        fresh.finish_time_index()?;
        fresh.sync()?;
        Ok(Arc::new(fresh))
    }

    /// Forgets idle producers (no open transaction, last write older than
    /// `producer_id_expiration_ms`). Returns how many were removed.
    pub fn remove_expired_producers(&self, now_ms: i64) -> usize {
        let expiration = read(&self.config).producer_id_expiration_ms;
        lock(&self.writer)
            .producers
            .remove_expired(now_ms, expiration)
    }

    fn delete_oldest(&self, w: MutexGuard<'_, WriterState>, count: usize) -> Result<u64, LogError> {
        self.delete_oldest_keep_lock(w, count)
            .map(|(bytes, _)| bytes)
    }

    /// Deletes the `count` oldest segments (rolling a fresh active segment first if all of
    /// them go), moves the log start offset up to the first remaining segment, persists it.
    fn delete_oldest_keep_lock<'a>(
        &'a self,
        mut w: MutexGuard<'a, WriterState>,
        count: usize,
    ) -> Result<(u64, MutexGuard<'a, WriterState>), LogError> {
        if count == 0 {
            return Ok((0, w));
        }
        let mut segments = self.segments();
        let mut count = count.min(segments.len());
        if count == segments.len() {
            let active = segments.active();
            let log_end = self.offsets.log_end.load(Ordering::Acquire);
            if active.size() == 0 {
                count -= 1;
            } else {
                // Everything goes: roll a fresh active segment at the log end first.
                active.finish_time_index()?;
                {
                    let aborted = read(&self.aborted);
                    snapshot::write(&self.dir, log_end, &w.producers, aborted.records(), false)?;
                }
                if !w.snapshot_offsets.contains(&log_end) {
                    w.snapshot_offsets.push(log_end);
                }
                self.prune_snapshots(&mut w)?;
                let fresh = Arc::new(Segment::create(&self.dir, log_end)?);
                self.publish_segments(segments.with_new_active(fresh));
                segments = self.segments();
            }
        }
        if count == 0 {
            return Ok((0, w));
        }
        let (remaining, removed) = segments.without_oldest(count);
        let new_start = self
            .offsets
            .log_start
            .load(Ordering::Acquire)
            .max(remaining.first_base());
        self.offsets.log_start.store(new_start, Ordering::Release);
        self.write_checkpoint()?;
        self.epochs_start_at(new_start)?;
        self.publish_segments(remaining);
        write(&self.aborted).truncate_before(new_start);
        let mut bytes = 0;
        for s in &removed {
            bytes += s.size();
            s.delete_files()?;
        }
        tracing::debug!(dir = %self.dir.display(), segments = removed.len(), bytes, log_start = new_start, "deleted segments");
        Ok((bytes, w))
    }

    // ----------------------------------------------------------------------------------
    // Durability
    // ----------------------------------------------------------------------------------

    /// fsyncs everything appended so far (logs and indexes) and checkpoints the recovery
    /// point.
    pub fn flush(&self) -> Result<(), LogError> {
        let log_end = self.offsets.log_end.load(Ordering::Acquire);
        self.flush_up_to(log_end, wall_clock_ms(), true)
    }

    /// Flushes if `flush_interval_messages` offsets are unflushed or the last flush is older
    /// than `flush_interval_ms`.
    pub fn maybe_flush(&self, now_ms: i64) -> Result<(), LogError> {
        let config = self.config();
        self.maybe_flush_with(now_ms, &config)
    }

    fn maybe_flush_with(&self, now_ms: i64, config: &LogConfig) -> Result<(), LogError> {
        let log_end = self.offsets.log_end.load(Ordering::Acquire);
        let recovery_point = self.offsets.recovery_point.load(Ordering::Acquire);
        let unflushed = log_end.saturating_sub(recovery_point).max(0) as u64;
        let since_flush = now_ms.saturating_sub(self.offsets.last_flush_ms.load(Ordering::Acquire));
        if unflushed > 0
            && (unflushed >= config.flush_interval_messages
                || since_flush >= config.flush_interval_ms)
        {
            self.flush_up_to(log_end, now_ms, false)?;
        }
        Ok(())
    }

    fn flush_up_to(&self, offset: i64, now_ms: i64, force: bool) -> Result<(), LogError> {
        let segments = self.segments();
        self.offsets.flush_up_to(&segments, offset, now_ms, force)
    }

    /// Flushes everything, writes a producer snapshot and the clean-shutdown marker. Later
    /// appends fail with `LogError::Closed`; reads keep working.
    pub fn close(&self) -> Result<(), LogError> {
        {
            let mut w = lock(&self.writer);
            self.write_close_state(&mut w, true)?;
            self.prune_snapshots(&mut w)?;
        }
        self.flush()?;
        self.offsets.retired.store(true, Ordering::Release);
        checkpoint::mark_clean_shutdown(&self.dir)
    }

    /// The first step of every close: refuses appends from now on, finishes
    /// the active segment's time index and writes the producer snapshot at
    /// the log end (fsynced when `durable`). Returns the segments.
    fn write_close_state(
        &self,
        w: &mut WriterState,
        durable: bool,
    ) -> Result<Arc<SegmentSet>, LogError> {
        self.closed.store(true, Ordering::Release);
        let segments = self.segments();
        segments.active().finish_time_index()?;
        let log_end = self.offsets.log_end.load(Ordering::Acquire);
        {
            let aborted = read(&self.aborted);
            snapshot::write(&self.dir, log_end, &w.producers, aborted.records(), durable)?;
        }
        if !w.snapshot_offsets.contains(&log_end) {
            w.snapshot_offsets.push(log_end);
        }
        Ok(segments)
    }

    /// Stops the log for good without making anything durable, for a
    /// partition whose files are about to be deleted: appends are refused
    /// from now on and no flush writes to its directory again.
    pub fn retire(&self) {
        let _w = lock(&self.writer);
        self.closed.store(true, Ordering::Release);
        let _no_flush = lock(&self.offsets.flush_lock);
        self.offsets.retired.store(true, Ordering::Release);
    }

    /// Deletes the whole partition directory (topic deletion).
    pub fn delete(self) -> Result<(), LogError> {
        self.retire();
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(LogError::file(&self.dir, e)),
        }
    }
}

fn remove_file_if_exists(path: &Path) -> Result<(), LogError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LogError::file(path, e)),
    }
}

mod group_close;
mod truncate;

#[cfg(test)]
mod compaction_tests;
#[cfg(test)]
mod epoch_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod truncate_tests;
