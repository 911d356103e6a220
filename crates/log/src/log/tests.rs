//! Unit tests of the partition log API.

use super::*;
use crate::batch::tests::encode_batch;
use kafka_protocol::records::{Compression, RecordBatchDecoder};

fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1 << 20,
        index_interval_bytes: 256,
        ..LogConfig::default()
    }
}

fn plain(count: usize, ts: i64) -> Vec<u8> {
    encode_batch(count, ts, None, false, Compression::None)
}

fn idem(pid: i64, epoch: i16, seq: i32, count: usize) -> Vec<u8> {
    encode_batch(
        count,
        1000,
        Some((pid, epoch, seq)),
        false,
        Compression::None,
    )
}

fn txn(pid: i64, epoch: i16, seq: i32, count: usize) -> Vec<u8> {
    encode_batch(
        count,
        1000,
        Some((pid, epoch, seq)),
        true,
        Compression::None,
    )
}

fn headers(bytes: &[u8]) -> Vec<BatchHeader> {
    split_and_verify(bytes)
        .unwrap()
        .into_iter()
        .map(|s| s.header)
        .collect()
}

fn open(dir: &Path) -> Log {
    Log::open(dir, small_config()).unwrap()
}

/// A log whose segments roll after `segment_bytes`.
fn open_rolling(dir: &Path, segment_bytes: usize) -> Log {
    Log::open(
        dir,
        LogConfig {
            segment_bytes: segment_bytes as u64,
            ..LogConfig::default()
        },
    )
    .unwrap()
}

#[test]
fn log_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Log>();
}

#[test]
fn assigns_offsets_sequentially() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    let a = log.append_leader(&plain(3, 10), 100).unwrap();
    assert_eq!(
        (a.base_offset, a.last_offset, a.log_append_time, a.duplicate),
        (0, 2, -1, false)
    );
    let mut two = plain(2, 20);
    two.extend_from_slice(&plain(4, 30));
    let b = log.append_leader(&two, 100).unwrap();
    assert_eq!((b.base_offset, b.last_offset), (3, 8));
    assert_eq!(log.log_end_offset(), 9);
    assert_eq!(log.high_watermark(), 9);
    assert_eq!(log.last_stable_offset(), 9);

    let all = log.read(0, usize::MAX, i64::MAX).unwrap();
    let hs = headers(&all);
    assert_eq!(
        hs.iter()
            .map(|h| (h.base_offset, h.last_offset()))
            .collect::<Vec<_>>(),
        vec![(0, 2), (3, 4), (5, 8)]
    );
    // The rewritten batches still decode (CRC intact) with the assigned offsets.
    let mut buf = all.clone();
    let sets = RecordBatchDecoder::decode_all(&mut buf).unwrap();
    let offsets: Vec<i64> = sets
        .iter()
        .flat_map(|s| s.records.iter().map(|r| r.offset))
        .collect();
    assert_eq!(offsets, (0..9).collect::<Vec<_>>());
    assert_eq!(log.size_bytes(), all.len() as u64);
}

#[test]
fn rejects_invalid_client_batches() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let mut bad_crc = plain(2, 1);
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 1;
    assert!(matches!(
        log.append_leader(&bad_crc, 0),
        Err(LogError::CorruptRecord(_))
    ));

    let good = plain(2, 1);
    assert!(matches!(
        log.append_leader(&good[..good.len() - 3], 0),
        Err(LogError::CorruptRecord(_))
    ));

    let mut wrong_magic = plain(1, 1);
    wrong_magic[16] = 1;
    assert!(matches!(
        log.append_leader(&wrong_magic, 0),
        Err(LogError::UnsupportedMagic(1))
    ));

    let mut nonzero_base = plain(1, 1);
    batch::set_base_offset(&mut nonzero_base, 5);
    assert!(matches!(
        log.append_leader(&nonzero_base, 0),
        Err(LogError::InvalidRecord(_))
    ));

    let control = build_control_batch(&ControlBatchSpec {
        offset: 0,
        partition_leader_epoch: -1,
        producer_id: 1,
        producer_epoch: 0,
        commit: true,
        coordinator_epoch: 0,
        timestamp: 0,
        log_append_time: false,
    });
    assert!(
        matches!(log.append_leader(&control, 0), Err(LogError::InvalidRecord(m)) if m.contains("control"))
    );

    log.update_config(LogConfig {
        max_message_bytes: 100,
        ..small_config()
    });
    assert!(matches!(
        log.append_leader(&plain(3, 1), 0),
        Err(LogError::RecordTooLarge { max: 100, .. })
    ));
    assert!(matches!(
        log.append_leader(&[], 0),
        Err(LogError::InvalidRecord(_))
    ));
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.size_bytes(), 0);
}

