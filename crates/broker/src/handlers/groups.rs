//! The consumer group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, OffsetCommit, OffsetFetch, ListGroups, DescribeGroups,
//! DeleteGroups and OffsetDelete. Thin translations between kafka-protocol
//! messages (per API version) and `GroupCoordinator` calls, plus the mapping
//! of `GroupError` to Kafka error codes. Must never hold group state or
//! decide group semantics itself.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    BrokerId, DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest,
    DescribeGroupsResponse, FindCoordinatorRequest, FindCoordinatorResponse, GroupId,
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, ListGroupsRequest, ListGroupsResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse, OffsetFetchRequest,
    OffsetFetchResponse, RequestHeader, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;
use strait_metadata::{OffsetRecord, PartitionKey};

use super::{str_bytes, topic_name};
use crate::group::consumer::ConsumerGroupState;
use crate::group::{GroupError, GroupState, JoinRequest, LeavingMember, SyncRequest};
use crate::server::ConnectionContext;
use crate::state::Broker;

/// The Kafka error code of a coordinator error.
pub fn group_error(e: &GroupError) -> ResponseError {
    match e {
        GroupError::InvalidGroupId => ResponseError::InvalidGroupId,
        GroupError::CoordinatorNotAvailable => ResponseError::CoordinatorNotAvailable,
        GroupError::InvalidSessionTimeout => ResponseError::InvalidSessionTimeout,
        GroupError::InconsistentGroupProtocol => ResponseError::InconsistentGroupProtocol,
        GroupError::UnknownMemberId => ResponseError::UnknownMemberId,
        GroupError::IllegalGeneration => ResponseError::IllegalGeneration,
        GroupError::RebalanceInProgress => ResponseError::RebalanceInProgress,
        GroupError::MemberIdRequired => ResponseError::MemberIdRequired,
        GroupError::FencedInstanceId => ResponseError::FencedInstanceId,
        GroupError::GroupMaxSizeReached => ResponseError::GroupMaxSizeReached,
        GroupError::GroupIdNotFound => ResponseError::GroupIdNotFound,
        GroupError::NonEmptyGroup => ResponseError::NonEmptyGroup,
        GroupError::GroupSubscribedToTopic => ResponseError::GroupSubscribedToTopic,
        GroupError::Storage(_) => ResponseError::KafkaStorageError,
        GroupError::FencedMemberEpoch => ResponseError::FencedMemberEpoch,
        GroupError::StaleMemberEpoch => ResponseError::StaleMemberEpoch,
        GroupError::UnsupportedAssignor(_) => ResponseError::UnsupportedAssignor,
        GroupError::UnreleasedInstanceId => ResponseError::UnreleasedInstanceId,
        GroupError::InvalidRequest(_) => ResponseError::InvalidRequest,
        GroupError::UnsupportedVersion => ResponseError::UnsupportedVersion,
        GroupError::Internal(_) => ResponseError::UnknownServerError,
    }
}

fn code(e: &Option<GroupError>) -> i16 {
    e.as_ref().map_or(0, |e| group_error(e).code())
}

fn result_code(r: &Result<(), GroupError>) -> i16 {
    match r {
        Ok(()) => 0,
        Err(e) => group_error(e).code(),
    }
}

fn opt_string(s: &Option<StrBytes>) -> Option<String> {
    s.as_ref().map(|s| s.to_string())
}

fn group_id(s: &str) -> GroupId {
    GroupId(str_bytes(s))
}

/// Whether the topic exists with this partition.
fn partition_exists(broker: &Broker, topic: &str, partition: i32) -> bool {
    broker
        .topics
        .get(topic)
        .is_some_and(|t| usize::try_from(partition).is_ok_and(|i| i < t.partitions.len()))
}

/// One offset a client asks to commit (OffsetCommit or TxnOffsetCommit).
pub(super) struct CommittedOffset<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// `None` for request versions without a leader epoch.
    pub leader_epoch: Option<i32>,
    pub metadata: Option<&'a str>,
}

