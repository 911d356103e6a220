//! The broker's Prometheus metrics: [`BrokerMetrics`], the registry of the
//! series counted as things happen (requests, errors, latency, connections,
//! authentication failures), and the scrape, which adds the series computed
//! from live state at that moment (topics and partitions, consumer groups,
//! links and mirrors) and returns the OpenMetrics text ([`CONTENT_TYPE`]).
//!
//! Series computed at scrape time are read from the topic table, the metadata
//! store and the link engine without holding a lock across them; none is
//! stored per partition between scrapes. Per-partition series are left out
//! once their count passes `strait.metrics.partition.series.max` (topic,
//! group and mirror totals stay), so cardinality stays bounded. This module
//! must never change broker state or block a produce or fetch for longer
//! than reading a partition's published offsets.

mod connections;
mod encode;
mod groups;
mod labels;
mod links;
mod response_errors;
mod scrub;
#[cfg(test)]
mod text_format;
mod topics;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kafka_protocol::messages::{ApiKey, ResponseKind};
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

pub use connections::{ListenerMetrics, OpenConnection};
pub use labels::ApiName;
use labels::{
    ApiLabels, AuthFailureLabels, ErrorName, ListenerLabels, RequestErrorLabels, RequestLabels,
};
pub use topics::PartitionTraffic;

use crate::state::Broker;

/// The content type of [`Broker::metrics_text`]: OpenMetrics 1.0 text,
/// which Prometheus asks for first and parses natively.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every series name starts with this and an underscore.
const PREFIX: &str = "strait";

/// The broker config key bounding per-partition series.
pub const PARTITION_SERIES_MAX_KEY: &str = "strait.metrics.partition.series.max";
/// Its default.
pub const PARTITION_SERIES_MAX_DEFAULT: usize = 10_000;

type DurationFamily = Family<ApiLabels, Histogram, fn() -> Histogram>;

/// Request latency buckets: 0.5 ms doubling up to about 33 s (long-polling
/// fetches wait up to their `max.wait.ms`).
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 17))
}

/// The series counted as things happen, and the bound on scrape-time
/// per-partition series. Held by [`Broker`].
pub struct BrokerMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_errors: Family<RequestErrorLabels, Counter>,
    request_duration: DurationFamily,
    connections_accepted: Family<ListenerLabels, Counter>,
    connections_open: Family<ListenerLabels, Gauge>,
    authentication_failures: Family<AuthFailureLabels, Counter>,
    partition_series_max: usize,
    /// Size of the last exposition, to size the next one's buffer.
    last_size: AtomicUsize,
}

impl BrokerMetrics {
    pub fn new(partition_series_max: usize) -> Self {
        let requests = Family::default();
        let request_errors = Family::default();
        let request_duration: DurationFamily =
            Family::new_with_constructor(duration_histogram as fn() -> Histogram);
        let connections_accepted = Family::default();
        let connections_open = Family::default();
        let authentication_failures = Family::default();
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register(
            "requests",
            "Kafka requests and Strait admin messages answered, by API name and version",
            requests.clone(),
        );
        registry.register(
            "request_errors",
            "Requests whose response carried an error: the top-level error code, or else the \
             first non-zero per-item (topic, partition, group, resource) code, so each request \
             counts at most once; Strait admin messages are not counted here",
            request_errors.clone(),
        );
        registry.register_with_unit(
            "request_duration",
            "Time from a request's decoding to its response's flush (acks=0 produce: to the \
             append), by API",
            Unit::Seconds,
            request_duration.clone(),
        );
        registry.register(
            "connections_accepted",
            "TCP connections accepted, by listener",
            connections_accepted.clone(),
        );
        registry.register(
            "connections",
            "Open client connections, by listener",
            connections_open.clone(),
        );
        registry.register(
            "authentication_failures",
            "Failed authentications, by listener and mechanism (SSL: the TLS handshake, \
             UNSUPPORTED: a SASL mechanism the listener does not enable)",
            authentication_failures.clone(),
        );
        BrokerMetrics {
            registry,
            requests,
            request_errors,
            request_duration,
            connections_accepted,
            connections_open,
            authentication_failures,
            partition_series_max,
            last_size: AtomicUsize::new(0),
        }
    }

    /// Counts one answered request: `error_code` 0 for none.
    pub fn record_request(&self, api: ApiName, version: i16, error_code: i16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels { api, version })
            .inc();
        if error_code != 0 {
            self.request_errors
                .get_or_create(&RequestErrorLabels {
                    api,
                    version,
                    error: ErrorName(error_code),
                })
                .inc();
        }
        self.request_duration
            .get_or_create(&ApiLabels { api })
            .observe(took.as_secs_f64());
    }

    /// Counts one answered Kafka request from its response.
    pub fn record_response(
        &self,
        api: ApiKey,
        version: i16,
        response: &ResponseKind,
        took: Duration,
    ) {
        let code = response_errors::error_code(api, response);
        self.record_request(ApiName::Kafka(api), version, code, took);
    }

    /// The connection and authentication series of listener `name`.
    pub fn listener(&self, name: &str) -> ListenerMetrics {
        let labels = ListenerLabels {
            listener: name.to_string(),
        };
        ListenerMetrics::new(
            name,
            self.connections_accepted.get_or_create_owned(&labels),
            self.connections_open.get_or_create_owned(&labels),
            self.authentication_failures.clone(),
        )
    }
}

