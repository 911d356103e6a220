//! The live partitions of every topic: which log directory holds each
//! partition, its open [`Log`], and lookups by topic name or id.
//!
//! It owns opening, creating and deleting partition directories. It must never
//! change metadata: callers persist the topic record first and then mirror the
//! change here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use strait_log::{Log, LogConfig, LogError};
use strait_metadata::TopicRecord;

use crate::metrics::PartitionTraffic;
use crate::storage_alarm::StorageAlarm;
use uuid::Uuid;

use crate::fan_out::fan_out;

const PARTITION_METADATA: &str = "partition.metadata";
/// Ends the name of a partition directory whose topic was deleted.
const DELETE_SUFFIX: &str = "-delete";
/// Ends the name of a directory moved aside because it held another topic.
const STRAY_SUFFIX: &str = "-stray";

/// One partition of a topic with its log.
pub struct Partition {
    pub topic: String,
    pub index: i32,
    pub dir: PathBuf,
    pub log: Log,
    /// Rate-limits the logging of this partition's storage failures.
    pub alarm: StorageAlarm,
    /// Bytes produced to and fetched from this partition (metrics).
    pub traffic: PartitionTraffic,
}

impl Partition {
    /// Logs a storage failure of `action` on this partition (rate-limited),
    /// naming the failing path and the OS error.
    pub fn storage_failed(&self, action: &str, e: &LogError) {
        let now = crate::state::Broker::now_ms();
        self.alarm.report(&self.topic, self.index, action, e, now);
    }
}

/// A topic's live state.
pub struct LiveTopic {
    pub id: Uuid,
    pub name: String,
    pub partitions: Vec<Arc<Partition>>,
}

impl LiveTopic {
    /// Partition `index`, if the topic has it (a negative index has none).
    pub fn partition(&self, index: i32) -> Option<Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i).cloned())
    }
}

pub struct TopicTable {
    dirs: Vec<PathBuf>,
    /// Partitions placed in each log dir (same order as `dirs`), kept in
    /// memory so placing a partition never lists a directory.
    placed: Mutex<Vec<usize>>,
    topics: RwLock<HashMap<String, Arc<LiveTopic>>>,
}

fn partition_dir_name(topic: &str, index: i32) -> String {
    format!("{topic}-{index}")
}

/// Reads the topic id a partition directory was created for.
fn read_topic_id(dir: &Path) -> Option<Uuid> {
    let text = std::fs::read_to_string(dir.join(PARTITION_METADATA)).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("topic_id: "))
        .and_then(|id| Uuid::parse_str(id.trim()).ok())
}

/// Writes the id file (not fsynced: callers sync the filesystem once for many
/// partitions, see [`TopicTable::sync_all_dirs`]).
fn write_topic_id(dir: &Path, id: Uuid) -> Result<(), LogError> {
    let text = format!("version: 0\ntopic_id: {id}\n");
    strait_log::write_atomically(dir, PARTITION_METADATA, text.as_bytes(), false)
}

/// `dir` with `suffix` appended to its last component.
fn renamed(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dir.with_file_name(name)
}

/// Makes a rename in `path`'s parent directory durable (best effort).
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent() {
        let _ = strait_log::sync_dir(parent);
    }
}

/// Renames a partition directory that holds another topic's data to
/// `<name>.<old topic id or "unknown">-stray`, keeping its data.
fn move_aside(dir: &Path) -> Result<PathBuf, LogError> {
    let old =
        read_topic_id(dir).map_or_else(|| "unknown".to_string(), |id| id.simple().to_string());
    let aside = renamed(dir, &format!(".{old}{STRAY_SUFFIX}"));
    std::fs::rename(dir, &aside)?;
    sync_parent(&aside);
    Ok(aside)
}

/// A partition directory being created: where, and whether this call made it
/// (only then may a failure remove it).
struct NewDir {
    index: i32,
    slot: usize,
    dir: PathBuf,
}

