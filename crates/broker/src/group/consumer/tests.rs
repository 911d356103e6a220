//! Group-level rules of the consumer group state machine, driven with
//! explicit instants (no runtime, no storage).

use super::*;

fn cfg() -> GroupConfig {
    GroupConfig::default()
}

fn topics(list: &[(&str, i32)]) -> BTreeMap<String, i32> {
    list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
}

fn owned(list: &[(&str, &[i32])]) -> Assignment {
    list.iter()
        .map(|(t, ps)| (t.to_string(), ps.iter().copied().collect()))
        .collect()
}

fn hb(member: &str, epoch: i32) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        group_id: "g".into(),
        member_id: member.into(),
        member_epoch: epoch,
        instance_id: None,
        rack_id: None,
        rebalance_timeout_ms: if epoch == 0 { 30_000 } else { -1 },
        subscribed_topic_names: (epoch == 0).then(|| vec!["t".to_string()]),
        subscribed_topic_regex: None,
        server_assignor: None,
        owned: Some(Assignment::new()),
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
    }
}

fn with_owned(mut req: ConsumerHeartbeat, o: Assignment) -> ConsumerHeartbeat {
    req.owned = Some(o);
    req
}

fn count(a: &Option<Assignment>) -> usize {
    a.as_ref().map_or(0, |a| a.values().map(|s| s.len()).sum())
}

#[test]
fn partitions_move_only_after_the_old_owner_revokes() {
    let t = topics(&[("t", 6)]);
    let now = Instant::now();
    let mut g = ConsumerGroup::new("g");
    let a = g.heartbeat(&cfg(), &hb("a", 0), &t, now).unwrap();
    assert_eq!(a.member_epoch, 1);
    assert_eq!(count(&a.assignment), 6);
    assert_eq!(g.state(), ConsumerGroupState::Stable);

    // b joins: a must give up three, which b cannot have yet.
    let b = g.heartbeat(&cfg(), &hb("b", 0), &t, now).unwrap();
    assert_eq!(b.member_epoch, 2);
    assert_eq!(count(&b.assignment), 0, "b got partitions a still owns");
    assert_eq!(g.state(), ConsumerGroupState::Reconciling);

    let all = owned(&[("t", &[0, 1, 2, 3, 4, 5])]);
    let a2 = g
        .heartbeat(&cfg(), &with_owned(hb("a", 1), all.clone()), &t, now)
        .unwrap();
    assert_eq!(a2.member_epoch, 1, "a keeps its epoch until it revokes");
    let keep = a2.assignment.clone().expect("a is told what to keep");
    assert_eq!(keep["t"].len(), 3);
    // Still reporting everything: no progress, b still waits.
    g.heartbeat(&cfg(), &with_owned(hb("a", 1), all), &t, now)
        .unwrap();
    let b2 = g
        .heartbeat(&cfg(), &with_owned(hb("b", 2), Assignment::new()), &t, now)
        .unwrap();
    assert_eq!(count(&b2.assignment), 0);

    // a revokes; then b receives the other three.
    let a3 = g
        .heartbeat(&cfg(), &with_owned(hb("a", 1), keep.clone()), &t, now)
        .unwrap();
    assert_eq!(a3.member_epoch, 2);
    let b3 = g
        .heartbeat(&cfg(), &with_owned(hb("b", 2), Assignment::new()), &t, now)
        .unwrap();
    let got = b3.assignment.expect("b is told its partitions");
    assert_eq!(got["t"].len(), 3);
    assert!(got["t"].is_disjoint(&keep["t"]));
    g.heartbeat(&cfg(), &with_owned(hb("b", 2), got), &t, now)
        .unwrap();
    assert_eq!(g.state(), ConsumerGroupState::Stable);
}

