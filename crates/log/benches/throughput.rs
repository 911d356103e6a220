//! Leader-append and read throughput of 1 KiB records.
//!
//! Run with `cargo bench -p strait-log` (or `--bench throughput -- <MiB>`, default 128 MiB per
//! case). Prints MiB/s and records/s for appends of 1 and 16 records per batch and for
//! sequential 1 MiB fetches.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code states expectations by panicking

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use strait_log::{Log, LogConfig};

const RECORD_BYTES: usize = 1024;

fn encode(records_per_batch: usize) -> Vec<u8> {
    let records: Vec<Record> = (0..records_per_batch)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from(vec![b'x'; RECORD_BYTES])),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    if let Err(e) = RecordBatchEncoder::encode(&mut buf, &records, &options) {
        eprintln!("encoding failed: {e}");
        std::process::exit(1);
    }
    buf.to_vec()
}

fn mib_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / secs
}

fn run(total_mib: u64, records_per_batch: usize) -> Result<(), strait_log::LogError> {
    let dir = tempfile::tempdir()?;
    let log = Log::open(
        dir.path(),
        LogConfig {
            segment_bytes: 64 << 20,
            ..LogConfig::default()
        },
    )?;
    let batch = encode(records_per_batch);
    let batches = (total_mib << 20) / batch.len() as u64;

    let start = Instant::now();
    for _ in 0..batches {
        log.append_leader(&batch, 0)?;
    }
    let secs = start.elapsed().as_secs_f64();
    let bytes = batches * batch.len() as u64;
    println!(
        "append  {records_per_batch:>2} x 1 KiB/batch: {:>8.1} MiB/s {:>10.0} records/s ({} segments)",
        mib_per_s(bytes, secs),
        (batches as usize * records_per_batch) as f64 / secs,
        log.segment_count()
    );

    let start = Instant::now();
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    let mut read = 0u64;
    while offset < end {
        let chunk = log.read(offset, 1 << 20, end)?;
        let Some(last) = strait_log::split_and_verify(&chunk)?
            .last()
            .map(|s| s.header)
        else {
            break;
        };
        read += chunk.len() as u64;
        offset = last.next_offset();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "read    {records_per_batch:>2} x 1 KiB/batch: {:>8.1} MiB/s (1 MiB fetches, CRC-checked by the reader)",
        mib_per_s(read, secs)
    );
    Ok(())
}

fn main() {
    let total_mib = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<u64>().ok())
        .unwrap_or(128);
    for records_per_batch in [1, 16] {
        if let Err(e) = run(total_mib, records_per_batch) {
            eprintln!("benchmark failed: {e}");
            std::process::exit(1);
        }
    }
}
