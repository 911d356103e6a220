//! The ordered set of a log's segments, as one immutable snapshot.
//!
//! Owns the invariant that a log always has an active (last) segment and that segments are
//! sorted by base offset, plus lookups by offset. Snapshots are swapped whole under the log's
//! lock and shared with readers through `Arc`; this type must never mutate a published set.

use std::sync::Arc;

use crate::segment::Segment;

/// Segments of a log: older ones (sorted by base offset) and the active one.
#[derive(Debug, Clone)]
pub(crate) struct SegmentSet {
    older: Vec<Arc<Segment>>,
    active: Arc<Segment>,
}

impl SegmentSet {
    /// A set with only an active segment.
    pub(crate) fn single(active: Arc<Segment>) -> Self {
        SegmentSet {
            older: Vec::new(),
            active,
        }
    }

    /// A set from a non-empty, sorted list; `None` if the list is empty.
    pub(crate) fn from_sorted(mut all: Vec<Arc<Segment>>) -> Option<Self> {
        let active = all.pop()?;
        Some(SegmentSet { older: all, active })
    }

    pub(crate) fn active(&self) -> &Arc<Segment> {
        &self.active
    }

    pub(crate) fn len(&self) -> usize {
        self.older.len() + 1
    }

    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &Arc<Segment>> + Clone {
        self.older.iter().chain(std::iter::once(&self.active))
    }

    pub(crate) fn get(&self, i: usize) -> Option<&Arc<Segment>> {
        if i < self.older.len() {
            self.older.get(i)
        } else if i == self.older.len() {
            Some(&self.active)
        } else {
            None
        }
    }

    /// Base offset of the segment after segment `i` (`None` for the active segment).
    pub(crate) fn next_base(&self, i: usize) -> Option<i64> {
        if i + 1 < self.len() {
            self.get(i + 1).map(|s| s.base_offset())
        } else {
            None
        }
    }

    pub(crate) fn first_base(&self) -> i64 {
        self.older.first().unwrap_or(&self.active).base_offset()
    }

    /// Index of the last segment whose base offset is `<= offset`.
    pub(crate) fn floor_index(&self, offset: i64) -> Option<usize> {
        if offset >= self.active.base_offset() {
            return Some(self.older.len());
        }
        self.older
            .partition_point(|s| s.base_offset() <= offset)
            .checked_sub(1)
    }

    /// The same set with `segment` appended as the new active one.
    pub(crate) fn with_new_active(&self, segment: Arc<Segment>) -> Self {
        let mut older = self.older.clone();
        older.push(self.active.clone());
        SegmentSet {
            older,
            active: segment,
        }
    }

    /// The same set with the active segment replaced.
    pub(crate) fn with_active_replaced(&self, segment: Arc<Segment>) -> Self {
        SegmentSet {
            older: self.older.clone(),
            active: segment,
        }
    }

    /// The set without its first `count` segments (`count < len()`), and the removed ones.
    pub(crate) fn without_oldest(&self, count: usize) -> (Self, Vec<Arc<Segment>>) {
        let count = count.min(self.older.len());
        let removed = self.older[..count].to_vec();
        (
            SegmentSet {
                older: self.older[count..].to_vec(),
                active: self.active.clone(),
            },
            removed,
        )
    }

    /// The same set with segment `i` replaced (`i < len()`).
    pub(crate) fn with_replaced(&self, i: usize, segment: Arc<Segment>) -> Self {
        let mut set = self.clone();
        if i < set.older.len() {
            set.older[i] = segment;
        } else {
            set.active = segment;
        }
        set
    }

    /// Total published bytes.
    pub(crate) fn size_bytes(&self) -> u64 {
        self.iter().map(|s| s.size()).sum()
    }
}
