//! Coordinator tests: the classic protocol's flows and error codes, timers
//! (with short real timeouts), persistence across reopen, commit_if_inactive.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use strait_metadata::{EmbeddedStore, MetadataStore, OffsetRecord, PartitionKey};

use super::*;

fn config() -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay: Duration::ZERO,
        min_session_timeout_ms: 0,
        ..GroupConfig::default()
    }
}

struct Env {
    _dir: tempfile::TempDir,
    store: Arc<dyn MetadataStore>,
    c: GroupCoordinator,
}

fn env_with(config: GroupConfig) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn MetadataStore> =
        Arc::new(EmbeddedStore::open(&dir.path().join("meta.redb")).expect("store"));
    let c = GroupCoordinator::open(store.clone(), config).expect("open");
    Env {
        _dir: dir,
        store,
        c,
    }
}

fn env() -> Env {
    env_with(config())
}

/// A consumer-protocol subscription (v0 layout).
fn subscription(topics: &[&str]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(topics.len() as i32);
    for t in topics {
        b.put_i16(t.len() as i16);
        b.put_slice(t.as_bytes());
    }
    b.put_i32(-1);
    b.freeze()
}

fn join_req(group: &str, member_id: &str, client: &str) -> JoinRequest {
    JoinRequest {
        group_id: group.into(),
        member_id: member_id.into(),
        group_instance_id: None,
        client_id: client.into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), subscription(&["t"]))],
        require_known_member_id: true,
        supports_skip_assignment: false,
        reason: None,
    }
}

fn sync_req(
    group: &str,
    member_id: &str,
    generation: i32,
    assignments: &[(&str, &str)],
) -> SyncRequest {
    SyncRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member_id.into(),
        group_instance_id: None,
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignments: assignments
            .iter()
            .map(|(m, a)| (m.to_string(), Bytes::copy_from_slice(a.as_bytes())))
            .collect(),
    }
}

