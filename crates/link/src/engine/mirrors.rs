//! The mirrors section of the engine: the mirror admin operations (create,
//! list, describe, pause, unpause, promote, failover), the start and stop of
//! a mirror's fetchers, copying the source's topic configs onto a mirror,
//! and the engine's side of the state machine (`set_state`, `stop_mirror`),
//! which writes only through [`MirrorRuntime::write_state`]. It must never
//! write a mirror's log: fetchers do, through `LocalCluster`.

use std::collections::BTreeMap;
use std::sync::Arc;

use strait_client::KafkaClient;
use strait_metadata::{MetadataError, MirrorRecord, MirrorState, TopicRecord};
use strait_protocol::admin::*;

use super::links::{LinkRuntime, VALIDATION_CAP};
use super::source::{ClientSource, list_offset};
use super::{LinkEngine, lock, unknown_link};
use crate::clock::now_ms;
use crate::config::StartOffsetSpec;
use crate::error::{LinkError, admin_error};
use crate::fetcher::MirrorFetcher;
use crate::mirror::MirrorRuntime;
use crate::mirror_state::MirrorTopicState;

impl LinkEngine {
    /// (Re)starts the fetchers of an active mirror, one per partition.
    pub(super) fn start_fetchers(&self, mirror: &Arc<MirrorRuntime>) {
        let record = mirror.record();
        let Some(link) = self.link(&record.link) else {
            return;
        };
        let token = mirror.restart_token();
        if link.settings().paused {
            return;
        }
        let partitions = self.local_partitions(&record.topic);
        mirror.ensure_partitions(partitions as usize);
        for partition in 0..partitions as i32 {
            let fetcher = MirrorFetcher {
                source: ClientSource::new(link.clone(), record.source_topic.clone(), partition),
                link: link.clone(),
                mirror: mirror.clone(),
                local: self.local.clone(),
                partition,
                cancel: token.clone(),
            };
            let (link, mirror) = (link.clone(), mirror.clone());
            tokio::spawn(async move {
                if let Some(failure) = fetcher.run().await {
                    link.fail_mirror(&mirror, &failure.to_string());
                }
            });
        }
    }

    /// Moves a mirror to `state` through its one write path.
    pub(super) fn set_state(
        &self,
        mirror: &MirrorRuntime,
        state: MirrorTopicState,
        reason: Option<String>,
    ) -> Result<(), LinkError> {
        mirror.write_state(self.store.as_ref(), state, reason, now_ms())?;
        Ok(())
    }

    /// Stops mirroring for good: the topic becomes a normal writable topic.
    pub(super) fn stop_mirror(&self, mirror: &Arc<MirrorRuntime>, reason: Option<String>) {
        mirror.stop_fetchers();
        match self.set_state(mirror, MirrorTopicState::Stopped, reason) {
            Ok(()) => tracing::info!(
                "mirror topic {} stopped; it is now writable",
                mirror.topic()
            ),
            Err(e) => tracing::error!("stopping mirror {} failed: {e}", mirror.topic()),
        }
    }

    pub async fn create_mirror(self: &Arc<Self>, req: CreateMirrorTopicRequest) -> AdminError {
        admin_error(self.try_create_mirror(req).await)
    }

