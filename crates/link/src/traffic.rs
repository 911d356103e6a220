//! `FetchTraffic`: the bytes and records the mirror fetchers copied, kept
//! per link and per mirror topic. Fetchers add to them after each append;
//! the broker's metrics read them at scrape time. They only ever grow (they
//! are exported as Prometheus counters) and must never be reset or used to
//! decide anything.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct FetchTraffic {
    bytes: AtomicU64,
    records: AtomicU64,
}

impl FetchTraffic {
    /// Counts one append of `bytes` bytes holding `records` records.
    pub fn add(&self, bytes: u64, records: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.records.fetch_add(records, Ordering::Relaxed);
    }

    /// Record-batch bytes appended so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Records appended so far (control records included).
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::FetchTraffic;

    #[test]
    fn adds_up() {
        let t = FetchTraffic::default();
        t.add(100, 3);
        t.add(50, 1);
        assert_eq!((t.bytes(), t.records()), (150, 4));
    }
}
