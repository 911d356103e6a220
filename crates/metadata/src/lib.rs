//! Strait's cluster metadata: topics, configs, consumer group offsets and group
//! state, transaction state, producer id allocation, the cluster id.
//!
//! Everything goes through the [`MetadataStore`] trait, with two backends: the
//! embedded one ([`EmbeddedStore`], backed by redb, the single-node default) and
//! etcd v3 ([`EtcdStore`], shared by the brokers of a cluster). This
//! crate owns persistence of metadata only; it must never touch partition logs or
//! speak the Kafka protocol.

mod acls;
mod embedded;
mod etcd;
mod records;
mod state;

pub use acls::{AclBinding, AclOperation, AclPatternType, AclPermission, AclResourceType};
pub use embedded::EmbeddedStore;
pub use etcd::{BrokerRegistration, EtcdError, EtcdSettings, EtcdStore, RegistrationError};
pub use records::{
    GroupOffsets, LinkRecord, MirrorRecord, MirrorState, OffsetRecord, PartitionKey,
    ScramCredential, TopicRecord,
};

/// Errors of the metadata store.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("topic '{0}' already exists")]
    TopicExists(String),
    #[error("topic '{0}' does not exist")]
    UnknownTopic(String),
    #[error("cluster link '{0}' already exists")]
    LinkExists(String),
    #[error("cluster link '{0}' does not exist")]
    UnknownLink(String),
    #[error("metadata storage failed: {0}")]
    Storage(String),
    #[error("metadata record is corrupt: {0}")]
    Corrupt(String),
    /// The metadata store cannot be reached (etcd down or partitioned away):
    /// the change was not made, or its outcome is unknown; retrying once the
    /// store is back is safe.
    #[error("metadata store unavailable: {0}")]
    Unavailable(String),
}

/// The one interface to cluster metadata. Reads are served from memory; every
/// mutation is durable (survives kill -9) before it returns.
pub trait MetadataStore: Send + Sync {
    /// The cluster id, generated once when the store is first created.
    fn cluster_id(&self) -> String;

    fn topics(&self) -> Vec<TopicRecord>;
    fn topic(&self, name: &str) -> Option<TopicRecord>;
    /// Creates a topic; fails with [`MetadataError::TopicExists`] if the name is taken.
    fn create_topic(&self, topic: TopicRecord) -> Result<(), MetadataError>;
    /// Replaces an existing topic record (partition count, configs).
    fn update_topic(&self, topic: TopicRecord) -> Result<(), MetadataError>;
    /// Deletes a topic and every committed offset of it.
    fn delete_topic(&self, name: &str) -> Result<TopicRecord, MetadataError>;

    /// Dynamic broker configs (cluster-wide defaults set with kafka-configs).
    fn broker_configs(&self) -> std::collections::BTreeMap<String, String>;
    fn set_broker_configs(
        &self,
        configs: std::collections::BTreeMap<String, String>,
    ) -> Result<(), MetadataError>;

    /// Committed offsets of a group (empty if none).
    fn group_offsets(&self, group: &str) -> GroupOffsets;
    /// Names of groups that have committed offsets or stored state.
    fn groups(&self) -> Vec<String>;
    /// Commits offsets for a group atomically.
    fn commit_offsets(
        &self,
        group: &str,
        offsets: Vec<(PartitionKey, OffsetRecord)>,
    ) -> Result<(), MetadataError>;
    /// Removes the given partitions' offsets of a group.
    fn delete_offsets(&self, group: &str, partitions: &[PartitionKey])
    -> Result<(), MetadataError>;
    /// Removes a group entirely: offsets and stored state.
    fn delete_group(&self, group: &str) -> Result<(), MetadataError>;

    /// Opaque persisted state of a group, owned by the group coordinator.
    fn group_state(&self, group: &str) -> Option<Vec<u8>>;
    fn set_group_state(&self, group: &str, state: Option<Vec<u8>>) -> Result<(), MetadataError>;

    /// Opaque persisted state of a transactional id, owned by the transaction
    /// coordinator.
    fn txn_state(&self, transactional_id: &str) -> Option<Vec<u8>>;
    /// Stores (Some) or removes (None) a transactional id's state.
    fn set_txn_state(
        &self,
        transactional_id: &str,
        state: Option<Vec<u8>>,
    ) -> Result<(), MetadataError>;
    /// Every stored transactional id with its state.
    fn txn_states(&self) -> Vec<(String, Vec<u8>)>;

    /// A user's SCRAM credentials, by mechanism name (`SCRAM-SHA-256`, ...).
    fn scram_credentials(&self, user: &str) -> std::collections::BTreeMap<String, ScramCredential>;
    /// Stores (Some) or removes (None) a user's credential for one mechanism.
    fn set_scram_credential(
        &self,
        user: &str,
        mechanism: &str,
        credential: Option<ScramCredential>,
    ) -> Result<(), MetadataError>;
    /// Users with at least one SCRAM credential, sorted.
    fn scram_users(&self) -> Vec<String>;

    /// Allocates a block of `count` producer ids; returns the first one.
    fn allocate_producer_ids(&self, count: i64) -> Result<i64, MetadataError>;

    fn links(&self) -> Vec<LinkRecord>;
    fn link(&self, name: &str) -> Option<LinkRecord>;
    /// Creates a link; fails with [`MetadataError::LinkExists`] if the name is taken.
    fn create_link(&self, link: LinkRecord) -> Result<(), MetadataError>;
    fn update_link(&self, link: LinkRecord) -> Result<(), MetadataError>;
    /// Deletes a link and the records of its mirrors.
    fn delete_link(&self, name: &str) -> Result<(), MetadataError>;

    fn mirrors(&self) -> Vec<MirrorRecord>;
    fn mirror(&self, topic: &str) -> Option<MirrorRecord>;
    /// Creates or replaces a mirror record.
    fn put_mirror(&self, mirror: MirrorRecord) -> Result<(), MetadataError>;
    /// Creates a topic together with its mirror record, atomically.
    fn create_mirror_topic(
        &self,
        topic: TopicRecord,
        mirror: MirrorRecord,
    ) -> Result<(), MetadataError>;

    /// Every ACL, in no particular order.
    fn acls(&self) -> Vec<AclBinding>;
    /// Adds ACLs atomically; ones already present are kept once.
    fn create_acls(&self, acls: Vec<AclBinding>) -> Result<(), MetadataError>;
    /// Removes every ACL `matches` selects, atomically; returns the removed ones.
    fn delete_acls(
        &self,
        matches: &dyn Fn(&AclBinding) -> bool,
    ) -> Result<Vec<AclBinding>, MetadataError>;
}