    async fn try_create_mirror(
        self: &Arc<Self>,
        req: CreateMirrorTopicRequest,
    ) -> Result<(), LinkError> {
        let link = self
            .link(&req.link_name)
            .ok_or_else(|| unknown_link(&req.link_name))?;
        let settings = link.settings();
        let source_topic = match (&settings.prefix, &req.source_topic) {
            (Some(prefix), None) => {
                return Err(LinkError::SourceTopicRequired {
                    link: req.link_name,
                    prefix: prefix.clone(),
                });
            }
            (Some(prefix), Some(source)) => {
                if req.mirror_topic != format!("{prefix}{source}") {
                    return Err(LinkError::RenameWithPrefix {
                        mirror: req.mirror_topic,
                        prefix: prefix.clone(),
                        source_topic: source.clone(),
                    });
                }
                source.clone()
            }
            (None, Some(source)) if *source != req.mirror_topic => {
                return Err(LinkError::Rename {
                    mirror: req.mirror_topic,
                    source_topic: source.clone(),
                });
            }
            (None, _) => req.mirror_topic.clone(),
        };
        if self.store.topic(&req.mirror_topic).is_some() {
            return Err(LinkError::TopicExists(req.mirror_topic));
        }
        let rf = req
            .replication_factor
            .unwrap_or_else(|| self.local.default_replication_factor());
        if rf != 1 && rf != -1 {
            return Err(LinkError::ReplicationFactor(rf));
        }
        let client = link
            .client()
            .await
            .map_err(|error| LinkError::SourceUnreachable {
                link: req.link_name.clone(),
                error,
            })?;
        let metadata = client
            .fetch_metadata(Some(std::slice::from_ref(&source_topic)))
            .await
            .map(|m| strait_client::ClusterMetadata::from_response(&m.body))
            .map_err(LinkError::SourceMetadata)?;
        let Some(source) = metadata.metadata.topics.get(&source_topic).cloned() else {
            return Err(LinkError::NoSourceTopic {
                topic: source_topic,
                link: req.link_name,
            });
        };
        let partitions = source.partitions.len() as u32;
        let mut configs = crate::sync::source_topic_configs(&client, &source_topic)
            .await
            .map_err(LinkError::SourceConfigs)?;
        let include = settings.raw.get("topic.config.sync.include").cloned();
        // Confluent's rule: a mirror is created with local values for the
        // configs that may follow the source (its REST example sets
        // retention.ms); those stay local. Only the always-synced ones
        // (cleanup.policy, max.message.bytes, ...) must come from the source.
        let local_overrides: Vec<String> = req
            .configs
            .keys()
            .filter(|k| crate::sync::is_synced(k, include.as_deref()))
            .cloned()
            .collect();
        configs.retain(|k, _| crate::sync::follows_source(k, include.as_deref(), &local_overrides));
        if let Some(key) = req
            .configs
            .keys()
            .find(|key| crate::sync::ALWAYS_SYNCED.contains(&key.as_str()))
        {
            return Err(LinkError::SyncedConfig {
                key: key.clone(),
                mirror: req.mirror_topic,
            });
        }
        configs.extend(req.configs.clone());
        self.local
            .validate_topic_configs(&configs)
            .map_err(LinkError::InvalidTopicConfig)?;
        if req.validate_only {
            return Ok(());
        }
        let topic = TopicRecord {
            name: req.mirror_topic.clone(),
            id: uuid::Uuid::new_v4(),
            partitions,
            replication_factor: 1,
            configs,
            created_ms: now_ms(),
        };
        let record = MirrorRecord {
            topic: req.mirror_topic.clone(),
            link: req.link_name.clone(),
            source_topic: source_topic.clone(),
            source_topic_id: Some(source.topic_id).filter(|id| !id.is_nil()),
            state: MirrorState::Active,
            state_time_ms: now_ms(),
            reason: None,
            last_source_offsets: vec![],
            local_overrides,
        };
        self.store
            .create_mirror_topic(topic.clone(), record.clone())
            .map_err(|e| match e {
                MetadataError::TopicExists(t) => LinkError::TopicExists(t),
                MetadataError::UnknownLink(l) => LinkError::UnknownLink(l),
                other => other.into(),
            })?;
        if let Err(e) = self.local.open_topic(&topic) {
            let _ = self.store.delete_topic(&topic.name);
            return Err(LinkError::OpenTopic(e));
        }
        if let Err(e) = self
            .position_new_mirror(&client, &topic, &source_topic, settings.start_offset)
            .await
        {
            tracing::warn!(
                "positioning mirror {} failed, it starts at the earliest source offset: {e}",
                topic.name
            );
        }
        let runtime = Arc::new(MirrorRuntime::new(record, partitions as usize));
        lock(&self.mirrors).insert(req.mirror_topic.clone(), runtime.clone());
        self.start_fetchers(&runtime);
        tracing::info!(
            "created mirror topic {} from {} over link {}",
            req.mirror_topic,
            source_topic,
            req.link_name
        );
        Ok(())
    }

    /// Moves each new (empty) mirror partition to where mirroring starts, per
    /// `mirror.start.offset.spec`, aligned to the start of a source batch.
    async fn position_new_mirror(
        &self,
        client: &KafkaClient,
        topic: &TopicRecord,
        source_topic: &str,
        spec: StartOffsetSpec,
    ) -> Result<(), LinkError> {
        for partition in 0..topic.partitions as i32 {
            let target = match spec {
                StartOffsetSpec::Earliest => list_offset(client, source_topic, partition, -2).await,
                StartOffsetSpec::Latest => list_offset(client, source_topic, partition, -1).await,
                StartOffsetSpec::Timestamp(ts) => {
                    match list_offset(client, source_topic, partition, ts).await {
                        Ok(-1) => list_offset(client, source_topic, partition, -1).await,
                        other => other,
                    }
                }
            }?;
            if target <= 0 {
                continue;
            }
            // The fetch answer, not ListOffsets alone, decides: a batch
            // boundary at or below the source's high watermark.
            let base =
                crate::sync::aligned_mirror_start(client, source_topic, partition, target).await?;
            self.local.reset_empty_to(&topic.name, partition, base)?;
        }
        Ok(())
    }

