//! The consumer group coordinator for the classic group protocol: the one
//! owner of every group's membership, generations and committed offsets on
//! this broker. Each group lives behind its own std mutex (never held across
//! an `.await`); waiting JoinGroup/SyncGroup requests are answered through
//! oneshot channels; a per-group tokio task runs the group's timers.
//!
//! Offsets and group metadata reach the `MetadataStore` through one ordered
//! writer (see `persist`); a commit is acknowledged only once it is durable.
//! This module must never speak the Kafka wire format (the handlers in
//! `handlers::groups` translate) nor know about partition logs.

mod classic;
pub mod consumer;
mod consumer_groups;
mod member;
mod persist;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;
use strait_metadata::{MetadataError, MetadataStore, OffsetRecord, PartitionKey};
use tokio::sync::{Notify, oneshot};
use tokio::time::{Duration, Instant};

use classic::Group;
use persist::{Write, Writer};

/// Why a group operation failed, in the terms of Kafka's error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("the group id is not valid")]
    InvalidGroupId,
    #[error("the coordinator is not available")]
    CoordinatorNotAvailable,
    #[error("the session timeout is outside the broker's allowed range")]
    InvalidSessionTimeout,
    #[error("the member's protocols do not match the group's")]
    InconsistentGroupProtocol,
    #[error("the coordinator is not aware of this member")]
    UnknownMemberId,
    #[error("the group generation is not the current one")]
    IllegalGeneration,
    #[error("the group is rebalancing")]
    RebalanceInProgress,
    #[error("the member must rejoin with the member id it was given")]
    MemberIdRequired,
    #[error("another member with the same group.instance.id has joined")]
    FencedInstanceId,
    #[error("the group has reached its maximum size")]
    GroupMaxSizeReached,
    #[error("the group does not exist")]
    GroupIdNotFound,
    #[error("the group is not empty")]
    NonEmptyGroup,
    #[error("the group is subscribed to the topic")]
    GroupSubscribedToTopic,
    #[error("the member epoch is fenced; the member must rejoin")]
    FencedMemberEpoch,
    #[error("the member epoch is stale")]
    StaleMemberEpoch,
    #[error("the assignor {0} is not supported")]
    UnsupportedAssignor(String),
    #[error("the instance id is still used by another member")]
    UnreleasedInstanceId,
    #[error("{0}")]
    InvalidRequest(String),
    #[error("this API version cannot be used by members of this group")]
    UnsupportedVersion,
    #[error("storing group data failed: {0}")]
    Storage(String),
    #[error("internal coordinator error: {0}")]
    Internal(String),
}

impl From<MetadataError> for GroupError {
    fn from(e: MetadataError) -> Self {
        GroupError::Storage(e.to_string())
    }
}

/// The states of a classic group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    pub const ALL: [GroupState; 5] = [
        GroupState::Empty,
        GroupState::PreparingRebalance,
        GroupState::CompletingRebalance,
        GroupState::Stable,
        GroupState::Dead,
    ];

    /// The name Kafka reports.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }

    /// Parses a state name, ignoring case.
    pub fn parse(name: &str) -> Option<GroupState> {
        GroupState::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name))
    }
}

/// Broker settings the coordinator obeys.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// group.initial.rebalance.delay.ms
    pub initial_rebalance_delay: Duration,
    /// group.min.session.timeout.ms
    pub min_session_timeout_ms: i32,
    /// group.max.session.timeout.ms
    pub max_session_timeout_ms: i32,
    /// group.max.size
    pub max_size: usize,
    /// offset.metadata.max.bytes
    pub offset_metadata_max_bytes: usize,
    /// group.consumer.session.timeout.ms
    pub consumer_session_timeout: Duration,
    /// group.consumer.heartbeat.interval.ms
    pub consumer_heartbeat_interval: Duration,
    /// group.consumer.max.size
    pub consumer_max_size: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay: Duration::from_millis(3000),
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 1_800_000,
            max_size: i32::MAX as usize,
            offset_metadata_max_bytes: 4096,
            consumer_session_timeout: Duration::from_millis(45_000),
            consumer_heartbeat_interval: Duration::from_millis(5_000),
            consumer_max_size: i32::MAX as usize,
        }
    }
}

