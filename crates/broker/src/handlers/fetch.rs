//! Fetch: reads whole record batches from partition logs, long-polling until
//! `min_bytes` are available or `max_wait_ms` passes. Fetch sessions are not
//! kept: every response carries session id 0, which clients treat as
//! "sessionless, send full requests" (Kafka's own fallback when its session
//! cache is full).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ProducerId};

use crate::errors;
use crate::handlers::leader_epoch::fencing;
use crate::state::Broker;
use crate::topic_table::Partition;

const READ_COMMITTED: i8 = 1;

pub async fn handle(broker: &Arc<Broker>, req: FetchRequest, version: i16) -> FetchResponse {
    if req.session_id != 0 {
        let mut resp = FetchResponse::default();
        resp.error_code = ResponseError::FetchSessionIdNotFound.code();
        return resp;
    }
    let max_wait = Duration::from_millis(req.max_wait_ms.max(0) as u64);
    let deadline = tokio::time::Instant::now() + max_wait;
    let mut appended = broker.appended.subscribe();
    let mut served = Vec::new();
    loop {
        appended.borrow_and_update();
        let (resp, bytes, has_error) = read_once(broker, &req, version, &mut served);
        let done = bytes >= req.min_bytes.max(0) as usize
            || has_error
            || tokio::time::Instant::now() >= deadline;
        if done {
            return answer(resp, &served);
        }
        if tokio::time::timeout_at(deadline, appended.changed())
            .await
            .is_err()
        {
            // Deadline passed: answer with whatever is there now.
            let resp = read_once(broker, &req, version, &mut served).0;
            return answer(resp, &served);
        }
    }
}

/// The response that is sent: counts its record bytes on their partitions.
fn answer(resp: FetchResponse, served: &[(Arc<Partition>, usize)]) -> FetchResponse {
    for (partition, bytes) in served {
        partition.traffic.fetched(*bytes);
    }
    resp
}

/// One pass over every requested partition. Returns the response, the bytes
/// of records in it, and whether any partition had an error; `served` is
/// set to the partitions that gave records, with their bytes.
fn read_once(
    broker: &Broker,
    req: &FetchRequest,
    version: i16,
    served: &mut Vec<(Arc<Partition>, usize)>,
) -> (FetchResponse, usize, bool) {
    served.clear();
    let mut resp = FetchResponse::default();
    let total_limit = if version >= 3 && req.max_bytes > 0 {
        req.max_bytes as usize
    } else {
        usize::MAX
    };
    let mut total = 0usize;
    let mut has_error = false;
    for topic in &req.topics {
        let live = if version >= 13 {
            broker.topics.get_by_id(topic.topic_id)
        } else {
            broker.topics.get(topic.topic.0.as_str())
        };
        let mut out = FetchableTopicResponse::default();
        out.topic = topic.topic.clone();
        out.topic_id = topic.topic_id;
        for fp in &topic.partitions {
            let mut pd = PartitionData::default();
            pd.partition_index = fp.partition;
            pd.high_watermark = -1;
            pd.last_stable_offset = -1;
            pd.log_start_offset = -1;
            pd.preferred_read_replica = BrokerId(-1);
            pd.records = Some(Bytes::new());
            let partition = live.as_ref().and_then(|t| t.partition(fp.partition));
            let Some(partition) = partition else {
                has_error = true;
                pd.error_code = if version >= 13 {
                    ResponseError::UnknownTopicId.code()
                } else {
                    ResponseError::UnknownTopicOrPartition.code()
                };
                out.partitions.push(pd);
                continue;
            };
            let log = &partition.log;
            if version >= 9
                && let Some(error) = fencing(fp.current_leader_epoch, log.leader_epoch())
            {
                has_error = true;
                pd.error_code = error.code();
                out.partitions.push(pd);
                continue;
            }
            let hw = log.high_watermark();
            let lso = log.last_stable_offset();
            pd.high_watermark = hw;
            pd.last_stable_offset = lso;
            pd.log_start_offset = log.log_start_offset();
            let upper = if req.isolation_level == READ_COMMITTED {
                lso
            } else {
                hw
            };
            let remaining = total_limit.saturating_sub(total);
            let partition_limit = (fp.partition_max_bytes.max(0) as usize).min(remaining);
            if partition_limit == 0 && total > 0 {
                out.partitions.push(pd);
                continue;
            }
            match log.read(fp.fetch_offset, partition_limit.max(1), upper) {
                Ok(records) => {
                    // Only the first non-empty partition may exceed the limits.
                    if total > 0 && records.len() > partition_limit {
                        out.partitions.push(pd);
                        continue;
                    }
                    if req.isolation_level == READ_COMMITTED && !records.is_empty() {
                        pd.aborted_transactions = Some(
                            log.aborted_transactions(fp.fetch_offset, upper)
                                .into_iter()
                                .map(|a| {
                                    let mut t = AbortedTransaction::default();
                                    t.producer_id = ProducerId(a.producer_id);
                                    t.first_offset = a.first_offset;
                                    t
                                })
                                .collect(),
                        );
                    }
                    total += records.len();
                    if !records.is_empty() {
                        served.push((partition, records.len()));
                    }
                    pd.records = Some(records);
                }
                Err(e) => {
                    has_error = true;
                    pd.error_code = errors::log_failure(&e).0.code();
                }
            }
            out.partitions.push(pd);
        }
        resp.responses.push(out);
    }
    (resp, total, has_error)
}
