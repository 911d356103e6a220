//! The scrubber's series, read at scrape time from `Broker::scrub`: bytes
//! and batches checked, passes, mirror batches repaired from the source, when the last pass ended, and the corrupt
//! batches of each partition that has any (so these series stay as few as
//! the partitions with damage). Must never start a scrub.

use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::encode::{self, BYTES, SECONDS};
use crate::scrubber::ScrubState;

/// A snapshot of [`ScrubState`] taken when the scrape starts.
#[derive(Debug)]
pub struct ScrubCollector {
    bytes: u64,
    batches: u64,
    passes: u64,
    repaired: u64,
    last_pass_end_ms: i64,
    corrupt: Vec<(String, String, i64)>,
}

impl ScrubCollector {
    pub fn read(state: &ScrubState) -> Self {
        ScrubCollector {
            bytes: state.bytes.load(Ordering::Relaxed),
            batches: state.batches.load(Ordering::Relaxed),
            passes: state.passes.load(Ordering::Relaxed),
            repaired: state.repaired.load(Ordering::Relaxed),
            last_pass_end_ms: state.last_pass_end_ms.load(Ordering::Relaxed),
            corrupt: state
                .findings()
                .into_iter()
                .map(|((topic, p), f)| (topic, p.to_string(), f.len() as i64))
                .collect(),
        }
    }
}

impl Collector for ScrubCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let mut f = encode::counters(
            &mut encoder,
            "log_scrub_read",
            "Bytes of closed segments the scrubber re-read and checked.",
            Some(&BYTES),
        )?;
        encode::counter_value(&mut f, self.bytes)?;
        let mut f = encode::counters(
            &mut encoder,
            "log_scrub_batches",
            "Record batches whose CRC the scrubber checked.",
            None,
        )?;
        encode::counter_value(&mut f, self.batches)?;
        let mut f = encode::counters(
            &mut encoder,
            "log_scrub_passes",
            "Scrub passes over every partition completed.",
            None,
        )?;
        encode::counter_value(&mut f, self.passes)?;
        let mut f = encode::counters(
            &mut encoder,
            "log_scrub_repaired_batches",
            "Corrupt batches of mirror partitions the scrubber repaired with the source's bytes.",
            None,
        )?;
        encode::counter_value(&mut f, self.repaired)?;
        let mut f = encode::gauges(
            &mut encoder,
            "log_scrub_last_pass_end_timestamp",
            "When the last scrub pass ended, in seconds since the epoch (0: none yet).",
            Some(&SECONDS),
        )?;
        f.encode_gauge(&(self.last_pass_end_ms as f64 / 1000.0))?;
        let mut f = encode::gauges(
            &mut encoder,
            "log_scrub_corrupt_partitions",
            "Partitions whose last scrub found a corrupt batch.",
            None,
        )?;
        f.encode_gauge(&(self.corrupt.len() as i64))?;
        let mut f = encode::gauges(
            &mut encoder,
            "log_scrub_corrupt_batches",
            "Corrupt batches the last scrub of the partition found (partitions with none are \
             left out).",
            None,
        )?;
        for (topic, partition, n) in &self.corrupt {
            encode::gauge(
                &mut f,
                &[("topic", topic.as_str()), ("partition", partition.as_str())],
                *n,
            )?;
        }
        Ok(())
    }
}
