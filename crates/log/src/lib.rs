//! strait-log: the storage engine of a Strait partition.
//!
//! A partition log is one directory of segments holding Kafka v2 record batches exactly as
//! they travel on the wire, with sparse offset and time indexes, producer (idempotence and
//! transaction) state, and crash recovery. This crate owns everything on disk under a
//! partition directory; it must never speak the network protocol or know about topics,
//! replication or the cluster — the broker maps requests onto [`Log`] calls.
//!
//! Files in a partition directory:
//! - `{base:020}.log` — concatenated record batches; `{base:020}.index` (relative offset u32,
//!   position u32) and `{base:020}.timeindex` (timestamp i64, relative offset u32), big-endian.
//! - `{offset:020}.snapshot` — producer state as of an offset (written on roll and close).
//! - `log.checkpoint` — log start offset and recovery point; `clean-shutdown` — marker.
//! - `cleaner.checkpoint` — compaction progress; `{base:020}.log.cleaned` — a segment being
//!   rewritten by compaction (removed on open).
//! - `leader-epoch-checkpoint` — the leader epoch cache in Kafka's format (`0`, the entry
//!   count, `epoch start_offset` lines); rebuilt from batch headers when missing.
//! - `truncation-in-progress` — the target of a `Log::truncate_to` under way; open finishes
//!   the truncation and removes it.

mod aborted_txns;
mod batch;
mod checkpoint;
mod compact;
mod config;
mod epoch_cache;
mod error;
mod index;
mod lazy_file;
mod log;
mod producer_state;
mod recovery;
mod scrub;
mod segment;
mod segments;
mod snapshot;

pub use aborted_txns::AbortedTxn;
pub use batch::{
    BatchHeader, HEADER_SIZE, PlainRecord, compute_crc, crc_matches, encode_plain_batch,
    split_and_verify,
};
pub use checkpoint::{sync_dir, sync_filesystem, write_atomically};
pub use compact::CompactionStats;
pub use config::{LogConfig, SEVEN_DAYS_MS, TimestampType};
pub use epoch_cache::{EpochEntry, LEADER_EPOCH_CHECKPOINT};
pub use error::LogError;
pub use log::{LeaderAppend, Log, MirrorAppend};
pub use producer_state::ActiveProducer;
pub use scrub::{ScrubFault, ScrubFinding, SegmentScrub, StoredBatch};
