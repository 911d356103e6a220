//! A segment or index file whose descriptor is opened on first use, and which
//! remembers whether it was written since its last fsync.
//!
//! A broker holds thousands of partitions, most idle: keeping three open
//! descriptors per segment from the start exhausts the process's file limit.
//! It owns only opening, writing and syncing one existing file; it must never
//! create or delete one (a missing file is an error, never recreated).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::LogError;

/// An existing file, opened for reading and writing when first needed.
#[derive(Debug)]
pub(crate) struct LazyFile {
    path: PathBuf,
    file: OnceLock<File>,
    dirty: AtomicBool,
}

impl LazyFile {
    /// A handle for `path`, which must already exist; nothing is opened yet.
    pub(crate) fn new(path: PathBuf) -> Self {
        LazyFile {
            path,
            file: OnceLock::new(),
            dirty: AtomicBool::new(false),
        }
    }

    /// Creates (or truncates) the file at `path` without keeping it open.
    pub(crate) fn create_empty(path: PathBuf) -> Result<Self, LogError> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| LogError::file(&path, e))?;
        Ok(LazyFile::new(path))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a descriptor is currently held.
    #[cfg(test)]
    pub(crate) fn is_open(&self) -> bool {
        self.file.get().is_some()
    }

    /// The open file, opening it now if needed.
    pub(crate) fn get(&self) -> Result<&File, LogError> {
        if let Some(f) = self.file.get() {
            return Ok(f);
        }
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| LogError::file(&self.path, e))?;
        // Two threads may race here; the loser's descriptor is dropped.
        let _ = self.file.set(opened);
        self.file
            .get()
            .ok_or_else(|| LogError::file(&self.path, std::io::Error::other("file not open")))
    }

    /// The file's length, without opening it if it is not open yet.
    pub(crate) fn len(&self) -> Result<u64, LogError> {
        let meta = match self.file.get() {
            Some(f) => f.metadata(),
            None => std::fs::metadata(&self.path),
        };
        meta.map(|m| m.len())
            .map_err(|e| LogError::file(&self.path, e))
    }

    /// The file's metadata, without opening it.
    pub(crate) fn metadata(&self) -> std::io::Result<std::fs::Metadata> {
        match self.file.get() {
            Some(f) => f.metadata(),
            None => std::fs::metadata(&self.path),
        }
    }

    pub(crate) fn write_all_at(&self, buf: &[u8], at: u64) -> Result<(), LogError> {
        self.dirty.store(true, Ordering::Release);
        self.get()?
            .write_all_at(buf, at)
            .map_err(|e| LogError::file(&self.path, e))
    }

    pub(crate) fn set_len(&self, len: u64) -> Result<(), LogError> {
        self.dirty.store(true, Ordering::Release);
        self.get()?
            .set_len(len)
            .map_err(|e| LogError::file(&self.path, e))
    }

    /// fsyncs the data written since the last sync; nothing when there is none.
    pub(crate) fn sync_if_dirty(&self) -> Result<(), LogError> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let synced = self
            .get()
            .and_then(|f| f.sync_data().map_err(|e| LogError::file(&self.path, e)));
        if synced.is_err() {
            self.dirty.store(true, Ordering::Release);
        }
        synced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_on_first_use_and_syncs_only_when_written() {
        let dir = tempfile::tempdir().unwrap();
        let f = LazyFile::create_empty(dir.path().join("x")).unwrap();
        assert!(!f.is_open());
        assert_eq!(f.len().unwrap(), 0);
        f.sync_if_dirty().unwrap();
        assert!(!f.is_open());
        f.write_all_at(b"abc", 0).unwrap();
        assert!(f.is_open());
        assert_eq!(f.len().unwrap(), 3);
        f.sync_if_dirty().unwrap();
        assert!(!f.dirty.load(Ordering::Acquire));
    }

    #[test]
    fn a_missing_file_is_an_error_and_is_not_recreated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone");
        let f = LazyFile::new(path.clone());
        assert!(f.get().is_err());
        assert!(f.write_all_at(b"x", 0).is_err());
        assert!(!path.exists());
    }
}
