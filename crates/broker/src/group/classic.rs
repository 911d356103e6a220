//! The classic group state machine (Empty, PreparingRebalance,
//! CompletingRebalance, Stable, Dead), as Apache Kafka's classic protocol
//! defines it: joins, protocol selection, leader election, assignment
//! propagation, heartbeats, leaves, and the timers that bound each phase.
//!
//! Every method runs under the group's lock with the current instant passed
//! in; none blocks, awaits or touches storage. A change that must be persisted
//! only sets `dirty`; the coordinator writes it.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use tokio::time::{Duration, Instant};

use super::member::{JoinCallback, Member, SyncCallback};
use super::{
    GroupConfig, GroupError, GroupState, JoinMember, JoinRequest, JoinResponse, LeavingMember,
    SyncRequest, SyncResponse,
};

/// How long a new member's first JoinGroup may wait before it is dropped
/// (it cannot heartbeat yet, and a vanished client would otherwise linger).
const NEW_MEMBER_JOIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The pending end of the join phase.
#[derive(Debug, Clone, Copy)]
pub(crate) enum JoinTimer {
    /// group.initial.rebalance.delay.ms of a group that was empty: waits the
    /// whole delay, extended while new members keep arriving.
    Initial {
        deadline: Instant,
        configured: Duration,
        delay: Duration,
        remaining: Duration,
    },
    /// Ends when every known member rejoined, or at the rebalance timeout.
    Regular { deadline: Instant },
}

impl JoinTimer {
    fn deadline(&self) -> Instant {
        match self {
            JoinTimer::Initial { deadline, .. } | JoinTimer::Regular { deadline } => *deadline,
        }
    }
}

pub(crate) struct Group {
    pub name: String,
    pub state: GroupState,
    /// Wall-clock milliseconds of the last state change.
    pub state_since_ms: i64,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// group.instance.id -> member id.
    pub static_members: BTreeMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with their expiry.
    pub pending_members: BTreeMap<String, Instant>,
    /// Members that have not sent SyncGroup for the current generation.
    pub pending_sync: BTreeSet<String>,
    pub join_timer: Option<JoinTimer>,
    pub sync_deadline: Option<Instant>,
    pub new_member_added: bool,
    /// Topics the consumer-protocol members subscribe to; None when unknown.
    pub subscribed_topics: Option<BTreeSet<String>>,
    /// The group's state must be written to the store.
    pub dirty: bool,
    /// A timer task is running for this group.
    pub driver_running: bool,
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn ms(v: i32) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

impl Group {
    pub fn new(name: &str) -> Self {
        Group {
            name: name.to_string(),
            state: GroupState::Empty,
            state_since_ms: wall_ms(),
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            pending_members: BTreeMap::new(),
            pending_sync: BTreeSet::new(),
            join_timer: None,
            sync_deadline: None,
            new_member_added: false,
            subscribed_topics: None,
            dirty: false,
            driver_running: false,
        }
    }

    pub fn is(&self, state: GroupState) -> bool {
        self.state == state
    }

    /// No members and none about to join.
    pub fn is_inactive(&self) -> bool {
        self.is(GroupState::Empty) && self.members.is_empty() && self.pending_members.is_empty()
    }

    pub fn transition(&mut self, to: GroupState) {
        self.state = to;
        self.state_since_ms = wall_ms();
    }

    fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    fn rebalance_timeout(&self) -> Duration {
        ms(self
            .members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0))
    }

