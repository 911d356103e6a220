//! `/clusters/{id}/consumer-groups`: consumer groups, their consumers and
//! the partitions assigned to each, as Confluent's REST v3 shows them.
//! Groups are listed with ListGroups and described as Kafka's admin client
//! describes them (ConsumerGroupDescribe for KIP-848 groups, DescribeGroups
//! with the consumer protocol's assignment bytes for classic ones, and
//! FindCoordinator for the coordinator), each through the broker's gate,
//! so a group the caller may not describe is not there. Must never change
//! a group.

use axum::Json;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::consumer_group_describe_response::DescribedGroup as ModernGroup;
use kafka_protocol::messages::describe_groups_response::DescribedGroup as ClassicGroup;
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId,
    ListGroupsRequest,
};
use kafka_protocol::protocol::StrBytes;
use serde::Serialize;
use strait_client::admin::groups::decode_consumer_assignment;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{PathOf, expect_response};
use crate::caller::RestCall;
use crate::envelope::{ListMetadata, Related, ResourceMetadata, crn, list_type, segment};
use crate::error::ErrorBody;
use crate::{AppState, RestError};

/// Confluent's names of Kafka's group states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsumerGroupState {
    Unknown,
    PreparingRebalance,
    CompletingRebalance,
    Assigning,
    Reconciling,
    Stable,
    Dead,
    Empty,
}

impl ConsumerGroupState {
    /// The state of a Kafka state name (`PreparingRebalance`, `Stable`, ...).
    fn of_kafka(name: &str) -> Self {
        const NAMES: [(&str, ConsumerGroupState); 7] = [
            ("PreparingRebalance", ConsumerGroupState::PreparingRebalance),
            (
                "CompletingRebalance",
                ConsumerGroupState::CompletingRebalance,
            ),
            ("Assigning", ConsumerGroupState::Assigning),
            ("Reconciling", ConsumerGroupState::Reconciling),
            ("Stable", ConsumerGroupState::Stable),
            ("Dead", ConsumerGroupState::Dead),
            ("Empty", ConsumerGroupState::Empty),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(ConsumerGroupState::Unknown, |(_, s)| *s)
    }
}

/// Which group protocol a group speaks: classic (JoinGroup/SyncGroup) or
/// KIP-848's consumer protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsumerGroupType {
    Classic,
    Consumer,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsumerGroupData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub cluster_id: String,
    pub consumer_group_id: String,
    pub is_simple: bool,
    pub partition_assignor: String,
    pub state: ConsumerGroupState,
    #[serde(rename = "type")]
    pub group_type: ConsumerGroupType,
    pub is_mixed_consumer_group: bool,
    pub coordinator: Related,
    pub consumers: Related,
    pub lag_summary: Related,
}
list_type!(ConsumerGroupDataList, ConsumerGroupData);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsumerData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub cluster_id: String,
    pub consumer_group_id: String,
    pub consumer_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub assignments: Related,
}
list_type!(ConsumerDataList, ConsumerData);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsumerAssignmentData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub cluster_id: String,
    pub consumer_group_id: String,
    pub consumer_id: String,
    pub topic_name: String,
    pub partition_id: i32,
    pub partition: Related,
    pub lag: Related,
}
list_type!(ConsumerAssignmentDataList, ConsumerAssignmentData);

/// A consumer group as described.
#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub is_simple: bool,
    pub partition_assignor: String,
    pub state: ConsumerGroupState,
    pub group_type: ConsumerGroupType,
    pub is_mixed: bool,
    pub coordinator: i32,
    pub members: Vec<Member>,
}

/// One member of a group and the partitions it holds.
#[derive(Debug, Clone)]
pub struct Member {
    pub consumer_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub assignment: Vec<(String, i32)>,
}

impl Group {
    /// The member holding `topic`-`partition`, if one does.
    pub fn owner(&self, topic: &str, partition: i32) -> Option<&Member> {
        self.members.iter().find(|m| {
            m.assignment
                .iter()
                .any(|(t, p)| t == topic && *p == partition)
        })
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups))
        .routes(routes!(get_group))
        .routes(routes!(list_consumers))
        .routes(routes!(get_consumer))
        .routes(routes!(list_assignments))
        .routes(routes!(get_assignment))
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Whether a describe error means the group is not there for this caller:
/// unknown, or one it may not describe (Confluent skips both).
fn absent(code: i16) -> bool {
    code == ResponseError::GroupIdNotFound.code()
        || code == ResponseError::GroupAuthorizationFailed.code()
}

