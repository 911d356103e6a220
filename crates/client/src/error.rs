//! Error type of the client: transport failures, protocol (encode/decode and
//! version negotiation) failures, configuration problems and errors reported
//! by brokers. It owns the mapping from Kafka error codes to readable text;
//! it must never hide the original error code from callers.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::VersionRange;

/// Everything that can go wrong while talking to a Kafka-compatible cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A client property has a value that cannot be parsed or is out of range.
    #[error("Invalid value {value:?} for configuration {property}: {reason}")]
    InvalidConfig {
        property: String,
        value: String,
        reason: String,
    },
    /// A client property asks for something outside what this client offers
    /// (e.g. a JKS store or the GSSAPI mechanism); the reason says what to use.
    #[error("Unsupported value {value:?} for configuration {property}: {reason}")]
    UnsupportedConfig {
        property: String,
        value: String,
        reason: String,
    },
    /// A TCP connection could not be established.
    #[error("Could not connect to {address}: {reason}")]
    Connect { address: String, reason: String },
    /// The TLS handshake failed for a reason a retry will not fix (untrusted
    /// or mismatching certificate, protocol mismatch, refused client certificate).
    #[error("TLS handshake with {address} failed: {reason}")]
    Tls { address: String, reason: String },
    /// SASL authentication failed on the client side (for example the
    /// broker could not prove it knows the SCRAM credentials). Failures the
    /// broker reports arrive as [`ClientError::Server`] with its message.
    #[error("SASL {mechanism} authentication with {address} failed: {reason}")]
    Authentication {
        address: String,
        mechanism: String,
        reason: String,
    },
    /// The connection broke (or was closed) while requests were in flight.
    #[error("Connection to {address} was closed: {reason}")]
    ConnectionClosed { address: String, reason: String },
    /// No response arrived within `request.timeout.ms`.
    #[error("Request {api:?} to {address} timed out after {timeout_ms} ms")]
    RequestTimeout {
        api: ApiKey,
        address: String,
        timeout_ms: u64,
    },
    /// No broker could be reached before the API deadline (`default.api.timeout.ms`).
    #[error("Timed out waiting for a node assignment. Call: {call}{}", last_error_suffix(.last_error))]
    NodeUnavailable {
        call: String,
        last_error: Option<String>,
    },
    /// An operation kept failing with retriable errors until its deadline.
    #[error("Call {call} timed out after {timeout_ms} ms{}", last_error_suffix(.last_error))]
    Timeout {
        call: String,
        timeout_ms: u64,
        last_error: Option<String>,
    },
    /// A request could not be encoded (usually a field not valid for the version).
    #[error("Failed to encode {api:?} v{version} request: {reason}")]
    Encode {
        api: ApiKey,
        version: i16,
        reason: String,
    },
    /// A response could not be decoded.
    #[error("Failed to decode {api:?} v{version} response from {address}: {reason}")]
    Decode {
        api: ApiKey,
        version: i16,
        address: String,
        reason: String,
    },
    /// The peer sent a frame that violates the framing rules.
    #[error("Invalid frame from {address}: {reason}")]
    InvalidFrame { address: String, reason: String },
    /// The broker and this client share no version of an API.
    #[error("The broker at {address} does not support {api:?} (client supports {ours}, broker supports {})", broker_range_text(.broker))]
    UnsupportedVersion {
        api: ApiKey,
        address: String,
        ours: VersionRange,
        broker: Option<VersionRange>,
    },
    /// An error code reported by the broker, with the broker's message when it sent one.
    #[error("{message}")]
    Server {
        error: ResponseError,
        message: String,
    },
    /// A broker id that is not (or no longer) part of the cluster metadata.
    #[error("Broker {0} is not part of the cluster metadata")]
    UnknownBroker(i32),
    /// The caller passed arguments that cannot form a valid request.
    #[error("{0}")]
    InvalidArgument(String),
}

fn last_error_suffix(last: &Option<String>) -> String {
    match last {
        Some(text) => format!(" (last error: {text})"),
        None => String::new(),
    }
}

