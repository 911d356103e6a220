//! The KIP-848 consumer group state machine: membership through
//! ConsumerGroupHeartbeat, the group epoch (bumped on membership,
//! subscription and partition-count changes), the target assignment computed
//! by a server assignor, per-member reconciliation, session and rebalance
//! timeouts, static members, and the member-epoch checks of offset commits
//! and fetches.
//!
//! Kept in memory only: after a restart members rejoin with epoch 0 (their
//! heartbeats get UNKNOWN_MEMBER_ID first). Every method runs under the
//! group's lock with the current instant passed in; none blocks, awaits or
//! touches storage, and none speaks the wire format.

pub mod assignor;
pub mod reconcile;

use std::collections::{BTreeMap, BTreeSet};

use tokio::time::{Duration, Instant};

use super::{GroupConfig, GroupError};
pub use assignor::Assignment;
use reconcile::{MemberAssignment, MemberState};

/// The member epoch of a member leaving the group.
pub const LEAVE_EPOCH: i32 = -1;
/// The member epoch of a static member leaving for now (it may come back
/// with the same instance id within its session timeout).
pub const STATIC_LEAVE_EPOCH: i32 = -2;

/// The states a consumer group reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGroupState {
    Empty,
    Assigning,
    Reconciling,
    Stable,
    Dead,
}

impl ConsumerGroupState {
    /// The name Kafka reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
            ConsumerGroupState::Dead => "Dead",
        }
    }
}

/// A ConsumerGroupHeartbeat, with topics by name.
#[derive(Debug, Clone)]
pub struct ConsumerHeartbeat {
    pub group_id: String,
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    /// -1 when not sent (unchanged).
    pub rebalance_timeout_ms: i32,
    /// None when unchanged.
    pub subscribed_topic_names: Option<Vec<String>>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    /// The partitions the member owns; None when not reported.
    pub owned: Option<Assignment>,
    pub client_id: String,
    pub client_host: String,
}

/// The answer to a ConsumerGroupHeartbeat that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerHeartbeatAnswer {
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// The member's full assignment, when it must learn it.
    pub assignment: Option<Assignment>,
}

/// One member as ConsumerGroupDescribe shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerMemberDescription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub member_epoch: i32,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub assignment: Assignment,
    pub target_assignment: Assignment,
}

/// A consumer group as ConsumerGroupDescribe shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupDescription {
    pub group_id: String,
    pub state: ConsumerGroupState,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor_name: String,
    pub members: Vec<ConsumerMemberDescription>,
}

pub(crate) struct ConsumerMember {
    pub id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topics: BTreeSet<String>,
    pub server_assignor: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub assignment: MemberAssignment,
    /// A static member that left with epoch -2 and may come back.
    pub left_static: bool,
    pub session_deadline: Instant,
    /// While it must revoke: when it is fenced unless it has.
    pub revocation_deadline: Option<Instant>,
}

pub(crate) struct ConsumerGroup {
    pub name: String,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub members: BTreeMap<String, ConsumerMember>,
    /// The target assignment at `assignment_epoch`, by member id.
    pub target: BTreeMap<String, Assignment>,
    /// Partition counts of the subscribed topics at the last epoch bump.
    pub subscribed_partitions: BTreeMap<String, i32>,
    /// The assignor of the last target assignment.
    pub assignor: String,
}

fn ms(v: i32) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

fn invalid(message: &str) -> GroupError {
    GroupError::InvalidRequest(message.to_string())
}

