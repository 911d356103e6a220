//! The broker's side of the link engine's [`LocalCluster`] trait: mirror
//! appends into live partition logs, topic creation and reconfiguration for
//! mirror topics, and the ACLs ACL sync reads and writes (always through the
//! broker's authorizer, so its cache follows the store). Holds a weak
//! reference so the engine never keeps a stopped broker alive. Must never
//! decide anything about mirroring itself.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use strait_link::{AclBindingFilter, BoxFuture, LocalAclError, LocalCluster, LocalClusterError};
use strait_log::{LogError, StoredBatch};
use strait_metadata::{AclBinding, MetadataStore, OffsetRecord, PartitionKey, TopicRecord};

use crate::authz::Authorizer;
use crate::authz::acl::{AclFilter, PatternFilter};

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

    /// Runs `f` on the broker's authorizer; ACL sync needs one.
    fn with_authorizer<T>(
        &self,
        f: impl FnOnce(&Authorizer) -> Result<T, LocalAclError>,
    ) -> Result<T, LocalAclError> {
        let b = self.broker().ok_or(LocalAclError::Stopping)?;
        let authorizer = b.authorizer.as_ref().ok_or(LocalAclError::NoAuthorizer)?;
        f(authorizer)
    }
}

/// The authorizer's filter for a Kafka binding filter (through the wire
/// codes, as DescribeAcls does).
fn authorizer_filter(f: &AclBindingFilter) -> Result<AclFilter, LocalAclError> {
    AclFilter::from_wire(
        f.pattern.resource_type.code(),
        f.pattern.name.as_deref(),
        f.pattern.pattern_type.code(),
        f.entry.principal.as_deref(),
        f.entry.host.as_deref(),
        f.entry.operation.code(),
        f.entry.permission_type.code(),
    )
    .map_err(LocalAclError::InvalidFilter)
}

