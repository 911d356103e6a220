//! Checks of the record APIs: Produce (WRITE on each topic; WRITE on the
//! transactional id for transactional batches), Fetch (READ on each topic;
//! CLUSTER_ACTION for replica fetches), ListOffsets (DESCRIBE on each topic),
//! OffsetForLeaderEpoch (CLUSTER_ACTION on the cluster, else DESCRIBE on each
//! topic), DescribeProducers (READ on each topic) and DeleteRecords (DELETE on each topic). Refused partitions are answered
//! with TOPIC_AUTHORIZATION_FAILED. Must never look inside records beyond a
//! batch's attributes.

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::describe_producers_response::{PartitionResponse, TopicResponse};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::produce_request::TopicProduceData;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    BrokerId, DeleteRecordsRequest, DeleteRecordsResponse, DescribeProducersRequest,
    DescribeProducersResponse, FetchRequest, FetchResponse, ListOffsetsRequest,
    ListOffsetsResponse, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, ProduceRequest,
    ProduceResponse,
};
use strait_metadata::AclOperation;

use super::{Check, Deny, Outcome, pass, pass_then, refuse_topics, split_by};

const TOPIC_DENIED: ResponseError = ResponseError::TopicAuthorizationFailed;

/// Whether the first batch of any partition is transactional (Kafka's
/// `RequestUtils.hasTransactionalRecords`).
fn has_transactional_records(req: &ProduceRequest) -> bool {
    // v2 batch header: attributes are the i16 at byte 21, bit 4 = transactional.
    req.topic_data
        .iter()
        .flat_map(|t| &t.partition_data)
        .filter_map(|p| p.records.as_ref())
        .any(|r| r.len() >= 23 && r[16] == 2 && (r[22] & 0x10) != 0)
}

fn produce_error(topic: &TopicProduceData, error: ResponseError) -> TopicProduceResponse {
    let mut out = TopicProduceResponse::default();
    out.name = topic.name.clone();
    out.topic_id = topic.topic_id;
    out.partition_responses = topic
        .partition_data
        .iter()
        .map(|d| {
            let mut p = PartitionProduceResponse::default();
            p.index = d.index;
            p.error_code = error.code();
            p.base_offset = -1;
            p.log_append_time_ms = -1;
            p.log_start_offset = -1;
            p
        })
        .collect();
    out
}

/// The name of a produced or fetched topic: by id from v13.
fn topic_by(check: &Check<'_>, name: &str, id: uuid::Uuid) -> Option<String> {
    if check.version >= 13 {
        check.broker.topics.get_by_id(id).map(|t| t.name.clone())
    } else {
        Some(name.to_string())
    }
}

pub(super) fn produce(
    check: &Check<'_>,
    mut req: ProduceRequest,
) -> Outcome<ProduceRequest, ProduceResponse> {
    if has_transactional_records(&req) {
        let authorized = req
            .transactional_id
            .as_ref()
            .is_some_and(|id| check.transactional_id(AclOperation::Write, id.0.as_str()));
        if !authorized {
            let mut resp = ProduceResponse::default();
            resp.responses = req
                .topic_data
                .iter()
                .map(|t| produce_error(t, ResponseError::TransactionalIdAuthorizationFailed))
                .collect();
            return Deny(resp);
        }
    }
    let (kept, refused) = split_by(
        std::mem::take(&mut req.topic_data),
        |t| topic_by(check, t.name.0.as_str(), t.topic_id),
        |n| check.topic(AclOperation::Write, n),
    );
    req.topic_data = kept;
    if refused.is_empty() {
        return pass(req);
    }
    let refused: Vec<TopicProduceResponse> = refused
        .iter()
        .map(|t| produce_error(t, TOPIC_DENIED))
        .collect();
    pass_then(req, move |resp: &mut ProduceResponse, _| {
        resp.responses.extend(refused)
    })
}

fn fetch_error(
    topic: &kafka_protocol::messages::fetch_request::FetchTopic,
) -> FetchableTopicResponse {
    let mut out = FetchableTopicResponse::default();
    out.topic = topic.topic.clone();
    out.topic_id = topic.topic_id;
    out.partitions = topic
        .partitions
        .iter()
        .map(|fp| {
            let mut pd = PartitionData::default();
            pd.partition_index = fp.partition;
            pd.error_code = TOPIC_DENIED.code();
            pd.high_watermark = -1;
            pd.last_stable_offset = -1;
            pd.log_start_offset = -1;
            pd.preferred_read_replica = BrokerId(-1);
            pd.records = Some(Bytes::new());
            pd
        })
        .collect();
    out
}

