//! Unit tests of log compaction.

use super::*;
use bytes::BytesMut;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType as WireTimestampType,
};

/// Every append rolls a new segment (each batch is its own segment); compaction always due.
fn compact_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1,
        index_interval_bytes: 64,
        cleanup_policy_compact: true,
        cleanup_policy_delete: false,
        min_cleanable_dirty_ratio: 0.0,
        ..LogConfig::default()
    }
}

type Kv<'a> = (Option<&'a str>, Option<&'a str>);

fn keyed(
    records: &[Kv<'_>],
    ts: i64,
    producer: Option<(i64, i16, i32)>,
    compression: Compression,
) -> Vec<u8> {
    let (producer_id, producer_epoch, base_sequence) = producer.unwrap_or((-1, -1, -1));
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch,
            timestamp_type: WireTimestampType::Creation,
            offset: i as i64,
            sequence: if base_sequence < 0 {
                i as i32 - 1
            } else {
                base_sequence + i as i32
            },
            timestamp: ts + i as i64,
            key: k.map(|k| Bytes::from(k.to_string())),
            value: v.map(|v| Bytes::from(v.to_string())),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .unwrap();
    buf.to_vec()
}

fn kv<'a>(k: &'a str, v: &'a str) -> Kv<'a> {
    (Some(k), Some(v))
}

/// The whole log as raw bytes, read batch by batch from the log start.
fn read_raw(log: &Log) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    while offset < end {
        let bytes = log.read(offset, 1 << 20, end).unwrap();
        if bytes.is_empty() {
            break;
        }
        let spans = split_and_verify(&bytes).unwrap();
        offset = spans.last().unwrap().header.next_offset();
        out.extend_from_slice(&bytes);
    }
    out
}

/// `(offset, key, value, timestamp)` of every record, decoded by kafka-protocol.
fn read_records(log: &Log) -> Vec<(i64, Option<String>, Option<String>, i64)> {
    let raw = read_raw(log);
    let mut buf = Bytes::from(raw);
    let sets = RecordBatchDecoder::decode_all(&mut buf).unwrap();
    sets.into_iter()
        .flat_map(|s| s.records)
        .filter(|r| !r.control)
        .map(|r| {
            let s = |b: Option<Bytes>| b.map(|b| String::from_utf8(b.to_vec()).unwrap());
            (r.offset, s(r.key), s(r.value), r.timestamp)
        })
        .collect()
}

fn summary(log: &Log) -> Vec<(i64, String, Option<String>)> {
    read_records(log)
        .into_iter()
        .map(|(o, k, v, _)| (o, k.unwrap_or_default(), v))
        .collect()
}

fn entry(o: i64, k: &str, v: Option<&str>) -> (i64, String, Option<String>) {
    (o, k.to_string(), v.map(str::to_string))
}

fn overwrite_log(dir: &Path, compression: Compression) -> Log {
    let log = Log::open(dir, compact_config()).unwrap();
    let batches: [&[Kv<'_>]; 4] = [
        &[kv("a", "1"), kv("b", "1"), kv("e", "1")],
        &[kv("a", "2"), kv("c", "1")],
        &[kv("b", "2")],
        &[kv("d", "1")],
    ];
    for (i, b) in batches.iter().enumerate() {
        log.append_leader(&keyed(b, 1000 + 10 * i as i64, None, compression), 0)
            .unwrap();
    }
    assert_eq!(log.segment_count(), 4);
    log
}

fn check_latest_value_per_key(compression: Compression) {
    let dir = tempfile::tempdir().unwrap();
    let log = overwrite_log(dir.path(), compression);
    let before = read_records(&log);
    let active_size = log.segments().active().size();
    let stats = log.compact(10_000).unwrap();
    assert_eq!(stats.records_removed, 2);
    assert_eq!(stats.segments_cleaned, 1);
    assert_eq!(stats.cleaned_up_to, 6);
    assert!(stats.bytes_after < stats.bytes_before);
    // Latest value per key; kept records keep their offsets (0 and 1 are gaps now) and
    // timestamps; the active segment (d) is untouched.
    assert_eq!(
        summary(&log),
        vec![
            entry(2, "e", Some("1")),
            entry(3, "a", Some("2")),
            entry(4, "c", Some("1")),
            entry(5, "b", Some("2")),
            entry(6, "d", Some("1")),
        ]
    );
    let after = read_records(&log);
    for r in &after {
        assert!(before.contains(r), "{r:?} changed");
    }
    assert_eq!(log.segments().active().size(), active_size);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 7));
    // Rewritten batches keep their header fields and codec, and pass CRC checks.
    let raw = read_raw(&log);
    let spans = split_and_verify(&raw).unwrap();
    assert_eq!(spans[0].header.base_offset, 0);
    assert_eq!(spans[0].header.last_offset_delta, 2);
    assert_eq!(spans[0].header.record_count, 1);
    assert_eq!(spans[0].header.compression(), compression as i16);
    // Reading from a removed offset starts at the next batch holding a later record.
    let from_gap = log.read(1, 1 << 20, 7).unwrap();
    assert_eq!(
        split_and_verify(&from_gap).unwrap()[0].header.base_offset,
        0
    );
    // Nothing dirty is left: a second pass does nothing.
    assert_eq!(log.compact(10_001).unwrap().segments_cleaned, 0);
    // The compacted log survives a reopen (indexes rebuilt consistently).
    drop(log);
    let log = Log::open(dir.path(), compact_config()).unwrap();
    assert_eq!(read_records(&log), after);
}

