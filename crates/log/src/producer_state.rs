//! Idempotent and transactional producer state of one partition (Kafka's
//! `ProducerStateManager` / `ProducerAppendInfo` / `ProducerStateEntry`).
//!
//! Owns, per producer id: the epoch, the metadata of the last five batches (for duplicate
//! detection), the coordinator epoch, and the first offset of the open transaction; plus the
//! set of open transactions ordered by first offset (what the last stable offset is made of).
//! Validation follows Kafka's rules per append origin. It must never do I/O or touch segments:
//! the log stages an append here, writes it, and only then commits the staged state.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::batch::{BatchHeader, TxnMarker, decrement_sequence};
use crate::error::LogError;

/// How many recent batches per producer are kept for duplicate detection.
pub(crate) const BATCHES_TO_RETAIN: usize = 5;

/// Sequence/offset range of one appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchMetadata {
    pub last_seq: i32,
    pub last_offset: i64,
    pub offset_delta: i32,
    pub timestamp: i64,
}

impl BatchMetadata {
    pub(crate) fn first_seq(&self) -> i32 {
        decrement_sequence(self.last_seq, self.offset_delta)
    }
    pub(crate) fn first_offset(&self) -> i64 {
        self.last_offset - i64::from(self.offset_delta)
    }
}

/// What DescribeProducers reports about one producer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveProducer {
    pub producer_id: i64,
    pub epoch: i16,
    /// Last sequence appended, -1 if none retained.
    pub last_sequence: i32,
    pub last_timestamp: i64,
    pub coordinator_epoch: i32,
    /// First offset of the open transaction, -1 if none.
    pub current_txn_start_offset: i64,
}

/// Everything the log remembers about one producer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProducerEntry {
    pub producer_id: i64,
    pub epoch: i16,
    pub coordinator_epoch: i32,
    pub last_timestamp: i64,
    pub current_txn_first_offset: Option<i64>,
    pub batches: VecDeque<BatchMetadata>,
}

impl ProducerEntry {
    pub(crate) fn empty(producer_id: i64) -> Self {
        ProducerEntry {
            producer_id,
            epoch: -1,
            coordinator_epoch: -1,
            last_timestamp: -1,
            current_txn_first_offset: None,
            batches: VecDeque::new(),
        }
    }

    /// Last sequence appended, -1 if none retained.
    pub(crate) fn last_seq(&self) -> i32 {
        self.batches.back().map_or(-1, |b| b.last_seq)
    }

    fn maybe_update_epoch(&mut self, epoch: i16) {
        if self.epoch != epoch {
            self.batches.clear();
            self.epoch = epoch;
        }
    }

    fn push_batch(&mut self, batch: BatchMetadata) {
        if self.batches.len() == BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
        self.batches.push_back(batch);
    }

    fn add_batch(&mut self, epoch: i16, batch: BatchMetadata) {
        self.maybe_update_epoch(epoch);
        self.push_batch(batch);
        self.last_timestamp = batch.timestamp;
    }

    /// The retained batch this one duplicates (same epoch and exact sequence range).
    pub(crate) fn find_duplicate(&self, header: &BatchHeader) -> Option<BatchMetadata> {
        if header.producer_epoch != self.epoch {
            return None;
        }
        let (first, last) = (header.base_sequence, header.last_sequence());
        self.batches
            .iter()
            .find(|b| b.first_seq() == first && b.last_seq == last)
            .copied()
    }

    /// Folds a staged entry into this one (Kafka's `ProducerStateEntry.update`).
    fn merge(&mut self, next: ProducerEntry) {
        self.maybe_update_epoch(next.epoch);
        for b in next.batches {
            self.push_batch(b);
        }
        self.coordinator_epoch = next.coordinator_epoch;
        self.current_txn_first_offset = next.current_txn_first_offset;
        self.last_timestamp = next.last_timestamp;
    }
}

/// Where an append comes from; decides how strictly it is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AppendOrigin {
    /// A producer: epoch, sequence and transaction rules are enforced.
    Client,
    /// A transaction coordinator writing markers: epochs are enforced.
    Coordinator,
    /// Mirrored or recovered data: nothing is rejected, state just follows.
    Replication,
}

/// A transaction that a marker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CompletedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    pub aborted: bool,
}

/// The staged effect of one append on one producer, validated against its current entry.
#[derive(Debug, Clone)]
pub(crate) struct ProducerAppendInfo {
    producer_id: i64,
    origin: AppendOrigin,
    current: ProducerEntry,
    updated: ProducerEntry,
    started_txn: Option<i64>,
}

fn in_sequence(last_seq: i32, next_seq: i32) -> bool {
    i64::from(next_seq) == i64::from(last_seq) + 1 || (next_seq == 0 && last_seq == i32::MAX)
}

