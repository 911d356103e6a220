//! Cluster link and mirror topic series, computed at scrape time from the
//! link engine's read-only figures (`LinkEngine::link_statuses` and
//! `mirror_statuses`): link state and source availability, mirrors per link
//! by state, sync task states and last error times, fetched bytes and
//! records per link and mirror, and mirror lag in records and seconds (per
//! partition, and per mirror as the sum and the maximum), and continuous
//! verification's last verified offset and result per partition. The definition of
//! lag in seconds is `strait_link::lag`'s. It must never act on a link.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, MetricEncoder};
use strait_link::{
    LINK_STATES, LinkStatus, MIRROR_STATES, MirrorPartitionVerificationStatus, MirrorStatus,
    PartitionLag, TASK_STATES,
};

use super::encode::{self, BYTES, SECONDS};

/// The HELP text of `strait_mirror_partition_lag_seconds`.
const LAG_SECONDS_HELP: &str = "Seconds since the source appended the oldest record this mirror \
    partition does not hold yet; 0 when it holds everything up to the source high watermark \
    last seen. The append time is the max timestamp of that record's batch when a fetch showed \
    it, else the later of the newest batch timestamp mirrored and the last fetch that found the \
    mirror caught up, so the figure may overstate but never understate the lag. It grows with \
    wall time while the mirror does not fetch (paused, source unavailable).";

