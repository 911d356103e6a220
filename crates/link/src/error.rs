//! Everything the link engine can fail with, and the one place where those
//! failures become admin error codes: Kafka's codes, and Confluent's
//! 10000-10011 for link errors ([`LinkError::code`]). The texts are the ones
//! tools, REST and operators see, word for word; this module must never be
//! bypassed by an operation inventing its own code for these errors.

use std::time::Duration;

use kafka_protocol::error::ResponseError;
use strait_client::ClientError;
use strait_metadata::MetadataError;
use strait_protocol::admin::{
    AdminError, CLUSTER_LINK_EXISTS, CLUSTER_LINK_IN_USE, CLUSTER_LINK_NOT_FOUND,
    INVALID_CLUSTER_LINK,
};

use crate::config::{ACL_SYNC_WITHOUT_FILTERS, LinkConfigError};
use crate::local::{LocalAclError, LocalClusterError};
use crate::mirror_state::{MirrorStateError, MirrorTopicState};
use crate::secrets::SecretError;

/// Confluent's message when the source refuses DescribeAcls to the link.
pub const SOURCE_DESCRIBE_DENIED: &str = "ACL sync was requested, but link credentials don't have DESCRIBE access for the source cluster";

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    // ---- links ----
    #[error("Cluster link '{0}' does not exist.")]
    UnknownLink(String),
    #[error("Cluster link '{0}' already exists.")]
    LinkExists(String),
    #[error(
        "Cluster link '{link}' with ID '{id}' is in use by topics: [{}]; stop them with promote or failover first, or use --force.",
        topics.join(", ")
    )]
    LinkInUse {
        link: String,
        id: String,
        topics: Vec<String>,
    },
    #[error("Cluster link name is empty")]
    EmptyLinkName,
    #[error("Link name exceeds maximum size of '200' characters")]
    LinkNameTooLong,
    #[error("Link name '{0}' is illegal, valid characters: [a-zA-Z0-9._-]")]
    IllegalLinkName(String),
    #[error(
        "Requested cluster ID matches local cluster ID '{0}' - cannot create cluster link to self"
    )]
    LinkToSelf(String),
    #[error(transparent)]
    Config(#[from] LinkConfigError),
    #[error("Cannot validate cluster link '{link}': the source cluster is unreachable: {error}")]
    ValidationUnreachable { link: String, error: ClientError },
    #[error(
        "Cluster ID mismatch for cluster link '{link}': expected '{given}' but the source cluster's ID is '{actual}'."
    )]
    ClusterIdMismatch {
        link: String,
        given: String,
        actual: String,
    },

    // ---- creating mirrors ----
    #[error("Cluster link '{link}' has the prefix '{prefix}': --source-topic is required.")]
    SourceTopicRequired { link: String, prefix: String },
    /// "Topic renaming for mirroring not yet supported" is Confluent's own
    /// answer, kept word for word for scripts.
    #[error(
        "Topic renaming for mirroring not yet supported: mirror topic '{mirror}' must be the link prefix '{prefix}' followed by the source topic name '{source_topic}'."
    )]
    RenameWithPrefix {
        mirror: String,
        prefix: String,
        source_topic: String,
    },
    #[error(
        "Topic renaming for mirroring not yet supported: mirror topic '{mirror}' must match the source topic name '{source_topic}'."
    )]
    Rename {
        mirror: String,
        source_topic: String,
    },
    #[error("Topic '{0}' already exists.")]
    TopicExists(String),
    #[error(
        "Unable to replicate the partition {0} time(s): The target replication factor of {0} cannot be reached because only 1 broker(s) are registered."
    )]
    ReplicationFactor(i16),
    #[error("Cannot reach the source cluster of link '{link}': {error}")]
    SourceUnreachable { link: String, error: ClientError },
    #[error("Cannot read source metadata: {0}")]
    SourceMetadata(ClientError),
    #[error("Topic '{topic}' does not exist on the source cluster of link '{link}'.")]
    NoSourceTopic { topic: String, link: String },
    #[error("Cannot read source topic configs: {0}")]
    SourceConfigs(ClientError),
    #[error("Cannot set configuration '{key}' for mirror topic '{mirror}'")]
    SyncedConfig { key: String, mirror: String },
    /// A topic config the broker's catalog refuses.
    #[error("{0}")]
    InvalidTopicConfig(LocalClusterError),
    /// The broker could not open the new topic's partitions.
    #[error("{0}")]
    OpenTopic(LocalClusterError),

    // ---- operating on mirrors ----
    #[error("Topic '{0}' is not a mirror topic.")]
    NotAMirrorTopic(String),
    #[error("Topic '{topic}' is not a mirror of link '{link}'")]
    NotMirrorOfLink { topic: String, link: String },
    #[error("Topic {0} not found")]
    UnknownTopic(String),
    #[error("Topic '{0}' is not mirrored")]
    NotMirrored(String),
    #[error("Cannot {operation} topic '{topic}': its mirror state is {state}.")]
    WrongMirrorState {
        operation: &'static str,
        topic: String,
        state: MirrorTopicState,
    },
    #[error("Topic '{topic}' has already stopped its mirror from '{link}'")]
    AlreadyStopped { topic: String, link: String },
    #[error(
        "Cannot promote topic '{topic}': the source cluster could not be reached to check lag ({reason}); use --failover instead."
    )]
    PromoteUnchecked {
        topic: String,
        reason: Box<LinkError>,
    },
    #[error(
        "Topic '{topic}' cannot be promoted: mirror lag is not zero ({lag} records behind the source)"
    )]
    LagNotZero { topic: String, lag: i64 },
    #[error("no answer within {} s", .0.as_secs())]
    NoAnswerWithin(Duration),
    #[error(transparent)]
    MirrorState(#[from] MirrorStateError),

    // ---- verifying and repairing mirrors ----
    #[error("Name at least one mirror topic to verify.")]
    NoTopicsToVerify,
    #[error("Mirror partition {topic}-{partition} is not held by this broker.")]
    MirrorPartitionMissing { topic: String, partition: i32 },
    #[error(
        "Cannot verify or repair {topic}-{partition}: the source cluster of link '{link}' did not answer: {error}"
    )]
    VerifySource {
        topic: String,
        partition: i32,
        link: String,
        error: Box<crate::fetcher::SourceError>,
    },
    #[error(
        "Cannot verify or repair {topic}-{partition}: the source cluster of link '{link}' did not answer within {} s",
        .within.as_secs()
    )]
    VerifySourceSilent {
        topic: String,
        partition: i32,
        link: String,
        within: Duration,
    },
    #[error(
        "the source holds no batch {base_offset}..={last_offset} of {topic}-{partition} ({found})"
    )]
    SourceBatchDiffers {
        topic: String,
        partition: i32,
        base_offset: i64,
        last_offset: i64,
        found: String,
    },

    // ---- background work (sync tasks, control loop, fetchers) ----
    #[error("mirror topic '{0}' does not exist")]
    MirrorTopicMissing(String),
    #[error("reading offsets of group {group}: {error}")]
    GroupOffsets { group: String, error: ClientError },
    #[error("auto-creating mirrors failed: {}", .0.join("; "))]
    AutoCreate(Vec<String>),
    #[error("{ACL_SYNC_WITHOUT_FILTERS}")]
    AclSyncWithoutFilters,
    #[error("acl.filters: unknown {field} '{value}'")]
    UnknownAclFilterValue { field: &'static str, value: String },
    #[error("ACL sync task failed: {0}")]
    AclSyncTask(tokio::task::JoinError),
    #[error("reading the mirror's log failed: {0}")]
    BlockingTask(tokio::task::JoinError),
    #[error("cannot reach the source cluster: {0}")]
    SourceAclsUnreachable(ClientError),
    #[error("{SOURCE_DESCRIBE_DENIED}")]
    SourceAclsDenied,
    #[error("ACL sync was requested, but the source cluster has no authorizer configured: {0}")]
    SourceAclsNoAuthorizer(ClientError),
    #[error("describing ACLs on the source cluster failed: {0}")]
    SourceAcls(ClientError),
    #[error(transparent)]
    LocalAcl(#[from] LocalAclError),
    #[error(transparent)]
    Local(#[from] LocalClusterError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Log(#[from] strait_log::LogError),

    // ---- storage ----
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl LinkError {
    /// The admin error code: Confluent's for link errors, Kafka's otherwise.
    pub fn code(&self) -> i16 {
        use LinkError::*;
        let kafka = match self {
            UnknownLink(_) => return CLUSTER_LINK_NOT_FOUND,
            LinkExists(_) => return CLUSTER_LINK_EXISTS,
            LinkInUse { .. } => return CLUSTER_LINK_IN_USE,
            EmptyLinkName | LinkNameTooLong | IllegalLinkName(_) => return INVALID_CLUSTER_LINK,
            LinkToSelf(_)
            | SourceTopicRequired { .. }
            | RenameWithPrefix { .. }
            | Rename { .. }
            | NotMirrorOfLink { .. }
            | NotMirrored(_)
            | WrongMirrorState { .. }
            | AlreadyStopped { .. }
            | PromoteUnchecked { .. }
            | LagNotZero { .. }
            | NoTopicsToVerify => ResponseError::InvalidRequest,
            MirrorState(MirrorStateError::Storage(_)) => ResponseError::KafkaStorageError,
            MirrorState(_) => ResponseError::InvalidRequest,
            Config(_)
            | ValidationUnreachable { .. }
            | ClusterIdMismatch { .. }
            | SyncedConfig { .. }
            | InvalidTopicConfig(_)
            | AclSyncWithoutFilters
            | UnknownAclFilterValue { .. } => ResponseError::InvalidConfig,
            TopicExists(_) => ResponseError::TopicAlreadyExists,
            ReplicationFactor(_) => ResponseError::InvalidReplicationFactor,
            SourceUnreachable { .. }
            | SourceMetadata(_)
            | SourceConfigs(_)
            | SourceAclsUnreachable(_)
            | NoAnswerWithin(_)
            | VerifySource { .. }
            | VerifySourceSilent { .. } => ResponseError::NetworkException,
            NoSourceTopic { .. }
            | NotAMirrorTopic(_)
            | UnknownTopic(_)
            | MirrorTopicMissing(_)
            | MirrorPartitionMissing { .. } => ResponseError::UnknownTopicOrPartition,
            SourceBatchDiffers { .. } => ResponseError::CorruptMessage,
            SourceAclsDenied => ResponseError::ClusterAuthorizationFailed,
            SourceAclsNoAuthorizer(_) => ResponseError::SecurityDisabled,
            LocalAcl(LocalAclError::NoAuthorizer) => ResponseError::SecurityDisabled,
            LocalAcl(LocalAclError::InvalidFilter(_)) => ResponseError::InvalidRequest,
            LocalAcl(LocalAclError::Storage(_)) => ResponseError::KafkaStorageError,
            LocalAcl(LocalAclError::Stopping) | Local(LocalClusterError::Stopping) => {
                ResponseError::BrokerNotAvailable
            }
            Local(LocalClusterError::InvalidTopicConfig(_)) => ResponseError::InvalidConfig,
            OpenTopic(_) | Local(_) | Log(_) | Metadata(_) | Secret(_) => {
                ResponseError::KafkaStorageError
            }
            GroupOffsets { error, .. } | SourceAcls(error) | Client(error) => error
                .server_error()
                .unwrap_or(ResponseError::NetworkException),
            AutoCreate(_) | AclSyncTask(_) | BlockingTask(_) => ResponseError::UnknownServerError,
        };
        kafka.code()
    }
}

impl From<LinkError> for AdminError {
    fn from(e: LinkError) -> Self {
        AdminError::new(e.code(), e.to_string())
    }
}

/// The admin answer to an operation's outcome.
pub fn admin_error(outcome: Result<(), LinkError>) -> AdminError {
    match outcome {
        Ok(()) => AdminError::none(),
        Err(e) => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes admin clients decode, and the texts tools print.
    #[test]
    fn link_errors_carry_confluents_codes_and_texts() {
        let cases: Vec<(LinkError, i16, &str)> = vec![
            (
                LinkError::UnknownLink("nope".into()),
                10000,
                "Cluster link 'nope' does not exist.",
            ),
            (
                LinkError::LinkExists("dr".into()),
                10001,
                "Cluster link 'dr' already exists.",
            ),
            (
                LinkError::LinkInUse {
                    link: "dr".into(),
                    id: "id-1".into(),
                    topics: vec!["a".into(), "b".into()],
                },
                10002,
                "Cluster link 'dr' with ID 'id-1' is in use by topics: [a, b]; stop them with promote or failover first, or use --force.",
            ),
            (
                LinkError::IllegalLinkName("bad/name".into()),
                10003,
                "Link name 'bad/name' is illegal, valid characters: [a-zA-Z0-9._-]",
            ),
            (
                LinkError::AlreadyStopped {
                    topic: "t".into(),
                    link: "example-link".into(),
                },
                ResponseError::InvalidRequest.code(),
                "Topic 't' has already stopped its mirror from 'example-link'",
            ),
            (
                LinkError::WrongMirrorState {
                    operation: "pause",
                    topic: "t".into(),
                    state: MirrorTopicState::Failed,
                },
                ResponseError::InvalidRequest.code(),
                "Cannot pause topic 't': its mirror state is FAILED.",
            ),
            (
                LinkError::PromoteUnchecked {
                    topic: "t".into(),
                    reason: Box::new(LinkError::NoAnswerWithin(Duration::from_secs(10))),
                },
                ResponseError::InvalidRequest.code(),
                "Cannot promote topic 't': the source cluster could not be reached to check lag (no answer within 10 s); use --failover instead.",
            ),
            (
                LinkError::TopicExists("present".into()),
                ResponseError::TopicAlreadyExists.code(),
                "Topic 'present' already exists.",
            ),
            (
                LinkError::AutoCreate(vec!["a: x".into(), "b: y".into()]),
                ResponseError::UnknownServerError.code(),
                "auto-creating mirrors failed: a: x; b: y",
            ),
            (
                LinkError::AclSyncWithoutFilters,
                ResponseError::InvalidConfig.code(),
                ACL_SYNC_WITHOUT_FILTERS,
            ),
            (
                LinkError::SourceAclsDenied,
                ResponseError::ClusterAuthorizationFailed.code(),
                SOURCE_DESCRIBE_DENIED,
            ),
            (
                LinkError::LocalAcl(LocalAclError::NoAuthorizer),
                ResponseError::SecurityDisabled.code(),
                "No Authorizer is configured on the destination cluster (SECURITY_DISABLED): set authorizer.class.name to sync ACLs",
            ),
        ];
        for (error, code, text) in cases {
            assert_eq!((error.code(), error.to_string().as_str()), (code, text));
            let admin = AdminError::from(error);
            assert_eq!(admin.error_code, code);
            assert_eq!(admin.error_message.as_deref(), Some(text));
        }
        assert!(!admin_error(Ok(())).is_error());
    }

    #[test]
    fn storage_failures_of_a_state_change_are_storage_errors() {
        let e = LinkError::from(MirrorStateError::Storage(MetadataError::Storage(
            "disk full".into(),
        )));
        assert_eq!(e.code(), ResponseError::KafkaStorageError.code());
        let refused = LinkError::from(MirrorStateError::Refused {
            topic: "t".into(),
            from: MirrorTopicState::Stopped,
            to: MirrorTopicState::Active,
        });
        assert_eq!(refused.code(), ResponseError::InvalidRequest.code());
    }
}