impl ProducerAppendInfo {
    fn new(producer_id: i64, current: ProducerEntry, origin: AppendOrigin) -> Self {
        let mut updated = current.clone();
        updated.batches.clear();
        ProducerAppendInfo {
            producer_id,
            origin,
            current,
            updated,
            started_txn: None,
        }
    }

    fn check_epoch(&self, epoch: i16) -> Result<(), LogError> {
        if epoch < self.updated.epoch && self.origin != AppendOrigin::Replication {
            return Err(LogError::InvalidProducerEpoch {
                producer_id: self.producer_id,
                epoch,
                current_epoch: self.updated.epoch,
            });
        }
        Ok(())
    }

    fn check_sequence(&self, epoch: i16, first_seq: i32) -> Result<(), LogError> {
        if epoch != self.updated.epoch {
            if first_seq != 0 && self.updated.epoch != -1 {
                return Err(LogError::OutOfOrderSequence {
                    producer_id: self.producer_id,
                    sequence: first_seq,
                    last_sequence: -1,
                });
            }
            return Ok(());
        }
        let last_seq = if !self.updated.batches.is_empty() {
            self.updated.last_seq()
        } else if epoch == self.current.epoch {
            self.current.last_seq()
        } else {
            -1
        };
        // With no known epoch (all of the producer's data deleted) any sequence is accepted.
        if self.current.epoch == -1 || in_sequence(last_seq, first_seq) {
            Ok(())
        } else {
            Err(LogError::OutOfOrderSequence {
                producer_id: self.producer_id,
                sequence: first_seq,
                last_sequence: last_seq,
            })
        }
    }

    /// Stages one batch (data or control) that the log is about to hold at the offsets in
    /// `header`. `marker` is the decoded END_TXN marker of a control batch.
    pub(crate) fn append(
        &mut self,
        header: &BatchHeader,
        marker: Option<TxnMarker>,
    ) -> Result<Option<CompletedTxn>, LogError> {
        if header.is_control() {
            return match marker {
                Some(m) => self.append_end_txn_marker(m, header.producer_epoch, header.base_offset),
                None => Ok(None),
            };
        }
        let epoch = header.producer_epoch;
        self.check_epoch(epoch)?;
        if self.origin == AppendOrigin::Client {
            self.check_sequence(epoch, header.base_sequence)?;
        }
        self.updated.add_batch(
            epoch,
            BatchMetadata {
                last_seq: header.last_sequence(),
                last_offset: header.last_offset(),
                offset_delta: header.last_offset_delta,
                timestamp: header.max_timestamp,
            },
        );
        match (
            self.updated.current_txn_first_offset,
            header.is_transactional(),
        ) {
            (Some(first), false) => {
                if self.origin != AppendOrigin::Replication {
                    return Err(LogError::InvalidTxnState(format!(
                        "non-transactional write from producer {} at offset {} while its transaction from offset {first} is open",
                        self.producer_id, header.base_offset
                    )));
                }
                tracing::warn!(
                    producer_id = self.producer_id,
                    offset = header.base_offset,
                    "non-transactional batch inside an open transaction"
                );
            }
            (None, true) => {
                self.updated.current_txn_first_offset = Some(header.base_offset);
                self.started_txn = Some(header.base_offset);
            }
            _ => {}
        }
        Ok(None)
    }

    fn append_end_txn_marker(
        &mut self,
        marker: TxnMarker,
        epoch: i16,
        offset: i64,
    ) -> Result<Option<CompletedTxn>, LogError> {
        self.check_epoch(epoch)?;
        if self.updated.coordinator_epoch > marker.coordinator_epoch
            && self.origin != AppendOrigin::Replication
        {
            return Err(LogError::TransactionCoordinatorFenced {
                producer_id: self.producer_id,
                coordinator_epoch: marker.coordinator_epoch,
                current: self.updated.coordinator_epoch,
            });
        }
        let completed = self
            .updated
            .current_txn_first_offset
            .map(|first_offset| CompletedTxn {
                producer_id: self.producer_id,
                first_offset,
                last_offset: offset,
                aborted: !marker.commit,
            });
        self.updated.maybe_update_epoch(epoch);
        self.updated.coordinator_epoch = marker.coordinator_epoch;
        self.updated.current_txn_first_offset = None;
        self.updated.last_timestamp = marker.timestamp;
        if completed.is_some() {
            self.started_txn = None;
        }
        Ok(completed)
    }
}

/// All producers of a partition and their open transactions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProducerStateTable {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions: first offset -> producer id.
    ongoing: BTreeMap<i64, i64>,
}

