//! strait-client: an async Kafka protocol client built on `kafka-protocol`.
//!
//! Layers, bottom up:
//! - [`frame`]: length-prefixed request/response framing.
//! - [`tls`] and [`sasl`]: the secured transports (`security.protocol` SSL,
//!   SASL_PLAINTEXT, SASL_SSL) a connection is opened over.
//! - [`Connection`]: one broker connection with pipelining, API version
//!   negotiation and SASL authentication.
//! - [`KafkaClient`]: bootstrap, metadata cache, per-broker connections, routing, retries.
//! - [`admin`]: typed admin calls (topics, configs, cluster, offsets, groups).
//!
//! The raw protocol types stay reachable through [`kafka_protocol`], so callers
//! can send any request with [`KafkaClient::call`] or [`Connection::send`].
//! This crate never prints, never panics on bad input and reads no files
//! except the PEM trust/key files that `ssl.*` properties name (see [`tls`]).

pub mod admin;
pub mod client;
pub mod config;
pub mod connection;
pub mod error;
pub mod frame;
pub mod metadata;
pub mod partitioner;
pub mod sasl;
pub mod secret;
pub mod tls;

pub use admin::TopicPartition;
pub use client::{KafkaClient, Route, VersionedResponse};
pub use config::{ClientConfig, SecurityProtocol};
pub use connection::{BrokerStream, Connection};
pub use error::ClientError;
pub use kafka_protocol;
pub use metadata::{BrokerInfo, ClusterMetadata, PartitionInfo, TopicInfo};
pub use sasl::{SaslMechanism, SaslSettings};
pub use secret::Secret;
pub use tls::TlsSettings;
