//! The answer to a Kafka API that Strait does not serve, as a Kafka broker
//! answers a request it cannot carry out: the API's own response with
//! UNSUPPORTED_VERSION in its top-level error code where the version has one,
//! and on every item of the request where it has none (ElectLeaders v0,
//! AlterClientQuotas, AlterReplicaLogDirs, WriteTxnMarkers), the way Kafka's
//! `getErrorResponse` fills them.
//!
//! APIs that a Kafka broker's client listener does not enable (controller,
//! KRaft and share-group state APIs) get no answer: Kafka closes the
//! connection for those, and so does Strait. This module must never answer
//! an API that the broker serves.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::*;

/// The error response to `request`, or `None` where a Kafka broker would
/// close the connection.
pub fn answer(request: RequestKind, version: i16) -> Option<ResponseKind> {
    let code = ResponseError::UnsupportedVersion.code();
    macro_rules! top_level {
        ($($variant:ident => $resp:ident),* $(,)?) => {
            match request {
                $(RequestKind::$variant(_) => {
                    let mut r = $resp::default();
                    r.error_code = code;
                    return Some(ResponseKind::$variant(r));
                })*
                other => other,
            }
        };
    }
    let request = top_level!(
        DescribeClientQuotas => DescribeClientQuotasResponse,
        DescribeQuorum => DescribeQuorumResponse,
        UpdateFeatures => UpdateFeaturesResponse,
        ListPartitionReassignments => ListPartitionReassignmentsResponse,
        AlterPartitionReassignments => AlterPartitionReassignmentsResponse,
        CreateDelegationToken => CreateDelegationTokenResponse,
        RenewDelegationToken => RenewDelegationTokenResponse,
        ExpireDelegationToken => ExpireDelegationTokenResponse,
        DescribeDelegationToken => DescribeDelegationTokenResponse,
        UnregisterBroker => UnregisterBrokerResponse,
        GetTelemetrySubscriptions => GetTelemetrySubscriptionsResponse,
        PushTelemetry => PushTelemetryResponse,
        ListConfigResources => ListConfigResourcesResponse,
        AddRaftVoter => AddRaftVoterResponse,
        RemoveRaftVoter => RemoveRaftVoterResponse,
    );
    match request {
        RequestKind::ElectLeaders(r) => {
            Some(ResponseKind::ElectLeaders(elect_leaders(&r, version, code)))
        }
        RequestKind::AlterClientQuotas(r) => Some(ResponseKind::AlterClientQuotas(
            alter_client_quotas(&r, code),
        )),
        RequestKind::AlterReplicaLogDirs(r) => Some(ResponseKind::AlterReplicaLogDirs(
            alter_replica_log_dirs(&r, code),
        )),
        RequestKind::WriteTxnMarkers(r) => {
            Some(ResponseKind::WriteTxnMarkers(write_txn_markers(&r, code)))
        }
        _ => None,
    }
}

const MESSAGE: &str = "This API is not served by Strait.";

fn elect_leaders(r: &ElectLeadersRequest, version: i16, code: i16) -> ElectLeadersResponse {
    use elect_leaders_response::{PartitionResult, ReplicaElectionResult};
    let mut resp = ElectLeadersResponse::default();
    if version >= 1 {
        resp.error_code = code;
    }
    resp.replica_election_results = r
        .topic_partitions
        .iter()
        .flatten()
        .map(|t| {
            let mut result = ReplicaElectionResult::default();
            result.topic = t.topic.clone();
            result.partition_result = t
                .partitions
                .iter()
                .map(|p| {
                    let mut pr = PartitionResult::default();
                    pr.partition_id = *p;
                    pr.error_code = code;
                    pr.error_message = Some(super::str_bytes(MESSAGE));
                    pr
                })
                .collect();
            result
        })
        .collect();
    resp
}

fn alter_client_quotas(r: &AlterClientQuotasRequest, code: i16) -> AlterClientQuotasResponse {
    use alter_client_quotas_response::{EntityData, EntryData};
    let mut resp = AlterClientQuotasResponse::default();
    resp.entries = r
        .entries
        .iter()
        .map(|e| {
            let mut entry = EntryData::default();
            entry.error_code = code;
            entry.error_message = Some(super::str_bytes(MESSAGE));
            entry.entity = e
                .entity
                .iter()
                .map(|d| {
                    let mut ed = EntityData::default();
                    ed.entity_type = d.entity_type.clone();
                    ed.entity_name = d.entity_name.clone();
                    ed
                })
                .collect();
            entry
        })
        .collect();
    resp
}

fn alter_replica_log_dirs(
    r: &AlterReplicaLogDirsRequest,
    code: i16,
) -> AlterReplicaLogDirsResponse {
    use alter_replica_log_dirs_response::{
        AlterReplicaLogDirPartitionResult, AlterReplicaLogDirTopicResult,
    };
    let mut resp = AlterReplicaLogDirsResponse::default();
    resp.results = r
        .dirs
        .iter()
        .flat_map(|d| &d.topics)
        .map(|t| {
            let mut tr = AlterReplicaLogDirTopicResult::default();
            tr.topic_name = t.name.clone();
            tr.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut pr = AlterReplicaLogDirPartitionResult::default();
                    pr.partition_index = *p;
                    pr.error_code = code;
                    pr
                })
                .collect();
            tr
        })
        .collect();
    resp
}

