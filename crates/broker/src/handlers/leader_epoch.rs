//! OffsetForLeaderEpoch: where a leader epoch ends, for clients validating
//! their position after a leader change (and, with issue 12, for followers
//! finding a divergent tail). Answers from the partition log's leader epoch
//! cache, which holds the epochs of the batches in the log — a mirror's are
//! the source's — following Kafka's `Partition.lastOffsetForLeaderEpoch`.
//! Also owns the fencing on a request's `current_leader_epoch` that Fetch and
//! ListOffsets share. Must never read records nor change the cache.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use crate::state::Broker;

/// Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.
const UNDEFINED_EPOCH: i32 = -1;
const UNDEFINED_OFFSET: i64 = -1;

/// Kafka's check of the epoch a client believes current against the
/// partition's leader epoch (`Partition.localLogWithEpochOrThrow`): -1 skips
/// it, an older one is fenced, a newer one is not known here yet.
pub fn fencing(current_leader_epoch: i32, partition_epoch: i32) -> Option<ResponseError> {
    if current_leader_epoch == UNDEFINED_EPOCH {
        None
    } else if current_leader_epoch < partition_epoch {
        Some(ResponseError::FencedLeaderEpoch)
    } else if current_leader_epoch > partition_epoch {
        Some(ResponseError::UnknownLeaderEpoch)
    } else {
        None
    }
}

/// The answer for one partition: (error if any, leader epoch, end offset).
/// `end_offset_for` is the log's `end_offset_for_epoch`: `None` when the
/// cache has no answer, which Kafka reports as undefined without an error.
pub fn answer(
    current_leader_epoch: i32,
    partition_epoch: i32,
    end_offset_for: Option<(i32, i64)>,
) -> (Option<ResponseError>, i32, i64) {
    if let Some(error) = fencing(current_leader_epoch, partition_epoch) {
        return (Some(error), UNDEFINED_EPOCH, UNDEFINED_OFFSET);
    }
    match end_offset_for {
        Some((epoch, offset)) => (None, epoch, offset),
        None => (None, UNDEFINED_EPOCH, UNDEFINED_OFFSET),
    }
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
                Some(partition) => {
                    let log = &partition.log;
                    answer(
                        p.current_leader_epoch,
                        log.leader_epoch(),
                        log.end_offset_for_epoch(p.leader_epoch),
                    )
                }
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
    fn fencing_on_current_leader_epoch() {
        assert_eq!(fencing(-1, 4), None);
        assert_eq!(fencing(4, 4), None);
        assert_eq!(fencing(3, 4), Some(ResponseError::FencedLeaderEpoch));
        assert_eq!(fencing(5, 4), Some(ResponseError::UnknownLeaderEpoch));
    }

    #[test]
    fn answers_follow_the_cache_unless_fenced() {
        assert_eq!(answer(-1, 7, Some((3, 10))), (None, 3, 10));
        assert_eq!(answer(7, 7, Some((7, 42))), (None, 7, 42));
        assert_eq!(answer(-1, 7, None), (None, -1, -1));
        assert_eq!(
            answer(8, 7, Some((7, 42))),
            (Some(ResponseError::UnknownLeaderEpoch), -1, -1)
        );
        assert_eq!(
            answer(6, 7, Some((7, 42))),
            (Some(ResponseError::FencedLeaderEpoch), -1, -1)
        );
    }
}
