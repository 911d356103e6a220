//! The live partitions of every topic: which log directory holds each
//! partition, its open [`Log`], and lookups by topic name or id.
//!
//! It owns opening, creating and deleting partition directories. It must never
//! change metadata: callers persist the topic record first and then mirror the
//! change here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use strait_log::{Log, LogConfig, LogError};
use strait_metadata::TopicRecord;

use crate::storage_alarm::StorageAlarm;
use uuid::Uuid;

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
}

impl Partition {
    /// Logs a storage failure of `action` on this partition (rate-limited),
    /// naming the failing path and the OS error.
    pub fn storage_failed(&self, action: &str, e: &LogError) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        self.alarm
            .report(&format!("{}-{}", self.topic, self.index), action, e, now);
    }
}

/// A topic's live state.
pub struct LiveTopic {
    pub id: Uuid,
    pub name: String,
    pub partitions: Vec<Arc<Partition>>,
}

pub struct TopicTable {
    dirs: Vec<PathBuf>,
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

fn write_topic_id(dir: &Path, id: Uuid) -> Result<(), LogError> {
    let tmp = dir.join(format!("{PARTITION_METADATA}.tmp"));
    std::fs::write(&tmp, format!("version: 0\ntopic_id: {id}\n"))?;
    std::fs::rename(&tmp, dir.join(PARTITION_METADATA))?;
    Ok(())
}

/// `dir` with `suffix` appended to its last component.
fn renamed(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dir.with_file_name(name)
}

/// Makes a rename in `path`'s parent directory durable (best effort).
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent()
        && let Ok(d) = std::fs::File::open(parent)
    {
        let _ = d.sync_all();
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

impl TopicTable {
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        TopicTable {
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

    /// Opens every partition of the given topics (recovering their logs) and
    /// finishes deletions a crash interrupted: only directories renamed for
    /// deletion (`*-delete`) are removed. A partition directory that belongs
    /// to no known topic is left in place with a warning, and one that holds
    /// another topic id than its topic's is moved aside (`*-stray`): without
    /// a deletion record, no partition data is ever deleted.
    pub fn open_all(
        &self,
        topics: &[TopicRecord],
        log_config: impl Fn(&TopicRecord) -> LogConfig,
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
        let mut live = HashMap::new();
        for topic in topics {
            let config = log_config(topic);
            let mut partitions = Vec::with_capacity(topic.partitions as usize);
            for index in 0..topic.partitions as i32 {
                let name = partition_dir_name(&topic.name, index);
                let dir = match found.remove(&name) {
                    Some(d) if read_topic_id(&d) == Some(topic.id) => d,
                    Some(stale) => {
                        let aside = move_aside(&stale)?;
                        tracing::warn!(
                            "partition directory {} does not belong to topic {} (id {}); moved it to {}",
                            stale.display(),
                            topic.name,
                            topic.id,
                            aside.display()
                        );
                        self.new_partition_dir(&name, topic.id)?
                    }
                    None => self.new_partition_dir(&name, topic.id)?,
                };
                partitions.push(Arc::new(Partition {
                    topic: topic.name.clone(),
                    index,
                    log: Log::open(&dir, config.clone())?,
                    dir,
                    alarm: StorageAlarm::default(),
                }));
            }
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

    /// Picks the log dir holding the fewest partitions and creates the
    /// partition's directory there.
    fn new_partition_dir(&self, name: &str, id: Uuid) -> Result<PathBuf, LogError> {
        let counts = self.dirs.iter().map(|d| {
            std::fs::read_dir(d)
                .map(|it| it.filter(|e| e.is_ok()).count())
                .unwrap_or(usize::MAX)
        });
        let best = counts
            .enumerate()
            .min_by_key(|(_, c)| *c)
            .map(|(i, _)| i)
            .unwrap_or(0);
        let base = self
            .dirs
            .get(best)
            .ok_or_else(|| LogError::Io(std::io::Error::other("no log directory is configured")))?;
        let dir = base.join(name);
        std::fs::create_dir_all(&dir)?;
        write_topic_id(&dir, id)?;
        Ok(dir)
    }

    fn open_partitions(
        &self,
        topic: &TopicRecord,
        range: std::ops::Range<i32>,
        config: &LogConfig,
    ) -> Result<Vec<Arc<Partition>>, LogError> {
        range
            .map(|index| {
                let dir =
                    self.new_partition_dir(&partition_dir_name(&topic.name, index), topic.id)?;
                Ok(Arc::new(Partition {
                    topic: topic.name.clone(),
                    index,
                    log: Log::open(&dir, config.clone())?,
                    dir,
                    alarm: StorageAlarm::default(),
                }))
            })
            .collect()
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

    /// Removes a topic and deletes its partition directories. Each directory
    /// is first renamed to `<name>.<topic id>-delete`, the record a restart
    /// needs to finish an interrupted deletion.
    pub fn delete(&self, name: &str) -> Result<(), LogError> {
        let removed = self.write().remove(name);
        if let Some(topic) = removed {
            for p in &topic.partitions {
                p.log.close()?;
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
        let t = self.get(topic)?;
        usize::try_from(index)
            .ok()
            .and_then(|i| t.partitions.get(i).cloned())
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