impl GroupConfig {
    /// Reads the group settings from broker properties; absent or unparsable
    /// keys keep Kafka's defaults.
    pub fn from_properties(props: &BTreeMap<String, String>) -> Self {
        fn get<T: std::str::FromStr>(props: &BTreeMap<String, String>, key: &str) -> Option<T> {
            props.get(key).and_then(|v| v.trim().parse().ok())
        }
        let d = GroupConfig::default();
        GroupConfig {
            initial_rebalance_delay: get::<u64>(props, "group.initial.rebalance.delay.ms")
                .map(Duration::from_millis)
                .unwrap_or(d.initial_rebalance_delay),
            min_session_timeout_ms: get(props, "group.min.session.timeout.ms")
                .unwrap_or(d.min_session_timeout_ms),
            max_session_timeout_ms: get(props, "group.max.session.timeout.ms")
                .unwrap_or(d.max_session_timeout_ms),
            max_size: get::<usize>(props, "group.max.size")
                .filter(|n| *n > 0)
                .unwrap_or(d.max_size),
            offset_metadata_max_bytes: get(props, "offset.metadata.max.bytes")
                .unwrap_or(d.offset_metadata_max_bytes),
            consumer_session_timeout: get::<u64>(props, "group.consumer.session.timeout.ms")
                .filter(|v| *v > 0)
                .map(Duration::from_millis)
                .unwrap_or(d.consumer_session_timeout),
            consumer_heartbeat_interval: get::<u64>(props, "group.consumer.heartbeat.interval.ms")
                .filter(|v| *v > 0)
                .map(Duration::from_millis)
                .unwrap_or(d.consumer_heartbeat_interval),
            consumer_max_size: get::<usize>(props, "group.consumer.max.size")
                .filter(|n| *n > 0)
                .unwrap_or(d.consumer_max_size),
        }
    }
}

/// A JoinGroup request, as the coordinator needs it.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub group_id: String,
    /// Empty for a member joining for the first time.
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    /// As Kafka shows it: "/127.0.0.1".
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED.
    pub require_known_member_id: bool,
    /// JoinGroup v9+: a rejoining static leader may skip the assignment.
    pub supports_skip_assignment: bool,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

/// The answer to a JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResponse {
    pub error: Option<GroupError>,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader_id: String,
    pub skip_assignment: bool,
    pub member_id: String,
    /// Every member's metadata for the chosen protocol; for the leader only.
    pub members: Vec<JoinMember>,
}

impl JoinResponse {
    pub fn error(member_id: &str, error: GroupError) -> Self {
        JoinResponse {
            error: Some(error),
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader_id: String::new(),
            skip_assignment: false,
            member_id: member_id.to_string(),
            members: Vec::new(),
        }
    }
}

/// A SyncGroup request.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// From the leader: (member id, assignment).
    pub assignments: Vec<(String, Bytes)>,
}

