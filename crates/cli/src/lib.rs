//! strait-cli: Apache Kafka-compatible command-line tools (`kafka-topics`,
//! `kafka-configs`, `kafka-cluster`, `kafka-consumer-groups`,
//! `kafka-broker-api-versions`, and
//! Confluent's `kafka-cluster-links` and `kafka-mirrors`) over
//! [`strait_client`]. Each tool module owns its flags, checks and output
//! format; binaries are thin wrappers around each module's `run`. Library
//! code here never panics and reports failures as one line on stderr.

pub mod acls;
pub mod broker_api_versions;
pub mod cluster;
pub mod cluster_links;
pub mod configs;
pub mod consumer_groups;
pub mod invocation;
pub mod link_configs;
pub mod mirrors;
pub mod properties;
pub mod topics;
