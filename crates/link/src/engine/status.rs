//! Read-only figures of the link engine for the broker's metrics: each
//! link's state, source availability, sync tasks and fetched traffic, and
//! each mirror's state, traffic and per-partition lag. Plain data, copied
//! out under the engine's locks and read afterwards; it must never change
//! a link or a mirror.

use strait_metadata::MirrorState;

use super::{LinkEngine, lock};
use crate::mirror::PartitionLag;

/// Every state [`LinkStatus::state`] can take.
pub const LINK_STATES: [&str; 2] = ["ACTIVE", "PAUSED"];

/// Every state [`TaskStatus::state`] can take.
pub const TASK_STATES: [&str; 3] = ["ACTIVE", "IN_ERROR", "LINK_PAUSED"];

/// One sync task of a link, as `kafka-cluster-links --describe` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStatus {
    pub task: String,
    /// One of [`TASK_STATES`].
    pub state: &'static str,
    /// Wall-clock ms of the task's last failure.
    pub last_error_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStatus {
    pub name: String,
    /// One of [`LINK_STATES`].
    pub state: &'static str,
    pub source_available: bool,
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
    pub fetched_bytes: u64,
    pub fetched_records: u64,
    /// Per partition; empty for a STOPPED mirror (a normal topic now).
    pub partitions: Vec<PartitionLag>,
}

/// A link's state: PAUSED or ACTIVE (one of [`crate::LINK_STATES`]).
pub(crate) fn link_state(paused: bool) -> &'static str {
    if paused { "PAUSED" } else { "ACTIVE" }
}

fn task_state(state: &str, paused: bool) -> &'static str {
    match state {
        _ if paused => "LINK_PAUSED",
        "ACTIVE" => "ACTIVE",
        _ => "IN_ERROR",
    }
}

impl LinkEngine {
    /// Every link, by name.
    pub fn link_statuses(&self) -> Vec<LinkStatus> {
        let links: Vec<_> = lock(&self.links).values().cloned().collect();
        links
            .iter()
            .map(|l| {
                let paused = l.settings().paused;
                LinkStatus {
                    name: l.name(),
                    state: link_state(paused),
                    source_available: l.available(),
                    tasks: lock(&l.tasks)
                        .values()
                        .map(|t| TaskStatus {
                            task: t.task.clone(),
                            state: task_state(&t.state, paused),
                            last_error_ms: t.last_error_ms,
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
                let paused = self.link(&record.link).is_some_and(|l| l.settings().paused);
                let partitions = if record.state == MirrorState::Stopped {
                    Vec::new()
                } else {
                    m.partition_lags(now_ms, |p| {
                        self.local.log_end_offset(&record.topic, p).unwrap_or(-1)
                    })
                };
                MirrorStatus {
                    state: m.display_state(paused),
                    fetched_bytes: m.traffic.bytes(),
                    fetched_records: m.traffic.records(),
                    partitions,
                    link: record.link,
                    topic: record.topic,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::task_state;

    #[test]
    fn task_states_follow_the_listing() {
        assert_eq!(task_state("ACTIVE", false), "ACTIVE");
        assert_eq!(task_state("IN_ERROR", false), "IN_ERROR");
        assert_eq!(task_state("ACTIVE", true), "LINK_PAUSED");
    }
}
