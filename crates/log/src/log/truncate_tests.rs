//! Unit tests of `Log::truncate_to`, including crashes between its steps.

use super::truncate::{Step, TRUNCATION_MARKER};
use super::*;
use crate::batch::tests::encode_batch;
use kafka_protocol::records::Compression;

/// Segments of a few batches each.
fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 400,
        index_interval_bytes: 64,
        ..LogConfig::default()
    }
}

fn source_batch(base: i64, count: usize, epoch: i32) -> Vec<u8> {
    let mut b = encode_batch(count, 1000 + base, None, false, Compression::None);
    batch::set_base_offset(&mut b, base);
    batch::set_partition_leader_epoch(&mut b, epoch);
    b
}

fn read_all(log: &Log) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    while offset < end {
        let bytes = log.read(offset, 1 << 20, i64::MAX).unwrap();
        assert!(!bytes.is_empty(), "no data at {offset} below {end}");
        let spans = split_and_verify(&bytes).unwrap();
        offset = spans.last().unwrap().header.next_offset();
        out.extend_from_slice(&bytes);
    }
    out
}

fn pairs(log: &Log) -> Vec<(i32, i64)> {
    log.epoch_entries()
        .iter()
        .map(|e| (e.epoch, e.start_offset))
        .collect()
}

/// Twelve batches of three records, one per append (so several segments): epoch 1 for
/// offsets 0..15, epoch 2 for 15..27, epoch 4 from 27 on.
fn filled(dir: &Path) -> Log {
    let log = Log::open(dir, config()).unwrap();
    for i in 0..12i64 {
        let epoch = match i {
            0..5 => 1,
            5..9 => 2,
            _ => 4,
        };
        log.append_mirror(&source_batch(i * 3, 3, epoch)).unwrap();
    }
    assert!(log.segment_count() > 3, "{}", log.segment_count());
    log
}

/// The bytes of the log below `offset` (a batch boundary).
fn prefix(log: &Log, offset: i64) -> Vec<u8> {
    let all = read_all(log);
    let mut out = Vec::new();
    for span in split_and_verify(&all).unwrap() {
        if span.header.base_offset < offset {
            out.extend_from_slice(&all[span.position..span.position + span.header.size()]);
        }
    }
    out
}

#[test]
fn truncates_to_a_batch_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let log = filled(dir.path());
    let expected = prefix(&log, 18);
    log.truncate_to(18).unwrap();
    assert_eq!(log.log_end_offset(), 18);
    assert_eq!(log.high_watermark(), 18);
    assert_eq!(read_all(&log), expected);
    assert_eq!(pairs(&log), [(1, 0), (2, 15)]);
    assert_eq!(log.end_offset_for_epoch(2), Some((2, 18)));
    // Appends continue at the new end, and a reopen agrees.
    log.append_mirror(&source_batch(18, 2, 5)).unwrap();
    assert_eq!(pairs(&log), [(1, 0), (2, 15), (5, 18)]);
    let all = read_all(&log);
    log.close().unwrap();
    let log = Log::open(dir.path(), config()).unwrap();
    assert_eq!(log.log_end_offset(), 20);
    assert_eq!(read_all(&log), all);
    assert_eq!(pairs(&log), [(1, 0), (2, 15), (5, 18)]);
}

#[test]
fn a_target_inside_a_batch_drops_the_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let log = filled(dir.path());
    let expected = prefix(&log, 15);
    log.truncate_to(16).unwrap();
    assert_eq!(log.log_end_offset(), 15);
    assert_eq!(read_all(&log), expected);
    assert_eq!(pairs(&log), [(1, 0)]);
}

#[test]
fn never_below_the_log_start_and_no_op_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let log = filled(dir.path());
    let all = read_all(&log);
    log.truncate_to(36).unwrap();
    log.truncate_to(99).unwrap();
    assert_eq!(read_all(&log), all);
    log.delete_records_before(7).unwrap();
    assert!(matches!(
        log.truncate_to(6),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    // Truncating inside the batch holding the log start keeps the log start.
    log.truncate_to(7).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (7, 7));
    assert!(pairs(&log).is_empty());
    log.append_mirror(&source_batch(7, 2, 6)).unwrap();
    log.close().unwrap();
    let log = Log::open(dir.path(), config()).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (7, 9));
    assert_eq!(pairs(&log), [(6, 7)]);
}

#[test]
fn producer_and_transaction_state_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), config()).unwrap();
    log.set_leader_epoch(0);
    let idem = |seq| encode_batch(2, 10, Some((7, 0, seq)), false, Compression::None);
    log.append_leader(&idem(0), 1).unwrap(); // 0..2
    log.append_leader(&idem(2), 1).unwrap(); // 2..4
    let txn = encode_batch(1, 10, Some((9, 0, 0)), true, Compression::None);
    log.append_leader(&txn, 1).unwrap(); // 4
    assert_eq!(log.last_stable_offset(), 4);
    log.append_control(9, 0, true, 0, 1).unwrap(); // 5
    assert_eq!(log.last_stable_offset(), 6);
    log.append_leader(&idem(4), 1).unwrap(); // 6..8

    log.truncate_to(5).unwrap();
    // The commit marker is gone: the transaction is open again.
    assert_eq!(log.last_stable_offset(), 4);
    // Producer 7's last batch is gone: sequence 4 is next again, not a duplicate.
    let again = log.append_leader(&idem(4), 1).unwrap();
    assert_eq!((again.base_offset, again.duplicate), (5, false));
    log.append_control(9, 0, false, 0, 1).unwrap(); // abort at 7
    assert_eq!(log.last_stable_offset(), 8);
    assert_eq!(log.aborted_transactions(0, 8).len(), 1);
}

#[test]
fn a_crash_between_steps_recovers_to_the_target() {
    for step in [
        Step::MarkerWritten,
        Step::RecoveryPointLowered,
        Step::FirstSegmentDeleted,
        Step::SegmentCut,
        Step::StateRebuilt,
        Step::EpochsTruncated,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let log = filled(dir.path());
        log.flush().unwrap();
        let expected = prefix(&log, 21);
        log.truncate_to_until(21, step).unwrap();
        // Crash: no close, no clean-shutdown marker.
        drop(log);
        let log = Log::open(dir.path(), config()).unwrap();
        assert_eq!(log.log_end_offset(), 21, "{step:?}");
        assert_eq!(read_all(&log), expected, "{step:?}");
        assert_eq!(pairs(&log), [(1, 0), (2, 15)], "{step:?}");
        assert!(!dir.path().join(TRUNCATION_MARKER).exists(), "{step:?}");
        log.append_mirror(&source_batch(21, 3, 3)).unwrap();
        assert_eq!(log.log_end_offset(), 24, "{step:?}");
    }
}