#[test]
fn epochs_are_checked() {
    let t = topics(&[("t", 2)]);
    let now = Instant::now();
    let mut g = ConsumerGroup::new("g");
    g.heartbeat(&cfg(), &hb("a", 0), &t, now).unwrap();
    type Case = (
        &'static str,
        i32,
        Option<Assignment>,
        Result<(), GroupError>,
    );
    let cases: &[Case] = &[
        ("a", 1, Some(owned(&[("t", &[0, 1])])), Ok(())),
        ("a", 2, None, Err(GroupError::FencedMemberEpoch)),
        // The previous epoch with a subset of the assignment: the answer
        // that bumped the member was lost.
        ("a", 0, Some(owned(&[("t", &[0])])), Ok(())),
        ("nobody", 1, None, Err(GroupError::UnknownMemberId)),
    ];
    for (member, epoch, o, want) in cases {
        let mut req = hb(member, *epoch);
        if *epoch == 0 {
            // A previous-epoch heartbeat (not a join) carries owned partitions.
            req.subscribed_topic_names = None;
        }
        req.owned = o.clone();
        let got = if *epoch == 0 {
            // Epoch 0 is a join; test the previous-epoch rule directly.
            check_member(&g.members["a"], &req)
        } else {
            g.heartbeat(&cfg(), &req, &t, now).map(|_| ())
        };
        assert_eq!(&got, want, "member {member} epoch {epoch}");
    }
    assert_eq!(
        check_member(
            &g.members["a"],
            &with_owned(hb("a", 0), owned(&[("u", &[0])]))
        ),
        Err(GroupError::FencedMemberEpoch),
        "previous epoch owning foreign partitions is fenced"
    );
}

#[test]
fn leave_and_session_expiry_bump_the_epoch() {
    let t = topics(&[("t", 4)]);
    let now = Instant::now();
    let mut g = ConsumerGroup::new("g");
    g.heartbeat(&cfg(), &hb("a", 0), &t, now).unwrap();
    g.heartbeat(&cfg(), &hb("b", 0), &t, now).unwrap();
    let before = g.group_epoch;
    let left = g.heartbeat(&cfg(), &hb("a", LEAVE_EPOCH), &t, now).unwrap();
    assert_eq!(left.member_epoch, LEAVE_EPOCH);
    assert_eq!(g.group_epoch, before + 1);
    assert_eq!(g.target["b"]["t"].len(), 4);
    assert_eq!(
        g.heartbeat(&cfg(), &hb("a", LEAVE_EPOCH), &t, now),
        Err(GroupError::UnknownMemberId)
    );
    g.expire(now + cfg().consumer_session_timeout + Duration::from_millis(1));
    assert!(g.members.is_empty());
    assert_eq!(g.state(), ConsumerGroupState::Empty);
}

#[test]
fn a_member_that_does_not_revoke_in_time_is_removed() {
    let t = topics(&[("t", 2)]);
    let now = Instant::now();
    let mut g = ConsumerGroup::new("g");
    g.heartbeat(&cfg(), &hb("a", 0), &t, now).unwrap();
    g.heartbeat(&cfg(), &hb("b", 0), &t, now).unwrap();
    g.heartbeat(
        &cfg(),
        &with_owned(hb("a", 1), owned(&[("t", &[0, 1])])),
        &t,
        now,
    )
    .unwrap();
    assert!(g.members["a"].revocation_deadline.is_some());
    g.expire(now + Duration::from_millis(30_001));
    assert!(!g.members.contains_key("a"));
}

#[test]
fn static_member_comes_back_with_its_assignment() {
    let t = topics(&[("t", 2)]);
    let now = Instant::now();
    let mut g = ConsumerGroup::new("g");
    let mut join = hb("a", 0);
    join.instance_id = Some("i1".into());
    let first = g.heartbeat(&cfg(), &join, &t, now).unwrap();
    let epoch = g.group_epoch;
    let mut other = hb("x", 0);
    other.instance_id = Some("i1".into());
    assert_eq!(
        g.heartbeat(&cfg(), &other, &t, now),
        Err(GroupError::UnreleasedInstanceId)
    );
    let mut leave = hb("a", STATIC_LEAVE_EPOCH);
    leave.instance_id = Some("i1".into());
    assert_eq!(
        g.heartbeat(&cfg(), &leave, &t, now).unwrap().member_epoch,
        STATIC_LEAVE_EPOCH
    );
    let back = g.heartbeat(&cfg(), &other, &t, now).unwrap();
    assert_eq!(back.member_id, "x");
    assert_eq!(back.assignment, first.assignment);
    assert_eq!(g.group_epoch, epoch, "a static rejoin does not rebalance");
}

