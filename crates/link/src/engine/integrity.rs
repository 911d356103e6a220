//! The integrity section of the engine: verifying mirror partitions against
//! their source (`VerifyMirrors`, `kafka-mirrors --verify`) and fetching a
//! source batch again so the broker's scrubber can repair a corrupt copy.
//! The source is read once per verification, read_uncommitted, in bounded
//! fetches over the link's client; the mirror side is read as batch views
//! (headers plus a recomputed CRC) through [`LocalCluster`]. The comparison
//! rule lives in [`crate::verify`]. Continuous verification
//! (`mirror.verification.interval.ms`, scheduled by the control loop, ranges
//! and records in [`crate::verification`]) runs the same check over each
//! active mirror from where its last run ended. It must never change a
//! mirror, its state or its log: a repair is the broker's write, after its
//! own checks.

use std::sync::Arc;

use bytes::Bytes;
use strait_metadata::{MirrorRecord, MirrorState};
use strait_protocol::admin::{
    MirrorPartitionVerification, VerifyMirrorsRequest, VerifyMirrorsResponse, VerifyResult,
};

use super::links::{LinkRuntime, VALIDATION_CAP};
use super::source::ClientSource;
use super::{LinkEngine, unknown_link};
use crate::clock::now_ms;
use crate::error::LinkError;
use crate::fetcher::{FetchLimits, MirrorSource, SourceBounds, SourceError};
use crate::local::LocalCluster;
use crate::mirror::MirrorRuntime;
use crate::verification::{VerificationOutcome, run_range};
use crate::verify::{compare, fetched_batches};

/// The most bytes one verification fetch asks for per partition.
const VERIFY_FETCH_BYTES: i32 = 1024 * 1024;

/// The limits of a verification or repair fetch: no waiting (the range is
/// below the source's high watermark), bounded bytes.
fn verify_limits(max_bytes: i32) -> FetchLimits {
    FetchLimits {
        max_wait_ms: 0,
        min_bytes: 1,
        partition_max_bytes: max_bytes,
        response_max_bytes: max_bytes,
    }
}

/// One mirror partition's source, with the names its errors carry.
struct PartitionSource {
    source: ClientSource,
    topic: String,
    partition: i32,
    link: String,
}

impl PartitionSource {
    fn new(link: &Arc<LinkRuntime>, record: &MirrorRecord, partition: i32) -> Self {
        PartitionSource {
            source: ClientSource::new(link.clone(), record.source_topic.clone(), partition),
            topic: record.topic.clone(),
            partition,
            link: record.link.clone(),
        }
    }

    /// The source partition's log start and high watermark, within the
    /// validation cap, so an unreachable source gets an answer well inside
    /// the tools' call timeout.
    async fn bounds(&mut self) -> Result<SourceBounds, LinkError> {
        match tokio::time::timeout(VALIDATION_CAP, self.source.bounds()).await {
            Err(_) => Err(self.silent()),
            Ok(Err(error)) => Err(self.failed(error)),
            Ok(Ok(bounds)) => Ok(bounds),
        }
    }

    fn silent(&self) -> LinkError {
        LinkError::VerifySourceSilent {
            topic: self.topic.clone(),
            partition: self.partition,
            link: self.link.clone(),
            within: VALIDATION_CAP,
        }
    }

    fn failed(&self, error: SourceError) -> LinkError {
        LinkError::VerifySource {
            topic: self.topic.clone(),
            partition: self.partition,
            link: self.link.clone(),
            error: Box::new(error),
        }
    }

    /// One fetch at `offset` within the validation cap; a partition-level
    /// error fails it.
    async fn fetch(&mut self, offset: i64, max_bytes: i32) -> Result<Bytes, LinkError> {
        let limits = verify_limits(max_bytes);
        let answer =
            match tokio::time::timeout(VALIDATION_CAP, self.source.fetch(offset, limits)).await {
                Err(_) => return Err(self.silent()),
                Ok(Err(error)) => return Err(self.failed(error)),
                Ok(Ok(answer)) => answer,
            };
        if let Some(error) = answer.error {
            return Err(self.failed(SourceError::Fetch(Some(error))));
        }
        Ok(answer.records)
    }
}