/// The filter that selects exactly one ACL.
fn exact_filter(acl: &AclBinding) -> AclFilter {
    AclFilter {
        resource_type: Some(acl.resource_type),
        name: Some(acl.resource_name.clone()),
        pattern: PatternFilter::Exactly(acl.pattern_type),
        principal: Some(acl.principal.clone()),
        host: Some(acl.host.clone()),
        operation: Some(acl.operation),
        permission: Some(acl.permission),
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

    fn open_topic(&self, topic: &TopicRecord) -> Result<(), LocalClusterError> {
        let b = self.broker().ok_or(LocalClusterError::Stopping)?;
        let config = b.log_config(topic);
        Ok(b.topics.create(topic, &config)?)
    }

    fn grow_topic(&self, topic: &TopicRecord) -> Result<(), LocalClusterError> {
        let b = self.broker().ok_or(LocalClusterError::Stopping)?;
        let config = b.log_config(topic);
        Ok(b.topics.grow(topic, &config)?)
    }

    fn reconfigure_topic(&self, topic: &TopicRecord) {
        if let Some(b) = self.broker() {
            b.topics.reconfigure(&topic.name, &b.log_config(topic));
        }
    }

    fn validate_topic_configs(
        &self,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), LocalClusterError> {
        for (k, v) in configs {
            validate_topic_config(k, v)
                .map_err(|e| LocalClusterError::InvalidTopicConfig(e.to_string()))?;
        }
        Ok(())
    }

    fn log_end_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        let b = self.broker()?;
        b.topics
            .partition(topic, partition)
            .map(|p| p.log.log_end_offset())
    }

    fn log_start_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        let b = self.broker()?;
        b.topics
            .partition(topic, partition)
            .map(|p| p.log.log_start_offset())
    }

    fn stored_batches(
        &self,
        topic: &str,
        partition: i32,
        from: i64,
        to: i64,
    ) -> Result<Vec<StoredBatch>, LogError> {
        let b = self.broker().ok_or_else(gone)?;
        let p = b.topics.partition(topic, partition).ok_or_else(gone)?;
        p.log.stored_batches(from, to)
    }

    fn mirror_append(&self, topic: &str, partition: i32, records: &[u8]) -> Result<i64, LogError> {
        let b = self.broker().ok_or_else(gone)?;
        let p = b.topics.partition(topic, partition).ok_or_else(gone)?;
        if let Err(e) = p.log.append_mirror(records) {
            p.storage_failed("mirror append", &e);
            return Err(e);
        }
        b.notify_appended();
        Ok(p.log.log_end_offset())
    }

    fn commit_offsets_if_inactive(
        &self,
        group: String,
        offsets: Vec<(PartitionKey, OffsetRecord)>,
    ) -> BoxFuture<Result<bool, LocalClusterError>> {
        let broker = self.broker();
        Box::pin(async move {
            let b = broker.ok_or(LocalClusterError::Stopping)?;
            b.groups
                .commit_if_inactive(&group, offsets)
                .await
                .map_err(|e| LocalClusterError::Group(e.to_string()))
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

    fn acls(&self, filters: &[AclBindingFilter]) -> Result<Vec<AclBinding>, LocalAclError> {
        let filters: Vec<AclFilter> = filters
            .iter()
            .map(authorizer_filter)
            .collect::<Result<_, _>>()?;
        self.with_authorizer(|a| {
            let mut out: Vec<AclBinding> = filters.iter().flat_map(|f| a.acls(f)).collect();
            out.sort();
            out.dedup();
            Ok(out)
        })
    }

    fn create_acls(&self, acls: Vec<AclBinding>) -> Result<(), LocalAclError> {
        self.with_authorizer(|a| {
            a.create_acls(acls)
                .map_err(|e| LocalAclError::Storage(e.to_string()))
        })
    }

    fn delete_acls(&self, acls: &[AclBinding]) -> Result<usize, LocalAclError> {
        let filters: Vec<AclFilter> = acls.iter().map(exact_filter).collect();
        self.with_authorizer(|a| {
            let removed = a
                .delete_acls(&filters)
                .map_err(|e| LocalAclError::Storage(e.to_string()))?;
            let mut all: Vec<AclBinding> = removed.into_iter().flatten().collect();
            all.sort();
            all.dedup();
            Ok(all.len())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use strait_link::{AccessControlEntryFilter, ResourcePatternFilter};
    use strait_metadata::{AclOperation, AclPatternType, AclPermission, AclResourceType};

    use super::*;

    fn topic_acl(name: &str, pattern: AclPatternType, principal: &str) -> AclBinding {
        AclBinding {
            resource_type: AclResourceType::Topic,
            resource_name: name.into(),
            pattern_type: pattern,
            principal: principal.into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: AclPermission::Allow,
        }
    }

    #[test]
    fn exact_filters_delete_only_their_acl() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn MetadataStore> =
            Arc::new(strait_metadata::EmbeddedStore::open(&dir.path().join("m.redb")).unwrap());
        let authorizer = Authorizer::new(HashSet::new(), false, store);
        let literal = topic_acl("t", AclPatternType::Literal, "User:a");
        let prefixed = topic_acl("t", AclPatternType::Prefixed, "User:a");
        let star = topic_acl("*", AclPatternType::Literal, "User:a");
        let other = topic_acl("t", AclPatternType::Literal, "User:b");
        authorizer
            .create_acls(vec![
                literal.clone(),
                prefixed.clone(),
                star.clone(),
                other.clone(),
            ])
            .unwrap();
        let removed = authorizer.delete_acls(&[exact_filter(&literal)]).unwrap();
        assert_eq!(removed, vec![vec![literal]]);
        let mut left = authorizer.acls(&AclFilter::any());
        left.sort();
        let mut expected = vec![prefixed, star, other];
        expected.sort();
        assert_eq!(left, expected);
    }

    #[test]
    fn link_filters_reach_the_authorizer_through_wire_codes() {
        let filter = AclBindingFilter {
            pattern: ResourcePatternFilter::any(),
            entry: AccessControlEntryFilter {
                principal: Some("User:a".into()),
                ..AccessControlEntryFilter::any()
            },
        };
        let converted = authorizer_filter(&filter).unwrap();
        assert_eq!(converted.principal.as_deref(), Some("User:a"));
        assert_eq!(converted.resource_type, None);
        assert_eq!(converted.pattern, PatternFilter::Any);
        assert!(converted.matches(&topic_acl("x", AclPatternType::Prefixed, "User:a")));
        assert!(!converted.matches(&topic_acl("x", AclPatternType::Prefixed, "User:b")));
    }
}
