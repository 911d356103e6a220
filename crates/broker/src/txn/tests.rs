//! Coordinator tests over a real store and group coordinator with a fake
//! host: the state machine and its error codes, fencing, markers, staged
//! offsets, produce verification, failures, recovery, timeouts and expiry.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use strait_metadata::{EmbeddedStore, MetadataStore, OffsetRecord, PartitionKey};

use super::metadata::epoch_exhausted;
use super::*;
use crate::group::{GroupConfig, GroupCoordinator};

#[derive(Default)]
struct FakeHost {
    next_pid: AtomicI64,
    fail: AtomicBool,
    /// (partition, producer id, epoch, commit)
    markers: Mutex<Vec<(PartitionKey, i64, i16, bool)>>,
}

impl FakeHost {
    fn markers(&self) -> Vec<(PartitionKey, i64, i16, bool)> {
        std::mem::take(&mut *lock(&self.markers))
    }
}

impl TxnHost for FakeHost {
    fn allocate_producer_id(&self) -> Result<i64, String> {
        Ok(self.next_pid.fetch_add(1, Ordering::SeqCst) + 1000)
    }

    fn write_marker(
        &self,
        partition: &PartitionKey,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> Result<(), String> {
        if self.fail.load(Ordering::SeqCst) {
            return Err("log closed".into());
        }
        lock(&self.markers).push((partition.clone(), producer_id, producer_epoch, commit));
        Ok(())
    }
}

struct Env {
    dir: tempfile::TempDir,
    store: Arc<dyn MetadataStore>,
    groups: GroupCoordinator,
    c: TxnCoordinator,
    host: FakeHost,
}

fn env_with(config: TxnConfig) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn MetadataStore> =
        Arc::new(EmbeddedStore::open(&dir.path().join("meta.redb")).expect("store"));
    let groups = GroupCoordinator::open(store.clone(), GroupConfig::default()).expect("groups");
    let c = TxnCoordinator::open(store.clone(), groups.clone(), config);
    Env {
        dir,
        store,
        groups,
        c,
        host: FakeHost::default(),
    }
}

fn env() -> Env {
    env_with(TxnConfig::default())
}

impl Env {
    /// A new coordinator over the same store, as after a restart.
    fn reopen(&self) -> TxnCoordinator {
        TxnCoordinator::open(
            self.store.clone(),
            self.groups.clone(),
            self.c.config().clone(),
        )
    }
}

fn tp(topic: &str, partition: i32) -> PartitionKey {
    PartitionKey::new(topic, partition)
}

fn offset(o: i64) -> OffsetRecord {
    OffsetRecord {
        offset: o,
        leader_epoch: -1,
        metadata: None,
        commit_ms: 1,
    }
}

async fn state(c: &TxnCoordinator, id: &str) -> TxnState {
    c.describe(id).await.map(|m| m.state).expect("known id")
}

#[tokio::test]
async fn init_allocates_then_bumps_and_persists() {
    let e = env();
    let (pid, epoch) =
        e.c.init_producer_id(&e.host, "t1", 60_000, None)
            .await
            .unwrap();
    assert_eq!((pid, epoch), (1000, 0));
    let again =
        e.c.init_producer_id(&e.host, "t1", 60_000, None)
            .await
            .unwrap();
    assert_eq!(again, (1000, 1));
    let other =
        e.c.init_producer_id(&e.host, "t2", 60_000, None)
            .await
            .unwrap();
    assert_eq!(other, (1001, 0));

    let reopened = e.reopen();
    let meta = reopened.describe("t1").await.unwrap();
    assert_eq!((meta.producer_id, meta.producer_epoch), (1000, 1));
    assert_eq!(meta.state, TxnState::Empty);
    let next = reopened
        .init_producer_id(&e.host, "t1", 60_000, None)
        .await
        .unwrap();
    assert_eq!(next, (1000, 2), "the mapping survives a restart");
    drop(e.dir);
}

