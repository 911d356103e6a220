//! Mirror verification's comparison: a mirror partition's stored batches
//! against its source's, batch by batch (base offset, last offset, record
//! count, size and CRC, and whether each side's bytes still match that
//! CRC). Equal CRCs and offsets mean the same batch; a gap (compaction,
//! aborted transactions) must simply be the same gap on both sides.
//!
//! It owns parsing a fetched record set into batch views and the rule that
//! names the first difference. It must never fetch, read a log or change
//! anything: the engine's integrity section does the I/O.

use bytes::Bytes;
use strait_log::{BatchHeader, StoredBatch};

/// One whole batch of a fetch answer: its view and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedBatch {
    pub view: StoredBatch,
    pub bytes: Bytes,
}

/// The whole batches at the start of a fetched record set, in order. A
/// trailing partial batch (a fetch may end with one) and anything after a
/// batch that cannot be framed are left out.
pub fn fetched_batches(records: &Bytes) -> Vec<FetchedBatch> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < records.len() {
        let rest = &records[pos..];
        let Some(header) = BatchHeader::parse(rest) else {
            break;
        };
        if header.check_structure(rest.len()).is_err() {
            break;
        }
        let size = header.size();
        out.push(FetchedBatch {
            view: StoredBatch::of(&header, &rest[..size]),
            bytes: records.slice(pos..pos + size),
        });
        pos += size;
    }
    out
}

/// Where the mirror first differs from its source, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub offset: i64,
    pub reason: String,
}

/// The outcome of comparing two batch sequences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// Batches found equal before the first difference (all of them when
    /// there is none).
    pub batches: u64,
    pub difference: Option<Difference>,
}

/// Compares the mirror's batches with the source's, in order. Both must
/// start with the batch holding the range's first offset and end with the
/// last batch starting below its end.
pub fn compare(mirror: &[StoredBatch], source: &[StoredBatch]) -> Comparison {
    let mut batches = 0u64;
    for i in 0..mirror.len().max(source.len()) {
        let difference = match (mirror.get(i), source.get(i)) {
            (Some(m), Some(s)) => differ(m, s),
            (Some(m), None) => Some(Difference {
                offset: m.base_offset,
                reason: format!("the source has no batch at offset {}", m.base_offset),
            }),
            (None, Some(s)) => Some(Difference {
                offset: s.base_offset,
                reason: format!("the mirror has no batch at offset {}", s.base_offset),
            }),
            (None, None) => None,
        };
        if difference.is_some() {
            return Comparison {
                batches,
                difference,
            };
        }
        batches += 1;
    }
    Comparison {
        batches,
        difference: None,
    }
}

/// How two batches at the same place differ, if they do.
fn differ(m: &StoredBatch, s: &StoredBatch) -> Option<Difference> {
    let at = |offset: i64, reason: String| Some(Difference { offset, reason });
    if m.base_offset != s.base_offset {
        return at(
            m.base_offset.min(s.base_offset),
            format!(
                "batch starts at offset {} on the mirror, {} on the source",
                m.base_offset, s.base_offset
            ),
        );
    }
    let base = m.base_offset;
    if m.last_offset != s.last_offset {
        return at(
            base,
            format!("last offset {} != source {}", m.last_offset, s.last_offset),
        );
    }
    if m.record_count != s.record_count {
        return at(
            base,
            format!(
                "record count {} != source {}",
                m.record_count, s.record_count
            ),
        );
    }
    if m.crc != s.crc {
        return at(
            base,
            format!("crc {:#010x} != source {:#010x}", m.crc, s.crc),
        );
    }
    if m.size != s.size {
        return at(base, format!("size {} != source {}", m.size, s.size));
    }
    if !m.crc_valid {
        return at(
            base,
            format!(
                "the mirror's bytes do not match their crc {:#010x} (corrupt on disk)",
                m.crc
            ),
        );
    }
    if !s.crc_valid {
        return at(
            base,
            format!("the source's bytes do not match their crc {:#010x}", s.crc),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(base: i64, last: i64, crc: u32) -> StoredBatch {
        StoredBatch {
            base_offset: base,
            last_offset: last,
            record_count: (last - base + 1) as i32,
            size: 100,
            crc,
            crc_valid: true,
        }
    }

    #[test]
    fn equal_sequences_with_the_same_gaps_verify() {
        // A compacted source: offsets 3..=4 and 8 are gone on both sides.
        let mut compacted = batch(5, 7, 3);
        compacted.record_count = 2;
        let side = vec![batch(0, 2, 1), compacted, batch(9, 9, 4)];
        let c = compare(&side, &side);
        assert_eq!(c.batches, 3);
        assert_eq!(c.difference, None);
        assert_eq!(compare(&[], &[]).batches, 0);
    }

    #[test]
    fn the_first_difference_is_named() {
        let source = vec![batch(0, 2, 1), batch(3, 5, 2), batch(6, 9, 3)];
        let mut mirror = source.clone();
        mirror[1].crc = 7;
        let c = compare(&mirror, &source);
        assert_eq!(c.batches, 1);
        let d = c.difference.unwrap();
        assert_eq!(d.offset, 3);
        assert_eq!(d.reason, "crc 0x00000007 != source 0x00000002");

        let mut rotten = source.clone();
        rotten[2].crc_valid = false;
        let d = compare(&rotten, &source).difference.unwrap();
        assert_eq!(d.offset, 6);
        assert!(d.reason.contains("corrupt on disk"), "{}", d.reason);

        let gap = vec![batch(0, 2, 1), batch(4, 5, 2)];
        assert_eq!(compare(&gap, &source).difference.unwrap().offset, 3);
        let short = &source[..2];
        let d = compare(short, &source).difference.unwrap();
        assert_eq!(
            (d.offset, d.reason.as_str()),
            (6, "the mirror has no batch at offset 6")
        );
        let d = compare(&source, short).difference.unwrap();
        assert_eq!(d.offset, 6);
        let mut longer = source.clone();
        longer[2].last_offset = 10;
        assert!(
            compare(&longer, &source)
                .difference
                .unwrap()
                .reason
                .starts_with("last offset 10")
        );
    }

    #[test]
    fn fetched_record_sets_split_into_whole_batches() {
        let one = strait_log::encode_plain_batch(&[strait_log::PlainRecord {
            key: None,
            value: Some(b"v"),
            headers: &[],
            timestamp: 5,
        }])
        .unwrap();
        let mut two = one.clone();
        two.extend_from_slice(&one);
        two.extend_from_slice(&one[..one.len() - 4]);
        let found = fetched_batches(&Bytes::from(two));
        assert_eq!(found.len(), 2, "the partial third batch is left out");
        assert!(
            found
                .iter()
                .all(|b| b.view.crc_valid && b.bytes.len() == one.len())
        );
        assert!(fetched_batches(&Bytes::new()).is_empty());
    }
}
