//! The fetcher in process: a scripted source, a real log as the sink.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use strait_client::ClientError;
use strait_client::admin::acls::AclBindingFilter;
use strait_log::{Log, LogConfig, LogError, PlainRecord, encode_plain_batch};
use strait_metadata::{
    AclBinding, EmbeddedStore, MetadataStore, MirrorRecord, MirrorState, OffsetRecord,
    PartitionKey, TopicRecord,
};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::local::{BoxFuture, LocalAclError, LocalCluster, LocalClusterError};

const TOPIC: &str = "m";

/// A v2 batch of `count` records at `base`.
fn batch(base: i64, count: usize) -> Vec<u8> {
    let values: Vec<Vec<u8>> = (0..count).map(|i| format!("v{i}").into_bytes()).collect();
    let records: Vec<PlainRecord<'_>> = values
        .iter()
        .map(|v| PlainRecord {
            timestamp: 1_000,
            key: None,
            value: Some(v),
            headers: &[],
        })
        .collect();
    let mut b = encode_plain_batch(&records).unwrap();
    // The base offset is outside the CRC.
    b[0..8].copy_from_slice(&base.to_be_bytes());
    b
}

fn answer(records: Vec<u8>, high_watermark: i64, log_start_offset: i64) -> FetchAnswer {
    FetchAnswer {
        error: None,
        high_watermark,
        log_start_offset,
        records: Bytes::from(records),
    }
}

fn error_answer(error: ResponseError) -> FetchAnswer {
    FetchAnswer {
        error: Some(error),
        high_watermark: -1,
        log_start_offset: -1,
        records: Bytes::new(),
    }
}

fn unreachable() -> SourceError {
    SourceError::Unreachable(ClientError::Connect {
        address: "source:9092".into(),
        reason: "connection refused".into(),
    })
}

/// A source that plays its script, then cancels the fetcher. `fetched_at`
/// lists the offset of every fetch, the one past the script included.
struct ScriptedSource {
    fetches: VecDeque<Result<FetchAnswer, SourceError>>,
    bounds: VecDeque<SourceBounds>,
    fetched_at: Arc<Mutex<Vec<i64>>>,
    cancel: CancellationToken,
}

impl MirrorSource for ScriptedSource {
    async fn fetch(&mut self, offset: i64, _: FetchLimits) -> Result<FetchAnswer, SourceError> {
        self.fetched_at.lock().unwrap().push(offset);
        match self.fetches.pop_front() {
            Some(next) => next,
            None => {
                // The end of the script: the fetcher is cancelled while
                // this fetch waits, as a long poll is.
                self.cancel.cancel();
                std::future::pending().await
            }
        }
    }

    async fn bounds(&mut self) -> Result<SourceBounds, SourceError> {
        self.bounds.pop_front().ok_or(SourceError::NoAnswer)
    }
}

struct TestLink {
    available: AtomicBool,
    traffic: FetchTraffic,
}

impl FetchLink for TestLink {
    fn settings(&self) -> LinkSettings {
        LinkSettings::from_configs(&BTreeMap::new())
    }
    fn set_available(&self, available: bool) {
        self.available.store(available, Ordering::Relaxed);
    }
    fn traffic(&self) -> &FetchTraffic {
        &self.traffic
    }
}

/// The sink: one real mirror partition.
struct LogSink {
    log: Log,
    store: Arc<dyn MetadataStore>,
}

