//! `/clusters/{id}/consumer-groups/{id}/lags` and `.../lag-summary`: how far
//! each committed offset of a group is behind its partition's end, as
//! Confluent computes it: the group's committed offsets (OffsetFetch), the
//! latest read-committed offsets (ListOffsets), and the member holding each
//! partition. Must never commit or reset an offset.

use std::collections::BTreeMap;

use axum::Json;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::{
    BrokerId, GroupId, ListOffsetsRequest, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::groups::{self, Group, group_url};
use super::{PathOf, expect_response};
use crate::caller::RestCall;
use crate::envelope::{ListMetadata, Related, ResourceMetadata, crn, list_type, segment};
use crate::error::ErrorBody;
use crate::{AppState, RestError};

/// ListOffsets' timestamp for "the latest offset".
const LATEST: i64 = -1;
/// ListOffsets' isolation level READ_COMMITTED, as Confluent asks.
const READ_COMMITTED: i8 = 1;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsumerLagData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub cluster_id: String,
    pub consumer_group_id: String,
    pub topic_name: String,
    pub partition_id: i32,
    pub current_offset: i64,
    pub log_end_offset: i64,
    pub lag: i64,
    pub consumer_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
}
list_type!(ConsumerLagDataList, ConsumerLagData);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsumerGroupLagSummaryData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub cluster_id: String,
    pub consumer_group_id: String,
    pub max_lag_consumer_id: String,
    pub max_lag_instance_id: Option<String>,
    pub max_lag_client_id: String,
    pub max_lag_topic_name: String,
    pub max_lag_partition_id: i32,
    pub max_lag: i64,
    pub total_lag: i64,
    pub max_lag_consumer: Related,
    pub max_lag_partition: Related,
}

/// One partition's lag: the committed offset, the end, and who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub current_offset: i64,
    pub log_end_offset: i64,
    pub consumer_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
}

impl PartitionLag {
    /// Never negative, as Confluent reports it.
    pub fn lag(&self) -> i64 {
        (self.log_end_offset - self.current_offset).max(0)
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_lag_summary))
        .routes(routes!(list_lags))
        .routes(routes!(get_lag))
}

type Offsets = BTreeMap<(String, i32), i64>;

/// The group's committed offsets; partitions without one are left out.
async fn committed(rc: &RestCall, group: &str) -> Result<Offsets, RestError> {
    let mut g = OffsetFetchRequestGroup::default();
    g.group_id = GroupId(StrBytes::from_string(group.to_string()));
    g.topics = None;
    let mut req = OffsetFetchRequest::default();
    req.groups = vec![g];
    let resp = expect_response!(rc.kafka(req, 8).await?, OffsetFetch);
    let mut out = Offsets::new();
    for g in resp.groups {
        if g.error_code != 0 {
            return Err(RestError::kafka(g.error_code, None));
        }
        for t in g.topics {
            for p in t.partitions {
                if p.error_code == 0 && p.committed_offset >= 0 {
                    out.insert(
                        (t.name.0.to_string(), p.partition_index),
                        p.committed_offset,
                    );
                }
            }
        }
    }
    Ok(out)
}

/// The latest read-committed offset of each partition of `committed`. A
/// partition whose topic is gone is left out, as a partition without an
/// end offset is in Confluent's lags.
async fn latest(rc: &RestCall, committed: &Offsets) -> Result<Offsets, RestError> {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in committed.keys() {
        topics.entry(t).or_default().push(*p);
    }
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(-1);
    req.isolation_level = READ_COMMITTED;
    req.topics = topics
        .into_iter()
        .map(|(name, partitions)| {
            let mut t = ListOffsetsTopic::default();
            t.name = TopicName(StrBytes::from_string(name.to_string()));
            t.partitions = partitions
                .into_iter()
                .map(|p| {
                    let mut lp = ListOffsetsPartition::default();
                    lp.partition_index = p;
                    lp.current_leader_epoch = -1;
                    lp.timestamp = LATEST;
                    lp
                })
                .collect();
            t
        })
        .collect();
    let resp = expect_response!(rc.kafka(req, 7).await?, ListOffsets);
    let mut out = Offsets::new();
    for t in resp.topics {
        for p in t.partitions {
            if p.error_code == ResponseError::UnknownTopicOrPartition.code() {
                continue;
            }
            if p.error_code != 0 {
                return Err(RestError::kafka(p.error_code, None));
            }
            out.insert((t.name.0.to_string(), p.partition_index), p.offset);
        }
    }
    Ok(out)
}