fn broker_range_text(range: &Option<VersionRange>) -> String {
    match range {
        Some(r) => r.to_string(),
        None => "no version".to_string(),
    }
}

impl ClientError {
    /// Builds a [`ClientError::Server`] from a response error code, preferring the
    /// broker's own message and falling back to a standard description.
    /// Returns `None` for code 0 (no error).
    pub fn from_code(code: i16, message: Option<&str>) -> Option<ClientError> {
        let error = ResponseError::try_from_code(code)?;
        let message = match message {
            Some(text) if !text.is_empty() => text.to_string(),
            _ => error_description(error),
        };
        Some(ClientError::Server { error, message })
    }

    /// `Ok(())` for code 0, the matching [`ClientError::Server`] otherwise.
    pub fn check(code: i16, message: Option<&str>) -> Result<(), ClientError> {
        match ClientError::from_code(code, message) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// The Kafka error this is, if it came from a broker.
    pub fn server_error(&self) -> Option<ResponseError> {
        match self {
            ClientError::Server { error, .. } => Some(*error),
            _ => None,
        }
    }

    /// True for transport-level failures after which a retry on a fresh
    /// connection (possibly to another broker) may succeed.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            ClientError::Connect { .. }
                | ClientError::ConnectionClosed { .. }
                | ClientError::RequestTimeout { .. }
                | ClientError::InvalidFrame { .. }
        )
    }

    /// True when retrying the same call later may succeed (transport problems
    /// and retriable Kafka error codes).
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::Server { error, .. } => error.is_retriable(),
            other => other.is_transport(),
        }
    }

    /// True for broker errors that mean our view of partition leadership or
    /// topic existence is out of date.
    pub fn is_stale_metadata(&self) -> bool {
        matches!(
            self.server_error(),
            Some(
                ResponseError::NotLeaderOrFollower
                    | ResponseError::LeaderNotAvailable
                    | ResponseError::UnknownTopicOrPartition
                    | ResponseError::FencedLeaderEpoch
                    | ResponseError::UnknownLeaderEpoch
                    | ResponseError::NotController
                    | ResponseError::UnknownTopicId
            )
        )
    }

    /// True for group errors that mean the cached coordinator is wrong or busy.
    pub fn is_coordinator_error(&self) -> bool {
        matches!(
            self.server_error(),
            Some(
                ResponseError::NotCoordinator
                    | ResponseError::CoordinatorNotAvailable
                    | ResponseError::CoordinatorLoadInProgress
            )
        )
    }
}

