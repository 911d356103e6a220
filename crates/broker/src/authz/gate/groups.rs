//! Checks of the consumer group APIs: FindCoordinator (DESCRIBE on the group
//! or transactional id), JoinGroup / SyncGroup / Heartbeat / LeaveGroup
//! (READ on the group), OffsetCommit (READ on the group and each topic),
//! OffsetFetch (DESCRIBE on the group and each topic), ListGroups (DESCRIBE
//! on the cluster, else only groups the session may describe),
//! DescribeGroups (DESCRIBE), DeleteGroups (DELETE) and OffsetDelete (DELETE
//! on the group, READ on each topic), ConsumerGroupHeartbeat (READ on the
//! group, DESCRIBE on each subscribed topic) and ConsumerGroupDescribe
//! (DESCRIBE on each group and on every topic its members hold). Must never change a group.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
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
    OffsetFetchResponse, SyncGroupRequest, SyncGroupResponse, TopicName,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
};
use strait_metadata::{AclOperation, AclResourceType};

use super::{
    Check, Deny, Outcome, message, pass, pass_then, refuse_topics, restore_order, split_by,
};
use crate::handlers::str_bytes;

const TOPIC_DENIED: ResponseError = ResponseError::TopicAuthorizationFailed;
const GROUP_DENIED: ResponseError = ResponseError::GroupAuthorizationFailed;

// ----- FindCoordinator ---------------------------------------------------------

/// Whether the session may find the coordinator of `key`; the error otherwise.
fn coordinator_access(check: &Check<'_>, key_type: i8, key: &str) -> Result<(), ResponseError> {
    match key_type {
        0 if !check.group(AclOperation::Describe, key) => Err(GROUP_DENIED),
        1 if !check.transactional_id(AclOperation::Describe, key) => {
            Err(ResponseError::TransactionalIdAuthorizationFailed)
        }
        _ => Ok(()),
    }
}

pub(super) fn find_coordinator(
    check: &Check<'_>,
    mut req: FindCoordinatorRequest,
) -> Outcome<FindCoordinatorRequest, FindCoordinatorResponse> {
    if check.version < 4 {
        return match coordinator_access(check, req.key_type, req.key.as_str()) {
            Ok(()) => pass(req),
            Err(error) => {
                let mut resp = FindCoordinatorResponse::default();
                resp.error_code = error.code();
                if check.version >= 1 {
                    resp.error_message = Some(str_bytes(message(error)));
                }
                resp.node_id = BrokerId(-1);
                resp.host = str_bytes("");
                resp.port = -1;
                Deny(resp)
            }
        };
    }
    let order = req.coordinator_keys.clone();
    let mut refused = Vec::new();
    for key in std::mem::take(&mut req.coordinator_keys) {
        match coordinator_access(check, req.key_type, key.as_str()) {
            Ok(()) => req.coordinator_keys.push(key),
            Err(error) => {
                let mut c = Coordinator::default();
                c.key = key;
                c.node_id = BrokerId(-1);
                c.host = str_bytes("");
                c.port = -1;
                c.error_code = error.code();
                c.error_message = None;
                refused.push(c);
            }
        }
    }
    if refused.is_empty() {
        return pass(req);
    }
    pass_then(req, move |resp: &mut FindCoordinatorResponse, _| {
        resp.coordinators.extend(refused);
        restore_order(&mut resp.coordinators, &order, |c| c.key.clone());
    })
}

// ----- membership ----------------------------------------------------------------

pub(super) fn join(
    check: &Check<'_>,
    req: JoinGroupRequest,
) -> Outcome<JoinGroupRequest, JoinGroupResponse> {
    if check.group(AclOperation::Read, req.group_id.0.as_str()) {
        return pass(req);
    }
    let mut resp = JoinGroupResponse::default();
    resp.error_code = GROUP_DENIED.code();
    resp.generation_id = -1;
    resp.protocol_type = None;
    // Not nullable before v7.
    resp.protocol_name = (check.version < 7).then(|| str_bytes(""));
    resp.leader = str_bytes("");
    resp.member_id = str_bytes("");
    Deny(resp)
}