#[test]
fn read_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let big = plain(20, 1); // ~2.5 KB
    let small = plain(1, 2);
    log.append_leader(&big, 0).unwrap(); // 0..=19
    log.append_leader(&small, 0).unwrap(); // 20
    log.append_leader(&small, 0).unwrap(); // 21
    log.append_leader(&plain(3, 3), 0).unwrap(); // 22..=24

    // The first batch is returned whole even though it exceeds max_bytes.
    let r = log.read(0, 10, i64::MAX).unwrap();
    assert_eq!(r.len(), big.len());
    assert_eq!(headers(&r)[0].base_offset, 0);
    // Reading mid-batch returns the containing batch.
    let r = log.read(7, 10, i64::MAX).unwrap();
    assert_eq!(
        headers(&r)
            .iter()
            .map(|h| h.base_offset)
            .collect::<Vec<_>>(),
        vec![0]
    );
    // max_bytes bounds how many more batches follow.
    let r = log.read(20, small.len() * 2, i64::MAX).unwrap();
    assert_eq!(
        headers(&r)
            .iter()
            .map(|h| h.base_offset)
            .collect::<Vec<_>>(),
        vec![20, 21]
    );
    let r = log.read(20, small.len() * 2 - 1, i64::MAX).unwrap();
    assert_eq!(headers(&r).len(), 1);
    // The upper bound is exclusive and never crossed, even mid-batch.
    let r = log.read(0, usize::MAX, 21).unwrap();
    assert_eq!(
        headers(&r)
            .iter()
            .map(|h| h.base_offset)
            .collect::<Vec<_>>(),
        vec![0, 20]
    );
    let r = log.read(0, usize::MAX, 23).unwrap();
    assert_eq!(
        headers(&r)
            .iter()
            .map(|h| h.base_offset)
            .collect::<Vec<_>>(),
        vec![0, 20, 21]
    );
    assert!(log.read(22, usize::MAX, 23).unwrap().is_empty());
    assert!(log.read(21, usize::MAX, 21).unwrap().is_empty());
    // At the log end: empty. Past it or below the start: out of range.
    assert!(log.read(25, 100, i64::MAX).unwrap().is_empty());
    assert!(matches!(
        log.read(26, 100, i64::MAX),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert!(matches!(
        log.read(-1, 100, i64::MAX),
        Err(LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn reads_use_index_across_many_batches_and_segments() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(
        dir.path(),
        LogConfig {
            segment_bytes: 8 * 1024,
            index_interval_bytes: 512,
            ..LogConfig::default()
        },
    )
    .unwrap();
    for i in 0..300 {
        log.append_leader(&plain(1 + i % 3, i as i64), 0).unwrap();
    }
    assert!(log.segment_count() > 5);
    let leo = log.log_end_offset();
    for offset in 0..leo {
        let r = log.read(offset, 1, i64::MAX).unwrap();
        let h = headers(&r)[0];
        assert!(
            h.base_offset <= offset && offset <= h.last_offset(),
            "offset {offset}"
        );
    }
}

#[test]
fn rolls_by_size_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let batch = plain(5, 1);
    let log = Log::open(
        dir.path(),
        LogConfig {
            segment_bytes: (batch.len() * 3) as u64,
            segment_ms: 1000,
            ..LogConfig::default()
        },
    )
    .unwrap();
    for _ in 0..3 {
        log.append_leader(&batch, 0).unwrap();
    }
    assert_eq!(log.segment_base_offsets(), vec![0]);
    log.append_leader(&batch, 0).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 15]);
    // Time: the active segment's first append was at t=0.
    log.append_leader(&batch, 1000).unwrap();
    assert_eq!(log.segment_count(), 2);
    log.append_leader(&batch, 1001).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 15, 25]);
    // A batch larger than segment_bytes still goes into an (otherwise empty) segment.
    log.append_leader(&plain(100, 1), 1001).unwrap();
    log.append_leader(&batch, 1001).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 15, 25, 30, 130]);
    let all = log.read(0, usize::MAX, i64::MAX).unwrap();
    assert_eq!(headers(&all).len(), 3, "reads stop at a segment end");
    assert!(dir.path().join("00000000000000000015.log").exists());
    assert!(dir.path().join("00000000000000000015.index").exists());
    assert!(dir.path().join("00000000000000000015.timeindex").exists());
    assert!(dir.path().join("00000000000000000130.snapshot").exists());
    assert!(
        !dir.path().join("00000000000000000025.snapshot").exists(),
        "only two snapshots are kept"
    );
}