fn offset(o: i64) -> OffsetRecord {
    OffsetRecord {
        offset: o,
        leader_epoch: -1,
        metadata: None,
        commit_ms: 1,
    }
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Joins a new dynamic member through MEMBER_ID_REQUIRED; returns its id.
async fn member_id_for(c: &GroupCoordinator, group: &str, client: &str) -> String {
    let r = c.join_group(join_req(group, "", client)).await;
    assert_eq!(r.error, Some(GroupError::MemberIdRequired));
    assert!(
        r.member_id.starts_with(&format!("{client}-")),
        "{}",
        r.member_id
    );
    r.member_id
}

/// One member joins and syncs; returns (member id, generation).
async fn stable_single(c: &GroupCoordinator, group: &str, client: &str) -> (String, i32) {
    let id = member_id_for(c, group, client).await;
    let r = c.join_group(join_req(group, &id, client)).await;
    assert_eq!(r.error, None);
    assert_eq!(r.leader_id, id);
    assert_eq!(r.members.len(), 1);
    let s = c
        .sync_group(sync_req(group, &id, r.generation_id, &[(&id, "all")]))
        .await;
    assert_eq!(s.error, None);
    assert_eq!(&s.assignment[..], b"all");
    (id, r.generation_id)
}

fn state(c: &GroupCoordinator, group: &str) -> GroupState {
    c.describe_group(group).state
}

#[tokio::test]
async fn single_member_joins_syncs_and_heartbeats() {
    let e = env();
    let (id, generation) = stable_single(&e.c, "g", "cli").await;
    assert_eq!(generation, 1);
    assert_eq!(state(&e.c, "g"), GroupState::Stable);
    assert_eq!(e.c.heartbeat("g", generation, &id, None), Ok(()));
    assert_eq!(
        e.c.heartbeat("g", generation + 1, &id, None),
        Err(GroupError::IllegalGeneration)
    );
    assert_eq!(
        e.c.heartbeat("g", generation, "nobody", None),
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        e.c.heartbeat("nogroup", generation, &id, None),
        Err(GroupError::UnknownMemberId)
    );
    let d = e.c.describe_group("g");
    assert_eq!(d.protocol, "range");
    assert_eq!(d.protocol_type, "consumer");
    assert_eq!(d.members.len(), 1);
    assert_eq!(d.members[0].client_id, "cli");
    assert_eq!(d.members[0].client_host, "/127.0.0.1");
    assert_eq!(&d.members[0].assignment[..], b"all");
    // A known member id in a group this broker does not have.
    let r = e.c.join_group(join_req("other", &id, "cli")).await;
    assert_eq!(r.error, Some(GroupError::UnknownMemberId));
    // Session timeout bounds.
    let mut req = join_req("g", "", "cli");
    req.session_timeout_ms = i32::MAX;
    let r = e.c.join_group(req).await;
    assert_eq!(r.error, Some(GroupError::InvalidSessionTimeout));
    let r = e.c.join_group(join_req("", "", "cli")).await;
    assert_eq!(r.error, Some(GroupError::InvalidGroupId));
}

#[tokio::test]
async fn second_member_triggers_rebalance_and_leader_assigns() {
    let e = env();
    let (a, gen1) = stable_single(&e.c, "g", "a").await;
    let b = member_id_for(&e.c, "g", "b").await;
    let c2 = e.c.clone();
    let b2 = b.clone();
    let b_join = tokio::spawn(async move { c2.join_group(join_req("g", &b2, "b")).await });
    settle().await;
    assert_eq!(state(&e.c, "g"), GroupState::PreparingRebalance);
    assert_eq!(
        e.c.heartbeat("g", gen1, &a, None),
        Err(GroupError::RebalanceInProgress)
    );
    // A stale-generation commit during the rebalance is still accepted from
    // the current generation, and rejected from an older one.
    assert_eq!(
        e.c.commit_offsets(
            "g",
            gen1 - 1,
            &a,
            None,
            vec![(PartitionKey::new("t", 0), offset(1))]
        )
        .await,
        Err(GroupError::IllegalGeneration)
    );
    let a_join = e.c.join_group(join_req("g", &a, "a")).await;
    let b_join = b_join.await.expect("join task");
    assert_eq!(a_join.error, None);
    assert_eq!(b_join.error, None);
    let gen2 = a_join.generation_id;
    assert_eq!(gen2, gen1 + 1);
    assert_eq!(b_join.generation_id, gen2);
    assert_eq!(a_join.leader_id, a);
    assert_eq!(b_join.leader_id, a);
    assert_eq!(a_join.members.len(), 2, "the leader gets every member");
    assert!(b_join.members.is_empty(), "followers get no members");
    assert_eq!(state(&e.c, "g"), GroupState::CompletingRebalance);
    // Commits are refused until the assignment is in.
    assert_eq!(
        e.c.commit_offsets(
            "g",
            gen2,
            &a,
            None,
            vec![(PartitionKey::new("t", 0), offset(1))]
        )
        .await,
        Err(GroupError::RebalanceInProgress)
    );
    // The follower's SyncGroup waits for the leader's.
    let c2 = e.c.clone();
    let b2 = b.clone();
    let b_sync = tokio::spawn(async move { c2.sync_group(sync_req("g", &b2, gen2, &[])).await });
    settle().await;
    assert!(!b_sync.is_finished());
    let a_sync =
        e.c.sync_group(sync_req("g", &a, gen2, &[(&a, "p0"), (&b, "p1")]))
            .await;
    assert_eq!(&a_sync.assignment[..], b"p0");
    let b_sync = b_sync.await.expect("sync task");
    assert_eq!(b_sync.error, None);
    assert_eq!(&b_sync.assignment[..], b"p1");
    assert_eq!(b_sync.protocol_name.as_deref(), Some("range"));
    assert_eq!(state(&e.c, "g"), GroupState::Stable);
    assert_eq!(e.c.heartbeat("g", gen2, &b, None), Ok(()));
    // Wrong generation on SyncGroup.
    let s = e.c.sync_group(sync_req("g", &b, gen1, &[])).await;
    assert_eq!(s.error, Some(GroupError::IllegalGeneration));
}

#[tokio::test]
async fn leaving_member_triggers_rebalance() {
    let e = env();
    let (a, gen1) = stable_single(&e.c, "g", "a").await;
    let results =
        e.c.leave_group(
            "g",
            &[
                LeavingMember {
                    member_id: "ghost".into(),
                    group_instance_id: None,
                    reason: None,
                },
                LeavingMember {
                    member_id: a.clone(),
                    group_instance_id: None,
                    reason: Some("bye".into()),
                },
            ],
        )
        .expect("leave");
    assert_eq!(results, vec![Err(GroupError::UnknownMemberId), Ok(())]);
    // The only member left: the group is Empty in a new generation.
    assert_eq!(state(&e.c, "g"), GroupState::Empty);
    assert_eq!(
        e.c.heartbeat("g", gen1, &a, None),
        Err(GroupError::UnknownMemberId)
    );
    // Simple commits are allowed now.
    e.c.commit_offsets(
        "g",
        -1,
        "",
        None,
        vec![(PartitionKey::new("t", 0), offset(5))],
    )
    .await
    .expect("simple commit");
    assert_eq!(e.store.group_offsets("g").len(), 1);
}

#[tokio::test]
async fn survivor_takes_over_after_leave_during_stable() {
    let e = env();
    let (a, _) = stable_single(&e.c, "g", "a").await;
    let b = member_id_for(&e.c, "g", "b").await;
    let c2 = e.c.clone();
    let b2 = b.clone();
    let b_join = tokio::spawn(async move { c2.join_group(join_req("g", &b2, "b")).await });
    settle().await;
    let a_join = e.c.join_group(join_req("g", &a, "a")).await;
    let b_join = b_join.await.expect("join");
    let generation = a_join.generation_id;
    let c2 = e.c.clone();
    let b2 = b.clone();
    let b_sync =
        tokio::spawn(async move { c2.sync_group(sync_req("g", &b2, generation, &[])).await });
    e.c.sync_group(sync_req("g", &a, generation, &[(&a, "x"), (&b, "y")]))
        .await;
    b_sync.await.expect("sync");
    assert_eq!(b_join.error, None);
    // b leaves; a learns through its heartbeat and rejoins alone.
    e.c.leave_group(
        "g",
        &[LeavingMember {
            member_id: b.clone(),
            group_instance_id: None,
            reason: None,
        }],
    )
    .expect("leave");
    assert_eq!(
        e.c.heartbeat("g", generation, &a, None),
        Err(GroupError::RebalanceInProgress)
    );
    let r = e.c.join_group(join_req("g", &a, "a")).await;
    assert_eq!(r.error, None);
    assert_eq!(r.members.len(), 1);
    assert_eq!(r.generation_id, generation + 1);
}

#[tokio::test]
async fn session_expiry_removes_member_and_rebalances() {
    let e = env();
    let (a, gen1) = stable_single(&e.c, "g", "a").await;
    let b = member_id_for(&e.c, "g", "b").await;
    let mut short = join_req("g", &b, "b");
    short.session_timeout_ms = 300;
    let c2 = e.c.clone();
    let b_join = tokio::spawn(async move { c2.join_group(short).await });
    settle().await;
    let a_join = e.c.join_group(join_req("g", &a, "a")).await;
    let b_join = b_join.await.expect("join");
    assert_eq!(b_join.generation_id, gen1 + 1);
    let generation = a_join.generation_id;
    // The follower never syncs nor heartbeats: removed after its session.
    let s =
        e.c.sync_group(sync_req("g", &a, generation, &[(&a, "x")]))
            .await;
    assert_eq!(s.error, None);
    assert_eq!(e.c.heartbeat("g", generation, &a, None), Ok(()));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        e.c.heartbeat("g", generation, &a, None),
        Err(GroupError::RebalanceInProgress)
    );
    assert_eq!(
        e.c.heartbeat("g", generation, &b, None),
        Err(GroupError::UnknownMemberId)
    );
    let r = e.c.join_group(join_req("g", &a, "a")).await;
    assert_eq!(r.error, None);
    assert_eq!(r.members.len(), 1);
}