#[test]
fn latest_value_per_key_wins_and_offsets_keep_gaps() {
    check_latest_value_per_key(Compression::None);
}

#[test]
fn gzip_batches_are_compacted() {
    check_latest_value_per_key(Compression::Gzip);
}

#[test]
fn zstd_batches_are_compacted() {
    check_latest_value_per_key(Compression::Zstd);
}

#[test]
fn no_op_without_compact_policy_and_below_dirty_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let log = overwrite_log(dir.path(), Compression::None);
    log.update_config(LogConfig {
        cleanup_policy_compact: false,
        ..compact_config()
    });
    assert_eq!(log.compact(10_000).unwrap(), CompactionStats::default());
    log.update_config(LogConfig {
        min_cleanable_dirty_ratio: 0.5,
        ..compact_config()
    });
    assert_eq!(log.compact(10_000).unwrap().cleaned_up_to, 6);
    // Only one small dirty segment against three clean ones: below the ratio.
    log.append_leader(&keyed(&[kv("a", "3")], 2000, None, Compression::None), 0)
        .unwrap();
    assert_eq!(log.compact(10_000).unwrap(), CompactionStats::default());
}

#[test]
fn min_compaction_lag_protects_recent_segments() {
    let dir = tempfile::tempdir().unwrap();
    let log = overwrite_log(dir.path(), Compression::None);
    log.update_config(LogConfig {
        min_compaction_lag_ms: 1_000,
        ..compact_config()
    });
    // Segments carry timestamps 1000..1030: at 1500 none is old enough.
    assert_eq!(log.compact(1_500).unwrap(), CompactionStats::default());
    // At 2015 the first two are (max timestamps 1002 and 1011), the third (1020) is not.
    let stats = log.compact(2_015).unwrap();
    assert_eq!(stats.cleaned_up_to, 5);
    assert_eq!(stats.records_removed, 1);
    assert_eq!(summary(&log)[0], entry(1, "b", Some("1")));
}

#[test]
fn tombstones_kept_until_delete_retention_after_cleaning() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        delete_retention_ms: 500,
        ..compact_config()
    };
    let log = Log::open(dir.path(), config.clone()).unwrap();
    let append = |records: &[Kv<'_>]| {
        log.append_leader(&keyed(records, 1000, None, Compression::None), 0)
            .unwrap();
    };
    append(&[kv("a", "1"), kv("b", "1")]);
    append(&[(Some("a"), None)]);
    append(&[kv("x", "1")]);
    log.compact(1_000).unwrap();
    assert_eq!(
        summary(&log),
        vec![
            entry(1, "b", Some("1")),
            entry(2, "a", None),
            entry(3, "x", Some("1"))
        ]
    );
    append(&[kv("y", "1")]);
    log.compact(1_200).unwrap();
    assert!(summary(&log).contains(&entry(2, "a", None)));
    append(&[kv("z", "1")]);
    let stats = log.compact(1_600).unwrap();
    assert_eq!(stats.records_removed, 1);
    assert_eq!(
        summary(&log),
        vec![
            entry(1, "b", Some("1")),
            entry(3, "x", Some("1")),
            entry(4, "y", Some("1")),
            entry(5, "z", Some("1"))
        ]
    );
    // The cleaner's progress survives a reopen.
    drop(log);
    let log = Log::open(dir.path(), config).unwrap();
    assert_eq!(
        CleanerCheckpoint::read(dir.path()).unwrap().first_dirty(),
        5
    );
    assert_eq!(log.compact(1_700).unwrap(), CompactionStats::default());
}