impl CommittedOffset<'_> {
    /// The record to store, or OFFSET_METADATA_TOO_LARGE when the metadata is
    /// longer than `offset.metadata.max.bytes`.
    pub fn into_record(
        self,
        max_metadata: usize,
        now_ms: i64,
    ) -> Result<(PartitionKey, OffsetRecord), ResponseError> {
        if self.metadata.is_some_and(|m| m.len() > max_metadata) {
            return Err(ResponseError::OffsetMetadataTooLarge);
        }
        Ok((
            PartitionKey::new(self.topic.to_string(), self.partition),
            OffsetRecord {
                offset: self.offset,
                leader_epoch: self.leader_epoch.unwrap_or(-1),
                metadata: self.metadata.map(str::to_string),
                commit_ms: now_ms,
            },
        ))
    }
}

// ----- FindCoordinator ------------------------------------------------------

pub fn find_coordinator(
    broker: &Arc<Broker>,
    req: FindCoordinatorRequest,
    version: i16,
    ctx: &ConnectionContext,
) -> FindCoordinatorResponse {
    let (host, port) = broker.endpoint_for(&ctx.listener);
    let node = broker.node_id();
    // 0 = group, 1 = transaction: this node coordinates both.
    let supported = matches!(req.key_type, 0 | 1);
    let mut resp = FindCoordinatorResponse::default();
    if version >= 4 {
        for key in req.coordinator_keys {
            let mut c = Coordinator::default();
            c.key = key;
            if supported {
                c.node_id = BrokerId(node);
                c.host = str_bytes(host);
                c.port = port;
            } else {
                c.node_id = BrokerId(-1);
                c.port = -1;
                c.error_code = ResponseError::InvalidRequest.code();
                c.error_message = Some(str_bytes(format!(
                    "Unsupported coordinator key type {}",
                    req.key_type
                )));
            }
            resp.coordinators.push(c);
        }
    } else if supported {
        resp.node_id = BrokerId(node);
        resp.host = str_bytes(host);
        resp.port = port;
        if version >= 1 {
            resp.error_message = None;
        }
    } else {
        resp.error_code = ResponseError::InvalidRequest.code();
        resp.node_id = BrokerId(-1);
        resp.port = -1;
        if version >= 1 {
            resp.error_message = Some(str_bytes(format!(
                "Unsupported coordinator key type {}",
                req.key_type
            )));
        }
    }
    resp
}

// ----- JoinGroup / SyncGroup / Heartbeat / LeaveGroup ------------------------

/// The client id a request carries, as the group tools show it.
pub(super) fn client_id(header: &RequestHeader) -> String {
    header
        .client_id
        .as_ref()
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// The client host as Kafka shows it: `/` and the peer's address.
pub(super) fn client_host(ctx: &ConnectionContext) -> String {
    format!("/{}", ctx.peer.ip())
}

pub async fn join(
    broker: &Arc<Broker>,
    req: JoinGroupRequest,
    version: i16,
    header: &RequestHeader,
    ctx: &ConnectionContext,
) -> JoinGroupResponse {
    let request = JoinRequest {
        group_id: req.group_id.0.to_string(),
        member_id: req.member_id.to_string(),
        group_instance_id: opt_string(&req.group_instance_id),
        client_id: client_id(header),
        client_host: client_host(ctx),
        session_timeout_ms: req.session_timeout_ms,
        // v0 has no rebalance timeout: the session timeout bounds the join.
        rebalance_timeout_ms: if version >= 1 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        },
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
        require_known_member_id: version >= 4,
        supports_skip_assignment: version >= 9,
        reason: opt_string(&req.reason),
    };
    let out = broker.groups.join_group(request).await;
    let mut resp = JoinGroupResponse::default();
    resp.error_code = code(&out.error);
    resp.generation_id = out.generation_id;
    if version >= 7 {
        resp.protocol_type = out.protocol_type.map(str_bytes);
        resp.protocol_name = out.protocol_name.map(str_bytes);
    } else {
        // Not nullable before v7.
        resp.protocol_name = Some(str_bytes(out.protocol_name.unwrap_or_default()));
    }
    resp.leader = str_bytes(out.leader_id);
    if version >= 9 {
        resp.skip_assignment = out.skip_assignment;
    }
    resp.member_id = str_bytes(out.member_id);
    resp.members = out
        .members
        .into_iter()
        .map(|m| {
            let mut member = JoinGroupResponseMember::default();
            member.member_id = str_bytes(m.member_id);
            if version >= 5 {
                member.group_instance_id = m.group_instance_id.map(str_bytes);
            }
            member.metadata = m.metadata;
            member
        })
        .collect();
    resp
}

