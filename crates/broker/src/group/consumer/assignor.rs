//! The server-side assignors of KIP-848 consumer groups: `uniform` (the
//! default: balanced and sticky) and `range` (contiguous ranges per topic).
//! Pure functions from subscriptions and partition counts to a target
//! assignment; they must never see member epochs or what members own now.

use std::collections::{BTreeMap, BTreeSet};

/// Partitions by topic name.
pub type Assignment = BTreeMap<String, BTreeSet<i32>>;

/// The assignors this broker offers; the first is the default.
pub const ASSIGNORS: [&str; 2] = ["uniform", "range"];

/// Computes a target assignment.
///
/// `subscriptions`: member id -> subscribed topic names. `partitions`: topic
/// name -> partition count (topics missing here do not exist and are left
/// out). `previous`: the last target assignment, which `uniform` keeps as far
/// as balance allows. Every member gets an entry, possibly empty.
pub fn assign(
    assignor: &str,
    subscriptions: &BTreeMap<String, BTreeSet<String>>,
    partitions: &BTreeMap<String, i32>,
    previous: &BTreeMap<String, Assignment>,
) -> BTreeMap<String, Assignment> {
    match assignor {
        "range" => range(subscriptions, partitions),
        _ => uniform(subscriptions, partitions, previous),
    }
}