#[tokio::test]
async fn init_validates_id_and_timeout() {
    let e = env();
    assert!(matches!(
        e.c.init_producer_id(&e.host, "", 1000, None).await,
        Err(TxnError::InvalidRequest(_))
    ));
    for bad in [0, -1, 900_001] {
        assert_eq!(
            e.c.init_producer_id(&e.host, "t", bad, None).await,
            Err(TxnError::InvalidTransactionTimeout),
            "{bad}"
        );
    }
    assert!(
        e.c.init_producer_id(&e.host, "t", 900_000, None)
            .await
            .is_ok()
    );
    let small = env_with(TxnConfig {
        max_timeout_ms: 500,
        ..TxnConfig::default()
    });
    assert_eq!(
        small.c.init_producer_id(&small.host, "t", 501, None).await,
        Err(TxnError::InvalidTransactionTimeout)
    );
}

#[tokio::test]
async fn init_with_expected_producer() {
    let e = env();
    let (pid, epoch) =
        e.c.init_producer_id(&e.host, "t", 1000, None)
            .await
            .unwrap();
    // KIP-360: the producer keeps its id and gets the next epoch.
    let bumped =
        e.c.init_producer_id(&e.host, "t", 1000, Some((pid, epoch)))
            .await
            .unwrap();
    assert_eq!(bumped, (pid, epoch + 1));
    // A retry of that call (the answer was lost) gets the same epoch.
    let retry =
        e.c.init_producer_id(&e.host, "t", 1000, Some((pid, epoch)))
            .await
            .unwrap();
    assert_eq!(retry, bumped);
    // Another producer id, or an older epoch, is fenced.
    assert_eq!(
        e.c.init_producer_id(&e.host, "t", 1000, Some((pid + 50, 0)))
            .await,
        Err(TxnError::ProducerFenced)
    );
    let (_, newest) =
        e.c.init_producer_id(&e.host, "t", 1000, None)
            .await
            .unwrap();
    assert_eq!(
        e.c.init_producer_id(&e.host, "t", 1000, Some((pid, newest - 2)))
            .await,
        Err(TxnError::ProducerFenced)
    );
}

#[test]
fn exhausted_epochs_rotate_the_producer_id() {
    let mut m = TxnMetadata::new(5, 1000, 0);
    m.producer_epoch = i16::MAX - 1;
    assert!(epoch_exhausted(m.producer_epoch));
    assert!(m.needs_rotation(None));
    assert!(m.needs_rotation(Some(i16::MAX - 1)));
    assert!(!m.needs_rotation(Some(3)));
    assert_eq!(
        m.with_bumped_epoch(1000, Some(3), 1),
        Err(TxnError::ProducerFenced)
    );
    let r = m.with_rotated_producer_id(6, 2000, true, 9);
    assert_eq!((r.producer_id, r.producer_epoch), (6, 0));
    assert_eq!(
        (r.last_producer_id, r.last_producer_epoch),
        (5, i16::MAX - 1)
    );
    assert_eq!(r.timeout_ms, 2000);
    // A retry naming the old id with its exhausted epoch is accepted.
    assert!(r.accepts_expected(5, i16::MAX - 1));
    assert!(!r.accepts_expected(5, 3));
    // Fencing never overflows.
    let mut f = TxnMetadata::new(5, 1000, 0);
    f.producer_epoch = i16::MAX;
    assert_eq!(f.fenced_for_abort(1).producer_epoch, i16::MAX);
}