fn modern_group(g: ModernGroup) -> Group {
    let members: Vec<Member> = g
        .members
        .into_iter()
        .map(|m| Member {
            consumer_id: m.member_id.to_string(),
            instance_id: m.instance_id.map(|s| s.to_string()),
            client_id: m.client_id.to_string(),
            assignment: m
                .assignment
                .topic_partitions
                .iter()
                .flat_map(|tp| {
                    let topic = tp.topic_name.0.to_string();
                    tp.partitions.iter().map(move |p| (topic.clone(), *p))
                })
                .collect(),
        })
        .collect();
    Group {
        id: g.group_id.0.to_string(),
        is_simple: false,
        partition_assignor: g.assignor_name.to_string(),
        state: ConsumerGroupState::of_kafka(g.group_state.as_str()),
        group_type: ConsumerGroupType::Consumer,
        coordinator: -1,
        members,
        is_mixed: false,
    }
}

/// A classic group, or `None` when it does not exist or does not speak the
/// consumer protocol.
fn classic_group(g: ClassicGroup) -> Result<Option<Group>, RestError> {
    let protocol_type = g.protocol_type.as_str();
    let state = ConsumerGroupState::of_kafka(g.group_state.as_str());
    // A group nobody knows is described as a dead group of no protocol.
    if protocol_type.is_empty() && state == ConsumerGroupState::Dead {
        return Ok(None);
    }
    if protocol_type != "consumer" && !protocol_type.is_empty() {
        return Ok(None);
    }
    let mut members = Vec::new();
    for m in g.members {
        let assignment = decode_consumer_assignment(&m.member_assignment)
            .map_err(|e| RestError::internal(format!("member {}: {e}", m.member_id)))?;
        members.push(Member {
            consumer_id: m.member_id.to_string(),
            instance_id: m.group_instance_id.map(|s| s.to_string()),
            client_id: m.client_id.to_string(),
            assignment: assignment
                .into_iter()
                .map(|tp| (tp.topic, tp.partition))
                .collect(),
        });
    }
    Ok(Some(Group {
        id: g.group_id.0.to_string(),
        is_simple: protocol_type.is_empty(),
        partition_assignor: g.protocol_data.to_string(),
        state,
        group_type: ConsumerGroupType::Classic,
        is_mixed: false,
        coordinator: -1,
        members,
    }))
}

/// Describes `ids` as Kafka's admin client does: ConsumerGroupDescribe
/// first, DescribeGroups for the groups it does not know as consumer
/// groups, then each group's coordinator. Groups that do not exist, or
/// that the caller may not describe, are left out.
pub async fn describe(rc: &RestCall, ids: &[String]) -> Result<Vec<Group>, RestError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut req = ConsumerGroupDescribeRequest::default();
    req.group_ids = ids.iter().map(|id| GroupId(str_bytes(id))).collect();
    let resp = expect_response!(rc.kafka(req, 1).await?, ConsumerGroupDescribe);
    let mut groups = Vec::new();
    let mut classic = Vec::new();
    for g in resp.groups {
        if g.error_code == ResponseError::GroupIdNotFound.code() {
            classic.push(g.group_id);
        } else if absent(g.error_code) {
            continue;
        } else if g.error_code != 0 {
            return Err(RestError::kafka(g.error_code, g.error_message.as_deref()));
        } else {
            // Members of the consumer protocol report type 1; any other
            // member is a classic one not yet upgraded.
            let mixed = g.members.iter().any(|m| m.member_type != 1);
            let mut group = modern_group(g);
            group.is_mixed = mixed;
            groups.push(group);
        }
    }
    if !classic.is_empty() {
        let mut req = DescribeGroupsRequest::default();
        req.groups = classic;
        let resp = expect_response!(rc.kafka(req, 5).await?, DescribeGroups);
        for g in resp.groups {
            if absent(g.error_code) {
                continue;
            }
            if g.error_code != 0 {
                return Err(RestError::kafka(g.error_code, g.error_message.as_deref()));
            }
            if let Some(group) = classic_group(g)? {
                groups.push(group);
            }
        }
    }
    coordinators(rc, &mut groups).await?;
    groups.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(groups)
}