    fn awaiting_join_count(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.is_awaiting_join())
            .count()
    }

    fn has_all_members_joined(&self) -> bool {
        self.members.len() == self.awaiting_join_count() && self.pending_members.is_empty()
    }

    /// Whether this type and these protocols can join: any non-empty offer
    /// joins an empty group; otherwise the type must match and one protocol
    /// must be supported by every member.
    fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.is(GroupState::Empty) {
            !protocol_type.is_empty() && !protocols.is_empty()
        } else {
            self.protocol_type.as_deref() == Some(protocol_type)
                && protocols.iter().any(|(name, _)| {
                    self.members
                        .values()
                        .all(|m| m.protocols.iter().any(|(n, _)| n == name))
                })
        }
    }

    /// The protocol every member supports that gets the most first-choice
    /// votes; ties go to the leader's preference.
    pub fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|name| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(n, _)| n == name))
            })
            .collect();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(v) = m.vote(&candidates) {
                *votes.entry(v).or_default() += 1;
            }
        }
        let best = votes.values().copied().max()?;
        let preference: Vec<&str> = self
            .leader
            .as_ref()
            .and_then(|l| self.members.get(l))
            .map(|m| m.protocols.iter().map(|(n, _)| n.as_str()).collect())
            .unwrap_or_else(|| candidates.clone());
        preference
            .into_iter()
            .chain(candidates.iter().copied())
            .find(|p| votes.get(p) == Some(&best))
            .map(str::to_string)
    }

    pub fn is_subscribed_to_topic(&self, topic: &str) -> bool {
        match &self.subscribed_topics {
            Some(topics) => topics.contains(topic),
            None => true,
        }
    }

    pub fn compute_subscribed_topics(&self) -> Option<BTreeSet<String>> {
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        if self.members.is_empty() {
            return Some(BTreeSet::new());
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut all = BTreeSet::new();
        for m in self.members.values() {
            let metadata = m.metadata(protocol)?;
            all.extend(subscription_topics(metadata)?);
        }
        Some(all)
    }

    // ----- membership -------------------------------------------------------

    fn add(&mut self, member: Member) {
        if let Some(instance) = &member.instance_id {
            self.static_members
                .insert(instance.clone(), member.id.clone());
        }
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member.id.clone());
        }
        self.pending_members.remove(&member.id);
        self.members.insert(member.id.clone(), member);
    }

    /// Removes a member outright; any request it still has waiting is
    /// answered with UNKNOWN_MEMBER_ID.
    fn remove(&mut self, member_id: &str) {
        if let Some(mut m) = self.members.remove(member_id) {
            if let Some(instance) = &m.instance_id
                && self.static_members.get(instance).map(String::as_str) == Some(member_id)
            {
                self.static_members.remove(instance);
            }
            m.respond_join(JoinResponse::error("", GroupError::UnknownMemberId));
            m.respond_sync(SyncResponse::error(GroupError::UnknownMemberId));
        }
        if self.is_leader(member_id) {
            self.leader = self.members.keys().next().cloned();
        }
        self.pending_members.remove(member_id);
        self.pending_sync.remove(member_id);
    }

    fn validate_current_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), GroupError> {
        if let Some(instance) = instance_id {
            return match self.static_members.get(instance) {
                Some(current) if current != member_id => Err(GroupError::FencedInstanceId),
                Some(_) => Ok(()),
                None => Err(GroupError::UnknownMemberId),
            };
        }
        if self.members.contains_key(member_id) {
            Ok(())
        } else {
            Err(GroupError::UnknownMemberId)
        }
    }

    fn touch(&mut self, member_id: &str, now: Instant) {
        if let Some(m) = self.members.get_mut(member_id) {
            m.heartbeat_deadline = Some(now + ms(m.session_timeout_ms));
        }
    }

    fn current_members_metadata(&self) -> Vec<JoinMember> {
        let Some(protocol) = self.protocol_name.as_deref() else {
            return Vec::new();
        };
        self.members
            .values()
            .map(|m| JoinMember {
                member_id: m.id.clone(),
                group_instance_id: m.instance_id.clone(),
                metadata: m.metadata(protocol).cloned().unwrap_or_default(),
            })
            .collect()
    }

    fn generation_response(&self, member_id: &str, with_members: bool) -> JoinResponse {
        JoinResponse {
            error: None,
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader_id: self.leader.clone().unwrap_or_default(),
            skip_assignment: false,
            member_id: member_id.to_string(),
            members: if with_members {
                self.current_members_metadata()
            } else {
                Vec::new()
            },
        }
    }

    // ----- JoinGroup --------------------------------------------------------

    fn accept_joining_member(&self, cfg: &GroupConfig, member_id: &str) -> bool {
        match self.state {
            GroupState::Empty | GroupState::Dead => true,
            GroupState::PreparingRebalance => {
                self.members
                    .get(member_id)
                    .is_some_and(Member::is_awaiting_join)
                    || self.awaiting_join_count() < cfg.max_size
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.members.contains_key(member_id) || self.members.len() < cfg.max_size
            }
        }
    }

    pub fn join(&mut self, cfg: &GroupConfig, req: JoinRequest, cb: JoinCallback, now: Instant) {
        if !self.accept_joining_member(cfg, &req.member_id) {
            self.remove(&req.member_id);
            let _ = cb.send(JoinResponse::error("", GroupError::GroupMaxSizeReached));
        } else if req.member_id.is_empty() {
            self.new_member_join(cfg, req, cb, now);
        } else {
            self.current_member_join(cfg, req, cb, now);
        }
        if self.is(GroupState::PreparingRebalance) {
            self.maybe_complete_join(cfg, now);
        }
    }

    fn new_member_join(
        &mut self,
        cfg: &GroupConfig,
        req: JoinRequest,
        cb: JoinCallback,
        now: Instant,
    ) {
        if self.is(GroupState::Dead) {
            let _ = cb.send(JoinResponse::error("", GroupError::CoordinatorNotAvailable));
            return;
        }
        if !self.supports_protocols(&req.protocol_type, &req.protocols) {
            let _ = cb.send(JoinResponse::error(
                "",
                GroupError::InconsistentGroupProtocol,
            ));
            return;
        }
        let prefix = req.group_instance_id.as_deref().unwrap_or(&req.client_id);
        let new_id = format!("{prefix}-{}", uuid::Uuid::new_v4());
        match req.group_instance_id.clone() {
            Some(instance) => match self.static_members.get(&instance).cloned() {
                Some(old_id) => {
                    tracing::info!(
                        "group {}: static member {instance} rejoins; replacing member {old_id} with {new_id}",
                        self.name
                    );
                    self.update_static_member_and_rebalance(
                        cfg, &old_id, &new_id, &instance, req, cb, now,
                    );
                }
                None => self.add_member_and_rebalance(cfg, new_id, req, cb, now),
            },
            None if req.require_known_member_id => {
                self.pending_members
                    .insert(new_id.clone(), now + ms(req.session_timeout_ms));
                let _ = cb.send(JoinResponse::error(&new_id, GroupError::MemberIdRequired));
            }
            None => self.add_member_and_rebalance(cfg, new_id, req, cb, now),
        }
    }

    fn current_member_join(
        &mut self,
        cfg: &GroupConfig,
        req: JoinRequest,
        cb: JoinCallback,
        now: Instant,
    ) {
        let member_id = req.member_id.clone();
        if self.is(GroupState::Dead) {
            let _ = cb.send(JoinResponse::error(
                &member_id,
                GroupError::CoordinatorNotAvailable,
            ));
            return;
        }
        if !self.supports_protocols(&req.protocol_type, &req.protocols) {
            let _ = cb.send(JoinResponse::error(
                &member_id,
                GroupError::InconsistentGroupProtocol,
            ));
            return;
        }
        if self.pending_members.contains_key(&member_id) {
            if req.group_instance_id.is_some() {
                // Pending ids are only handed to dynamic members.
                let _ = cb.send(JoinResponse::error(&member_id, GroupError::UnknownMemberId));
                return;
            }
            self.add_member_and_rebalance(cfg, member_id, req, cb, now);
            return;
        }
        if let Err(e) = self.validate_current_member(&member_id, req.group_instance_id.as_deref()) {
            let _ = cb.send(JoinResponse::error(&member_id, e));
            return;
        }
        let matches = self
            .members
            .get(&member_id)
            .is_some_and(|m| m.matches(&req.protocols));
        match self.state {
            GroupState::PreparingRebalance => {
                self.update_member_and_rebalance(cfg, &member_id, req, cb, now);
            }
            GroupState::CompletingRebalance if matches => {
                // A retry of a join whose answer was lost: same generation.
                let leader = self.is_leader(&member_id);
                let _ = cb.send(self.generation_response(&member_id, leader));
            }
            GroupState::Stable if matches && !self.is_leader(&member_id) => {
                let _ = cb.send(self.generation_response(&member_id, false));
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                // Changed metadata, or the leader asking for a new assignment.
                self.update_member_and_rebalance(cfg, &member_id, req, cb, now);
            }
            GroupState::Empty | GroupState::Dead => {
                let _ = cb.send(JoinResponse::error(&member_id, GroupError::UnknownMemberId));
            }
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        cfg: &GroupConfig,
        member_id: String,
        req: JoinRequest,
        cb: JoinCallback,
        now: Instant,
    ) {
        let member = Member {
            id: member_id,
            instance_id: req.group_instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            session_timeout_ms: req.session_timeout_ms,
            protocol_type: req.protocol_type,
            protocols: req.protocols,
            assignment: Bytes::new(),
            awaiting_join: Some(cb),
            awaiting_sync: None,
            is_new: true,
            heartbeat_deadline: Some(now + NEW_MEMBER_JOIN_TIMEOUT),
        };
        if self.is(GroupState::PreparingRebalance) && self.generation == 0 {
            self.new_member_added = true;
        }
        self.add(member);
        self.maybe_prepare_rebalance(cfg, now);
    }

    fn update_member(&mut self, member_id: &str, req: JoinRequest, cb: Option<JoinCallback>) {
        if let Some(m) = self.members.get_mut(member_id) {
            m.protocols = req.protocols;
            m.rebalance_timeout_ms = req.rebalance_timeout_ms;
            m.session_timeout_ms = req.session_timeout_ms;
            // A join already waiting is superseded: its request gets an error
            // when its channel closes.
            m.awaiting_join = cb;
        }
    }

    fn update_member_and_rebalance(
        &mut self,
        cfg: &GroupConfig,
        member_id: &str,
        req: JoinRequest,
        cb: JoinCallback,
        now: Instant,
    ) {
        self.update_member(member_id, req, Some(cb));
        self.maybe_prepare_rebalance(cfg, now);
    }

    #[allow(clippy::too_many_arguments)]
    fn update_static_member_and_rebalance(
        &mut self,
        cfg: &GroupConfig,
        old_id: &str,
        new_id: &str,
        instance: &str,
        req: JoinRequest,
        cb: JoinCallback,
        now: Instant,
    ) {
        let previous_leader = self.leader.clone().unwrap_or_default();
        let skip_supported = req.supports_skip_assignment;
        let Some(mut member) = self.members.remove(old_id) else {
            let _ = cb.send(JoinResponse::error("", GroupError::UnknownMemberId));
            return;
        };
        // Fence whatever the previous incarnation is still waiting on.
        member.respond_join(JoinResponse::error(old_id, GroupError::FencedInstanceId));
        member.respond_sync(SyncResponse::error(GroupError::FencedInstanceId));
        member.id = new_id.to_string();
        member.heartbeat_deadline = Some(now + ms(req.session_timeout_ms));
        self.members.insert(new_id.to_string(), member);
        if self.is_leader(old_id) {
            self.leader = Some(new_id.to_string());
        }
        if self.pending_sync.remove(old_id) {
            self.pending_sync.insert(new_id.to_string());
        }
        self.static_members
            .insert(instance.to_string(), new_id.to_string());
        self.update_member(new_id, req, Some(cb));

        match self.state {
            GroupState::Stable => {
                if self.select_protocol() == self.protocol_name {
                    // Same protocol: keep the assignment, no rebalance; the
                    // new member id must be persisted.
                    self.dirty = true;
                    let is_leader = self.is_leader(new_id);
                    let response = if skip_supported {
                        JoinResponse {
                            skip_assignment: is_leader,
                            ..self.generation_response(new_id, is_leader)
                        }
                    } else {
                        // Older clients must not think they lead, or they would
                        // compute an assignment a stable group ignores.
                        JoinResponse {
                            leader_id: previous_leader,
                            ..self.generation_response(new_id, false)
                        }
                    };
                    if let Some(m) = self.members.get_mut(new_id) {
                        m.respond_join(response);
                    }
                } else {
                    self.maybe_prepare_rebalance(cfg, now);
                }
            }
            GroupState::CompletingRebalance => self.prepare_rebalance(cfg, now),
            GroupState::PreparingRebalance | GroupState::Empty | GroupState::Dead => {}
        }
    }

    fn maybe_prepare_rebalance(&mut self, cfg: &GroupConfig, now: Instant) {
        if matches!(
            self.state,
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
        ) {
            self.prepare_rebalance(cfg, now);
        }
    }

    pub fn prepare_rebalance(&mut self, cfg: &GroupConfig, now: Instant) {
        if self.is(GroupState::CompletingRebalance) {
            self.reset_and_propagate_assignment_error(GroupError::RebalanceInProgress, now);
        }
        self.pending_sync.clear();
        self.sync_deadline = None;
        let rebalance_timeout = self.rebalance_timeout();
        let was_empty = self.is(GroupState::Empty);
        self.join_timer = Some(if was_empty {
            let delay = cfg.initial_rebalance_delay;
            JoinTimer::Initial {
                deadline: now + delay,
                configured: delay,
                delay,
                remaining: rebalance_timeout.saturating_sub(delay),
            }
        } else {
            JoinTimer::Regular {
                deadline: now + rebalance_timeout,
            }
        });
        self.transition(GroupState::PreparingRebalance);
        tracing::info!(
            "group {}: preparing to rebalance (generation {})",
            self.name,
            self.generation
        );
        if was_empty && cfg.initial_rebalance_delay.is_zero() {
            self.on_join_timer(cfg, now);
        } else {
            self.maybe_complete_join(cfg, now);
        }
    }

    /// Completes the join phase early once every member rejoined (not while
    /// the initial delay runs).
    fn maybe_complete_join(&mut self, cfg: &GroupConfig, now: Instant) {
        if matches!(self.join_timer, Some(JoinTimer::Regular { .. }))
            && self.has_all_members_joined()
        {
            self.complete_join(cfg, now);
        }
    }

    fn on_join_timer(&mut self, cfg: &GroupConfig, now: Instant) {
        match self.join_timer {
            Some(JoinTimer::Initial {
                configured,
                delay,
                remaining,
                ..
            }) if self.new_member_added && !remaining.is_zero() => {
                self.new_member_added = false;
                let next = configured.min(remaining);
                self.join_timer = Some(JoinTimer::Initial {
                    deadline: now + next,
                    configured,
                    delay: next,
                    remaining: remaining.saturating_sub(delay),
                });
            }
            Some(_) => self.complete_join(cfg, now),
            None => {}
        }
    }

    fn complete_join(&mut self, cfg: &GroupConfig, now: Instant) {
        self.join_timer = None;
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| !m.is_awaiting_join() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        if !gone.is_empty() {
            tracing::info!(
                "group {}: removing members who did not rejoin: {gone:?}",
                self.name
            );
        }
        for id in &gone {
            self.remove(id);
        }
        if self.is(GroupState::Dead) {
            return;
        }
        if !self.maybe_elect_new_joined_leader() && !self.members.is_empty() {
            // Only static members that have not rejoined are left: wait for
            // them (or for their sessions to expire).
            self.join_timer = Some(JoinTimer::Regular {
                deadline: now + self.rebalance_timeout(),
            });
            self.maybe_complete_join(cfg, now);
            return;
        }
        self.init_next_generation();
        if self.is(GroupState::Empty) {
            tracing::info!(
                "group {}: generation {} is empty",
                self.name,
                self.generation
            );
            self.dirty = true;
            return;
        }
        tracing::info!(
            "group {}: generation {} formed with {} members (protocol {:?})",
            self.name,
            self.generation,
            self.members.len(),
            self.protocol_name
        );
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let response = self.generation_response(&id, self.is_leader(&id));
            if let Some(m) = self.members.get_mut(&id) {
                m.respond_join(response);
                m.heartbeat_deadline = Some(now + ms(m.session_timeout_ms));
                m.is_new = false;
            }
            self.pending_sync.insert(id);
        }
        self.sync_deadline = Some(now + self.rebalance_timeout());
    }

    fn maybe_elect_new_joined_leader(&mut self) -> bool {
        let Some(leader) = self.leader.clone() else {
            return false;
        };
        if self
            .members
            .get(&leader)
            .is_some_and(Member::is_awaiting_join)
        {
            return true;
        }
        match self
            .members
            .values()
            .find(|m| m.is_awaiting_join())
            .map(|m| m.id.clone())
        {
            Some(id) => {
                self.leader = Some(id);
                true
            }
            None => false,
        }
    }

    fn init_next_generation(&mut self) {
        self.generation = self.generation.saturating_add(1);
        if self.members.is_empty() {
            self.protocol_name = None;
            self.subscribed_topics = self.compute_subscribed_topics();
            self.transition(GroupState::Empty);
        } else {
            self.protocol_name = self.select_protocol();
            self.subscribed_topics = self.compute_subscribed_topics();
            self.transition(GroupState::CompletingRebalance);
        }
        self.pending_sync.clear();
    }

    // ----- SyncGroup --------------------------------------------------------

    pub fn sync(&mut self, req: SyncRequest, cb: SyncCallback, now: Instant) {
        if self.is(GroupState::Dead) {
            let _ = cb.send(SyncResponse::error(GroupError::CoordinatorNotAvailable));
            return;
        }
        let check = self
            .validate_current_member(&req.member_id, req.group_instance_id.as_deref())
            .and_then(|()| {
                if req.generation_id != self.generation {
                    Err(GroupError::IllegalGeneration)
                } else if req
                    .protocol_type
                    .as_ref()
                    .is_some_and(|t| self.protocol_type.as_ref() != Some(t))
                    || req
                        .protocol_name
                        .as_ref()
                        .is_some_and(|n| self.protocol_name.as_ref() != Some(n))
                {
                    Err(GroupError::InconsistentGroupProtocol)
                } else {
                    Ok(())
                }
            });
        if let Err(e) = check {
            let _ = cb.send(SyncResponse::error(e));
            return;
        }
        match self.state {
            GroupState::Empty => {
                let _ = cb.send(SyncResponse::error(GroupError::UnknownMemberId));
            }
            GroupState::PreparingRebalance => {
                let _ = cb.send(SyncResponse::error(GroupError::RebalanceInProgress));
            }
            GroupState::CompletingRebalance => {
                if let Some(m) = self.members.get_mut(&req.member_id) {
                    m.awaiting_sync = Some(cb);
                }
                self.remove_pending_sync(&req.member_id);
                if self.is_leader(&req.member_id) {
                    tracing::info!(
                        "group {}: assignment received from leader {} for generation {}",
                        self.name,
                        req.member_id,
                        self.generation
                    );
                    let assignments: BTreeMap<String, Bytes> =
                        req.assignments.into_iter().collect();
                    for m in self.members.values_mut() {
                        m.assignment = assignments.get(&m.id).cloned().unwrap_or_default();
                    }
                    self.propagate_assignment(None, now);
                    self.transition(GroupState::Stable);
                    self.dirty = true;
                }
            }
            GroupState::Stable => {
                self.remove_pending_sync(&req.member_id);
                let response = SyncResponse {
                    error: None,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol_name.clone(),
                    assignment: self
                        .members
                        .get(&req.member_id)
                        .map(|m| m.assignment.clone())
                        .unwrap_or_default(),
                };
                let _ = cb.send(response);
                self.touch(&req.member_id, now);
            }
            GroupState::Dead => {}
        }
    }

    fn remove_pending_sync(&mut self, member_id: &str) {
        self.pending_sync.remove(member_id);
        if self.pending_sync.is_empty() {
            self.sync_deadline = None;
        }
    }

    fn reset_and_propagate_assignment_error(&mut self, error: GroupError, now: Instant) {
        for m in self.members.values_mut() {
            m.assignment = Bytes::new();
        }
        self.propagate_assignment(Some(error), now);
    }

    fn propagate_assignment(&mut self, error: Option<GroupError>, now: Instant) {
        let (protocol_type, protocol_name) = match error {
            None => (self.protocol_type.clone(), self.protocol_name.clone()),
            Some(_) => (None, None),
        };
        for m in self.members.values_mut() {
            let response = SyncResponse {
                error: error.clone(),
                protocol_type: protocol_type.clone(),
                protocol_name: protocol_name.clone(),
                assignment: m.assignment.clone(),
            };
            if m.respond_sync(response) {
                m.heartbeat_deadline = Some(now + ms(m.session_timeout_ms));
            }
        }
    }

    // ----- Heartbeat, LeaveGroup, OffsetCommit checks ----------------------

    pub fn heartbeat(
        &mut self,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        now: Instant,
    ) -> Result<(), GroupError> {
        if self.is(GroupState::Dead) {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        self.validate_current_member(member_id, instance_id)?;
        if generation != self.generation {
            return Err(GroupError::IllegalGeneration);
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => Err(GroupError::UnknownMemberId),
            GroupState::PreparingRebalance => {
                self.touch(member_id, now);
                Err(GroupError::RebalanceInProgress)
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.touch(member_id, now);
                Ok(())
            }
        }
    }

    pub fn leave(
        &mut self,
        cfg: &GroupConfig,
        leaving: &[LeavingMember],
        now: Instant,
    ) -> Result<Vec<Result<(), GroupError>>, GroupError> {
        if self.is(GroupState::Dead) {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        let mut results = Vec::with_capacity(leaving.len());
        for l in leaving {
            let result = if l.member_id.is_empty() {
                match l
                    .group_instance_id
                    .as_ref()
                    .and_then(|i| self.static_members.get(i))
                    .cloned()
                {
                    Some(current) => {
                        self.remove_member_and_update_group(cfg, &current, now);
                        Ok(())
                    }
                    None => Err(GroupError::UnknownMemberId),
                }
            } else if self.pending_members.remove(&l.member_id).is_some() {
                if self.is(GroupState::PreparingRebalance) {
                    self.maybe_complete_join(cfg, now);
                }
                Ok(())
            } else {
                self.validate_current_member(&l.member_id, l.group_instance_id.as_deref())
                    .map(|()| self.remove_member_and_update_group(cfg, &l.member_id, now))
            };
            if result.is_ok() {
                tracing::info!(
                    "group {}: member {} (instance {:?}) left; reason: {}",
                    self.name,
                    l.member_id,
                    l.group_instance_id,
                    l.reason.as_deref().unwrap_or("not provided")
                );
            }
            results.push(result);
        }
        Ok(results)
    }

    fn remove_member_and_update_group(&mut self, cfg: &GroupConfig, member_id: &str, now: Instant) {
        self.remove(member_id);
        match self.state {
            GroupState::Dead | GroupState::Empty => {}
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance(cfg, now)
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(cfg, now),
        }
    }

    /// Whether an OffsetCommit from this member and generation may commit.
    /// Simple (non-member, generation < 0) commits are allowed only while
    /// the group is Empty.
    pub fn validate_offset_commit(
        &self,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), GroupError> {
        if self.is(GroupState::Dead) {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        if generation < 0 && self.is(GroupState::Empty) {
            return Ok(());
        }
        if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
            self.validate_current_member(member_id, instance_id)?;
            if generation != self.generation {
                return Err(GroupError::IllegalGeneration);
            }
        } else if !self.is(GroupState::Empty) {
            return Err(GroupError::UnknownMemberId);
        }
        if self.is(GroupState::CompletingRebalance) {
            return Err(GroupError::RebalanceInProgress);
        }
        Ok(())
    }

    /// Whether a TxnOffsetCommit may stage offsets: as an OffsetCommit, except
    /// that a commit without member id and generation (TxnOffsetCommit before
    /// v3 carries neither) is accepted in any state, and a rebalance in
    /// progress does not refuse it.
    pub fn validate_txn_offset_commit(
        &self,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), GroupError> {
        if self.is(GroupState::Dead) {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        if generation < 0 && self.is(GroupState::Empty) {
            return Ok(());
        }
        if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
            self.validate_current_member(member_id, instance_id)?;
            if generation != self.generation {
                return Err(GroupError::IllegalGeneration);
            }
        }
        Ok(())
    }

    /// A committing member shows it is alive.
    pub fn on_member_commit(&mut self, member_id: &str, now: Instant) {
        if matches!(
            self.state,
            GroupState::Stable | GroupState::PreparingRebalance
        ) {
            self.touch(member_id, now);
        }
    }

    // ----- timers -----------------------------------------------------------

    /// The earliest instant at which `tick` has work, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        let members = self.members.values().filter_map(|m| m.heartbeat_deadline);
        let pending = self.pending_members.values().copied();
        members
            .chain(pending)
            .chain(self.join_timer.map(|t| t.deadline()))
            .chain(self.sync_deadline)
            .min()
    }

    /// Runs every timer due at `now`: pending member expiry, session expiry,
    /// the end of the join phase and the sync deadline.
    pub fn tick(&mut self, cfg: &GroupConfig, now: Instant) {
        // Bounded: each pass either finds nothing due or moves deadlines on.
        for _ in 0..64 {
            if self.is(GroupState::Dead) {
                self.join_timer = None;
                self.sync_deadline = None;
                self.pending_members.clear();
                for m in self.members.values_mut() {
                    m.heartbeat_deadline = None;
                }
                return;
            }
            if self.next_deadline().is_none_or(|d| d > now) {
                return;
            }
            let expired_pending: Vec<String> = self
                .pending_members
                .iter()
                .filter(|(_, d)| **d <= now)
                .map(|(id, _)| id.clone())
                .collect();
            for id in expired_pending {
                tracing::info!("group {}: pending member {id} expired", self.name);
                self.pending_members.remove(&id);
                if self.is(GroupState::PreparingRebalance) {
                    self.maybe_complete_join(cfg, now);
                }
            }
            let due: Vec<String> = self
                .members
                .values()
                .filter(|m| m.heartbeat_deadline.is_some_and(|d| d <= now))
                .map(|m| m.id.clone())
                .collect();
            for id in due {
                let Some(expires) = self.members.get(&id).map(Member::expires_on_deadline) else {
                    continue;
                };
                if expires {
                    tracing::info!(
                        "group {}: member {id} failed to heartbeat in time; removing it",
                        self.name
                    );
                    self.remove_member_and_update_group(cfg, &id, now);
                } else if let Some(m) = self.members.get_mut(&id) {
                    // Blocked in JoinGroup/SyncGroup: rescheduled when answered.
                    m.heartbeat_deadline = None;
                }
            }
            if self.join_timer.is_some_and(|t| t.deadline() <= now) {
                self.on_join_timer(cfg, now);
            }
            if self.sync_deadline.is_some_and(|d| d <= now) {
                self.sync_deadline = None;
                if matches!(
                    self.state,
                    GroupState::CompletingRebalance | GroupState::Stable
                ) && !self.pending_sync.is_empty()
                {
                    let late: Vec<String> = self.pending_sync.iter().cloned().collect();
                    tracing::info!(
                        "group {}: removing members that did not sync in time: {late:?}",
                        self.name
                    );
                    for id in &late {
                        self.remove(id);
                    }
                    self.prepare_rebalance(cfg, now);
                }
            }
        }
    }
}

/// Topics of a consumer-protocol subscription, read with the version 0
/// layout every later version extends: version i16, then an array of strings.
pub(crate) fn subscription_topics(metadata: &[u8]) -> Option<Vec<String>> {
    fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if buf.len() < n {
            return None;
        }
        let (head, tail) = buf.split_at(n);
        *buf = tail;
        Some(head)
    }
    let mut buf = metadata;
    let _version = take(&mut buf, 2)?;
    let count = i32::from_be_bytes(take(&mut buf, 4)?.try_into().ok()?);
    let mut topics = Vec::new();
    for _ in 0..count.max(0) {
        let len = i16::from_be_bytes(take(&mut buf, 2)?.try_into().ok()?);
        let name = take(&mut buf, usize::try_from(len).ok()?)?;
        topics.push(String::from_utf8(name.to_vec()).ok()?);
    }
    Some(topics)
}
