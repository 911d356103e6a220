//! The coordinator's entry points for KIP-848 consumer groups: finding or
//! creating a group (converting an empty classic group), heartbeats,
//! describe and list, the member-epoch checks of offset commits and fetches,
//! and the per-group task that expires members on time.
//!
//! A group id names either a classic group or a consumer group, never both:
//! the classic map is locked before the consumer map whenever both are
//! needed. Must never speak the wire format nor know about partition logs.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use strait_metadata::{OffsetRecord, PartitionKey};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::consumer::{
    ConsumerGroup, ConsumerGroupDescription, ConsumerGroupState, ConsumerHeartbeat,
    ConsumerHeartbeatAnswer,
};
use super::persist::Write;
use super::{GroupCoordinator, GroupError, GroupState, Inner, durable};

/// One consumer group behind its lock (never held across an `.await`).
pub(super) struct ConsumerSlot {
    pub(super) name: String,
    group: Mutex<ConsumerGroup>,
    /// Woken when a deadline may have moved, or the group was removed.
    wake: Notify,
    /// Writes of this group not yet durable.
    pub(super) pending_writes: Arc<AtomicUsize>,
}

impl ConsumerSlot {
    fn lock(&self) -> MutexGuard<'_, ConsumerGroup> {
        self.group.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(super) type ConsumerMap = Mutex<HashMap<String, Arc<ConsumerSlot>>>;

impl GroupCoordinator {
    fn consumer_map(&self) -> MutexGuard<'_, HashMap<String, Arc<ConsumerSlot>>> {
        self.inner
            .consumer_groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn consumer_group(&self, name: &str) -> Option<Arc<ConsumerSlot>> {
        self.consumer_map().get(name).cloned()
    }

