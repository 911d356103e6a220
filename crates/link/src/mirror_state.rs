//! The mirror topic state machine: every state Confluent lists for a mirror
//! topic, the table of moves between them (docs/CLUSTER_LINKING_SPEC.md
//! §4.2) and the check each move must pass. [`MirrorRuntime::write_state`]
//! is the one place a mirror's state is written, and it asks
//! [`check_move`] first.
//!
//! Only some states are stored (`strait_metadata::MirrorState`): the
//! operator's intent and its outcome. `LINK_PAUSED` and `SOURCE_UNAVAILABLE`
//! are shown over a stored `ACTIVE` (or `PAUSED`) while the condition lasts,
//! and the restore and synchronize states belong to operations this version
//! does not perform yet; a move to a state that cannot be stored is refused
//! with [`MirrorStateError::NotStored`]. This module must never persist
//! anything or talk to a source: it only says what is allowed.
//!
//! [`MirrorRuntime::write_state`]: crate::mirror::MirrorRuntime::write_state

use std::fmt;

use strait_metadata::MirrorState;

/// A mirror topic's state, as `kafka-mirrors --describe` and REST show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MirrorTopicState {
    Active,
    Paused,
    /// The link is paused (`cluster.link.paused=true`); shown, not stored.
    LinkPaused,
    /// The link itself failed (authentication, bad config, ...).
    LinkFailed,
    /// The source cannot be reached; shown, not stored.
    SourceUnavailable,
    /// A promotion's final sync is running (Confluent Cloud).
    PendingSynchronize,
    PendingStopped,
    Stopped,
    Failed,
    /// A reversed topic waiting to become a mirror (bidirectional links).
    PendingMirror,
    /// `--truncate-and-restore` is preparing a stopped topic (failback).
    PendingSetupForRestore,
    /// `--truncate-and-restore` is truncating to the source (failback).
    PendingRestore,
}

use MirrorTopicState::*;

impl MirrorTopicState {
    /// Every state, in the order of Confluent's lists.
    pub const ALL: [MirrorTopicState; 12] = [
        Active,
        Failed,
        Paused,
        Stopped,
        PendingStopped,
        PendingSynchronize,
        PendingMirror,
        LinkFailed,
        LinkPaused,
        SourceUnavailable,
        PendingSetupForRestore,
        PendingRestore,
    ];

    /// The name tools and REST show.
    pub const fn as_str(self) -> &'static str {
        match self {
            Active => "ACTIVE",
            Paused => "PAUSED",
            LinkPaused => "LINK_PAUSED",
            LinkFailed => "LINK_FAILED",
            SourceUnavailable => "SOURCE_UNAVAILABLE",
            PendingSynchronize => "PENDING_SYNCHRONIZE",
            PendingStopped => "PENDING_STOPPED",
            Stopped => "STOPPED",
            Failed => "FAILED",
            PendingMirror => "PENDING_MIRROR",
            PendingSetupForRestore => "PENDING_SETUP_FOR_RESTORE",
            PendingRestore => "PENDING_RESTORE",
        }
    }

    /// How the state is stored, if it is.
    pub const fn stored(self) -> Option<MirrorState> {
        match self {
            Active => Some(MirrorState::Active),
            Paused => Some(MirrorState::Paused),
            PendingStopped => Some(MirrorState::PendingStopped),
            Stopped => Some(MirrorState::Stopped),
            Failed => Some(MirrorState::Failed),
            LinkPaused
            | LinkFailed
            | SourceUnavailable
            | PendingSynchronize
            | PendingMirror
            | PendingSetupForRestore
            | PendingRestore => None,
        }
    }
}

impl From<MirrorState> for MirrorTopicState {
    fn from(state: MirrorState) -> Self {
        match state {
            MirrorState::Active => Active,
            MirrorState::Paused => Paused,
            MirrorState::PendingStopped => PendingStopped,
            MirrorState::Stopped => Stopped,
            MirrorState::Failed => Failed,
        }
    }
}

