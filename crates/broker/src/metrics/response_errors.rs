//! Which error a response carries, for `strait_request_errors_total`: the
//! top-level error code when it is not zero, otherwise the first non-zero
//! per-item code (topic, partition, group, resource, ...) in response order,
//! otherwise none. A request therefore counts at most once as an error, so
//! errors divided by requests stays a ratio. A response of an API the broker
//! does not serve counts as UNSUPPORTED_VERSION. This module only reads
//! responses; it must never change one.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{ApiKey, ResponseKind};

/// The first non-zero code, or 0.
fn first(codes: impl IntoIterator<Item = i16>) -> i16 {
    codes.into_iter().find(|c| *c != 0).unwrap_or(0)
}

/// `top` when it is an error, else the first per-item error.
fn top_then(top: i16, items: impl IntoIterator<Item = i16>) -> i16 {
    if top != 0 { top } else { first(items) }
}

/// The error code counted for `response` to a request of `api` (0: none).
pub fn error_code(api: ApiKey, response: &ResponseKind) -> i16 {
    use ResponseKind as R;
    match response {
        R::ApiVersions(r) => r.error_code,
        R::Metadata(r) => first(r.topics.iter().flat_map(|t| {
            std::iter::once(t.error_code).chain(t.partitions.iter().map(|p| p.error_code))
        })),
        R::Produce(r) => first(
            r.responses
                .iter()
                .flat_map(|t| t.partition_responses.iter().map(|p| p.error_code)),
        ),
        R::Fetch(r) => top_then(
            r.error_code,
            r.responses
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::ListOffsets(r) => first(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::OffsetForLeaderEpoch(r) => first(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::DescribeProducers(r) => first(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::DescribeTopicPartitions(r) => first(r.topics.iter().flat_map(|t| {
            std::iter::once(t.error_code).chain(t.partitions.iter().map(|p| p.error_code))
        })),
        R::CreateTopics(r) => first(r.topics.iter().map(|t| t.error_code)),
        R::DeleteTopics(r) => first(r.responses.iter().map(|t| t.error_code)),
        R::CreatePartitions(r) => first(r.results.iter().map(|t| t.error_code)),
        R::DeleteRecords(r) => first(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::InitProducerId(r) => r.error_code,
        R::AddPartitionsToTxn(r) => top_then(
            r.error_code,
            r.results_by_transaction
                .iter()
                .flat_map(|x| x.topic_results.iter())
                .flat_map(|t| {
                    t.results_by_partition
                        .iter()
                        .map(|p| p.partition_error_code)
                })
                .chain(r.results_by_topic_v3_and_below.iter().flat_map(|t| {
                    t.results_by_partition
                        .iter()
                        .map(|p| p.partition_error_code)
                })),
        ),
        R::AddOffsetsToTxn(r) => r.error_code,
        R::EndTxn(r) => r.error_code,
        R::TxnOffsetCommit(r) => first(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::DescribeConfigs(r) => first(r.results.iter().map(|x| x.error_code)),
        R::AlterConfigs(r) => first(r.responses.iter().map(|x| x.error_code)),
        R::IncrementalAlterConfigs(r) => first(r.responses.iter().map(|x| x.error_code)),
        R::DescribeCluster(r) => r.error_code,
        R::DescribeLogDirs(r) => top_then(r.error_code, r.results.iter().map(|x| x.error_code)),
        R::FindCoordinator(r) => {
            top_then(r.error_code, r.coordinators.iter().map(|c| c.error_code))
        }
        R::JoinGroup(r) => r.error_code,
        R::SyncGroup(r) => r.error_code,
        R::Heartbeat(r) => r.error_code,
        R::LeaveGroup(r) => top_then(r.error_code, r.members.iter().map(|m| m.error_code)),
        R::OffsetCommit(r) => first(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::OffsetFetch(r) => top_then(
            r.error_code,
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
                .chain(r.groups.iter().flat_map(|g| {
                    std::iter::once(g.error_code).chain(
                        g.topics
                            .iter()
                            .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
                    )
                })),
        ),
        R::ListGroups(r) => r.error_code,
        R::DescribeGroups(r) => first(r.groups.iter().map(|g| g.error_code)),
        R::ConsumerGroupHeartbeat(r) => r.error_code,
        R::ConsumerGroupDescribe(r) => first(r.groups.iter().map(|g| g.error_code)),
        R::DeleteGroups(r) => first(r.results.iter().map(|g| g.error_code)),
        R::OffsetDelete(r) => top_then(
            r.error_code,
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::AlterUserScramCredentials(r) => first(r.results.iter().map(|x| x.error_code)),
        R::DescribeUserScramCredentials(r) => {
            top_then(r.error_code, r.results.iter().map(|x| x.error_code))
        }
        R::CreateAcls(r) => first(r.results.iter().map(|x| x.error_code)),
        R::DescribeAcls(r) => r.error_code,
        R::DeleteAcls(r) => first(r.filter_results.iter().flat_map(|f| {
            std::iter::once(f.error_code).chain(f.matching_acls.iter().map(|m| m.error_code))
        })),
        R::ListTransactions(r) => r.error_code,
        R::DescribeTransactions(r) => first(r.transaction_states.iter().map(|x| x.error_code)),
        R::SaslHandshake(r) => r.error_code,
        R::SaslAuthenticate(r) => r.error_code,
        // Every served API has its arm above: only unserved ones get here.
        _ if strait_protocol::versions::served_range(api).is_none() => {
            ResponseError::UnsupportedVersion.code()
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    use kafka_protocol::messages::*;

    use super::*;

    fn produce(codes: &[i16]) -> ResponseKind {
        let mut topic = TopicProduceResponse::default();
        for c in codes {
            let mut p = PartitionProduceResponse::default();
            p.error_code = *c;
            topic.partition_responses.push(p);
        }
        let mut r = ProduceResponse::default();
        r.responses.push(topic);
        ResponseKind::Produce(r)
    }

    #[test]
    fn the_top_level_code_comes_first_then_the_first_item_code() {
        assert_eq!(error_code(ApiKey::Produce, &produce(&[0, 0])), 0);
        assert_eq!(error_code(ApiKey::Produce, &produce(&[0, 3, 6])), 3);
        let mut fetch = FetchResponse::default();
        fetch.error_code = ResponseError::FetchSessionIdNotFound.code();
        assert_eq!(
            error_code(ApiKey::Fetch, &ResponseKind::Fetch(fetch)),
            ResponseError::FetchSessionIdNotFound.code()
        );
        let mut join = JoinGroupResponse::default();
        join.error_code = ResponseError::UnknownMemberId.code();
        assert_eq!(
            error_code(ApiKey::JoinGroup, &ResponseKind::JoinGroup(join)),
            ResponseError::UnknownMemberId.code()
        );
    }

    #[test]
    fn an_unserved_api_is_an_unsupported_version() {
        let r = ResponseKind::DescribeClientQuotas(DescribeClientQuotasResponse::default());
        assert_eq!(
            error_code(ApiKey::DescribeClientQuotas, &r),
            ResponseError::UnsupportedVersion.code()
        );
    }
}
