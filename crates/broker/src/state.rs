//! The broker's shared state: configuration, the metadata store, the live
//! topic table, the signal that wakes long-polling fetches, and the metrics
//! registry. Owns the
//! derivation of a topic's effective configs; must never do network I/O.

use std::collections::BTreeMap;
use std::sync::Arc;

use strait_log::LogConfig;
use strait_metadata::{MetadataStore, TopicRecord};
use tokio::sync::{Mutex, watch};

use crate::config::{BrokerConfig, Listener};
use crate::group::GroupCoordinator;
use crate::producer_ids::ProducerIdAllocator;
use crate::topic_config::ConfigLayers;
use crate::topic_table::TopicTable;

pub struct Broker {
    pub config: BrokerConfig,
    /// Advertised endpoints with the ports actually bound.
    pub advertised: Vec<Listener>,
    pub store: Arc<dyn MetadataStore>,
    pub topics: TopicTable,
    /// Bumped after every append, so waiting fetches re-check their partitions.
    pub appended: watch::Sender<u64>,
    /// Serializes topic creation, deletion and reconfiguration.
    pub admin: Mutex<()>,
    pub producer_ids: ProducerIdAllocator,
    /// Consumer groups and their committed offsets.
    pub groups: GroupCoordinator,
    /// Transactional ids and their transactions.
    pub txns: crate::txn::TxnCoordinator,
    /// Cluster links and mirror topics; set once the broker is up.
    pub links: std::sync::OnceLock<Arc<strait_link::LinkEngine>>,
    /// The ACL authorizer; `None` (everything allowed) without `authorizer.class.name`.
    pub authorizer: Option<crate::authz::Authorizer>,
    /// The Prometheus series counted as things happen (`crate::metrics`).
    pub metrics: crate::metrics::BrokerMetrics,
    /// What the background scrubber found (`crate::scrubber`).
    pub scrub: crate::scrubber::ScrubState,
    /// With metadata on etcd: this broker's registration under
    /// `<prefix>/brokers/<node.id>`, kept alive until shutdown.
    pub registration: Option<strait_metadata::BrokerRegistration>,
}

impl Broker {
    pub fn node_id(&self) -> i32 {
        self.config.node_id
    }

    /// The endpoint clients are told to use (the first advertised listener).
    pub fn endpoint(&self) -> (&str, i32) {
        match self.advertised.first() {
            Some(l) => (l.host.as_str(), i32::from(l.port)),
            None => ("127.0.0.1", 9092),
        }
    }

    /// The endpoint of listener `name` (Kafka answers Metadata with the
    /// listener the request came in on); the first one if unknown.
    pub fn endpoint_for(&self, name: &str) -> (&str, i32) {
        match self.advertised.iter().find(|l| l.name == name) {
            Some(l) => (l.host.as_str(), i32::from(l.port)),
            None => self.endpoint(),
        }
    }

    /// The Prometheus exposition of every series, in the OpenMetrics text
    /// format ([`crate::metrics::CONTENT_TYPE`]), for an HTTP `/metrics`.
    pub fn metrics_text(&self) -> String {
        crate::metrics::exposition(self)
    }

    /// Whether `topic` is a mirror that refuses client writes.
    pub fn is_read_only_mirror(&self, topic: &str) -> bool {
        self.links.get().is_some_and(|l| l.is_read_only(topic))
    }

    pub fn cluster_id(&self) -> String {
        self.store.cluster_id()
    }

    /// Effective configs of a topic with the given overrides.
    pub fn with_config_layers<R>(
        &self,
        topic_overrides: &BTreeMap<String, String>,
        f: impl FnOnce(&ConfigLayers<'_>) -> R,
    ) -> R {
        let dynamic = self.store.broker_configs();
        let layers = ConfigLayers {
            node_id: self.config.node_id,
            topic: topic_overrides,
            dynamic_broker: &dynamic,
            static_broker: &self.config.properties,
        };
        f(&layers)
    }

    pub fn log_config(&self, topic: &TopicRecord) -> LogConfig {
        self.with_config_layers(&topic.configs, |l| l.log_config())
    }

    /// Wakes fetches waiting for data.
    pub fn notify_appended(&self) {
        self.appended.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}
