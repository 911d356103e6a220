//! DescribeProducers: the idempotent and transactional producers each
//! partition's log holds state for. Reads producer state; must never change it.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};

use crate::state::Broker;

pub fn describe(broker: &Broker, req: DescribeProducersRequest) -> DescribeProducersResponse {
    let mut resp = DescribeProducersResponse::default();
    for topic in req.topics {
        let live = broker.topics.get(topic.name.0.as_str());
        let mut out = TopicResponse::default();
        out.name = topic.name.clone();
        for index in topic.partition_indexes {
            let mut p = PartitionResponse::default();
            p.partition_index = index;
            let partition = live.as_ref().and_then(|t| t.partition(index));
            match partition {
                Some(partition) => {
                    p.active_producers = partition
                        .log
                        .active_producers()
                        .into_iter()
                        .map(|a| {
                            let mut s = ProducerState::default();
                            s.producer_id = ProducerId(a.producer_id);
                            s.producer_epoch = i32::from(a.epoch);
                            s.last_sequence = a.last_sequence;
                            s.last_timestamp = a.last_timestamp;
                            s.coordinator_epoch = a.coordinator_epoch;
                            s.current_txn_start_offset = a.current_txn_start_offset;
                            s
                        })
                        .collect();
                }
                None => p.error_code = ResponseError::UnknownTopicOrPartition.code(),
            }
            out.partitions.push(p);
        }
        resp.topics.push(out);
    }
    resp
}
