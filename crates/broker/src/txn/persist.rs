//! The stored form of a transactional id's metadata: versioned JSON kept
//! under the id in the `MetadataStore` (`txn_state`). Owns encoding and
//! decoding only; it must never write to the store or interpret states.

use serde::{Deserialize, Serialize};
use strait_metadata::{OffsetRecord, PartitionKey};

use super::metadata::{TxnMetadata, TxnState};

const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct StoredTxn {
    format: u32,
    producer_id: i64,
    last_producer_id: i64,
    producer_epoch: i16,
    last_producer_epoch: i16,
    timeout_ms: i32,
    state: TxnState,
    partitions: Vec<PartitionKey>,
    groups: Vec<String>,
    /// (group, partition, offset): JSON maps need string keys.
    pending_offsets: Vec<(String, PartitionKey, OffsetRecord)>,
    start_ms: i64,
    last_update_ms: i64,
}

pub fn encode(meta: &TxnMetadata) -> Result<Vec<u8>, serde_json::Error> {
    let stored = StoredTxn {
        format: FORMAT_VERSION,
        producer_id: meta.producer_id,
        last_producer_id: meta.last_producer_id,
        producer_epoch: meta.producer_epoch,
        last_producer_epoch: meta.last_producer_epoch,
        timeout_ms: meta.timeout_ms,
        state: meta.state,
        partitions: meta.partitions.iter().cloned().collect(),
        groups: meta.groups.iter().cloned().collect(),
        pending_offsets: meta
            .pending_offsets
            .iter()
            .flat_map(|(g, offsets)| {
                offsets
                    .iter()
                    .map(move |(p, o)| (g.clone(), p.clone(), o.clone()))
            })
            .collect(),
        start_ms: meta.start_ms,
        last_update_ms: meta.last_update_ms,
    };
    serde_json::to_vec(&stored)
}

pub fn decode(bytes: &[u8]) -> Result<TxnMetadata, String> {
    let stored: StoredTxn = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if stored.format != FORMAT_VERSION {
        return Err(format!(
            "unknown stored transaction format {}",
            stored.format
        ));
    }
    let mut meta = TxnMetadata::new(stored.producer_id, stored.timeout_ms, stored.last_update_ms);
    meta.last_producer_id = stored.last_producer_id;
    meta.producer_epoch = stored.producer_epoch;
    meta.last_producer_epoch = stored.last_producer_epoch;
    meta.state = stored.state;
    meta.partitions = stored.partitions.into_iter().collect();
    meta.groups = stored.groups.into_iter().collect();
    for (group, partition, offset) in stored.pending_offsets {
        meta.pending_offsets
            .entry(group)
            .or_default()
            .insert(partition, offset);
    }
    meta.start_ms = stored.start_ms;
    Ok(meta)
}