/// Checks what Kafka checks of a heartbeat before touching the group.
pub fn validate(req: &ConsumerHeartbeat, version: i16) -> Result<(), GroupError> {
    if req.group_id.is_empty() {
        return Err(invalid("GroupId can't be empty."));
    }
    if req.instance_id.as_deref() == Some("") {
        return Err(invalid("InstanceId can't be empty."));
    }
    if req.rack_id.as_deref() == Some("") {
        return Err(invalid("RackId can't be empty."));
    }
    if version >= 1 && req.member_id.is_empty() {
        return Err(invalid("MemberId can't be empty."));
    }
    match req.member_epoch {
        0 => {
            if req.rebalance_timeout_ms <= 0 {
                return Err(invalid(
                    "RebalanceTimeoutMs must be provided in first request.",
                ));
            }
            if req
                .owned
                .as_ref()
                .is_none_or(|o| o.values().any(|ps| !ps.is_empty()))
            {
                return Err(invalid("TopicPartitions must be empty when (re-)joining."));
            }
            if req.subscribed_topic_names.is_none() && req.subscribed_topic_regex.is_none() {
                return Err(invalid(
                    "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.",
                ));
            }
        }
        e if e > 0 => {
            if req.member_id.is_empty() {
                return Err(invalid("MemberId can't be empty."));
            }
        }
        LEAVE_EPOCH => {
            if req.member_id.is_empty() {
                return Err(invalid("MemberId can't be empty."));
            }
        }
        STATIC_LEAVE_EPOCH => {
            if req.instance_id.is_none() {
                return Err(invalid("InstanceId can't be null."));
            }
        }
        _ => return Err(invalid("MemberEpoch is invalid.")),
    }
    // An empty regex clears one; without regex support that is nothing.
    if req
        .subscribed_topic_regex
        .as_deref()
        .is_some_and(|r| !r.is_empty())
    {
        return Err(invalid(
            "SubscribedTopicRegex is not supported by this broker; subscribe to topic names.",
        ));
    }
    if let Some(a) = &req.server_assignor
        && !assignor::ASSIGNORS.contains(&a.as_str())
    {
        return Err(GroupError::UnsupportedAssignor(a.clone()));
    }
    Ok(())
}

impl ConsumerGroup {
    pub fn new(name: &str) -> Self {
        ConsumerGroup {
            name: name.to_string(),
            group_epoch: 0,
            assignment_epoch: 0,
            members: BTreeMap::new(),
            target: BTreeMap::new(),
            subscribed_partitions: BTreeMap::new(),
            assignor: assignor::ASSIGNORS[0].to_string(),
        }
    }