impl ProducerStateTable {
    /// Every producer with state, in producer id order.
    pub(crate) fn active(&self) -> Vec<ActiveProducer> {
        let mut out: Vec<ActiveProducer> = self
            .entries()
            .map(|e| ActiveProducer {
                producer_id: e.producer_id,
                epoch: e.epoch,
                last_sequence: e.last_seq(),
                last_timestamp: e.last_timestamp,
                coordinator_epoch: e.coordinator_epoch,
                current_txn_start_offset: e.current_txn_first_offset.unwrap_or(-1),
            })
            .collect();
        out.sort_by_key(|p| p.producer_id);
        out
    }

    pub(crate) fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    pub(crate) fn len(&self) -> usize {
        self.producers.len()
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = &ProducerEntry> {
        self.producers.values()
    }

    /// Starts staging an append for `producer_id`.
    pub(crate) fn prepare(&self, producer_id: i64, origin: AppendOrigin) -> ProducerAppendInfo {
        let current = self
            .producers
            .get(&producer_id)
            .cloned()
            .unwrap_or_else(|| ProducerEntry::empty(producer_id));
        ProducerAppendInfo::new(producer_id, current, origin)
    }

    /// Commits a staged append (after its bytes are written).
    pub(crate) fn update(&mut self, info: ProducerAppendInfo) {
        let pid = info.producer_id;
        if let Some(first) = info.started_txn {
            self.ongoing.insert(first, pid);
        }
        match self.producers.get_mut(&pid) {
            Some(entry) => entry.merge(info.updated),
            None => {
                self.producers.insert(pid, info.updated);
            }
        }
    }

    /// Marks a transaction as ended.
    pub(crate) fn complete(&mut self, txn: &CompletedTxn) {
        self.ongoing.remove(&txn.first_offset);
    }

    /// First offset of the oldest open transaction.
    pub(crate) fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    /// Applies one stored or mirrored batch without validation (recovery and mirroring).
    pub(crate) fn apply_replicated(
        &mut self,
        header: &BatchHeader,
        marker: Option<TxnMarker>,
    ) -> Option<CompletedTxn> {
        if !header.has_producer_id() {
            return None;
        }
        let mut info = self.prepare(header.producer_id, AppendOrigin::Replication);
        let completed = info.append(header, marker).ok().flatten();
        self.update(info);
        if let Some(txn) = &completed {
            self.complete(txn);
        }
        completed
    }

    /// Forgets producers idle for `expiration_ms` that have no open transaction.
    pub(crate) fn remove_expired(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some()
                || now_ms.saturating_sub(e.last_timestamp) < expiration_ms
        });
        before - self.producers.len()
    }

    pub(crate) fn clear(&mut self) {
        self.producers.clear();
        self.ongoing.clear();
    }

    /// Inserts a fully formed entry (snapshot loading).
    pub(crate) fn insert(&mut self, entry: ProducerEntry) {
        if let Some(first) = entry.current_txn_first_offset {
            self.ongoing.insert(first, entry.producer_id);
        }
        self.producers.insert(entry.producer_id, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, base: i64, count: i32, txn: bool) -> BatchHeader {
        BatchHeader {
            base_offset: base,
            length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: if txn { 1 << 4 } else { 0 },
            last_offset_delta: count - 1,
            base_timestamp: 10,
            max_timestamp: 10,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            record_count: count,
        }
    }

    fn marker_header(pid: i64, epoch: i16, offset: i64) -> BatchHeader {
        BatchHeader {
            attributes: (1 << 4) | (1 << 5),
            base_sequence: -1,
            ..header(pid, epoch, -1, offset, 1, true)
        }
    }

    fn client_append(t: &mut ProducerStateTable, h: &BatchHeader) -> Result<(), LogError> {
        let mut info = t.prepare(h.producer_id, AppendOrigin::Client);
        info.append(h, None)?;
        t.update(info);
        Ok(())
    }

    #[test]
    fn new_producer_accepts_any_first_sequence_like_kafka() {
        let mut t = ProducerStateTable::default();
        client_append(&mut t, &header(1, 0, 7, 0, 2, false)).unwrap();
        assert_eq!(t.entry(1).unwrap().last_seq(), 8);
    }

    #[test]
    fn sequence_gap_is_out_of_order() {
        let mut t = ProducerStateTable::default();
        client_append(&mut t, &header(1, 0, 0, 0, 3, false)).unwrap();
        client_append(&mut t, &header(1, 0, 3, 3, 1, false)).unwrap();
        assert!(matches!(
            client_append(&mut t, &header(1, 0, 5, 4, 1, false)),
            Err(LogError::OutOfOrderSequence {
                sequence: 5,
                last_sequence: 3,
                ..
            })
        ));
    }

    #[test]
    fn older_epoch_is_rejected_and_new_epoch_must_start_at_zero() {
        let mut t = ProducerStateTable::default();
        client_append(&mut t, &header(1, 5, 0, 0, 1, false)).unwrap();
        assert!(matches!(
            client_append(&mut t, &header(1, 4, 1, 1, 1, false)),
            Err(LogError::InvalidProducerEpoch {
                epoch: 4,
                current_epoch: 5,
                ..
            })
        ));
        assert!(matches!(
            client_append(&mut t, &header(1, 6, 3, 1, 1, false)),
            Err(LogError::OutOfOrderSequence { .. })
        ));
        client_append(&mut t, &header(1, 6, 0, 1, 1, false)).unwrap();
        assert_eq!(t.entry(1).unwrap().epoch, 6);
        assert_eq!(t.entry(1).unwrap().batches.len(), 1);
    }

    #[test]
    fn duplicates_are_found_among_last_five_batches() {
        let mut t = ProducerStateTable::default();
        for i in 0..7 {
            client_append(&mut t, &header(1, 0, i * 2, i as i64 * 2, 2, false)).unwrap();
        }
        let e = t.entry(1).unwrap();
        assert_eq!(e.batches.len(), BATCHES_TO_RETAIN);
        let dup = e.find_duplicate(&header(1, 0, 6, 0, 2, false)).unwrap();
        assert_eq!((dup.first_offset(), dup.last_offset), (6, 7));
        // Batch 0 (seq 0..1) fell out of the window; a different range is not a duplicate.
        assert!(e.find_duplicate(&header(1, 0, 0, 0, 2, false)).is_none());
        assert!(e.find_duplicate(&header(1, 0, 6, 0, 3, false)).is_none());
        assert!(e.find_duplicate(&header(1, 1, 6, 0, 2, false)).is_none());
    }

    #[test]
    fn sequence_wraps_at_i32_max() {
        let mut t = ProducerStateTable::default();
        client_append(&mut t, &header(1, 0, i32::MAX - 1, 0, 2, false)).unwrap();
        assert_eq!(t.entry(1).unwrap().last_seq(), i32::MAX);
        client_append(&mut t, &header(1, 0, 0, 2, 1, false)).unwrap();
    }

    #[test]
    fn transactions_open_and_complete() {
        let mut t = ProducerStateTable::default();
        client_append(&mut t, &header(1, 0, 0, 10, 2, true)).unwrap();
        client_append(&mut t, &header(2, 0, 0, 12, 1, true)).unwrap();
        client_append(&mut t, &header(1, 0, 2, 13, 1, true)).unwrap();
        assert_eq!(t.first_unstable_offset(), Some(10));
        // Non-transactional data while a transaction is open is rejected.
        assert!(matches!(
            client_append(&mut t, &header(1, 0, 3, 14, 1, false)),
            Err(LogError::InvalidTxnState(_))
        ));
        let mut info = t.prepare(1, AppendOrigin::Coordinator);
        let done = info
            .append(
                &marker_header(1, 0, 14),
                Some(TxnMarker {
                    commit: false,
                    coordinator_epoch: 3,
                    timestamp: 20,
                }),
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            done,
            CompletedTxn {
                producer_id: 1,
                first_offset: 10,
                last_offset: 14,
                aborted: true
            }
        );
        t.update(info);
        t.complete(&done);
        assert_eq!(t.first_unstable_offset(), Some(12));
        // A marker from an older coordinator epoch is fenced.
        let mut info = t.prepare(1, AppendOrigin::Coordinator);
        assert!(matches!(
            info.append(
                &marker_header(1, 0, 15),
                Some(TxnMarker {
                    commit: true,
                    coordinator_epoch: 2,
                    timestamp: 20
                })
            ),
            Err(LogError::TransactionCoordinatorFenced { .. })
        ));
        // A marker for a producer without an open transaction completes nothing.
        let mut info = t.prepare(9, AppendOrigin::Coordinator);
        assert_eq!(
            info.append(
                &marker_header(9, 0, 15),
                Some(TxnMarker {
                    commit: true,
                    coordinator_epoch: 0,
                    timestamp: 20
                })
            )
            .unwrap(),
            None
        );
    }

    #[test]
    fn replication_never_rejects() {
        let mut t = ProducerStateTable::default();
        t.apply_replicated(&header(1, 5, 0, 0, 1, false), None);
        t.apply_replicated(&header(1, 3, 9, 1, 1, false), None);
        assert_eq!(t.entry(1).unwrap().epoch, 3);
        assert!(
            t.apply_replicated(&header(-1, -1, -1, 2, 1, false), None)
                .is_none()
        );
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn expiration_keeps_open_transactions() {
        let mut t = ProducerStateTable::default();
        client_append(&mut t, &header(1, 0, 0, 0, 1, false)).unwrap();
        client_append(&mut t, &header(2, 0, 0, 1, 1, true)).unwrap();
        assert_eq!(t.remove_expired(1_000_000, 1000), 1);
        assert!(t.entry(1).is_none());
        assert!(t.entry(2).is_some());
    }
}
