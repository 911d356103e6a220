//! The etcd store's local copy of its prefix: the decoded [`State`] plus the
//! etcd revision each key was last seen at.
//!
//! It owns applying key changes in revision order, whichever path they come
//! by (a write's own answer, the watch, a reload after the watch broke), so a
//! late or repeated change never overwrites a newer one. It must never talk
//! to etcd itself.

use std::collections::HashMap;

use crate::state::State;

/// The local copy of the prefix.
#[derive(Default)]
pub(crate) struct Cache {
    pub state: State,
    /// Keys present in etcd, with their mod revision.
    present: HashMap<String, i64>,
    /// Keys seen deleted, with the revision of the deletion; kept until the
    /// watch has passed that revision, so an older put cannot bring them back.
    removed: HashMap<String, i64>,
    /// The highest revision the watch (or a full reload) has delivered.
    followed: i64,
}

impl Cache {
    /// The mod revision of `key` if it is present, 0 if not (what etcd
    /// compares an absent key's mod revision with).
    pub fn mod_revision(&self, key: &str) -> i64 {
        self.present.get(key).copied().unwrap_or(0)
    }

    /// The revision up to which the watch has delivered every change.
    pub fn followed(&self) -> i64 {
        self.followed
    }

    /// Applies a put (Some) or delete (None) of `key` made at `revision`,
    /// unless a change at that revision or a later one is already applied.
    pub fn apply(&mut self, key: &str, value: Option<&[u8]>, revision: i64) {
        let last = self
            .present
            .get(key)
            .or_else(|| self.removed.get(key))
            .copied()
            .unwrap_or(0);
        if last >= revision {
            return;
        }
        if let Err(e) = self.state.apply(key, value) {
            // A value this version cannot read is logged and left out, as a
            // corrupt record would be; the revision is still recorded.
            tracing::error!("etcd metadata key {key} at revision {revision}: {e}");
        }
        match value {
            Some(_) => {
                self.present.insert(key.to_string(), revision);
                self.removed.remove(key);
            }
            None => {
                self.present.remove(key);
                self.removed.insert(key.to_string(), revision);
            }
        }
    }

    /// Records that the watch has delivered every change up to `revision`,
    /// and forgets deletions it has passed.
    pub fn followed_to(&mut self, revision: i64) {
        if revision > self.followed {
            self.followed = revision;
            self.removed.retain(|_, r| *r > revision);
        }
    }

    /// Replaces the copy with a full read of the prefix made at `revision`:
    /// every key read is applied, every key not read is removed as of
    /// `revision`.
    pub fn reload(&mut self, kvs: Vec<(String, Vec<u8>, i64)>, revision: i64) {
        let read: std::collections::HashSet<&str> =
            kvs.iter().map(|(k, _, _)| k.as_str()).collect();
        let gone: Vec<String> = self
            .present
            .keys()
            .filter(|k| !read.contains(k.as_str()))
            .cloned()
            .collect();
        for key in gone {
            self.apply(&key, None, revision);
        }
        for (key, value, mod_revision) in &kvs {
            self.apply(key, Some(value), *mod_revision);
        }
        self.followed_to(revision);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic_json(name: &str, partitions: u32) -> Vec<u8> {
        serde_json::to_vec(&crate::TopicRecord {
            name: name.into(),
            id: uuid::Uuid::nil(),
            partitions,
            replication_factor: 1,
            configs: Default::default(),
            created_ms: 0,
        })
        .unwrap()
    }

    #[test]
    fn older_changes_never_overwrite_newer_ones() {
        let mut c = Cache::default();
        c.apply("topic/a", Some(&topic_json("a", 3)), 10);
        c.apply("topic/a", Some(&topic_json("a", 1)), 8);
        assert_eq!(c.state.topics["a"].partitions, 3);
        assert_eq!(c.mod_revision("topic/a"), 10);
        c.apply("topic/a", None, 12);
        c.apply("topic/a", Some(&topic_json("a", 1)), 11);
        assert!(c.state.topics.is_empty(), "a put older than the delete");
        assert_eq!(c.mod_revision("topic/a"), 0);
        c.followed_to(12);
        c.apply("topic/a", Some(&topic_json("a", 5)), 13);
        assert_eq!(c.state.topics["a"].partitions, 5);
    }

    #[test]
    fn reload_removes_keys_not_read_but_keeps_newer_local_writes() {
        let mut c = Cache::default();
        c.apply("topic/a", Some(&topic_json("a", 1)), 5);
        c.apply("topic/b", Some(&topic_json("b", 1)), 20);
        c.reload(vec![("topic/c".into(), topic_json("c", 2), 7)], 15);
        assert!(!c.state.topics.contains_key("a"));
        assert!(c.state.topics.contains_key("b"), "written after the read");
        assert!(c.state.topics.contains_key("c"));
        assert_eq!(c.followed(), 15);
    }
}
