//! The cluster-link engine: links to source clusters, mirror topics fed by
//! offset-preserving fetchers, and the mirror state machine.
//!
//! It reaches the source through `strait-client` and the local cluster only
//! through the [`LocalCluster`] trait the broker implements. It must never
//! speak to clients of this cluster: the broker's admin handlers call it.

mod acl_sync;
pub mod clock;
pub mod config;
mod engine;
mod error;
mod fetcher;
pub mod filters;
pub mod lag;
mod local;
mod mirror;
pub mod mirror_state;
pub mod secrets;
mod sync;
pub mod task;
pub mod traffic;
pub mod verification;
mod verify;

pub use clock::now_ms;
pub use engine::LinkEngine;
pub use engine::status::{LINK_STATES, LinkStatus, MirrorStatus, TASK_STATES, TaskStatus};
pub use error::LinkError;
pub use fetcher::whole_batches;
pub use local::{BoxFuture, LocalAclError, LocalCluster, LocalClusterError};
pub use mirror::{DISPLAY_STATES as MIRROR_STATES, PartitionLag};
pub use secrets::LinkSecretKey;
/// The ACL filter type of [`LocalCluster::acls`], re-exported so the broker
/// implements the trait without depending on the client.
pub use strait_client::admin::acls::{
    AccessControlEntryFilter, AclBindingFilter, ResourcePatternFilter,
};
/// Continuous verification's per-partition figure, re-exported for the
/// broker's metrics.
pub use strait_protocol::admin::MirrorPartitionVerificationStatus;
