//! DescribeTopicPartitions (KIP-966): the partitions of named topics, or of
//! every topic, one page at a time, as Kafka 3.7+ `kafka-topics --describe`
//! and admin clients ask for them.
//!
//! It owns the paging: topics in name order from the cursor's topic, at most
//! `min(response_partition_limit, max.request.partition.size.limit)`
//! partitions per answer, and the cursor to the first partition left out.
//! Placement comes from [`super::metadata::placement`], so that Metadata and
//! this API never disagree. It must never change a topic; authorization is
//! the gate's (`crate::authz::gate`).

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse};

use super::metadata::{all_topic_operations, is_internal, placement};
use super::{topic_name, validate_topic_name};
use crate::state::Broker;
use crate::topic_table::LiveTopic;

pub fn describe(
    broker: &Broker,
    req: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let fetch_all = req.topics.is_empty();
    let (cursor_topic, cursor_partition) = match &req.cursor {
        Some(c) => (c.topic_name.0.to_string(), c.partition_index),
        None => (String::new(), 0),
    };
    // Topics in name order from the cursor's topic on, each once.
    let names: BTreeSet<String> = if fetch_all {
        broker
            .topics
            .all()
            .iter()
            .map(|t| t.name.clone())
            .filter(|n| *n >= cursor_topic)
            .collect()
    } else {
        req.topics
            .iter()
            .map(|t| t.name.0.to_string())
            .filter(|n| *n >= cursor_topic)
            .collect()
    };
    if req.cursor.is_some() && !fetch_all && !names.contains(&cursor_topic) {
        return invalid(&req);
    }
    if req.cursor.is_some() && cursor_partition < 0 {
        return invalid(&req);
    }
    let limit = req
        .response_partition_limit
        .min(broker.config.max_request_partition_size_limit)
        .max(1);
    let live: Vec<(String, Option<Arc<LiveTopic>>)> = names
        .into_iter()
        .map(|n| {
            let t = broker.topics.get(&n);
            (n, t)
        })
        .collect();
    let sizes = live
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_ref().map(|t| t.partitions.len())));
    let (slices, next) = paginate(sizes, (&cursor_topic, cursor_partition), limit as usize);
    let mut resp = DescribeTopicPartitionsResponse::default();
    for slice in slices {
        match slice {
            Slice::Missing(i) if !fetch_all => resp.topics.push(missing(&live[i].0)),
            Slice::Missing(_) => {}
            Slice::Range(i, range) => {
                if let Some(topic) = &live[i].1 {
                    resp.topics.push(page(broker, topic, range));
                }
            }
        }
    }
    resp.next_cursor = next.map(|(i, partition)| cursor_at(&live[i].0, partition));
    resp
}

/// One topic's part of a page, by its position in the list paged over.
#[derive(Debug, PartialEq, Eq)]
enum Slice {
    /// The topic does not exist.
    Missing(usize),
    /// These partitions of the topic.
    Range(usize, Range<usize>),
}

/// Kafka's paging over `topics` (name, partition count if it exists), in
/// order: the cursor's topic starts at the cursor's partition, every other
/// at 0, and at most `limit` partitions are taken. The second value is the
/// next cursor (topic position, partition), if anything was left out: inside
/// a topic cut short, or at the start of the first topic not reached.
fn paginate<'a>(
    topics: impl Iterator<Item = (&'a str, Option<usize>)>,
    cursor: (&str, i32),
    limit: usize,
) -> (Vec<Slice>, Option<(usize, i32)>) {
    let mut remaining = limit;
    let mut out = Vec::new();
    for (i, (name, size)) in topics.enumerate() {
        if remaining == 0 {
            // Everything before this topic is complete: the next page starts
            // at its beginning (which does not promise the topic exists).
            return (out, Some((i, 0)));
        }
        let Some(count) = size else {
            out.push(Slice::Missing(i));
            continue;
        };
        let start = if name == cursor.0 {
            usize::try_from(cursor.1).unwrap_or(0)
        } else {
            0
        };
        let upper = count.min(start.saturating_add(remaining));
        let taken = upper.saturating_sub(start);
        out.push(Slice::Range(i, start.min(upper)..upper));
        if upper < count {
            return (out, Some((i, i32::try_from(upper).unwrap_or(i32::MAX))));
        }
        remaining -= taken;
    }
    (out, None)
}