#[test]
fn mirror_keeps_offsets_allows_gaps_and_rejects_overlap() {
    let src = tempfile::tempdir().unwrap();
    let source = open(src.path());
    for i in 0..5 {
        source.append_leader(&plain(2, i), 0).unwrap();
    }
    let b = |offset: i64| {
        let mut x = plain(2, 0);
        batch::set_base_offset(&mut x, offset);
        x
    };
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let m = log
        .append_mirror(&source.read(0, usize::MAX, i64::MAX).unwrap())
        .unwrap();
    assert_eq!((m.base_offset, m.last_offset), (0, 9));
    assert_eq!(log.log_end_offset(), 10);
    assert_eq!(
        log.read(0, usize::MAX, i64::MAX).unwrap(),
        source.read(0, usize::MAX, i64::MAX).unwrap()
    );
    // A gap is fine.
    let m = log.append_mirror(&b(20)).unwrap();
    assert_eq!((m.base_offset, m.last_offset), (20, 21));
    assert_eq!(log.log_end_offset(), 22);
    // Reading inside the gap returns the next batch.
    assert_eq!(
        headers(&log.read(15, usize::MAX, i64::MAX).unwrap())[0].base_offset,
        20
    );
    // Overlaps are rejected.
    assert!(matches!(
        log.append_mirror(&b(21)),
        Err(LogError::OffsetOutOfOrder {
            offset: 21,
            log_end_offset: 22
        })
    ));
    let mut unordered = b(30);
    unordered.extend_from_slice(&b(30));
    assert!(matches!(
        log.append_mirror(&unordered),
        Err(LogError::OffsetOutOfOrder { .. })
    ));
    let mut bad = b(40);
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert!(matches!(
        log.append_mirror(&bad),
        Err(LogError::CorruptRecord(_))
    ));
    assert_eq!(log.log_end_offset(), 22);
}

#[test]
fn mirror_on_empty_log_keeps_its_start_below_a_gap() {
    // A compacted source's first batch may sit above its log start: the
    // mirror keeps the gap and its own start, as a follower replica does.
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let mut x = plain(3, 5);
    batch::set_base_offset(&mut x, 1000);
    log.append_mirror(&x).unwrap();
    assert_eq!(log.log_start_offset(), 0);
    assert_eq!(log.log_end_offset(), 1003);
    assert_eq!(log.segment_base_offsets(), vec![0]);
    assert_eq!(log.read(0, 10, i64::MAX).unwrap().as_ref(), &x[..]);
    assert_eq!(log.read(1001, 10, i64::MAX).unwrap().as_ref(), &x[..]);
    // Survives a crash-style reopen and a clean one.
    drop(log);
    let log = open(dir.path());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 1003));
    log.close().unwrap();
    drop(log);
    let log = open(dir.path());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 1003));
    assert_eq!(log.read(500, 10, i64::MAX).unwrap().as_ref(), &x[..]);
}

#[test]
fn mirror_on_empty_log_starts_at_first_batch_past_a_segment_span() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let far = i64::from(i32::MAX) + 1000;
    let mut x = plain(3, 5);
    batch::set_base_offset(&mut x, far);
    log.append_mirror(&x).unwrap();
    assert_eq!(log.log_start_offset(), far);
    assert_eq!(log.log_end_offset(), far + 3);
    assert_eq!(log.segment_base_offsets(), vec![far]);
    assert!(!dir.path().join("00000000000000000000.log").exists());
    assert_eq!(log.read(far + 1, 10, i64::MAX).unwrap().as_ref(), &x[..]);
    assert!(matches!(
        log.read(far - 1, 10, i64::MAX),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    drop(log);
    let log = open(dir.path());
    assert_eq!(
        (log.log_start_offset(), log.log_end_offset()),
        (far, far + 3)
    );
}

#[test]
fn reset_empty_to_moves_forward_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.reset_empty_to(500).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (500, 500));
    let a = log.append_leader(&plain(2, 1), 0).unwrap();
    assert_eq!(a.base_offset, 500);
    assert!(matches!(
        log.reset_empty_to(501),
        Err(LogError::InvalidOffset { .. })
    ));
    log.reset_empty_to(900).unwrap();
    assert_eq!(
        (
            log.log_start_offset(),
            log.log_end_offset(),
            log.size_bytes()
        ),
        (900, 900, 0)
    );
    assert_eq!(log.segment_base_offsets(), vec![900]);
    drop(log);
    let log = open(dir.path());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (900, 900));
    let mut x = plain(1, 1);
    batch::set_base_offset(&mut x, 900);
    log.append_mirror(&x).unwrap();
    assert_eq!(log.log_end_offset(), 901);
}

