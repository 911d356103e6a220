//! Topic and partition series, computed at scrape time from the live topic
//! table: partitions per topic, log sizes, log start and end offsets, and the
//! bytes produced to and fetched from each topic (counted on each partition
//! by [`PartitionTraffic`], summed per topic here). A scrape reads each
//! partition's published offsets and segment sizes once, without taking the
//! log's append lock, and must never change a partition.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::encode::{self, BYTES};
use crate::topic_table::LiveTopic;

/// Record bytes a partition took in from produce requests and gave out in
/// fetch responses. Only ever grows.
#[derive(Debug, Default)]
pub struct PartitionTraffic {
    produced: AtomicU64,
    fetched: AtomicU64,
}

impl PartitionTraffic {
    /// Counts record batches appended by a produce request.
    pub fn produced(&self, bytes: usize) {
        self.produced.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts record bytes sent in a fetch response.
    pub fn fetched(&self, bytes: usize) {
        self.fetched.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// What a scrape reads of one partition.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PartitionSample {
    pub index: i32,
    pub size_bytes: u64,
    pub log_start: i64,
    pub log_end: i64,
    pub produced_bytes: u64,
    pub fetched_bytes: u64,
}

/// A topic as the scrape sees it; the live topic, or plain data in tests.
pub trait TopicSource: Send + Sync + 'static {
    fn name(&self) -> &str;
    /// Appends a sample of every partition, in partition order.
    fn sample(&self, out: &mut Vec<PartitionSample>);
}

impl TopicSource for LiveTopic {
    fn name(&self) -> &str {
        &self.name
    }

    fn sample(&self, out: &mut Vec<PartitionSample>) {
        out.extend(self.partitions.iter().map(|p| PartitionSample {
            index: p.index,
            size_bytes: p.log.size_bytes(),
            log_start: p.log.log_start_offset(),
            log_end: p.log.log_end_offset(),
            produced_bytes: p.traffic.produced.load(Ordering::Relaxed),
            fetched_bytes: p.traffic.fetched.load(Ordering::Relaxed),
        }));
    }
}

/// The topic and partition series of one scrape.
pub struct TopicCollector<T> {
    topics: Vec<Arc<T>>,
    series_max: usize,
}

impl<T> std::fmt::Debug for TopicCollector<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicCollector")
            .field("topics", &self.topics.len())
            .finish()
    }
}

impl<T: TopicSource> TopicCollector<T> {
    /// `topics` in the order the series are written.
    pub fn new(topics: Vec<Arc<T>>, series_max: usize) -> Self {
        TopicCollector { topics, series_max }
    }
}

