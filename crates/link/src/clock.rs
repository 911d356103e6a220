//! The wall clock the link crate reads: milliseconds since the epoch for
//! state times, fetch times and task outcomes. Functions that decide with
//! time take it as an argument, so tests pass their own; only the callers
//! at the edge read this clock. It must never be used to measure intervals
//! (tokio's clock does that, and tests pause it).

/// Milliseconds since the Unix epoch (0 if the system clock is before it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