#[test]
fn keyless_records_kept_and_keyless_produce_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(
        dir.path(),
        LogConfig {
            cleanup_policy_compact: false,
            ..compact_config()
        },
    )
    .unwrap();
    let keyless = keyed(
        &[(None, Some("n")), kv("a", "1")],
        1000,
        None,
        Compression::None,
    );
    log.append_leader(&keyless, 0).unwrap();
    log.append_leader(&keyed(&[kv("a", "2")], 1000, None, Compression::None), 0)
        .unwrap();
    log.append_leader(&keyed(&[kv("z", "1")], 1000, None, Compression::None), 0)
        .unwrap();
    log.update_config(compact_config());
    assert!(matches!(
        log.append_leader(&keyless, 0),
        Err(LogError::InvalidRecord(_))
    ));
    log.compact(10_000).unwrap();
    let records = read_records(&log);
    assert_eq!(records.len(), 3);
    assert_eq!((records[0].0, records[0].1.as_deref()), (0, None));
    assert_eq!(records[1].0, 2);
}

#[test]
fn idempotent_producers_last_batch_is_retained() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), compact_config()).unwrap();
    let none = Compression::None;
    // Producer 7's older batch may go; its last one stays even though superseded.
    log.append_leader(&keyed(&[kv("a", "1")], 1000, Some((7, 0, 0)), none), 0)
        .unwrap();
    log.append_leader(&keyed(&[kv("b", "1")], 1000, Some((7, 0, 1)), none), 0)
        .unwrap();
    log.append_leader(&keyed(&[kv("a", "2"), kv("b", "2")], 1000, None, none), 0)
        .unwrap();
    log.append_leader(&keyed(&[kv("z", "1")], 1000, None, none), 0)
        .unwrap();
    let stats = log.compact(10_000).unwrap();
    assert_eq!(stats.records_removed, 1);
    assert_eq!(
        summary(&log),
        vec![
            entry(1, "b", Some("1")),
            entry(2, "a", Some("2")),
            entry(3, "b", Some("2")),
            entry(4, "z", Some("1"))
        ]
    );
    // Sequence state is intact across a reopen that rebuilds it from the log: the next
    // sequence is accepted, a retry of the last batch is a duplicate.
    drop(log);
    for f in fs::read_dir(dir.path()).unwrap() {
        let path = f.unwrap().path();
        if path.extension().is_some_and(|e| e == "snapshot") {
            fs::remove_file(path).unwrap();
        }
    }
    let log = Log::open(dir.path(), compact_config()).unwrap();
    let dup = log
        .append_leader(&keyed(&[kv("b", "1")], 1000, Some((7, 0, 1)), none), 0)
        .unwrap();
    assert!(dup.duplicate);
    assert_eq!(dup.base_offset, 1);
    let next = log
        .append_leader(&keyed(&[kv("c", "1")], 1000, Some((7, 0, 2)), none), 0)
        .unwrap();
    assert!(!next.duplicate);
}

#[test]
fn transaction_markers_and_aborted_data_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), compact_config()).unwrap();
    let none = Compression::None;
    log.append_leader(&keyed(&[kv("a", "1")], 1000, None, none), 0)
        .unwrap();
    let mut aborted = keyed(&[kv("a", "aborted")], 1000, Some((9, 0, 0)), none);
    // Mark the batch transactional (attribute bit 4) and fix the CRC.
    aborted[22] |= 0x10;
    let crc = crate::batch::compute_crc(&aborted);
    aborted[17..21].copy_from_slice(&crc.to_be_bytes());
    log.append_leader(&aborted, 0).unwrap();
    log.append_control(9, 0, false, 0, 1000).unwrap();
    log.append_leader(&keyed(&[kv("z", "1")], 1000, None, none), 0)
        .unwrap();
    let before = read_raw(&log);
    log.compact(10_000).unwrap();
    // The aborted value does not supersede a=1; the marker stays.
    assert_eq!(read_raw(&log), before);
    assert_eq!(log.aborted_transactions(0, 10).len(), 1);
}

