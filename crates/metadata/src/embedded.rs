//! The embedded, single-node metadata store: a redb file holding JSON values
//! under string keys, mirrored in memory for reads.
//!
//! Every mutation commits a durable redb transaction before memory changes, so a
//! kill -9 never loses an acknowledged change and never exposes one that was
//! not persisted. It must never be used by two processes at once (redb locks
//! the file).

use crate::acls::AclBinding;
use crate::records::{
    GroupOffsets, LinkRecord, MirrorRecord, OffsetRecord, PartitionKey, ScramCredential,
    TopicRecord,
};
use crate::state::{
    ACLS, BROKER_CONFIGS, CLUSTER_ID, GROUP_STATE_PREFIX, LINK_PREFIX, MIRROR_PREFIX,
    NEXT_PRODUCER_ID, OFFSETS_PREFIX, SCRAM_PREFIX, State, TOPIC_PREFIX, TXN_STATE_PREFIX, encode,
    encode_offsets, new_cluster_id, offsets_key, set_group_offsets,
};
use crate::{MetadataError, MetadataStore};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::RwLock;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// Metadata persisted in one redb file.
pub struct EmbeddedStore {
    db: redb::Database,
    state: RwLock<State>,
}

fn storage(e: impl std::fmt::Display) -> MetadataError {
    MetadataError::Storage(e.to_string())
}

impl EmbeddedStore {
    /// Opens (or creates) the store at `path`. A new store gets a fresh cluster id.
    pub fn open(path: &Path) -> Result<Self, MetadataError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(storage)?;
        }
        let db = redb::Database::create(path).map_err(storage)?;
        let store = EmbeddedStore {
            db,
            state: RwLock::new(State::default()),
        };
        store.load()?;
        Ok(store)
    }

    fn load(&self) -> Result<(), MetadataError> {
        let mut state = State::default();
        {
            let txn = self.db.begin_write().map_err(storage)?;
            // Make sure the table exists so that reads never fail on a new file.
            txn.open_table(META).map_err(storage)?;
            txn.commit().map_err(storage)?;
        }
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(META).map_err(storage)?;
        for entry in table.iter().map_err(storage)? {
            let (k, v) = entry.map_err(storage)?;
            state.apply(k.value(), Some(v.value()))?;
        }
        drop(table);
        drop(txn);
        if state.cluster_id.is_empty() {
            let id = new_cluster_id();
            self.write(&[(CLUSTER_ID.to_string(), Some(encode(&id)?))])?;
            state.cluster_id = id;
        }
        *self.state.write().map_err(|_| poisoned())? = state;
        Ok(())
    }

    /// Applies puts (Some) and deletes (None) in one durable transaction.
    fn write(&self, changes: &[(String, Option<Vec<u8>>)]) -> Result<(), MetadataError> {
        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut table = txn.open_table(META).map_err(storage)?;
            for (key, value) in changes {
                match value {
                    Some(v) => {
                        table.insert(key.as_str(), v.as_slice()).map_err(storage)?;
                    }
                    None => {
                        table.remove(key.as_str()).map_err(storage)?;
                    }
                }
            }
        }
        txn.commit().map_err(storage)
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-read; the data
        // itself is only changed after a successful commit, so it is consistent.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn poisoned() -> MetadataError {
    MetadataError::Storage("metadata lock poisoned".into())
}

impl MetadataStore for EmbeddedStore {
    fn cluster_id(&self) -> String {
        self.read_state().cluster_id.clone()
    }

    fn topics(&self) -> Vec<TopicRecord> {
        self.read_state().topics.values().cloned().collect()
    }

    fn topic(&self, name: &str) -> Option<TopicRecord> {
        self.read_state().topics.get(name).cloned()
    }

    fn create_topic(&self, topic: TopicRecord) -> Result<(), MetadataError> {
        let mut state = self.write_state();
        if state.topics.contains_key(&topic.name) {
            return Err(MetadataError::TopicExists(topic.name));
        }
        self.write(&[(
            format!("{TOPIC_PREFIX}{}", topic.name),
            Some(encode(&topic)?),
        )])?;
        state.topics.insert(topic.name.clone(), topic);
        Ok(())
    }

    fn update_topic(&self, topic: TopicRecord) -> Result<(), MetadataError> {
        let mut state = self.write_state();
        if !state.topics.contains_key(&topic.name) {
            return Err(MetadataError::UnknownTopic(topic.name));
        }
        self.write(&[(
            format!("{TOPIC_PREFIX}{}", topic.name),
            Some(encode(&topic)?),
        )])?;
        state.topics.insert(topic.name.clone(), topic);
        Ok(())
    }

