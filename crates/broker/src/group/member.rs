//! One member of a classic group: its identity, the protocols it offered,
//! its timeouts and assignment, and the requests it is waiting on (a JoinGroup
//! or SyncGroup answered later through a oneshot channel).
//!
//! Owns only per-member bookkeeping; it must never change group-wide state
//! (state, generation, leader) nor touch storage.

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{JoinResponse, SyncResponse};

/// A waiting JoinGroup request.
pub(crate) type JoinCallback = oneshot::Sender<JoinResponse>;
/// A waiting SyncGroup request.
pub(crate) type SyncCallback = oneshot::Sender<SyncResponse>;

pub(crate) struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub protocol_type: String,
    /// Offered protocols in order of preference, with their metadata.
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    pub awaiting_join: Option<JoinCallback>,
    pub awaiting_sync: Option<SyncCallback>,
    /// Joined for the first time and not yet through a completed join phase.
    pub is_new: bool,
    /// When the member is expired unless it shows signs of life first.
    pub heartbeat_deadline: Option<Instant>,
}

impl Member {
    pub fn is_awaiting_join(&self) -> bool {
        self.awaiting_join.is_some()
    }

    pub fn is_awaiting_sync(&self) -> bool {
        self.awaiting_sync.is_some()
    }

    /// Whether an expired heartbeat deadline removes this member. Members
    /// blocked in JoinGroup or SyncGroup cannot heartbeat (their connection
    /// is busy), so they are kept, except brand-new members, whose first
    /// join is bounded on its own.
    pub fn expires_on_deadline(&self) -> bool {
        self.is_new || !(self.is_awaiting_join() || self.is_awaiting_sync())
    }

    /// Metadata the member offered for `protocol`, if it offered it.
    pub fn metadata(&self, protocol: &str) -> Option<&Bytes> {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m)
    }

    /// Same protocols, in the same order, with the same metadata.
    pub fn matches(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols == protocols
    }

    /// The member's preferred protocol among `candidates`.
    pub fn vote<'a>(&'a self, candidates: &[&str]) -> Option<&'a str> {
        self.protocols
            .iter()
            .map(|(name, _)| name.as_str())
            .find(|name| candidates.contains(name))
    }

    /// Answers a waiting JoinGroup, if any.
    pub fn respond_join(&mut self, response: JoinResponse) -> bool {
        match self.awaiting_join.take() {
            Some(tx) => {
                let _ = tx.send(response);
                true
            }
            None => false,
        }
    }

    /// Answers a waiting SyncGroup, if any.
    pub fn respond_sync(&mut self, response: SyncResponse) -> bool {
        match self.awaiting_sync.take() {
            Some(tx) => {
                let _ = tx.send(response);
                true
            }
            None => false,
        }
    }
}
