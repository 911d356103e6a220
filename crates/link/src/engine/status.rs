//! Read-only figures of the link engine for the broker's metrics and the
//! HTTP live page: each link's state, source, source availability, sync
//! tasks (with their last error) and fetched traffic, and each mirror's
//! state, source topic, traffic and per-partition lag. Plain data, copied
//! out under the engine's locks and read afterwards; it must never change
//! a link or a mirror.

use strait_metadata::MirrorState;
use strait_protocol::admin::MirrorPartitionVerificationStatus;

use super::{LinkEngine, lock};
use crate::mirror::PartitionLag;
use crate::task::TaskState;

/// Every state [`LinkStatus::state`] can take.
pub const LINK_STATES: [&str; 2] = ["ACTIVE", "PAUSED"];

/// Every state [`TaskStatus::state`] can take.
pub const TASK_STATES: [&str; 3] = [
    TaskState::ALL[0].as_str(),
    TaskState::ALL[1].as_str(),
    TaskState::ALL[2].as_str(),
];

/// One sync task of a link, as `kafka-cluster-links --describe` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStatus {
    pub task: String,
    /// One of [`TASK_STATES`].
    pub state: &'static str,
    /// Wall-clock ms of the task's last failure.
    pub last_error_ms: Option<i64>,
    /// What the last failure said (never a secret: the engine's own text).
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStatus {
    pub name: String,
    /// One of [`LINK_STATES`].
    pub state: &'static str,
    pub source_available: bool,
    /// The source cluster's id, learnt or given at creation.
    pub source_cluster_id: Option<String>,
    /// The link's `bootstrap.servers`, as set.
    pub bootstrap_servers: Option<String>,
    pub tasks: Vec<TaskStatus>,
    pub fetched_bytes: u64,
    pub fetched_records: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MirrorStatus {
    pub link: String,
    pub topic: String,
    /// One of [`crate::MIRROR_STATES`], as `kafka-mirrors --describe` shows it.
    pub state: &'static str,
    pub source_topic: String,
    /// Why the mirror failed or stopped, when it says.
    pub reason: Option<String>,
    pub fetched_bytes: u64,
    pub fetched_records: u64,
    /// Per partition; empty for a STOPPED mirror (a normal topic now).
    pub partitions: Vec<PartitionLag>,
    /// Continuous verification per partition (index = partition); empty
    /// unless the link sets `mirror.verification.interval.ms`, and for a
    /// STOPPED mirror.
    pub verifications: Vec<MirrorPartitionVerificationStatus>,
}

/// A link's state: PAUSED or ACTIVE (one of [`crate::LINK_STATES`]).
pub(crate) fn link_state(paused: bool) -> &'static str {
    if paused { "PAUSED" } else { "ACTIVE" }
}

impl LinkEngine {
    /// Every link, by name.
    pub fn link_statuses(&self) -> Vec<LinkStatus> {
        let links: Vec<_> = lock(&self.links).values().cloned().collect();
        links
            .iter()
            .map(|l| {
                let settings = l.settings();
                let paused = settings.paused;
                LinkStatus {
                    name: l.name(),
                    state: link_state(paused),
                    source_available: l.available(),
                    source_cluster_id: l.record().source_cluster_id,
                    bootstrap_servers: settings.raw.get("bootstrap.servers").cloned(),
                    tasks: lock(&l.tasks)
                        .iter()
                        .map(|(task, t)| TaskStatus {
                            task: task.name().to_string(),
                            state: t.state.shown(paused).as_str(),
                            last_error_ms: t.last_error_ms,
                            last_error: t.last_error.clone(),
                        })
                        .collect(),
                    fetched_bytes: l.traffic().bytes(),
                    fetched_records: l.traffic().records(),
                }
            })
            .collect()
    }

    /// Every mirror topic, by topic, with its partitions' lag at `now_ms`
    /// measured as [`LinkEngine::describe_mirrors`] measures it.
    pub fn mirror_statuses(&self, now_ms: i64) -> Vec<MirrorStatus> {
        let mirrors: Vec<_> = lock(&self.mirrors).values().cloned().collect();
        mirrors
            .iter()
            .map(|m| {
                let record = m.record();
                let settings = self.link(&record.link).map(|l| l.settings());
                let paused = settings.as_ref().is_some_and(|s| s.paused);
                let verifying = settings.is_some_and(|s| s.verification_interval.is_some());
                let stopped = record.state == MirrorState::Stopped;
                let partitions = if stopped {
                    Vec::new()
                } else {
                    m.partition_lags(now_ms, |p| {
                        self.local.log_end_offset(&record.topic, p).unwrap_or(-1)
                    })
                };
                let verifications = if verifying && !stopped {
                    m.partition_stats()
                        .iter()
                        .map(|s| s.verification.status())
                        .collect()
                } else {
                    Vec::new()
                };
                MirrorStatus {
                    state: m.display_state(paused).as_str(),
                    fetched_bytes: m.traffic.bytes(),
                    fetched_records: m.traffic.records(),
                    partitions,
                    verifications,
                    source_topic: record.source_topic,
                    reason: record.reason,
                    link: record.link,
                    topic: record.topic,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use strait_metadata::{EmbeddedStore, LinkRecord, MetadataStore};

    use super::TASK_STATES;
    use crate::LinkEngine;
    use crate::engine::secrets_at_rest_tests::{StoreOnly, key};
    use crate::task::SyncTask;

    #[tokio::test]
    async fn a_link_shows_its_source_and_its_tasks_last_error() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn MetadataStore> =
            Arc::new(EmbeddedStore::open(&dir.path().join("meta.redb")).unwrap());
        store
            .create_link(LinkRecord {
                name: "dr".into(),
                id: uuid::Uuid::new_v4(),
                source_cluster_id: Some("source-id".into()),
                configs: [("bootstrap.servers".to_string(), "127.0.0.1:1".to_string())].into(),
                created_ms: 0,
            })
            .unwrap();
        let engine = LinkEngine::start(Arc::new(StoreOnly(store)), key());
        let link = engine.link("dr").unwrap();
        link.report_task(SyncTask::AclSync, Err(crate::LinkError::SourceAclsDenied));
        let statuses = engine.link_statuses();
        let status = statuses.iter().find(|l| l.name == "dr").unwrap();
        assert_eq!(status.source_cluster_id.as_deref(), Some("source-id"));
        assert_eq!(status.bootstrap_servers.as_deref(), Some("127.0.0.1:1"));
        let task = status.tasks.iter().find(|t| t.task == "AclSync").unwrap();
        assert_eq!(
            (task.state, task.last_error.as_deref()),
            ("IN_ERROR", Some(crate::error::SOURCE_DESCRIBE_DENIED))
        );
        assert!(task.last_error_ms.is_some());
    }

    #[test]
    fn task_states_follow_the_listing() {
        assert_eq!(TASK_STATES, ["ACTIVE", "IN_ERROR", "LINK_PAUSED"]);
    }
}