    fn delete_topic(&self, name: &str) -> Result<TopicRecord, MetadataError> {
        let mut state = self.write_state();
        let Some(topic) = state.topics.get(name).cloned() else {
            return Err(MetadataError::UnknownTopic(name.to_string()));
        };
        let mut changes = vec![
            (format!("{TOPIC_PREFIX}{name}"), None),
            (format!("{MIRROR_PREFIX}{name}"), None),
        ];
        let mut new_offsets = Vec::new();
        for (group, offsets) in &state.offsets {
            if offsets.keys().any(|k| k.topic == name) {
                let kept: GroupOffsets = offsets
                    .iter()
                    .filter(|(k, _)| k.topic != name)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                changes.push((offsets_key(group), encode_offsets(&kept)?));
                new_offsets.push((group.clone(), kept));
            }
        }
        self.write(&changes)?;
        state.topics.remove(name);
        state.mirrors.remove(name);
        for (group, kept) in new_offsets {
            set_group_offsets(&mut state, group, kept);
        }
        Ok(topic)
    }

    fn broker_configs(&self) -> BTreeMap<String, String> {
        self.read_state().broker_configs.clone()
    }

    fn set_broker_configs(&self, configs: BTreeMap<String, String>) -> Result<(), MetadataError> {
        let mut state = self.write_state();
        self.write(&[(BROKER_CONFIGS.to_string(), Some(encode(&configs)?))])?;
        state.broker_configs = configs;
        Ok(())
    }

    fn group_offsets(&self, group: &str) -> GroupOffsets {
        self.read_state()
            .offsets
            .get(group)
            .cloned()
            .unwrap_or_default()
    }

    fn groups(&self) -> Vec<String> {
        self.read_state().group_names()
    }

    fn commit_offsets(
        &self,
        group: &str,
        offsets: Vec<(PartitionKey, OffsetRecord)>,
    ) -> Result<(), MetadataError> {
        let mut state = self.write_state();
        let mut merged = state.offsets.get(group).cloned().unwrap_or_default();
        merged.extend(offsets);
        self.write(&[(offsets_key(group), encode_offsets(&merged)?)])?;
        set_group_offsets(&mut state, group.to_string(), merged);
        Ok(())
    }

    fn delete_offsets(
        &self,
        group: &str,
        partitions: &[PartitionKey],
    ) -> Result<(), MetadataError> {
        let mut state = self.write_state();
        let mut kept = state.offsets.get(group).cloned().unwrap_or_default();
        for p in partitions {
            kept.remove(p);
        }
        self.write(&[(offsets_key(group), encode_offsets(&kept)?)])?;
        set_group_offsets(&mut state, group.to_string(), kept);
        Ok(())
    }

    fn delete_group(&self, group: &str) -> Result<(), MetadataError> {
        let mut state = self.write_state();
        self.write(&[
            (format!("{OFFSETS_PREFIX}{group}"), None),
            (format!("{GROUP_STATE_PREFIX}{group}"), None),
        ])?;
        state.offsets.remove(group);
        state.group_states.remove(group);
        Ok(())
    }

    fn group_state(&self, group: &str) -> Option<Vec<u8>> {
        self.read_state().group_states.get(group).cloned()
    }

    fn set_group_state(&self, group: &str, value: Option<Vec<u8>>) -> Result<(), MetadataError> {
        let mut state = self.write_state();
        self.write(&[(format!("{GROUP_STATE_PREFIX}{group}"), value.clone())])?;
        match value {
            Some(v) => state.group_states.insert(group.to_string(), v),
            None => state.group_states.remove(group),
        };
        Ok(())
    }

    fn txn_state(&self, transactional_id: &str) -> Option<Vec<u8>> {
        self.read_state().txn_states.get(transactional_id).cloned()
    }

    fn set_txn_state(
        &self,
        transactional_id: &str,
        value: Option<Vec<u8>>,
    ) -> Result<(), MetadataError> {
        let mut state = self.write_state();
        self.write(&[(
            format!("{TXN_STATE_PREFIX}{transactional_id}"),
            value.clone(),
        )])?;
        match value {
            Some(v) => state.txn_states.insert(transactional_id.to_string(), v),
            None => state.txn_states.remove(transactional_id),
        };
        Ok(())
    }