#[test]
fn idempotent_duplicates_and_sequence_errors() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let first = log.append_leader(&idem(7, 0, 0, 3), 0).unwrap();
    assert_eq!((first.base_offset, first.last_offset), (0, 2));
    log.append_leader(&plain(2, 0), 0).unwrap();
    let second = log.append_leader(&idem(7, 0, 3, 2), 0).unwrap();
    assert_eq!((second.base_offset, second.last_offset), (5, 6));
    // Retried batches return the original offsets and are not written again.
    let leo = log.log_end_offset();
    let dup = log.append_leader(&idem(7, 0, 0, 3), 0).unwrap();
    assert_eq!(
        (dup.base_offset, dup.last_offset, dup.duplicate),
        (0, 2, true)
    );
    let dup = log.append_leader(&idem(7, 0, 3, 2), 0).unwrap();
    assert_eq!(
        (dup.base_offset, dup.last_offset, dup.duplicate),
        (5, 6, true)
    );
    assert_eq!(log.log_end_offset(), leo);
    // A gap in sequence numbers.
    assert!(matches!(
        log.append_leader(&idem(7, 0, 9, 1), 0),
        Err(LogError::OutOfOrderSequence {
            sequence: 9,
            last_sequence: 4,
            ..
        })
    ));
    // An older epoch.
    assert!(matches!(
        log.append_leader(&idem(8, 3, 0, 1), 0)
            .and_then(|_| log.append_leader(&idem(8, 2, 1, 1), 0)),
        Err(LogError::InvalidProducerEpoch {
            epoch: 2,
            current_epoch: 3,
            ..
        })
    ));
    // A new epoch must restart at sequence 0.
    assert!(matches!(
        log.append_leader(&idem(7, 1, 5, 1), 0),
        Err(LogError::OutOfOrderSequence { .. })
    ));
    log.append_leader(&idem(7, 1, 0, 1), 0).unwrap();
    // A producer id unknown to this log may start at any sequence (Kafka 2.5+ semantics).
    log.append_leader(&idem(9, 0, 42, 1), 0).unwrap();
    // A batch with a producer id but no sequence is invalid.
    assert!(matches!(
        log.append_leader(
            &encode_batch(1, 0, Some((10, 0, -1)), false, Compression::None),
            0
        ),
        Err(LogError::InvalidRecord(_))
    ));
    let leo = log.log_end_offset();

    // Duplicate detection survives a clean reopen (snapshot) and a crash (scan).
    log.close().unwrap();
    drop(log);
    let log = open(dir.path());
    let dup = log.append_leader(&idem(9, 0, 42, 1), 0).unwrap();
    assert!(dup.duplicate);
    drop(log); // no close: crash
    let log = open(dir.path());
    let dup = log.append_leader(&idem(9, 0, 42, 1), 0).unwrap();
    assert!(dup.duplicate);
    assert_eq!(log.log_end_offset(), leo);
    assert!(matches!(
        log.append_leader(&idem(9, 0, 44, 1), 0),
        Err(LogError::OutOfOrderSequence { .. })
    ));
    log.append_leader(&idem(9, 0, 43, 1), 0).unwrap();
}

#[test]
fn duplicate_under_log_append_time_returns_original_time() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(
        dir.path(),
        LogConfig {
            timestamp_type: TimestampType::LogAppendTime,
            ..small_config()
        },
    )
    .unwrap();
    let a = log.append_leader(&idem(1, 0, 0, 2), 5_000).unwrap();
    assert_eq!(a.log_append_time, 5_000);
    let d = log.append_leader(&idem(1, 0, 0, 2), 9_000).unwrap();
    assert!(d.duplicate);
    assert_eq!(d.log_append_time, 5_000);
    let h = headers(&log.read(0, 100, i64::MAX).unwrap())[0];
    assert!(h.is_log_append_time());
    assert_eq!(h.max_timestamp, 5_000);
    assert_eq!(log.max_timestamp().unwrap(), Some((0, 5_000)));
    assert_eq!(log.offset_for_timestamp(4_000).unwrap(), Some((0, 5_000)));
}