/// The `range` of `topic`'s partitions, described.
fn page(
    broker: &Broker,
    topic: &LiveTopic,
    range: Range<usize>,
) -> DescribeTopicPartitionsResponseTopic {
    let mut t = DescribeTopicPartitionsResponseTopic::default();
    t.name = Some(topic_name(topic.name.clone()));
    t.topic_id = topic.id;
    t.is_internal = is_internal(&topic.name);
    t.topic_authorized_operations = all_topic_operations();
    t.partitions = topic
        .partitions
        .get(range)
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let place = placement(broker, p);
            let mut out = DescribeTopicPartitionsResponsePartition::default();
            out.partition_index = p.index;
            out.leader_id = place.leader;
            out.leader_epoch = place.leader_epoch;
            out.replica_nodes = place.replicas;
            out.isr_nodes = place.isr;
            // No eligible-leader-replica tracking (KIP-966 is off): empty, as
            // Kafka answers when ELR is disabled.
            out.eligible_leader_replicas = Some(Vec::new());
            out.last_known_elr = Some(Vec::new());
            out.offline_replicas = place.offline;
            out
        })
        .collect();
    t
}

fn cursor_at(topic: &str, partition: i32) -> Cursor {
    let mut c = Cursor::default();
    c.topic_name = topic_name(topic.to_string());
    c.partition_index = partition;
    c
}

/// A named topic that does not exist: UNKNOWN_TOPIC_OR_PARTITION, or
/// INVALID_TOPIC_EXCEPTION when the name could never be a topic's.
fn missing(name: &str) -> DescribeTopicPartitionsResponseTopic {
    let error = if validate_topic_name(name).is_ok() {
        ResponseError::UnknownTopicOrPartition
    } else {
        ResponseError::InvalidTopicException
    };
    let mut t = DescribeTopicPartitionsResponseTopic::default();
    t.error_code = error.code();
    t.name = Some(topic_name(name.to_string()));
    t.is_internal = is_internal(name);
    t.topic_authorized_operations = all_topic_operations();
    t
}

/// The answer to a request Kafka rejects whole (a cursor outside the named
/// topics, or a negative cursor partition): INVALID_REQUEST on each topic.
fn invalid(req: &DescribeTopicPartitionsRequest) -> DescribeTopicPartitionsResponse {
    let mut resp = DescribeTopicPartitionsResponse::default();
    resp.topics = req
        .topics
        .iter()
        .map(|t| {
            let mut out = DescribeTopicPartitionsResponseTopic::default();
            out.error_code = ResponseError::InvalidRequest.code();
            out.name = Some(t.name.clone());
            out.topic_authorized_operations = i32::MIN;
            out
        })
        .collect();
    resp
}

#[cfg(test)]
mod tests {
    use super::Slice::{Missing, Range};
    use super::paginate;

    fn run(
        topics: &[(&'static str, Option<usize>)],
        cursor: (&str, i32),
        limit: usize,
    ) -> (Vec<super::Slice>, Option<(usize, i32)>) {
        paginate(topics.iter().copied(), cursor, limit)
    }

    #[test]
    fn everything_fits() {
        let (s, next) = run(&[("a", Some(2)), ("b", None), ("c", Some(1))], ("", 0), 10);
        assert_eq!(s, vec![Range(0, 0..2), Missing(1), Range(2, 0..1)]);
        assert_eq!(next, None);
    }

    #[test]
    fn a_topic_cut_short_points_inside_itself() {
        let (s, next) = run(&[("a", Some(3)), ("b", Some(4))], ("", 0), 5);
        assert_eq!(s, vec![Range(0, 0..3), Range(1, 0..2)]);
        assert_eq!(next, Some((1, 2)));
    }

    #[test]
    fn an_exact_fit_points_at_the_next_topic() {
        let (s, next) = run(&[("a", Some(3)), ("b", Some(4))], ("", 0), 3);
        assert_eq!(s, vec![Range(0, 0..3)]);
        assert_eq!(next, Some((1, 0)));
        // Nothing after the last topic: no cursor.
        let (_, next) = run(&[("a", Some(3))], ("", 0), 3);
        assert_eq!(next, None);
    }

    #[test]
    fn the_cursor_topic_starts_at_the_cursor_partition() {
        let (s, next) = run(&[("b", Some(4)), ("c", Some(2))], ("b", 2), 3);
        assert_eq!(s, vec![Range(0, 2..4), Range(1, 0..1)]);
        assert_eq!(next, Some((1, 1)));
    }

    #[test]
    fn a_cursor_past_the_end_gives_an_empty_topic() {
        let (s, next) = run(&[("b", Some(2)), ("c", Some(1))], ("b", 9), 5);
        assert_eq!(s, vec![Range(0, 2..2), Range(1, 0..1)]);
        assert_eq!(next, None);
    }
}
