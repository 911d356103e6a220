//! DeleteRecords: moves a partition's log start offset forward.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use crate::errors;
use crate::state::Broker;

pub async fn delete(broker: &Arc<Broker>, req: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let mut resp = DeleteRecordsResponse::default();
    for topic in req.topics {
        let mut out = DeleteRecordsTopicResult::default();
        out.name = topic.name.clone();
        for dp in topic.partitions {
            let mut r = DeleteRecordsPartitionResult::default();
            r.partition_index = dp.partition_index;
            r.low_watermark = -1;
            match broker
                .topics
                .partition(topic.name.0.as_str(), dp.partition_index)
            {
                None => r.error_code = ResponseError::UnknownTopicOrPartition.code(),
                Some(partition) if broker.is_read_only_mirror(&partition.topic) => {
                    tracing::info!(
                        "refused to delete records of read-only mirror topic '{}'",
                        partition.topic
                    );
                    r.error_code = ResponseError::InvalidRequest.code();
                }
                Some(partition) => {
                    // -1 means "up to the high watermark".
                    let target = if dp.offset == -1 {
                        partition.log.high_watermark()
                    } else {
                        dp.offset
                    };
                    let outcome = tokio::task::spawn_blocking(move || {
                        partition.log.delete_records_before(target)
                    })
                    .await;
                    match outcome {
                        Ok(Ok(low)) => r.low_watermark = low,
                        Ok(Err(e)) => r.error_code = errors::log_failure(&e).0.code(),
                        Err(_) => r.error_code = ResponseError::UnknownServerError.code(),
                    }
                }
            }
            out.partitions.push(r);
        }
        resp.topics.push(out);
    }
    resp
}