#[tokio::test]
async fn commit_writes_markers_to_every_partition() {
    let e = env();
    let (pid, epoch) =
        e.c.init_producer_id(&e.host, "t", 60_000, None)
            .await
            .unwrap();
    e.c.add_partitions("t", pid, epoch, &[tp("a", 0), tp("a", 1)])
        .await
        .unwrap();
    e.c.add_partitions("t", pid, epoch, &[tp("b", 0), tp("a", 0)])
        .await
        .unwrap();
    assert_eq!(state(&e.c, "t").await, TxnState::Ongoing);
    let r = e.c.end_txn(&e.host, "t", pid, epoch, true).await.unwrap();
    assert_eq!(r, (pid, epoch));
    let mut markers = e.host.markers();
    markers.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        markers,
        vec![
            (tp("a", 0), pid, epoch, true),
            (tp("a", 1), pid, epoch, true),
            (tp("b", 0), pid, epoch, true)
        ]
    );
    let meta = e.c.describe("t").await.unwrap();
    assert_eq!(meta.state, TxnState::CompleteCommit);
    assert!(meta.partitions.is_empty());
    // A retried commit succeeds without new markers; an abort now is invalid.
    assert!(e.c.end_txn(&e.host, "t", pid, epoch, true).await.is_ok());
    assert!(e.host.markers().is_empty());
    assert_eq!(
        e.c.end_txn(&e.host, "t", pid, epoch, false).await,
        Err(TxnError::InvalidTxnState)
    );
    // The next transaction starts from CompleteCommit; abort writes ABORT.
    e.c.add_partitions("t", pid, epoch, &[tp("a", 0)])
        .await
        .unwrap();
    e.c.end_txn(&e.host, "t", pid, epoch, false).await.unwrap();
    assert_eq!(e.host.markers(), vec![(tp("a", 0), pid, epoch, false)]);
    assert_eq!(state(&e.c, "t").await, TxnState::CompleteAbort);
    assert_eq!(
        e.c.end_txn(&e.host, "t", pid, epoch, true).await,
        Err(TxnError::InvalidTxnState)
    );
}

