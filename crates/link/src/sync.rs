//! Reading what a mirror copies from its source besides records: the source
//! topic's configs, and where a source batch starts. Also the final sync a
//! promotion performs. Must never write records.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use strait_client::admin::configs::{ConfigResource, ConfigSource};
use strait_client::{ClientError, KafkaClient};

use crate::engine::{LinkEngine, LinkRuntime};
use crate::error::LinkError;
use crate::mirror::MirrorRuntime;

/// Topic configs always copied from the source; never settable on a mirror.
pub const ALWAYS_SYNCED: &[&str] = &[
    "cleanup.policy",
    "max.message.bytes",
    "message.timestamp.type",
    "message.timestamp.difference.max.ms",
];

/// Topic configs copied from the source while they are in the link's
/// `topic.config.sync.include` (all of them when it is unset).
pub const SYNCED_BY_DEFAULT: &[&str] = &[
    "compression.type",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "index.interval.bytes",
    "max.compaction.lag.ms",
    "message.downconversion.enable",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "preallocate",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
];

/// Whether `key` follows the source on a mirror of a link whose
/// `topic.config.sync.include` is `include`.
pub fn is_synced(key: &str, include: Option<&str>) -> bool {
    if ALWAYS_SYNCED.contains(&key) {
        return true;
    }
    if !SYNCED_BY_DEFAULT.contains(&key) {
        return false;
    }
    match include {
        None => true,
        Some(list) => list.split(',').map(str::trim).any(|k| k == key),
    }
}

/// Whether `key` follows the source on one mirror: synced on its link and
/// not overridden locally when the mirror was created.
pub fn follows_source(key: &str, include: Option<&str>, local_overrides: &[String]) -> bool {
    is_synced(key, include) && !local_overrides.iter().any(|k| k == key)
}

/// The configs explicitly set on a source topic (what a mirror copies).
pub async fn source_topic_configs(
    client: &KafkaClient,
    topic: &str,
) -> Result<BTreeMap<String, String>, ClientError> {
    let described = client
        .describe_configs(&[ConfigResource::topic(topic)], false, false)
        .await?;
    let mut out = BTreeMap::new();
    for (_, result) in described {
        for entry in result? {
            if entry.source == ConfigSource::DynamicTopicConfig
                && !entry.is_sensitive
                && let Some(value) = entry.value
            {
                out.insert(entry.name, value);
            }
        }
    }
    Ok(out)
}

/// What a one-byte Fetch at some offset tells about a source partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchProbe {
    /// The fetch answer's high watermark (-1 when the source gave none).
    pub high_watermark: i64,
    /// The base offset of the first batch returned, if any.
    pub batch_base: Option<i64>,
    /// The offset was outside the source's log (OFFSET_OUT_OF_RANGE).
    pub out_of_range: bool,
}

/// Fetches one byte at `offset` to learn the source's high watermark and
/// the base of the batch holding `offset`.
pub async fn probe_fetch(
    client: &KafkaClient,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<FetchProbe, ClientError> {
    let mut fp = FetchPartition::default();
    fp.partition = partition;
    fp.current_leader_epoch = -1;
    fp.fetch_offset = offset;
    fp.last_fetched_epoch = -1;
    fp.log_start_offset = -1;
    fp.partition_max_bytes = 1;
    let mut ft = FetchTopic::default();
    ft.topic = TopicName(StrBytes::from_string(topic.to_string()));
    ft.topic_id = client
        .metadata()
        .topics
        .get(topic)
        .map(|t| t.topic_id)
        .unwrap_or_default();
    ft.partitions = vec![fp];
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = 0;
    req.min_bytes = 0;
    req.max_bytes = 1;
    req.session_epoch = -1;
    req.topics = vec![ft];
    let resp = client.send_to_leader(topic, partition, req).await?;
    let Some(pd) = resp
        .responses
        .into_iter()
        .flat_map(|t| t.partitions)
        .find(|p| p.partition_index == partition)
    else {
        return Err(ClientError::InvalidArgument(format!(
            "no Fetch answer for {topic}-{partition}"
        )));
    };
    let out_of_range = pd.error_code == ResponseError::OffsetOutOfRange.code();
    if !out_of_range {
        ClientError::check(pd.error_code, None)?;
    }
    Ok(FetchProbe {
        high_watermark: pd.high_watermark,
        batch_base: pd
            .records
            .filter(|r| r.len() >= 8)
            .map(|r| i64::from_be_bytes([r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]])),
        out_of_range,
    })
}