#[test]
fn transactions_control_batches_lso_and_aborted_list() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.append_leader(&plain(2, 0), 0).unwrap(); // 0..=1
    log.append_leader(&txn(1, 0, 0, 2), 0).unwrap(); // 2..=3
    assert_eq!(log.last_stable_offset(), 2);
    log.append_leader(&txn(2, 0, 0, 1), 0).unwrap(); // 4
    log.append_leader(&plain(1, 0), 0).unwrap(); // 5
    log.append_leader(&txn(1, 0, 2, 1), 0).unwrap(); // 6
    assert_eq!(log.last_stable_offset(), 2);
    assert_eq!(log.high_watermark(), 7);
    // Producer 1 may not write outside its transaction.
    assert!(matches!(
        log.append_leader(&idem(1, 0, 3, 1), 0),
        Err(LogError::InvalidTxnState(_))
    ));

    let abort_at = log.append_control(1, 0, false, 5, 10).unwrap();
    assert_eq!(abort_at, 7);
    assert_eq!(
        log.last_stable_offset(),
        4,
        "producer 2's transaction is still open"
    );
    let commit_at = log.append_control(2, 0, true, 5, 10).unwrap();
    assert_eq!(commit_at, 8);
    assert_eq!(log.last_stable_offset(), 9);
    assert_eq!(
        log.aborted_transactions(0, 9),
        vec![AbortedTxn {
            producer_id: 1,
            first_offset: 2
        }]
    );
    assert!(log.aborted_transactions(8, 9).is_empty());
    assert!(log.aborted_transactions(0, 2).is_empty());
    assert_eq!(log.aborted_transactions(7, 9).len(), 1);
    // The marker batch is readable and well-formed.
    let r = log.read(7, 1, i64::MAX).unwrap();
    let h = headers(&r)[0];
    assert!(h.is_control() && h.is_transactional());
    assert_eq!((h.producer_id, h.record_count), (1, 1));
    assert_eq!(read_txn_marker(&r).map(|m| m.commit), Some(false));
    // Fencing.
    assert!(matches!(
        log.append_control(1, 0, true, 4, 10),
        Err(LogError::TransactionCoordinatorFenced { .. })
    ));
    log.append_leader(&txn(1, 1, 0, 1), 0).unwrap(); // 9: new epoch
    assert!(matches!(
        log.append_control(1, 0, true, 5, 10),
        Err(LogError::InvalidProducerEpoch { .. })
    ));
    assert_eq!(log.last_stable_offset(), 9);

    // State survives a crash (scan) and a clean reopen (snapshot).
    drop(log);
    let log = open(dir.path());
    assert_eq!(log.last_stable_offset(), 9);
    assert_eq!(
        log.aborted_transactions(0, 100),
        vec![AbortedTxn {
            producer_id: 1,
            first_offset: 2
        }]
    );
    log.close().unwrap();
    drop(log);
    let log = open(dir.path());
    assert_eq!(log.last_stable_offset(), 9);
    assert_eq!(log.aborted_transactions(0, 100).len(), 1);
    log.append_control(1, 1, false, 6, 10).unwrap();
    assert_eq!(log.last_stable_offset(), log.high_watermark());
    assert_eq!(log.aborted_transactions(0, 100).len(), 2);
}

#[test]
fn mirror_tracks_transactions_and_producers() {
    let src_dir = tempfile::tempdir().unwrap();
    let source = open(src_dir.path());
    source.append_leader(&txn(1, 0, 0, 2), 0).unwrap();
    source.append_leader(&idem(2, 0, 0, 1), 0).unwrap();
    source.append_control(1, 0, false, 0, 0).unwrap();
    source.append_leader(&txn(3, 0, 0, 1), 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.append_mirror(&source.read(0, usize::MAX, i64::MAX).unwrap())
        .unwrap();
    assert_eq!(log.log_end_offset(), source.log_end_offset());
    assert_eq!(log.last_stable_offset(), 4);
    assert_eq!(
        log.aborted_transactions(0, 10),
        vec![AbortedTxn {
            producer_id: 1,
            first_offset: 0
        }]
    );
    // After promotion the mirrored producer state deduplicates and sequences.
    assert!(log.append_leader(&idem(2, 0, 0, 1), 0).unwrap().duplicate);
    log.append_leader(&idem(2, 0, 1, 1), 0).unwrap();
}

#[test]
fn timestamp_lookup_with_compressed_batches() {
    for compression in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(
            dir.path(),
            LogConfig {
                segment_bytes: 2048,
                index_interval_bytes: 64,
                ..LogConfig::default()
            },
        )
        .unwrap();
        // Batch i holds 10 records with timestamps 1000*i + 0..10 at offsets 10*i..10*i+10.
        for i in 0..30 {
            log.append_leader(&encode_batch(10, 1000 * i, None, false, compression), 0)
                .unwrap();
        }
        assert!(log.segment_count() > 1, "{compression:?}");
        assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 0)));
        assert_eq!(log.offset_for_timestamp(5003).unwrap(), Some((53, 5003)));
        assert_eq!(log.offset_for_timestamp(5010).unwrap(), Some((60, 6000)));
        assert_eq!(
            log.offset_for_timestamp(29_009).unwrap(),
            Some((299, 29_009))
        );
        assert_eq!(log.offset_for_timestamp(29_010).unwrap(), None);
        assert_eq!(log.max_timestamp().unwrap(), Some((299, 29_009)));
        // Not below the log start offset.
        log.delete_records_before(55).unwrap();
        assert_eq!(log.offset_for_timestamp(5003).unwrap(), Some((55, 5005)));
    }
}