/// A mirror topic's labels.
fn mirror_labels(m: &MirrorStatus) -> [(&'static str, &str); 2] {
    [("link", m.link.as_str()), ("topic", m.topic.as_str())]
}

/// The link and mirror series of one scrape.
#[derive(Debug)]
pub struct LinkCollector {
    links: Vec<LinkStatus>,
    mirrors: Vec<MirrorStatus>,
    series_max: usize,
}

impl LinkCollector {
    pub fn new(links: Vec<LinkStatus>, mirrors: Vec<MirrorStatus>, series_max: usize) -> Self {
        LinkCollector {
            links,
            mirrors,
            series_max,
        }
    }

    /// One sample of `value` per mirror partition into the open family `f`.
    fn per_partition<V: EncodeGaugeValue>(
        &self,
        f: &mut MetricEncoder<'_>,
        value: impl Fn(&PartitionLag) -> V,
    ) -> std::fmt::Result {
        for m in &self.mirrors {
            for p in &m.partitions {
                encode::gauge(
                    f,
                    &(mirror_labels(m), [("partition", p.partition)]),
                    value(p),
                )?;
            }
        }
        Ok(())
    }

    fn encode_links(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let mut f = encode::gauges(
            encoder,
            "link_state",
            "1 for the link's current state (ACTIVE or PAUSED), 0 for the others.",
            None,
        )?;
        for l in &self.links {
            for state in LINK_STATES {
                let labels = [("link", l.name.as_str()), ("state", state)];
                encode::gauge(&mut f, &labels, encode::flag(l.state == state))?;
            }
        }
        let mut f = encode::gauges(
            encoder,
            "link_source_available",
            "1 when the link's last contact with its source cluster succeeded.",
            None,
        )?;
        for l in &self.links {
            let labels = [("link", l.name.as_str())];
            encode::gauge(&mut f, &labels, encode::flag(l.source_available))?;
        }
        let mut f = encode::gauges(
            encoder,
            "link_mirrors",
            "Mirror topics of the link, by mirror state as kafka-mirrors --describe shows it.",
            None,
        )?;
        for l in &self.links {
            for state in MIRROR_STATES {
                let n = self
                    .mirrors
                    .iter()
                    .filter(|m| m.link == l.name && m.state == state)
                    .count();
                let labels = [("link", l.name.as_str()), ("state", state)];
                encode::gauge(&mut f, &labels, n as i64)?;
            }
        }
        let mut f = encode::gauges(
            encoder,
            "link_task_state",
            "1 for the sync task's current state (ACTIVE, IN_ERROR or LINK_PAUSED), 0 for the \
             others.",
            None,
        )?;
        for l in &self.links {
            for t in &l.tasks {
                for state in TASK_STATES {
                    let labels = [
                        ("link", l.name.as_str()),
                        ("task", t.task.as_str()),
                        ("state", state),
                    ];
                    encode::gauge(&mut f, &labels, encode::flag(t.state == state))?;
                }
            }
        }
        let mut f = encode::gauges(
            encoder,
            "link_task_last_error_timestamp",
            "Unix time of the sync task's last failure (tasks that failed since the broker \
             started).",
            Some(&SECONDS),
        )?;
        for l in &self.links {
            for t in &l.tasks {
                if let Some(ms) = t.last_error_ms {
                    let labels = [("link", l.name.as_str()), ("task", t.task.as_str())];
                    encode::gauge(&mut f, &labels, ms as f64 / 1000.0)?;
                }
            }
        }
        let mut f = encode::counters(
            encoder,
            "link_fetched",
            "Record batch bytes the link's mirror fetchers appended.",
            Some(&BYTES),
        )?;
        for l in &self.links {
            encode::counter(&mut f, &[("link", l.name.as_str())], l.fetched_bytes)?;
        }
        let mut f = encode::counters(
            encoder,
            "link_fetched_records",
            "Records the link's mirror fetchers appended (control records included).",
            None,
        )?;
        for l in &self.links {
            encode::counter(&mut f, &[("link", l.name.as_str())], l.fetched_records)?;
        }
        Ok(())
    }

    fn encode_mirrors(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let mut f = encode::counters(
            encoder,
            "mirror_fetched",
            "Record batch bytes appended to the mirror topic by its fetchers.",
            Some(&BYTES),
        )?;
        for m in &self.mirrors {
            encode::counter(&mut f, &mirror_labels(m), m.fetched_bytes)?;
        }
        let mut f = encode::counters(
            encoder,
            "mirror_fetched_records",
            "Records appended to the mirror topic by its fetchers (control records included).",
            None,
        )?;
        for m in &self.mirrors {
            encode::counter(&mut f, &mirror_labels(m), m.fetched_records)?;
        }
        let mut f = encode::gauges(
            encoder,
            "mirror_lag",
            "Records the mirror topic lacks, summed over its partitions (see \
             strait_mirror_partition_lag); STOPPED mirrors have none.",
            None,
        )?;
        for m in self.mirrors.iter().filter(|m| m.state != "STOPPED") {
            let lag: i64 = m.partitions.iter().map(|p| p.records).sum();
            encode::gauge(&mut f, &mirror_labels(m), lag)?;
        }
        let mut f = encode::gauges(
            encoder,
            "mirror_lag",
            "The largest strait_mirror_partition_lag_seconds of the mirror topic's partitions.",
            Some(&SECONDS),
        )?;
        for m in self.mirrors.iter().filter(|m| m.state != "STOPPED") {
            let lag = m.partitions.iter().map(|p| p.seconds).fold(0.0, f64::max);
            encode::gauge(&mut f, &mirror_labels(m), lag)?;
        }
        let count: usize = self.mirrors.iter().map(|m| m.partitions.len()).sum();
        if !encode::series_enabled(
            encoder,
            "mirror_partition_series_enabled",
            "1 when per-partition mirror series are written, 0 when mirror partitions outnumber \
             strait.metrics.partition.series.max.",
            count,
            self.series_max,
        )? {
            return Ok(());
        }
        let mut f = encode::gauges(
            encoder,
            "mirror_partition_lag",
            "Records the mirror partition lacks: the source high watermark last seen minus the \
             mirror's log end offset, as kafka-mirrors --describe shows it.",
            None,
        )?;
        self.per_partition(&mut f, |p| p.records)?;
        let mut f = encode::gauges(
            encoder,
            "mirror_partition_lag",
            LAG_SECONDS_HELP,
            Some(&SECONDS),
        )?;
        self.per_partition(&mut f, |p| p.seconds)?;
        if self.mirrors.iter().any(|m| !m.verifications.is_empty()) {
            let mut f = encode::gauges(
                encoder,
                "mirror_partition_verified_offset",
                "The last offset continuous verification (mirror.verification.interval.ms) found \
                 equal to the source; -1 before any.",
                None,
            )?;
            self.per_verified_partition(&mut f, |v| v.last_verified_offset)?;
            let mut f = encode::gauges(
                encoder,
                "mirror_partition_verification_ok",
                "1 when the last continuous verification run found the mirror partition equal \
                 to its source, else 0 (pending, mismatch or error).",
                None,
            )?;
            self.per_verified_partition(&mut f, |v| i64::from(v.result == "OK"))?;
        }
        Ok(())
    }

    /// One sample of `value` per continuously verified mirror partition into
    /// the open family `f`.
    fn per_verified_partition(
        &self,
        f: &mut MetricEncoder<'_>,
        value: impl Fn(&MirrorPartitionVerificationStatus) -> i64,
    ) -> std::fmt::Result {
        for m in &self.mirrors {
            for (partition, v) in m.verifications.iter().enumerate() {
                encode::gauge(
                    f,
                    &(mirror_labels(m), [("partition", partition as i32)]),
                    value(v),
                )?;
            }
        }
        Ok(())
    }
}

impl Collector for LinkCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        self.encode_links(&mut encoder)?;
        self.encode_mirrors(&mut encoder)
    }
}

#[cfg(test)]
mod tests {
    use strait_link::{MirrorPartitionVerificationStatus, PartitionLag, TaskStatus};

    use super::*;

