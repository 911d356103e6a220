//! Produce: leader appends of client record batches. With acks=0 nothing is
//! answered. Appends are written to the log before the response is sent, so
//! an acknowledged record survives a kill -9 of the broker.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use super::str_bytes;
use crate::errors;
use crate::state::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    req: ProduceRequest,
    version: i16,
) -> Option<ProduceResponse> {
    let acks = req.acks;
    let transactional_id = req.transactional_id.clone();
    let mut resp = ProduceResponse::default();
    let now = Broker::now_ms();
    let mut appended = false;
    for topic in req.topic_data {
        let live = if version >= 13 {
            broker.topics.get_by_id(topic.topic_id)
        } else {
            broker.topics.get(topic.name.0.as_str())
        };
        let unknown = if version >= 13 {
            ResponseError::UnknownTopicId
        } else {
            ResponseError::UnknownTopicOrPartition
        };
        let mut out = TopicProduceResponse::default();
        out.name = topic.name.clone();
        out.topic_id = topic.topic_id;
        for data in topic.partition_data {
            let mut p = PartitionProduceResponse::default();
            p.index = data.index;
            p.base_offset = -1;
            p.log_append_time_ms = -1;
            p.log_start_offset = -1;
            let partition = live.as_ref().and_then(|t| t.partition(data.index));
            let outcome = if !matches!(acks, -1..=1) {
                Err((ResponseError::InvalidRequiredAcks, None))
            } else if let Some(partition) = partition
                .as_ref()
                .filter(|p| broker.is_read_only_mirror(&p.topic))
            {
                Err((
                    ResponseError::InvalidRequest,
                    Some(format!(
                        "Cannot append records to read-only mirror topic '{}'",
                        partition.topic
                    )),
                ))
            } else if let Some(partition) = partition {
                match data.records.as_deref() {
                    None | Some([]) => Err((
                        ResponseError::InvalidRecord,
                        Some("Produce request has no record batches".to_string()),
                    )),
                    Some(records) => match super::txn::append(
                        broker,
                        transactional_id.as_ref(),
                        &partition,
                        records,
                        now,
                        version,
                    )
                    .await
                    {
                        Err((code, message)) => Err((code, Some(message))),
                        Ok(Ok(a)) => {
                            appended = true;
                            partition.traffic.produced(records.len());
                            p.base_offset = a.base_offset;
                            p.log_append_time_ms = a.log_append_time;
                            p.log_start_offset = partition.log.log_start_offset();
                            Ok(())
                        }
                        Ok(Err(e)) => {
                            partition.storage_failed("append", &e);
                            let (code, message) = errors::log_failure(&e);
                            p.log_start_offset = partition.log.log_start_offset();
                            Err((code, Some(message)))
                        }
                    },
                }
            } else {
                Err((unknown, None))
            };
            if let Err((code, message)) = outcome {
                p.error_code = code.code();
                p.error_message = message.map(str_bytes);
            }
            out.partition_responses.push(p);
        }
        resp.responses.push(out);
    }
    if appended {
        broker.notify_appended();
    }
    (acks != 0).then_some(resp)
}
