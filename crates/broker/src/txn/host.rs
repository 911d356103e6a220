//! The broker as the transaction coordinator's host: producer ids come from
//! the broker's allocator, markers are appended to the live partition logs
//! with `Log::append_control`. Owns only that glue; it must never decide a
//! transaction's outcome nor write to a read-only mirror topic.

use strait_log::LogError;
use strait_metadata::PartitionKey;

use super::{COORDINATOR_EPOCH, TxnHost};
use crate::state::Broker;

impl TxnHost for Broker {
    fn allocate_producer_id(&self) -> Result<i64, String> {
        self.producer_ids
            .next(self.store.as_ref())
            .map_err(|e| e.to_string())
    }

    fn write_marker(
        &self,
        partition: &PartitionKey,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> Result<(), String> {
        let Some(live) = self.topics.partition(&partition.topic, partition.partition) else {
            tracing::info!(
                "no transaction marker for {}-{}: the partition no longer exists",
                partition.topic,
                partition.partition
            );
            return Ok(());
        };
        if self.is_read_only_mirror(&live.topic) {
            tracing::warn!(
                "no transaction marker for {}-{}: it is a read-only mirror",
                partition.topic,
                partition.partition
            );
            return Ok(());
        }
        match live.log.append_control(
            producer_id,
            producer_epoch,
            commit,
            COORDINATOR_EPOCH,
            Broker::now_ms(),
        ) {
            Ok(_) => {
                self.notify_appended();
                Ok(())
            }
            Err(
                e @ (LogError::InvalidProducerEpoch { .. }
                | LogError::TransactionCoordinatorFenced { .. }),
            ) => {
                // A newer producer epoch already wrote there: this marker is
                // obsolete, as Kafka treats a fenced marker.
                tracing::warn!(
                    "transaction marker for {}-{} is obsolete: {e}",
                    partition.topic,
                    partition.partition
                );
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}