/// Fills in each group's coordinator from FindCoordinator.
async fn coordinators(rc: &RestCall, groups: &mut [Group]) -> Result<(), RestError> {
    if groups.is_empty() {
        return Ok(());
    }
    let mut req = FindCoordinatorRequest::default();
    req.key_type = 0;
    req.coordinator_keys = groups.iter().map(|g| str_bytes(&g.id)).collect();
    let resp = expect_response!(rc.kafka(req, 4).await?, FindCoordinator);
    for c in resp.coordinators {
        if c.error_code != 0 {
            return Err(RestError::kafka(c.error_code, c.error_message.as_deref()));
        }
        for g in groups.iter_mut().filter(|g| g.id == c.key.as_str()) {
            g.coordinator = c.node_id.0;
        }
    }
    Ok(())
}

/// One group, or `None` when it is not there for this caller.
pub async fn find(rc: &RestCall, id: &str) -> Result<Option<Group>, RestError> {
    let mut groups = describe(rc, &[id.to_string()]).await?;
    Ok(groups.pop().filter(|g| g.id == id))
}

/// The group, or a 404 saying `message` (`{}` is the group id).
async fn group_or(rc: &RestCall, id: &str, message: &str) -> Result<Group, RestError> {
    find(rc, id)
        .await?
        .ok_or_else(|| RestError::not_found(message.replace("{}", id)))
}

pub fn group_url(rc: &RestCall, id: &str) -> String {
    format!("{}/consumer-groups/{}", rc.cluster_url, segment(id))
}

fn group_data(rc: &RestCall, g: &Group) -> ConsumerGroupData {
    let url = group_url(rc, &g.id);
    ConsumerGroupData {
        kind: "KafkaConsumerGroup".into(),
        metadata: ResourceMetadata {
            self_url: url.clone(),
            resource_name: Some(crn(&rc.cluster_id, &[("consumer-group", &g.id)])),
        },
        cluster_id: rc.cluster_id.clone(),
        consumer_group_id: g.id.clone(),
        is_simple: g.is_simple,
        partition_assignor: g.partition_assignor.clone(),
        state: g.state,
        group_type: g.group_type,
        is_mixed_consumer_group: g.is_mixed,
        coordinator: Related::to(format!("{}/brokers/{}", rc.cluster_url, g.coordinator)),
        consumers: Related::to(format!("{url}/consumers")),
        lag_summary: Related::to(format!("{url}/lag-summary")),
    }
}

fn consumer_data(rc: &RestCall, group: &str, m: &Member) -> ConsumerData {
    let url = format!(
        "{}/consumers/{}",
        group_url(rc, group),
        segment(&m.consumer_id)
    );
    ConsumerData {
        kind: "KafkaConsumer".into(),
        metadata: ResourceMetadata {
            self_url: url.clone(),
            resource_name: Some(crn(
                &rc.cluster_id,
                &[("consumer-group", group), ("consumer", &m.consumer_id)],
            )),
        },
        cluster_id: rc.cluster_id.clone(),
        consumer_group_id: group.to_string(),
        consumer_id: m.consumer_id.clone(),
        instance_id: m.instance_id.clone(),
        client_id: m.client_id.clone(),
        assignments: Related::to(format!("{url}/assignments")),
    }
}

fn assignment_data(
    rc: &RestCall,
    group: &str,
    consumer: &str,
    topic: &str,
    partition: i32,
) -> ConsumerAssignmentData {
    let group_url = group_url(rc, group);
    let p = partition.to_string();
    ConsumerAssignmentData {
        kind: "KafkaConsumerAssignment".into(),
        metadata: ResourceMetadata {
            self_url: format!(
                "{group_url}/consumers/{}/assignments/{topic}/partitions/{p}",
                segment(consumer)
            ),
            resource_name: Some(crn(
                &rc.cluster_id,
                &[
                    ("consumer-group", group),
                    ("consumer", consumer),
                    ("assignment", topic),
                    ("partition", &p),
                ],
            )),
        },
        cluster_id: rc.cluster_id.clone(),
        consumer_group_id: group.to_string(),
        consumer_id: consumer.to_string(),
        topic_name: topic.to_string(),
        partition_id: partition,
        partition: Related::to(format!("{}/topics/{topic}/partitions/{p}", rc.cluster_url)),
        lag: Related::to(format!("{group_url}/lags/{topic}/partitions/{p}")),
    }
}