    pub fn list_mirrors(&self, req: ListMirrorsRequest) -> ListMirrorsResponse {
        if let Some(name) = &req.link_name
            && self.link(name).is_none()
        {
            return ListMirrorsResponse {
                error: unknown_link(name).into(),
                topics: vec![],
            };
        }
        let mut topics: Vec<String> = lock(&self.mirrors)
            .values()
            .map(|m| m.record())
            .filter(|r| req.link_name.as_ref().is_none_or(|l| *l == r.link))
            .filter(|r| req.include_stopped || r.state != MirrorState::Stopped)
            .map(|r| r.topic)
            .collect();
        topics.sort();
        ListMirrorsResponse {
            error: AdminError::none(),
            topics,
        }
    }

    pub fn describe_mirrors(&self, req: DescribeMirrorsRequest) -> DescribeMirrorsResponse {
        if let Some(name) = &req.link_name
            && self.link(name).is_none()
        {
            return DescribeMirrorsResponse {
                error: unknown_link(name).into(),
                mirrors: vec![],
            };
        }
        let all: Vec<Arc<MirrorRuntime>> = lock(&self.mirrors).values().cloned().collect();
        if let Some(topics) = &req.topics {
            for t in topics {
                if !all.iter().any(|m| m.topic() == *t) {
                    return DescribeMirrorsResponse {
                        error: LinkError::NotAMirrorTopic(t.clone()).into(),
                        mirrors: vec![],
                    };
                }
            }
        }
        let now = now_ms();
        let mut mirrors: Vec<MirrorDescription> = all
            .iter()
            .filter(|m| {
                let r = m.record();
                req.link_name.as_ref().is_none_or(|l| *l == r.link)
                    && req.topics.as_ref().is_none_or(|t| t.contains(&r.topic))
                    && (req.include_stopped
                        || req.topics.is_some()
                        || r.state != MirrorState::Stopped)
            })
            .map(|m| {
                let r = m.record();
                let (link_id, paused, verifying) = self
                    .link(&r.link)
                    .map(|l| {
                        let s = l.settings();
                        (
                            l.record().id.to_string(),
                            s.paused,
                            s.verification_interval.is_some(),
                        )
                    })
                    .unwrap_or_default();
                m.describe(&link_id, paused, verifying, now, |p| {
                    self.local.log_end_offset(&r.topic, p).unwrap_or(-1)
                })
            })
            .collect();
        mirrors.sort_by(|a, b| a.mirror_topic.cmp(&b.mirror_topic));
        DescribeMirrorsResponse {
            error: AdminError::none(),
            mirrors,
        }
    }

    pub async fn alter_mirrors(self: &Arc<Self>, req: AlterMirrorsRequest) -> AlterMirrorsResponse {
        if let Some(name) = &req.link_name
            && self.link(name).is_none()
        {
            return AlterMirrorsResponse {
                error: unknown_link(name).into(),
                results: vec![],
            };
        }
        let mut results = Vec::new();
        for topic in &req.topics {
            let outcome = match self.mirror(topic) {
                Some(m)
                    if req
                        .link_name
                        .as_ref()
                        .is_some_and(|l| *l != m.record().link) =>
                {
                    Err(LinkError::NotMirrorOfLink {
                        topic: topic.clone(),
                        link: req.link_name.clone().unwrap_or_default(),
                    })
                }
                None if self.store.topic(topic).is_none() => {
                    Err(LinkError::UnknownTopic(topic.clone()))
                }
                None => Err(LinkError::NotMirrored(topic.clone())),
                Some(m) => self.alter_one(&m, req.op, req.validate_only).await,
            };
            results.push(MirrorOpResult {
                topic: topic.clone(),
                error: admin_error(outcome),
            });
        }
        AlterMirrorsResponse {
            error: AdminError::none(),
            results,
        }
    }

