//! Rate-limited logging of a partition's storage failures (a full disk, an
//! I/O error): the failing path and the OS error, at most once per interval
//! per partition, with a count of the failures not logged in between.
//!
//! It owns only the decision to log. It must never change what the client is
//! answered (that is `crate::errors`) and never retry the write.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use strait_log::LogError;

/// How often one partition may log a storage failure.
const INTERVAL_MS: i64 = 10_000;

/// One partition's storage-failure log limiter.
#[derive(Debug, Default)]
pub struct StorageAlarm {
    /// When the last failure was logged (ms since the epoch; 0: never).
    last_logged_ms: AtomicI64,
    /// Failures since then that were not logged.
    suppressed: AtomicU64,
}

/// Whether `e` is a failure of the storage itself rather than of the input.
pub fn is_storage_failure(e: &LogError) -> bool {
    matches!(
        e,
        LogError::Io(_) | LogError::File { .. } | LogError::CorruptLog { .. }
    )
}

impl StorageAlarm {
    /// Records a failed `action` ("append", "flush", ...) on partition
    /// `topic`-`index`; logs it unless this partition logged one less than an
    /// interval ago. Returns whether it logged.
    pub fn report(&self, topic: &str, index: i32, action: &str, e: &LogError, now_ms: i64) -> bool {
        if !is_storage_failure(e) {
            return false;
        }
        let last = self.last_logged_ms.load(Ordering::Acquire);
        if last != 0 && now_ms.saturating_sub(last) < INTERVAL_MS {
            self.suppressed.fetch_add(1, Ordering::AcqRel);
            return false;
        }
        if self
            .last_logged_ms
            .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            self.suppressed.fetch_add(1, Ordering::AcqRel);
            return false;
        }
        let suppressed = self.suppressed.swap(0, Ordering::AcqRel);
        if suppressed > 0 {
            tracing::error!(
                "storage failure on {topic}-{index} during {action}: {e} ({suppressed} more since the last report)"
            );
        } else {
            tracing::error!("storage failure on {topic}-{index} during {action}: {e}");
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enospc() -> LogError {
        LogError::File {
            path: "/data/t-0/00000000000000000000.log".into(),
            source: std::io::Error::from_raw_os_error(28),
        }
    }

    #[test]
    fn logs_once_per_interval_and_only_storage_failures() {
        let alarm = StorageAlarm::default();
        assert!(alarm.report("t", 0, "append", &enospc(), 1_000));
        assert!(!alarm.report("t", 0, "append", &enospc(), 2_000));
        assert!(!alarm.report("t", 0, "append", &enospc(), 10_999));
        assert_eq!(alarm.suppressed.load(Ordering::Acquire), 2);
        assert!(alarm.report("t", 0, "append", &enospc(), 11_000));
        assert_eq!(alarm.suppressed.load(Ordering::Acquire), 0);
        let input = LogError::InvalidRecord("bad".into());
        assert!(!alarm.report("t", 0, "append", &input, 50_000));
        assert!(enospc().to_string().contains("No space left on device"));
    }
}
