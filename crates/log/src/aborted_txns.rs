//! The aborted-transaction index of a partition (Kafka's `.txnindex`, kept in memory).
//!
//! Owns the list of aborted transactions `(producer id, first offset, last offset)` in marker
//! order and answers which of them overlap a fetch range, which is what a `read_committed`
//! Fetch response lists. It must never decide when a transaction aborts (producer state does)
//! and never do I/O; it is persisted inside producer-state snapshots.

/// An aborted transaction as a read_committed Fetch response lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbortedTxn {
    /// The producer whose transaction was aborted.
    pub producer_id: i64,
    /// Offset of the transaction's first batch.
    pub first_offset: i64,
}

/// One aborted transaction with the offset of its ABORT marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AbortedTxnRecord {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
}

/// Aborted transactions sorted by marker offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AbortedTxnIndex {
    records: Vec<AbortedTxnRecord>,
}

impl AbortedTxnIndex {
    pub(crate) fn from_records(mut records: Vec<AbortedTxnRecord>) -> Self {
        records.sort_by_key(|r| r.last_offset);
        AbortedTxnIndex { records }
    }

    pub(crate) fn records(&self) -> &[AbortedTxnRecord] {
        &self.records
    }

    /// Adds a transaction whose ABORT marker was just written (markers only move forward).
    pub(crate) fn push(&mut self, record: AbortedTxnRecord) {
        if self
            .records
            .last()
            .is_some_and(|last| last.last_offset > record.last_offset)
        {
            let at = self
                .records
                .partition_point(|r| r.last_offset <= record.last_offset);
            self.records.insert(at, record);
        } else {
            self.records.push(record);
        }
    }

    /// Aborted transactions overlapping `[fetch_offset, upper_bound)`.
    pub(crate) fn overlapping(&self, fetch_offset: i64, upper_bound: i64) -> Vec<AbortedTxn> {
        let start = self
            .records
            .partition_point(|r| r.last_offset < fetch_offset);
        self.records[start..]
            .iter()
            .filter(|r| r.first_offset < upper_bound)
            .map(|r| AbortedTxn {
                producer_id: r.producer_id,
                first_offset: r.first_offset,
            })
            .collect()
    }

    /// Drops transactions whose marker lies below `log_start_offset`.
    pub(crate) fn truncate_before(&mut self, log_start_offset: i64) {
        self.records.retain(|r| r.last_offset >= log_start_offset);
    }

    pub(crate) fn clear(&mut self) {
        self.records.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pid: i64, first: i64, last: i64) -> AbortedTxnRecord {
        AbortedTxnRecord {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
        }
    }

    #[test]
    fn overlap_query() {
        let mut idx = AbortedTxnIndex::default();
        idx.push(rec(1, 0, 5));
        idx.push(rec(2, 3, 10));
        idx.push(rec(3, 12, 20));
        let pids = |v: Vec<AbortedTxn>| v.into_iter().map(|t| t.producer_id).collect::<Vec<_>>();
        assert_eq!(pids(idx.overlapping(0, 100)), vec![1, 2, 3]);
        assert_eq!(pids(idx.overlapping(6, 100)), vec![2, 3]);
        assert_eq!(pids(idx.overlapping(6, 12)), vec![2]);
        assert_eq!(pids(idx.overlapping(21, 100)), Vec::<i64>::new());
        assert_eq!(pids(idx.overlapping(0, 3)), vec![1]);
        idx.truncate_before(6);
        assert_eq!(pids(idx.overlapping(0, 100)), vec![2, 3]);
    }

    #[test]
    fn push_keeps_marker_order() {
        let mut idx = AbortedTxnIndex::default();
        idx.push(rec(1, 0, 10));
        idx.push(rec(2, 0, 5));
        assert_eq!(idx.records()[0].producer_id, 2);
    }
}
