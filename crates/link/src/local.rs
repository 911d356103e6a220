//! `LocalCluster`: what the link engine needs from the broker it runs in.
//! The broker implements it; the engine never reaches into broker internals
//! any other way, so data flows one way (broker -> link -> client).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use strait_client::admin::acls::AclBindingFilter;
use strait_log::{LogError, StoredBatch};
use strait_metadata::{AclBinding, MetadataStore, OffsetRecord, PartitionKey, TopicRecord};

/// Why this cluster's ACLs could not be read or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalAclError {
    /// The broker runs without `authorizer.class.name` (Kafka answers
    /// SECURITY_DISABLED).
    #[error(
        "No Authorizer is configured on the destination cluster (SECURITY_DISABLED): set authorizer.class.name to sync ACLs"
    )]
    NoAuthorizer,
    /// A filter the authorizer does not accept.
    #[error("invalid ACL filter: {0}")]
    InvalidFilter(String),
    /// The metadata store refused the change.
    #[error("storing ACLs failed: {0}")]
    Storage(String),
    #[error("broker is stopping")]
    Stopping,
}

/// Why the broker could not do what the engine asked of a topic or group.
#[derive(Debug, thiserror::Error)]
pub enum LocalClusterError {
    #[error("broker is stopping")]
    Stopping,
    /// Opening or growing a topic's partitions failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A topic config the broker's catalog refuses, in the catalog's words.
    #[error("{0}")]
    InvalidTopicConfig(String),
    /// The group coordinator could not commit, in its words.
    #[error("{0}")]
    Group(String),
}

/// A boxed future, so the trait stays object safe.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

pub trait LocalCluster: Send + Sync + 'static {
    fn cluster_id(&self) -> String;
    fn store(&self) -> Arc<dyn MetadataStore>;
    /// The replication factor a new topic gets by default.
    fn default_replication_factor(&self) -> i16;
    /// Opens the partitions of a topic whose record was just stored.
    fn open_topic(&self, topic: &TopicRecord) -> Result<(), LocalClusterError>;
    /// Opens partitions added to a stored topic record.
    fn grow_topic(&self, topic: &TopicRecord) -> Result<(), LocalClusterError>;
    /// Applies a stored topic record's configs to its live partitions.
    fn reconfigure_topic(&self, topic: &TopicRecord);
    fn log_end_offset(&self, topic: &str, partition: i32) -> Option<i64>;
    /// The first offset of a partition's log; `None` for a partition this
    /// broker does not hold.
    fn log_start_offset(&self, topic: &str, partition: i32) -> Option<i64>;
    /// The stored batches holding offsets `[from, to)` of a partition
    /// (blocking: reads the log; see `strait_log::Log::stored_batches`).
    fn stored_batches(
        &self,
        topic: &str,
        partition: i32,
        from: i64,
        to: i64,
    ) -> Result<Vec<StoredBatch>, LogError>;
    /// Mirror append (source offsets kept). Returns the new log end offset.
    fn mirror_append(&self, topic: &str, partition: i32, records: &[u8]) -> Result<i64, LogError>;
    /// Checks topic configs against the broker's catalog.
    fn validate_topic_configs(
        &self,
        configs: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), LocalClusterError>;
    /// Commits offsets for a group only while it has no active members here.
    /// Ok(false) means the group is in use and nothing was written.
    fn commit_offsets_if_inactive(
        &self,
        group: String,
        offsets: Vec<(PartitionKey, OffsetRecord)>,
    ) -> BoxFuture<Result<bool, LocalClusterError>>;
    /// Moves a partition's log start offset forward to `offset` (never past
    /// its log end), as a follower follows its leader's log start.
    fn advance_log_start(&self, topic: &str, partition: i32, offset: i64) -> Result<(), LogError>;
    /// Moves an empty partition's log start and end to `offset`.
    fn reset_empty_to(&self, topic: &str, partition: i32, offset: i64) -> Result<(), LogError>;
    /// The ACLs of this cluster that at least one of the filters selects,
    /// read through the broker's authorizer (blocking).
    fn acls(&self, filters: &[AclBindingFilter]) -> Result<Vec<AclBinding>, LocalAclError>;
    /// Adds ACLs through the broker's authorizer (blocking: durable write).
    fn create_acls(&self, acls: Vec<AclBinding>) -> Result<(), LocalAclError>;
    /// Removes exactly these ACLs through the broker's authorizer (blocking:
    /// durable write). Returns how many were removed.
    fn delete_acls(&self, acls: &[AclBinding]) -> Result<usize, LocalAclError>;
}
