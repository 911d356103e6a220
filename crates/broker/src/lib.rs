//! The Strait broker: the tokio server that accepts Kafka connections, one
//! handler per Kafka API, the live partition logs and background upkeep.
//!
//! It turns decoded requests into reads and writes of `strait-log` partitions
//! and `strait-metadata` records. It must never parse bytes off the wire itself
//! (that is `strait-protocol`) nor persist metadata outside the store.

mod auth;
mod authz;
pub mod config;
pub mod errors;
mod fan_out;
pub mod front_door;
pub mod group;
mod handlers;
mod local_cluster;
mod meta_properties;
pub mod metrics;
mod producer_ids;
mod scrubber;
mod server;
mod state;
mod storage_alarm;
pub mod topic_config;
mod topic_table;
mod txn;
mod upkeep;

pub use config::{BrokerConfig, ConfigError, SecurityProtocol};
pub use server::{BrokerError, ShutdownSignal, run, run_until_signal, start};
pub use state::Broker;