pub(super) fn fetch(
    check: &Check<'_>,
    mut req: FetchRequest,
) -> Outcome<FetchRequest, FetchResponse> {
    let from_replica = req.replica_id.0 >= 0 || req.replica_state.replica_id.0 >= 0;
    let (kept, refused) = if from_replica {
        if check.cluster(AclOperation::ClusterAction) {
            (std::mem::take(&mut req.topics), Vec::new())
        } else {
            (Vec::new(), std::mem::take(&mut req.topics))
        }
    } else {
        split_by(
            std::mem::take(&mut req.topics),
            |t| topic_by(check, t.topic.0.as_str(), t.topic_id),
            |n| check.topic(AclOperation::Read, n),
        )
    };
    let refused: Vec<FetchableTopicResponse> = refused.iter().map(fetch_error).collect();
    if kept.is_empty() && !refused.is_empty() {
        // Nothing left to wait for: answer at once, as Kafka does.
        let mut resp = FetchResponse::default();
        resp.responses = refused;
        return Deny(resp);
    }
    req.topics = kept;
    if refused.is_empty() {
        return pass(req);
    }
    pass_then(req, move |resp: &mut FetchResponse, _| {
        resp.responses.extend(refused)
    })
}

pub(super) fn list_offsets(
    check: &Check<'_>,
    req: ListOffsetsRequest,
) -> Outcome<ListOffsetsRequest, ListOffsetsResponse> {
    refuse_topics(
        check,
        req,
        |r| &mut r.topics,
        |t| t.name.0.to_string(),
        AclOperation::Describe,
        |t| {
            let mut out = ListOffsetsTopicResponse::default();
            out.name = t.name;
            out.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = ListOffsetsPartitionResponse::default();
                    r.partition_index = p.partition_index;
                    r.error_code = TOPIC_DENIED.code();
                    r.timestamp = -1;
                    r.offset = -1;
                    r.leader_epoch = -1;
                    r
                })
                .collect();
            out
        },
        |r| &mut r.topics,
    )
}

pub(super) fn offset_for_leader_epoch(
    check: &Check<'_>,
    req: OffsetForLeaderEpochRequest,
) -> Outcome<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse> {
    // Kafka lets followers (CLUSTER_ACTION) ask for any topic.
    if check.cluster(AclOperation::ClusterAction) {
        return pass(req);
    }
    refuse_topics(
        check,
        req,
        |r| &mut r.topics,
        |t| t.topic.0.to_string(),
        AclOperation::Describe,
        |t| {
            let mut out = OffsetForLeaderTopicResult::default();
            out.topic = t.topic;
            out.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = EpochEndOffset::default();
                    r.partition = p.partition;
                    r.error_code = TOPIC_DENIED.code();
                    r.leader_epoch = -1;
                    r.end_offset = -1;
                    r
                })
                .collect();
            out
        },
        |r| &mut r.topics,
    )
}

pub(super) fn describe_producers(
    check: &Check<'_>,
    req: DescribeProducersRequest,
) -> Outcome<DescribeProducersRequest, DescribeProducersResponse> {
    refuse_topics(
        check,
        req,
        |r| &mut r.topics,
        |t| t.name.0.to_string(),
        AclOperation::Read,
        |t| {
            let mut out = TopicResponse::default();
            out.name = t.name;
            out.partitions = t
                .partition_indexes
                .iter()
                .map(|i| {
                    let mut r = PartitionResponse::default();
                    r.partition_index = *i;
                    r.error_code = TOPIC_DENIED.code();
                    r
                })
                .collect();
            out
        },
        |r| &mut r.topics,
    )
}

pub(super) fn delete_records(
    check: &Check<'_>,
    req: DeleteRecordsRequest,
) -> Outcome<DeleteRecordsRequest, DeleteRecordsResponse> {
    refuse_topics(
        check,
        req,
        |r| &mut r.topics,
        |t| t.name.0.to_string(),
        AclOperation::Delete,
        |t| {
            let mut out = DeleteRecordsTopicResult::default();
            out.name = t.name;
            out.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = DeleteRecordsPartitionResult::default();
                    r.partition_index = p.partition_index;
                    r.low_watermark = -1;
                    r.error_code = TOPIC_DENIED.code();
                    r
                })
                .collect();
            out
        },
        |r| &mut r.topics,
    )
}