    fn collector(max: usize) -> LinkCollector {
        let link = LinkStatus {
            name: "dr".into(),
            state: "ACTIVE",
            source_available: true,
            source_cluster_id: Some("src".into()),
            bootstrap_servers: Some("h:1".into()),
            tasks: vec![TaskStatus {
                task: "ConsumerOffsetSync".into(),
                state: "IN_ERROR",
                last_error_ms: Some(1_700_000_000_500),
                last_error: Some("offsets refused".into()),
            }],
            fetched_bytes: 4096,
            fetched_records: 40,
        };
        let mirror = |topic: &str, state: &'static str, lags: &[(i64, f64)]| MirrorStatus {
            verifications: lags
                .iter()
                .enumerate()
                .map(|(i, _)| MirrorPartitionVerificationStatus {
                    last_verified_offset: 41 + i as i64,
                    result: if i == 0 { "OK" } else { "MISMATCH" }.into(),
                    first_different_offset: (i > 0).then_some(42),
                    reason: None,
                    verified_time_ms: 1,
                })
                .collect(),
            link: "dr".into(),
            topic: topic.into(),
            state,
            source_topic: topic.into(),
            reason: None,
            fetched_bytes: 2048,
            fetched_records: 20,
            partitions: lags
                .iter()
                .enumerate()
                .map(|(i, (records, seconds))| PartitionLag {
                    partition: i as i32,
                    records: *records,
                    seconds: *seconds,
                })
                .collect(),
        };
        LinkCollector::new(
            vec![link],
            vec![
                mirror("orders", "PAUSED", &[(0, 0.0), (5, 12.5)]),
                mirror("old", "STOPPED", &[]),
            ],
            max,
        )
    }

    fn text(c: LinkCollector) -> String {
        let mut registry = prometheus_client::registry::Registry::with_prefix("strait");
        registry.register_collector(Box::new(c));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        super::super::text_format::check(&out);
        out
    }

    #[test]
    fn link_and_mirror_series() {
        let out = text(collector(10));
        for line in [
            "strait_link_state{link=\"dr\",state=\"ACTIVE\"} 1\n",
            "strait_link_state{link=\"dr\",state=\"PAUSED\"} 0\n",
            "strait_link_source_available{link=\"dr\"} 1\n",
            "strait_link_mirrors{link=\"dr\",state=\"PAUSED\"} 1\n",
            "strait_link_mirrors{link=\"dr\",state=\"STOPPED\"} 1\n",
            "strait_link_mirrors{link=\"dr\",state=\"ACTIVE\"} 0\n",
            "strait_link_task_state{link=\"dr\",task=\"ConsumerOffsetSync\",state=\"IN_ERROR\"} 1\n",
            "strait_link_task_last_error_timestamp_seconds{link=\"dr\",task=\"ConsumerOffsetSync\"} 1700000000.5\n",
            "strait_link_fetched_bytes_total{link=\"dr\"} 4096\n",
            "strait_link_fetched_records_total{link=\"dr\"} 40\n",
            "strait_mirror_fetched_bytes_total{link=\"dr\",topic=\"orders\"} 2048\n",
            "strait_mirror_fetched_records_total{link=\"dr\",topic=\"orders\"} 20\n",
            "strait_mirror_lag{link=\"dr\",topic=\"orders\"} 5\n",
            "strait_mirror_lag_seconds{link=\"dr\",topic=\"orders\"} 12.5\n",
            "strait_mirror_partition_lag{link=\"dr\",topic=\"orders\",partition=\"1\"} 5\n",
            "strait_mirror_partition_lag_seconds{link=\"dr\",topic=\"orders\",partition=\"0\"} 0.0\n",
            "strait_mirror_partition_lag_seconds{link=\"dr\",topic=\"orders\",partition=\"1\"} 12.5\n",
            "strait_mirror_partition_series_enabled 1\n",
            "strait_mirror_partition_verified_offset{link=\"dr\",topic=\"orders\",partition=\"0\"} 41\n",
            "strait_mirror_partition_verified_offset{link=\"dr\",topic=\"orders\",partition=\"1\"} 42\n",
            "strait_mirror_partition_verification_ok{link=\"dr\",topic=\"orders\",partition=\"0\"} 1\n",
            "strait_mirror_partition_verification_ok{link=\"dr\",topic=\"orders\",partition=\"1\"} 0\n",
        ] {
            assert!(out.contains(line), "{line} missing from\n{out}");
        }
        assert!(
            !out.contains("strait_mirror_lag{link=\"dr\",topic=\"old\"}"),
            "{out}"
        );
    }

    #[test]
    fn above_the_bound_only_mirror_totals_are_written() {
        let out = text(collector(1));
        assert!(out.contains("strait_mirror_lag_seconds{link=\"dr\",topic=\"orders\"} 12.5\n"));
        assert!(out.contains("strait_mirror_partition_series_enabled 0\n"));
        assert!(!out.contains("strait_mirror_partition_lag{"), "{out}");
        assert!(
            !out.contains("strait_mirror_partition_verified_offset{"),
            "{out}"
        );
    }
}