impl LocalCluster for LogSink {
    fn cluster_id(&self) -> String {
        "local".into()
    }
    fn store(&self) -> Arc<dyn MetadataStore> {
        self.store.clone()
    }
    fn default_replication_factor(&self) -> i16 {
        1
    }
    fn open_topic(&self, _: &TopicRecord) -> Result<(), LocalClusterError> {
        Err(LocalClusterError::Stopping)
    }
    fn grow_topic(&self, _: &TopicRecord) -> Result<(), LocalClusterError> {
        Err(LocalClusterError::Stopping)
    }
    fn reconfigure_topic(&self, _: &TopicRecord) {}
    fn log_end_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        (topic == TOPIC && partition == 0).then(|| self.log.log_end_offset())
    }
    fn log_start_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        (topic == TOPIC && partition == 0).then(|| self.log.log_start_offset())
    }
    fn stored_batches(
        &self,
        _: &str,
        _: i32,
        from: i64,
        to: i64,
    ) -> Result<Vec<strait_log::StoredBatch>, LogError> {
        self.log.stored_batches(from, to)
    }
    fn mirror_append(&self, _: &str, _: i32, records: &[u8]) -> Result<i64, LogError> {
        self.log.append_mirror(records)?;
        Ok(self.log.log_end_offset())
    }
    fn validate_topic_configs(
        &self,
        _: &BTreeMap<String, String>,
    ) -> Result<(), LocalClusterError> {
        Ok(())
    }
    fn commit_offsets_if_inactive(
        &self,
        _: String,
        _: Vec<(PartitionKey, OffsetRecord)>,
    ) -> BoxFuture<Result<bool, LocalClusterError>> {
        Box::pin(async { Ok(false) })
    }
    fn advance_log_start(&self, _: &str, _: i32, offset: i64) -> Result<(), LogError> {
        if offset > self.log.log_start_offset() {
            self.log.delete_records_before(offset)?;
        }
        Ok(())
    }
    fn reset_empty_to(&self, _: &str, _: i32, offset: i64) -> Result<(), LogError> {
        self.log.reset_empty_to(offset)
    }
    fn acls(&self, _: &[AclBindingFilter]) -> Result<Vec<AclBinding>, LocalAclError> {
        Err(LocalAclError::NoAuthorizer)
    }
    fn create_acls(&self, _: Vec<AclBinding>) -> Result<(), LocalAclError> {
        Err(LocalAclError::NoAuthorizer)
    }
    fn delete_acls(&self, _: &[AclBinding]) -> Result<usize, LocalAclError> {
        Err(LocalAclError::NoAuthorizer)
    }
}

/// One scripted run of a fetcher for partition 0 of mirror `m`.
struct Run {
    failure: Option<MirrorFailure>,
    fetched_at: Vec<i64>,
    sink: Arc<LogSink>,
    mirror: Arc<MirrorRuntime>,
    link: Arc<TestLink>,
    _dir: tempfile::TempDir,
}

async fn run(fetches: Vec<Result<FetchAnswer, SourceError>>, bounds: Vec<SourceBounds>) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn MetadataStore> =
        Arc::new(EmbeddedStore::open(&dir.path().join("meta.redb")).unwrap());
    let log = Log::open(&dir.path().join("m-0"), LogConfig::default()).unwrap();
    let sink = Arc::new(LogSink { log, store });
    let mirror = Arc::new(MirrorRuntime::new(
        MirrorRecord {
            topic: TOPIC.into(),
            link: "dr".into(),
            source_topic: "s".into(),
            source_topic_id: None,
            state: MirrorState::Active,
            state_time_ms: 0,
            reason: None,
            last_source_offsets: vec![],
            local_overrides: vec![],
        },
        1,
    ));
    let link = Arc::new(TestLink {
        available: AtomicBool::new(false),
        traffic: FetchTraffic::default(),
    });
    let cancel = CancellationToken::new();
    let fetched_at = Arc::new(Mutex::new(Vec::new()));
    let fetcher = MirrorFetcher {
        source: ScriptedSource {
            fetches: fetches.into(),
            bounds: bounds.into(),
            fetched_at: fetched_at.clone(),
            cancel: cancel.clone(),
        },
        link: link.clone(),
        mirror: mirror.clone(),
        local: sink.clone(),
        partition: 0,
        cancel,
    };
    let failure = fetcher.run().await;
    let fetched_at = fetched_at.lock().unwrap().clone();
    Run {
        failure,
        fetched_at,
        sink,
        mirror,
        link,
        _dir: dir,
    }
}