impl TopicTable {
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        TopicTable {
            placed: Mutex::new(vec![0; dirs.len()]),
            dirs,
            topics: RwLock::new(HashMap::new()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<LiveTopic>>> {
        self.topics.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<LiveTopic>>> {
        self.topics.write().unwrap_or_else(|e| e.into_inner())
    }

    fn placed(&self) -> std::sync::MutexGuard<'_, Vec<usize>> {
        self.placed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The log dir (index into `dirs`) a partition directory lives in.
    fn slot_of(&self, dir: &Path) -> Option<usize> {
        let parent = dir.parent()?;
        self.dirs.iter().position(|d| d == parent)
    }

    /// Opens every partition of the given topics (recovering their logs) and
    /// finishes deletions a crash interrupted: only directories renamed for
    /// deletion (`*-delete`) are removed. A partition directory that belongs
    /// to no known topic is left in place with a warning, and one that holds
    /// another topic id than its topic's is moved aside (`*-stray`): without
    /// a deletion record, no partition data is ever deleted.
    pub fn open_all(
        &self,
        topics: &[TopicRecord],
        log_config: impl Fn(&TopicRecord) -> LogConfig + Sync,
    ) -> Result<(), LogError> {
        let mut found: HashMap<String, PathBuf> = HashMap::new();
        for dir in &self.dirs {
            std::fs::create_dir_all(dir)?;
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                if !entry.file_type()?.is_dir() {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(DELETE_SUFFIX) {
                    tracing::info!("finishing the deletion of {}", entry.path().display());
                    std::fs::remove_dir_all(entry.path())?;
                } else if !name.ends_with(STRAY_SUFFIX) {
                    found.insert(
                        entry.file_name().to_string_lossy().into_owned(),
                        entry.path(),
                    );
                }
            }
        }
        // Which directory each partition uses, decided before any log opens.
        let mut existing: Vec<(usize, i32, PathBuf)> = Vec::new();
        let mut missing: Vec<(usize, i32)> = Vec::new();
        for (t, topic) in topics.iter().enumerate() {
            for index in 0..topic.partitions as i32 {
                let name = partition_dir_name(&topic.name, index);
                match found.remove(&name) {
                    Some(d) => match read_topic_id(&d) {
                        Some(id) if id == topic.id => existing.push((t, index, d)),
                        Some(_) => {
                            // Another topic's data without a deletion record:
                            // kept, out of the way.
                            let aside = move_aside(&d)?;
                            tracing::warn!(
                                "partition directory {} does not belong to topic {} (id {}); moved it to {}",
                                d.display(),
                                topic.name,
                                topic.id,
                                aside.display()
                            );
                            missing.push((t, index));
                        }
                        None => {
                            // Never delete a directory whose id file is lost:
                            // it may hold this topic's data.
                            tracing::warn!(
                                "partition directory {} has no readable {PARTITION_METADATA}: rewriting it",
                                d.display()
                            );
                            write_topic_id(&d, topic.id)?;
                            existing.push((t, index, d));
                        }
                    },
                    None => missing.push((t, index)),
                }
            }
        }
        {
            let mut placed = self.placed();
            placed.iter_mut().for_each(|c| *c = 0);
            for (_, _, d) in &existing {
                if let Some(slot) = self.slot_of(d) {
                    placed[slot] += 1;
                }
            }
        }
        let configs: Vec<LogConfig> = topics.iter().map(&log_config).collect();
        let mut opened: Vec<(usize, i32, Result<Log, LogError>, PathBuf)> =
            fan_out(&existing, |(t, index, dir)| {
                let log = Log::open_unsynced(dir, configs[*t].clone());
                (*t, *index, log, dir.clone())
            });
        for (t, index) in missing {
            let topic = &topics[t];
            tracing::warn!(
                "partition {}-{index} has no directory: creating it",
                topic.name
            );
            let created = self.create_dirs(topic, &[index])?;
            for new in created {
                let log = Log::create_unsynced(&new.dir, configs[t].clone());
                opened.push((t, index, log, new.dir));
            }
        }
        let mut by_topic: Vec<Vec<Arc<Partition>>> = topics
            .iter()
            .map(|t| Vec::with_capacity(t.partitions as usize))
            .collect();
        let mut first_error = None;
        opened.sort_by_key(|(t, index, _, _)| (*t, *index));
        for (t, index, log, dir) in opened {
            match log.map(lead) {
                Ok(log) => by_topic[t].push(Arc::new(Partition {
                    topic: topics[t].name.clone(),
                    index,
                    log,
                    dir,
                    alarm: StorageAlarm::default(),
                    traffic: PartitionTraffic::default(),
                })),
                Err(e) => {
                    tracing::error!("opening partition {}-{index} failed: {e}", topics[t].name);
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        // One sync makes every log's startup writes durable before any append.
        self.sync_all_dirs()?;
        let mut live = HashMap::new();
        for (topic, partitions) in topics.iter().zip(by_topic) {
            live.insert(
                topic.name.clone(),
                Arc::new(LiveTopic {
                    id: topic.id,
                    name: topic.name.clone(),
                    partitions,
                }),
            );
        }
        for (_, dir) in found {
            if dir.join(PARTITION_METADATA).exists() {
                tracing::warn!(
                    "partition directory {} belongs to no topic in the metadata store; left in place",
                    dir.display()
                );
            }
        }
        *self.write() = live;
        Ok(())
    }

    /// Creates the directories (with their id files) of the given partitions,
    /// each in the log dir holding the fewest partitions; the caller makes
    /// them durable with [`TopicTable::sync_all_dirs`]. On failure every
    /// directory created here is removed again.
    fn create_dirs(&self, topic: &TopicRecord, indexes: &[i32]) -> Result<Vec<NewDir>, LogError> {
        if self.dirs.is_empty() {
            return Err(LogError::Io(std::io::Error::other(
                "no log directory is configured",
            )));
        }
        let planned: Vec<(i32, usize)> = {
            let mut placed = self.placed();
            indexes
                .iter()
                .map(|&index| {
                    let slot = placed
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, c)| **c)
                        .map_or(0, |(i, _)| i);
                    placed[slot] += 1;
                    (index, slot)
                })
                .collect()
        };
        let results = fan_out(&planned, |&(index, slot)| {
            let dir = self.dirs[slot].join(partition_dir_name(&topic.name, index));
            let made = std::fs::create_dir(&dir);
            let made_here = made.is_ok();
            let outcome = match made {
                Ok(()) => write_topic_id(&dir, topic.id),
                Err(e) => Err(LogError::File {
                    path: dir.clone(),
                    source: e,
                }),
            };
            (NewDir { index, slot, dir }, made_here, outcome)
        });
        let mut failure = None;
        let mut created = Vec::with_capacity(results.len());
        let mut made_here = Vec::new();
        for (new, made, outcome) in results {
            if made {
                made_here.push(new.dir.clone());
            }
            match outcome {
                Ok(()) => created.push(new),
                Err(e) => {
                    failure.get_or_insert(e);
                    self.placed()[new.slot] -= 1;
                }
            }
        }
        if let Some(e) = failure {
            for new in &created {
                self.placed()[new.slot] -= 1;
            }
            self.remove_new_dirs(&made_here);
            return Err(e);
        }
        Ok(created)
    }

    /// Removes directories this table just created for a failed operation;
    /// they hold no data yet.
    fn remove_new_dirs(&self, dirs: &[PathBuf]) {
        for dir in dirs {
            if let Err(e) = std::fs::remove_dir_all(dir) {
                tracing::error!(
                    "could not remove half-created partition directory {}: {e}",
                    dir.display()
                );
            }
        }
    }

    fn open_partitions(
        &self,
        topic: &TopicRecord,
        range: std::ops::Range<i32>,
        config: &LogConfig,
    ) -> Result<Vec<Arc<Partition>>, LogError> {
        let indexes: Vec<i32> = range.collect();
        let created = self.create_dirs(topic, &indexes)?;
        let opened = fan_out(&created, |new| {
            Log::create_unsynced(&new.dir, config.clone())
        });
        let mut partitions = Vec::with_capacity(created.len());
        let mut failure = self.sync_all_dirs().err();
        for (new, log) in created.iter().zip(opened) {
            match log.map(lead) {
                Ok(log) => partitions.push(Arc::new(Partition {
                    topic: topic.name.clone(),
                    index: new.index,
                    dir: new.dir.clone(),
                    log,
                    alarm: StorageAlarm::default(),
                    traffic: PartitionTraffic::default(),
                })),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failure {
            tracing::error!(
                "creating partitions of {} failed ({e}): removing the {} new directories",
                topic.name,
                created.len()
            );
            for p in partitions {
                p.log.retire();
            }
            {
                let mut placed = self.placed();
                for new in &created {
                    placed[new.slot] -= 1;
                }
            }
            let dirs: Vec<PathBuf> = created.into_iter().map(|n| n.dir).collect();
            self.remove_new_dirs(&dirs);
            return Err(e);
        }
        Ok(partitions)
    }

    /// Creates the partitions of a new topic.
    pub fn create(&self, topic: &TopicRecord, config: &LogConfig) -> Result<(), LogError> {
        let partitions = self.open_partitions(topic, 0..topic.partitions as i32, config)?;
        self.write().insert(
            topic.name.clone(),
            Arc::new(LiveTopic {
                id: topic.id,
                name: topic.name.clone(),
                partitions,
            }),
        );
        Ok(())
    }

    /// Adds partitions up to `topic.partitions`.
    pub fn grow(&self, topic: &TopicRecord, config: &LogConfig) -> Result<(), LogError> {
        let Some(current) = self.get(&topic.name) else {
            return self.create(topic, config);
        };
        let have = current.partitions.len() as i32;
        let added = self.open_partitions(topic, have..topic.partitions as i32, config)?;
        let mut partitions = current.partitions.clone();
        partitions.extend(added);
        self.write().insert(
            topic.name.clone(),
            Arc::new(LiveTopic {
                id: current.id,
                name: current.name.clone(),
                partitions,
            }),
        );
        Ok(())
    }

    /// Makes everything written under the log dirs durable: one filesystem
    /// sync per log dir instead of an fsync per file.
    pub fn sync_all_dirs(&self) -> Result<(), LogError> {
        self.dirs
            .iter()
            .try_for_each(|d| strait_log::sync_filesystem(d))
    }

    /// Closes every partition log, many at a time and with three filesystem
    /// syncs in all (see `Log::close_write_state`). Returns how many logs were
    /// not closed cleanly (each is logged; the next start recovers them).
    pub fn close_all(&self) -> usize {
        type Step = fn(&Log) -> Result<(), LogError>;
        let steps: [(&str, Step); 3] = [
            ("writing the producer state of", Log::close_write_state),
            ("checkpointing", Log::close_checkpoint),
            ("marking clean", Log::close_mark_clean),
        ];
        let mut open: Vec<Arc<Partition>> = self
            .all()
            .iter()
            .flat_map(|t| t.partitions.iter().cloned())
            .collect();
        let total = open.len();
        for (what, step) in steps {
            let results = fan_out(&open, |p| step(&p.log));
            open = open
                .into_iter()
                .zip(results)
                .filter_map(|(p, r)| match r {
                    Ok(()) => Some(p),
                    Err(e) => {
                        tracing::warn!("{what} {}-{} failed: {e}", p.topic, p.index);
                        None
                    }
                })
                .collect();
            if let Err(e) = self.sync_all_dirs() {
                tracing::error!(
                    "syncing the log dirs after {what} the partitions failed: {e}; none is marked clean"
                );
                return total;
            }
        }
        total - open.len()
    }

    /// Removes a topic and deletes its partition directories. Each directory
    /// is first renamed to `<name>.<topic id>-delete`, the record a restart
    /// needs to finish an interrupted deletion.
    pub fn delete(&self, name: &str) -> Result<(), LogError> {
        let removed = self.write().remove(name);
        if let Some(topic) = removed {
            for p in &topic.partitions {
                if let Some(slot) = self.slot_of(&p.dir) {
                    let mut placed = self.placed();
                    placed[slot] = placed[slot].saturating_sub(1);
                }
                // Its data is going: stopped, not made durable first.
                p.log.retire();
                let marked = renamed(&p.dir, &format!(".{}{DELETE_SUFFIX}", topic.id.simple()));
                std::fs::rename(&p.dir, &marked)?;
                sync_parent(&marked);
                std::fs::remove_dir_all(&marked)?;
            }
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<Arc<LiveTopic>> {
        self.read().get(name).cloned()
    }

    pub fn get_by_id(&self, id: Uuid) -> Option<Arc<LiveTopic>> {
        self.read().values().find(|t| t.id == id).cloned()
    }

    pub fn partition(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        self.get(topic)?.partition(index)
    }

    pub fn all(&self) -> Vec<Arc<LiveTopic>> {
        self.read().values().cloned().collect()
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Applies new storage settings to every partition of a topic.
    pub fn reconfigure(&self, name: &str, config: &LogConfig) {
        if let Some(t) = self.get(name) {
            for p in &t.partitions {
                p.log.update_config(config.clone());
            }
        }
    }
}

/// This node leads every partition it opens. The single-node epoch rule: the partition leader
/// epoch is set to 0, and the log raises the epoch in effect to the latest epoch in its cache
/// (`Log::leader_epoch`), so a restarted partition keeps its epoch, a mirror reports the
/// source's latest epoch and a promoted mirror continues at it. No event bumps it: on one node
/// leadership never changes hands.
fn lead(log: Log) -> Log {
    log.set_leader_epoch(0);
    log
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;

    pub(crate) fn record(name: &str, partitions: u32) -> TopicRecord {
        TopicRecord {
            name: name.into(),
            id: Uuid::new_v4(),
            partitions,
            replication_factor: 1,
            configs: BTreeMap::new(),
            created_ms: 0,
        }
    }

    fn partition_dirs(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn partitions_spread_over_log_dirs_without_listing_them() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let table = TopicTable::new(vec![a.path().into(), b.path().into()]);
        table.open_all(&[], |_| LogConfig::default()).unwrap();
        table
            .create(&record("t", 10), &LogConfig::default())
            .unwrap();
        assert_eq!(partition_dirs(a.path()).len(), 5);
        assert_eq!(partition_dirs(b.path()).len(), 5);
        table.delete("t").unwrap();
        assert_eq!(*table.placed(), vec![0, 0]);
    }

    #[test]
    fn a_failed_creation_removes_only_the_directories_it_made() {
        let dir = tempfile::tempdir().unwrap();
        // A directory in the way of partition 3 (never ours to delete).
        std::fs::create_dir(dir.path().join("t-3")).unwrap();
        std::fs::write(dir.path().join("t-3").join("keep"), b"x").unwrap();
        let table = TopicTable::new(vec![dir.path().into()]);
        let topic = record("t", 6);
        assert!(table.create(&topic, &LogConfig::default()).is_err());
        assert!(table.get("t").is_none());
        assert_eq!(partition_dirs(dir.path()), vec!["t-3".to_string()]);
        assert!(dir.path().join("t-3").join("keep").exists());
        assert_eq!(*table.placed(), vec![0]);
    }

    #[test]
    fn a_partition_directory_without_its_id_file_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let topic = record("t", 1);
        let table = TopicTable::new(vec![dir.path().into()]);
        table.create(&topic, &LogConfig::default()).unwrap();
        let p = table.partition("t", 0).unwrap();
        p.log
            .append_leader(&strait_log_test_batch(), 1_000)
            .unwrap();
        assert_eq!(table.close_all(), 0);
        std::fs::remove_file(p.dir.join(PARTITION_METADATA)).unwrap();
        drop(p);
        let table = TopicTable::new(vec![dir.path().into()]);
        table
            .open_all(std::slice::from_ref(&topic), |_| LogConfig::default())
            .unwrap();
        let p = table.partition("t", 0).unwrap();
        assert_eq!(p.log.log_end_offset(), 1);
        assert_eq!(read_topic_id(&p.dir), Some(topic.id));
    }

    /// One v2 batch of one record.
    pub(crate) fn strait_log_test_batch() -> Vec<u8> {
        use kafka_protocol::records::{
            Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
        };
        let record = Record {
            transactional: false,
            control: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: 0,
            sequence: -1,
            timestamp: 1_000,
            key: None,
            value: Some(bytes::Bytes::from_static(b"v")),
            headers: Default::default(),
            delete_horizon: false,
        };
        let mut buf = bytes::BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &[record],
            &RecordEncodeOptions {
                version: 2,
                compression: Compression::None,
            },
        )
        .unwrap();
        buf.to_vec()
    }
}
