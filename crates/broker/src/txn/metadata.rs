//! The state of one transactional id and its transitions (Kafka's
//! `TransactionMetadata`): producer id and epoch, the transaction state, the
//! partitions and groups of the ongoing transaction, the offsets it staged.
//!
//! Every transition is a pure function from the current metadata to the next
//! one (or a `TxnError`), so the coordinator can persist the next state before
//! it adopts it. This file must never do I/O, take locks or know about logs,
//! groups or the wire.

use std::collections::{BTreeMap, BTreeSet};

use strait_metadata::{OffsetRecord, PartitionKey};

use super::TxnError;

/// No producer id (Kafka's `RecordBatch.NO_PRODUCER_ID`).
pub const NO_PRODUCER_ID: i64 = -1;
/// No producer epoch (Kafka's `RecordBatch.NO_PRODUCER_EPOCH`).
pub const NO_PRODUCER_EPOCH: i16 = -1;

/// The states of a transactional id, as Kafka names them. `Dead` and
/// `PrepareEpochFence` are not kept: an expired id is removed, and fencing
/// goes straight to `PrepareAbort` with the bumped epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
}

impl TxnState {
    /// Every state, for lookups by name.
    pub const ALL: [TxnState; 6] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
    ];

    /// The state Kafka names `name`.
    pub fn from_name(name: &str) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
        }
    }

    /// A commit or abort is decided and its markers are (being) written.
    pub fn is_prepared(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }

    /// No transaction is open: the id may expire.
    pub fn is_idle(self) -> bool {
        matches!(
            self,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        )
    }
}

/// Epochs at or past this are exhausted: the coordinator keeps `i16::MAX`
/// for itself so that it can always fence a producer.
pub fn epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

/// Everything the coordinator knows about one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    pub producer_id: i64,
    /// The producer id before the last rotation (for retried InitProducerId).
    pub last_producer_id: i64,
    pub producer_epoch: i16,
    /// The epoch before the last bump, when a retry may still ask for it.
    pub last_producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    /// Partitions of the ongoing transaction; while prepared, those whose
    /// marker is still to be written.
    pub partitions: BTreeSet<PartitionKey>,
    /// Consumer groups added with AddOffsetsToTxn.
    pub groups: BTreeSet<String>,
    /// Offsets staged by TxnOffsetCommit, per group; committed with the
    /// transaction, dropped on abort.
    pub pending_offsets: BTreeMap<String, BTreeMap<PartitionKey, OffsetRecord>>,
    /// When the ongoing transaction started (-1 when none).
    pub start_ms: i64,
    pub last_update_ms: i64,
}

impl TxnMetadata {
    /// A transactional id seen for the first time: a fresh producer id and no
    /// epoch yet (the first InitProducerId bumps it to 0).
    pub fn new(producer_id: i64, timeout_ms: i32, now_ms: i64) -> Self {
        TxnMetadata {
            producer_id,
            last_producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            groups: BTreeSet::new(),
            pending_offsets: BTreeMap::new(),
            start_ms: -1,
            last_update_ms: now_ms,
        }
    }

    /// Whether an InitProducerId naming `(producer_id, epoch)` may proceed:
    /// this id's metadata was just created, or it names the current producer
    /// id, or the previous one whose epochs ran out (a retry after rotation).
    pub fn accepts_expected(&self, producer_id: i64, epoch: i16) -> bool {
        self.producer_epoch == NO_PRODUCER_EPOCH
            || producer_id == self.producer_id
            || (producer_id == self.last_producer_id && epoch_exhausted(epoch))
    }

    /// Whether the next InitProducerId must rotate to a new producer id.
    pub fn needs_rotation(&self, expected_epoch: Option<i16>) -> bool {
        epoch_exhausted(self.producer_epoch)
            && expected_epoch.is_none_or(|e| e == self.producer_epoch)
    }

    /// InitProducerId without rotation: the epoch goes up by one (or, for a
    /// retry of a bump the producer did not see, stays), and the id is Empty.
    pub fn with_bumped_epoch(
        &self,
        timeout_ms: i32,
        expected_epoch: Option<i16>,
        now_ms: i64,
    ) -> Result<TxnMetadata, TxnError> {
        // Exhausted and not rotated: the request names an older epoch.
        if epoch_exhausted(self.producer_epoch) {
            return Err(TxnError::ProducerFenced);
        }
        let bumped = self.producer_epoch + 1;
        let (epoch, last_epoch) = match expected_epoch {
            None => (bumped, NO_PRODUCER_EPOCH),
            Some(e) if self.producer_epoch == NO_PRODUCER_EPOCH || e == self.producer_epoch => {
                (bumped, self.producer_epoch)
            }
            Some(e) if e == self.last_producer_epoch => {
                (self.producer_epoch, self.last_producer_epoch)
            }
            Some(_) => return Err(TxnError::ProducerFenced),
        };
        let mut next = self.idle(TxnState::Empty, now_ms);
        next.producer_epoch = epoch;
        next.last_producer_epoch = last_epoch;
        next.timeout_ms = timeout_ms;
        Ok(next)
    }