fn empty_for_all(
    subscriptions: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, Assignment> {
    subscriptions
        .keys()
        .map(|m| (m.clone(), Assignment::new()))
        .collect()
}

/// Per topic, its subscribers in member id order get contiguous ranges; the
/// first `count % subscribers` get one partition more.
pub fn range(
    subscriptions: &BTreeMap<String, BTreeSet<String>>,
    partitions: &BTreeMap<String, i32>,
) -> BTreeMap<String, Assignment> {
    let mut out = empty_for_all(subscriptions);
    for (topic, &count) in partitions {
        let subscribers: Vec<&String> = subscriptions
            .iter()
            .filter(|(_, topics)| topics.contains(topic))
            .map(|(m, _)| m)
            .collect();
        if subscribers.is_empty() || count <= 0 {
            continue;
        }
        let n = subscribers.len() as i32;
        let (base, extra) = (count / n, count % n);
        let mut next = 0;
        for (i, member) in subscribers.into_iter().enumerate() {
            let size = base + i32::from((i as i32) < extra);
            if size > 0 {
                let entry = out.entry(member.clone()).or_default();
                entry
                    .entry(topic.clone())
                    .or_default()
                    .extend(next..next + size);
            }
            next += size;
        }
    }
    out
}

fn give(out: &mut BTreeMap<String, Assignment>, member: &str, topic: &str, p: i32) {
    if let Some(a) = out.get_mut(member) {
        a.entry(topic.to_string()).or_default().insert(p);
    }
}

fn total(a: &Assignment) -> usize {
    a.values().map(BTreeSet::len).sum()
}

/// Balanced and sticky: every partition goes to a subscriber of its topic;
/// previous owners keep what they still subscribe to, unowned partitions go
/// to the least loaded subscriber, then partitions move from the most to the
/// least loaded subscriber until no move narrows the gap.
pub fn uniform(
    subscriptions: &BTreeMap<String, BTreeSet<String>>,
    partitions: &BTreeMap<String, i32>,
    previous: &BTreeMap<String, Assignment>,
) -> BTreeMap<String, Assignment> {
    let mut out = empty_for_all(subscriptions);
    let exists = |topic: &str, p: i32| partitions.get(topic).is_some_and(|&n| p >= 0 && p < n);
    let mut taken: BTreeSet<(String, i32)> = BTreeSet::new();
    // 1. Stickiness.
    for (member, assignment) in previous {
        let Some(topics) = subscriptions.get(member) else {
            continue;
        };
        for (topic, ps) in assignment {
            if !topics.contains(topic) {
                continue;
            }
            for &p in ps {
                if exists(topic, p) && taken.insert((topic.clone(), p)) {
                    give(&mut out, member, topic, p);
                }
            }
        }
    }
    // 2. Unowned partitions to the least loaded subscriber.
    for (topic, &count) in partitions {
        for p in 0..count {
            if taken.contains(&(topic.clone(), p)) {
                continue;
            }
            let least = out
                .iter()
                .filter(|(m, _)| subscriptions[*m].contains(topic))
                .min_by_key(|(m, a)| (total(a), (*m).clone()))
                .map(|(m, _)| m.clone());
            if let Some(member) = least {
                taken.insert((topic.clone(), p));
                give(&mut out, &member, topic, p);
            }
        }
    }
    // 3. Balance: move one partition at a time from a most loaded member to
    // a less loaded subscriber of its topic while that narrows the gap.
    let members: Vec<String> = out.keys().cloned().collect();
    loop {
        let mut moved = false;
        let mut by_load = members.clone();
        by_load.sort_by_key(|m| std::cmp::Reverse(total(&out[m])));
        'donors: for donor in &by_load {
            let donor_load = total(&out[donor]);
            let candidates: Vec<(String, i32)> = out[donor]
                .iter()
                .flat_map(|(t, ps)| ps.iter().rev().map(move |p| (t.clone(), *p)))
                .collect();
            for (topic, p) in candidates {
                let receiver = members
                    .iter()
                    .filter(|m| *m != donor && subscriptions[*m].contains(&topic))
                    .filter(|m| total(&out[*m]) + 1 < donor_load)
                    .min_by_key(|m| (total(&out[*m]), (*m).clone()))
                    .cloned();
                if let Some(receiver) = receiver {
                    if let Some(a) = out.get_mut(donor) {
                        if let Some(ps) = a.get_mut(&topic) {
                            ps.remove(&p);
                        }
                        a.retain(|_, ps| !ps.is_empty());
                    }
                    give(&mut out, &receiver, &topic, p);
                    moved = true;
                    break 'donors;
                }
            }
        }
        if !moved {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs(list: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        list.iter()
            .map(|(m, ts)| (m.to_string(), ts.iter().map(|t| t.to_string()).collect()))
            .collect()
    }

    fn counts(list: &[(&str, i32)]) -> BTreeMap<String, i32> {
        list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn parts(a: &Assignment, topic: &str) -> Vec<i32> {
        a.get(topic)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Every partition of every subscribed topic is assigned exactly once,
    /// only to subscribers.
    fn assert_complete(
        out: &BTreeMap<String, Assignment>,
        s: &BTreeMap<String, BTreeSet<String>>,
        c: &BTreeMap<String, i32>,
    ) {
        let mut seen = BTreeSet::new();
        for (m, a) in out {
            for (t, ps) in a {
                assert!(s[m].contains(t), "{m} got unsubscribed {t}");
                for p in ps {
                    assert!(seen.insert((t.clone(), *p)), "{t}-{p} twice");
                }
            }
        }
        for (t, n) in c {
            if s.values().any(|ts| ts.contains(t)) {
                for p in 0..*n {
                    assert!(seen.contains(&(t.clone(), p)), "{t}-{p} unassigned");
                }
            }
        }
    }

    #[test]
    fn uniform_balances_homogeneous_groups() {
        // (members, partitions, expected min load, expected max load)
        let cases: &[(usize, i32, usize, usize)] = &[
            (1, 6, 6, 6),
            (2, 6, 3, 3),
            (3, 6, 2, 2),
            (4, 6, 1, 2),
            (7, 6, 0, 1),
        ];
        for &(n, p, lo, hi) in cases {
            let names: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
            let list: Vec<(&str, &[&str])> =
                names.iter().map(|m| (m.as_str(), &["t"][..])).collect();
            let s = subs(&list);
            let c = counts(&[("t", p)]);
            let out = uniform(&s, &c, &BTreeMap::new());
            assert_complete(&out, &s, &c);
            let loads: Vec<usize> = out.values().map(total).collect();
            assert_eq!(
                *loads.iter().min().unwrap(),
                lo,
                "{n} members, {p} partitions"
            );
            assert_eq!(
                *loads.iter().max().unwrap(),
                hi,
                "{n} members, {p} partitions"
            );
        }
    }

    #[test]
    fn uniform_is_sticky_when_a_member_leaves_or_joins() {
        let s3 = subs(&[("a", &["t"]), ("b", &["t"]), ("c", &["t"])]);
        let c = counts(&[("t", 6)]);
        let three = uniform(&s3, &c, &BTreeMap::new());
        // c leaves: a and b keep their two and share c's.
        let s2 = subs(&[("a", &["t"]), ("b", &["t"])]);
        let two = uniform(&s2, &c, &three);
        assert_complete(&two, &s2, &c);
        for m in ["a", "b"] {
            assert!(
                three[m]["t"].is_subset(&two[m]["t"]),
                "{m} lost a partition"
            );
            assert_eq!(total(&two[m]), 3);
        }
        // c comes back: each of a and b gives up exactly one.
        let back = uniform(&s3, &c, &two);
        assert_complete(&back, &s3, &c);
        for m in ["a", "b"] {
            assert!(back[m]["t"].is_subset(&two[m]["t"]));
            assert_eq!(total(&back[m]), 2);
        }
    }

    #[test]
    fn uniform_respects_heterogeneous_subscriptions_and_missing_topics() {
        let s = subs(&[("a", &["x", "y"]), ("b", &["y"]), ("c", &["later"])]);
        let c = counts(&[("x", 2), ("y", 2)]);
        let out = uniform(&s, &c, &BTreeMap::new());
        assert_complete(&out, &s, &c);
        assert_eq!(parts(&out["a"], "x"), vec![0, 1]);
        assert_eq!(total(&out["c"]), 0);
        assert_eq!(total(&out["a"]) + total(&out["b"]), 4);
    }

    #[test]
    fn range_gives_contiguous_ranges_per_topic() {
        let s = subs(&[("a", &["t", "u"]), ("b", &["t", "u"]), ("c", &["t"])]);
        let c = counts(&[("t", 7), ("u", 3)]);
        let out = range(&s, &c);
        assert_complete(&out, &s, &c);
        assert_eq!(parts(&out["a"], "t"), vec![0, 1, 2]);
        assert_eq!(parts(&out["b"], "t"), vec![3, 4]);
        assert_eq!(parts(&out["c"], "t"), vec![5, 6]);
        assert_eq!(parts(&out["a"], "u"), vec![0, 1]);
        assert_eq!(parts(&out["b"], "u"), vec![2]);
        assert!(!out["c"].contains_key("u"));
    }
}