#[test]
fn max_timestamp_picks_first_record_with_largest_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    assert_eq!(log.max_timestamp().unwrap(), None);
    log.append_leader(&plain(3, 100), 0).unwrap(); // 100..102
    log.append_leader(&plain(3, 500), 0).unwrap(); // 500..502
    log.append_leader(&plain(3, 200), 0).unwrap();
    assert_eq!(log.max_timestamp().unwrap(), Some((5, 502)));
    log.close().unwrap();
    drop(log);
    let log = open(dir.path());
    assert_eq!(log.max_timestamp().unwrap(), Some((5, 502)));
    assert_eq!(log.offset_for_timestamp(300).unwrap(), Some((3, 500)));
}

#[test]
fn delete_records_moves_start_and_drops_segments() {
    let dir = tempfile::tempdir().unwrap();
    let batch = plain(10, 1);
    let log = open_rolling(dir.path(), batch.len() * 2);
    for _ in 0..6 {
        log.append_leader(&batch, 0).unwrap();
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 20, 40]);
    assert!(matches!(
        log.delete_records_before(61),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(log.delete_records_before(25).unwrap(), 25);
    assert_eq!(log.log_start_offset(), 25);
    assert_eq!(log.segment_base_offsets(), vec![20, 40]);
    assert!(!dir.path().join("00000000000000000000.log").exists());
    assert!(matches!(
        log.read(24, 10, i64::MAX),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    // The batch holding the new start is still returned whole.
    assert_eq!(
        headers(&log.read(25, 1, i64::MAX).unwrap())[0].base_offset,
        20
    );
    // Lower values are no-ops.
    assert_eq!(log.delete_records_before(10).unwrap(), 25);
    // Persisted across a crash.
    drop(log);
    let log = open(dir.path());
    assert_eq!(log.log_start_offset(), 25);
    // -1 means the high watermark; the active segment stays.
    assert_eq!(log.delete_records_before(-1).unwrap(), 60);
    assert_eq!(log.segment_base_offsets(), vec![40]);
    assert!(log.read(60, 10, i64::MAX).unwrap().is_empty());
    assert_eq!(log.append_leader(&batch, 0).unwrap().base_offset, 60);
}

#[test]
fn retention_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let batch = plain(10, 1);
    let size = batch.len() as u64;
    let log = Log::open(
        dir.path(),
        LogConfig {
            segment_bytes: size * 2,
            retention_bytes: (size * 3) as i64,
            retention_ms: -1,
            ..LogConfig::default()
        },
    )
    .unwrap();
    for _ in 0..7 {
        log.append_leader(&batch, 0).unwrap();
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 20, 40, 60]);
    assert_eq!(log.size_bytes(), size * 7);
    // 7 batches, limit 3: delete whole segments while the rest stays >= the limit.
    let deleted = log.enforce_retention(0).unwrap();
    assert_eq!(deleted, size * 4);
    assert_eq!(log.segment_base_offsets(), vec![40, 60]);
    assert_eq!(log.log_start_offset(), 40);
    assert_eq!(log.enforce_retention(0).unwrap(), 0);
}

#[test]
fn retention_by_time_can_delete_the_active_segment() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(
        dir.path(),
        LogConfig {
            segment_bytes: 400,
            retention_ms: 1000,
            ..LogConfig::default()
        },
    )
    .unwrap();
    log.append_leader(&plain(2, 100), 0).unwrap();
    log.append_leader(&plain(2, 200), 0).unwrap();
    log.append_leader(&plain(2, 5000), 0).unwrap();
    let segs = log.segment_base_offsets();
    assert_eq!(segs.len(), 3);
    // At t=1500 only the first segment (max ts 101) is older than 1000 ms.
    let before = log.size_bytes();
    let deleted = log.enforce_retention(1150).unwrap();
    assert!(deleted > 0);
    assert_eq!(log.segment_base_offsets(), segs[1..].to_vec());
    assert_eq!(log.log_start_offset(), 2);
    assert_eq!(log.size_bytes(), before - deleted);
    // Far in the future everything expires: a fresh empty segment at the log end remains.
    log.enforce_retention(100_000).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![6]);
    assert_eq!(
        (
            log.log_start_offset(),
            log.log_end_offset(),
            log.size_bytes()
        ),
        (6, 6, 0)
    );
    assert_eq!(log.append_leader(&plain(1, 1), 0).unwrap().base_offset, 6);
    drop(log);
    let log = open(dir.path());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (6, 7));
}