pub(super) fn sync(
    check: &Check<'_>,
    req: SyncGroupRequest,
) -> Outcome<SyncGroupRequest, SyncGroupResponse> {
    if check.group(AclOperation::Read, req.group_id.0.as_str()) {
        return pass(req);
    }
    let mut resp = SyncGroupResponse::default();
    resp.error_code = GROUP_DENIED.code();
    resp.protocol_type = None;
    resp.protocol_name = None;
    Deny(resp)
}

pub(super) fn heartbeat(
    check: &Check<'_>,
    req: HeartbeatRequest,
) -> Outcome<HeartbeatRequest, HeartbeatResponse> {
    if check.group(AclOperation::Read, req.group_id.0.as_str()) {
        return pass(req);
    }
    let mut resp = HeartbeatResponse::default();
    resp.error_code = GROUP_DENIED.code();
    Deny(resp)
}

pub(super) fn leave(
    check: &Check<'_>,
    req: LeaveGroupRequest,
) -> Outcome<LeaveGroupRequest, LeaveGroupResponse> {
    if check.group(AclOperation::Read, req.group_id.0.as_str()) {
        return pass(req);
    }
    let mut resp = LeaveGroupResponse::default();
    resp.error_code = GROUP_DENIED.code();
    Deny(resp)
}

// ----- offsets ---------------------------------------------------------------------

fn commit_errors(
    topic: TopicName,
    partitions: &[i32],
    error: ResponseError,
) -> OffsetCommitResponseTopic {
    let mut t = OffsetCommitResponseTopic::default();
    t.name = topic;
    t.partitions = partitions
        .iter()
        .map(|p| {
            let mut r = OffsetCommitResponsePartition::default();
            r.partition_index = *p;
            r.error_code = error.code();
            r
        })
        .collect();
    t
}

pub(super) fn offset_commit(
    check: &Check<'_>,
    mut req: OffsetCommitRequest,
) -> Outcome<OffsetCommitRequest, OffsetCommitResponse> {
    let partitions_of = |t: &kafka_protocol::messages::offset_commit_request::OffsetCommitRequestTopic| -> Vec<i32> {
        t.partitions.iter().map(|p| p.partition_index).collect()
    };
    if !check.group(AclOperation::Read, req.group_id.0.as_str()) {
        let mut resp = OffsetCommitResponse::default();
        resp.topics = req
            .topics
            .iter()
            .map(|t| commit_errors(t.name.clone(), &partitions_of(t), GROUP_DENIED))
            .collect();
        return Deny(resp);
    }
    let (kept, refused) = split_by(
        std::mem::take(&mut req.topics),
        |t| Some(t.name.0.to_string()),
        |n| check.topic(AclOperation::Read, n),
    );
    let refused: Vec<OffsetCommitResponseTopic> = refused
        .iter()
        .map(|t| commit_errors(t.name.clone(), &partitions_of(t), TOPIC_DENIED))
        .collect();
    if kept.is_empty() && !refused.is_empty() {
        let mut resp = OffsetCommitResponse::default();
        resp.topics = refused;
        return Deny(resp);
    }
    req.topics = kept;
    if refused.is_empty() {
        return pass(req);
    }
    pass_then(req, move |resp: &mut OffsetCommitResponse, _| {
        resp.topics.extend(refused)
    })
}

/// The answer to a refused OffsetFetch topic: every partition with
/// TOPIC_AUTHORIZATION_FAILED (v0-7 shape).
fn fetch_refused_v0(
    name: TopicName,
    partitions: &[i32],
    error: ResponseError,
) -> OffsetFetchResponseTopic {
    let mut t = OffsetFetchResponseTopic::default();
    t.name = name;
    t.partitions = partitions
        .iter()
        .map(|p| {
            let mut r = OffsetFetchResponsePartition::default();
            r.partition_index = *p;
            r.committed_offset = -1;
            r.committed_leader_epoch = -1;
            r.metadata = Some(str_bytes(""));
            r.error_code = error.code();
            r
        })
        .collect();
    t
}