pub async fn sync(broker: &Arc<Broker>, req: SyncGroupRequest, version: i16) -> SyncGroupResponse {
    let request = SyncRequest {
        group_id: req.group_id.0.to_string(),
        generation_id: req.generation_id,
        member_id: req.member_id.to_string(),
        group_instance_id: opt_string(&req.group_instance_id),
        protocol_type: opt_string(&req.protocol_type),
        protocol_name: opt_string(&req.protocol_name),
        assignments: req
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment))
            .collect(),
    };
    let out = broker.groups.sync_group(request).await;
    let mut resp = SyncGroupResponse::default();
    resp.error_code = code(&out.error);
    if version >= 5 {
        resp.protocol_type = out.protocol_type.map(str_bytes);
        resp.protocol_name = out.protocol_name.map(str_bytes);
    }
    resp.assignment = out.assignment;
    resp
}

pub fn heartbeat(broker: &Arc<Broker>, req: HeartbeatRequest) -> HeartbeatResponse {
    let result = broker.groups.heartbeat(
        req.group_id.0.as_str(),
        req.generation_id,
        req.member_id.as_str(),
        req.group_instance_id.as_deref(),
    );
    let mut resp = HeartbeatResponse::default();
    resp.error_code = result_code(&result);
    resp
}

pub fn leave(broker: &Arc<Broker>, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
    let members: Vec<LeavingMember> = if version >= 3 {
        req.members
            .iter()
            .map(|m| LeavingMember {
                member_id: m.member_id.to_string(),
                group_instance_id: opt_string(&m.group_instance_id),
                reason: opt_string(&m.reason),
            })
            .collect()
    } else {
        vec![LeavingMember {
            member_id: req.member_id.to_string(),
            group_instance_id: None,
            reason: None,
        }]
    };
    let mut resp = LeaveGroupResponse::default();
    match broker.groups.leave_group(req.group_id.0.as_str(), &members) {
        Err(e) => resp.error_code = group_error(&e).code(),
        Ok(results) if version >= 3 => {
            resp.members = members
                .iter()
                .zip(&results)
                .map(|(m, r)| {
                    let mut out = MemberResponse::default();
                    out.member_id = str_bytes(m.member_id.clone());
                    out.group_instance_id = m.group_instance_id.clone().map(str_bytes);
                    out.error_code = result_code(r);
                    out
                })
                .collect();
        }
        Ok(results) => {
            resp.error_code = results.first().map_or(0, result_code);
        }
    }
    resp
}

// ----- offsets --------------------------------------------------------------

