//! The KIP-848 consumer group APIs: ConsumerGroupHeartbeat and
//! ConsumerGroupDescribe. Translates topic ids to names and back (the
//! coordinator speaks names) and `GroupError` to Kafka's codes; must never
//! decide group semantics itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::consumer_group_describe_response::{
    self as describe_response, DescribedGroup,
};
use kafka_protocol::messages::consumer_group_heartbeat_response::{
    self as heartbeat_response, Assignment as HeartbeatAssignment,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse, RequestHeader,
};
use uuid::Uuid;

use super::groups::{client_host, client_id, group_error};
use super::{str_bytes, topic_name};
use crate::group::GroupError;
use crate::group::consumer::{Assignment, ConsumerHeartbeat};
use crate::server::ConnectionContext;
use crate::state::Broker;

/// The topics that exist now: partition counts by name, and names by id.
struct TopicView {
    partitions: BTreeMap<String, i32>,
    names: BTreeMap<Uuid, String>,
    ids: BTreeMap<String, Uuid>,
}

impl TopicView {
    fn of(broker: &Broker) -> Self {
        let mut view = TopicView {
            partitions: BTreeMap::new(),
            names: BTreeMap::new(),
            ids: BTreeMap::new(),
        };
        for t in broker.topics.all() {
            let count = i32::try_from(t.partitions.len()).unwrap_or(i32::MAX);
            view.partitions.insert(t.name.clone(), count);
            view.names.insert(t.id, t.name.clone());
            view.ids.insert(t.name.clone(), t.id);
        }
        view
    }

    fn id(&self, name: &str) -> Uuid {
        self.ids.get(name).copied().unwrap_or(Uuid::nil())
    }
}

pub fn heartbeat(
    broker: &Arc<Broker>,
    req: ConsumerGroupHeartbeatRequest,
    version: i16,
    header: &RequestHeader,
    ctx: &ConnectionContext,
) -> ConsumerGroupHeartbeatResponse {
    let topics = TopicView::of(broker);
    // Partitions of topics that no longer exist are owned by nobody here.
    let owned = req.topic_partitions.map(|tps| {
        let mut owned = Assignment::new();
        for tp in tps {
            if let Some(name) = topics.names.get(&tp.topic_id) {
                owned.entry(name.clone()).or_default().extend(tp.partitions);
            }
        }
        owned
    });
    let request = ConsumerHeartbeat {
        group_id: req.group_id.0.to_string(),
        member_id: req.member_id.to_string(),
        member_epoch: req.member_epoch,
        instance_id: req.instance_id.map(|s| s.to_string()),
        rack_id: req.rack_id.map(|s| s.to_string()),
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        subscribed_topic_names: req
            .subscribed_topic_names
            .map(|ns| ns.into_iter().map(|n| n.0.to_string()).collect()),
        subscribed_topic_regex: req.subscribed_topic_regex.map(|s| s.to_string()),
        server_assignor: req.server_assignor.map(|s| s.to_string()),
        owned,
        client_id: client_id(header),
        client_host: client_host(ctx),
    };
    let mut resp = ConsumerGroupHeartbeatResponse::default();
    match broker
        .groups
        .consumer_heartbeat(&request, version, &topics.partitions)
    {
        Ok(answer) => {
            resp.member_id = Some(str_bytes(answer.member_id));
            resp.member_epoch = answer.member_epoch;
            resp.heartbeat_interval_ms = answer.heartbeat_interval_ms;
            resp.assignment = answer.assignment.map(|a| {
                let mut out = HeartbeatAssignment::default();
                out.topic_partitions = a
                    .into_iter()
                    .filter(|(_, ps)| !ps.is_empty())
                    .map(|(name, ps)| {
                        let mut tp = heartbeat_response::TopicPartitions::default();
                        tp.topic_id = topics.id(&name);
                        tp.partitions = ps.into_iter().collect();
                        tp
                    })
                    .collect();
                out
            });
        }
        Err(e) => {
            if let GroupError::InvalidRequest(why) = &e {
                tracing::warn!(
                    "invalid ConsumerGroupHeartbeat from {} for group {} (member {:?}, epoch {}): {why}",
                    request.client_host,
                    request.group_id,
                    request.member_id,
                    request.member_epoch
                );
            } else {
                tracing::debug!(
                    "ConsumerGroupHeartbeat for group {} (member {:?}, epoch {}): {e}",
                    request.group_id,
                    request.member_id,
                    request.member_epoch
                );
            }
            resp.error_code = group_error(&e).code();
            resp.error_message = Some(str_bytes(match &e {
                GroupError::GroupIdNotFound => {
                    format!("Group {} is not a consumer group.", request.group_id)
                }
                GroupError::UnknownMemberId => format!(
                    "Member {} is not a member of group {}.",
                    request.member_id, request.group_id
                ),
                other => other.to_string(),
            }));
            resp.member_epoch = -1;
        }
    }
    resp
}