/// The answer to a SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResponse {
    pub error: Option<GroupError>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResponse {
    pub fn error(error: GroupError) -> Self {
        SyncResponse {
            error: Some(error),
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// One member named in a LeaveGroup.
#[derive(Debug, Clone)]
pub struct LeavingMember {
    /// Empty to remove a static member by its instance id.
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub reason: Option<String>,
}

/// A group as ListGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub group_id: String,
    pub protocol_type: String,
    pub state: GroupState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// Metadata for the group's protocol; empty unless the group is Stable.
    pub metadata: Bytes,
    /// Empty unless the group is Stable.
    pub assignment: Bytes,
}

/// A group as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    pub state: GroupState,
    pub protocol_type: String,
    /// The chosen protocol while Stable, else empty.
    pub protocol: String,
    pub members: Vec<MemberDescription>,
}

/// One group: its state machine and what its timer task waits on.
struct Slot {
    name: String,
    group: Mutex<Group>,
    wake: Notify,
    /// Writes of this group not yet durable.
    pending_writes: Arc<AtomicUsize>,
}

impl Slot {
    fn new(group: Group) -> Arc<Slot> {
        Arc::new(Slot {
            name: group.name.clone(),
            group: Mutex::new(group),
            wake: Notify::new(),
            pending_writes: Arc::new(AtomicUsize::new(0)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Group> {
        self.group.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Inner {
    config: GroupConfig,
    store: Arc<dyn MetadataStore>,
    /// Lock order: this map before any group's lock, never the reverse.
    groups: Mutex<HashMap<String, Arc<Slot>>>,
    /// KIP-848 consumer groups; a group id is in at most one of the maps.
    consumer_groups: consumer_groups::ConsumerMap,
    writer: Writer,
}

/// The group coordinator. Cheap to clone; clones share the same groups.
#[derive(Clone)]
pub struct GroupCoordinator {
    inner: Arc<Inner>,
}

async fn durable(rx: oneshot::Receiver<Result<(), MetadataError>>) -> Result<(), GroupError> {
    match rx.await {
        Ok(r) => r.map_err(GroupError::from),
        Err(_) => Err(GroupError::Storage("the group writer has stopped".into())),
    }
}

impl GroupCoordinator {
    /// Opens the coordinator over `store`, loading every group that has
    /// stored state or committed offsets. Loaded members must heartbeat
    /// within their session timeout or they are removed. Must be called
    /// within a tokio runtime.
    pub fn open(store: Arc<dyn MetadataStore>, config: GroupConfig) -> Result<Self, GroupError> {
        let writer =
            Writer::spawn(store.clone()).map_err(|e| GroupError::Internal(e.to_string()))?;
        let coordinator = GroupCoordinator {
            inner: Arc::new(Inner {
                config,
                store: store.clone(),
                groups: Mutex::new(HashMap::new()),
                consumer_groups: Mutex::new(HashMap::new()),
                writer,
            }),
        };
        let now = Instant::now();
        let mut loaded = 0usize;
        for name in store.groups() {
            let group = match store.group_state(&name) {
                Some(bytes) => persist::decode(&name, &bytes, now).unwrap_or_else(|e| {
                    tracing::warn!(
                        "stored state of group {name} is unreadable ({e}); loading it empty"
                    );
                    Group::new(&name)
                }),
                None => Group::new(&name),
            };
            let slot = Slot::new(group);
            {
                let mut g = slot.lock();
                coordinator.finish(&slot, &mut g);
            }
            coordinator.map().insert(name, slot);
            loaded += 1;
        }
        if loaded > 0 {
            tracing::info!("loaded {loaded} consumer groups");
        }
        Ok(coordinator)
    }

    pub fn config(&self) -> &GroupConfig {
        &self.inner.config
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<Slot>>> {
        self.inner.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, group: &str) -> Option<Arc<Slot>> {
        self.map().get(group).cloned()
    }

    fn get_or_create(&self, group: &str) -> Arc<Slot> {
        self.map()
            .entry(group.to_string())
            .or_insert_with(|| Slot::new(Group::new(group)))
            .clone()
    }

    /// After every change under a group's lock: queue its state if it must be
    /// stored, and make sure its timers run.
    fn finish(&self, slot: &Arc<Slot>, g: &mut Group) {
        if g.dirty {
            g.dirty = false;
            match persist::encode(g) {
                Ok(bytes) => {
                    // Not awaited: a lost state write only costs a rebalance.
                    drop(self.inner.writer.submit(
                        &slot.name,
                        Write::State(Some(bytes)),
                        &slot.pending_writes,
                    ));
                }
                Err(e) => tracing::error!("encoding group {} failed: {e}", slot.name),
            }
        }
        if g.next_deadline().is_some() {
            if g.driver_running {
                slot.wake.notify_one();
            } else if let Ok(handle) = tokio::runtime::Handle::try_current() {
                g.driver_running = true;
                handle.spawn(drive(Arc::downgrade(&self.inner), slot.clone()));
            } else {
                tracing::error!("group {}: no runtime to run its timers", slot.name);
            }
        }
    }

    /// Runs `f` on the group under its lock, then `finish`.
    fn with_group<R>(
        &self,
        slot: &Arc<Slot>,
        f: impl FnOnce(&mut Group, &GroupConfig, Instant) -> R,
    ) -> R {
        let mut g = slot.lock();
        let r = f(&mut g, &self.inner.config, Instant::now());
        self.finish(slot, &mut g);
        r
    }

    // ----- membership -------------------------------------------------------

    /// JoinGroup. Waits until the join phase ends (or answers at once).
    pub async fn join_group(&self, req: JoinRequest) -> JoinResponse {
        if req.group_id.is_empty() {
            return JoinResponse::error(&req.member_id, GroupError::InvalidGroupId);
        }
        let cfg = &self.inner.config;
        if req.session_timeout_ms < cfg.min_session_timeout_ms
            || req.session_timeout_ms > cfg.max_session_timeout_ms
        {
            return JoinResponse::error(&req.member_id, GroupError::InvalidSessionTimeout);
        }
        if let Err(e) = self.release_consumer_group(&req.group_id) {
            return JoinResponse::error(&req.member_id, e);
        }
        // A group is created by a member joining without an id; a known id
        // in a group this broker does not have is unknown.
        let slot = if req.member_id.is_empty() {
            self.get_or_create(&req.group_id)
        } else {
            match self.get(&req.group_id) {
                Some(slot) => slot,
                None => return JoinResponse::error(&req.member_id, GroupError::UnknownMemberId),
            }
        };
        let member_id = req.member_id.clone();
        let (tx, rx) = oneshot::channel();
        self.with_group(&slot, |g, cfg, now| g.join(cfg, req, tx, now));
        rx.await
            .unwrap_or_else(|_| JoinResponse::error(&member_id, GroupError::RebalanceInProgress))
    }

    /// SyncGroup. Followers wait for the leader's assignment.
    pub async fn sync_group(&self, req: SyncRequest) -> SyncResponse {
        if req.group_id.is_empty() {
            return SyncResponse::error(GroupError::InvalidGroupId);
        }
        let Some(slot) = self.get(&req.group_id) else {
            return SyncResponse::error(GroupError::UnknownMemberId);
        };
        let (tx, rx) = oneshot::channel();
        self.with_group(&slot, |g, _, now| g.sync(req, tx, now));
        rx.await
            .unwrap_or_else(|_| SyncResponse::error(GroupError::RebalanceInProgress))
    }

    /// Heartbeat. REBALANCE_IN_PROGRESS tells the member to rejoin.
    pub fn heartbeat(
        &self,
        group: &str,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> Result<(), GroupError> {
        if group.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        let slot = self.get(group).ok_or(GroupError::UnknownMemberId)?;
        self.with_group(&slot, |g, _, now| {
            g.heartbeat(generation_id, member_id, group_instance_id, now)
        })
    }

    /// LeaveGroup: one result per member, in order; Err for the whole group.
    pub fn leave_group(
        &self,
        group: &str,
        members: &[LeavingMember],
    ) -> Result<Vec<Result<(), GroupError>>, GroupError> {
        if group.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        let Some(slot) = self.get(group) else {
            return Ok(members
                .iter()
                .map(|_| Err(GroupError::UnknownMemberId))
                .collect());
        };
        self.with_group(&slot, |g, cfg, now| g.leave(cfg, members, now))
    }

    // ----- offsets ----------------------------------------------------------

    /// OffsetCommit for offsets the caller already checked (topics exist,
    /// metadata not too large). Returns once the offsets are durable.
    ///
    /// A missing group is created for a simple commit (generation < 0);
    /// otherwise it is GROUP_ID_NOT_FOUND (which OffsetCommit before v9
    /// reports as ILLEGAL_GENERATION).
    pub async fn commit_offsets(
        &self,
        group: &str,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
        offsets: Vec<(PartitionKey, OffsetRecord)>,
    ) -> Result<(), GroupError> {
        if let Some(slot) = self.consumer_group(group) {
            return self
                .commit_consumer_offsets(&slot, generation_id, member_id, offsets)
                .await;
        }
        let slot = if generation_id < 0 {
            self.get_or_create(group)
        } else {
            self.get(group).ok_or(GroupError::GroupIdNotFound)?
        };
        let rx = self.with_group(&slot, |g, _, now| {
            g.validate_offset_commit(generation_id, member_id, group_instance_id)?;
            g.on_member_commit(member_id, now);
            Ok::<_, GroupError>(self.queue_commit(&slot.name, &slot.pending_writes, offsets))
        })?;
        durable(rx).await
    }

    /// Commits offsets for `group` only if the group has no active members
    /// on this cluster (no members, none about to join). Returns whether the
    /// offsets were committed; when true they are durable. A group that does
    /// not exist yet is created Empty, as a simple commit would.
    ///
    /// For the cluster-link engine, which mirrors a source cluster's offsets
    /// and must never overwrite the progress of consumers running here.
    /// Topics are not checked: the caller knows which it mirrors.
    pub async fn commit_if_inactive(
        &self,
        group: &str,
        offsets: Vec<(PartitionKey, OffsetRecord)>,
    ) -> Result<bool, GroupError> {
        if let Some(slot) = self.consumer_group(group) {
            return self.commit_consumer_if_empty(&slot, offsets).await;
        }
        let slot = self.get_or_create(group);
        let rx = {
            let g = slot.lock();
            if !g.is_inactive() {
                return Ok(false);
            }
            // Queued under the lock: a member that joins right after commits
            // after this write, never before it.
            self.queue_commit(&slot.name, &slot.pending_writes, offsets)
        };
        durable(rx).await.map(|()| true)
    }

    /// Checks that a TxnOffsetCommit from this member may stage offsets for
    /// `group` (nothing is written). A missing group is fine for a commit
    /// without generation (it is created when the offsets are committed);
    /// with a generation it is ILLEGAL_GENERATION, as Kafka answers.
    pub fn validate_txn_offset_commit(
        &self,
        group: &str,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> Result<(), GroupError> {
        if let Some(slot) = self.consumer_group(group) {
            return consumer_groups::validate_txn_commit(&slot, generation_id, member_id);
        }
        match self.get(group) {
            Some(slot) => {
                slot.lock()
                    .validate_txn_offset_commit(generation_id, member_id, group_instance_id)
            }
            None if generation_id < 0 => Ok(()),
            None => Err(GroupError::IllegalGeneration),
        }
    }

    /// Commits the offsets of a committed transaction, whatever the group's
    /// state (they were validated when staged). Returns once durable.
    pub async fn commit_txn_offsets(
        &self,
        group: &str,
        offsets: Vec<(PartitionKey, OffsetRecord)>,
    ) -> Result<(), GroupError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let rx = match self.consumer_group(group) {
            Some(slot) => self.queue_commit(&slot.name, &slot.pending_writes, offsets),
            None => {
                let slot = self.get_or_create(group);
                self.queue_commit(&slot.name, &slot.pending_writes, offsets)
            }
        };
        durable(rx).await
    }

    /// Queues the durable write of committed offsets of group `name`.
    fn queue_commit(
        &self,
        name: &str,
        pending: &Arc<AtomicUsize>,
        offsets: Vec<(PartitionKey, OffsetRecord)>,
    ) -> oneshot::Receiver<Result<(), MetadataError>> {
        self.inner
            .writer
            .submit(name, Write::CommitOffsets(offsets), pending)
    }

    /// Committed offsets of a group, regardless of its state (None when a
    /// partition has none). `partitions` None means every committed one.
    pub fn fetch_offsets(
        &self,
        group: &str,
        partitions: Option<&[PartitionKey]>,
    ) -> Vec<(PartitionKey, Option<OffsetRecord>)> {
        let stored = self.inner.store.group_offsets(group);
        match partitions {
            None => stored.into_iter().map(|(k, v)| (k, Some(v))).collect(),
            Some(list) => list
                .iter()
                .map(|k| (k.clone(), stored.get(k).cloned()))
                .collect(),
        }
    }

    /// OffsetDelete. Per partition: deleted, or GROUP_SUBSCRIBED_TO_TOPIC
    /// while the active consumer group subscribes to its topic.
    pub async fn delete_offsets(
        &self,
        group: &str,
        partitions: Vec<PartitionKey>,
    ) -> Result<Vec<(PartitionKey, Result<(), GroupError>)>, GroupError> {
        if let Some(slot) = self.consumer_group(group) {
            return self.delete_consumer_offsets(&slot, partitions).await;
        }
        let slot = self.get(group).ok_or(GroupError::GroupIdNotFound)?;
        let (results, rx) = {
            let g = slot.lock();
            let mut results = Vec::new();
            let mut eligible = Vec::new();
            match g.state {
                GroupState::Dead => return Err(GroupError::GroupIdNotFound),
                GroupState::Empty => eligible = partitions,
                _ if g.protocol_type.as_deref() == Some("consumer") => {
                    for p in partitions {
                        if g.is_subscribed_to_topic(&p.topic) {
                            results.push((p, Err(GroupError::GroupSubscribedToTopic)));
                        } else {
                            eligible.push(p);
                        }
                    }
                }
                _ => return Err(GroupError::NonEmptyGroup),
            }
            let rx = (!eligible.is_empty()).then(|| {
                self.inner.writer.submit(
                    &slot.name,
                    Write::DeleteOffsets(eligible.clone()),
                    &slot.pending_writes,
                )
            });
            results.extend(eligible.into_iter().map(|p| (p, Ok(()))));
            (results, rx)
        };
        if let Some(rx) = rx {
            durable(rx).await?;
            self.remove_if_unused(&slot).await?;
        }
        Ok(results)
    }

    /// Removes an Empty group that no longer has offsets (as Kafka's cleanup
    /// does), so it stops being listed.
    async fn remove_if_unused(&self, slot: &Arc<Slot>) -> Result<(), GroupError> {
        let rx = {
            let mut map = self.map();
            let mut g = slot.lock();
            let unused = g.is_inactive()
                && slot.pending_writes.load(Ordering::SeqCst) == 0
                && self.inner.store.group_offsets(&slot.name).is_empty();
            if !unused || !map.get(&slot.name).is_some_and(|s| Arc::ptr_eq(s, slot)) {
                return Ok(());
            }
            g.transition(GroupState::Dead);
            map.remove(&slot.name);
            self.inner
                .writer
                .submit(&slot.name, Write::DeleteGroup, &slot.pending_writes)
        };
        durable(rx).await
    }

    // ----- administration ---------------------------------------------------

    /// ListGroups; `states` empty means all.
    pub fn list_groups(&self, states: &[GroupState]) -> Vec<GroupListing> {
        let slots: Vec<Arc<Slot>> = self.map().values().cloned().collect();
        let mut out: Vec<GroupListing> = slots
            .iter()
            .map(|slot| {
                let g = slot.lock();
                GroupListing {
                    group_id: slot.name.clone(),
                    protocol_type: g.protocol_type.clone().unwrap_or_default(),
                    state: g.state,
                }
            })
            .filter(|l| l.state != GroupState::Dead)
            .filter(|l| states.is_empty() || states.contains(&l.state))
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    /// DescribeGroups for one group; a group this broker does not have is
    /// described as Dead with no members.
    pub fn describe_group(&self, group: &str) -> GroupDescription {
        let dead = GroupDescription {
            group_id: group.to_string(),
            state: GroupState::Dead,
            protocol_type: String::new(),
            protocol: String::new(),
            members: Vec::new(),
        };
        let Some(slot) = self.get(group) else {
            return dead;
        };
        let g = slot.lock();
        let stable = g.is(GroupState::Stable);
        let protocol = if stable {
            g.protocol_name.clone().unwrap_or_default()
        } else {
            String::new()
        };
        GroupDescription {
            group_id: group.to_string(),
            state: g.state,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            members: g
                .members
                .values()
                .map(|m| MemberDescription {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata(&protocol).cloned().unwrap_or_default()
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
            protocol,
        }
    }

    /// DeleteGroups for one group: removes its offsets and stored state.
    /// NON_EMPTY_GROUP while it has members.
    pub async fn delete_group(&self, group: &str) -> Result<(), GroupError> {
        if let Some(result) = self.delete_consumer_group(group).await {
            return result;
        }
        let rx = {
            let mut map = self.map();
            let slot = map.get(group).cloned().ok_or(GroupError::GroupIdNotFound)?;
            let mut g = slot.lock();
            match g.state {
                GroupState::Dead => return Err(GroupError::GroupIdNotFound),
                GroupState::Empty => {}
                _ => return Err(GroupError::NonEmptyGroup),
            }
            g.transition(GroupState::Dead);
            // Anyone still holding the slot sees Dead and retries elsewhere.
            for id in g.pending_members.keys().cloned().collect::<Vec<_>>() {
                g.pending_members.remove(&id);
            }
            map.remove(group);
            let rx = self
                .inner
                .writer
                .submit(group, Write::DeleteGroup, &slot.pending_writes);
            drop(g);
            rx
        };
        durable(rx).await
    }
}

/// A group's timer task: runs due timers, sleeps until the next deadline or
/// until woken by a change; ends when the group has nothing scheduled or the
/// coordinator is gone.
async fn drive(inner: Weak<Inner>, slot: Arc<Slot>) {
    loop {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let next = {
            let mut g = slot.lock();
            g.tick(&inner.config, Instant::now());
            let next = g.next_deadline();
            if next.is_none() {
                g.driver_running = false;
            }
            // Not `finish`: this task is the group's driver already.
            if g.dirty {
                g.dirty = false;
                match persist::encode(&g) {
                    Ok(bytes) => drop(inner.writer.submit(
                        &slot.name,
                        Write::State(Some(bytes)),
                        &slot.pending_writes,
                    )),
                    Err(e) => tracing::error!("encoding group {} failed: {e}", slot.name),
                }
            }
            match next {
                Some(next) => next,
                None => return,
            }
        };
        drop(inner);
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = slot.wake.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests;