    /// No members, not even static members that may come back.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.group_epoch != self.assignment_epoch {
            ConsumerGroupState::Assigning
        } else if self.members.values().any(|m| {
            m.assignment.epoch != self.assignment_epoch || m.assignment.state != MemberState::Stable
        }) {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    /// Handles a heartbeat that passed `validate`; `topics` are the
    /// partition counts of every existing topic.
    pub fn heartbeat(
        &mut self,
        cfg: &GroupConfig,
        req: &ConsumerHeartbeat,
        topics: &BTreeMap<String, i32>,
        now: Instant,
    ) -> Result<ConsumerHeartbeatAnswer, GroupError> {
        self.expire(now);
        if req.member_epoch == LEAVE_EPOCH || req.member_epoch == STATIC_LEAVE_EPOCH {
            return self.leave(cfg, req, topics, now);
        }
        let full = req.member_epoch == 0;
        let (mut member, is_new) = if full {
            self.take_joining_member(cfg, req, now)?
        } else {
            let m = self
                .members
                .remove(&req.member_id)
                .ok_or(GroupError::UnknownMemberId)?;
            if let Err(e) = check_member(&m, req) {
                self.members.insert(m.id.clone(), m);
                return Err(e);
            }
            (m, false)
        };
        let previous = member.assignment.assigned.clone();
        let mut bump = is_new;
        if let Some(names) = &req.subscribed_topic_names {
            let set: BTreeSet<String> = names.iter().cloned().collect();
            if set != member.subscribed_topics {
                member.subscribed_topics = set;
                bump = true;
            }
        }
        if let Some(a) = &req.server_assignor
            && member.server_assignor.as_deref() != Some(a.as_str())
        {
            member.server_assignor = Some(a.clone());
            bump = true;
        }
        if req.rebalance_timeout_ms > 0 {
            member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        }
        if req.rack_id.is_some() {
            member.rack_id = req.rack_id.clone();
        }
        if req.instance_id.is_some() {
            member.instance_id = req.instance_id.clone();
        }
        member.client_id = req.client_id.clone();
        member.client_host = req.client_host.clone();
        member.session_deadline = now + cfg.consumer_session_timeout;
        let id = member.id.clone();
        self.members.insert(id.clone(), member);
        let subscribed = self.subscribed_partition_counts(topics);
        if subscribed != self.subscribed_partitions {
            self.subscribed_partitions = subscribed;
            bump = true;
        }
        if bump {
            self.group_epoch += 1;
        }
        if self.group_epoch > self.assignment_epoch {
            self.compute_target();
        }
        let owned = if full {
            Some(Assignment::new())
        } else {
            req.owned.clone()
        };
        self.reconcile(&id, owned.as_ref(), now);
        let member = &self.members[&id];
        let assigned = &member.assignment.assigned;
        let must_tell = full
            || *assigned != previous
            || owned
                .as_ref()
                .is_some_and(|o| reconcile::pairs(o) != reconcile::pairs(assigned));
        Ok(ConsumerHeartbeatAnswer {
            member_id: id,
            member_epoch: member.assignment.epoch,
            heartbeat_interval_ms: i32::try_from(cfg.consumer_heartbeat_interval.as_millis())
                .unwrap_or(i32::MAX),
            assignment: must_tell.then(|| assigned.clone()),
        })
    }

    /// The member a join (epoch 0) is about, taken out of the group: a
    /// rejoining member, a static member replacing its departed self, or a
    /// new member.
    fn take_joining_member(
        &mut self,
        cfg: &GroupConfig,
        req: &ConsumerHeartbeat,
        now: Instant,
    ) -> Result<(ConsumerMember, bool), GroupError> {
        let member_id = if req.member_id.is_empty() {
            // ConsumerGroupHeartbeat v0: the coordinator names the member.
            uuid::Uuid::new_v4().simple().to_string()
        } else {
            req.member_id.clone()
        };
        if let Some(instance) = &req.instance_id {
            let holder = self
                .members
                .values()
                .find(|m| m.instance_id.as_deref() == Some(instance.as_str()))
                .map(|m| (m.id.clone(), m.left_static));
            match holder {
                Some((old, _)) if old == member_id => {}
                Some((_, false)) => return Err(GroupError::UnreleasedInstanceId),
                Some((old, true)) => {
                    let mut m = self
                        .members
                        .remove(&old)
                        .ok_or(GroupError::UnknownMemberId)?;
                    if let Some(t) = self.target.remove(&old) {
                        self.target.insert(member_id.clone(), t);
                    }
                    m.id = member_id;
                    m.left_static = false;
                    return Ok((m, false));
                }
                None => {}
            }
        }
        if let Some(m) = self.members.remove(&member_id) {
            return Ok((m, false));
        }
        if self.members.len() >= cfg.consumer_max_size {
            return Err(GroupError::GroupMaxSizeReached);
        }
        Ok((
            ConsumerMember {
                id: member_id,
                instance_id: req.instance_id.clone(),
                rack_id: None,
                client_id: String::new(),
                client_host: String::new(),
                subscribed_topics: BTreeSet::new(),
                server_assignor: None,
                rebalance_timeout_ms: req.rebalance_timeout_ms,
                assignment: MemberAssignment::new(),
                left_static: false,
                session_deadline: now,
                revocation_deadline: None,
            },
            true,
        ))
    }

    fn leave(
        &mut self,
        cfg: &GroupConfig,
        req: &ConsumerHeartbeat,
        topics: &BTreeMap<String, i32>,
        now: Instant,
    ) -> Result<ConsumerHeartbeatAnswer, GroupError> {
        let id = match &req.instance_id {
            Some(instance) => {
                let m = self
                    .members
                    .values()
                    .find(|m| m.instance_id.as_deref() == Some(instance.as_str()))
                    .ok_or(GroupError::UnknownMemberId)?;
                if m.id != req.member_id {
                    return Err(GroupError::FencedInstanceId);
                }
                m.id.clone()
            }
            None => {
                if !self.members.contains_key(&req.member_id) {
                    return Err(GroupError::UnknownMemberId);
                }
                req.member_id.clone()
            }
        };
        if req.member_epoch == STATIC_LEAVE_EPOCH {
            // Its assignment waits for it until its session times out.
            if let Some(m) = self.members.get_mut(&id) {
                m.left_static = true;
                m.session_deadline = now + cfg.consumer_session_timeout;
            }
        } else {
            self.remove_members(std::slice::from_ref(&id));
            self.subscribed_partitions = self.subscribed_partition_counts(topics);
            self.compute_target();
        }
        Ok(ConsumerHeartbeatAnswer {
            member_id: id,
            member_epoch: req.member_epoch,
            heartbeat_interval_ms: 0,
            assignment: None,
        })
    }

    /// Removes members and bumps the group epoch; the caller recomputes
    /// the target.
    fn remove_members(&mut self, ids: &[String]) {
        for id in ids {
            self.members.remove(id);
            self.target.remove(id);
        }
        if !ids.is_empty() {
            self.group_epoch += 1;
        }
    }

    /// Removes members whose session or revocation deadline passed.
    pub fn expire(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                m.session_deadline <= now || m.revocation_deadline.is_some_and(|d| d <= now)
            })
            .map(|m| m.id.clone())
            .collect();
        if expired.is_empty() {
            return;
        }
        for id in &expired {
            tracing::info!("consumer group {}: member {id} expired", self.name);
        }
        self.remove_members(&expired);
        let subscribed: BTreeSet<&String> = self
            .members
            .values()
            .flat_map(|m| m.subscribed_topics.iter())
            .collect();
        self.subscribed_partitions
            .retain(|t, _| subscribed.contains(t));
        self.compute_target();
    }

    /// The earliest deadline of any member.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.members
            .values()
            .flat_map(|m| std::iter::once(m.session_deadline).chain(m.revocation_deadline))
            .min()
    }

    fn subscribed_partition_counts(&self, topics: &BTreeMap<String, i32>) -> BTreeMap<String, i32> {
        self.members
            .values()
            .flat_map(|m| m.subscribed_topics.iter())
            .filter_map(|t| topics.get(t).map(|n| (t.clone(), *n)))
            .collect()
    }

    /// The assignor most members asked for (ties to the first name), else
    /// the default.
    fn choose_assignor(&self) -> String {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for a in self
            .members
            .values()
            .filter_map(|m| m.server_assignor.as_deref())
        {
            *votes.entry(a).or_default() += 1;
        }
        let best = votes.values().copied().max().unwrap_or(0);
        votes
            .into_iter()
            .find(|(_, n)| *n == best && best > 0)
            .map_or_else(
                || assignor::ASSIGNORS[0].to_string(),
                |(a, _)| a.to_string(),
            )
    }

    /// A new target assignment at the group epoch.
    fn compute_target(&mut self) {
        self.assignor = self.choose_assignor();
        let subscriptions: BTreeMap<String, BTreeSet<String>> = self
            .members
            .values()
            .map(|m| (m.id.clone(), m.subscribed_topics.clone()))
            .collect();
        self.target = assignor::assign(
            &self.assignor,
            &subscriptions,
            &self.subscribed_partitions,
            &self.target,
        );
        self.assignment_epoch = self.group_epoch;
    }

    /// Moves one member towards its target assignment.
    fn reconcile(&mut self, id: &str, owned: Option<&Assignment>, now: Instant) {
        let held: BTreeSet<(String, i32)> = self
            .members
            .values()
            .filter(|m| m.id != id)
            .flat_map(|m| {
                reconcile::pairs(&m.assignment.assigned)
                    .into_iter()
                    .chain(reconcile::pairs(&m.assignment.pending_revocation))
            })
            .collect();
        let target = self.target.get(id).cloned().unwrap_or_default();
        let epoch = self.assignment_epoch;
        let Some(member) = self.members.get_mut(id) else {
            return;
        };
        let next = reconcile::next(&member.assignment, &target, epoch, owned, |t, p| {
            held.contains(&(t.to_string(), p))
        });
        if next.state == MemberState::UnrevokedPartitions {
            if member.revocation_deadline.is_none() {
                member.revocation_deadline = Some(now + ms(member.rebalance_timeout_ms));
            }
        } else {
            member.revocation_deadline = None;
        }
        member.assignment = next;
    }

    /// OffsetCommit from a member: its epoch must be the current one. A
    /// commit without a member (epoch < 0) is allowed while the group is
    /// empty.
    pub fn validate_offset_commit(
        &self,
        member_id: &str,
        member_epoch: i32,
    ) -> Result<(), GroupError> {
        if member_epoch < 0 && self.members.is_empty() {
            return Ok(());
        }
        let m = self
            .members
            .get(member_id)
            .ok_or(GroupError::UnknownMemberId)?;
        match member_epoch.cmp(&m.assignment.epoch) {
            std::cmp::Ordering::Greater => Err(GroupError::FencedMemberEpoch),
            std::cmp::Ordering::Less => Err(GroupError::StaleMemberEpoch),
            std::cmp::Ordering::Equal => Ok(()),
        }
    }

    /// OffsetFetch naming a member: it must exist at that epoch.
    pub fn validate_offset_fetch(
        &self,
        member_id: Option<&str>,
        member_epoch: i32,
    ) -> Result<(), GroupError> {
        let Some(member_id) = member_id.filter(|_| member_epoch >= 0) else {
            return Ok(());
        };
        let m = self
            .members
            .get(member_id)
            .ok_or(GroupError::UnknownMemberId)?;
        if m.assignment.epoch != member_epoch {
            return Err(GroupError::StaleMemberEpoch);
        }
        Ok(())
    }

    pub fn is_subscribed_to_topic(&self, topic: &str) -> bool {
        self.members
            .values()
            .any(|m| m.subscribed_topics.contains(topic))
    }

    pub fn describe(&self) -> ConsumerGroupDescription {
        ConsumerGroupDescription {
            group_id: self.name.clone(),
            state: self.state(),
            group_epoch: self.group_epoch,
            assignment_epoch: self.assignment_epoch,
            assignor_name: self.assignor.clone(),
            members: self
                .members
                .values()
                .map(|m| ConsumerMemberDescription {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    rack_id: m.rack_id.clone(),
                    member_epoch: if m.left_static {
                        STATIC_LEAVE_EPOCH
                    } else {
                        m.assignment.epoch
                    },
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    subscribed_topic_names: m.subscribed_topics.iter().cloned().collect(),
                    assignment: m.assignment.assigned.clone(),
                    target_assignment: self.target.get(&m.id).cloned().unwrap_or_default(),
                })
                .collect(),
        }
    }
}

/// Kafka's epoch check of a known member: a newer epoch than the member's is
/// fenced; an older one only passes if it is the previous epoch and the
/// member owns a subset of its assignment (the answer that bumped it was
/// lost).
fn check_member(m: &ConsumerMember, req: &ConsumerHeartbeat) -> Result<(), GroupError> {
    if m.left_static {
        return Err(GroupError::UnknownMemberId);
    }
    if m.instance_id.is_some() && req.instance_id.is_some() && m.instance_id != req.instance_id {
        return Err(GroupError::FencedInstanceId);
    }
    let epoch = m.assignment.epoch;
    if req.member_epoch > epoch {
        return Err(GroupError::FencedMemberEpoch);
    }
    if req.member_epoch < epoch {
        let subset = req
            .owned
            .as_ref()
            .is_some_and(|o| reconcile::is_subset(o, &m.assignment.assigned));
        if req.member_epoch != m.assignment.previous_epoch || !subset {
            return Err(GroupError::FencedMemberEpoch);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