pub async fn offset_commit(
    broker: &Arc<Broker>,
    req: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let group = req.group_id.0.to_string();
    let now = Broker::now_ms();
    let max_metadata = broker.groups.config().offset_metadata_max_bytes;
    // (topic, partition, error) in request order; None = to be committed.
    let mut outcome: Vec<(String, i32, Option<ResponseError>)> = Vec::new();
    let mut offsets = Vec::new();
    for topic in &req.topics {
        let name = topic.name.0.to_string();
        for p in &topic.partitions {
            let error = if !partition_exists(broker, &name, p.partition_index) {
                Some(ResponseError::UnknownTopicOrPartition)
            } else {
                let committed = CommittedOffset {
                    topic: &name,
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: (version >= 6).then_some(p.committed_leader_epoch),
                    metadata: p.committed_metadata.as_deref(),
                };
                committed
                    .into_record(max_metadata, now)
                    .map(|entry| offsets.push(entry))
                    .err()
            };
            outcome.push((name.clone(), p.partition_index, error));
        }
    }
    // As Kafka: members of a KIP-848 group commit with OffsetCommit v9+.
    let needs_v9 = version < 9
        && req.generation_id_or_member_epoch >= 0
        && broker.groups.is_consumer_group(&group);
    let group_result = if offsets.is_empty() {
        Ok(())
    } else if needs_v9 {
        Err(GroupError::UnsupportedVersion)
    } else {
        broker
            .groups
            .commit_offsets(
                &group,
                req.generation_id_or_member_epoch,
                req.member_id.as_str(),
                req.group_instance_id.as_deref(),
                offsets,
            )
            .await
    };
    let group_code = match &group_result {
        Ok(()) => None,
        // Before v9 a commit with a generation to a missing group is
        // answered ILLEGAL_GENERATION.
        Err(GroupError::GroupIdNotFound) if version < 9 => Some(ResponseError::IllegalGeneration),
        Err(e) => Some(group_error(e)),
    };
    let mut resp = OffsetCommitResponse::default();
    for (topic, partition, error) in outcome {
        let mut p = OffsetCommitResponsePartition::default();
        p.partition_index = partition;
        p.error_code = error.or(group_code).map_or(0, |e| e.code());
        match resp.topics.last_mut() {
            Some(t) if t.name.0.as_str() == topic => t.partitions.push(p),
            _ => {
                let mut t = OffsetCommitResponseTopic::default();
                t.name = topic_name(topic);
                t.partitions.push(p);
                resp.topics.push(t);
            }
        }
    }
    resp
}

/// One group's offsets: (topic, [(partition, offset, epoch, metadata)]).
type FetchedTopics = Vec<(String, Vec<(i32, i64, i32, String)>)>;

fn fetch_group(
    broker: &Arc<Broker>,
    group: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
) -> FetchedTopics {
    let wanted: Option<Vec<PartitionKey>> = topics.as_ref().map(|ts| {
        ts.iter()
            .flat_map(|(t, ps)| ps.iter().map(move |p| PartitionKey::new(t.clone(), *p)))
            .collect()
    });
    let fetched = broker.groups.fetch_offsets(group, wanted.as_deref());
    let mut out: FetchedTopics = Vec::new();
    for (key, record) in fetched {
        let (offset, epoch, metadata) = match record {
            Some(r) => (r.offset, r.leader_epoch, r.metadata.unwrap_or_default()),
            None => (-1, -1, String::new()),
        };
        let entry = (key.partition, offset, epoch, metadata);
        match out.last_mut() {
            Some((t, ps)) if *t == key.topic => ps.push(entry),
            _ => out.push((key.topic, vec![entry])),
        }
    }
    out
}

