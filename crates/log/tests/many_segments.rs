//! Appends 10k batches across many small segments, reopens, and reads everything back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code states expectations by panicking

mod common;

use common::{batch, headers, read_all, small_segments};
use kafka_protocol::records::Compression;
use strait_log::Log;

#[test]
fn ten_thousand_batches_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_segments(32 * 1024);
    let mut expected = Vec::new();
    let mut offsets = Vec::new();
    {
        let log = Log::open(dir.path(), config.clone()).unwrap();
        for i in 0..10_000u64 {
            let count = 1 + (i % 4) as usize;
            let compression = if i % 10 == 0 {
                Compression::Lz4
            } else {
                Compression::None
            };
            let b = batch(i, count, 40 + (i % 7) as usize * 10, compression);
            let appended = log.append_leader(&b, 0).unwrap();
            offsets.push((appended.base_offset, appended.last_offset));
            expected.push(b);
        }
        assert!(
            log.segment_count() > 50,
            "segments: {}",
            log.segment_count()
        );
        log.close().unwrap();
    }
    // Offsets are dense and sequential.
    let mut next = 0;
    for (base, last) in &offsets {
        assert_eq!(*base, next);
        next = last + 1;
    }

    let check = |log: &Log| {
        assert_eq!(log.log_end_offset(), next);
        let all = read_all(log);
        let hs = headers(&all);
        assert_eq!(hs.len(), expected.len());
        let mut pos = 0;
        for (i, (h, original)) in hs.iter().zip(&expected).enumerate() {
            assert_eq!((h.base_offset, h.last_offset()), offsets[i]);
            let stored = &all[pos..pos + h.size()];
            // Identical except the base offset the log assigned.
            assert_eq!(&stored[8..], &original[8..], "batch {i}");
            pos += h.size();
        }
        // Random access by offset returns the containing batch.
        for probe in (0..next).step_by(997) {
            let h = headers(&log.read(probe, 1, i64::MAX).unwrap())[0];
            assert!(h.base_offset <= probe && probe <= h.last_offset());
        }
    };

    let log = Log::open(dir.path(), config.clone()).unwrap();
    check(&log);
    drop(log); // not closed: the next open recovers
    let log = Log::open(dir.path(), config).unwrap();
    check(&log);
    let more = log
        .append_leader(&batch(1, 1, 10, Compression::None), 0)
        .unwrap();
    assert_eq!(more.base_offset, next);
}