/// Base offsets of the batches the mirror holds.
fn mirrored_bases(sink: &LogSink) -> Vec<i64> {
    let bytes = sink
        .log
        .read(sink.log.log_start_offset(), 1 << 20, i64::MAX)
        .unwrap();
    strait_log::split_and_verify(&bytes)
        .unwrap()
        .iter()
        .map(|s| s.header.base_offset)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn batches_keep_their_offsets_and_gaps_stay_gaps() {
    let r = run(
        vec![
            Ok(answer(batch(0, 3), 12, 0)),
            Ok(answer(batch(10, 2), 12, 0)),
        ],
        vec![],
    )
    .await;
    assert_eq!(r.failure, None);
    assert_eq!(r.fetched_at, vec![0, 3, 12]);
    assert_eq!(r.sink.log.log_end_offset(), 12);
    assert_eq!(mirrored_bases(&r.sink), vec![0, 10]);
    let stats = &r.mirror.partition_stats()[0];
    assert_eq!(
        (stats.dest_log_end_offset, stats.source_high_watermark),
        (12, 12)
    );
    assert_eq!(r.link.traffic.records(), 5);
    assert_eq!(r.mirror.traffic.records(), 5);
    assert!(r.link.available.load(Ordering::Relaxed));
}

#[tokio::test(start_paused = true)]
async fn a_partial_trailing_batch_waits_for_the_next_fetch() {
    let whole = batch(0, 3);
    let next = batch(3, 2);
    let mut cut = whole.clone();
    cut.extend_from_slice(&next[..next.len() / 2]);
    let r = run(
        vec![Ok(answer(cut, 5, 0)), Ok(answer(next.clone(), 5, 0))],
        vec![],
    )
    .await;
    assert_eq!(r.failure, None);
    assert_eq!(r.fetched_at, vec![0, 3, 5]);
    assert_eq!(mirrored_bases(&r.sink), vec![0, 3]);
    assert_eq!(
        r.link.traffic.bytes(),
        (whole.len() + next.len()) as u64,
        "the cut batch is counted once, when whole"
    );
}

#[tokio::test(start_paused = true)]
async fn an_overlapping_answer_fails_the_mirror_and_leaves_the_log_alone() {
    let r = run(
        vec![Ok(answer(batch(0, 5), 9, 0)), Ok(answer(batch(3, 4), 9, 0))],
        vec![],
    )
    .await;
    assert_eq!(
        r.failure,
        Some(MirrorFailure::Overlap {
            partition: 0,
            fetch_offset: 5
        })
    );
    assert_eq!(r.sink.log.log_end_offset(), 5);
    assert_eq!(mirrored_bases(&r.sink), vec![0]);
    assert_eq!(
        r.failure.unwrap().to_string(),
        "source partition 0 returned batches that overlap the mirror at offset 5"
    );
}

#[tokio::test(start_paused = true)]
async fn a_truncated_source_fails_the_mirror_instead_of_destroying_data() {
    let r = run(
        vec![
            Ok(answer(batch(0, 5), 5, 0)),
            Ok(error_answer(ResponseError::OffsetOutOfRange)),
        ],
        vec![SourceBounds {
            log_start: 0,
            log_end: 3,
        }],
    )
    .await;
    let failure = r.failure.unwrap();
    assert_eq!(
        failure,
        MirrorFailure::SourceBehind {
            partition: 0,
            end: 3,
            fetch_offset: 5
        }
    );
    assert_eq!(
        failure.to_string(),
        "source partition 0 ends at offset 3, before the mirror's log end offset 5: the source topic was truncated or recreated"
    );
    assert_eq!(r.sink.log.log_end_offset(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_recreated_source_is_retried_then_fails_the_mirror_when_behind() {
    let r = run(
        vec![
            Ok(answer(batch(0, 5), 5, 0)),
            Ok(error_answer(ResponseError::InconsistentTopicId)),
            Ok(error_answer(ResponseError::OffsetOutOfRange)),
        ],
        vec![SourceBounds {
            log_start: 0,
            log_end: 0,
        }],
    )
    .await;
    assert_eq!(r.fetched_at, vec![0, 5, 5]);
    assert!(matches!(
        r.failure,
        Some(MirrorFailure::SourceBehind { end: 0, .. })
    ));
    assert_eq!(mirrored_bases(&r.sink), vec![0]);
}

#[tokio::test(start_paused = true)]
async fn leader_moves_and_outages_are_retried_at_the_same_offset() {
    let stats_of = |r: &Run| r.mirror.partition_stats()[0].clone();
    let r = run(
        vec![
            Ok(error_answer(ResponseError::NotLeaderOrFollower)),
            Err(unreachable()),
        ],
        vec![],
    )
    .await;
    // The outage came last: the partition shows SOURCE_UNAVAILABLE.
    let stats = stats_of(&r);
    assert!(stats.source_unavailable);
    assert!(!r.link.available.load(Ordering::Relaxed));
    assert_eq!(r.mirror.display_state(false).as_str(), "SOURCE_UNAVAILABLE");

    let r = run(
        vec![
            Err(unreachable()),
            Ok(error_answer(ResponseError::NotLeaderOrFollower)),
        ],
        vec![],
    )
    .await;
    // A leader move means the source answered: not unavailable.
    let stats = stats_of(&r);
    assert!(!stats.source_unavailable);
    assert_eq!(stats.error.as_deref(), Some("source partition error 6"));

    let r = run(
        vec![
            Ok(error_answer(ResponseError::NotLeaderOrFollower)),
            Err(unreachable()),
            Ok(answer(batch(0, 2), 2, 0)),
        ],
        vec![],
    )
    .await;
    assert_eq!(r.failure, None);
    assert_eq!(r.fetched_at, vec![0, 0, 0, 2]);
    assert_eq!(mirrored_bases(&r.sink), vec![0]);
    let stats = stats_of(&r);
    assert!(!stats.source_unavailable && stats.error.is_none());
    assert!(r.link.available.load(Ordering::Relaxed));
}

#[tokio::test(start_paused = true)]
async fn the_log_start_follows_the_source() {
    let r = run(vec![Ok(answer(batch(0, 5), 5, 3))], vec![]).await;
    assert_eq!(r.failure, None);
    assert_eq!(r.sink.log.log_start_offset(), 3);
    assert_eq!(r.sink.log.log_end_offset(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_source_log_start_past_the_mirror_is_where_mirroring_continues() {
    let r = run(
        vec![
            Ok(error_answer(ResponseError::OffsetOutOfRange)),
            Ok(answer(batch(50, 3), 53, 50)),
        ],
        vec![SourceBounds {
            log_start: 50,
            log_end: 60,
        }],
    )
    .await;
    assert_eq!(r.failure, None);
    assert_eq!(r.fetched_at, vec![0, 50, 53]);
    assert_eq!(mirrored_bases(&r.sink), vec![50]);
    assert_eq!(r.sink.log.log_end_offset(), 53);
}

#[tokio::test(start_paused = true)]
async fn a_missing_mirror_partition_fails_the_mirror() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn MetadataStore> =
        Arc::new(EmbeddedStore::open(&dir.path().join("meta.redb")).unwrap());
    let log = Log::open(&dir.path().join("m-0"), LogConfig::default()).unwrap();
    let mirror = Arc::new(MirrorRuntime::new(
        MirrorRecord {
            topic: "gone".into(),
            link: "dr".into(),
            source_topic: "s".into(),
            source_topic_id: None,
            state: MirrorState::Active,
            state_time_ms: 0,
            reason: None,
            last_source_offsets: vec![],
            local_overrides: vec![],
        },
        1,
    ));
    let cancel = CancellationToken::new();
    let fetcher = MirrorFetcher {
        source: ScriptedSource {
            fetches: VecDeque::new(),
            bounds: VecDeque::new(),
            fetched_at: Arc::default(),
            cancel: cancel.clone(),
        },
        link: Arc::new(TestLink {
            available: AtomicBool::new(false),
            traffic: FetchTraffic::default(),
        }),
        mirror,
        local: Arc::new(LogSink { log, store }),
        partition: 0,
        cancel,
    };
    assert_eq!(
        fetcher.run().await.map(|f| f.to_string()).as_deref(),
        Some("mirror partition gone-0 is missing")
    );
}

/// The decision for each kind of answer, as a table.
#[test]
fn each_answer_gets_its_decision() {
    let whole = batch(0, 2);
    let mut cut = whole.clone();
    cut.extend_from_slice(&batch(2, 2)[..20]);
    assert_eq!(
        decide(&answer(cut, 4, 1)),
        Decision::Append {
            batches: Bytes::from(whole),
            high_watermark: 4,
            log_start_offset: 1
        }
    );
    assert_eq!(
        decide(&error_answer(ResponseError::OffsetOutOfRange)),
        Decision::CheckBounds
    );
    for e in [
        ResponseError::NotLeaderOrFollower,
        ResponseError::LeaderNotAvailable,
        ResponseError::FencedLeaderEpoch,
        ResponseError::UnknownLeaderEpoch,
        ResponseError::UnknownTopicOrPartition,
        ResponseError::UnknownTopicId,
        ResponseError::InconsistentTopicId,
    ] {
        assert_eq!(decide(&error_answer(e)), Decision::LeaderMoved(e));
    }
    assert_eq!(
        decide(&error_answer(ResponseError::CorruptMessage)),
        Decision::Retry(ResponseError::CorruptMessage)
    );
}

#[test]
fn bounds_decide_between_failing_skipping_and_retrying() {
    let bounds = SourceBounds {
        log_start: 10,
        log_end: 20,
    };
    assert_eq!(
        decide_bounds(1, 25, bounds),
        BoundsDecision::Fail(MirrorFailure::SourceBehind {
            partition: 1,
            end: 20,
            fetch_offset: 25
        })
    );
    assert_eq!(decide_bounds(1, 5, bounds), BoundsDecision::SkipTo(10));
    assert_eq!(decide_bounds(1, 10, bounds), BoundsDecision::Retry);
    assert_eq!(decide_bounds(1, 20, bounds), BoundsDecision::Retry);
}

#[test]
fn appends_and_log_starts() {
    assert!(matches!(
        decide_append(0, 5, Ok(9)),
        AppendOutcome::Appended(9)
    ));
    assert!(matches!(
        decide_append(
            0,
            5,
            Err(LogError::OffsetOutOfOrder {
                offset: 3,
                log_end_offset: 5
            })
        ),
        AppendOutcome::Fail(MirrorFailure::Overlap {
            partition: 0,
            fetch_offset: 5
        })
    ));
    assert!(matches!(
        decide_append(0, 5, Err(LogError::Closed)),
        AppendOutcome::Retry(LogError::Closed)
    ));
    assert_eq!(log_start_to_follow(0, 10), None);
    assert_eq!(log_start_to_follow(4, 10), Some(4));
    // Never past what the mirror holds.
    assert_eq!(log_start_to_follow(100, 10), Some(10));
}

#[test]
fn trims_partial_trailing_batch() {
    fn raw(len_field: i32, body: usize) -> Vec<u8> {
        let mut b = vec![0u8; 8];
        b.extend_from_slice(&len_field.to_be_bytes());
        b.extend(std::iter::repeat_n(7u8, body));
        b
    }
    let mut all = raw(20, 20);
    all.extend(raw(30, 30));
    let whole = all.len();
    all.extend(raw(40, 10)); // cut short
    let r = whole_batches(&Bytes::from(all));
    assert_eq!(r.len(), whole);
    assert!(whole_batches(&Bytes::from_static(b"short")).is_empty());
}
