//! strait-client: an async Kafka protocol client built on `kafka-protocol`.
//!
//! Layers, bottom up:
//! - [`frame`]: length-prefixed request/response framing.
//! - [`Connection`]: one broker connection with pipelining and API version negotiation.
//! - [`KafkaClient`]: bootstrap, metadata cache, per-broker connections, routing, retries.
//! - [`admin`]: typed admin calls (topics, configs, cluster, offsets, groups).
//!
//! The raw protocol types stay reachable through [`kafka_protocol`], so callers
//! can send any request with [`KafkaClient::call`] or [`Connection::send`].
//! This crate never prints, never reads files and never panics on bad input.

pub mod admin;
pub mod client;
pub mod config;
pub mod connection;
pub mod error;
pub mod frame;
pub mod metadata;

pub use admin::TopicPartition;
pub use client::{KafkaClient, Route, VersionedResponse};
pub use config::{ClientConfig, SecurityProtocol};
pub use connection::{BrokerStream, Connection};
pub use error::ClientError;
pub use kafka_protocol;
pub use metadata::{BrokerInfo, ClusterMetadata, PartitionInfo, TopicInfo};