pub fn offset_fetch(
    broker: &Arc<Broker>,
    req: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    let mut resp = OffsetFetchResponse::default();
    if version >= 8 {
        for g in req.groups {
            // v9+: a consumer-protocol member fetches at its member epoch.
            if let Err(e) = broker.groups.validate_offset_fetch(
                g.group_id.0.as_str(),
                g.member_id.as_deref(),
                g.member_epoch,
            ) {
                let mut group = OffsetFetchResponseGroup::default();
                group.group_id = g.group_id;
                group.error_code = group_error(&e).code();
                resp.groups.push(group);
                continue;
            }
            let topics = g.topics.map(|ts| {
                ts.into_iter()
                    .map(|t| (t.name.0.to_string(), t.partition_indexes))
                    .collect()
            });
            let fetched = fetch_group(broker, g.group_id.0.as_str(), topics);
            let mut group = OffsetFetchResponseGroup::default();
            group.group_id = g.group_id;
            group.topics = fetched
                .into_iter()
                .map(|(topic, parts)| {
                    let mut t = OffsetFetchResponseTopics::default();
                    t.name = topic_name(topic);
                    t.partitions = parts
                        .into_iter()
                        .map(|(index, offset, epoch, metadata)| {
                            let mut p = OffsetFetchResponsePartitions::default();
                            p.partition_index = index;
                            p.committed_offset = offset;
                            p.committed_leader_epoch = epoch;
                            p.metadata = Some(str_bytes(metadata));
                            p
                        })
                        .collect();
                    t
                })
                .collect();
            if req.require_stable {
                for t in &mut group.topics {
                    for p in &mut t.partitions {
                        let key = PartitionKey::new(t.name.0.to_string(), p.partition_index);
                        if broker
                            .txns
                            .has_pending_offset(group.group_id.0.as_str(), &key)
                        {
                            p.error_code = ResponseError::UnstableOffsetCommit.code();
                            p.committed_offset = -1;
                        }
                    }
                }
            }
            resp.groups.push(group);
        }
        return resp;
    }
    // Before v2 there is no way to ask for every partition.
    let topics = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes))
            .collect::<Vec<_>>()
    });
    let fetched = fetch_group(broker, req.group_id.0.as_str(), topics);
    resp.topics = fetched
        .into_iter()
        .map(|(topic, parts)| {
            let mut t = OffsetFetchResponseTopic::default();
            t.name = topic_name(topic);
            t.partitions = parts
                .into_iter()
                .map(|(index, offset, epoch, metadata)| {
                    let mut p = OffsetFetchResponsePartition::default();
                    p.partition_index = index;
                    p.committed_offset = offset;
                    if version >= 5 {
                        p.committed_leader_epoch = epoch;
                    }
                    p.metadata = Some(str_bytes(metadata));
                    p
                })
                .collect();
            t
        })
        .collect();
    // KIP-447: offsets staged by an open transaction are not yet stable.
    if req.require_stable {
        for t in &mut resp.topics {
            for p in &mut t.partitions {
                let key = PartitionKey::new(t.name.0.to_string(), p.partition_index);
                if broker
                    .txns
                    .has_pending_offset(req.group_id.0.as_str(), &key)
                {
                    p.error_code = ResponseError::UnstableOffsetCommit.code();
                    p.committed_offset = -1;
                }
            }
        }
    }
    resp
}

// ----- administration -------------------------------------------------------

pub fn list(broker: &Arc<Broker>, req: ListGroupsRequest, version: i16) -> ListGroupsResponse {
    let mut resp = ListGroupsResponse::default();
    // Unknown state or type names match no group.
    let wants_type = |t: &str| {
        req.types_filter.is_empty()
            || req
                .types_filter
                .iter()
                .any(|f| f.as_str().eq_ignore_ascii_case(t))
    };
    let wants_state = |s: &str| {
        req.states_filter.is_empty()
            || req
                .states_filter
                .iter()
                .any(|f| f.as_str().eq_ignore_ascii_case(s))
    };
    // (id, protocol type, state, group type)
    let mut listed: Vec<(String, String, &'static str, &'static str)> = Vec::new();
    if wants_type("classic") {
        for l in broker.groups.list_groups(&[]) {
            if wants_state(l.state.as_str()) {
                listed.push((l.group_id, l.protocol_type, l.state.as_str(), "classic"));
            }
        }
    }
    if wants_type("consumer") {
        for (id, state) in broker.groups.list_consumer_groups() {
            if state != ConsumerGroupState::Dead && wants_state(state.as_str()) {
                listed.push((id, "consumer".into(), state.as_str(), "consumer"));
            }
        }
    }
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    resp.groups = listed
        .into_iter()
        .map(|(id, protocol_type, state, group_type)| {
            let mut g = ListedGroup::default();
            g.group_id = group_id(&id);
            g.protocol_type = str_bytes(protocol_type);
            if version >= 4 {
                g.group_state = str_bytes(state);
            }
            if version >= 5 {
                g.group_type = str_bytes(group_type);
            }
            g
        })
        .collect();
    resp
}

