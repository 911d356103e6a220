//! `meta.properties` in each log dir, and the start-up check that ties the log
//! dirs to the metadata store, as Kafka's `meta.properties` check does.
//!
//! It owns reading, checking and writing those files. It must never start a
//! new cluster over log dirs that hold another cluster's data: a missing,
//! emptied or replaced metadata store stops the broker with one line instead
//! of letting the partitions look like deleted topics.

use std::path::{Path, PathBuf};

use thiserror::Error;

const FILE: &str = "meta.properties";

/// Why the log dirs and the metadata store do not belong together.
#[derive(Debug, Error)]
pub enum DataDirError {
    #[error(
        "metadata store {store} is missing or empty, but log dir {dir} holds data of cluster {cluster_id} \
         ({dir}/meta.properties); restore the metadata store from a backup, or move the log dir \
         away to start a new cluster"
    )]
    StoreLost {
        store: String,
        dir: PathBuf,
        cluster_id: String,
    },
    #[error(
        "metadata store {store} is missing or empty, but log dir {dir} holds partition directories \
         ({example}); restore the metadata store from a backup, or move the log dir away to start a \
         new cluster"
    )]
    StoreLostPartitions {
        store: String,
        dir: PathBuf,
        example: String,
    },
    #[error("Invalid cluster.id in: {path}. Expected {expected}, but read {found}")]
    ClusterIdMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error(
        "Stored node id {found} doesn't match previous node id {expected} in {path}. If you moved \
         your data, make sure your configured node id matches. If you intend to create a new node, \
         you should remove all data in your data directories."
    )]
    NodeIdMismatch {
        path: PathBuf,
        expected: i32,
        found: i32,
    },
    #[error("{0}")]
    Write(#[from] strait_log::LogError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What one `meta.properties` says.
#[derive(Debug, Default, PartialEq)]
struct MetaProperties {
    cluster_id: Option<String>,
    node_id: Option<i32>,
}

fn read(dir: &Path) -> Result<Option<MetaProperties>, DataDirError> {
    let path = dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    let mut props = MetaProperties::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            match k.trim() {
                "cluster.id" => props.cluster_id = Some(v.trim().to_string()),
                "node.id" | "broker.id" => props.node_id = v.trim().parse().ok(),
                _ => {}
            }
        }
    }
    Ok(Some(props))
}

/// A partition directory in `dir`, if there is one: a sub-directory with a
/// `partition.metadata` file.
fn some_partition_dir(dir: &Path) -> Option<String> {
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let path = e.path();
        (path.is_dir() && path.join("partition.metadata").exists())
            .then(|| e.file_name().to_string_lossy().into_owned())
    })
}

/// Whether the store file is absent or empty, which opening it would turn
/// into a new cluster. Call before opening the store.
pub fn store_is_new(store: &Path) -> bool {
    std::fs::metadata(store).map_or(true, |m| m.len() == 0)
}

/// Refuses a new (missing or emptied) metadata store over log dirs that hold
/// data. Call before opening the store.
pub fn check_before_open(store: &Path, log_dirs: &[PathBuf]) -> Result<(), DataDirError> {
    if !store_is_new(store) {
        return Ok(());
    }
    check_no_data(&store.display().to_string(), log_dirs)
}

/// Refuses log dirs that hold data (a `meta.properties` with a cluster id,
/// or partition directories) for a metadata store that is new; `store`
/// names that store in the message.
pub fn check_no_data(store: &str, log_dirs: &[PathBuf]) -> Result<(), DataDirError> {
    for dir in log_dirs {
        if let Some(MetaProperties {
            cluster_id: Some(cluster_id),
            ..
        }) = read(dir)?
        {
            return Err(DataDirError::StoreLost {
                store: store.to_string(),
                dir: dir.clone(),
                cluster_id,
            });
        }
        if let Some(example) = some_partition_dir(dir) {
            return Err(DataDirError::StoreLostPartitions {
                store: store.to_string(),
                dir: dir.clone(),
                example,
            });
        }
    }
    Ok(())
}

/// Checks each log dir's `meta.properties` against the store's cluster id and
/// the configured node id, and writes the file where it is missing.
pub fn check_and_write(
    log_dirs: &[PathBuf],
    cluster_id: &str,
    node_id: i32,
) -> Result<(), DataDirError> {
    for dir in log_dirs {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(FILE);
        match read(dir)? {
            Some(found) => {
                if let Some(found) = found.cluster_id
                    && found != cluster_id
                {
                    return Err(DataDirError::ClusterIdMismatch {
                        path,
                        expected: cluster_id.to_string(),
                        found,
                    });
                }
                if let Some(found) = found.node_id
                    && found != node_id
                {
                    return Err(DataDirError::NodeIdMismatch {
                        path,
                        expected: found,
                        found: node_id,
                    });
                }
            }
            None => {
                let text = format!("version=1\ncluster.id={cluster_id}\nnode.id={node_id}\n");
                strait_log::write_atomically(dir, "meta.properties", text.as_bytes(), true)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_store_over_data_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("logs");
        let store = dir.join("strait-metadata.redb");
        let dirs = vec![dir.clone()];
        // A fresh data dir is fine, and gets its meta.properties.
        check_before_open(&store, &dirs).unwrap();
        check_and_write(&dirs, "abc", 1).unwrap();
        check_and_write(&dirs, "abc", 1).unwrap();
        // The store is gone: refused, naming the dir and the cluster id.
        let e = check_before_open(&store, &dirs).unwrap_err().to_string();
        assert!(
            e.contains("abc") && e.contains(&dir.display().to_string()),
            "{e}"
        );
        // An emptied store counts as missing.
        std::fs::write(&store, b"").unwrap();
        assert!(check_before_open(&store, &dirs).is_err());
        std::fs::write(&store, b"x").unwrap();
        check_before_open(&store, &dirs).unwrap();
        // Another cluster's store, or another node id.
        let e = check_and_write(&dirs, "other", 1).unwrap_err().to_string();
        assert!(e.starts_with("Invalid cluster.id in:"), "{e}");
        assert!(matches!(
            check_and_write(&dirs, "abc", 2),
            Err(DataDirError::NodeIdMismatch { .. })
        ));
    }

    #[test]
    fn partitions_without_meta_properties_are_refused_too() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(dir.join("orders-0")).unwrap();
        std::fs::write(dir.join("orders-0/partition.metadata"), "version: 0\n").unwrap();
        let e = check_before_open(&dir.join("m.redb"), std::slice::from_ref(&dir))
            .unwrap_err()
            .to_string();
        assert!(e.contains("orders-0"), "{e}");
    }
}