impl fmt::Display for MirrorTopicState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One allowed move and what causes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: MirrorTopicState,
    pub to: MirrorTopicState,
    pub event: &'static str,
}

const fn t(from: MirrorTopicState, to: MirrorTopicState, event: &'static str) -> Transition {
    Transition { from, to, event }
}

/// The transition table: the moves the spec documents and the ones the
/// engine performs (pause, unpause, promote from PAUSED, failover and link
/// deletion straight to STOPPED, a paused mirror whose source vanished).
/// A mirror is created ACTIVE; that is not a move.
pub const TRANSITIONS: &[Transition] = &[
    t(Active, Paused, "pause"),
    t(Paused, Active, "unpause"),
    t(Active, LinkPaused, "link paused"),
    t(Paused, LinkPaused, "link paused"),
    t(LinkPaused, Active, "link unpaused"),
    t(LinkPaused, Paused, "link unpaused"),
    t(Active, SourceUnavailable, "availability probe failed"),
    t(SourceUnavailable, Active, "source reachable again"),
    t(Active, LinkFailed, "link failed"),
    t(Paused, LinkFailed, "link failed"),
    t(LinkPaused, LinkFailed, "link failed"),
    t(SourceUnavailable, LinkFailed, "link failed"),
    t(Active, Failed, "unrecoverable error"),
    t(Paused, Failed, "source topic deleted or recreated"),
    t(Active, PendingSynchronize, "promote (final sync)"),
    t(
        PendingSynchronize,
        PendingStopped,
        "promote (final sync done)",
    ),
    t(Active, PendingStopped, "promote or failover"),
    t(Paused, PendingStopped, "promote or failover"),
    t(LinkPaused, PendingStopped, "failover"),
    t(SourceUnavailable, PendingStopped, "failover"),
    t(LinkFailed, PendingStopped, "failover"),
    t(Failed, PendingStopped, "failover"),
    t(PendingMirror, PendingStopped, "failover"),
    t(PendingStopped, Stopped, "promote or failover done"),
    t(Active, Stopped, "failover, link deleted"),
    t(Paused, Stopped, "failover, link deleted"),
    t(Failed, Stopped, "failover, link deleted"),
    t(Stopped, PendingSetupForRestore, "truncate-and-restore"),
    t(
        PendingSetupForRestore,
        PendingRestore,
        "truncate-and-restore",
    ),
    t(PendingRestore, Active, "truncate-and-restore done"),
    t(PendingMirror, Active, "reverse-and-start"),
    t(PendingMirror, Paused, "reverse-and-pause"),
];

