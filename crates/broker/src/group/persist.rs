//! Durability of groups: the stored form of a group's metadata (opaque to
//! the metadata store) and the single writer through which every group write
//! reaches the `MetadataStore`, in the order the coordinator issued them.
//!
//! Writes are queued while the issuing group's lock is held, so a commit, a
//! state change and a deletion of one group reach the store in the order they
//! happened; the writer runs them on its own thread, never on a tokio worker.
//! This module must never decide group semantics.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use strait_metadata::{MetadataError, MetadataStore, OffsetRecord, PartitionKey};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Duration, Instant};

use super::GroupState;
use super::classic::Group;
use super::member::Member;

const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct StoredGroup {
    format: u32,
    /// "Empty" or "Stable": the only states a group is stored in.
    state: String,
    state_since_ms: i64,
    generation: i32,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    leader: Option<String>,
    members: Vec<StoredMember>,
}

#[derive(Serialize, Deserialize)]
struct StoredMember {
    member_id: String,
    group_instance_id: Option<String>,
    client_id: String,
    client_host: String,
    rebalance_timeout_ms: i32,
    session_timeout_ms: i32,
    protocol_type: String,
    /// (name, hex metadata) in order of preference.
    protocols: Vec<(String, String)>,
    /// Hex.
    assignment: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Bytes> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .map(Bytes::from)
}

/// The stored form of a group. A group that is rebalancing is stored as of
/// its last stable generation: members are kept only once it is Stable.
pub(crate) fn encode(group: &Group) -> Result<Vec<u8>, serde_json::Error> {
    let stable = group.is(GroupState::Stable);
    let stored = StoredGroup {
        format: FORMAT_VERSION,
        state: if stable { "Stable" } else { "Empty" }.to_string(),
        state_since_ms: group.state_since_ms,
        generation: group.generation,
        protocol_type: group.protocol_type.clone(),
        protocol_name: if stable {
            group.protocol_name.clone()
        } else {
            None
        },
        leader: if stable { group.leader.clone() } else { None },
        members: if stable {
            group
                .members
                .values()
                .map(|m| StoredMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    protocol_type: m.protocol_type.clone(),
                    protocols: m
                        .protocols
                        .iter()
                        .map(|(n, md)| (n.clone(), hex(md)))
                        .collect(),
                    assignment: hex(&m.assignment),
                })
                .collect()
        } else {
            Vec::new()
        },
    };
    serde_json::to_vec(&stored)
}

/// Rebuilds a group from its stored form. Loaded members must heartbeat
/// within their session timeout from `now`, or they are removed.
pub(crate) fn decode(name: &str, bytes: &[u8], now: Instant) -> Result<Group, String> {
    let stored: StoredGroup = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if stored.format != FORMAT_VERSION {
        return Err(format!("unknown stored group format {}", stored.format));
    }
    let mut group = Group::new(name);
    group.generation = stored.generation;
    group.protocol_type = stored.protocol_type;
    group.state_since_ms = stored.state_since_ms;
    let stable = stored.state == "Stable" && stored.protocol_name.is_some();
    if stable && !stored.members.is_empty() {
        for m in stored.members {
            let protocols = m
                .protocols
                .into_iter()
                .map(|(n, md)| unhex(&md).map(|md| (n, md)))
                .collect::<Option<Vec<_>>>()
                .ok_or("corrupt member protocol metadata")?;
            let member = Member {
                id: m.member_id.clone(),
                instance_id: m.group_instance_id.clone(),
                client_id: m.client_id,
                client_host: m.client_host,
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                session_timeout_ms: m.session_timeout_ms,
                protocol_type: m.protocol_type,
                protocols,
                assignment: unhex(&m.assignment).ok_or("corrupt member assignment")?,
                awaiting_join: None,
                awaiting_sync: None,
                is_new: false,
                heartbeat_deadline: Some(
                    now + Duration::from_millis(u64::try_from(m.session_timeout_ms).unwrap_or(0)),
                ),
            };
            if let Some(instance) = m.group_instance_id {
                group.static_members.insert(instance, m.member_id.clone());
            }
            group.members.insert(m.member_id, member);
        }
        group.protocol_name = stored.protocol_name;
        group.leader = stored
            .leader
            .filter(|l| group.members.contains_key(l))
            .or_else(|| group.members.keys().next().cloned());
        group.state = GroupState::Stable;
    }
    group.subscribed_topics = group.compute_subscribed_topics();
    Ok(group)
}

/// One write to the store.
pub(crate) enum Write {
    CommitOffsets(Vec<(PartitionKey, OffsetRecord)>),
    DeleteOffsets(Vec<PartitionKey>),
    State(Option<Vec<u8>>),
    DeleteGroup,
}

struct Job {
    group: String,
    write: Write,
    /// Writes of this group still queued or running.
    pending: Arc<AtomicUsize>,
    done: Option<oneshot::Sender<Result<(), MetadataError>>>,
}

/// The queue to the writer thread. The thread ends when the last sender is
/// dropped.
pub(crate) struct Writer {
    tx: mpsc::UnboundedSender<Job>,
}

impl Writer {
    pub fn spawn(store: Arc<dyn MetadataStore>) -> std::io::Result<Writer> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name("strait-group-writer".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    let result = apply(store.as_ref(), &job.group, job.write);
                    if let Err(e) = &result {
                        tracing::error!("storing group {} failed: {e}", job.group);
                    }
                    job.pending.fetch_sub(1, Ordering::SeqCst);
                    if let Some(done) = job.done {
                        let _ = done.send(result);
                    }
                }
            })?;
        Ok(Writer { tx })
    }

    /// Queues a write; the receiver resolves once it is durable.
    pub fn submit(
        &self,
        group: &str,
        write: Write,
        pending: &Arc<AtomicUsize>,
    ) -> oneshot::Receiver<Result<(), MetadataError>> {
        let (done, rx) = oneshot::channel();
        pending.fetch_add(1, Ordering::SeqCst);
        let job = Job {
            group: group.to_string(),
            write,
            pending: pending.clone(),
            done: Some(done),
        };
        if let Err(mpsc::error::SendError(job)) = self.tx.send(job) {
            job.pending.fetch_sub(1, Ordering::SeqCst);
            if let Some(done) = job.done {
                let _ = done.send(Err(MetadataError::Storage(
                    "the group writer has stopped".into(),
                )));
            }
        }
        rx
    }
}

fn apply(store: &dyn MetadataStore, group: &str, write: Write) -> Result<(), MetadataError> {
    match write {
        Write::CommitOffsets(offsets) => store.commit_offsets(group, offsets),
        Write::DeleteOffsets(partitions) => store.delete_offsets(group, &partitions),
        Write::State(state) => store.set_group_state(group, state),
        Write::DeleteGroup => store.delete_group(group),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let data = [0u8, 1, 0x7f, 0x80, 0xff];
        assert_eq!(unhex(&hex(&data)).as_deref(), Some(&data[..]));
        assert!(unhex("abc").is_none());
        assert!(unhex("zz").is_none());
    }
}