/// The same for the v8+ (multi-group) shape.
fn fetch_refused_v8(name: TopicName, partitions: &[i32]) -> OffsetFetchResponseTopics {
    let mut t = OffsetFetchResponseTopics::default();
    t.name = name;
    t.partitions = partitions
        .iter()
        .map(|p| {
            let mut r = OffsetFetchResponsePartitions::default();
            r.partition_index = *p;
            r.committed_offset = -1;
            r.committed_leader_epoch = -1;
            r.metadata = Some(str_bytes(""));
            r.error_code = TOPIC_DENIED.code();
            r
        })
        .collect();
    t
}

pub(super) fn offset_fetch(
    check: &Check<'_>,
    mut req: OffsetFetchRequest,
) -> Outcome<OffsetFetchRequest, OffsetFetchResponse> {
    if check.version >= 8 {
        return offset_fetch_groups(check, req);
    }
    let version = check.version;
    if !check.group(AclOperation::Describe, req.group_id.0.as_str()) {
        let mut resp = OffsetFetchResponse::default();
        if version >= 2 {
            resp.error_code = GROUP_DENIED.code();
        } else {
            resp.topics = req
                .topics
                .iter()
                .flatten()
                .map(|t| fetch_refused_v0(t.name.clone(), &t.partition_indexes, GROUP_DENIED))
                .collect();
        }
        return Deny(resp);
    }
    let Some(topics) = req.topics.take() else {
        // Every committed offset: only those of topics the session may describe.
        return pass_then(req, |resp: &mut OffsetFetchResponse, c: &Check<'_>| {
            resp.topics
                .retain(|t| c.topic(AclOperation::Describe, t.name.0.as_str()))
        });
    };
    let (kept, refused) = split_by(
        topics,
        |t| Some(t.name.0.to_string()),
        |n| check.topic(AclOperation::Describe, n),
    );
    req.topics = Some(kept);
    if refused.is_empty() {
        return pass(req);
    }
    let refused: Vec<OffsetFetchResponseTopic> = refused
        .into_iter()
        .map(|t| fetch_refused_v0(t.name, &t.partition_indexes, TOPIC_DENIED))
        .collect();
    pass_then(req, move |resp: &mut OffsetFetchResponse, _| {
        resp.topics.extend(refused)
    })
}

fn offset_fetch_groups(
    check: &Check<'_>,
    mut req: OffsetFetchRequest,
) -> Outcome<OffsetFetchRequest, OffsetFetchResponse> {
    let order: Vec<GroupId> = req.groups.iter().map(|g| g.group_id.clone()).collect();
    let mut refused_groups: Vec<OffsetFetchResponseGroup> = Vec::new();
    // Per kept group: None = every partition (filter the answer), Some =
    // the refused topics to add.
    let mut per_group: Vec<(GroupId, Option<Vec<OffsetFetchResponseTopics>>)> = Vec::new();
    for mut g in std::mem::take(&mut req.groups) {
        if !check.group(AclOperation::Describe, g.group_id.0.as_str()) {
            let mut out = OffsetFetchResponseGroup::default();
            out.group_id = g.group_id;
            out.error_code = GROUP_DENIED.code();
            refused_groups.push(out);
            continue;
        }
        match g.topics.take() {
            None => per_group.push((g.group_id.clone(), None)),
            Some(topics) => {
                let (kept, refused) = split_by(
                    topics,
                    |t| Some(t.name.0.to_string()),
                    |n| check.topic(AclOperation::Describe, n),
                );
                g.topics = Some(kept);
                per_group.push((
                    g.group_id.clone(),
                    Some(
                        refused
                            .into_iter()
                            .map(|t| fetch_refused_v8(t.name, &t.partition_indexes))
                            .collect(),
                    ),
                ));
            }
        }
        req.groups.push(g);
    }
    pass_then(req, move |resp: &mut OffsetFetchResponse, c: &Check<'_>| {
        for group in &mut resp.groups {
            let Some((_, refused)) = per_group.iter_mut().find(|(id, _)| *id == group.group_id)
            else {
                continue;
            };
            match refused {
                None => group
                    .topics
                    .retain(|t| c.topic(AclOperation::Describe, t.name.0.as_str())),
                Some(list) if group.error_code == 0 => group.topics.append(list),
                Some(_) => {}
            }
        }
        resp.groups.extend(refused_groups);
        restore_order(&mut resp.groups, &order, |g| g.group_id.clone());
    })
}

