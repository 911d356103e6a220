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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::LogError;

/// An existing file, opened for reading and writing when first needed.
#[derive(Debug)]
pub(crate) struct LazyFile {
    path: PathBuf,
    /// Readers clone the handle, so releasing it never cuts a read short.
    file: Mutex<Option<Arc<File>>>,
    dirty: AtomicBool,
}

impl LazyFile {
    /// A handle for `path`, which must already exist; nothing is opened yet.
    pub(crate) fn new(path: PathBuf) -> Self {
        LazyFile {
            path,
            file: Mutex::new(None),
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

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Arc<File>>> {
        self.file.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn current(&self) -> Option<Arc<File>> {
        self.slot().clone()
    }

    /// Whether a descriptor is currently held.
    pub(crate) fn is_open(&self) -> bool {
        self.current().is_some()
    }

    /// The open file, opening it now if needed.
    pub(crate) fn get(&self) -> Result<Arc<File>, LogError> {
        let mut slot = self.slot();
        if let Some(f) = slot.as_ref() {
            return Ok(f.clone());
        }
        let opened = Arc::new(
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(&self.path)
                .map_err(|e| LogError::file(&self.path, e))?,
        );
        *slot = Some(opened.clone());
        Ok(opened)
    }

    /// Gives the descriptor back (it closes once no reader holds it); the next use reopens
    /// the file. Unsynced writes stay marked for the next sync.
    pub(crate) fn release(&self) {
        self.slot().take();
    }

    /// The file's length, without opening it if it is not open yet.
    pub(crate) fn len(&self) -> Result<u64, LogError> {
        self.metadata()
            .map(|m| m.len())
            .map_err(|e| LogError::file(&self.path, e))
    }

    /// The file's metadata, without opening it.
    pub(crate) fn metadata(&self) -> std::io::Result<std::fs::Metadata> {
        match self.current() {
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
        f.release();
        assert!(!f.is_open());
        assert_eq!(f.len().unwrap(), 3);
        f.write_all_at(b"d", 3).unwrap();
        assert_eq!(std::fs::read(f.path()).unwrap(), b"abcd");
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