#[tokio::test]
async fn rebalance_timeout_drops_members_that_do_not_rejoin() {
    let e = env_with(GroupConfig {
        initial_rebalance_delay: Duration::from_millis(200),
        ..config()
    });
    let a = member_id_for(&e.c, "g", "a").await;
    let b = member_id_for(&e.c, "g", "b").await;
    let mut ra = join_req("g", &a, "a");
    ra.rebalance_timeout_ms = 400;
    let mut rb = join_req("g", &b, "b");
    rb.rebalance_timeout_ms = 400;
    let c2 = e.c.clone();
    let a_join = tokio::spawn(async move { c2.join_group(ra).await });
    let b_join = e.c.join_group(rb).await;
    let a_join = a_join.await.expect("join");
    let generation = a_join.generation_id;
    assert_eq!(b_join.generation_id, generation);
    let leader = a_join.leader_id.clone();
    let follower = if leader == a { b.clone() } else { a.clone() };
    let c2 = e.c.clone();
    let f2 = follower.clone();
    let f_sync =
        tokio::spawn(async move { c2.sync_group(sync_req("g", &f2, generation, &[])).await });
    e.c.sync_group(sync_req("g", &leader, generation, &[]))
        .await;
    f_sync.await.expect("sync");
    // The leader rejoins (forcing a rebalance); the follower never does.
    let started = std::time::Instant::now();
    let mut again = join_req("g", &leader, "x");
    again.rebalance_timeout_ms = 400;
    let r = e.c.join_group(again).await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "waited for the follower"
    );
    assert_eq!(r.error, None);
    assert_eq!(r.generation_id, generation + 1);
    assert_eq!(r.members.len(), 1);
    assert_eq!(
        e.c.heartbeat("g", generation, &follower, None),
        Err(GroupError::UnknownMemberId)
    );
}