    fn txn_states(&self) -> Vec<(String, Vec<u8>)> {
        self.read_state()
            .txn_states
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn scram_credentials(&self, user: &str) -> BTreeMap<String, ScramCredential> {
        self.read_state()
            .scram
            .get(user)
            .cloned()
            .unwrap_or_default()
    }

    fn set_scram_credential(
        &self,
        user: &str,
        mechanism: &str,
        credential: Option<ScramCredential>,
    ) -> Result<(), MetadataError> {
        let mut state = self.write_state();
        let mut creds = state.scram.get(user).cloned().unwrap_or_default();
        match credential {
            Some(c) => creds.insert(mechanism.to_string(), c),
            None => creds.remove(mechanism),
        };
        let value = if creds.is_empty() {
            None
        } else {
            Some(encode(&creds)?)
        };
        self.write(&[(format!("{SCRAM_PREFIX}{user}"), value)])?;
        if creds.is_empty() {
            state.scram.remove(user);
        } else {
            state.scram.insert(user.to_string(), creds);
        }
        Ok(())
    }

    fn scram_users(&self) -> Vec<String> {
        self.read_state().scram.keys().cloned().collect()
    }

    fn allocate_producer_ids(&self, count: i64) -> Result<i64, MetadataError> {
        let mut state = self.write_state();
        let first = state.next_producer_id;
        let next = first + count.max(1);
        self.write(&[(NEXT_PRODUCER_ID.to_string(), Some(encode(&next)?))])?;
        state.next_producer_id = next;
        Ok(first)
    }

    fn links(&self) -> Vec<LinkRecord> {
        self.read_state().links.values().cloned().collect()
    }

    fn link(&self, name: &str) -> Option<LinkRecord> {
        self.read_state().links.get(name).cloned()
    }

    fn create_link(&self, link: LinkRecord) -> Result<(), MetadataError> {
        let mut state = self.write_state();
        if state.links.contains_key(&link.name) {
            return Err(MetadataError::LinkExists(link.name));
        }
        self.write(&[(format!("{LINK_PREFIX}{}", link.name), Some(encode(&link)?))])?;
        state.links.insert(link.name.clone(), link);
        Ok(())
    }

    fn update_link(&self, link: LinkRecord) -> Result<(), MetadataError> {
        let mut state = self.write_state();
        if !state.links.contains_key(&link.name) {
            return Err(MetadataError::UnknownLink(link.name));
        }
        self.write(&[(format!("{LINK_PREFIX}{}", link.name), Some(encode(&link)?))])?;
        state.links.insert(link.name.clone(), link);
        Ok(())
    }

    fn delete_link(&self, name: &str) -> Result<(), MetadataError> {
        let mut state = self.write_state();
        if !state.links.contains_key(name) {
            return Err(MetadataError::UnknownLink(name.to_string()));
        }
        let mut changes = vec![(format!("{LINK_PREFIX}{name}"), None)];
        let gone: Vec<String> = state
            .mirrors
            .values()
            .filter(|m| m.link == name)
            .map(|m| m.topic.clone())
            .collect();
        changes.extend(gone.iter().map(|t| (format!("{MIRROR_PREFIX}{t}"), None)));
        self.write(&changes)?;
        state.links.remove(name);
        for t in gone {
            state.mirrors.remove(&t);
        }
        Ok(())
    }

    fn mirrors(&self) -> Vec<MirrorRecord> {
        self.read_state().mirrors.values().cloned().collect()
    }

    fn mirror(&self, topic: &str) -> Option<MirrorRecord> {
        self.read_state().mirrors.get(topic).cloned()
    }

    fn put_mirror(&self, mirror: MirrorRecord) -> Result<(), MetadataError> {
        let mut state = self.write_state();
        self.write(&[(
            format!("{MIRROR_PREFIX}{}", mirror.topic),
            Some(encode(&mirror)?),
        )])?;
        state.mirrors.insert(mirror.topic.clone(), mirror);
        Ok(())
    }

    fn create_mirror_topic(
        &self,
        topic: TopicRecord,
        mirror: MirrorRecord,
    ) -> Result<(), MetadataError> {
        let mut state = self.write_state();
        if state.topics.contains_key(&topic.name) {
            return Err(MetadataError::TopicExists(topic.name));
        }
        if !state.links.contains_key(&mirror.link) {
            return Err(MetadataError::UnknownLink(mirror.link));
        }
        self.write(&[
            (
                format!("{TOPIC_PREFIX}{}", topic.name),
                Some(encode(&topic)?),
            ),
            (
                format!("{MIRROR_PREFIX}{}", mirror.topic),
                Some(encode(&mirror)?),
            ),
        ])?;
        state.topics.insert(topic.name.clone(), topic);
        state.mirrors.insert(mirror.topic.clone(), mirror);
        Ok(())
    }

    fn acls(&self) -> Vec<AclBinding> {
        self.read_state().acls.iter().cloned().collect()
    }

    fn create_acls(&self, acls: Vec<AclBinding>) -> Result<(), MetadataError> {
        let mut state = self.write_state();
        let mut next = state.acls.clone();
        next.extend(acls);
        if next.len() == state.acls.len() {
            return Ok(());
        }
        let list: Vec<&AclBinding> = next.iter().collect();
        self.write(&[(ACLS.to_string(), Some(encode(&list)?))])?;
        state.acls = next;
        Ok(())
    }

    fn delete_acls(
        &self,
        matches: &dyn Fn(&AclBinding) -> bool,
    ) -> Result<Vec<AclBinding>, MetadataError> {
        let mut state = self.write_state();
        let (gone, kept): (Vec<AclBinding>, _) =
            state.acls.iter().cloned().partition(|a| matches(a));
        if gone.is_empty() {
            return Ok(gone);
        }
        let kept: std::collections::BTreeSet<AclBinding> = kept.into_iter().collect();
        let list: Vec<&AclBinding> = kept.iter().collect();
        self.write(&[(ACLS.to_string(), Some(encode(&list)?))])?;
        state.acls = kept;
        Ok(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str) -> TopicRecord {
        TopicRecord {
            name: name.into(),
            id: uuid::Uuid::new_v4(),
            partitions: 3,
            replication_factor: 1,
            configs: BTreeMap::from([("retention.ms".into(), "1000".into())]),
            created_ms: 1,
        }
    }

    fn offset(o: i64) -> OffsetRecord {
        OffsetRecord {
            offset: o,
            leader_epoch: -1,
            metadata: None,
            commit_ms: 5,
        }
    }

    #[test]
    fn persists_everything_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        let cluster_id;
        {
            let s = EmbeddedStore::open(&path).unwrap();
            cluster_id = s.cluster_id();
            assert_eq!(cluster_id.len(), 22);
            s.create_topic(topic("a")).unwrap();
            s.create_topic(topic("b")).unwrap();
            assert!(matches!(
                s.create_topic(topic("a")),
                Err(MetadataError::TopicExists(_))
            ));
            s.commit_offsets(
                "g",
                vec![
                    (PartitionKey::new("a", 0), offset(10)),
                    (PartitionKey::new("b", 1), offset(7)),
                ],
            )
            .unwrap();
            s.set_group_state("g", Some(b"state".to_vec())).unwrap();
            s.set_broker_configs(BTreeMap::from([("log.retention.ms".into(), "5".into())]))
                .unwrap();
            assert_eq!(s.allocate_producer_ids(1000).unwrap(), 0);
        }
        let s = EmbeddedStore::open(&path).unwrap();
        assert_eq!(s.cluster_id(), cluster_id);
        assert_eq!(s.topics().len(), 2);
        assert_eq!(s.group_offsets("g").len(), 2);
        assert_eq!(s.group_state("g").unwrap(), b"state");
        assert_eq!(s.broker_configs()["log.retention.ms"], "5");
        assert_eq!(s.allocate_producer_ids(1000).unwrap(), 1000);

        s.delete_topic("a").unwrap();
        let offs = s.group_offsets("g");
        assert_eq!(offs.len(), 1);
        assert!(offs.contains_key(&PartitionKey::new("b", 1)));
        s.delete_group("g").unwrap();
        assert!(s.groups().is_empty());
        drop(s);
        let s = EmbeddedStore::open(&path).unwrap();
        assert_eq!(s.topics().len(), 1);
        assert!(s.group_offsets("g").is_empty());
    }

    #[test]
    fn txn_states_persist_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        {
            let s = EmbeddedStore::open(&path).unwrap();
            assert!(s.txn_states().is_empty());
            s.set_txn_state("app/1", Some(b"one".to_vec())).unwrap();
            s.set_txn_state("b", Some(b"two".to_vec())).unwrap();
            s.set_txn_state("b", Some(b"three".to_vec())).unwrap();
            s.set_txn_state("gone", Some(b"x".to_vec())).unwrap();
            s.set_txn_state("gone", None).unwrap();
            s.set_txn_state("never", None).unwrap();
        }
        let s = EmbeddedStore::open(&path).unwrap();
        assert_eq!(s.txn_state("app/1").unwrap(), b"one");
        assert_eq!(s.txn_state("b").unwrap(), b"three");
        assert!(s.txn_state("gone").is_none());
        assert_eq!(
            s.txn_states(),
            vec![
                ("app/1".to_string(), b"one".to_vec()),
                ("b".to_string(), b"three".to_vec())
            ]
        );
        assert!(s.groups().is_empty(), "txn state is not group state");
    }

