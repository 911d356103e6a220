//! The broker's side of the link engine's [`LocalCluster`] trait: mirror
//! appends into live partition logs, topic creation and reconfiguration for
//! mirror topics. Holds a weak reference so the engine never keeps a stopped
//! broker alive. Must never decide anything about mirroring itself.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use strait_link::{BoxFuture, LocalCluster};
use strait_log::LogError;
use strait_metadata::{MetadataStore, OffsetRecord, PartitionKey, TopicRecord};

use crate::state::Broker;
use crate::topic_config::validate_topic_config;

pub struct LocalBroker {
    pub broker: Weak<Broker>,
    pub store: Arc<dyn MetadataStore>,
}

fn gone() -> LogError {
    LogError::Closed
}

impl LocalBroker {
    fn broker(&self) -> Option<Arc<Broker>> {
        self.broker.upgrade()
    }
}

impl LocalCluster for LocalBroker {
    fn cluster_id(&self) -> String {
        self.broker().map(|b| b.cluster_id()).unwrap_or_default()
    }

    fn store(&self) -> Arc<dyn MetadataStore> {
        self.store.clone()
    }

    fn default_replication_factor(&self) -> i16 {
        self.broker()
            .map(|b| b.config.default_replication_factor)
            .unwrap_or(1)
    }

    fn open_topic(&self, topic: &TopicRecord) -> Result<(), String> {
        let b = self.broker().ok_or("broker is stopping")?;
        let config = b.log_config(topic);
        b.topics.create(topic, &config).map_err(|e| e.to_string())
    }

    fn grow_topic(&self, topic: &TopicRecord) -> Result<(), String> {
        let b = self.broker().ok_or("broker is stopping")?;
        let config = b.log_config(topic);
        b.topics.grow(topic, &config).map_err(|e| e.to_string())
    }

    fn reconfigure_topic(&self, topic: &TopicRecord) {
        if let Some(b) = self.broker() {
            b.topics.reconfigure(&topic.name, &b.log_config(topic));
        }
    }

    fn validate_topic_configs(&self, configs: &BTreeMap<String, String>) -> Result<(), String> {
        for (k, v) in configs {
            validate_topic_config(k, v).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn log_end_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        let b = self.broker()?;
        b.topics
            .partition(topic, partition)
            .map(|p| p.log.log_end_offset())
    }

    fn mirror_append(&self, topic: &str, partition: i32, records: &[u8]) -> Result<i64, LogError> {
        let b = self.broker().ok_or_else(gone)?;
        let p = b.topics.partition(topic, partition).ok_or_else(gone)?;
        p.log.append_mirror(records)?;
        b.notify_appended();
        Ok(p.log.log_end_offset())
    }

    fn commit_offsets_if_inactive(
        &self,
        group: String,
        offsets: Vec<(PartitionKey, OffsetRecord)>,
    ) -> BoxFuture<Result<bool, String>> {
        let broker = self.broker();
        Box::pin(async move {
            let b = broker.ok_or("broker is stopping")?;
            b.groups
                .commit_if_inactive(&group, offsets)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn advance_log_start(&self, topic: &str, partition: i32, offset: i64) -> Result<(), LogError> {
        let b = self.broker().ok_or_else(gone)?;
        let p = b.topics.partition(topic, partition).ok_or_else(gone)?;
        if offset > p.log.log_start_offset() {
            p.log.delete_records_before(offset)?;
        }
        Ok(())
    }

    fn reset_empty_to(&self, topic: &str, partition: i32, offset: i64) -> Result<(), LogError> {
        let b = self.broker().ok_or_else(gone)?;
        let p = b.topics.partition(topic, partition).ok_or_else(gone)?;
        p.log.reset_empty_to(offset)
    }
}