    /// InitProducerId once the epochs of the producer id are exhausted: a new
    /// producer id at epoch 0.
    pub fn with_rotated_producer_id(
        &self,
        new_producer_id: i64,
        timeout_ms: i32,
        record_last_epoch: bool,
        now_ms: i64,
    ) -> TxnMetadata {
        let mut next = self.idle(TxnState::Empty, now_ms);
        next.last_producer_id = self.producer_id;
        next.producer_id = new_producer_id;
        next.producer_epoch = 0;
        next.last_producer_epoch = if record_last_epoch {
            self.producer_epoch
        } else {
            NO_PRODUCER_EPOCH
        };
        next.timeout_ms = timeout_ms;
        next
    }

    /// Fences the current producer and aborts its transaction: the epoch goes
    /// up by one (markers are written with it) and the state is PrepareAbort.
    pub fn fenced_for_abort(&self, now_ms: i64) -> TxnMetadata {
        let mut next = self.clone();
        next.producer_epoch = next.producer_epoch.saturating_add(1);
        next.last_producer_epoch = NO_PRODUCER_EPOCH;
        next.state = TxnState::PrepareAbort;
        next.last_update_ms = now_ms;
        next
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn: the transaction is Ongoing with
    /// these partitions and groups added; a new transaction starts its clock.
    pub fn with_added(
        &self,
        partitions: &[PartitionKey],
        group: Option<&str>,
        now_ms: i64,
    ) -> TxnMetadata {
        let mut next = self.clone();
        if self.state != TxnState::Ongoing {
            next.start_ms = now_ms;
        }
        next.state = TxnState::Ongoing;
        next.partitions.extend(partitions.iter().cloned());
        if let Some(g) = group {
            next.groups.insert(g.to_string());
        }
        next.last_update_ms = now_ms;
        next
    }

    /// Whether the ongoing transaction already holds all of these.
    pub fn holds(&self, partitions: &[PartitionKey], group: Option<&str>) -> bool {
        self.state == TxnState::Ongoing
            && partitions.iter().all(|p| self.partitions.contains(p))
            && group.is_none_or(|g| self.groups.contains(g))
    }

    /// EndTxn: the decision, before any marker is written.
    pub fn prepared(&self, commit: bool, now_ms: i64) -> TxnMetadata {
        let mut next = self.clone();
        next.state = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        next.last_update_ms = now_ms;
        next
    }

    /// Every marker written (and, on commit, the offsets committed).
    pub fn completed(&self, now_ms: i64) -> TxnMetadata {
        let state = if self.state == TxnState::PrepareCommit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        self.idle(state, now_ms)
    }

    /// TxnOffsetCommit: offsets staged for `group`.
    pub fn with_staged_offsets(
        &self,
        group: &str,
        offsets: Vec<(PartitionKey, OffsetRecord)>,
        now_ms: i64,
    ) -> TxnMetadata {
        let mut next = self.clone();
        next.pending_offsets
            .entry(group.to_string())
            .or_default()
            .extend(offsets);
        next.last_update_ms = now_ms;
        next
    }

    /// The same producer in `state` with no transaction contents.
    fn idle(&self, state: TxnState, now_ms: i64) -> TxnMetadata {
        let mut next = self.clone();
        next.state = state;
        next.partitions.clear();
        next.groups.clear();
        next.pending_offsets.clear();
        next.start_ms = -1;
        next.last_update_ms = now_ms;
        next
    }

    /// Whether the ongoing transaction has outlived its timeout at `now_ms`.
    pub fn timed_out(&self, now_ms: i64) -> bool {
        self.state == TxnState::Ongoing
            && self.start_ms.saturating_add(i64::from(self.timeout_ms)) < now_ms
    }

    /// Checks that a request from `(producer_id, epoch)` speaks for the
    /// current producer of this id.
    pub fn check_producer(&self, producer_id: i64, epoch: i16) -> Result<(), TxnError> {
        if producer_id != self.producer_id {
            Err(TxnError::InvalidProducerIdMapping)
        } else if epoch != self.producer_epoch {
            Err(TxnError::ProducerFenced)
        } else {
            Ok(())
        }
    }
}
