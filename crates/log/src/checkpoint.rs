//! Small metadata files of a partition directory: the offsets checkpoint (log start offset and
//! recovery point) and the clean-shutdown marker, plus the atomic-replace helper they and the
//! producer snapshots use.
//!
//! Owns these files' names and formats. It must never touch segment or index files.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::LogError;

/// Name of the offsets checkpoint file.
pub(crate) const CHECKPOINT_FILE: &str = "log.checkpoint";
/// Name of the clean-shutdown marker.
pub(crate) const CLEAN_SHUTDOWN_FILE: &str = "clean-shutdown";
/// Suffix of files being written before their atomic rename.
pub(crate) const TMP_SUFFIX: &str = ".tmp";

const CHECKPOINT_HEADER: &str = "strait-log-checkpoint 1";

/// The persisted offsets of a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetsCheckpoint {
    /// First offset that may be read.
    pub log_start_offset: i64,
    /// Everything below this offset is known to be on disk (fsynced).
    pub recovery_point: i64,
}

/// fsyncs a directory so that renames and unlinks inside it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LogError::file(dir, e))
}

/// Flushes every dirty file of the filesystem holding `path` (syncfs): one call makes the
/// unsynced writes of many logs durable at once.
pub fn sync_filesystem(path: &Path) -> Result<(), LogError> {
    File::open(path)
        .and_then(|d| rustix::fs::syncfs(&d).map_err(io::Error::from))
        .map_err(|e| LogError::file(path, e))
}

/// Replaces `dir/name` with `contents` via a temporary file and a rename, so readers see the old
/// or the new contents, never a mix. With `durable`, the data and the rename are fsynced.
/// Without it (the caller syncs the filesystem afterwards, which makes whatever is there
/// durable), a file that already holds exactly `contents` is left alone: closing an idle
/// partition then rewrites almost nothing.
pub fn write_atomically(
    dir: &Path,
    name: &str,
    contents: &[u8],
    durable: bool,
) -> Result<(), LogError> {
    // A unique temporary name: a background flush of a log instance being replaced may still
    // be writing the same file.
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let unique = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(
        "{name}.{}-{unique}{TMP_SUFFIX}",
        std::process::id()
    ));
    let target = dir.join(name);
    if !durable && fs::read(&target).is_ok_and(|existing| existing == contents) {
        return Ok(());
    }
    let write = || -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(contents)?;
        if durable {
            f.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| LogError::file(&tmp, e))?;
    fs::rename(&tmp, &target).map_err(|e| LogError::file(&target, e))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}

impl OffsetsCheckpoint {
    fn encode(&self) -> String {
        format!(
            "{CHECKPOINT_HEADER}\nlog_start_offset {}\nrecovery_point {}\n",
            self.log_start_offset, self.recovery_point
        )
    }

    fn decode(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        if lines.next()? != CHECKPOINT_HEADER {
            return None;
        }
        let mut field = |name: &str| -> Option<i64> {
            let line = lines.next()?;
            line.strip_prefix(name)?.trim().parse().ok()
        };
        let log_start_offset = field("log_start_offset")?;
        let recovery_point = field("recovery_point")?;
        (log_start_offset >= 0 && recovery_point >= 0).then_some(OffsetsCheckpoint {
            log_start_offset,
            recovery_point,
        })
    }

    /// Reads the checkpoint; `None` if absent or unreadable (a warning is logged).
    pub(crate) fn read(dir: &Path) -> Result<Option<Self>, LogError> {
        let path = dir.join(CHECKPOINT_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let parsed = Self::decode(&text);
                if parsed.is_none() {
                    tracing::warn!(path = %path.display(), "ignoring malformed offsets checkpoint");
                }
                Ok(parsed)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                tracing::warn!(path = %path.display(), "ignoring non-UTF-8 offsets checkpoint");
                Ok(None)
            }
            Err(e) => Err(LogError::file(&path, e)),
        }
    }

    /// Durably replaces the checkpoint.
    pub(crate) fn write(&self, dir: &Path) -> Result<(), LogError> {
        self.write_with(dir, true)
    }

    /// Replaces the checkpoint, fsyncing it only with `durable`.
    pub(crate) fn write_with(&self, dir: &Path, durable: bool) -> Result<(), LogError> {
        write_atomically(dir, CHECKPOINT_FILE, self.encode().as_bytes(), durable)
    }
}

/// Whether the clean-shutdown marker exists.
pub(crate) fn clean_shutdown_marked(dir: &Path) -> bool {
    dir.join(CLEAN_SHUTDOWN_FILE).exists()
}

/// Durably creates the clean-shutdown marker.
pub(crate) fn mark_clean_shutdown(dir: &Path) -> Result<(), LogError> {
    mark_clean_shutdown_with(dir, true)
}

/// Creates the clean-shutdown marker, fsyncing it only with `durable`.
pub(crate) fn mark_clean_shutdown_with(dir: &Path, durable: bool) -> Result<(), LogError> {
    write_atomically(dir, CLEAN_SHUTDOWN_FILE, b"clean\n", durable)
}

/// Durably removes the clean-shutdown marker (so that a later crash is detected).
#[cfg(test)]
pub(crate) fn clear_clean_shutdown(dir: &Path) -> Result<(), LogError> {
    clear_clean_shutdown_with(dir, true)
}

/// Removes the clean-shutdown marker, fsyncing the directory only with `durable`.
pub(crate) fn clear_clean_shutdown_with(dir: &Path, durable: bool) -> Result<(), LogError> {
    let path = dir.join(CLEAN_SHUTDOWN_FILE);
    match fs::remove_file(&path) {
        Ok(()) if durable => sync_dir(dir),
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LogError::file(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trip_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(OffsetsCheckpoint::read(dir.path()).unwrap(), None);
        let cp = OffsetsCheckpoint {
            log_start_offset: 17,
            recovery_point: 99,
        };
        cp.write(dir.path()).unwrap();
        assert_eq!(OffsetsCheckpoint::read(dir.path()).unwrap(), Some(cp));
        fs::write(dir.path().join(CHECKPOINT_FILE), b"\xff\xfegarbage").unwrap();
        assert_eq!(OffsetsCheckpoint::read(dir.path()).unwrap(), None);
        fs::write(
            dir.path().join(CHECKPOINT_FILE),
            "strait-log-checkpoint 1\nlog_start_offset x\n",
        )
        .unwrap();
        assert_eq!(OffsetsCheckpoint::read(dir.path()).unwrap(), None);
    }

    #[test]
    fn an_unsynced_write_of_identical_contents_leaves_the_file_alone() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        write_atomically(dir.path(), "f", b"one", true).unwrap();
        let inode = |d: &Path| fs::metadata(d.join("f")).unwrap().ino();
        let before = inode(dir.path());
        write_atomically(dir.path(), "f", b"one", false).unwrap();
        assert_eq!(inode(dir.path()), before);
        write_atomically(dir.path(), "f", b"two", false).unwrap();
        assert_ne!(inode(dir.path()), before);
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"two");
        // A durable write always replaces the file.
        let before = inode(dir.path());
        write_atomically(dir.path(), "f", b"two", true).unwrap();
        assert_ne!(inode(dir.path()), before);
    }

    #[test]
    fn clean_marker() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!clean_shutdown_marked(dir.path()));
        mark_clean_shutdown(dir.path()).unwrap();
        assert!(clean_shutdown_marked(dir.path()));
        clear_clean_shutdown(dir.path()).unwrap();
        assert!(!clean_shutdown_marked(dir.path()));
        clear_clean_shutdown(dir.path()).unwrap();
    }
}
