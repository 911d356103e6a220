//! Consumer group series, computed at scrape time from the committed offsets
//! in the metadata store (the group coordinator's durable copy): committed
//! offset and lag per group and partition, and lag per group and topic. Lag
//! is the partition's log end offset minus the committed offset (never
//! negative); partitions of topics this broker does not have get no lag.
//! It must never change a group or its offsets.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use strait_metadata::GroupOffsets;

use super::encode;
use crate::state::Broker;
use crate::topic_table::LiveTopic;

/// The group series of one scrape: plain data, copied out of the store.
pub struct GroupCollector {
    /// Groups with committed offsets, by name.
    groups: Vec<(String, GroupOffsets)>,
    /// Log end offsets of every partition of the topics the groups name.
    log_ends: HashMap<String, Vec<i64>>,
    series_max: usize,
}

impl std::fmt::Debug for GroupCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCollector")
            .field("groups", &self.groups.len())
            .finish()
    }
}

impl GroupCollector {
    pub fn new(
        groups: Vec<(String, GroupOffsets)>,
        log_ends: HashMap<String, Vec<i64>>,
        series_max: usize,
    ) -> Self {
        GroupCollector {
            groups,
            log_ends,
            series_max,
        }
    }

    /// Reads every group's committed offsets and the log end offsets of the
    /// partitions they name.
    pub fn read(broker: &Broker, topics: &[Arc<LiveTopic>], series_max: usize) -> Self {
        let groups: Vec<(String, GroupOffsets)> = broker
            .store
            .groups()
            .into_iter()
            .map(|g| {
                let offsets = broker.store.group_offsets(&g);
                (g, offsets)
            })
            .filter(|(_, o)| !o.is_empty())
            .collect();
        let by_name: HashMap<&str, &LiveTopic> = topics
            .iter()
            .map(|t| (t.name.as_str(), t.as_ref()))
            .collect();
        let mut log_ends = HashMap::new();
        for key in groups.iter().flat_map(|(_, o)| o.keys()) {
            if log_ends.contains_key(&key.topic) {
                continue;
            }
            if let Some(t) = by_name.get(key.topic.as_str()) {
                let ends = t
                    .partitions
                    .iter()
                    .map(|p| p.log.log_end_offset())
                    .collect();
                log_ends.insert(key.topic.clone(), ends);
            }
        }
        GroupCollector::new(groups, log_ends, series_max)
    }

    fn log_end(&self, topic: &str, partition: i32) -> Option<i64> {
        let ends = self.log_ends.get(topic)?;
        usize::try_from(partition)
            .ok()
            .and_then(|i| ends.get(i).copied())
    }

    /// Lag of one committed offset, if the partition is known.
    fn lag(&self, topic: &str, partition: i32, committed: i64) -> Option<i64> {
        let end = self.log_end(topic, partition)?;
        Some((end - committed.max(0)).max(0))
    }
}

