//! Reconciliation of one member of a consumer group towards its target
//! assignment, as KIP-848 defines it: partitions the member must give up are
//! revoked first (the member keeps its epoch until its heartbeat no longer
//! reports them), and a partition is handed to its new owner only once no
//! other member still holds it. Pure: it must never read clocks, the group,
//! or storage; the caller says who else holds what.

use std::collections::BTreeSet;

use super::assignor::Assignment;

/// Where a member stands in reconciling its assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// Owns its target assignment at the assignment epoch.
    Stable,
    /// Must revoke `pending_revocation` before it can move on.
    UnrevokedPartitions,
    /// Waits for partitions that other members have not released yet.
    UnreleasedPartitions,
}

impl MemberState {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberState::Stable => "stable",
            MemberState::UnrevokedPartitions => "unrevoked_partitions",
            MemberState::UnreleasedPartitions => "unreleased_partitions",
        }
    }
}

/// A member's current assignment, as reconciliation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAssignment {
    pub state: MemberState,
    pub epoch: i32,
    pub previous_epoch: i32,
    pub assigned: Assignment,
    pub pending_revocation: Assignment,
}

impl MemberAssignment {
    /// A member that just joined: epoch 0, nothing assigned.
    pub fn new() -> Self {
        MemberAssignment {
            state: MemberState::Stable,
            epoch: 0,
            previous_epoch: -1,
            assigned: Assignment::new(),
            pending_revocation: Assignment::new(),
        }
    }
}

impl Default for MemberAssignment {
    fn default() -> Self {
        MemberAssignment::new()
    }
}

fn contains(a: &Assignment, topic: &str, p: i32) -> bool {
    a.get(topic).is_some_and(|ps| ps.contains(&p))
}

fn insert(a: &mut Assignment, topic: &str, p: i32) {
    a.entry(topic.to_string()).or_default().insert(p);
}

/// Whether the member still holds any of `revoked`: without a report
/// (`owned` None) it is assumed to.
fn still_owns(owned: Option<&Assignment>, revoked: &Assignment) -> bool {
    match owned {
        None => true,
        Some(owned) => revoked
            .iter()
            .any(|(t, ps)| ps.iter().any(|p| contains(owned, t, *p))),
    }
}

/// The member's next assignment.
///
/// `target`/`target_epoch`: the member's share of the group's target
/// assignment and its epoch. `owned`: the partitions the member's heartbeat
/// reported (None when it did not report). `held_by_other(topic, p)`: whether
/// another member still has the partition assigned or pending revocation.
pub fn next(
    current: &MemberAssignment,
    target: &Assignment,
    target_epoch: i32,
    owned: Option<&Assignment>,
    held_by_other: impl Fn(&str, i32) -> bool,
) -> MemberAssignment {
    match current.state {
        MemberState::Stable if current.epoch == target_epoch => current.clone(),
        MemberState::UnrevokedPartitions if still_owns(owned, &current.pending_revocation) => {
            current.clone()
        }
        _ => compute(current, target, target_epoch, owned, held_by_other),
    }
}

fn compute(
    current: &MemberAssignment,
    target: &Assignment,
    target_epoch: i32,
    owned: Option<&Assignment>,
    held_by_other: impl Fn(&str, i32) -> bool,
) -> MemberAssignment {
    let mut kept = Assignment::new();
    let mut revoked = Assignment::new();
    let mut newly = Assignment::new();
    let mut unreleased = Assignment::new();
    for (topic, ps) in &current.assigned {
        for &p in ps {
            if contains(target, topic, p) {
                insert(&mut kept, topic, p);
            } else {
                insert(&mut revoked, topic, p);
            }
        }
    }
    for (topic, ps) in target {
        for &p in ps {
            if contains(&current.assigned, topic, p) {
                continue;
            }
            if held_by_other(topic, p) {
                insert(&mut unreleased, topic, p);
            } else {
                insert(&mut newly, topic, p);
            }
        }
    }
    if !revoked.is_empty() && still_owns(owned, &revoked) {
        return MemberAssignment {
            state: MemberState::UnrevokedPartitions,
            epoch: current.epoch,
            previous_epoch: current.previous_epoch,
            assigned: kept,
            pending_revocation: revoked,
        };
    }
    for (topic, ps) in newly {
        kept.entry(topic).or_default().extend(ps);
    }
    MemberAssignment {
        state: if unreleased.is_empty() {
            MemberState::Stable
        } else {
            MemberState::UnreleasedPartitions
        },
        epoch: target_epoch,
        previous_epoch: current.epoch,
        assigned: kept,
        pending_revocation: Assignment::new(),
    }
}

/// Whether every partition of `a` is also in `b`.
pub fn is_subset(a: &Assignment, b: &Assignment) -> bool {
    a.iter()
        .all(|(t, ps)| ps.is_empty() || b.get(t).is_some_and(|bs| ps.is_subset(bs)))
}