/// Group operations a caller may perform without ACLs: READ, DELETE, DESCRIBE.
const GROUP_AUTHORIZED_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

pub fn describe(
    broker: &Arc<Broker>,
    req: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let mut resp = DescribeGroupsResponse::default();
    for id in req.groups {
        let d = broker.groups.describe_group(id.0.as_str());
        let mut g = DescribedGroup::default();
        g.group_id = id;
        if d.state == GroupState::Dead && version >= 6 {
            g.error_code = ResponseError::GroupIdNotFound.code();
            g.error_message = Some(str_bytes(format!("Group {} not found.", d.group_id)));
        }
        g.group_state = str_bytes(d.state.as_str());
        g.protocol_type = str_bytes(d.protocol_type);
        g.protocol_data = str_bytes(d.protocol);
        g.members = d
            .members
            .into_iter()
            .map(|m| {
                let mut out = DescribedGroupMember::default();
                out.member_id = str_bytes(m.member_id);
                if version >= 4 {
                    out.group_instance_id = m.group_instance_id.map(str_bytes);
                }
                out.client_id = str_bytes(m.client_id);
                out.client_host = str_bytes(m.client_host);
                out.member_metadata = m.metadata;
                out.member_assignment = m.assignment;
                out
            })
            .collect();
        if version >= 3 {
            g.authorized_operations = if req.include_authorized_operations {
                GROUP_AUTHORIZED_OPERATIONS
            } else {
                i32::MIN
            };
        }
        resp.groups.push(g);
    }
    resp
}

pub async fn delete(broker: &Arc<Broker>, req: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let mut resp = DeleteGroupsResponse::default();
    for id in req.groups_names {
        let result = broker.groups.delete_group(id.0.as_str()).await;
        let mut r = DeletableGroupResult::default();
        r.group_id = id;
        r.error_code = result_code(&result);
        resp.results.push(r);
    }
    resp
}