/// Where mirroring of a partition starts, given the offset ListOffsets
/// named (`listed`) and a fetch probe at it: `Ok(start)` when the probe
/// settles it, or `Err(offset)` to probe again at `offset`.
///
/// The start is a batch boundary at or below the fetch answer's high
/// watermark: a ListOffsets answer past the high watermark (some sources
/// answer with a log end offset the fetch path does not serve yet) is
/// brought down to the high watermark, and an offset inside a batch moves
/// back to the batch's base.
pub fn mirror_start(listed: i64, probe: &FetchProbe) -> Result<i64, i64> {
    let past_hwm = probe.high_watermark >= 0 && listed > probe.high_watermark;
    if probe.out_of_range || past_hwm {
        return Err(probe.high_watermark.max(0));
    }
    // The batch holding `listed` starts at or before it; past a gap
    // (compaction, aborted data) the next batch starts later.
    Ok(probe.batch_base.unwrap_or(listed))
}

/// The aligned start of mirroring for `listed` (see [`mirror_start`]).
pub async fn aligned_mirror_start(
    client: &KafkaClient,
    topic: &str,
    partition: i32,
    listed: i64,
) -> Result<i64, ClientError> {
    let mut at = listed;
    // The second probe is at the high watermark the first one reported; a
    // third covers a source whose high watermark moved back in between.
    for _ in 0..3 {
        let probe = probe_fetch(client, topic, partition, at).await?;
        match mirror_start(at, &probe) {
            Ok(start) => return Ok(start),
            Err(next) if next < at => at = next,
            Err(_) => return Ok(at.min(probe.high_watermark.max(0))),
        }
    }
    Ok(at)
}

/// What a promotion does before mirroring stops: one last copy of the
/// source topic's configs onto the mirror, and one last consumer offset sync
/// for it when the link syncs offsets.
pub async fn final_sync(
    engine: &Arc<LinkEngine>,
    link: &LinkRuntime,
    mirror: &MirrorRuntime,
) -> Result<(), LinkError> {
    let record = mirror.record();
    let client = link.client().await?;
    let configs = source_topic_configs(&client, &record.source_topic).await?;
    engine.apply_source_configs(&record.topic, configs)?;
    if link.settings().offset_sync_enable {
        sync_consumer_offsets(engine, link, Some(&record.topic)).await?;
    }
    Ok(())
}

/// The destination name of a source consumer group on this link.
pub fn destination_group(settings: &crate::config::LinkSettings, group: &str) -> String {
    match &settings.prefix {
        Some(prefix) => format!("{prefix}{group}"),
        None => group.to_string(),
    }
}

