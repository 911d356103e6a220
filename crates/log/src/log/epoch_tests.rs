//! Unit tests of the leader epoch cache as the log keeps it: every append path feeds it, the
//! log start and open trim it, and a missing or corrupt checkpoint is rebuilt from batches.

use super::*;
use crate::batch::tests::encode_batch;
use crate::epoch_cache::LEADER_EPOCH_CHECKPOINT;
use kafka_protocol::records::Compression;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1 << 20,
        index_interval_bytes: 256,
        ..LogConfig::default()
    }
}

/// A source batch of `count` records at `base` stamped with leader epoch `epoch`.
fn source_batch(base: i64, count: usize, epoch: i32) -> Vec<u8> {
    let mut b = encode_batch(count, 1000, None, false, Compression::None);
    batch::set_base_offset(&mut b, base);
    batch::set_partition_leader_epoch(&mut b, epoch);
    b
}

fn pairs(log: &Log) -> Vec<(i32, i64)> {
    log.epoch_entries()
        .iter()
        .map(|e| (e.epoch, e.start_offset))
        .collect()
}

fn checkpoint_text(dir: &Path) -> String {
    fs::read_to_string(dir.join(LEADER_EPOCH_CHECKPOINT)).unwrap()
}

#[test]
fn mirror_keeps_the_source_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), config()).unwrap();
    let mut batches = source_batch(0, 5, 3);
    batches.extend_from_slice(&source_batch(5, 5, 3));
    batches.extend_from_slice(&source_batch(10, 4, 7));
    log.append_mirror(&batches).unwrap();
    assert_eq!(pairs(&log), [(3, 0), (7, 10)]);
    // A client that saw epoch 3 learns it ended where epoch 7 starts.
    assert_eq!(log.end_offset_for_epoch(3), Some((3, 10)));
    assert_eq!(log.end_offset_for_epoch(7), Some((7, 14)));
    assert_eq!(log.end_offset_for_epoch(5), Some((3, 10)));
    assert_eq!(log.end_offset_for_epoch(1), Some((1, 0)));
    assert_eq!(log.end_offset_for_epoch(8), None);
    assert_eq!(checkpoint_text(dir.path()), "0\n2\n3 0\n7 10\n");
    log.close().unwrap();
    let log = Log::open(dir.path(), config()).unwrap();
    assert_eq!(pairs(&log), [(3, 0), (7, 10)]);
}

#[test]
fn leader_and_control_appends_stamp_the_leader_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), config()).unwrap();
    // Unset (-1): producers' -1 stays and nothing is cached.
    log.append_leader(&encode_batch(2, 10, None, false, Compression::None), 1)
        .unwrap();
    assert!(pairs(&log).is_empty());
    log.set_leader_epoch(2);
    log.append_leader(&encode_batch(2, 10, None, false, Compression::None), 1)
        .unwrap();
    log.set_leader_epoch(4);
    let txn = encode_batch(1, 10, Some((9, 0, 0)), true, Compression::None);
    log.append_leader(&txn, 1).unwrap();
    log.append_control(9, 0, true, 0, 1).unwrap();
    assert_eq!(pairs(&log), [(2, 2), (4, 4)]);
    assert_eq!(log.latest_epoch(), Some(4));
    let read = log.read(2, 1 << 20, i64::MAX).unwrap();
    let epochs: Vec<i32> = split_and_verify(&read)
        .unwrap()
        .iter()
        .map(|s| s.header.partition_leader_epoch)
        .collect();
    assert_eq!(epochs, [2, 4, 4]);
}

#[test]
fn missing_or_corrupt_checkpoint_is_rebuilt_from_batches() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), config()).unwrap();
    let mut batches = source_batch(0, 3, 1);
    batches.extend_from_slice(&source_batch(3, 3, 4));
    log.append_mirror(&batches).unwrap();
    log.close().unwrap();
    let data_before = fs::read(dir.path().join(crate::segment::log_file_name(0))).unwrap();

    fs::remove_file(dir.path().join(LEADER_EPOCH_CHECKPOINT)).unwrap();
    let log = Log::open(dir.path(), config()).unwrap();
    assert_eq!(pairs(&log), [(1, 0), (4, 3)]);
    assert_eq!(checkpoint_text(dir.path()), "0\n2\n1 0\n4 3\n");
    log.close().unwrap();

    fs::write(dir.path().join(LEADER_EPOCH_CHECKPOINT), "garbage\n").unwrap();
    let log = Log::open(dir.path(), config()).unwrap();
    assert_eq!(pairs(&log), [(1, 0), (4, 3)]);
    assert_eq!(log.log_end_offset(), 6);
    log.close().unwrap();
    let data_after = fs::read(dir.path().join(crate::segment::log_file_name(0))).unwrap();
    assert_eq!(data_before, data_after, "rebuilding never touches the data");
}

#[test]
fn entry_whose_batch_never_landed_is_dropped_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), config()).unwrap();
    log.append_mirror(&source_batch(0, 3, 1)).unwrap();
    log.flush().unwrap();
    drop(log);
    // A crash after the entry for the next batch was written but before its bytes landed.
    fs::write(dir.path().join(LEADER_EPOCH_CHECKPOINT), "0\n2\n1 0\n2 3\n").unwrap();
    let log = Log::open(dir.path(), config()).unwrap();
    assert_eq!(log.log_end_offset(), 3);
    assert_eq!(pairs(&log), [(1, 0)]);
    assert_eq!(checkpoint_text(dir.path()), "0\n1\n1 0\n");
}

#[test]
fn log_start_moves_truncate_the_cache_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), config()).unwrap();
    let mut batches = source_batch(0, 3, 1);
    batches.extend_from_slice(&source_batch(3, 3, 2));
    batches.extend_from_slice(&source_batch(6, 3, 5));
    log.append_mirror(&batches).unwrap();
    log.delete_records_before(4).unwrap();
    assert_eq!(pairs(&log), [(2, 4), (5, 6)]);
    assert_eq!(log.end_offset_for_epoch(1), Some((1, 4)));
    log.reset_empty_to(20).unwrap();
    assert!(pairs(&log).is_empty());
    assert_eq!(checkpoint_text(dir.path()), "0\n0\n");
}

#[test]
fn the_epoch_in_effect_never_goes_below_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), config()).unwrap();
    assert_eq!(log.leader_epoch(), -1);
    log.set_leader_epoch(0);
    assert_eq!(log.leader_epoch(), 0);
    let mut batches = source_batch(0, 2, 3);
    batches.extend_from_slice(&source_batch(2, 2, 7));
    log.append_mirror(&batches).unwrap();
    assert_eq!(log.leader_epoch(), 7);
    assert_eq!(log.epoch_for_offset(1), Some(3));
    assert_eq!(log.epoch_for_offset(2), Some(7));
    // A promoted mirror's own appends continue in the source's latest epoch.
    log.append_leader(&encode_batch(1, 10, None, false, Compression::None), 1)
        .unwrap();
    assert_eq!(pairs(&log), [(3, 0), (7, 2)]);
    let read = log.read(4, 1 << 20, i64::MAX).unwrap();
    assert_eq!(
        split_and_verify(&read).unwrap()[0]
            .header
            .partition_leader_epoch,
        7
    );
}
