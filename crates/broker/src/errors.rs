//! The one place where Strait's library errors become Kafka error codes and
//! messages, as a Java client would receive them. Must never be bypassed by a
//! handler inventing its own mapping for these errors.

use kafka_protocol::error::ResponseError;
use strait_log::LogError;
use strait_metadata::MetadataError;

/// Kafka error code and message for a storage error.
pub fn log_failure(e: &LogError) -> (ResponseError, String) {
    let code = match e {
        LogError::RecordTooLarge { .. } => ResponseError::MessageTooLarge,
        LogError::CorruptRecord(_) => ResponseError::CorruptMessage,
        LogError::UnsupportedMagic(_) => ResponseError::UnsupportedForMessageFormat,
        LogError::InvalidRecord(_) => ResponseError::InvalidRecord,
        LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
        LogError::OffsetOutOfOrder { .. } | LogError::InvalidOffset { .. } => {
            ResponseError::InvalidRecord
        }
        LogError::OutOfOrderSequence { .. } => ResponseError::OutOfOrderSequenceNumber,
        LogError::InvalidProducerEpoch { .. } => ResponseError::InvalidProducerEpoch,
        LogError::InvalidTxnState(_) => ResponseError::InvalidTxnState,
        LogError::TransactionCoordinatorFenced { .. } => {
            ResponseError::TransactionCoordinatorFenced
        }
        LogError::Io(_) | LogError::File { .. } | LogError::CorruptLog { .. } => {
            ResponseError::KafkaStorageError
        }
        LogError::Closed => ResponseError::NotLeaderOrFollower,
        LogError::RepairRefused { .. } => ResponseError::CorruptMessage,
        LogError::CloseOutOfOrder(_) => ResponseError::UnknownServerError,
    };
    (code, e.to_string())
}

/// Kafka error code and message for a metadata error.
pub fn metadata_failure(e: &MetadataError) -> (ResponseError, String) {
    let code = match e {
        MetadataError::TopicExists(_) => ResponseError::TopicAlreadyExists,
        MetadataError::UnknownTopic(_) => ResponseError::UnknownTopicOrPartition,
        MetadataError::LinkExists(_) | MetadataError::UnknownLink(_) => {
            ResponseError::InvalidRequest
        }
        MetadataError::Storage(_) | MetadataError::Corrupt(_) => ResponseError::KafkaStorageError,
        // etcd is down or unreachable: retriable, as a timed-out request is.
        MetadataError::Unavailable(_) => ResponseError::RequestTimedOut,
    };
    (code, e.to_string())
}