#[tokio::test]
async fn initial_delay_gathers_members_into_the_first_generation() {
    let e = env_with(GroupConfig {
        initial_rebalance_delay: Duration::from_millis(500),
        ..config()
    });
    let mut joins = Vec::new();
    for client in ["a", "b", "c"] {
        let mut req = join_req("g", "", client);
        req.require_known_member_id = false; // v3-style join
        let c2 = e.c.clone();
        joins.push(tokio::spawn(async move { c2.join_group(req).await }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut generations = Vec::new();
    for j in joins {
        let r = j.await.expect("join");
        assert_eq!(r.error, None);
        generations.push(r.generation_id);
    }
    assert_eq!(generations, vec![1, 1, 1]);
}

#[tokio::test]
async fn protocol_is_chosen_by_vote() {
    let e = env_with(GroupConfig {
        initial_rebalance_delay: Duration::from_millis(200),
        ..config()
    });
    let ids = [
        member_id_for(&e.c, "g", "a").await,
        member_id_for(&e.c, "g", "b").await,
        member_id_for(&e.c, "g", "c").await,
    ];
    let prefs: [&[&str]; 3] = [
        &["range", "roundrobin"],
        &["roundrobin", "range"],
        &["roundrobin", "range"],
    ];
    let mut joins = Vec::new();
    for (id, pref) in ids.iter().zip(prefs) {
        let mut req = join_req("g", id, "x");
        req.protocols = pref
            .iter()
            .map(|p| (p.to_string(), Bytes::from_static(b"m")))
            .collect();
        let c2 = e.c.clone();
        joins.push(tokio::spawn(async move { c2.join_group(req).await }));
    }
    for j in joins {
        let r = j.await.expect("join");
        assert_eq!(r.protocol_name.as_deref(), Some("roundrobin"));
    }
    // A member offering nothing in common cannot join.
    let mut req = join_req("g", "", "d");
    req.protocols = vec![("sticky".into(), Bytes::new())];
    let r = e.c.join_group(req).await;
    assert_eq!(r.error, Some(GroupError::InconsistentGroupProtocol));
}

#[tokio::test]
async fn static_member_keeps_assignment_across_restart() {
    let e = env();
    let mut req = join_req("g", "", "app");
    req.group_instance_id = Some("inst-1".into());
    // Static members get their id at once, without MEMBER_ID_REQUIRED.
    let r = e.c.join_group(req.clone()).await;
    assert_eq!(r.error, None);
    let old = r.member_id.clone();
    assert!(old.starts_with("inst-1-"));
    let generation = r.generation_id;
    let mut s = sync_req("g", &old, generation, &[(&old, "mine")]);
    s.group_instance_id = Some("inst-1".into());
    assert_eq!(e.c.sync_group(s).await.error, None);

    // The consumer restarts: same instance id, no member id.
    let r = e.c.join_group(req.clone()).await;
    assert_eq!(r.error, None);
    let new = r.member_id.clone();
    assert_ne!(new, old);
    assert_eq!(r.generation_id, generation, "no rebalance");
    assert_eq!(state(&e.c, "g"), GroupState::Stable);
    let mut s = sync_req("g", &new, generation, &[]);
    s.group_instance_id = Some("inst-1".into());
    let s = e.c.sync_group(s).await;
    assert_eq!(&s.assignment[..], b"mine");
    // The old incarnation is fenced.
    assert_eq!(
        e.c.heartbeat("g", generation, &old, Some("inst-1")),
        Err(GroupError::FencedInstanceId)
    );
    assert_eq!(e.c.heartbeat("g", generation, &new, Some("inst-1")), Ok(()));
    // Leave by instance id alone (administrative removal).
    let results =
        e.c.leave_group(
            "g",
            &[LeavingMember {
                member_id: String::new(),
                group_instance_id: Some("inst-1".into()),
                reason: None,
            }],
        )
        .expect("leave");
    assert_eq!(results, vec![Ok(())]);
    assert_eq!(state(&e.c, "g"), GroupState::Empty);
}

#[tokio::test]
async fn offset_commit_rules() {
    let e = env();
    let t0 = || vec![(PartitionKey::new("t", 0), offset(7))];
    // No group and a generation: the group does not exist.
    assert_eq!(
        e.c.commit_offsets("g", 1, "m", None, t0()).await,
        Err(GroupError::GroupIdNotFound)
    );
    let (a, generation) = stable_single(&e.c, "g", "a").await;
    // Simple commits are refused while the group has members.
    assert_eq!(
        e.c.commit_offsets("g", -1, "", None, t0()).await,
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        e.c.commit_offsets("g", generation, "stranger", None, t0())
            .await,
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        e.c.commit_offsets("g", generation + 5, &a, None, t0())
            .await,
        Err(GroupError::IllegalGeneration)
    );
    e.c.commit_offsets("g", generation, &a, None, t0())
        .await
        .expect("member commit");
    let fetched = e.c.fetch_offsets("g", None);
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].1.as_ref().map(|r| r.offset), Some(7));
    let some = e.c.fetch_offsets("g", Some(&[PartitionKey::new("t", 1)]));
    assert_eq!(some, vec![(PartitionKey::new("t", 1), None)]);
    // A simple group: created by its first commit, listed Empty.
    e.c.commit_offsets("simple", -1, "", None, t0())
        .await
        .expect("simple commit");
    let listed = e.c.list_groups(&[GroupState::Empty]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].group_id, "simple");
    assert_eq!(listed[0].protocol_type, "");
    let stable = e.c.list_groups(&[GroupState::Stable]);
    assert_eq!(stable.len(), 1);
    assert_eq!(stable[0].group_id, "g");
    assert_eq!(e.c.list_groups(&[]).len(), 2);
}