/// The consumer's assignments, sorted by topic and partition, or a 404.
async fn assignments(
    rc: &RestCall,
    group: &str,
    consumer: &str,
) -> Result<Vec<ConsumerAssignmentData>, RestError> {
    let g = group_or(rc, group, "Consumer Group {} does not exist.").await?;
    let member = g
        .members
        .iter()
        .find(|m| m.consumer_id == consumer)
        .ok_or_else(|| RestError::not_found(format!("Consumer {consumer} does not exist.")))?;
    let mut held = member.assignment.clone();
    held.sort();
    Ok(held
        .iter()
        .map(|(t, p)| assignment_data(rc, group, consumer, t, *p))
        .collect())
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/consumer-groups", tag = "Consumer Group",
    params(("cluster_id" = String, Path)),
    responses((status = 200, body = ConsumerGroupDataList), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_groups(
    rc: RestCall,
    PathOf(cluster_id): PathOf<String>,
) -> Result<Json<ConsumerGroupDataList>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let resp = expect_response!(rc.kafka(ListGroupsRequest::default(), 5).await?, ListGroups);
    if resp.error_code != 0 {
        return Err(RestError::kafka(resp.error_code, None));
    }
    // As the admin client's listConsumerGroups: groups of the consumer
    // protocol, and simple groups (offsets only, no protocol).
    let ids: Vec<String> = resp
        .groups
        .iter()
        .filter(|g| matches!(g.protocol_type.as_str(), "" | "consumer"))
        .map(|g| g.group_id.0.to_string())
        .collect();
    let groups = describe(&rc, &ids).await?;
    Ok(Json(ConsumerGroupDataList {
        kind: "KafkaConsumerGroupList".into(),
        metadata: ListMetadata::of(format!("{}/consumer-groups", rc.cluster_url)),
        data: groups.iter().map(|g| group_data(&rc, g)).collect(),
    }))
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/consumer-groups/{consumer_group_id}",
    tag = "Consumer Group",
    params(("cluster_id" = String, Path), ("consumer_group_id" = String, Path)),
    responses((status = 200, body = ConsumerGroupData), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn get_group(
    rc: RestCall,
    PathOf((cluster_id, group)): PathOf<(String, String)>,
) -> Result<Json<ConsumerGroupData>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let g = group_or(&rc, &group, "HTTP 404 Not Found").await?;
    Ok(Json(group_data(&rc, &g)))
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/consumer-groups/{consumer_group_id}/consumers",
    tag = "Consumer Group",
    params(("cluster_id" = String, Path), ("consumer_group_id" = String, Path)),
    responses((status = 200, body = ConsumerDataList), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn list_consumers(
    rc: RestCall,
    PathOf((cluster_id, group)): PathOf<(String, String)>,
) -> Result<Json<ConsumerDataList>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let g = group_or(&rc, &group, "Consumer Group {} does not exist.").await?;
    let mut data: Vec<ConsumerData> = g
        .members
        .iter()
        .map(|m| consumer_data(&rc, &group, m))
        .collect();
    data.sort_by(|a, b| a.consumer_id.cmp(&b.consumer_id));
    Ok(Json(ConsumerDataList {
        kind: "KafkaConsumerList".into(),
        metadata: ListMetadata::of(format!("{}/consumers", group_url(&rc, &group))),
        data,
    }))
}

#[utoipa::path(get,
    path = "/clusters/{cluster_id}/consumer-groups/{consumer_group_id}/consumers/{consumer_id}",
    tag = "Consumer Group",
    params(("cluster_id" = String, Path), ("consumer_group_id" = String, Path),
           ("consumer_id" = String, Path)),
    responses((status = 200, body = ConsumerData), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn get_consumer(
    rc: RestCall,
    PathOf((cluster_id, group, consumer)): PathOf<(String, String, String)>,
) -> Result<Json<ConsumerData>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let g = group_or(&rc, &group, "Consumer Group {} does not exist.").await?;
    g.members
        .iter()
        .find(|m| m.consumer_id == consumer)
        .map(|m| Json(consumer_data(&rc, &group, m)))
        .ok_or_else(|| RestError::not_found("HTTP 404 Not Found"))
}

#[utoipa::path(get,
    path = "/clusters/{cluster_id}/consumer-groups/{consumer_group_id}/consumers/{consumer_id}/assignments",
    tag = "Consumer Group",
    params(("cluster_id" = String, Path), ("consumer_group_id" = String, Path),
           ("consumer_id" = String, Path)),
    responses((status = 200, body = ConsumerAssignmentDataList), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn list_assignments(
    rc: RestCall,
    PathOf((cluster_id, group, consumer)): PathOf<(String, String, String)>,
) -> Result<Json<ConsumerAssignmentDataList>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let data = assignments(&rc, &group, &consumer).await?;
    Ok(Json(ConsumerAssignmentDataList {
        kind: "KafkaConsumerAssignmentList".into(),
        metadata: ListMetadata::of(format!(
            "{}/consumers/{}/assignments",
            group_url(&rc, &group),
            segment(&consumer)
        )),
        data,
    }))
}

#[utoipa::path(get,
    path = "/clusters/{cluster_id}/consumer-groups/{consumer_group_id}/consumers/{consumer_id}/assignments/{topic_name}/partitions/{partition_id}",
    tag = "Consumer Group",
    params(("cluster_id" = String, Path), ("consumer_group_id" = String, Path),
           ("consumer_id" = String, Path), ("topic_name" = String, Path),
           ("partition_id" = i32, Path)),
    responses((status = 200, body = ConsumerAssignmentData), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_assignment(
    rc: RestCall,
    PathOf((cluster_id, group, consumer, topic, partition)): PathOf<(
        String,
        String,
        String,
        String,
        i32,
    )>,
) -> Result<Json<ConsumerAssignmentData>, RestError> {
    rc.check_cluster(&cluster_id)?;
    assignments(&rc, &group, &consumer)
        .await?
        .into_iter()
        .find(|a| a.topic_name == topic && a.partition_id == partition)
        .map(Json)
        .ok_or_else(|| RestError::not_found("HTTP 404 Not Found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_states_take_confluents_names() {
        let cases = [
            ("PreparingRebalance", "\"PREPARING_REBALANCE\""),
            ("CompletingRebalance", "\"COMPLETING_REBALANCE\""),
            ("Stable", "\"STABLE\""),
            ("Empty", "\"EMPTY\""),
            ("Dead", "\"DEAD\""),
            ("Assigning", "\"ASSIGNING\""),
            ("Reconciling", "\"RECONCILING\""),
            ("NotAState", "\"UNKNOWN\""),
        ];
        for (kafka, json) in cases {
            let state = ConsumerGroupState::of_kafka(kafka);
            assert_eq!(serde_json::to_string(&state).ok().as_deref(), Some(json));
        }
    }

    fn classic(protocol_type: &str, state: &str) -> ClassicGroup {
        let mut g = ClassicGroup::default();
        g.group_id = GroupId(str_bytes("g"));
        g.protocol_type = str_bytes(protocol_type);
        g.group_state = str_bytes(state);
        g.protocol_data = str_bytes("range");
        g
    }

    #[test]
    fn unknown_and_foreign_groups_are_not_consumer_groups() {
        assert!(matches!(classic_group(classic("", "Dead")), Ok(None)));
        assert!(matches!(
            classic_group(classic("connect", "Stable")),
            Ok(None)
        ));
        let simple = classic_group(classic("", "Empty")).ok().flatten();
        assert!(simple.is_some_and(|g| g.is_simple && g.state == ConsumerGroupState::Empty));
        let consumer = classic_group(classic("consumer", "Stable")).ok().flatten();
        assert!(consumer.is_some_and(|g| !g.is_simple && g.partition_assignor == "range"));
    }

    #[test]
    fn a_bad_assignment_is_an_error_not_a_panic() {
        let mut g = classic("consumer", "Stable");
        let mut m =
            kafka_protocol::messages::describe_groups_response::DescribedGroupMember::default();
        m.member_assignment = bytes::Bytes::from_static(&[0, 1, 0]);
        g.members.push(m);
        assert!(classic_group(g).is_err());
    }
}