#[tokio::test]
async fn requests_from_the_wrong_producer_are_refused() {
    let e = env();
    assert_eq!(
        e.c.add_partitions("nobody", 1, 0, &[tp("a", 0)]).await,
        Err(TxnError::InvalidProducerIdMapping)
    );
    assert_eq!(
        e.c.end_txn(&e.host, "nobody", 1, 0, true).await,
        Err(TxnError::InvalidProducerIdMapping)
    );
    assert!(matches!(
        e.c.add_offsets("", 1, 0, "g").await,
        Err(TxnError::InvalidRequest(_))
    ));
    let (pid, epoch) =
        e.c.init_producer_id(&e.host, "t", 60_000, None)
            .await
            .unwrap();
    assert_eq!(
        e.c.add_partitions("t", pid + 1, epoch, &[tp("a", 0)]).await,
        Err(TxnError::InvalidProducerIdMapping)
    );
    assert_eq!(
        e.c.add_partitions("t", pid, epoch + 1, &[tp("a", 0)]).await,
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(
        e.c.end_txn(&e.host, "t", pid, epoch, true).await,
        Err(TxnError::InvalidTxnState),
        "nothing to end while Empty"
    );
}

#[tokio::test]
async fn a_new_producer_aborts_and_fences_the_old_one() {
    let e = env();
    let (pid, epoch) =
        e.c.init_producer_id(&e.host, "t", 60_000, None)
            .await
            .unwrap();
    e.c.add_partitions("t", pid, epoch, &[tp("a", 0), tp("a", 1)])
        .await
        .unwrap();
    let (pid2, epoch2) =
        e.c.init_producer_id(&e.host, "t", 60_000, None)
            .await
            .unwrap();
    assert_eq!(pid2, pid);
    assert_eq!(
        epoch2,
        epoch + 2,
        "one bump fences, the next is the new producer's"
    );
    let markers = e.host.markers();
    assert_eq!(markers.len(), 2);
    assert!(
        markers
            .iter()
            .all(|m| m.1 == pid && m.2 == epoch + 1 && !m.3)
    );
    assert_eq!(state(&e.c, "t").await, TxnState::Empty);
    assert_eq!(
        e.c.add_partitions("t", pid, epoch, &[tp("a", 0)]).await,
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(
        e.c.end_txn(&e.host, "t", pid, epoch, true).await,
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(
        e.c.append_in_txn(Some("t"), pid, epoch, &tp("a", 0), || ())
            .await,
        Err(TxnError::ProducerFenced)
    );
}

#[tokio::test]
async fn offsets_are_committed_only_with_the_transaction() {
    let e = env();
    let (pid, epoch) =
        e.c.init_producer_id(&e.host, "t", 60_000, None)
            .await
            .unwrap();
    let stage = |o: i64| {
        e.c.stage_offsets(
            "t",
            pid,
            epoch,
            "g",
            -1,
            "",
            None,
            vec![(tp("in", 0), offset(o))],
        )
    };
    assert_eq!(stage(5).await, Err(TxnError::NotInTransaction));
    e.c.add_offsets("t", pid, epoch, "g").await.unwrap();
    assert_eq!(state(&e.c, "t").await, TxnState::Ongoing);
    stage(5).await.unwrap();
    stage(7).await.unwrap();
    assert!(e.c.has_pending_offset("g", &tp("in", 0)));
    assert!(!e.c.has_pending_offset("g", &tp("in", 1)));
    assert!(e.groups.fetch_offsets("g", None).is_empty());
    // Staged offsets survive a restart with the transaction.
    assert_eq!(
        e.reopen().describe("t").await.unwrap().pending_offsets["g"][&tp("in", 0)].offset,
        7
    );
    e.c.end_txn(&e.host, "t", pid, epoch, true).await.unwrap();
    assert!(!e.c.has_pending_offset("g", &tp("in", 0)));
    let committed = e.groups.fetch_offsets("g", None);
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0].1.as_ref().map(|o| o.offset), Some(7));

    // Aborted: nothing changes.
    e.c.add_offsets("t", pid, epoch, "g").await.unwrap();
    stage(9).await.unwrap();
    e.c.end_txn(&e.host, "t", pid, epoch, false).await.unwrap();
    let committed = e.groups.fetch_offsets("g", None);
    assert_eq!(committed[0].1.as_ref().map(|o| o.offset), Some(7));
    assert!(!e.c.has_pending_offset("g", &tp("in", 0)));
}

#[tokio::test]
async fn staged_offsets_check_the_group_member() {
    let e = env();
    let (pid, epoch) =
        e.c.init_producer_id(&e.host, "t", 60_000, None)
            .await
            .unwrap();
    e.c.add_offsets("t", pid, epoch, "g").await.unwrap();
    // A generation for a group that does not exist.
    assert_eq!(
        e.c.stage_offsets(
            "t",
            pid,
            epoch,
            "g",
            3,
            "m",
            None,
            vec![(tp("in", 0), offset(1))]
        )
        .await,
        Err(TxnError::Group(GroupError::IllegalGeneration))
    );
    assert_eq!(
        e.c.stage_offsets("t", pid, epoch + 1, "g", -1, "", None, vec![])
            .await,
        Err(TxnError::ProducerFenced)
    );
}

#[tokio::test]
async fn produce_needs_the_partition_in_the_transaction() {
    let e = env();
    let (pid, epoch) =
        e.c.init_producer_id(&e.host, "t", 60_000, None)
            .await
            .unwrap();
    assert_eq!(
        e.c.append_in_txn(Some("t"), pid, epoch, &tp("a", 0), || 1)
            .await,
        Err(TxnError::NotInTransaction)
    );
    e.c.add_partitions("t", pid, epoch, &[tp("a", 0)])
        .await
        .unwrap();
    assert_eq!(
        e.c.append_in_txn(Some("t"), pid, epoch, &tp("a", 0), || 1)
            .await,
        Ok(1)
    );
    assert_eq!(
        e.c.append_in_txn(None, pid, epoch, &tp("a", 0), || 2).await,
        Ok(2),
        "the producer id names the transactional id"
    );
    assert_eq!(
        e.c.append_in_txn(Some("t"), pid, epoch, &tp("a", 1), || 1)
            .await,
        Err(TxnError::NotInTransaction)
    );
    assert_eq!(
        e.c.append_in_txn(None, 424242, 0, &tp("a", 0), || 1).await,
        Err(TxnError::InvalidProducerIdMapping)
    );
    assert_eq!(
        e.c.append_in_txn(Some("t"), pid + 1, epoch, &tp("a", 0), || 1)
            .await,
        Err(TxnError::InvalidProducerIdMapping)
    );
    let verified =
        e.c.verify_partitions("t", pid, epoch, &[tp("a", 0), tp("a", 1)])
            .await
            .unwrap();
    assert_eq!(
        verified,
        vec![
            (tp("a", 0), Ok(())),
            (tp("a", 1), Err(TxnError::NotInTransaction))
        ]
    );
    e.c.end_txn(&e.host, "t", pid, epoch, true).await.unwrap();
    assert_eq!(
        e.c.append_in_txn(Some("t"), pid, epoch, &tp("a", 0), || 1)
            .await,
        Err(TxnError::NotInTransaction),
        "after the commit marker, a new transaction must add it again"
    );
}

#[tokio::test]
async fn failed_markers_are_retried_and_the_decision_stands() {
    let e = env();
    let (pid, epoch) =
        e.c.init_producer_id(&e.host, "t", 60_000, None)
            .await
            .unwrap();
    e.c.add_offsets("t", pid, epoch, "g").await.unwrap();
    e.c.add_partitions("t", pid, epoch, &[tp("a", 0)])
        .await
        .unwrap();
    e.c.stage_offsets(
        "t",
        pid,
        epoch,
        "g",
        -1,
        "",
        None,
        vec![(tp("a", 0), offset(3))],
    )
    .await
    .unwrap();
    e.host.fail.store(true, Ordering::SeqCst);
    assert!(e.c.end_txn(&e.host, "t", pid, epoch, true).await.is_ok());
    assert_eq!(state(&e.c, "t").await, TxnState::PrepareCommit);
    assert_eq!(
        e.c.add_partitions("t", pid, epoch, &[tp("a", 0)]).await,
        Err(TxnError::ConcurrentTransactions)
    );
    assert_eq!(
        e.c.end_txn(&e.host, "t", pid, epoch, true).await,
        Err(TxnError::ConcurrentTransactions)
    );
    assert_eq!(
        e.c.end_txn(&e.host, "t", pid, epoch, false).await,
        Err(TxnError::InvalidTxnState)
    );
    assert_eq!(
        e.c.init_producer_id(&e.host, "t", 60_000, None).await,
        Err(TxnError::ConcurrentTransactions)
    );
    assert!(e.groups.fetch_offsets("g", None).is_empty());
    e.host.fail.store(false, Ordering::SeqCst);
    e.c.tick(&e.host, Broker::now_ms()).await;
    assert_eq!(state(&e.c, "t").await, TxnState::CompleteCommit);
    assert_eq!(e.host.markers(), vec![(tp("a", 0), pid, epoch, true)]);
    assert_eq!(e.groups.fetch_offsets("g", None).len(), 1);
}

#[tokio::test]
async fn restart_aborts_open_and_completes_prepared_transactions() {
    let e = env();
    let (p1, e1) =
        e.c.init_producer_id(&e.host, "open", 60_000, None)
            .await
            .unwrap();
    e.c.add_partitions("open", p1, e1, &[tp("a", 0)])
        .await
        .unwrap();
    let (p2, e2) =
        e.c.init_producer_id(&e.host, "prepared", 60_000, None)
            .await
            .unwrap();
    e.c.add_partitions("prepared", p2, e2, &[tp("a", 1)])
        .await
        .unwrap();
    e.host.fail.store(true, Ordering::SeqCst);
    e.c.end_txn(&e.host, "prepared", p2, e2, true)
        .await
        .unwrap();
    e.host.fail.store(false, Ordering::SeqCst);

    let c = e.reopen();
    assert_eq!(state(&c, "open").await, TxnState::Ongoing);
    c.recover(&e.host).await;
    let mut markers = e.host.markers();
    markers.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        markers,
        vec![(tp("a", 0), p1, e1 + 1, false), (tp("a", 1), p2, e2, true)]
    );
    assert_eq!(state(&c, "open").await, TxnState::CompleteAbort);
    assert_eq!(state(&c, "prepared").await, TxnState::CompleteCommit);
    assert_eq!(
        c.add_partitions("open", p1, e1, &[tp("a", 0)]).await,
        Err(TxnError::ProducerFenced),
        "the producer of the aborted transaction is fenced"
    );
    assert_eq!(
        c.init_producer_id(&e.host, "open", 60_000, None).await,
        Ok((p1, e1 + 2))
    );
}