#[tokio::test]
async fn delete_groups_and_offsets() {
    let e = env();
    let (a, generation) = stable_single(&e.c, "g", "a").await;
    e.c.commit_offsets(
        "g",
        generation,
        &a,
        None,
        vec![
            (PartitionKey::new("t", 0), offset(1)),
            (PartitionKey::new("other", 0), offset(2)),
        ],
    )
    .await
    .expect("commit");
    assert_eq!(e.c.delete_group("g").await, Err(GroupError::NonEmptyGroup));
    // The group subscribes to "t" only.
    let results =
        e.c.delete_offsets(
            "g",
            vec![PartitionKey::new("t", 0), PartitionKey::new("other", 0)],
        )
        .await
        .expect("offset delete");
    assert_eq!(
        results,
        vec![
            (
                PartitionKey::new("t", 0),
                Err(GroupError::GroupSubscribedToTopic)
            ),
            (PartitionKey::new("other", 0), Ok(())),
        ]
    );
    assert_eq!(e.store.group_offsets("g").len(), 1);
    e.c.leave_group(
        "g",
        &[LeavingMember {
            member_id: a,
            group_instance_id: None,
            reason: None,
        }],
    )
    .expect("leave");
    e.c.delete_group("g").await.expect("delete");
    assert!(e.store.group_offsets("g").is_empty());
    assert!(e.store.group_state("g").is_none());
    assert_eq!(
        e.c.delete_group("g").await,
        Err(GroupError::GroupIdNotFound)
    );
    assert_eq!(e.c.describe_group("g").state, GroupState::Dead);
    assert!(e.c.list_groups(&[]).is_empty());
    assert_eq!(
        e.c.delete_offsets("g", vec![]).await,
        Err(GroupError::GroupIdNotFound)
    );
    // Deleting the last offsets of an Empty group removes the group.
    e.c.commit_offsets(
        "s",
        -1,
        "",
        None,
        vec![(PartitionKey::new("t", 0), offset(1))],
    )
    .await
    .expect("commit");
    e.c.delete_offsets("s", vec![PartitionKey::new("t", 0)])
        .await
        .expect("offset delete");
    assert!(e.c.list_groups(&[]).is_empty());
}

