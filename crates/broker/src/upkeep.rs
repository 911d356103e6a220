//! Background upkeep of partition logs: retention by time and size, log
//! compaction (`cleanup.policy=compact`), and time-based flushes. Must never
//! block request handling for long: each pass runs on a blocking thread.

use std::sync::Arc;
use std::time::Duration;

use crate::state::Broker;

/// Runs retention every `log.retention.check.interval.ms`, and compaction and
/// flush checks every second, until the broker stops. Compaction is cheap when
/// there is nothing to do (`min.cleanable.dirty.ratio` gates it), so it rides
/// the 1 s tick rather than the retention interval. Read-only mirrors are not
/// compacted: they keep the source's bytes (and its gaps) as copied.
pub async fn run(broker: Arc<Broker>) {
    let retention_every = Duration::from_millis(broker.config.log_retention_check_interval_ms);
    let mut last_retention = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let do_retention = last_retention.elapsed() >= retention_every;
        if do_retention {
            last_retention = tokio::time::Instant::now();
        }
        let b = broker.clone();
        let pass = tokio::task::spawn_blocking(move || {
            let now = Broker::now_ms();
            for topic in b.topics.all() {
                for p in &topic.partitions {
                    if do_retention && let Err(e) = p.log.enforce_retention(now) {
                        tracing::warn!("retention of {}-{} failed: {e}", p.topic, p.index);
                    }
                    if !b.is_read_only_mirror(&p.topic)
                        && let Err(e) = p.log.compact(now)
                    {
                        tracing::warn!("compaction of {}-{} failed: {e}", p.topic, p.index);
                    }
                    if let Err(e) = p.log.maybe_flush(now) {
                        p.storage_failed("flush", &e);
                    }
                }
            }
        });
        if let Err(e) = pass.await {
            tracing::error!("log upkeep pass failed: {e}");
        }
    }
}