impl LinkEngine {
    /// Verifies every partition of the given mirrors against the source.
    /// Any topic that is not an attached mirror (of the link, when named)
    /// fails the whole request, as does a source that does not answer.
    pub async fn verify_mirrors(&self, req: VerifyMirrorsRequest) -> VerifyMirrorsResponse {
        match self.try_verify_mirrors(req).await {
            Ok(partitions) => VerifyMirrorsResponse {
                error: Default::default(),
                partitions,
            },
            Err(e) => VerifyMirrorsResponse {
                error: e.into(),
                partitions: vec![],
            },
        }
    }

    async fn try_verify_mirrors(
        &self,
        req: VerifyMirrorsRequest,
    ) -> Result<Vec<MirrorPartitionVerification>, LinkError> {
        if let Some(name) = &req.link_name
            && self.link(name).is_none()
        {
            return Err(unknown_link(name));
        }
        if req.topics.is_empty() {
            return Err(LinkError::NoTopicsToVerify);
        }
        let mut targets = Vec::new();
        for topic in &req.topics {
            let record = self.attached_mirror(topic)?;
            if let Some(link) = &req.link_name
                && *link != record.link
            {
                return Err(LinkError::NotMirrorOfLink {
                    topic: topic.clone(),
                    link: link.clone(),
                });
            }
            let link = self
                .link(&record.link)
                .ok_or_else(|| unknown_link(&record.link))?;
            targets.push((record, link));
        }
        let mut out = Vec::new();
        for (record, link) in targets {
            let partitions = self.local_partitions(&record.topic);
            for partition in 0..partitions as i32 {
                out.push(
                    self.verify_partition(&link, &record, partition, None)
                        .await?,
                );
            }
        }
        Ok(out)
    }

    /// One run of a link's continuous verification: every partition of each
    /// of its active mirrors, from where the partition's last run ended. The
    /// outcome is recorded per partition; a mismatch is logged once.
    pub(super) async fn verify_active_mirrors(&self, link: &Arc<LinkRuntime>) {
        let mirrors: Vec<Arc<MirrorRuntime>> = self
            .mirrors_of(&link.name())
            .into_iter()
            .filter(|m| m.state() == MirrorState::Active)
            .collect();
        for mirror in mirrors {
            let record = mirror.record();
            let partitions = self.local_partitions(&record.topic);
            mirror.ensure_partitions(partitions as usize);
            for partition in 0..partitions as i32 {
                let resume_from = mirror
                    .partition_stats()
                    .get(partition as usize)
                    .and_then(|s| s.verification.resume_from);
                let run = self
                    .verify_partition(link, &record, partition, resume_from)
                    .await;
                let (to, outcome) = match run {
                    Ok(v) => match v.first_different_offset {
                        None => (v.verified_to, VerificationOutcome::Ok),
                        Some(offset) => (
                            v.verified_to,
                            VerificationOutcome::Mismatch {
                                offset,
                                reason: v.reason.unwrap_or_default(),
                            },
                        ),
                    },
                    Err(e) => (
                        resume_from.unwrap_or(0),
                        VerificationOutcome::Error {
                            reason: e.to_string(),
                        },
                    ),
                };
                mirror.update_partition(partition, |stats| {
                    if stats.verification.record(to, outcome.clone(), now_ms())
                        && let VerificationOutcome::Mismatch { offset, reason } = &outcome
                    {
                        tracing::error!(
                            "mirror {}-{partition} of link '{}' differs from its source \
                             at offset {offset}: {reason}",
                            record.topic,
                            record.link
                        );
                    }
                });
            }
        }
    }

    /// The record of `topic` when it is a mirror still attached to its source.
    fn attached_mirror(&self, topic: &str) -> Result<MirrorRecord, LinkError> {
        match self.mirror(topic).map(|m| m.record()) {
            Some(record) if record.state != MirrorState::Stopped => Ok(record),
            Some(_) => Err(LinkError::NotAMirrorTopic(topic.to_string())),
            None if self.store.topic(topic).is_none() => {
                Err(LinkError::UnknownTopic(topic.to_string()))
            }
            None => Err(LinkError::NotAMirrorTopic(topic.to_string())),
        }
    }