#[tokio::test]
async fn timed_out_transactions_are_aborted_and_idle_ids_expire() {
    let e = env_with(TxnConfig {
        id_expiration_ms: 60_000,
        ..TxnConfig::default()
    });
    let (pid, epoch) =
        e.c.init_producer_id(&e.host, "t", 1_000, None)
            .await
            .unwrap();
    e.c.add_partitions("t", pid, epoch, &[tp("a", 0)])
        .await
        .unwrap();
    let now = Broker::now_ms();
    e.c.tick(&e.host, now).await;
    assert_eq!(
        state(&e.c, "t").await,
        TxnState::Ongoing,
        "not timed out yet"
    );
    e.c.tick(&e.host, now + 5_000).await;
    assert_eq!(state(&e.c, "t").await, TxnState::CompleteAbort);
    assert_eq!(e.host.markers(), vec![(tp("a", 0), pid, epoch + 1, false)]);
    assert_eq!(
        e.c.end_txn(&e.host, "t", pid, epoch, true).await,
        Err(TxnError::ProducerFenced)
    );
    // Idle for longer than the expiration: forgotten, in memory and store.
    e.c.tick(&e.host, now + 120_000).await;
    assert!(e.c.describe("t").await.is_none());
    assert!(e.store.txn_state("t").is_none());
    assert_eq!(
        e.c.append_in_txn(None, pid, epoch + 1, &tp("a", 0), || ())
            .await,
        Err(TxnError::InvalidProducerIdMapping)
    );
    let (new_pid, new_epoch) =
        e.c.init_producer_id(&e.host, "t", 1_000, None)
            .await
            .unwrap();
    assert_ne!(new_pid, pid);
    assert_eq!(new_epoch, 0);
}

