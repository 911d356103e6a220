//! Per-partition log configuration (the subset of Kafka topic configs the storage engine reads).
//!
//! Owns `LogConfig` and `TimestampType` with Kafka's defaults. It must never do I/O or parse
//! Kafka's string config form — the broker translates topic configs into this struct.

/// Which timestamp a partition stores (`message.timestamp.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampType {
    /// Keep the producer's timestamps.
    #[default]
    CreateTime,
    /// Overwrite batch timestamps with the broker's clock at append.
    LogAppendTime,
}

/// Storage settings of one partition log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// Roll the active segment when it would grow past this many bytes (`segment.bytes`).
    pub segment_bytes: u64,
    /// Roll the active segment when its first append is older than this (`segment.ms`).
    pub segment_ms: i64,
    /// Delete segments whose largest timestamp is older than this; -1 = unlimited
    /// (`retention.ms`).
    pub retention_ms: i64,
    /// Delete oldest segments while the log is bigger than this; -1 = unlimited
    /// (`retention.bytes`).
    pub retention_bytes: i64,
    /// fsync after this many appended offsets (`flush.messages`).
    pub flush_interval_messages: u64,
    /// fsync when the last flush is older than this (`flush.ms`).
    pub flush_interval_ms: i64,
    /// Bytes between two offset/time index entries (`index.interval.bytes`).
    pub index_interval_bytes: u32,
    /// Largest accepted record batch (`max.message.bytes`).
    pub max_message_bytes: usize,
    /// Which timestamp batches carry (`message.timestamp.type`).
    pub timestamp_type: TimestampType,
    /// Forget idle producers (without an open transaction) after this long
    /// (`producer.id.expiration.ms`).
    pub producer_id_expiration_ms: i64,
    /// `cleanup.policy` includes `compact`: [`crate::Log::compact`] keeps the latest record
    /// per key.
    pub cleanup_policy_compact: bool,
    /// `cleanup.policy` includes `delete`: retention by time and size applies.
    pub cleanup_policy_delete: bool,
    /// How long tombstones stay readable after the segment holding them was compacted
    /// (`delete.retention.ms`).
    pub delete_retention_ms: i64,
    /// Records younger than this are never compacted (`min.compaction.lag.ms`).
    pub min_compaction_lag_ms: i64,
    /// Compact only once the dirty share of the cleanable bytes reaches this
    /// (`min.cleanable.dirty.ratio`).
    pub min_cleanable_dirty_ratio: f64,
}

/// Kafka's default `segment.ms` / `retention.ms`: 7 days.
pub const SEVEN_DAYS_MS: i64 = 7 * 24 * 60 * 60 * 1000;

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: SEVEN_DAYS_MS,
            retention_ms: SEVEN_DAYS_MS,
            retention_bytes: -1,
            flush_interval_messages: u64::MAX,
            flush_interval_ms: i64::MAX,
            index_interval_bytes: 4096,
            max_message_bytes: 1_048_588,
            timestamp_type: TimestampType::CreateTime,
            producer_id_expiration_ms: 86_400_000,
            cleanup_policy_compact: false,
            cleanup_policy_delete: true,
            delete_retention_ms: 86_400_000,
            min_compaction_lag_ms: 0,
            min_cleanable_dirty_ratio: 0.5,
        }
    }
}

impl LogConfig {
    /// The segment size limit actually applied: file positions in the offset index are 32-bit
    /// and Kafka caps `segment.bytes` at `i32::MAX`.
    pub(crate) fn effective_segment_bytes(&self) -> u64 {
        self.segment_bytes.clamp(1, i32::MAX as u64)
    }
}