    async fn alter_one(
        self: &Arc<Self>,
        mirror: &Arc<MirrorRuntime>,
        op: MirrorOp,
        validate_only: bool,
    ) -> Result<(), LinkError> {
        let record = mirror.record();
        let topic = record.topic.clone();
        let state = record.state;
        let not_in = |operation: &'static str| LinkError::WrongMirrorState {
            operation,
            topic: topic.clone(),
            state: mirror.display_state(false),
        };
        match op {
            MirrorOp::Pause => {
                if state != MirrorState::Active {
                    return Err(not_in("pause"));
                }
                if validate_only {
                    return Ok(());
                }
                mirror.stop_fetchers();
                self.set_state(mirror, MirrorTopicState::Paused, None)
            }
            MirrorOp::Unpause => {
                if state != MirrorState::Paused {
                    return Err(not_in("unpause"));
                }
                if validate_only {
                    return Ok(());
                }
                self.set_state(mirror, MirrorTopicState::Active, None)?;
                self.start_fetchers(mirror);
                Ok(())
            }
            _ if state == MirrorState::Stopped
                && matches!(op, MirrorOp::Failover | MirrorOp::Promote) =>
            {
                Err(LinkError::AlreadyStopped {
                    topic,
                    link: record.link,
                })
            }
            MirrorOp::Failover => {
                if !validate_only {
                    self.stop_mirror(mirror, Some("failover".into()));
                }
                Ok(())
            }
            MirrorOp::Promote => {
                if !matches!(state, MirrorState::Active | MirrorState::Paused) {
                    return Err(not_in("promote"));
                }
                let link = self
                    .link(&record.link)
                    .ok_or_else(|| unknown_link(&record.link))?;
                // Bounded well inside the tools' 30 s call timeout, so an
                // unreachable source gets this answer rather than a timeout.
                let lag = tokio::time::timeout(VALIDATION_CAP, self.mirror_lag(&link, mirror))
                    .await
                    .unwrap_or(Err(LinkError::NoAnswerWithin(VALIDATION_CAP)))
                    .map_err(|e| LinkError::PromoteUnchecked {
                        topic: topic.clone(),
                        reason: Box::new(e),
                    })?;
                if lag > 0 {
                    return Err(LinkError::LagNotZero { topic, lag });
                }
                if validate_only {
                    return Ok(());
                }
                self.set_state(mirror, MirrorTopicState::PendingStopped, None)?;
                mirror.stop_fetchers();
                if let Err(e) = crate::sync::final_sync(self, &link, mirror).await {
                    tracing::warn!("final sync of {topic} before promotion failed: {e}");
                }
                self.stop_mirror(mirror, Some("promote".into()));
                Ok(())
            }
        }
    }

    /// Replaces a mirror topic's configs with the source's (local overrides
    /// given at creation are part of the stored record and are replaced too
    /// only where the source sets the same key).
    pub fn apply_source_configs(
        &self,
        topic: &str,
        source: BTreeMap<String, String>,
    ) -> Result<(), LinkError> {
        let Some(mut record) = self.store.topic(topic) else {
            return Err(LinkError::MirrorTopicMissing(topic.to_string()));
        };
        let (include, overrides) = match self.mirror(topic) {
            Some(m) => {
                let record = m.record();
                (self.sync_include(&record.link), record.local_overrides)
            }
            None => (None, Vec::new()),
        };
        let synced = |k: &str| crate::sync::follows_source(k, include.as_deref(), &overrides);
        let mut next: BTreeMap<String, String> = record
            .configs
            .iter()
            .filter(|(k, _)| !synced(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        next.extend(source.into_iter().filter(|(k, _)| synced(k)));
        if next == record.configs {
            return Ok(());
        }
        self.local.validate_topic_configs(&next)?;
        record.configs = next;
        self.store.update_topic(record.clone())?;
        self.local.reconfigure_topic(&record);
        Ok(())
    }

    /// Total lag of a mirror against the source's current high watermarks.
    async fn mirror_lag(
        &self,
        link: &LinkRuntime,
        mirror: &MirrorRuntime,
    ) -> Result<i64, LinkError> {
        let record = mirror.record();
        let client = link.client().await?;
        let partitions = self.local_partitions(&record.topic);
        let mut lag = 0;
        for p in 0..partitions as i32 {
            let hw = list_offset(&client, &record.source_topic, p, -1).await?;
            let leo = self.local.log_end_offset(&record.topic, p).unwrap_or(0);
            lag += (hw - leo).max(0);
            mirror.update_partition(p, |s| s.source_high_watermark = hw);
        }
        Ok(lag)
    }
}