/// One consumer offset sync pass: committed offsets of the source groups
/// that pass the link's group filters, for partitions of this link's
/// mirrors (only `only_topic` when given), capped at the mirror's log end
/// offset, committed here only for groups with no active members here.
pub async fn sync_consumer_offsets(
    engine: &Arc<LinkEngine>,
    link: &LinkRuntime,
    only_topic: Option<&str>,
) -> Result<(), LinkError> {
    use strait_metadata::{MirrorState, OffsetRecord, PartitionKey};
    let settings = link.settings();
    let client = link.client().await?;
    // source topic -> mirror topic, for mirrors still fed by this link.
    let mut topics: BTreeMap<String, String> = BTreeMap::new();
    for m in engine.mirrors_of(&link.name()) {
        let r = m.record();
        let wanted = match only_topic {
            Some(t) => r.topic == t,
            None => matches!(r.state, MirrorState::Active | MirrorState::Paused),
        };
        if wanted {
            topics.insert(r.source_topic, r.topic);
        }
    }
    if topics.is_empty() {
        return Ok(());
    }
    let groups = client.list_groups(&[], &[]).await?;
    let now = crate::clock::now_ms();
    let mut skipped_active = Vec::new();
    for group in groups {
        if !settings.group_filters.matches(&group.group_id) {
            continue;
        }
        let committed = client
            .offset_fetch(&group.group_id, None)
            .await
            .map_err(|error| LinkError::GroupOffsets {
                group: group.group_id.clone(),
                error,
            })?;
        let dest_group = destination_group(&settings, &group.group_id);
        let existing = engine.store().group_offsets(&dest_group);
        let mut commits = Vec::new();
        for (tp, offset) in committed {
            let Some(mirror_topic) = topics.get(&tp.topic) else {
                continue;
            };
            if offset.offset < 0 {
                continue;
            }
            let Some(leo) = engine.local().log_end_offset(mirror_topic, tp.partition) else {
                continue;
            };
            let value = offset.offset.min(leo);
            let key = PartitionKey::new(mirror_topic.clone(), tp.partition);
            if existing.get(&key).is_some_and(|e| e.offset == value) {
                continue;
            }
            commits.push((
                key,
                OffsetRecord {
                    offset: value,
                    leader_epoch: -1,
                    metadata: offset.metadata.clone(),
                    commit_ms: now,
                },
            ));
        }
        if commits.is_empty() {
            continue;
        }
        let n = commits.len();
        match engine
            .local()
            .commit_offsets_if_inactive(dest_group.clone(), commits)
            .await?
        {
            true => tracing::debug!("synced {n} offset(s) of group {dest_group}"),
            false => skipped_active.push(dest_group),
        }
    }
    if !skipped_active.is_empty() {
        tracing::info!(
            "link {}: not syncing offsets of groups active on this cluster: {}",
            link.name(),
            skipped_active.join(", ")
        );
    }
    Ok(())
}

/// Creates mirrors for source topics that pass the link's topic filters and
/// are not mirrored yet. Internal topics are never mirrored.
pub async fn auto_create_mirrors(
    engine: &Arc<LinkEngine>,
    link: &LinkRuntime,
) -> Result<(), LinkError> {
    let settings = link.settings();
    let client = link.client().await?;
    let response = client.fetch_metadata(None).await?;
    let metadata = strait_client::ClusterMetadata::from_response(&response.body).metadata;
    let mut failures = Vec::new();
    for (name, info) in &metadata.topics {
        if info.is_internal || name.starts_with("__") || !settings.topic_filters.matches(name) {
            continue;
        }
        let mirror_topic = match &settings.prefix {
            Some(p) => format!("{p}{name}"),
            None => name.clone(),
        };
        if engine.store().topic(&mirror_topic).is_some() {
            continue;
        }
        let request = strait_protocol::admin::CreateMirrorTopicRequest {
            mirror_topic: mirror_topic.clone(),
            link_name: link.name(),
            source_topic: Some(name.clone()),
            ..Default::default()
        };
        let outcome = engine.create_mirror(request).await;
        if outcome.is_error() {
            failures.push(format!(
                "{mirror_topic}: {}",
                outcome.error_message.unwrap_or_default()
            ));
        } else {
            tracing::info!(
                "link {}: auto-created mirror topic {mirror_topic}",
                link.name()
            );
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(LinkError::AutoCreate(failures))
    }
}

#[cfg(test)]
mod tests {
    use super::{FetchProbe, mirror_start};

    fn probe(high_watermark: i64, batch_base: Option<i64>, out_of_range: bool) -> FetchProbe {
        FetchProbe {
            high_watermark,
            batch_base,
            out_of_range,
        }
    }

    /// Table: (listed offset, probe) -> start, or the offset to probe next.
    #[test]
    fn the_start_is_a_batch_boundary_at_or_below_the_high_watermark() {
        let cases = [
            // At the high watermark: nothing to fetch, start there.
            (100, probe(100, None, false), Ok(100)),
            // Inside a batch: back to its base.
            (105, probe(120, Some(100), false), Ok(100)),
            // ListOffsets past the fetch high watermark (the drill's case):
            // probe again at the high watermark, never start past it.
            (130, probe(120, None, false), Err(120)),
            (130, probe(-1, None, true), Err(0)),
            (130, probe(120, None, true), Err(120)),
            // A gap: the next batch starts later.
            (50, probe(120, Some(60), false), Ok(60)),
        ];
        for (listed, p, want) in cases {
            assert_eq!(mirror_start(listed, &p), want, "{listed} {p:?}");
        }
    }
}