/// The group, and the lag of every partition it has committed an offset
/// for, in topic and partition order. A 404 when the group is not there
/// or has no committed offset.
async fn partition_lags(
    rc: &RestCall,
    group: &str,
) -> Result<(Group, Vec<PartitionLag>), RestError> {
    let g = groups::find(rc, group).await?.ok_or_else(|| {
        RestError::not_found(format!("Consumer Group {group} could not be found."))
    })?;
    let committed = committed(rc, group).await?;
    if committed.is_empty() {
        return Err(RestError::not_found(
            "Consumer group offsets could not be found.",
        ));
    }
    let ends = latest(rc, &committed).await?;
    let lags = combine(&g, &committed, &ends);
    Ok((g, lags))
}

/// Joins committed and end offsets with the members holding them.
fn combine(g: &Group, committed: &Offsets, ends: &Offsets) -> Vec<PartitionLag> {
    committed
        .iter()
        .filter_map(|((topic, partition), current)| {
            let end = ends.get(&(topic.clone(), *partition))?;
            let owner = g.owner(topic, *partition);
            Some(PartitionLag {
                topic: topic.clone(),
                partition: *partition,
                current_offset: *current,
                log_end_offset: *end,
                consumer_id: owner.map(|m| m.consumer_id.clone()).unwrap_or_default(),
                instance_id: owner.and_then(|m| m.instance_id.clone()),
                client_id: owner.map(|m| m.client_id.clone()).unwrap_or_default(),
            })
        })
        .collect()
}

/// The partition lagging most (the first of equals) and the total lag.
fn summarize(lags: &[PartitionLag]) -> Option<(&PartitionLag, i64)> {
    let mut max: Option<&PartitionLag> = None;
    for l in lags {
        if max.is_none_or(|m| l.lag() > m.lag()) {
            max = Some(l);
        }
    }
    max.map(|m| (m, lags.iter().map(PartitionLag::lag).sum()))
}