#[test]
fn flush_policy_advances_recovery_point() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(
        dir.path(),
        LogConfig {
            flush_interval_messages: 5,
            ..small_config()
        },
    )
    .unwrap();
    let checkpoint = || OffsetsCheckpoint::read(dir.path()).unwrap().unwrap();
    log.append_leader(&plain(3, 1), 0).unwrap();
    assert_eq!(log.offsets.recovery_point.load(Ordering::Acquire), 0);
    log.append_leader(&plain(3, 1), 0).unwrap();
    assert_eq!(log.offsets.recovery_point.load(Ordering::Acquire), 6);
    log.update_config(LogConfig {
        flush_interval_ms: 100,
        ..small_config()
    });
    log.append_leader(&plain(1, 1), 0).unwrap();
    log.maybe_flush(wall_clock_ms() + 1000).unwrap();
    assert_eq!(log.offsets.recovery_point.load(Ordering::Acquire), 7);
    log.flush().unwrap();
    assert_eq!(checkpoint().recovery_point, 7);
}

#[test]
fn close_rejects_writes_and_marks_clean() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.append_leader(&plain(2, 1), 0).unwrap();
    log.close().unwrap();
    assert!(dir.path().join("clean-shutdown").exists());
    assert!(matches!(
        log.append_leader(&plain(1, 1), 0),
        Err(LogError::Closed)
    ));
    assert!(matches!(
        log.append_control(1, 0, true, 0, 0),
        Err(LogError::Closed)
    ));
    assert_eq!(log.read(0, 100, i64::MAX).unwrap().len(), plain(2, 1).len());
    drop(log);
    let log = open(dir.path());
    assert!(
        !dir.path().join("clean-shutdown").exists(),
        "the marker is removed on open"
    );
    assert_eq!(log.log_end_offset(), 2);
    let path = dir.path().to_path_buf();
    log.delete().unwrap();
    assert!(!path.exists());
}

#[test]
fn leader_epoch_is_stamped() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.set_leader_epoch(7);
    log.append_leader(&plain(1, 1), 0).unwrap();
    log.append_control(3, 0, true, 0, 0).unwrap();
    let r = log.read(0, usize::MAX, i64::MAX).unwrap();
    assert!(headers(&r).iter().all(|h| h.partition_leader_epoch == 7));
}

#[test]
fn concurrent_readers_see_only_whole_published_batches() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(
        Log::open(
            dir.path(),
            LogConfig {
                segment_bytes: 16 * 1024,
                index_interval_bytes: 512,
                ..LogConfig::default()
            },
        )
        .unwrap(),
    );
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let log = log.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !done.load(Ordering::Acquire) {
                    let leo = log.log_end_offset();
                    let start = log.log_start_offset();
                    let mut offset = start;
                    while offset < leo {
                        let bytes = log.read(offset, 4096, leo).unwrap();
                        if bytes.is_empty() {
                            break;
                        }
                        let hs = headers(&bytes);
                        assert!(hs[0].base_offset <= offset);
                        offset = hs.last().unwrap().next_offset();
                        assert!(offset <= leo);
                        reads += 1;
                    }
                }
                reads
            })
        })
        .collect();
    for i in 0..2000 {
        log.append_leader(&plain(1 + i % 4, i as i64), 0).unwrap();
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
}

#[test]
fn rolled_segments_are_flushed_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let batch = plain(5, 1);
    let log = Log::open(
        dir.path(),
        LogConfig {
            segment_bytes: (batch.len() * 2) as u64,
            ..LogConfig::default()
        },
    )
    .unwrap();
    for _ in 0..5 {
        log.append_leader(&batch, 0).unwrap();
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 10, 20]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while OffsetsCheckpoint::read(dir.path())
        .unwrap()
        .map(|c| c.recovery_point)
        != Some(20)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "recovery point never reached 20"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(log.offsets.recovery_point.load(Ordering::Acquire), 20);
}