/// Every (topic, partition) of an assignment.
pub fn pairs(a: &Assignment) -> BTreeSet<(String, i32)> {
    a.iter()
        .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(list: &[(&str, &[i32])]) -> Assignment {
        list.iter()
            .filter(|(_, ps)| !ps.is_empty())
            .map(|(t, ps)| (t.to_string(), ps.iter().copied().collect()))
            .collect()
    }

    fn member(
        state: MemberState,
        epoch: i32,
        assigned: Assignment,
        pending: Assignment,
    ) -> MemberAssignment {
        MemberAssignment {
            state,
            epoch,
            previous_epoch: epoch - 1,
            assigned,
            pending_revocation: pending,
        }
    }

    #[test]
    fn reconciliation_table() {
        use MemberState::*;
        struct Case {
            name: &'static str,
            current: MemberAssignment,
            target: Assignment,
            owned: Option<Assignment>,
            held_by_other: &'static [i32],
            want: MemberAssignment,
        }
        let cases = vec![
            Case {
                name: "new member gets free partitions at the target epoch",
                current: MemberAssignment::new(),
                target: a(&[("t", &[0, 1])]),
                owned: Some(a(&[])),
                held_by_other: &[],
                want: MemberAssignment {
                    state: Stable,
                    epoch: 5,
                    previous_epoch: 0,
                    assigned: a(&[("t", &[0, 1])]),
                    pending_revocation: a(&[]),
                },
            },
            Case {
                name: "partitions another member still holds are withheld",
                current: MemberAssignment::new(),
                target: a(&[("t", &[0, 1])]),
                owned: Some(a(&[])),
                held_by_other: &[1],
                want: MemberAssignment {
                    state: UnreleasedPartitions,
                    epoch: 5,
                    previous_epoch: 0,
                    assigned: a(&[("t", &[0])]),
                    pending_revocation: a(&[]),
                },
            },
            Case {
                name: "a member that must revoke keeps its epoch",
                current: member(Stable, 4, a(&[("t", &[0, 1, 2])]), a(&[])),
                target: a(&[("t", &[0, 1])]),
                owned: Some(a(&[("t", &[0, 1, 2])])),
                held_by_other: &[],
                want: member(
                    UnrevokedPartitions,
                    4,
                    a(&[("t", &[0, 1])]),
                    a(&[("t", &[2])]),
                ),
            },
            Case {
                name: "without a report the member is assumed to still own",
                current: member(Stable, 4, a(&[("t", &[0, 1, 2])]), a(&[])),
                target: a(&[("t", &[0, 1])]),
                owned: None,
                held_by_other: &[],
                want: member(
                    UnrevokedPartitions,
                    4,
                    a(&[("t", &[0, 1])]),
                    a(&[("t", &[2])]),
                ),
            },
            Case {
                name: "still reporting a revoked partition: no progress",
                current: member(
                    UnrevokedPartitions,
                    4,
                    a(&[("t", &[0, 1])]),
                    a(&[("t", &[2])]),
                ),
                target: a(&[("t", &[0, 1])]),
                owned: Some(a(&[("t", &[1, 2])])),
                held_by_other: &[],
                want: member(
                    UnrevokedPartitions,
                    4,
                    a(&[("t", &[0, 1])]),
                    a(&[("t", &[2])]),
                ),
            },
            Case {
                name: "once revoked the member moves to the target epoch",
                current: member(
                    UnrevokedPartitions,
                    4,
                    a(&[("t", &[0, 1])]),
                    a(&[("t", &[2])]),
                ),
                target: a(&[("t", &[0, 1])]),
                owned: Some(a(&[("t", &[0, 1])])),
                held_by_other: &[],
                want: MemberAssignment {
                    state: Stable,
                    epoch: 5,
                    previous_epoch: 4,
                    assigned: a(&[("t", &[0, 1])]),
                    pending_revocation: a(&[]),
                },
            },
            Case {
                name: "unreleased partitions are claimed once released",
                current: member(UnreleasedPartitions, 5, a(&[("t", &[0])]), a(&[])),
                target: a(&[("t", &[0, 1])]),
                owned: Some(a(&[("t", &[0])])),
                held_by_other: &[],
                want: MemberAssignment {
                    state: Stable,
                    epoch: 5,
                    previous_epoch: 5,
                    assigned: a(&[("t", &[0, 1])]),
                    pending_revocation: a(&[]),
                },
            },
            Case {
                name: "a stable member at the target epoch is unchanged",
                current: member(Stable, 5, a(&[("t", &[0])]), a(&[])),
                target: a(&[("t", &[0, 1])]),
                owned: Some(a(&[("t", &[0])])),
                held_by_other: &[],
                want: member(Stable, 5, a(&[("t", &[0])]), a(&[])),
            },
        ];
        for c in cases {
            let held = c.held_by_other;
            let got = next(&c.current, &c.target, 5, c.owned.as_ref(), |t, p| {
                t == "t" && held.contains(&p)
            });
            assert_eq!(got, c.want, "{}", c.name);
        }
    }

    #[test]
    fn subsets() {
        assert!(is_subset(&a(&[("t", &[1])]), &a(&[("t", &[0, 1])])));
        assert!(is_subset(&a(&[]), &a(&[])));
        assert!(!is_subset(&a(&[("u", &[0])]), &a(&[("t", &[0])])));
    }
}