impl<T: TopicSource> Collector for TopicCollector<T> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        // One read of every partition, then one pass per family.
        let mut samples = Vec::new();
        let mut ranges = Vec::with_capacity(self.topics.len());
        for t in &self.topics {
            let start = samples.len();
            t.sample(&mut samples);
            ranges.push((t.name(), start..samples.len()));
        }

        let mut f = encode::gauges(
            &mut encoder,
            "partitions",
            "Partitions on this broker.",
            None,
        )?;
        f.encode_gauge(&(samples.len() as i64))?;
        let mut f = encode::gauges(
            &mut encoder,
            "topic_partitions",
            "Partitions of each topic.",
            None,
        )?;
        for (name, r) in &ranges {
            encode::gauge(&mut f, &[("topic", *name)], r.len() as i64)?;
        }
        let mut f = encode::gauges(
            &mut encoder,
            "topic_log_size",
            "Bytes of all segments of the topic's partitions.",
            Some(&BYTES),
        )?;
        for (name, r) in &ranges {
            let size: u64 = samples[r.clone()].iter().map(|s| s.size_bytes).sum();
            encode::gauge(&mut f, &[("topic", *name)], size)?;
        }
        let mut f = encode::counters(
            &mut encoder,
            "topic_produced",
            "Record batch bytes appended to the topic by produce requests.",
            Some(&BYTES),
        )?;
        for (name, r) in &ranges {
            let bytes = samples[r.clone()].iter().map(|s| s.produced_bytes).sum();
            encode::counter(&mut f, &[("topic", *name)], bytes)?;
        }
        let mut f = encode::counters(
            &mut encoder,
            "topic_fetched",
            "Record bytes of the topic sent in fetch responses (consumers and followers alike).",
            Some(&BYTES),
        )?;
        for (name, r) in &ranges {
            let bytes = samples[r.clone()].iter().map(|s| s.fetched_bytes).sum();
            encode::counter(&mut f, &[("topic", *name)], bytes)?;
        }
        if !encode::series_enabled(
            &mut encoder,
            "partition_series_enabled",
            "1 when per-partition series are written, 0 when this broker has more partitions \
             than strait.metrics.partition.series.max.",
            samples.len(),
            self.series_max,
        )? {
            return Ok(());
        }
        type Figure = fn(&PartitionSample) -> i64;
        let families: [(&str, &str, bool, Figure); 3] = [
            (
                "partition_log_size",
                "Bytes of all segments of the partition.",
                true,
                |s| s.size_bytes as i64,
            ),
            (
                "partition_log_end_offset",
                "Offset the partition's next record gets (its high watermark).",
                false,
                |s| s.log_end,
            ),
            (
                "partition_log_start_offset",
                "First offset of the partition that can be read.",
                false,
                |s| s.log_start,
            ),
        ];
        for (name, help, bytes, figure) in families {
            let unit = bytes.then_some(&BYTES);
            let mut f = encode::gauges(&mut encoder, name, help, unit)?;
            for (topic, r) in &ranges {
                for s in &samples[r.clone()] {
                    encode::gauge(
                        &mut f,
                        &([("topic", *topic)], [("partition", s.index)]),
                        figure(s),
                    )?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub struct PlainTopic {
        pub name: String,
        pub partitions: Vec<PartitionSample>,
    }

    impl TopicSource for PlainTopic {
        fn name(&self) -> &str {
            &self.name
        }
        fn sample(&self, out: &mut Vec<PartitionSample>) {
            out.extend_from_slice(&self.partitions);
        }
    }

    fn topic(name: &str, partitions: i32) -> Arc<PlainTopic> {
        Arc::new(PlainTopic {
            name: name.into(),
            partitions: (0..partitions)
                .map(|i| PartitionSample {
                    index: i,
                    size_bytes: 100 * (i as u64 + 1),
                    log_start: 2,
                    log_end: 10 + i as i64,
                    produced_bytes: 7,
                    fetched_bytes: 5,
                })
                .collect(),
        })
    }

    fn text(collector: TopicCollector<PlainTopic>) -> String {
        let mut registry = prometheus_client::registry::Registry::with_prefix("strait");
        registry.register_collector(Box::new(collector));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        super::super::text_format::check(&out);
        out
    }

    #[test]
    fn topic_and_partition_series() {
        let out = text(TopicCollector::new(
            vec![topic("orders", 2), topic("x", 1)],
            10,
        ));
        for line in [
            "strait_partitions 3\n",
            "strait_topic_partitions{topic=\"orders\"} 2\n",
            "strait_topic_log_size_bytes{topic=\"orders\"} 300\n",
            "strait_topic_produced_bytes_total{topic=\"orders\"} 14\n",
            "strait_topic_fetched_bytes_total{topic=\"x\"} 5\n",
            "strait_partition_series_enabled 1\n",
            "strait_partition_log_size_bytes{topic=\"orders\",partition=\"1\"} 200\n",
            "strait_partition_log_end_offset{topic=\"orders\",partition=\"1\"} 11\n",
            "strait_partition_log_start_offset{topic=\"x\",partition=\"0\"} 2\n",
        ] {
            assert!(out.contains(line), "{line} missing from\n{out}");
        }
    }

    #[test]
    fn live_partitions_are_read_as_they_are() {
        use crate::topic_table::TopicTable;
        use crate::topic_table::tests::{record, strait_log_test_batch};
        let dir = tempfile::tempdir().unwrap();
        let table = TopicTable::new(vec![dir.path().into()]);
        table
            .create(&record("t", 2), &strait_log::LogConfig::default())
            .unwrap();
        let p = table.partition("t", 1).unwrap();
        let batch = strait_log_test_batch();
        p.log.append_leader(&batch, 1_000).unwrap();
        p.traffic.produced(batch.len());
        p.traffic.fetched(10);
        p.traffic.fetched(5);
        let mut registry = prometheus_client::registry::Registry::with_prefix("strait");
        registry.register_collector(Box::new(TopicCollector::new(table.all(), 10)));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        super::super::text_format::check(&out);
        let size = p.log.size_bytes();
        assert!(size > 0);
        for line in [
            format!("strait_topic_log_size_bytes{{topic=\"t\"}} {size}\n"),
            format!(
                "strait_topic_produced_bytes_total{{topic=\"t\"}} {}\n",
                batch.len()
            ),
            "strait_topic_fetched_bytes_total{topic=\"t\"} 15\n".to_string(),
            "strait_partition_log_end_offset{topic=\"t\",partition=\"1\"} 1\n".to_string(),
            "strait_partition_log_end_offset{topic=\"t\",partition=\"0\"} 0\n".to_string(),
        ] {
            assert!(out.contains(&line), "{line} missing from\n{out}");
        }
    }

    #[test]
    fn above_the_bound_only_topic_totals_are_written() {
        let out = text(TopicCollector::new(
            vec![topic("orders", 2), topic("x", 1)],
            2,
        ));
        assert!(out.contains("strait_partition_series_enabled 0\n"), "{out}");
        assert!(out.contains("strait_topic_log_size_bytes{topic=\"orders\"} 300\n"));
        assert!(!out.contains("strait_partition_log"), "{out}");
    }
}