pub async fn offset_delete(broker: &Arc<Broker>, req: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let mut resp = OffsetDeleteResponse::default();
    let mut outcome: Vec<(String, i32, Option<ResponseError>)> = Vec::new();
    let mut known = Vec::new();
    for topic in &req.topics {
        let name = topic.name.0.to_string();
        for p in &topic.partitions {
            if partition_exists(broker, &name, p.partition_index) {
                known.push(PartitionKey::new(name.clone(), p.partition_index));
                outcome.push((name.clone(), p.partition_index, None));
            } else {
                outcome.push((
                    name.clone(),
                    p.partition_index,
                    Some(ResponseError::UnknownTopicOrPartition),
                ));
            }
        }
    }
    let results = match broker
        .groups
        .delete_offsets(req.group_id.0.as_str(), known)
        .await
    {
        Ok(results) => results,
        Err(e) => {
            // A group-level error answers alone, without partitions.
            resp.error_code = group_error(&e).code();
            return resp;
        }
    };
    for (topic, partition, error) in outcome {
        let error = error.or_else(|| {
            results
                .iter()
                .find(|(k, _)| k.topic == topic && k.partition == partition)
                .and_then(|(_, r)| r.as_ref().err().map(group_error))
        });
        let mut p = OffsetDeleteResponsePartition::default();
        p.partition_index = partition;
        p.error_code = error.map_or(0, |e| e.code());
        match resp.topics.last_mut() {
            Some(t) if t.name.0.as_str() == topic => t.partitions.push(p),
            _ => {
                let mut t = OffsetDeleteResponseTopic::default();
                t.name = topic_name(topic);
                t.partitions.push(p);
                resp.topics.push(t);
            }
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::Encodable;

    fn encodes<T: Encodable>(msg: &T, versions: std::ops::RangeInclusive<i16>) {
        for v in versions {
            let mut buf = bytes::BytesMut::new();
            if let Err(e) = msg.encode(&mut buf, v) {
                panic!("{} v{v}: {e}", std::any::type_name::<T>());
            }
        }
    }

    #[test]
    fn error_codes_are_kafkas() {
        assert_eq!(group_error(&GroupError::UnknownMemberId).code(), 25);
        assert_eq!(group_error(&GroupError::IllegalGeneration).code(), 22);
        assert_eq!(group_error(&GroupError::RebalanceInProgress).code(), 27);
        assert_eq!(group_error(&GroupError::MemberIdRequired).code(), 79);
        assert_eq!(group_error(&GroupError::FencedInstanceId).code(), 82);
        assert_eq!(group_error(&GroupError::NonEmptyGroup).code(), 68);
        assert_eq!(group_error(&GroupError::GroupSubscribedToTopic).code(), 86);
    }

    /// Responses built the way the handlers build them encode in every
    /// version they can be asked for (kafka-protocol rejects fields a
    /// version lacks, and a null where a version wants a string).
    #[test]
    fn responses_encode_in_every_version() {
        let mut join = JoinGroupResponse::default();
        join.protocol_name = Some(str_bytes(""));
        join.members.push(JoinGroupResponseMember::default());
        encodes(&join, 0..=8);
        join.skip_assignment = true;
        encodes(&join, 9..=9);

        let mut leave = LeaveGroupResponse::default();
        encodes(&leave, 0..=5);
        leave.members.push(MemberResponse::default());
        encodes(&leave, 3..=5);

        encodes(&SyncGroupResponse::default(), 0..=5);
        encodes(&HeartbeatResponse::default(), 0..=4);

        let mut commit = OffsetCommitResponse::default();
        let mut t = OffsetCommitResponseTopic::default();
        t.partitions.push(OffsetCommitResponsePartition::default());
        commit.topics.push(t);
        encodes(&commit, 2..=9);

        let mut fetch = OffsetFetchResponse::default();
        let mut t = OffsetFetchResponseTopic::default();
        let mut p = OffsetFetchResponsePartition::default();
        p.metadata = Some(str_bytes(""));
        t.partitions.push(p);
        fetch.topics.push(t);
        encodes(&fetch, 1..=7);
        let mut fetch = OffsetFetchResponse::default();
        let mut g = OffsetFetchResponseGroup::default();
        let mut t = OffsetFetchResponseTopics::default();
        t.partitions.push(OffsetFetchResponsePartitions::default());
        g.topics.push(t);
        fetch.groups.push(g);
        encodes(&fetch, 8..=9);

        let mut list = ListGroupsResponse::default();
        list.groups.push(ListedGroup::default());
        encodes(&list, 0..=5);

        let mut describe = DescribeGroupsResponse::default();
        let mut g = DescribedGroup::default();
        g.members.push(DescribedGroupMember::default());
        describe.groups.push(g);
        encodes(&describe, 0..=6);

        let mut delete = DeleteGroupsResponse::default();
        delete.results.push(DeletableGroupResult::default());
        encodes(&delete, 0..=2);

        let mut od = OffsetDeleteResponse::default();
        let mut t = OffsetDeleteResponseTopic::default();
        t.partitions.push(OffsetDeleteResponsePartition::default());
        od.topics.push(t);
        encodes(&od, 0..=0);

        let mut fc = FindCoordinatorResponse::default();
        fc.node_id = BrokerId(1);
        fc.host = str_bytes("127.0.0.1");
        fc.port = 9092;
        encodes(&fc, 0..=3);
        let mut fc = FindCoordinatorResponse::default();
        fc.coordinators.push(Coordinator::default());
        encodes(&fc, 4..=6);
    }
}