    async fn verify_partition(
        &self,
        link: &Arc<LinkRuntime>,
        record: &MirrorRecord,
        partition: i32,
        resume_from: Option<i64>,
    ) -> Result<MirrorPartitionVerification, LinkError> {
        let topic = record.topic.clone();
        let missing = || LinkError::MirrorPartitionMissing {
            topic: topic.clone(),
            partition,
        };
        let mut source = PartitionSource::new(link, record, partition);
        let bounds = source.bounds().await?;
        let local_start = self
            .local
            .log_start_offset(&topic, partition)
            .ok_or_else(missing)?;
        let local_end = self
            .local
            .log_end_offset(&topic, partition)
            .ok_or_else(missing)?;
        let (from, to) = run_range(
            resume_from,
            local_start,
            local_end,
            bounds.log_start,
            bounds.log_end,
        );
        let mirror = stored_batches(self.local.clone(), topic.clone(), partition, from, to).await?;
        let mut fetched = Vec::new();
        let mut next = from;
        while next < to {
            let records = source.fetch(next, VERIFY_FETCH_BYTES).await?;
            let batches = fetched_batches(&records);
            let Some(last) = batches.last() else {
                break;
            };
            let after = last.view.last_offset + 1;
            fetched.extend(
                batches
                    .into_iter()
                    .map(|b| b.view)
                    .take_while(|v| v.base_offset < to),
            );
            if after <= next {
                break;
            }
            next = after;
        }
        let comparison = compare(&mirror, &fetched);
        let (result, first_different_offset, reason) = match comparison.difference {
            None => (VerifyResult::Ok, None, None),
            Some(d) => (VerifyResult::Mismatch, Some(d.offset), Some(d.reason)),
        };
        Ok(MirrorPartitionVerification {
            topic,
            partition,
            verified_from: from,
            verified_to: to,
            batches: comparison.batches,
            result,
            first_different_offset,
            reason,
        })
    }

    /// The source's bytes of the batch `base_offset..=last_offset` of a
    /// mirror partition, fetched again (read_uncommitted) so that a corrupt
    /// copy can be repaired. Fails unless the topic is an attached mirror
    /// and the source's batch at `base_offset` is exactly that batch with a
    /// valid CRC; the caller still checks the size against its copy.
    pub async fn refetch_source_batch(
        &self,
        topic: &str,
        partition: i32,
        base_offset: i64,
        last_offset: i64,
    ) -> Result<Bytes, LinkError> {
        let record = self.attached_mirror(topic)?;
        let link = self
            .link(&record.link)
            .ok_or_else(|| unknown_link(&record.link))?;
        let mut source = PartitionSource::new(&link, &record, partition);
        // A fetch always returns its first batch whole, however large.
        let records = source.fetch(base_offset, VERIFY_FETCH_BYTES).await?;
        let differs = |found: String| LinkError::SourceBatchDiffers {
            topic: topic.to_string(),
            partition,
            base_offset,
            last_offset,
            found,
        };
        let Some(first) = fetched_batches(&records).into_iter().next() else {
            return Err(differs("the fetch returned no whole batch".into()));
        };
        let v = first.view;
        if (v.base_offset, v.last_offset) != (base_offset, last_offset) {
            return Err(differs(format!(
                "its batch there holds {}..={}",
                v.base_offset, v.last_offset
            )));
        }
        if !v.crc_valid {
            return Err(differs("its copy does not match its own crc".into()));
        }
        Ok(first.bytes)
    }
}

/// The mirror's batch views, read off the runtime's worker threads.
async fn stored_batches(
    local: Arc<dyn LocalCluster>,
    topic: String,
    partition: i32,
    from: i64,
    to: i64,
) -> Result<Vec<strait_log::StoredBatch>, LinkError> {
    tokio::task::spawn_blocking(move || local.stored_batches(&topic, partition, from, to))
        .await
        .map_err(LinkError::BlockingTask)?
        .map_err(LinkError::Log)
}