#[test]
fn open_transactions_are_not_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), compact_config()).unwrap();
    let none = Compression::None;
    let mut open = keyed(&[kv("t", "1")], 1000, Some((9, 0, 0)), none);
    open[22] |= 0x10;
    let crc = crate::batch::compute_crc(&open);
    open[17..21].copy_from_slice(&crc.to_be_bytes());
    log.append_leader(&keyed(&[kv("a", "1")], 1000, None, none), 0)
        .unwrap();
    log.append_leader(&open, 0).unwrap();
    log.append_leader(&keyed(&[kv("a", "2")], 1000, None, none), 0)
        .unwrap();
    log.append_leader(&keyed(&[kv("z", "1")], 1000, None, none), 0)
        .unwrap();
    // Only the segment below the first unstable offset (1) is cleanable, and it is clean.
    assert_eq!(log.compact(10_000).unwrap().records_removed, 0);
    assert_eq!(summary(&log)[0], entry(0, "a", Some("1")));
}

#[test]
fn readers_of_the_old_segment_and_crash_leftovers_are_safe() {
    let dir = tempfile::tempdir().unwrap();
    let log = overwrite_log(dir.path(), Compression::None);
    let old = log.segments();
    let old_first = old.get(0).unwrap().clone();
    let old_bytes = match old_first.read(0, 1 << 20, 7).unwrap() {
        SegmentRead::Data(b) => b,
        other => panic!("{other:?}"),
    };
    log.compact(10_000).unwrap();
    // A reader holding the old segment still reads the old bytes.
    match old_first.read(0, 1 << 20, 7).unwrap() {
        SegmentRead::Data(b) => assert_eq!(b, old_bytes),
        other => panic!("{other:?}"),
    }
    let after = read_records(&log);
    drop(old);
    drop(old_first);
    // A crash during a later clean: a half-written `.cleaned` file and a segment whose old
    // indexes were already removed. Opening without a clean shutdown repairs both.
    let leftover = log.cleaned_path(0);
    fs::write(&leftover, b"half a batch").unwrap();
    fs::remove_file(dir.path().join(crate::segment::index_file_name(0))).unwrap();
    fs::remove_file(dir.path().join(crate::segment::time_index_file_name(0))).unwrap();
    drop(log);
    let log = Log::open(dir.path(), compact_config()).unwrap();
    assert!(!leftover.exists());
    assert_eq!(read_records(&log), after);
    assert!(dir.path().join(crate::segment::index_file_name(0)).exists());
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((2, 1002)));
}

#[test]
fn retention_only_applies_with_delete_policy() {
    let dir = tempfile::tempdir().unwrap();
    let log = overwrite_log(dir.path(), Compression::None);
    log.update_config(LogConfig {
        retention_ms: 1,
        ..compact_config()
    });
    assert_eq!(log.enforce_retention(1_000_000).unwrap(), 0);
    log.update_config(LogConfig {
        retention_ms: 1,
        cleanup_policy_delete: true,
        ..compact_config()
    });
    assert!(log.enforce_retention(1_000_000).unwrap() > 0);
}

#[test]
fn cleaner_checkpoint_tracks_tombstone_horizon() {
    let mut c = CleanerCheckpoint::default();
    assert_eq!(c.first_dirty(), 0);
    c.record(10, 100, 50);
    c.record(20, 130, 50);
    assert_eq!(c.first_dirty(), 20);
    assert_eq!(c.tombstone_horizon(140, 50), i64::MIN);
    assert_eq!(c.tombstone_horizon(150, 50), 10);
    assert_eq!(c.tombstone_horizon(180, 50), 20);
    c.record(30, 300, 50);
    assert_eq!(c.passes, vec![(20, 130), (30, 300)]);
}