#[test]
fn topics_created_later_are_picked_up() {
    let now = Instant::now();
    let mut g = ConsumerGroup::new("g");
    let a = g.heartbeat(&cfg(), &hb("a", 0), &topics(&[]), now).unwrap();
    assert_eq!(count(&a.assignment), 0);
    let a = g
        .heartbeat(&cfg(), &hb("a", a.member_epoch), &topics(&[("t", 3)]), now)
        .unwrap();
    assert_eq!(count(&a.assignment), 3);
    // More partitions later, too.
    let t = topics(&[("t", 5)]);
    let a = g
        .heartbeat(
            &cfg(),
            &with_owned(hb("a", a.member_epoch), owned(&[("t", &[0, 1, 2])])),
            &t,
            now,
        )
        .unwrap();
    assert_eq!(count(&a.assignment), 5);
}

#[test]
fn offset_commits_and_fetches_check_the_member_epoch() {
    let t = topics(&[("t", 1)]);
    let now = Instant::now();
    let mut g = ConsumerGroup::new("g");
    assert_eq!(
        g.validate_offset_commit("", -1),
        Ok(()),
        "empty group: admin commit"
    );
    g.heartbeat(&cfg(), &hb("a", 0), &t, now).unwrap();
    let cases: &[(&str, i32, Result<(), GroupError>)] = &[
        ("a", 1, Ok(())),
        ("a", 0, Err(GroupError::StaleMemberEpoch)),
        ("a", 2, Err(GroupError::FencedMemberEpoch)),
        ("b", 1, Err(GroupError::UnknownMemberId)),
        ("", -1, Err(GroupError::UnknownMemberId)),
    ];
    for (member, epoch, want) in cases {
        assert_eq!(
            &g.validate_offset_commit(member, *epoch),
            want,
            "{member}@{epoch}"
        );
    }
    assert_eq!(g.validate_offset_fetch(Some("a"), 1), Ok(()));
    assert_eq!(
        g.validate_offset_fetch(Some("a"), 0),
        Err(GroupError::StaleMemberEpoch)
    );
    assert_eq!(g.validate_offset_fetch(None, -1), Ok(()));
}

#[test]
fn heartbeats_are_validated_as_kafka_does() {
    let base = hb("a", 0);
    let mut regex = base.clone();
    regex.subscribed_topic_regex = Some("t.*".into());
    let mut empty_regex = base.clone();
    empty_regex.subscribed_topic_regex = Some(String::new());
    let mut assignor = base.clone();
    assignor.server_assignor = Some("sticky".into());
    let mut range = base.clone();
    range.server_assignor = Some("range".into());
    let joining_with_partitions = with_owned(base.clone(), owned(&[("t", &[0])]));
    let mut no_member = base.clone();
    no_member.member_id = String::new();
    let mut no_timeout = base.clone();
    no_timeout.rebalance_timeout_ms = -1;
    let cases: Vec<(&str, ConsumerHeartbeat, i16, bool)> = vec![
        ("plain join", base.clone(), 1, true),
        ("regex", regex, 1, false),
        ("empty regex clears", empty_regex, 1, true),
        ("unknown assignor", assignor, 1, false),
        ("range assignor", range, 1, true),
        ("join owning partitions", joining_with_partitions, 1, false),
        ("v1 without member id", no_member.clone(), 1, false),
        ("v0 without member id", no_member, 0, true),
        ("join without rebalance timeout", no_timeout, 1, false),
    ];
    for (name, req, version, ok) in cases {
        assert_eq!(validate(&req, version).is_ok(), ok, "{name}");
    }
    assert!(matches!(
        validate(
            &{
                let mut r = hb("a", 0);
                r.server_assignor = Some("x".into());
                r
            },
            1
        ),
        Err(GroupError::UnsupportedAssignor(_))
    ));
}