    #[test]
    fn scram_credentials_persist_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        let cred = |n: u8| ScramCredential {
            salt: vec![n; 16],
            stored_key: vec![n + 1; 32],
            server_key: vec![n + 2; 32],
            iterations: 4096,
        };
        {
            let s = EmbeddedStore::open(&path).unwrap();
            assert!(s.scram_users().is_empty());
            s.set_scram_credential("bob", "SCRAM-SHA-256", Some(cred(1)))
                .unwrap();
            s.set_scram_credential("alice", "SCRAM-SHA-256", Some(cred(2)))
                .unwrap();
            s.set_scram_credential("alice", "SCRAM-SHA-512", Some(cred(3)))
                .unwrap();
            s.set_scram_credential("bob", "SCRAM-SHA-256", None)
                .unwrap();
            s.set_scram_credential("nobody", "SCRAM-SHA-256", None)
                .unwrap();
        }
        let s = EmbeddedStore::open(&path).unwrap();
        assert_eq!(s.scram_users(), vec!["alice".to_string()]);
        let alice = s.scram_credentials("alice");
        assert_eq!(alice.len(), 2);
        assert_eq!(alice["SCRAM-SHA-512"], cred(3));
        assert!(s.scram_credentials("bob").is_empty());
        assert!(s.groups().is_empty() && s.topics().is_empty());
    }

    #[test]
    fn links_and_mirrors_persist_and_cascade() {
        use crate::records::{LinkRecord, MirrorRecord, MirrorState};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        let link = LinkRecord {
            name: "l".into(),
            id: uuid::Uuid::new_v4(),
            source_cluster_id: Some("src".into()),
            configs: BTreeMap::from([("bootstrap.servers".into(), "h:1".into())]),
            created_ms: 1,
        };
        let mirror = MirrorRecord {
            topic: "t".into(),
            link: "l".into(),
            source_topic: "t".into(),
            source_topic_id: None,
            state: MirrorState::Active,
            state_time_ms: 2,
            reason: None,
            last_source_offsets: vec![],
            local_overrides: vec![],
        };
        {
            let s = EmbeddedStore::open(&path).unwrap();
            assert!(matches!(
                s.create_mirror_topic(topic("t"), mirror.clone()),
                Err(MetadataError::UnknownLink(_))
            ));
            s.create_link(link.clone()).unwrap();
            assert!(matches!(
                s.create_link(link.clone()),
                Err(MetadataError::LinkExists(_))
            ));
            s.create_mirror_topic(topic("t"), mirror.clone()).unwrap();
        }
        let s = EmbeddedStore::open(&path).unwrap();
        assert_eq!(s.link("l").unwrap(), link);
        assert_eq!(s.mirror("t").unwrap(), mirror);
        assert!(s.topic("t").is_some());
        s.delete_link("l").unwrap();
        assert!(s.mirrors().is_empty());
        assert!(s.topic("t").is_some(), "topics outlive their link");
    }

    #[test]
    fn acls_persist_dedupe_and_delete_by_predicate() {
        use crate::acls::{AclOperation, AclPatternType, AclPermission, AclResourceType};
        let acl = |name: &str, op: AclOperation| AclBinding {
            resource_type: AclResourceType::Topic,
            resource_name: name.into(),
            pattern_type: AclPatternType::Literal,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: op,
            permission: AclPermission::Allow,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        {
            let s = EmbeddedStore::open(&path).unwrap();
            assert!(s.acls().is_empty());
            s.create_acls(vec![
                acl("a", AclOperation::Read),
                acl("a", AclOperation::Write),
            ])
            .unwrap();
            s.create_acls(vec![
                acl("a", AclOperation::Read),
                acl("b", AclOperation::Read),
            ])
            .unwrap();
            assert_eq!(s.acls().len(), 3, "duplicates are kept once");
        }
        let s = EmbeddedStore::open(&path).unwrap();
        assert_eq!(s.acls().len(), 3);
        let gone = s.delete_acls(&|a| a.resource_name == "a").unwrap();
        assert_eq!(gone.len(), 2);
        assert!(
            s.delete_acls(&|a| a.resource_name == "a")
                .unwrap()
                .is_empty()
        );
        drop(s);
        let s = EmbeddedStore::open(&path).unwrap();
        assert_eq!(s.acls(), vec![acl("b", AclOperation::Read)]);
    }
}
