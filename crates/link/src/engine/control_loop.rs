//! Each link's control loop: on its own cadences it checks the source
//! (availability; source topics deleted, recreated or grown), follows the
//! source topic configs, watches paused mirrors' lag, and runs the sync
//! tasks (auto-created mirrors, consumer offsets, ACLs), reporting each
//! task's outcome; with `mirror.verification.interval.ms` set it verifies
//! its active mirrors against the source every interval. It must never block the engine's admin operations: it
//! holds no engine lock across a source call.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use strait_client::ClientError;
use strait_metadata::MirrorState;

use super::LinkEngine;
use super::links::LinkRuntime;
use crate::error::LinkError;
use crate::mirror::MirrorRuntime;
use crate::task::SyncTask;
use crate::verification::VerificationSchedule;

impl LinkEngine {
    pub(super) fn spawn_control_loop(self: &Arc<Self>, link: Arc<LinkRuntime>) {
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            let floor = Duration::from_millis(200);
            let start = tokio::time::Instant::now();
            let (mut metadata_due, mut offsets_due, mut auto_due, mut acl_due) =
                (start, start, start, start);
            let mut verification = VerificationSchedule::starting_at(start);
            loop {
                tokio::select! {
                    _ = link.cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                let s = link.settings();
                if s.paused {
                    continue;
                }
                let now = tokio::time::Instant::now();
                if now >= metadata_due {
                    metadata_due = now + s.topic_config_sync.min(s.metadata_max_age).max(floor);
                    let outcome = engine.check_source(&link).await;
                    link.report_task(SyncTask::TopicConfigSync, outcome);
                }
                if s.auto_create_enable && now >= auto_due {
                    auto_due = now + s.metadata_max_age.max(floor);
                    let outcome = crate::sync::auto_create_mirrors(&engine, &link).await;
                    link.report_task(SyncTask::AutoCreateMirror, outcome);
                }
                if s.offset_sync_enable && now >= offsets_due {
                    offsets_due = now + s.offset_sync.max(floor);
                    let outcome = crate::sync::sync_consumer_offsets(&engine, &link, None).await;
                    link.report_task(SyncTask::ConsumerOffsetSync, outcome);
                }
                if !s.acl_sync_enable {
                    link.forget_task(SyncTask::AclSync);
                    // Enabling it later syncs at once.
                    acl_due = now;
                } else if now >= acl_due {
                    acl_due = now + s.acl_sync.max(floor);
                    let outcome = crate::acl_sync::sync_acls(&engine, &link).await;
                    link.report_task(SyncTask::AclSync, outcome);
                }
                if verification.take_due(now, s.verification_interval, floor) {
                    engine.verify_active_mirrors(&link).await;
                }
            }
        });
    }

    /// One pass of the link's control loop: is the source reachable; were
    /// source topics deleted, recreated or grown; the metadata sync tasks.
    async fn check_source(self: &Arc<Self>, link: &Arc<LinkRuntime>) -> Result<(), LinkError> {
        let client = match link.client().await {
            Ok(c) => c,
            Err(e) => {
                link.set_available(false);
                return Err(e.into());
            }
        };
        let mirrors: Vec<Arc<MirrorRuntime>> = self
            .mirrors_of(&link.name())
            .into_iter()
            .filter(|m| matches!(m.state(), MirrorState::Active | MirrorState::Paused))
            .collect();
        let sources: Vec<String> = mirrors.iter().map(|m| m.record().source_topic).collect();
        let update = match client.fetch_metadata(Some(&sources)).await {
            Ok(u) => strait_client::ClusterMetadata::from_response(&u.body),
            Err(e) => {
                link.set_available(false);
                link.reset_client().await;
                return Err(e.into());
            }
        };
        link.set_available(true);
        for mirror in mirrors {
            let record = mirror.record();
            match update.metadata.topics.get(&record.source_topic) {
                None => {
                    let gone = update
                        .topic_errors
                        .get(&record.source_topic)
                        .and_then(ClientError::server_error)
                        .is_some_and(|e| e == ResponseError::UnknownTopicOrPartition);
                    if gone {
                        link.fail_mirror(
                            &mirror,
                            &format!("source topic '{}' was deleted", record.source_topic),
                        );
                    }
                }
                Some(source) => {
                    if let Some(expected) = record.source_topic_id
                        && !source.topic_id.is_nil()
                        && source.topic_id != expected
                    {
                        link.fail_mirror(
                            &mirror,
                            &format!(
                                "source topic '{}' was deleted and recreated",
                                record.source_topic
                            ),
                        );
                        continue;
                    }
                    if mirror.state() == MirrorState::Paused {
                        self.observe_paused(&client, &mirror).await;
                    }
                    if mirror.state() == MirrorState::Active {
                        let configs =
                            crate::sync::source_topic_configs(&client, &record.source_topic)
                                .await?;
                        self.apply_source_configs(&record.topic, configs)?;
                    }
                    let count = source.partitions.len() as u32;
                    if let Some(mut topic) = self.store.topic(&record.topic)
                        && count > topic.partitions
                    {
                        topic.partitions = count;
                        self.store.update_topic(topic.clone())?;
                        self.local.grow_topic(&topic)?;
                        tracing::info!("mirror topic {} grew to {count} partitions", record.topic);
                        if mirror.state() == MirrorState::Active {
                            self.start_fetchers(&mirror);
                        } else {
                            mirror.ensure_partitions(count as usize);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