#[test]
fn scrub_finds_flipped_bytes_in_closed_segments_and_changes_nothing() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let batch = plain(5, 1);
    let log = open_rolling(dir.path(), batch.len() * 3);
    for _ in 0..7 {
        log.append_leader(&batch, 0).unwrap();
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 15, 30]);
    // The active segment changes under appends: it is never scrubbed.
    assert_eq!(log.closed_segment_base_offsets(), vec![0, 15]);
    assert_eq!(log.scrub_segment(30).unwrap(), None);
    assert_eq!(log.scrub_segment(99).unwrap(), None);

    let clean = log.scrub_segment(0).unwrap().unwrap();
    assert_eq!((clean.batches, clean.bytes), (3, 3 * batch.len() as u64));
    assert!(clean.findings.is_empty());

    // One byte of the second batch's records, as disk rot would change it.
    let path = dir.path().join("00000000000000000000.log");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let at = (batch.len() + batch.len() - 3) as u64;
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, at).unwrap();
    file.write_all_at(&[byte[0] ^ 0x20], at).unwrap();
    let before = std::fs::read(&path).unwrap();
    let found = log.scrub_segment(0).unwrap().unwrap();
    assert_eq!(found.batches, 3, "the walk goes on past a bad CRC");
    assert_eq!(found.findings.len(), 1);
    let f = &found.findings[0];
    assert_eq!(
        (f.position, f.base_offset, f.last_offset),
        (batch.len() as u64, 5, 9)
    );
    assert!(f.reason.contains("CRC mismatch"), "{}", f.reason);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "a scrub never writes"
    );

    // A length that frames nothing ends the walk with a finding.
    let second = dir.path().join("00000000000000000015.log");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&second)
        .unwrap();
    file.write_all_at(&0x7fff_0000u32.to_be_bytes(), batch.len() as u64 + 8)
        .unwrap();
    let broken = log.scrub_segment(15).unwrap().unwrap();
    assert_eq!(broken.batches, 1);
    assert_eq!(broken.findings.len(), 1);
    assert_eq!(broken.findings[0].position, batch.len() as u64);
    assert_eq!(broken.findings[0].base_offset, -1);
}

#[test]
fn stored_batches_and_repair_restore_a_flipped_batch_in_place() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let batch = plain(5, 1);
    let log = Log::open(
        dir.path(),
        LogConfig {
            segment_bytes: (batch.len() * 3) as u64,
            ..LogConfig::default()
        },
    )
    .unwrap();
    for _ in 0..7 {
        log.append_leader(&batch, 0).unwrap();
    }
    let all = log.stored_batches(0, i64::MAX).unwrap();
    assert_eq!(all.len(), 7);
    assert!(all.iter().all(|b| b.crc_valid && b.record_count == 5));
    // From the batch holding `from` to the last one starting below `to`.
    let some = log.stored_batches(7, 16).unwrap();
    let bases: Vec<i64> = some.iter().map(|b| b.base_offset).collect();
    assert_eq!(bases, vec![5, 10, 15]);
    assert_eq!(some[0].last_offset, 9);

    let good = log.read(5, 1, i64::MAX).unwrap();
    assert_eq!(good.len(), batch.len());
    let path = dir.path().join("00000000000000000000.log");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let at = (batch.len() * 2 - 3) as u64;
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, at).unwrap();
    file.write_all_at(&[byte[0] ^ 0x20], at).unwrap();
    let rotten = log.stored_batches(5, 6).unwrap();
    assert_eq!(rotten.len(), 1);
    assert!(!rotten[0].crc_valid);
    assert_eq!(
        rotten[0].crc, all[1].crc,
        "the header still holds the old CRC"
    );

    let position = batch.len() as u64;
    let refused = |r: Result<(), LogError>| matches!(r, Err(LogError::RepairRefused { .. }));
    // Never the active segment, never bytes of another batch, never bad bytes.
    assert!(refused(log.repair_batch(30, 0, &good)));
    assert!(refused(log.repair_batch(99, 0, &good)));
    let other = log.read(0, 1, i64::MAX).unwrap();
    assert!(refused(log.repair_batch(0, position, &other)));
    let mut bad = good.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(refused(log.repair_batch(0, position, &bad)));
    assert!(refused(log.repair_batch(
        0,
        position,
        &good[..good.len() - 1]
    )));
    assert!(refused(log.repair_batch(0, position + 1, &good)));
    assert!(log.scrub_segment(0).unwrap().unwrap().findings.len() == 1);

    let size_before = std::fs::metadata(&path).unwrap().len();
    log.repair_batch(0, position, &good).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size_before);
    assert!(log.scrub_segment(0).unwrap().unwrap().findings.is_empty());
    assert_eq!(log.read(5, 1, i64::MAX).unwrap(), good);
    assert_eq!(log.stored_batches(0, i64::MAX).unwrap(), all);
}