fn write_txn_markers(r: &WriteTxnMarkersRequest, code: i16) -> WriteTxnMarkersResponse {
    use write_txn_markers_response::{
        WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
    };
    let mut resp = WriteTxnMarkersResponse::default();
    resp.markers = r
        .markers
        .iter()
        .map(|m| {
            let mut mr = WritableTxnMarkerResult::default();
            mr.producer_id = m.producer_id;
            mr.topics = m
                .topics
                .iter()
                .map(|t| {
                    let mut tr = WritableTxnMarkerTopicResult::default();
                    tr.name = t.name.clone();
                    tr.partitions = t
                        .partition_indexes
                        .iter()
                        .map(|p| {
                            let mut pr = WritableTxnMarkerPartitionResult::default();
                            pr.partition_index = *p;
                            pr.error_code = code;
                            pr
                        })
                        .collect();
                    tr
                })
                .collect();
            mr
        })
        .collect();
    resp
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;

    fn request_of(api: ApiKey) -> Option<RequestKind> {
        use super::super::topic_name;
        macro_rules! defaults {
            ($($variant:ident => $req:ident),* $(,)?) => {
                match api {
                    $(ApiKey::$variant => return Some(RequestKind::$variant($req::default())),)*
                    _ => {}
                }
            };
        }
        defaults!(
            DescribeClientQuotas => DescribeClientQuotasRequest,
            DescribeQuorum => DescribeQuorumRequest,
            UpdateFeatures => UpdateFeaturesRequest,
            ListPartitionReassignments => ListPartitionReassignmentsRequest,
            AlterPartitionReassignments => AlterPartitionReassignmentsRequest,
            CreateDelegationToken => CreateDelegationTokenRequest,
            RenewDelegationToken => RenewDelegationTokenRequest,
            ExpireDelegationToken => ExpireDelegationTokenRequest,
            DescribeDelegationToken => DescribeDelegationTokenRequest,
            UnregisterBroker => UnregisterBrokerRequest,
            GetTelemetrySubscriptions => GetTelemetrySubscriptionsRequest,
            PushTelemetry => PushTelemetryRequest,
            ListConfigResources => ListConfigResourcesRequest,
            AddRaftVoter => AddRaftVoterRequest,
            RemoveRaftVoter => RemoveRaftVoterRequest,
            Vote => VoteRequest,
            BrokerHeartbeat => BrokerHeartbeatRequest,
            ShareFetch => ShareFetchRequest,
        );
        Some(match api {
            ApiKey::ElectLeaders => {
                let mut t = elect_leaders_request::TopicPartitions::default();
                t.topic = topic_name("t");
                t.partitions = vec![0, 1];
                let mut r = ElectLeadersRequest::default();
                r.topic_partitions = Some(vec![t]);
                RequestKind::ElectLeaders(r)
            }
            ApiKey::AlterClientQuotas => {
                let mut r = AlterClientQuotasRequest::default();
                r.entries = vec![alter_client_quotas_request::EntryData::default()];
                RequestKind::AlterClientQuotas(r)
            }
            ApiKey::AlterReplicaLogDirs => {
                let mut t = alter_replica_log_dirs_request::AlterReplicaLogDirTopic::default();
                t.name = topic_name("t");
                t.partitions = vec![0];
                let mut d = alter_replica_log_dirs_request::AlterReplicaLogDir::default();
                d.topics = vec![t];
                let mut r = AlterReplicaLogDirsRequest::default();
                r.dirs = vec![d];
                RequestKind::AlterReplicaLogDirs(r)
            }
            ApiKey::WriteTxnMarkers => {
                let mut t = write_txn_markers_request::WritableTxnMarkerTopic::default();
                t.name = topic_name("t");
                t.partition_indexes = vec![0];
                let mut m = write_txn_markers_request::WritableTxnMarker::default();
                m.topics = vec![t];
                let mut r = WriteTxnMarkersRequest::default();
                r.markers = vec![m];
                RequestKind::WriteTxnMarkers(r)
            }
            _ => return None,
        })
    }

    /// Every version of every unserved broker API gets a response that
    /// encodes at that version (the ElectLeaders v0 answer used to fail to
    /// encode and close the connection); controller APIs get none.
    #[test]
    fn every_version_of_an_unserved_api_is_answered_in_its_own_shape() {
        let answered = strait_protocol::versions::UNSERVED_BROKER_APIS
            .iter()
            .copied();
        for api in answered {
            assert!(
                strait_protocol::versions::served_range(api).is_none(),
                "{api:?} is served"
            );
            let range = api.valid_versions();
            for version in range.min..=range.max {
                let request = request_of(api).unwrap_or_else(|| panic!("{api:?}"));
                let Some(response) = answer(request, version) else {
                    panic!("{api:?} v{version} not answered");
                };
                let mut buf = BytesMut::new();
                let encoded = response.encode(&mut buf, version);
                assert!(encoded.is_ok(), "{api:?} v{version}: {encoded:?}");
                assert!(
                    buf.windows(2).any(|w| w == [0, 35]),
                    "{api:?} v{version} carries no UNSUPPORTED_VERSION"
                );
            }
        }
        for api in [ApiKey::Vote, ApiKey::BrokerHeartbeat, ApiKey::ShareFetch] {
            let request = request_of(api).unwrap_or_else(|| panic!("{api:?}"));
            assert!(
                answer(request, api.valid_versions().max).is_none(),
                "{api:?}"
            );
        }
    }
}
