//! Test helpers shared by the integration tests: record batch encoding and log configs.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use strait_log::{BatchHeader, LogConfig};

/// One v2 batch of `count` records with distinct payloads derived from `seed`.
pub fn batch(seed: u64, count: usize, value_len: usize, compression: Compression) -> Vec<u8> {
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // Keeps `offset - sequence` constant so the encoder emits a single batch.
            sequence: i as i32 - 1,
            timestamp: 1_700_000_000_000 + seed as i64,
            key: Some(Bytes::from(format!("key-{seed}-{i}"))),
            value: Some(Bytes::from(
                (0..value_len)
                    .map(|j| (seed as usize + i * 31 + j) as u8)
                    .collect::<Vec<u8>>(),
            )),
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

/// Headers of all batches in `bytes`.
pub fn headers(bytes: &[u8]) -> Vec<BatchHeader> {
    strait_log::split_and_verify(bytes)
        .unwrap()
        .into_iter()
        .map(|s| s.header)
        .collect()
}

/// Decoded `(offset, key, value)` of every record in `bytes`.
pub fn records(bytes: &Bytes) -> Vec<(i64, Option<Bytes>, Option<Bytes>)> {
    let mut buf = bytes.clone();
    RecordBatchDecoder::decode_all(&mut buf)
        .unwrap()
        .into_iter()
        .flat_map(|set| set.records)
        .map(|r| (r.offset, r.key, r.value))
        .collect()
}

/// A config with small segments and dense indexes.
pub fn small_segments(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        index_interval_bytes: 1024,
        ..LogConfig::default()
    }
}

/// Reads the whole log from its start, batch by batch, as one buffer.
pub fn read_all(log: &strait_log::Log) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    while offset < end {
        let bytes = log.read(offset, 256 * 1024, i64::MAX).unwrap();
        assert!(
            !bytes.is_empty(),
            "no data at offset {offset} below LEO {end}"
        );
        offset = headers(&bytes).last().unwrap().next_offset();
        out.extend_from_slice(&bytes);
    }
    out
}