fn lag_data(rc: &RestCall, group: &str, l: &PartitionLag) -> ConsumerLagData {
    let p = l.partition.to_string();
    ConsumerLagData {
        kind: "KafkaConsumerLag".into(),
        metadata: ResourceMetadata {
            self_url: format!("{}/lags/{}/partitions/{p}", group_url(rc, group), l.topic),
            resource_name: Some(crn(
                &rc.cluster_id,
                &[
                    ("consumer-group", group),
                    ("lag", &l.topic),
                    ("partition", &p),
                ],
            )),
        },
        cluster_id: rc.cluster_id.clone(),
        consumer_group_id: group.to_string(),
        topic_name: l.topic.clone(),
        partition_id: l.partition,
        current_offset: l.current_offset,
        log_end_offset: l.log_end_offset,
        lag: l.lag(),
        consumer_id: l.consumer_id.clone(),
        instance_id: l.instance_id.clone(),
        client_id: l.client_id.clone(),
    }
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/consumer-groups/{consumer_group_id}/lag-summary",
    tag = "Consumer Group",
    params(("cluster_id" = String, Path), ("consumer_group_id" = String, Path)),
    responses((status = 200, body = ConsumerGroupLagSummaryData), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn get_lag_summary(
    rc: RestCall,
    PathOf((cluster_id, group)): PathOf<(String, String)>,
) -> Result<Json<ConsumerGroupLagSummaryData>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let (g, lags) = partition_lags(&rc, &group).await?;
    let (max, total) = summarize(&lags)
        .ok_or_else(|| RestError::not_found("Consumer group offsets could not be found."))?;
    let url = group_url(&rc, &g.id);
    Ok(Json(ConsumerGroupLagSummaryData {
        kind: "KafkaConsumerGroupLagSummary".into(),
        metadata: ResourceMetadata {
            self_url: format!("{url}/lag-summary"),
            resource_name: Some(format!(
                "{}/lag-summary",
                crn(&rc.cluster_id, &[("consumer-group", &g.id)])
            )),
        },
        cluster_id: rc.cluster_id.clone(),
        consumer_group_id: g.id.clone(),
        max_lag_consumer_id: max.consumer_id.clone(),
        max_lag_instance_id: max.instance_id.clone(),
        max_lag_client_id: max.client_id.clone(),
        max_lag_topic_name: max.topic.clone(),
        max_lag_partition_id: max.partition,
        max_lag: max.lag(),
        total_lag: total,
        max_lag_consumer: Related::to(format!("{url}/consumers/{}", segment(&max.consumer_id))),
        max_lag_partition: Related::to(format!(
            "{}/topics/{}/partitions/{}",
            rc.cluster_url, max.topic, max.partition
        )),
    }))
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/consumer-groups/{consumer_group_id}/lags",
    tag = "Consumer Group",
    params(("cluster_id" = String, Path), ("consumer_group_id" = String, Path)),
    responses((status = 200, body = ConsumerLagDataList), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn list_lags(
    rc: RestCall,
    PathOf((cluster_id, group)): PathOf<(String, String)>,
) -> Result<Json<ConsumerLagDataList>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let (_, mut lags) = partition_lags(&rc, &group).await?;
    if lags.is_empty() {
        return Err(RestError::not_found("Consumer lags not found."));
    }
    // The most lagging first, then by topic and partition.
    lags.sort_by(|a, b| {
        b.lag()
            .cmp(&a.lag())
            .then_with(|| a.topic.cmp(&b.topic))
            .then(a.partition.cmp(&b.partition))
    });
    Ok(Json(ConsumerLagDataList {
        kind: "KafkaConsumerLagList".into(),
        metadata: ListMetadata::of(format!("{}/lags", group_url(&rc, &group))),
        data: lags.iter().map(|l| lag_data(&rc, &group, l)).collect(),
    }))
}

#[utoipa::path(get,
    path = "/clusters/{cluster_id}/consumer-groups/{consumer_group_id}/lags/{topic_name}/partitions/{partition_id}",
    tag = "Consumer Group",
    params(("cluster_id" = String, Path), ("consumer_group_id" = String, Path),
           ("topic_name" = String, Path), ("partition_id" = i32, Path)),
    responses((status = 200, body = ConsumerLagData), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_lag(
    rc: RestCall,
    PathOf((cluster_id, group, topic, partition)): PathOf<(String, String, String, i32)>,
) -> Result<Json<ConsumerLagData>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let (_, lags) = partition_lags(&rc, &group).await?;
    lags.iter()
        .find(|l| l.topic == topic && l.partition == partition)
        .map(|l| Json(lag_data(&rc, &group, l)))
        .ok_or_else(|| RestError::not_found("HTTP 404 Not Found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lag(topic: &str, partition: i32, current: i64, end: i64) -> PartitionLag {
        PartitionLag {
            topic: topic.into(),
            partition,
            current_offset: current,
            log_end_offset: end,
            consumer_id: String::new(),
            instance_id: None,
            client_id: String::new(),
        }
    }

    #[test]
    fn lag_is_never_negative() {
        assert_eq!(lag("t", 0, 10, 4).lag(), 0);
        assert_eq!(lag("t", 0, 4, 10).lag(), 6);
    }

    #[test]
    fn the_summary_names_the_first_partition_lagging_most() {
        let lags = [
            lag("a", 0, 0, 3),
            lag("a", 1, 0, 7),
            lag("b", 0, 0, 7),
            lag("b", 1, 9, 5),
        ];
        let (max, total) = summarize(&lags).map(|(m, t)| (m.clone(), t)).unzip();
        assert_eq!(max.map(|m| (m.topic, m.partition)), Some(("a".into(), 1)));
        assert_eq!(total, Some(17));
        assert!(summarize(&[]).is_none());
    }

    #[test]
    fn offsets_join_their_ends_and_owners() {
        let group = Group {
            id: "g".into(),
            is_simple: false,
            partition_assignor: "range".into(),
            state: groups::ConsumerGroupState::Stable,
            group_type: groups::ConsumerGroupType::Classic,
            is_mixed: false,
            coordinator: 1,
            members: vec![groups::Member {
                consumer_id: "c-1".into(),
                instance_id: Some("i-1".into()),
                client_id: "client".into(),
                assignment: vec![("t".into(), 1)],
            }],
        };
        let committed: Offsets = [
            (("t".into(), 0), 2),
            (("t".into(), 1), 5),
            (("gone".into(), 0), 1),
        ]
        .into_iter()
        .collect();
        let ends: Offsets = [(("t".into(), 0), 4), (("t".into(), 1), 9)]
            .into_iter()
            .collect();
        let lags = combine(&group, &committed, &ends);
        assert_eq!(lags.len(), 2, "a partition without an end is left out");
        assert_eq!(
            (
                lags[0].partition,
                lags[0].lag(),
                lags[0].consumer_id.as_str()
            ),
            (0, 2, "")
        );
        assert_eq!(
            (
                lags[1].partition,
                lags[1].lag(),
                lags[1].consumer_id.as_str()
            ),
            (1, 4, "c-1")
        );
        assert_eq!(lags[1].instance_id.as_deref(), Some("i-1"));
    }
}
