//! Crash simulation: a torn or garbage tail on the active segment without a clean-shutdown
//! marker is truncated on open; every complete batch stays readable and appends continue.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code states expectations by panicking

mod common;

use std::fs::OpenOptions;
use std::io::Write;

use common::{batch, headers, read_all, records, small_segments};
use kafka_protocol::records::Compression;
use strait_log::Log;

fn active_log_file(dir: &std::path::Path, log: &Log) -> std::path::PathBuf {
    let base = *log.segment_base_offsets().last().unwrap();
    dir.join(format!("{base:020}.log"))
}

fn crash_with_tail(tail: impl Fn(&[u8]) -> Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let config = small_segments(32 * 1024);
    let (expected, leo, path) = {
        let log = Log::open(dir.path(), config.clone()).unwrap();
        for i in 0..500 {
            log.append_leader(&batch(i, 2, 50, Compression::None), 0)
                .unwrap();
        }
        let path = active_log_file(dir.path(), &log);
        (read_all(&log), log.log_end_offset(), path)
        // dropped without close(): no clean-shutdown marker
    };
    assert!(!dir.path().join("clean-shutdown").exists());
    let size_before = std::fs::metadata(&path).unwrap().len();
    let next = batch(999, 3, 50, Compression::None);
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&tail(&next)).unwrap();
    drop(f);

    let log = Log::open(dir.path(), config).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        size_before,
        "tail truncated"
    );
    assert_eq!(log.log_end_offset(), leo);
    assert_eq!(read_all(&log), expected);
    let a = log.append_leader(&next, 0).unwrap();
    assert_eq!((a.base_offset, a.last_offset), (leo, leo + 2));
    let tail_read = log.read(leo, 1, i64::MAX).unwrap();
    assert_eq!(records(&tail_read).len(), 3);
    assert_eq!(headers(&tail_read)[0].base_offset, leo);
}

#[test]
fn half_batch_is_truncated() {
    crash_with_tail(|next| {
        let mut b = next.to_vec();
        b[..8].copy_from_slice(&1000i64.to_be_bytes());
        b[..b.len() / 2].to_vec()
    });
}

#[test]
fn partial_header_is_truncated() {
    crash_with_tail(|next| next[..20].to_vec());
}

#[test]
fn garbage_is_truncated() {
    crash_with_tail(|_| (0..777u32).map(|i| (i * 7 + 3) as u8).collect());
}

#[test]
fn zeroed_tail_is_truncated() {
    crash_with_tail(|_| vec![0u8; 4096]);
}

#[test]
fn corrupt_complete_batch_is_truncated() {
    crash_with_tail(|next| {
        let mut b = next.to_vec();
        let n = b.len();
        b[n - 10] ^= 0x55; // CRC no longer matches
        b
    });
}

#[test]
fn crash_in_the_middle_of_unflushed_segments_drops_what_follows() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_segments(4 * 1024);
    let log = Log::open(dir.path(), config.clone()).unwrap();
    for i in 0..100 {
        log.append_leader(&batch(i, 1, 100, Compression::None), 0)
            .unwrap();
    }
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 4);
    let all = read_all(&log);
    drop(log);
    // Corrupt the last batch of the second-to-last segment (every segment after the first
    // roll is flushed on roll, so make the recovery point stale by removing the checkpoint).
    std::fs::remove_file(dir.path().join("log.checkpoint")).unwrap();
    let victim_base = bases[bases.len() - 2];
    let victim = dir.path().join(format!("{victim_base:020}.log"));
    let len = std::fs::metadata(&victim).unwrap().len();
    let f = OpenOptions::new().write(true).open(&victim).unwrap();
    f.set_len(len - 5).unwrap();
    drop(f);

    let log = Log::open(dir.path(), config).unwrap();
    // Everything from the torn batch on is gone; everything before it is intact.
    let survived = read_all(&log);
    assert!(all.starts_with(&survived));
    assert!(survived.len() < all.len());
    assert_eq!(
        log.segment_base_offsets(),
        bases[..bases.len() - 1].to_vec()
    );
    let last = headers(&survived).last().unwrap().next_offset();
    assert_eq!(log.log_end_offset(), last);
    assert_eq!(
        log.append_leader(&batch(1, 1, 1, Compression::None), 0)
            .unwrap()
            .base_offset,
        last
    );
}

#[test]
fn unclean_reopen_keeps_everything_when_nothing_is_torn() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_segments(8 * 1024);
    let (all, leo) = {
        let log = Log::open(dir.path(), config.clone()).unwrap();
        for i in 0..300 {
            log.append_leader(&batch(i, 2, 30, Compression::Gzip), 0)
                .unwrap();
        }
        (read_all(&log), log.log_end_offset())
    };
    for _ in 0..2 {
        let log = Log::open(dir.path(), config.clone()).unwrap();
        assert_eq!(log.log_end_offset(), leo);
        assert_eq!(read_all(&log), all);
    }
}
