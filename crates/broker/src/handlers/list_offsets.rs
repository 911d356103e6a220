//! ListOffsets: earliest, latest, max timestamp, and offset by timestamp.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use crate::errors;
use crate::handlers::leader_epoch::fencing;
use crate::state::Broker;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;
const EARLIEST_PENDING_UPLOAD: i64 = -6;
const READ_COMMITTED: i8 = 1;

pub fn handle(broker: &Broker, req: ListOffsetsRequest, version: i16) -> ListOffsetsResponse {
    let mut resp = ListOffsetsResponse::default();
    for topic in req.topics {
        let live = broker.topics.get(topic.name.0.as_str());
        let mut out = ListOffsetsTopicResponse::default();
        out.name = topic.name.clone();
        for lp in topic.partitions {
            let mut p = ListOffsetsPartitionResponse::default();
            p.partition_index = lp.partition_index;
            p.timestamp = -1;
            p.offset = -1;
            p.leader_epoch = -1;
            let partition = live.as_ref().and_then(|t| t.partition(lp.partition_index));
            let Some(partition) = partition else {
                p.error_code = ResponseError::UnknownTopicOrPartition.code();
                out.partitions.push(p);
                continue;
            };
            let log = &partition.log;
            if version >= 4
                && let Some(error) = fencing(lp.current_leader_epoch, log.leader_epoch())
            {
                p.error_code = error.code();
                out.partitions.push(p);
                continue;
            }
            let latest = if req.isolation_level == READ_COMMITTED {
                log.last_stable_offset()
            } else {
                log.high_watermark()
            };
            let found = match lp.timestamp {
                LATEST => Ok(Some((-1, latest))),
                EARLIEST | EARLIEST_LOCAL => Ok(Some((-1, log.log_start_offset()))),
                LATEST_TIERED | EARLIEST_PENDING_UPLOAD => Ok(Some((-1, -1))),
                MAX_TIMESTAMP => log
                    .max_timestamp()
                    .map(|m| m.map(|(offset, ts)| (ts, offset))),
                ts if ts >= 0 => log
                    .offset_for_timestamp(ts)
                    .map(|m| m.map(|(offset, ts)| (ts, offset))),
                _ => {
                    p.error_code = ResponseError::InvalidRequest.code();
                    out.partitions.push(p);
                    continue;
                }
            };
            match found {
                Ok(Some((ts, offset))) => {
                    p.timestamp = ts;
                    p.offset = offset;
                    if version >= 4 && offset >= 0 {
                        // As Kafka: the latest offset carries the partition's epoch, any
                        // other the epoch of the cache entry covering it.
                        p.leader_epoch = if lp.timestamp == LATEST {
                            log.leader_epoch()
                        } else {
                            log.epoch_for_offset(offset).unwrap_or(-1)
                        };
                    }
                }
                Ok(None) => {}
                Err(e) => p.error_code = errors::log_failure(&e).0.code(),
            }
            out.partitions.push(p);
        }
        resp.topics.push(out);
    }
    resp
}