/// A readable sentence for a Kafka error code, used when the broker sent no message.
pub fn error_description(error: ResponseError) -> String {
    use ResponseError as E;
    let text = match error {
        E::UnknownServerError => {
            "The server experienced an unexpected error when processing the request."
        }
        E::OffsetOutOfRange => {
            "The requested offset is not within the range of offsets maintained by the server."
        }
        E::CorruptMessage => {
            "The message is corrupt (bad checksum, invalid size or otherwise malformed)."
        }
        E::UnknownTopicOrPartition => "This server does not host this topic-partition.",
        E::LeaderNotAvailable => {
            "There is no leader for this topic-partition as we are in the middle of a leadership election."
        }
        E::NotLeaderOrFollower => {
            "This server is not the leader (or a follower) of that topic-partition."
        }
        E::RequestTimedOut => "The request timed out.",
        E::BrokerNotAvailable => "The broker is not available.",
        E::MessageTooLarge => {
            "The request included a message larger than the max message size the server will accept."
        }
        E::NetworkException => "The server disconnected before a response was received.",
        E::CoordinatorLoadInProgress => {
            "The coordinator is loading and hence can't process requests."
        }
        E::CoordinatorNotAvailable => "The coordinator is not available.",
        E::NotCoordinator => "This is not the correct coordinator.",
        E::InvalidTopicException => {
            "The request attempted to perform an operation on an invalid topic."
        }
        E::InvalidGroupId => "The group id is invalid.",
        E::UnknownMemberId => "The coordinator is not aware of this member.",
        E::RebalanceInProgress => "The group is rebalancing, so a rejoin is needed.",
        E::TopicAuthorizationFailed => "Topic authorization failed.",
        E::GroupAuthorizationFailed => "Group authorization failed.",
        E::ClusterAuthorizationFailed => "Cluster authorization failed.",
        E::UnsupportedVersion => "The version of API is not supported.",
        E::TopicAlreadyExists => "Topic with this name already exists.",
        E::InvalidPartitions => "Number of partitions is below 1.",
        E::InvalidReplicationFactor => {
            "Replication factor is below 1 or larger than the number of available brokers."
        }
        E::InvalidReplicaAssignment => "Replica assignment is invalid.",
        E::InvalidConfig => "Configuration is invalid.",
        E::NotController => "This is not the correct controller for this cluster.",
        E::InvalidRequest => {
            "This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker."
        }
        E::PolicyViolation => "Request parameters do not satisfy the configured policy.",
        E::KafkaStorageError => "Disk error when trying to access log file on the disk.",
        E::ReassignmentInProgress => "A partition reassignment is in progress.",
        E::NonEmptyGroup => "The group is not empty.",
        E::GroupIdNotFound => "The group id does not exist.",
        E::TopicDeletionDisabled => "Topic deletion is disabled.",
        E::FencedLeaderEpoch => {
            "The leader epoch in the request is older than the epoch on the broker."
        }
        E::UnknownLeaderEpoch => {
            "The leader epoch in the request is newer than the epoch on the broker."
        }
        E::OffsetNotAvailable => {
            "The leader high watermark has not caught up from a recent leader election so the offsets cannot be guaranteed to be monotonically increasing."
        }
        E::GroupSubscribedToTopic => "The consumer group is actively subscribed to the topic.",
        E::ThrottlingQuotaExceeded => "The throttling quota has been exceeded.",
        E::ResourceNotFound => "A request illegally referred to a resource that does not exist.",
        E::DuplicateResource => "A request illegally referred to the same resource twice.",
        E::UnknownTopicId => "This server does not host this topic ID.",
        E::InconsistentTopicId => "The log's topic ID did not match the topic ID in the request.",
        E::BrokerIdNotRegistered => "The given broker ID was not registered.",
        E::UnknownControllerId => "This controller ID is not known.",
        E::InvalidRegularExpression => "The regular expression is not valid.",
        _ => {
            return format!(
                "The broker reported error {error:?} (code {}).",
                error.code()
            );
        }
    };
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_failures_are_final() {
        let tls = ClientError::Tls {
            address: "h:1".to_string(),
            reason: "untrusted".to_string(),
        };
        assert!(!tls.is_retriable() && !tls.is_transport());
        let auth = ClientError::from_code(58, Some("Authentication failed"));
        assert!(auth.as_ref().is_some_and(|e| !e.is_retriable()));
        let scram = ClientError::Authentication {
            address: "h:1".to_string(),
            mechanism: "SCRAM-SHA-256".to_string(),
            reason: "bad server signature".to_string(),
        };
        assert!(!scram.is_retriable());
    }

    #[test]
    fn broker_message_wins_over_default_text() {
        let err = ClientError::from_code(36, Some("Topic 'a' already exists."));
        assert_eq!(
            err.map(|e| e.to_string()),
            Some("Topic 'a' already exists.".to_string())
        );
        let err = ClientError::from_code(36, None);
        assert_eq!(
            err.map(|e| e.to_string()),
            Some("Topic with this name already exists.".to_string())
        );
        assert!(ClientError::from_code(0, Some("x")).is_none());
    }

    #[test]
    fn retriable_and_stale_metadata_classification() {
        let stale = ClientError::from_code(6, None);
        assert!(
            stale
                .as_ref()
                .is_some_and(|e| e.is_stale_metadata() && e.is_retriable())
        );
        let exists = ClientError::from_code(36, None);
        assert!(exists.as_ref().is_some_and(|e| !e.is_retriable()));
    }
}