#[tokio::test]
async fn commit_if_inactive_only_commits_without_members() {
    let e = env();
    let offsets = || vec![(PartitionKey::new("t", 0), offset(42))];
    // Unknown group: created, committed, durable.
    assert_eq!(e.c.commit_if_inactive("mirror", offsets()).await, Ok(true));
    assert_eq!(e.store.group_offsets("mirror").len(), 1);
    // A group with an active member is left alone.
    let (a, generation) = stable_single(&e.c, "busy", "a").await;
    assert_eq!(e.c.commit_if_inactive("busy", offsets()).await, Ok(false));
    assert!(e.store.group_offsets("busy").is_empty());
    // A member about to join (MEMBER_ID_REQUIRED handed out) counts as active.
    let _pending = member_id_for(&e.c, "joining", "j").await;
    assert_eq!(
        e.c.commit_if_inactive("joining", offsets()).await,
        Ok(false)
    );
    // Once the member leaves the group is inactive again.
    e.c.leave_group(
        "busy",
        &[LeavingMember {
            member_id: a.clone(),
            group_instance_id: None,
            reason: None,
        }],
    )
    .expect("leave");
    assert_eq!(e.c.commit_if_inactive("busy", offsets()).await, Ok(true));
    assert_eq!(
        e.store
            .group_offsets("busy")
            .get(&PartitionKey::new("t", 0))
            .map(|r| r.offset),
        Some(42)
    );
    let _ = generation;
}

#[tokio::test]
async fn groups_and_offsets_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("meta.redb");
    let store: Arc<dyn MetadataStore> = Arc::new(EmbeddedStore::open(&path).expect("store"));
    let (member, generation) = {
        let c = GroupCoordinator::open(store.clone(), config()).expect("open");
        let (a, generation) = stable_single(&c, "g", "a").await;
        c.commit_offsets(
            "g",
            generation,
            &a,
            None,
            vec![(PartitionKey::new("t", 0), offset(9))],
        )
        .await
        .expect("commit");
        c.commit_offsets(
            "empty",
            -1,
            "",
            None,
            vec![(PartitionKey::new("t", 1), offset(3))],
        )
        .await
        .expect("commit");
        // Let the writer store the Stable state before "crashing".
        settle().await;
        (a, generation)
    };
    // A new coordinator over the same store: what a restarted broker loads.
    let c = GroupCoordinator::open(store, config()).expect("open");
    let d = c.describe_group("g");
    assert_eq!(d.state, GroupState::Stable);
    assert_eq!(d.members.len(), 1);
    assert_eq!(d.members[0].member_id, member);
    assert_eq!(&d.members[0].assignment[..], b"all");
    assert_eq!(c.describe_group("empty").state, GroupState::Empty);
    // The member carries on where it was.
    assert_eq!(c.heartbeat("g", generation, &member, None), Ok(()));
    let fetched = c.fetch_offsets("g", Some(&[PartitionKey::new("t", 0)]));
    assert_eq!(fetched[0].1.as_ref().map(|r| r.offset), Some(9));
    // The next generation continues the numbering.
    let r = c.join_group(join_req("g", &member, "a")).await;
    assert_eq!(r.generation_id, generation + 1);
}