/// Group operations a caller may perform without ACLs: READ, DELETE, DESCRIBE.
const GROUP_AUTHORIZED_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

fn describe_assignment(topics: &TopicView, a: Assignment) -> describe_response::Assignment {
    let mut out = describe_response::Assignment::default();
    out.topic_partitions = a
        .into_iter()
        .filter(|(_, ps)| !ps.is_empty())
        .map(|(name, ps)| {
            let mut tp = describe_response::TopicPartitions::default();
            tp.topic_id = topics.id(&name);
            tp.topic_name = topic_name(name);
            tp.partitions = ps.into_iter().collect();
            tp
        })
        .collect();
    out
}

pub fn describe(
    broker: &Arc<Broker>,
    req: ConsumerGroupDescribeRequest,
    version: i16,
) -> ConsumerGroupDescribeResponse {
    let topics = TopicView::of(broker);
    let mut resp = ConsumerGroupDescribeResponse::default();
    for id in req.group_ids {
        let mut g = DescribedGroup::default();
        let name = id.0.to_string();
        g.group_id = id;
        g.authorized_operations = if req.include_authorized_operations {
            GROUP_AUTHORIZED_OPERATIONS
        } else {
            i32::MIN
        };
        match broker.groups.describe_consumer_group(&name) {
            Ok(d) => {
                g.group_state = str_bytes(d.state.as_str());
                g.group_epoch = d.group_epoch;
                g.assignment_epoch = d.assignment_epoch;
                g.assignor_name = str_bytes(d.assignor_name);
                g.members = d
                    .members
                    .into_iter()
                    .map(|m| {
                        let mut out = describe_response::Member::default();
                        out.member_id = str_bytes(m.member_id);
                        out.instance_id = m.instance_id.map(str_bytes);
                        out.rack_id = m.rack_id.map(str_bytes);
                        out.member_epoch = m.member_epoch;
                        out.client_id = str_bytes(m.client_id);
                        out.client_host = str_bytes(m.client_host);
                        out.subscribed_topic_names = m
                            .subscribed_topic_names
                            .into_iter()
                            .map(topic_name)
                            .collect();
                        out.assignment = describe_assignment(&topics, m.assignment);
                        out.target_assignment = describe_assignment(&topics, m.target_assignment);
                        if version >= 1 {
                            // 1: a member speaking the consumer protocol.
                            out.member_type = 1;
                        }
                        out
                    })
                    .collect();
            }
            Err(e) => {
                let classic =
                    broker.groups.describe_group(&name).state != crate::group::GroupState::Dead;
                g.error_code = group_error(&e).code();
                g.error_message = Some(str_bytes(if classic {
                    format!("Group {name} is not a consumer group.")
                } else {
                    format!("Group {name} not found.")
                }));
                g.group_state = str_bytes("Dead");
            }
        }
        resp.groups.push(g);
    }
    resp
}