/// Why a mirror's state was not written.
#[derive(Debug, thiserror::Error)]
pub enum MirrorStateError {
    /// The move is not in [`TRANSITIONS`].
    #[error("mirror topic '{topic}' cannot move from {from} to {to}")]
    Refused {
        topic: String,
        from: MirrorTopicState,
        to: MirrorTopicState,
    },
    /// The move is allowed but this version cannot store the target state.
    #[error("mirror topic '{topic}' cannot be stored in state {to}")]
    NotStored { topic: String, to: MirrorTopicState },
    /// The metadata store refused the write.
    #[error(transparent)]
    Storage(#[from] strait_metadata::MetadataError),
}

/// Whether [`TRANSITIONS`] allows `from` -> `to`.
pub fn allowed(from: MirrorTopicState, to: MirrorTopicState) -> bool {
    TRANSITIONS.iter().any(|m| m.from == from && m.to == to)
}

/// Checks one move of `topic` against the table and returns the stored
/// form of the target state.
pub fn check_move(
    topic: &str,
    from: MirrorTopicState,
    to: MirrorTopicState,
) -> Result<MirrorState, MirrorStateError> {
    if !allowed(from, to) {
        return Err(MirrorStateError::Refused {
            topic: topic.to_string(),
            from,
            to,
        });
    }
    to.stored().ok_or_else(|| MirrorStateError::NotStored {
        topic: topic.to_string(),
        to,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole table, written out as the spec's rows: anything not here
    /// must be refused.
    const EXPECTED: &[(MirrorTopicState, MirrorTopicState)] = &[
        (Active, Paused),
        (Paused, Active),
        (Active, LinkPaused),
        (Paused, LinkPaused),
        (LinkPaused, Active),
        (LinkPaused, Paused),
        (Active, SourceUnavailable),
        (SourceUnavailable, Active),
        (Active, LinkFailed),
        (Paused, LinkFailed),
        (LinkPaused, LinkFailed),
        (SourceUnavailable, LinkFailed),
        (Active, Failed),
        (Paused, Failed),
        (Active, PendingSynchronize),
        (PendingSynchronize, PendingStopped),
        (Active, PendingStopped),
        (Paused, PendingStopped),
        (LinkPaused, PendingStopped),
        (SourceUnavailable, PendingStopped),
        (LinkFailed, PendingStopped),
        (Failed, PendingStopped),
        (PendingMirror, PendingStopped),
        (PendingStopped, Stopped),
        (Active, Stopped),
        (Paused, Stopped),
        (Failed, Stopped),
        (Stopped, PendingSetupForRestore),
        (PendingSetupForRestore, PendingRestore),
        (PendingRestore, Active),
        (PendingMirror, Active),
        (PendingMirror, Paused),
    ];

    #[test]
    fn every_pair_is_allowed_exactly_when_the_table_lists_it() {
        assert_eq!(TRANSITIONS.len(), EXPECTED.len());
        for from in MirrorTopicState::ALL {
            for to in MirrorTopicState::ALL {
                let listed = EXPECTED.contains(&(from, to));
                match check_move("m", from, to) {
                    Ok(stored) => {
                        assert!(listed, "{from} -> {to} must be refused");
                        assert_eq!(MirrorTopicState::from(stored), to);
                    }
                    Err(MirrorStateError::NotStored { to: refused, .. }) => {
                        assert!(listed, "{from} -> {to} must be refused as not allowed");
                        assert_eq!(refused, to);
                        assert!(to.stored().is_none());
                    }
                    Err(MirrorStateError::Refused { from: f, to: t, .. }) => {
                        assert!(!listed, "{from} -> {to} must be allowed");
                        assert_eq!((f, t), (from, to));
                    }
                    Err(other) => panic!("{from} -> {to}: unexpected {other}"),
                }
            }
        }
    }

    #[test]
    fn no_state_moves_to_itself_and_stopped_is_final_but_for_restore() {
        for s in MirrorTopicState::ALL {
            assert!(!allowed(s, s), "{s} -> {s}");
        }
        let from_stopped: Vec<_> = TRANSITIONS
            .iter()
            .filter(|m| m.from == Stopped)
            .map(|m| m.to)
            .collect();
        assert_eq!(from_stopped, vec![PendingSetupForRestore]);
    }

    #[test]
    fn names_are_confluents_and_stored_states_round_trip() {
        let names: Vec<_> = MirrorTopicState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "ACTIVE",
                "FAILED",
                "PAUSED",
                "STOPPED",
                "PENDING_STOPPED",
                "PENDING_SYNCHRONIZE",
                "PENDING_MIRROR",
                "LINK_FAILED",
                "LINK_PAUSED",
                "SOURCE_UNAVAILABLE",
                "PENDING_SETUP_FOR_RESTORE",
                "PENDING_RESTORE",
            ]
        );
        for stored in [
            MirrorState::Active,
            MirrorState::Paused,
            MirrorState::PendingStopped,
            MirrorState::Stopped,
            MirrorState::Failed,
        ] {
            assert_eq!(MirrorTopicState::from(stored).stored(), Some(stored));
        }
    }
}
