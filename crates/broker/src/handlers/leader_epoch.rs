//! OffsetForLeaderEpoch: where a leader epoch ends, for clients validating
//! their position after a leader change. Strait is one node and every
//! partition has been led in epoch 0 only, from its log start offset on; the
//! answers are those of Kafka's leader epoch cache holding that one entry.
//! Must never read records: the epoch history is not taken from batches.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use crate::state::Broker;

/// The epoch every Strait partition is led in (Metadata reports it too).
pub const CURRENT_EPOCH: i32 = 0;
/// Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.
const UNDEFINED_EPOCH: i32 = -1;
const UNDEFINED_OFFSET: i64 = -1;

/// The answer for one partition: (error if any, leader epoch, end offset), following
/// Kafka's `Partition.lastOffsetForLeaderEpoch` and `LeaderEpochFileCache.endOffsetFor`
/// for a cache whose only entry is epoch [`CURRENT_EPOCH`] starting at `log_start`.
pub fn end_offset_for(
    current_leader_epoch: i32,
    requested: i32,
    log_start: i64,
    log_end: i64,
) -> (Option<ResponseError>, i32, i64) {
    // Fencing on the epoch the client believes current; -1 skips the check.
    if current_leader_epoch != UNDEFINED_EPOCH {
        if current_leader_epoch > CURRENT_EPOCH {
            return (
                Some(ResponseError::UnknownLeaderEpoch),
                UNDEFINED_EPOCH,
                UNDEFINED_OFFSET,
            );
        }
        if current_leader_epoch < CURRENT_EPOCH {
            return (
                Some(ResponseError::FencedLeaderEpoch),
                UNDEFINED_EPOCH,
                UNDEFINED_OFFSET,
            );
        }
    }
    if requested == UNDEFINED_EPOCH || requested > CURRENT_EPOCH {
        // Unknown to the cache: no error, undefined epoch and offset.
        return (None, UNDEFINED_EPOCH, UNDEFINED_OFFSET);
    }
    if requested == CURRENT_EPOCH {
        return (None, CURRENT_EPOCH, log_end);
    }
    // Older than the first cached epoch: it ends where the first entry starts.
    (None, requested, log_start)
}

pub fn handle(broker: &Broker, req: OffsetForLeaderEpochRequest) -> OffsetForLeaderEpochResponse {
    let mut resp = OffsetForLeaderEpochResponse::default();
    for topic in req.topics {
        let live = broker.topics.get(topic.topic.0.as_str());
        let mut out = OffsetForLeaderTopicResult::default();
        out.topic = topic.topic.clone();
        for p in topic.partitions {
            let mut r = EpochEndOffset::default();
            r.partition = p.partition;
            let partition = live.as_ref().and_then(|t| t.partition(p.partition));
            let (error, epoch, offset) = match partition {
                Some(partition) => end_offset_for(
                    p.current_leader_epoch,
                    p.leader_epoch,
                    partition.log.log_start_offset(),
                    partition.log.log_end_offset(),
                ),
                None => (
                    Some(ResponseError::UnknownTopicOrPartition),
                    UNDEFINED_EPOCH,
                    UNDEFINED_OFFSET,
                ),
            };
            r.error_code = error.map_or(0, |e| e.code());
            r.leader_epoch = epoch;
            r.end_offset = offset;
            out.partitions.push(r);
        }
        resp.topics.push(out);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_epoch_ends_at_log_end() {
        assert_eq!(end_offset_for(-1, 0, 3, 42), (None, 0, 42));
        assert_eq!(end_offset_for(0, 0, 3, 42), (None, 0, 42));
    }

    #[test]
    fn unknown_epochs_are_undefined() {
        assert_eq!(end_offset_for(-1, 5, 0, 42), (None, -1, -1));
        assert_eq!(end_offset_for(-1, -1, 0, 42), (None, -1, -1));
    }

    #[test]
    fn older_epoch_ends_where_the_first_starts() {
        assert_eq!(end_offset_for(-1, -3, 7, 42), (None, -3, 7));
    }

    #[test]
    fn fencing_on_current_leader_epoch() {
        assert_eq!(
            end_offset_for(1, 0, 0, 42),
            (Some(ResponseError::UnknownLeaderEpoch), -1, -1)
        );
        assert_eq!(
            end_offset_for(-2, 0, 0, 42),
            (Some(ResponseError::FencedLeaderEpoch), -1, -1)
        );
    }
}
