//! Stale, corrupt or missing index files are detected on open and rebuilt from the log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code states expectations by panicking

mod common;

use std::path::Path;

use common::{batch, headers, read_all, small_segments};
use kafka_protocol::records::Compression;
use strait_log::{Log, LogConfig};

fn build(dir: &Path, config: &LogConfig) -> (Vec<u8>, i64, Vec<i64>) {
    let log = Log::open(dir, config.clone()).unwrap();
    for i in 0..400 {
        log.append_leader(
            &batch(i, 1 + (i % 3) as usize, 60, Compression::None),
            i as i64,
        )
        .unwrap();
    }
    log.close().unwrap();
    (
        read_all(&log),
        log.log_end_offset(),
        log.segment_base_offsets(),
    )
}

fn file(dir: &Path, base: i64, ext: &str) -> std::path::PathBuf {
    dir.join(format!("{base:020}.{ext}"))
}

fn verify(dir: &Path, config: &LogConfig, all: &[u8], leo: i64) -> Log {
    let log = Log::open(dir, config.clone()).unwrap();
    assert_eq!(log.log_end_offset(), leo);
    assert_eq!(read_all(&log), all);
    for probe in 0..leo {
        let h = headers(&log.read(probe, 1, i64::MAX).unwrap())[0];
        assert!(
            h.base_offset <= probe && probe <= h.last_offset(),
            "offset {probe}"
        );
    }
    // Timestamp lookups work through the rebuilt time index.
    let (offset, ts) = log
        .offset_for_timestamp(1_700_000_000_000 + 200)
        .unwrap()
        .unwrap();
    assert_eq!(ts, 1_700_000_000_000 + 200);
    let h = headers(&log.read(offset, 1, i64::MAX).unwrap())[0];
    assert_eq!(h.base_offset, offset);
    log
}

#[test]
fn missing_indexes_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_segments(16 * 1024);
    let (all, leo, bases) = build(dir.path(), &config);
    let reference = std::fs::read(file(dir.path(), bases[1], "index")).unwrap();
    assert!(!reference.is_empty());
    for base in &bases {
        std::fs::remove_file(file(dir.path(), *base, "index")).unwrap();
        std::fs::remove_file(file(dir.path(), *base, "timeindex")).unwrap();
    }
    let log = verify(dir.path(), &config, &all, leo);
    for base in &bases {
        assert!(file(dir.path(), *base, "index").exists());
        assert!(file(dir.path(), *base, "timeindex").exists());
    }
    assert_eq!(
        std::fs::read(file(dir.path(), bases[1], "index")).unwrap(),
        reference
    );
    drop(log);
}

#[test]
fn stale_indexes_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_segments(16 * 1024);
    let (all, leo, bases) = build(dir.path(), &config);
    // An index of another segment: entries point at wrong positions / offsets.
    let foreign = std::fs::read(file(dir.path(), bases[2], "index")).unwrap();
    std::fs::write(file(dir.path(), bases[0], "index"), &foreign).unwrap();
    // Entries pointing past the end of the log (index outlived a truncation).
    let mut past_end = std::fs::read(file(dir.path(), bases[1], "index")).unwrap();
    past_end.extend_from_slice(&5000u32.to_be_bytes());
    past_end.extend_from_slice(&1_000_000u32.to_be_bytes());
    std::fs::write(file(dir.path(), bases[1], "index"), &past_end).unwrap();
    // A torn entry.
    let mut torn = std::fs::read(file(dir.path(), bases[3], "timeindex")).unwrap();
    torn.truncate(torn.len() - 3);
    std::fs::write(file(dir.path(), bases[3], "timeindex"), &torn).unwrap();
    // Garbage in the active segment's index.
    let active = *bases.last().unwrap();
    std::fs::write(file(dir.path(), active, "index"), [0xffu8; 64]).unwrap();
    verify(dir.path(), &config, &all, leo);
}

#[test]
fn stale_indexes_are_rebuilt_after_a_crash_too() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_segments(16 * 1024);
    let (all, leo, bases) = build(dir.path(), &config);
    std::fs::remove_file(dir.path().join("clean-shutdown")).unwrap();
    std::fs::write(file(dir.path(), bases[0], "timeindex"), [7u8; 24]).unwrap();
    std::fs::remove_file(file(dir.path(), *bases.last().unwrap(), "index")).unwrap();
    verify(dir.path(), &config, &all, leo);
}

#[test]
fn orphan_index_files_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_segments(16 * 1024);
    let (all, leo, _) = build(dir.path(), &config);
    std::fs::write(file(dir.path(), 123_456, "index"), [0u8; 8]).unwrap();
    std::fs::write(dir.path().join("log.checkpoint.tmp"), b"half").unwrap();
    verify(dir.path(), &config, &all, leo);
    assert!(!file(dir.path(), 123_456, "index").exists());
    assert!(!dir.path().join("log.checkpoint.tmp").exists());
}