#[test]
fn config_reads_properties() {
    let mut props = BTreeMap::new();
    props.insert(
        "group.initial.rebalance.delay.ms".to_string(),
        "0".to_string(),
    );
    props.insert(
        "group.min.session.timeout.ms".to_string(),
        "100".to_string(),
    );
    let c = GroupConfig::from_properties(&props);
    assert_eq!(c.initial_rebalance_delay, Duration::ZERO);
    assert_eq!(c.min_session_timeout_ms, 100);
    assert_eq!(c.max_session_timeout_ms, 1_800_000);
    let d = GroupConfig::from_properties(&BTreeMap::new());
    assert_eq!(d.initial_rebalance_delay, Duration::from_millis(3000));
}

#[test]
fn subscription_topics_are_parsed() {
    assert_eq!(
        classic::subscription_topics(&subscription(&["a", "bc"])),
        Some(vec!["a".to_string(), "bc".to_string()])
    );
    assert_eq!(classic::subscription_topics(&[0, 1, 0]), None);
    assert_eq!(GroupState::parse("stable"), Some(GroupState::Stable));
    assert_eq!(GroupState::parse("nope"), None);
}

// ----- KIP-848 consumer groups through the coordinator ----------------------

fn modern_join(group: &str, member: &str) -> consumer::ConsumerHeartbeat {
    consumer::ConsumerHeartbeat {
        group_id: group.into(),
        member_id: member.into(),
        member_epoch: 0,
        instance_id: None,
        rack_id: None,
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(vec!["t".into()]),
        subscribed_topic_regex: None,
        server_assignor: None,
        owned: Some(Default::default()),
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
    }
}

fn partition_counts() -> BTreeMap<String, i32> {
    [("t".to_string(), 2)].into_iter().collect()
}

#[tokio::test]
async fn classic_and_consumer_groups_never_share_an_id() {
    let e = env();
    let t = partition_counts();
    // A classic group with members keeps the id.
    stable_single(&e.c, "classic", "a").await;
    assert_eq!(
        e.c.consumer_heartbeat(&modern_join("classic", "m"), 1, &t),
        Err(GroupError::GroupIdNotFound)
    );
    // A consumer group with members refuses classic joins.
    e.c.consumer_heartbeat(&modern_join("modern", "m"), 1, &t)
        .unwrap();
    let r = e.c.join_group(join_req("modern", "", "b")).await;
    assert_eq!(r.error, Some(GroupError::InconsistentGroupProtocol));
    let listed: Vec<String> =
        e.c.list_consumer_groups()
            .into_iter()
            .map(|(g, _)| g)
            .collect();
    assert_eq!(listed, vec!["modern".to_string()]);
    // An empty classic group (here: only offsets) is converted.
    e.c.commit_offsets(
        "simple",
        -1,
        "",
        None,
        vec![(PartitionKey::new("t".to_string(), 0), offset(3))],
    )
    .await
    .unwrap();
    let joined =
        e.c.consumer_heartbeat(&modern_join("simple", "m"), 1, &t)
            .unwrap();
    assert_eq!(joined.member_epoch, 1);
    assert_eq!(state(&e.c, "simple"), GroupState::Dead, "no longer classic");
    assert_eq!(
        e.c.fetch_offsets("simple", None)[0]
            .1
            .as_ref()
            .map(|o| o.offset),
        Some(3),
        "its offsets stay"
    );
}