#[test]
fn config_reads_properties() {
    let props = BTreeMap::from([
        ("transaction.max.timeout.ms".to_string(), "1000".to_string()),
        (
            "transaction.abort.timed.out.transaction.cleanup.interval.ms".to_string(),
            "250".to_string(),
        ),
        (
            "transactional.id.expiration.ms".to_string(),
            "bad".to_string(),
        ),
    ]);
    let c = TxnConfig::from_properties(&props);
    assert_eq!(c.max_timeout_ms, 1000);
    assert_eq!(c.cleanup_interval, Duration::from_millis(250));
    assert_eq!(c.id_expiration_ms, TxnConfig::default().id_expiration_ms);
}

#[test]
fn stored_form_round_trips() {
    let mut m = TxnMetadata::new(7, 1234, 99);
    m.producer_epoch = 3;
    m.last_producer_epoch = 2;
    m.last_producer_id = 6;
    m = m.with_added(&[tp("a", 1)], Some("g"), 100);
    m = m.with_staged_offsets("g", vec![(tp("x", 0), offset(4))], 101);
    let bytes = persist::encode(&m).unwrap();
    assert_eq!(persist::decode(&bytes).unwrap(), m);
    assert!(persist::decode(b"{}").is_err());
}

use crate::state::Broker;
