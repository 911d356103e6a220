//! The error type of the storage engine.
//!
//! Owns `LogError`, the single error enum every public operation returns. It must never carry
//! behaviour: mapping these errors onto Kafka protocol error codes is the broker's job.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in a partition log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// An operating-system I/O failure.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),

    /// An I/O failure on a specific file.
    #[error("I/O error on {path}: {source}")]
    File {
        /// The file the operation was working on.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// Bytes that do not form valid record batches: bad length fields, truncated data or a CRC
    /// mismatch (Kafka `CORRUPT_MESSAGE`).
    #[error("corrupt record batch: {0}")]
    CorruptRecord(String),

    /// A batch whose magic byte is not 2 (only the v2 record batch format is stored).
    #[error("unsupported record batch magic {0} (only magic 2 is supported)")]
    UnsupportedMagic(i8),

    /// Structurally valid bytes that break a rule of the log: a non-zero base offset from a
    /// client, an inconsistent record count, a control batch from a client, a missing sequence
    /// number, an empty append (Kafka `INVALID_RECORD`).
    #[error("invalid record batch: {0}")]
    InvalidRecord(String),

    /// A batch bigger than `max_message_bytes` (Kafka `MESSAGE_TOO_LARGE`).
    #[error("record batch of {size} bytes exceeds max.message.bytes {max}")]
    RecordTooLarge {
        /// Size of the offending batch in bytes.
        size: usize,
        /// The configured maximum.
        max: usize,
    },

    /// An idempotent batch whose sequence does not follow the producer's last one.
    #[error(
        "out of order sequence for producer {producer_id}: got {sequence}, last was {last_sequence}"
    )]
    OutOfOrderSequence {
        /// The producer.
        producer_id: i64,
        /// First sequence of the rejected batch.
        sequence: i32,
        /// Last sequence the log holds for that producer (-1 if none).
        last_sequence: i32,
    },

    /// A batch or marker carrying an epoch older than the producer's current one.
    #[error("producer {producer_id} epoch {epoch} is older than the current epoch {current_epoch}")]
    InvalidProducerEpoch {
        /// The producer.
        producer_id: i64,
        /// Epoch of the rejected request.
        epoch: i16,
        /// Epoch the log holds for that producer.
        current_epoch: i16,
    },

    /// A non-transactional write from a producer that has an open transaction.
    #[error("invalid transaction state: {0}")]
    InvalidTxnState(String),

    /// A transaction marker from a coordinator epoch older than one already seen.
    #[error(
        "transaction coordinator fenced for producer {producer_id}: epoch {coordinator_epoch} < {current}"
    )]
    TransactionCoordinatorFenced {
        /// The producer.
        producer_id: i64,
        /// Coordinator epoch of the rejected marker.
        coordinator_epoch: i32,
        /// Coordinator epoch the log already holds.
        current: i32,
    },

    /// An offset outside `[log_start_offset, log_end_offset]` (or above the high watermark for
    /// `delete_records_before`).
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        /// The requested offset.
        offset: i64,
        /// Current log start offset.
        log_start_offset: i64,
        /// Current log end offset (or the bound that was exceeded).
        log_end_offset: i64,
    },

    /// A mirror append whose batches overlap what the log already holds, or whose offsets do
    /// not increase.
    #[error("offset {offset} is below the log end offset {log_end_offset} or out of order")]
    OffsetOutOfOrder {
        /// Base offset of the offending batch.
        offset: i64,
        /// Current log end offset.
        log_end_offset: i64,
    },

    /// A step of a group close ([`crate::Log::close_write_state`] and the next) called before
    /// the step it follows.
    #[error("log close steps called out of order: {0}")]
    CloseOutOfOrder(&'static str),

    /// A request to move the log backwards (`reset_empty_to` below the log end offset).
    #[error("cannot move the log to offset {offset}: log end offset is {log_end_offset}")]
    InvalidOffset {
        /// The requested offset.
        offset: i64,
        /// Current log end offset.
        log_end_offset: i64,
    },

    /// Stored bytes that fail validation when read back.
    #[error("corrupt log data in {path} at position {position}: {reason}")]
    CorruptLog {
        /// The segment file.
        path: PathBuf,
        /// Byte position of the bad batch.
        position: u64,
        /// What was wrong.
        reason: String,
    },

    /// A batch repair that was refused: the replacement is not the same
    /// batch, or the segment may not be changed in place. Nothing was
    /// written.
    #[error("batch at position {position} of {path} not repaired: {reason}")]
    RepairRefused {
        /// The segment file (or the log directory when no segment matched).
        path: PathBuf,
        /// Byte position of the batch.
        position: u64,
        /// Why.
        reason: String,
    },

    /// The log was closed; no more writes are accepted.
    #[error("the log is closed")]
    Closed,
}

impl LogError {
    pub(crate) fn file(path: impl Into<PathBuf>, source: io::Error) -> Self {
        LogError::File {
            path: path.into(),
            source,
        }
    }
}
