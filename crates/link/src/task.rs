//! A link's sync tasks and their states: which tasks a link's control loop
//! runs, the state each reports (`kafka-cluster-links --describe`, REST,
//! metrics) and the outcome of its last run. Plain data; it must never run
//! a task.

use std::fmt;

use strait_protocol::admin::LinkTaskStatus;

/// One background task of a link's control loop. Ordered by name, as the
/// listings show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SyncTask {
    AclSync,
    AutoCreateMirror,
    ConsumerOffsetSync,
    TopicConfigSync,
}

impl SyncTask {
    /// The name shown in link listings and logs.
    pub const fn name(self) -> &'static str {
        match self {
            SyncTask::AclSync => "AclSync",
            SyncTask::AutoCreateMirror => "AutoCreateMirror",
            SyncTask::ConsumerOffsetSync => "ConsumerOffsetSync",
            SyncTask::TopicConfigSync => "TopicConfigSync",
        }
    }
}

impl fmt::Display for SyncTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The state of a sync task as listings show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// The last run succeeded.
    Active,
    /// The last run failed.
    InError,
    /// The link is paused, so the task does not run.
    LinkPaused,
}

impl TaskState {
    pub const ALL: [TaskState; 3] = [TaskState::Active, TaskState::InError, TaskState::LinkPaused];

    pub const fn as_str(self) -> &'static str {
        match self {
            TaskState::Active => "ACTIVE",
            TaskState::InError => "IN_ERROR",
            TaskState::LinkPaused => "LINK_PAUSED",
        }
    }

    /// The state shown for a task whose last run left it in `self`.
    pub const fn shown(self, link_paused: bool) -> TaskState {
        if link_paused {
            TaskState::LinkPaused
        } else {
            self
        }
    }
}

/// What a task's runs have left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOutcome {
    pub state: TaskState,
    /// Wall-clock ms of the last success.
    pub last_success_ms: Option<i64>,
    /// What the last failure said (the engine's own text, never a secret).
    pub last_error: Option<String>,
    /// Wall-clock ms of the last failure.
    pub last_error_ms: Option<i64>,
}

impl TaskOutcome {
    /// A task that has not run yet.
    pub fn new() -> Self {
        TaskOutcome {
            state: TaskState::Active,
            last_success_ms: None,
            last_error: None,
            last_error_ms: None,
        }
    }

    /// Records one run at `now_ms`.
    pub fn record<E: fmt::Display>(&mut self, result: &Result<(), E>, now_ms: i64) {
        match result {
            Ok(()) => {
                self.state = TaskState::Active;
                self.last_success_ms = Some(now_ms);
            }
            Err(e) => {
                self.state = TaskState::InError;
                self.last_error = Some(e.to_string());
                self.last_error_ms = Some(now_ms);
            }
        }
    }

    /// The admin message's listing of this task.
    pub fn listing(&self, task: SyncTask, link_paused: bool) -> LinkTaskStatus {
        LinkTaskStatus {
            task: task.name().to_string(),
            state: self.state.shown(link_paused).as_str().to_string(),
            last_success_ms: self.last_success_ms,
            last_error: self.last_error.clone(),
            last_error_ms: self.last_error_ms,
        }
    }
}

impl Default for TaskOutcome {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_sets_the_state_and_keeps_the_last_error() {
        let mut outcome = TaskOutcome::new();
        outcome.record(&Err::<(), _>("the source refused"), 5);
        assert_eq!(outcome.state, TaskState::InError);
        assert_eq!(outcome.last_error.as_deref(), Some("the source refused"));
        outcome.record(&Ok::<(), &str>(()), 9);
        assert_eq!(outcome.state, TaskState::Active);
        assert_eq!(outcome.last_success_ms, Some(9));
        // The last error stays for operators to read.
        assert_eq!(outcome.last_error_ms, Some(5));
        let listed = outcome.listing(SyncTask::AclSync, true);
        assert_eq!(
            (listed.task.as_str(), listed.state.as_str()),
            ("AclSync", "LINK_PAUSED")
        );
        assert_eq!(outcome.listing(SyncTask::AclSync, false).state, "ACTIVE");
    }

    #[test]
    fn tasks_list_in_name_order() {
        let mut tasks = [
            SyncTask::TopicConfigSync,
            SyncTask::ConsumerOffsetSync,
            SyncTask::AclSync,
            SyncTask::AutoCreateMirror,
        ];
        tasks.sort();
        let names: Vec<_> = tasks.iter().map(|t| t.name()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }
}