/// The OpenMetrics text of every series: those counted so far and those
/// computed now from `broker`'s topics, groups and links.
pub fn exposition(broker: &Broker) -> String {
    let metrics = &broker.metrics;
    let max = metrics.partition_series_max;
    let mut scrape = Registry::with_prefix(PREFIX);
    let mut topics = broker.topics.all();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    scrape.register_collector(Box::new(groups::GroupCollector::read(broker, &topics, max)));
    scrape.register_collector(Box::new(topics::TopicCollector::new(topics, max)));
    scrape.register_collector(Box::new(scrub::ScrubCollector::read(&broker.scrub)));
    if let Some(engine) = broker.links.get() {
        scrape.register_collector(Box::new(links::LinkCollector::new(
            engine.link_statuses(),
            engine.mirror_statuses(Broker::now_ms()),
            max,
        )));
    }
    let mut out = String::with_capacity(metrics.last_size.load(Ordering::Relaxed) + 4096);
    let encoded = encode_registry(&mut out, &metrics.registry)
        .and_then(|()| encode_registry(&mut out, &scrape))
        .and_then(|()| encode_eof(&mut out));
    if encoded.is_err() {
        // Writing to a String cannot fail; a collector refused a value.
        tracing::error!("encoding the metrics failed; the exposition is cut short");
        out.push_str("# EOF\n");
    }
    metrics.last_size.store(out.len(), Ordering::Relaxed);
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use kafka_protocol::error::ResponseError;
    use kafka_protocol::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    use kafka_protocol::messages::{ApiKey, ProduceResponse, ResponseKind};
    use prometheus_client::encoding::text::{encode_eof, encode_registry};
    use prometheus_client::registry::Registry;
    use strait_protocol::admin::AdminApi;

    use super::*;

    fn produce_response(code: i16) -> ResponseKind {
        let mut p = PartitionProduceResponse::default();
        p.error_code = code;
        let mut t = TopicProduceResponse::default();
        t.partition_responses.push(p);
        let mut r = ProduceResponse::default();
        r.responses.push(t);
        ResponseKind::Produce(r)
    }

    /// The registry's text followed by the scrape-time collectors', as
    /// [`exposition`] writes it.
    fn text(metrics: &BrokerMetrics, scrape: &Registry) -> String {
        let mut out = String::new();
        encode_registry(&mut out, &metrics.registry).unwrap();
        encode_registry(&mut out, scrape).unwrap();
        encode_eof(&mut out).unwrap();
        text_format::check(&out);
        out
    }

    #[test]
    fn counters_move_as_requests_are_answered() {
        let metrics = BrokerMetrics::new(10);
        let took = Duration::from_millis(3);
        metrics.record_response(ApiKey::Produce, 9, &produce_response(0), took);
        metrics.record_response(ApiKey::Produce, 9, &produce_response(0), took);
        let unknown = ResponseError::UnknownTopicOrPartition.code();
        metrics.record_response(ApiKey::Produce, 9, &produce_response(unknown), took);
        metrics.record_request(ApiName::Admin(AdminApi::ListMirrors), 0, 0, took);
        let out = text(&metrics, &Registry::default());
        for line in [
            "strait_requests_total{api=\"Produce\",version=\"9\"} 3\n",
            "strait_request_errors_total{api=\"Produce\",version=\"9\",error=\"UNKNOWN_TOPIC_OR_PARTITION\"} 1\n",
            "strait_requests_total{api=\"ListMirrors\",version=\"0\"} 1\n",
            "strait_request_duration_seconds_count{api=\"Produce\"} 3\n",
            "strait_request_duration_seconds_bucket{le=\"0.004\",api=\"Produce\"} 3\n",
            "strait_request_duration_seconds_bucket{le=\"0.002\",api=\"Produce\"} 0\n",
        ] {
            assert!(out.contains(line), "{line} missing from\n{out}");
        }
        metrics.record_response(ApiKey::Produce, 9, &produce_response(0), took);
        let out = text(&metrics, &Registry::default());
        assert!(out.contains("strait_requests_total{api=\"Produce\",version=\"9\"} 4\n"));
    }

    #[test]
    fn a_whole_exposition_is_valid_text() {
        use strait_link::{LinkStatus, MirrorStatus, PartitionLag};
        let metrics = BrokerMetrics::new(100);
        metrics.record_response(
            ApiKey::Metadata,
            12,
            &ResponseKind::Metadata(Default::default()),
            Duration::from_micros(200),
        );
        let _open = metrics.listener("PLAINTEXT").accepted();
        let mut scrape = Registry::with_prefix(PREFIX);
        scrape.register_collector(Box::new(groups::GroupCollector::new(
            Vec::new(),
            HashMap::new(),
            100,
        )));
        scrape.register_collector(Box::new(links::LinkCollector::new(
            vec![LinkStatus {
                name: "dr".into(),
                state: "PAUSED",
                source_available: false,
                source_cluster_id: None,
                bootstrap_servers: None,
                tasks: Vec::new(),
                fetched_bytes: 0,
                fetched_records: 0,
            }],
            vec![MirrorStatus {
                link: "dr".into(),
                topic: "m".into(),
                state: "LINK_PAUSED",
                source_topic: "m".into(),
                reason: None,
                fetched_bytes: 0,
                fetched_records: 0,
                verifications: vec![],
                partitions: vec![PartitionLag {
                    partition: 0,
                    records: 3,
                    seconds: 1.25,
                }],
            }],
            100,
        )));
        let out = text(&metrics, &scrape);
        assert!(
            out.contains("strait_connections{listener=\"PLAINTEXT\"} 1\n"),
            "{out}"
        );
        assert!(out.contains(
            "strait_mirror_partition_lag_seconds{link=\"dr\",topic=\"m\",partition=\"0\"} 1.25\n"
        ));
        println!("{out}");
    }
}