impl Collector for GroupCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        // Offsets are sorted by topic: one pair per change of topic.
        let pairs: usize = self
            .groups
            .iter()
            .map(|(_, o)| {
                let mut topics: Vec<&str> = o.keys().map(|k| k.topic.as_str()).collect();
                topics.dedup();
                topics.len()
            })
            .sum();
        let mut f = encode::gauges(
            &mut encoder,
            "group_topic_lag",
            "Records of the topic after the group's committed offsets (log end offset minus \
             committed offset, summed over the partitions the group committed); left out when \
             there are more group and topic pairs than strait.metrics.partition.series.max.",
            None,
        )?;
        for (group, offsets) in self.groups.iter().filter(|_| pairs <= self.series_max) {
            let mut per_topic: BTreeMap<&str, i64> = BTreeMap::new();
            for (key, record) in offsets {
                if let Some(lag) = self.lag(&key.topic, key.partition, record.offset) {
                    *per_topic.entry(key.topic.as_str()).or_default() += lag;
                }
            }
            for (topic, lag) in per_topic {
                encode::gauge(&mut f, &[("group", group.as_str()), ("topic", topic)], lag)?;
            }
        }
        let count: usize = self.groups.iter().map(|(_, o)| o.len()).sum();
        if !encode::series_enabled(
            &mut encoder,
            "group_partition_series_enabled",
            "1 when per-partition group series are written, 0 when the groups' committed \
             partitions outnumber strait.metrics.partition.series.max.",
            count,
            self.series_max,
        )? {
            return Ok(());
        }
        let mut f = encode::gauges(
            &mut encoder,
            "group_committed_offset",
            "The group's committed offset of the partition.",
            None,
        )?;
        for (group, offsets) in &self.groups {
            for (key, record) in offsets {
                let labels = (
                    [("group", group.as_str()), ("topic", key.topic.as_str())],
                    [("partition", key.partition)],
                );
                encode::gauge(&mut f, &labels, record.offset)?;
            }
        }
        let mut f = encode::gauges(
            &mut encoder,
            "group_lag",
            "Records of the partition after the group's committed offset (log end offset \
             minus committed offset).",
            None,
        )?;
        for (group, offsets) in &self.groups {
            for (key, record) in offsets {
                if let Some(lag) = self.lag(&key.topic, key.partition, record.offset) {
                    let labels = (
                        [("group", group.as_str()), ("topic", key.topic.as_str())],
                        [("partition", key.partition)],
                    );
                    encode::gauge(&mut f, &labels, lag)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use strait_metadata::{OffsetRecord, PartitionKey};

    use super::*;

    fn offsets(entries: &[(&str, i32, i64)]) -> GroupOffsets {
        entries
            .iter()
            .map(|(t, p, o)| {
                (
                    PartitionKey::new(*t, *p),
                    OffsetRecord {
                        offset: *o,
                        leader_epoch: -1,
                        metadata: None,
                        commit_ms: 0,
                    },
                )
            })
            .collect()
    }

    fn text(c: GroupCollector) -> String {
        let mut registry = prometheus_client::registry::Registry::with_prefix("strait");
        registry.register_collector(Box::new(c));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        super::super::text_format::check(&out);
        out
    }

    fn collector(max: usize) -> GroupCollector {
        GroupCollector::new(
            vec![(
                "app".into(),
                offsets(&[("orders", 0, 4), ("orders", 1, 10), ("gone", 0, 3)]),
            )],
            HashMap::from([("orders".to_string(), vec![10, 12])]),
            max,
        )
    }

    #[test]
    fn committed_offsets_and_lag() {
        let out = text(collector(10));
        for line in [
            "strait_group_topic_lag{group=\"app\",topic=\"orders\"} 8\n",
            "strait_group_committed_offset{group=\"app\",topic=\"orders\",partition=\"0\"} 4\n",
            "strait_group_committed_offset{group=\"app\",topic=\"gone\",partition=\"0\"} 3\n",
            "strait_group_lag{group=\"app\",topic=\"orders\",partition=\"0\"} 6\n",
            "strait_group_lag{group=\"app\",topic=\"orders\",partition=\"1\"} 2\n",
            "strait_group_partition_series_enabled 1\n",
        ] {
            assert!(out.contains(line), "{line} missing from\n{out}");
        }
        assert!(!out.contains("strait_group_lag{group=\"app\",topic=\"gone\""));
    }

    #[test]
    fn above_the_bound_only_topic_lag_is_written() {
        let out = text(collector(2));
        assert!(out.contains("strait_group_topic_lag{group=\"app\",topic=\"orders\"} 8\n"));
        assert!(out.contains("strait_group_partition_series_enabled 0\n"));
        assert!(!out.contains("strait_group_committed_offset{"), "{out}");
        // Two group and topic pairs: above a bound of 1 even those go.
        let out = text(collector(1));
        assert!(!out.contains("strait_group_topic_lag{"), "{out}");
    }
}