// ----- administration --------------------------------------------------------------

pub(super) fn list_groups(
    check: &Check<'_>,
    req: ListGroupsRequest,
) -> Outcome<ListGroupsRequest, ListGroupsResponse> {
    if check.cluster(AclOperation::Describe) {
        return pass(req);
    }
    pass_then(req, |resp: &mut ListGroupsResponse, c: &Check<'_>| {
        resp.groups
            .retain(|g| c.group(AclOperation::Describe, g.group_id.0.as_str()))
    })
}

pub(super) fn describe_groups(
    check: &Check<'_>,
    mut req: DescribeGroupsRequest,
) -> Outcome<DescribeGroupsRequest, DescribeGroupsResponse> {
    let version = check.version;
    let include_ops = version >= 3 && req.include_authorized_operations;
    let order = req.groups.clone();
    let (kept, refused) = split_by(
        std::mem::take(&mut req.groups),
        |g| Some(g.0.to_string()),
        |n| check.group(AclOperation::Describe, n),
    );
    req.groups = kept;
    let refused: Vec<DescribedGroup> = refused
        .into_iter()
        .map(|id| {
            let mut g = DescribedGroup::default();
            g.group_id = id;
            g.error_code = GROUP_DENIED.code();
            g.group_state = str_bytes("");
            g.protocol_type = str_bytes("");
            g.protocol_data = str_bytes("");
            g.authorized_operations = i32::MIN;
            g
        })
        .collect();
    if refused.is_empty() && !include_ops {
        return pass(req);
    }
    pass_then(
        req,
        move |resp: &mut DescribeGroupsResponse, c: &Check<'_>| {
            if include_ops {
                for g in &mut resp.groups {
                    if g.error_code == 0 {
                        g.authorized_operations =
                            c.operations(AclResourceType::Group, g.group_id.0.as_str());
                    }
                }
            }
            resp.groups.extend(refused);
            restore_order(&mut resp.groups, &order, |g| g.group_id.clone());
        },
    )
}

pub(super) fn delete_groups(
    check: &Check<'_>,
    mut req: DeleteGroupsRequest,
) -> Outcome<DeleteGroupsRequest, DeleteGroupsResponse> {
    let order = req.groups_names.clone();
    let (kept, refused) = split_by(
        std::mem::take(&mut req.groups_names),
        |g| Some(g.0.to_string()),
        |n| check.group(AclOperation::Delete, n),
    );
    req.groups_names = kept;
    if refused.is_empty() {
        return pass(req);
    }
    let refused: Vec<DeletableGroupResult> = refused
        .into_iter()
        .map(|id| {
            let mut r = DeletableGroupResult::default();
            r.group_id = id;
            r.error_code = GROUP_DENIED.code();
            r
        })
        .collect();
    pass_then(req, move |resp: &mut DeleteGroupsResponse, _| {
        resp.results.extend(refused);
        restore_order(&mut resp.results, &order, |r| r.group_id.clone());
    })
}