    /// The consumer group `name`, created when `create` (a join): an empty
    /// classic group of that id is converted; one with members makes the id
    /// unusable (GROUP_ID_NOT_FOUND, as Kafka answers).
    fn open_consumer_group(
        &self,
        name: &str,
        create: bool,
    ) -> Result<Arc<ConsumerSlot>, GroupError> {
        let mut classic = self.map();
        if let Some(slot) = classic.get(name).cloned() {
            let mut g = slot.lock();
            if g.state != GroupState::Dead && !g.is_inactive() {
                return Err(GroupError::GroupIdNotFound);
            }
            if !create {
                return Err(GroupError::UnknownMemberId);
            }
            g.transition(GroupState::Dead);
            classic.remove(name);
            tracing::info!("group {name}: empty classic group converted to a consumer group");
        } else if !create {
            return Err(GroupError::UnknownMemberId);
        }
        let mut consumers = self.consumer_map();
        if let Some(slot) = consumers.get(name) {
            return Ok(slot.clone());
        }
        let slot = Arc::new(ConsumerSlot {
            name: name.to_string(),
            group: Mutex::new(ConsumerGroup::new(name)),
            wake: Notify::new(),
            pending_writes: Arc::new(AtomicUsize::new(0)),
        });
        consumers.insert(name.to_string(), slot.clone());
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(expire_members(Arc::downgrade(&self.inner), slot.clone()));
            }
            Err(_) => tracing::error!("consumer group {name}: no runtime to run its timers"),
        }
        Ok(slot)
    }

    /// Whether `name` is a KIP-848 consumer group here.
    pub fn is_consumer_group(&self, name: &str) -> bool {
        self.consumer_group(name).is_some()
    }

    /// ConsumerGroupHeartbeat. `topics`: partition counts of every topic.
    pub fn consumer_heartbeat(
        &self,
        req: &ConsumerHeartbeat,
        version: i16,
        topics: &BTreeMap<String, i32>,
    ) -> Result<ConsumerHeartbeatAnswer, GroupError> {
        super::consumer::validate(req, version)?;
        let slot = match self.consumer_group(&req.group_id) {
            Some(slot) => slot,
            None => self.open_consumer_group(&req.group_id, req.member_epoch == 0)?,
        };
        let answer = slot
            .lock()
            .heartbeat(&self.inner.config, req, topics, Instant::now());
        slot.wake.notify_one();
        answer
    }

    /// ConsumerGroupDescribe of one group: GROUP_ID_NOT_FOUND when it is not
    /// a consumer group here.
    pub fn describe_consumer_group(
        &self,
        name: &str,
    ) -> Result<ConsumerGroupDescription, GroupError> {
        let slot = self
            .consumer_group(name)
            .ok_or(GroupError::GroupIdNotFound)?;
        let mut g = slot.lock();
        g.expire(Instant::now());
        Ok(g.describe())
    }

    /// Every consumer group with its state, by id.
    pub fn list_consumer_groups(&self) -> Vec<(String, ConsumerGroupState)> {
        let slots: Vec<Arc<ConsumerSlot>> = self.consumer_map().values().cloned().collect();
        let mut out: Vec<(String, ConsumerGroupState)> = slots
            .iter()
            .map(|s| (s.name.clone(), s.lock().state()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// A classic JoinGroup for `name`: refused while a consumer group of
    /// that id has members; an empty consumer group is dropped so the id
    /// can become a classic group.
    pub(super) fn release_consumer_group(&self, name: &str) -> Result<(), GroupError> {
        let _classic = self.map();
        let mut consumers = self.consumer_map();
        if let Some(slot) = consumers.get(name).cloned() {
            if !slot.lock().is_empty() {
                return Err(GroupError::InconsistentGroupProtocol);
            }
            consumers.remove(name);
            slot.wake.notify_one();
        }
        Ok(())
    }

    /// OffsetCommit to a consumer group, checked against the member's epoch.
    pub(super) async fn commit_consumer_offsets(
        &self,
        slot: &ConsumerSlot,
        member_epoch: i32,
        member_id: &str,
        offsets: Vec<(PartitionKey, OffsetRecord)>,
    ) -> Result<(), GroupError> {
        let rx = {
            let g = slot.lock();
            g.validate_offset_commit(member_id, member_epoch)?;
            self.queue_commit(&slot.name, &slot.pending_writes, offsets)
        };
        durable(rx).await
    }

    /// The cluster link's commit: only while the group has no members.
    pub(super) async fn commit_consumer_if_empty(
        &self,
        slot: &ConsumerSlot,
        offsets: Vec<(PartitionKey, OffsetRecord)>,
    ) -> Result<bool, GroupError> {
        let rx = {
            let g = slot.lock();
            if !g.is_empty() {
                return Ok(false);
            }
            self.queue_commit(&slot.name, &slot.pending_writes, offsets)
        };
        durable(rx).await.map(|()| true)
    }

    /// OffsetFetch naming a member (v9+): the member must be at that epoch
    /// in the consumer group. Groups of other kinds pass.
    pub fn validate_offset_fetch(
        &self,
        group: &str,
        member_id: Option<&str>,
        member_epoch: i32,
    ) -> Result<(), GroupError> {
        match self.consumer_group(group) {
            Some(slot) => slot.lock().validate_offset_fetch(member_id, member_epoch),
            None => Ok(()),
        }
    }

    /// DeleteGroups of a consumer group; None when it is not one.
    pub(super) async fn delete_consumer_group(
        &self,
        group: &str,
    ) -> Option<Result<(), GroupError>> {
        let rx = {
            let _classic = self.map();
            let mut consumers = self.consumer_map();
            let slot = consumers.get(group).cloned()?;
            if !slot.lock().is_empty() {
                return Some(Err(GroupError::NonEmptyGroup));
            }
            consumers.remove(group);
            slot.wake.notify_one();
            self.inner
                .writer
                .submit(group, Write::DeleteGroup, &slot.pending_writes)
        };
        Some(durable(rx).await)
    }

    /// OffsetDelete on a consumer group. Topics a member subscribes to are
    /// GROUP_SUBSCRIBED_TO_TOPIC.
    pub(super) async fn delete_consumer_offsets(
        &self,
        slot: &ConsumerSlot,
        partitions: Vec<PartitionKey>,
    ) -> Result<Vec<(PartitionKey, Result<(), GroupError>)>, GroupError> {
        let (mut results, eligible, rx) = {
            let g = slot.lock();
            let (refused, eligible): (Vec<_>, Vec<_>) = partitions
                .into_iter()
                .partition(|p| g.is_subscribed_to_topic(&p.topic));
            let results: Vec<_> = refused
                .into_iter()
                .map(|p| (p, Err(GroupError::GroupSubscribedToTopic)))
                .collect();
            let rx = (!eligible.is_empty()).then(|| {
                self.inner.writer.submit(
                    &slot.name,
                    Write::DeleteOffsets(eligible.clone()),
                    &slot.pending_writes,
                )
            });
            (results, eligible, rx)
        };
        if let Some(rx) = rx {
            durable(rx).await?;
        }
        results.extend(eligible.into_iter().map(|p| (p, Ok(()))));
        Ok(results)
    }
}

/// TxnOffsetCommit staging for a consumer group: the generation is the
/// member epoch, checked as for OffsetCommit.
pub(super) fn validate_txn_commit(
    slot: &ConsumerSlot,
    member_epoch: i32,
    member_id: &str,
) -> Result<(), GroupError> {
    slot.lock().validate_offset_commit(member_id, member_epoch)
}

/// A consumer group's timer task: expires members whose session or
/// revocation deadline passed; sleeps until the next deadline or a wake-up;
/// ends when the group is removed or the coordinator is gone.
async fn expire_members(inner: Weak<Inner>, slot: Arc<ConsumerSlot>) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let current = strong
            .consumer_groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&slot.name)
            .is_some_and(|s| Arc::ptr_eq(s, &slot));
        drop(strong);
        if !current {
            return;
        }
        let next = {
            let mut g = slot.lock();
            g.expire(Instant::now());
            g.next_deadline()
        };
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = slot.wake.notified() => {}
                }
            }
            None => slot.wake.notified().await,
        }
    }
}