#[tokio::test]
async fn consumer_group_commits_are_checked_against_the_member_epoch() {
    let e = env();
    let t = partition_counts();
    let m =
        e.c.consumer_heartbeat(&modern_join("g", "m"), 1, &t)
            .unwrap();
    let tp = || vec![(PartitionKey::new("t".to_string(), 0), offset(5))];
    assert_eq!(
        e.c.commit_offsets("g", m.member_epoch - 1, "m", None, tp())
            .await,
        Err(GroupError::StaleMemberEpoch)
    );
    assert_eq!(
        e.c.commit_offsets("g", m.member_epoch + 1, "m", None, tp())
            .await,
        Err(GroupError::FencedMemberEpoch)
    );
    assert_eq!(
        e.c.commit_offsets("g", m.member_epoch, "other", None, tp())
            .await,
        Err(GroupError::UnknownMemberId)
    );
    e.c.commit_offsets("g", m.member_epoch, "m", None, tp())
        .await
        .unwrap();
    assert_eq!(
        e.store.group_offsets("g")[&PartitionKey::new("t".to_string(), 0)].offset,
        5,
        "the commit is durable in the store"
    );
    assert_eq!(
        e.c.validate_offset_fetch("g", Some("m"), m.member_epoch - 1),
        Err(GroupError::StaleMemberEpoch)
    );
    // Non-empty groups cannot be deleted; after the leave they can.
    assert_eq!(e.c.delete_group("g").await, Err(GroupError::NonEmptyGroup));
    let mut leave = modern_join("g", "m");
    leave.member_epoch = consumer::LEAVE_EPOCH;
    e.c.consumer_heartbeat(&leave, 1, &t).unwrap();
    e.c.delete_group("g").await.unwrap();
    assert!(e.store.group_offsets("g").is_empty());
    // Unknown groups: members must rejoin.
    let mut stale = modern_join("g", "m");
    stale.member_epoch = 3;
    assert_eq!(
        e.c.consumer_heartbeat(&stale, 1, &t),
        Err(GroupError::UnknownMemberId)
    );
}

#[tokio::test]
async fn consumer_members_expire_after_their_session_timeout() {
    let e = env_with(GroupConfig {
        consumer_session_timeout: Duration::from_millis(300),
        ..config()
    });
    let t = partition_counts();
    e.c.consumer_heartbeat(&modern_join("g", "m"), 1, &t)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(e.c.describe_consumer_group("g").unwrap().members.len(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    settle().await;
    let d = e.c.describe_consumer_group("g").unwrap();
    assert!(d.members.is_empty(), "the timer task removed the member");
    assert_eq!(d.state, consumer::ConsumerGroupState::Empty);
}

#[tokio::test]
async fn link_and_transactional_commits_respect_consumer_groups() {
    let e = env();
    let t = partition_counts();
    let m =
        e.c.consumer_heartbeat(&modern_join("g", "m"), 1, &t)
            .unwrap();
    let tp = || vec![(PartitionKey::new("t".to_string(), 0), offset(9))];
    assert!(
        !e.c.commit_if_inactive("g", tp()).await.unwrap(),
        "the link never overwrites an active consumer group"
    );
    assert_eq!(
        e.c.validate_txn_offset_commit("g", m.member_epoch + 1, "m", None),
        Err(GroupError::FencedMemberEpoch)
    );
    assert_eq!(
        e.c.validate_txn_offset_commit("g", m.member_epoch, "m", None),
        Ok(())
    );
    e.c.commit_txn_offsets("g", tp()).await.unwrap();
    assert_eq!(
        state(&e.c, "g"),
        GroupState::Dead,
        "no classic twin was created"
    );
    let mut leave = modern_join("g", "m");
    leave.member_epoch = consumer::LEAVE_EPOCH;
    e.c.consumer_heartbeat(&leave, 1, &t).unwrap();
    assert!(e.c.commit_if_inactive("g", tp()).await.unwrap());
    assert_eq!(e.c.list_consumer_groups().len(), 1);
}