pub(super) fn offset_delete(
    check: &Check<'_>,
    req: OffsetDeleteRequest,
) -> Outcome<OffsetDeleteRequest, OffsetDeleteResponse> {
    if !check.group(AclOperation::Delete, req.group_id.0.as_str()) {
        let mut resp = OffsetDeleteResponse::default();
        resp.error_code = GROUP_DENIED.code();
        return Deny(resp);
    }
    refuse_topics(
        check,
        req,
        |r| &mut r.topics,
        |t| t.name.0.to_string(),
        AclOperation::Read,
        |t| {
            let mut out = OffsetDeleteResponseTopic::default();
            out.name = t.name;
            out.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = OffsetDeleteResponsePartition::default();
                    r.partition_index = p.partition_index;
                    r.error_code = TOPIC_DENIED.code();
                    r
                })
                .collect();
            out
        },
        |r| &mut r.topics,
    )
}

// ----- KIP-848 consumer groups ----------------------------------------------------

pub(super) fn consumer_group_heartbeat(
    check: &Check<'_>,
    req: ConsumerGroupHeartbeatRequest,
) -> Outcome<ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse> {
    let refuse = |error: ResponseError| {
        let mut resp = ConsumerGroupHeartbeatResponse::default();
        resp.error_code = error.code();
        resp.error_message = Some(str_bytes(message(error)));
        resp.member_epoch = -1;
        Deny(resp)
    };
    if !check.group(AclOperation::Read, req.group_id.0.as_str()) {
        return refuse(GROUP_DENIED);
    }
    // As Kafka: a member may not subscribe to topics it may not describe.
    let hidden = req.subscribed_topic_names.as_ref().is_some_and(|names| {
        names
            .iter()
            .any(|n| !check.topic(AclOperation::Describe, n.0.as_str()))
    });
    if hidden {
        return refuse(TOPIC_DENIED);
    }
    pass(req)
}

pub(super) fn consumer_group_describe(
    check: &Check<'_>,
    mut req: ConsumerGroupDescribeRequest,
) -> Outcome<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse> {
    let include_ops = req.include_authorized_operations;
    let order = req.group_ids.clone();
    let (kept, refused) = split_by(
        std::mem::take(&mut req.group_ids),
        |g| Some(g.0.to_string()),
        |n| check.group(AclOperation::Describe, n),
    );
    req.group_ids = kept;
    let refused: Vec<kafka_protocol::messages::consumer_group_describe_response::DescribedGroup> =
        refused
            .into_iter()
            .map(|id| {
                let mut g =
                    kafka_protocol::messages::consumer_group_describe_response::DescribedGroup::default();
                g.group_id = id;
                g.error_code = GROUP_DENIED.code();
                g.error_message = Some(str_bytes(message(GROUP_DENIED)));
                g.authorized_operations = i32::MIN;
                g
            })
            .collect();
    // Always completed: as Kafka, a group whose members hold topics the
    // session may not describe is refused rather than shown.
    pass_then(
        req,
        move |resp: &mut ConsumerGroupDescribeResponse, c: &Check<'_>| {
            for g in &mut resp.groups {
                let hidden = g.members.iter().any(|m| {
                    m.assignment
                        .topic_partitions
                        .iter()
                        .chain(&m.target_assignment.topic_partitions)
                        .any(|tp| !c.topic(AclOperation::Describe, tp.topic_name.0.as_str()))
                });
                if g.error_code == 0 && hidden {
                    g.error_code = TOPIC_DENIED.code();
                    g.error_message = Some(str_bytes(
                        "The group has described topic(s) that the client is not authorized to describe.",
                    ));
                    g.members.clear();
                }
            }
            if include_ops {
                for g in &mut resp.groups {
                    if g.error_code == 0 {
                        g.authorized_operations =
                            c.operations(AclResourceType::Group, g.group_id.0.as_str());
                    }
                }
            }
            resp.groups.extend(refused);
            restore_order(&mut resp.groups, &order, |g| g.group_id.clone());
        },
    )
}
