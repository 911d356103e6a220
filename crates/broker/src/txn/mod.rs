//! The transaction coordinator: the one owner of every transactional id on
//! this broker — its producer id and epoch, the state of its transaction, the
//! partitions and consumer groups in it and the offsets it staged — and of
//! completing transactions (COMMIT/ABORT markers, then the staged offsets).
//!
//! Each transactional id lives behind its own async mutex, held for a whole
//! operation (markers included), so an id's requests run one at a time while
//! other ids proceed. Every transition is persisted through the
//! `MetadataStore` (`txn_state`) before it is adopted or answered, so a kill
//! -9 loses no producer id mapping; on start, open transactions are aborted
//! and prepared ones completed. A background task aborts transactions older
//! than their timeout, retries unfinished completions and expires idle ids.
//!
//! This module must never speak the Kafka wire format (`handlers::txn`
//! translates) nor touch partition logs or producer ids directly: it writes
//! markers and allocates ids through [`TxnHost`].

mod host;
mod metadata;
mod persist;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use strait_metadata::{MetadataStore, OffsetRecord, PartitionKey};

use crate::group::{GroupCoordinator, GroupError};

pub use metadata::{TxnMetadata, TxnState};

/// The coordinator epoch stamped on markers. A single node is the only
/// coordinator there is, so it never changes.
pub const COORDINATOR_EPOCH: i32 = 0;

/// Why a transaction request failed, in the terms of Kafka's error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("the transaction timeout is not positive or exceeds transaction.max.timeout.ms")]
    InvalidTransactionTimeout,
    #[error("a transaction of this transactional id is being completed")]
    ConcurrentTransactions,
    #[error("a newer producer with the same transactional id fenced this one")]
    ProducerFenced,
    #[error("the producer id is not the one of this transactional id")]
    InvalidProducerIdMapping,
    #[error("the transaction is not in a state that allows this request")]
    InvalidTxnState,
    #[error("the partition or group was not added to the transaction")]
    NotInTransaction,
    #[error("{0}")]
    Group(GroupError),
    #[error("storing transaction state failed: {0}")]
    Storage(String),
    #[error("internal coordinator error: {0}")]
    Internal(String),
}

/// What the coordinator needs from the rest of the broker.
pub trait TxnHost: Send + Sync {
    /// A producer id never handed out before.
    fn allocate_producer_id(&self) -> Result<i64, String>;

    /// Appends a COMMIT (or ABORT) marker for the producer to a partition.
    /// Ok once written, or when there is nothing to mark (the partition is
    /// gone, or the marker is obsolete); Err when it should be retried.
    fn write_marker(
        &self,
        partition: &PartitionKey,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> Result<(), String>;
}

/// Broker settings the coordinator obeys.
#[derive(Debug, Clone)]
pub struct TxnConfig {
    /// transaction.max.timeout.ms
    pub max_timeout_ms: i32,
    /// transaction.abort.timed.out.transaction.cleanup.interval.ms
    pub cleanup_interval: Duration,
    /// transactional.id.expiration.ms
    pub id_expiration_ms: i64,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            max_timeout_ms: 900_000,
            cleanup_interval: Duration::from_millis(10_000),
            id_expiration_ms: 604_800_000,
        }
    }
}

impl TxnConfig {
    /// Reads the transaction settings from broker properties; absent or
    /// unparsable keys keep Kafka's defaults.
    pub fn from_properties(props: &BTreeMap<String, String>) -> Self {
        fn get<T: std::str::FromStr>(props: &BTreeMap<String, String>, key: &str) -> Option<T> {
            props.get(key).and_then(|v| v.trim().parse().ok())
        }
        let d = TxnConfig::default();
        TxnConfig {
            max_timeout_ms: get::<i32>(props, "transaction.max.timeout.ms")
                .filter(|v| *v > 0)
                .unwrap_or(d.max_timeout_ms),
            cleanup_interval: get::<u64>(
                props,
                "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            )
            .filter(|v| *v > 0)
            .map(Duration::from_millis)
            .unwrap_or(d.cleanup_interval),
            id_expiration_ms: get::<i64>(props, "transactional.id.expiration.ms")
                .filter(|v| *v > 0)
                .unwrap_or(d.id_expiration_ms),
        }
    }
}

/// One transactional id; `None` until its first InitProducerId or after it
/// expired.
type Entry = Arc<tokio::sync::Mutex<Option<TxnMetadata>>>;

struct Inner {
    config: TxnConfig,
    store: Arc<dyn MetadataStore>,
    groups: GroupCoordinator,
    /// Lock order: this map (briefly, never across an await) before an
    /// entry's lock is awaited; an entry's holder may take it again.
    entries: Mutex<HashMap<String, Entry>>,
    /// Current producer id -> transactional id.
    producers: Mutex<HashMap<i64, String>>,
    /// Transactional id -> (group, partition) of its staged offsets.
    pending: Mutex<HashMap<String, Vec<(String, PartitionKey)>>>,
}

/// The transaction coordinator. Cheap to clone; clones share all state.
#[derive(Clone)]
pub struct TxnCoordinator {
    inner: Arc<Inner>,
}

fn now_ms() -> i64 {
    crate::state::Broker::now_ms()
}

fn pending_of(meta: &TxnMetadata) -> Vec<(String, PartitionKey)> {
    meta.pending_offsets
        .iter()
        .flat_map(|(g, o)| o.keys().map(move |p| (g.clone(), p.clone())))
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TxnCoordinator {
    /// Opens the coordinator over `store`, loading every stored transactional
    /// id. Open transactions are left as they are until [`Self::recover`].
    pub fn open(
        store: Arc<dyn MetadataStore>,
        groups: GroupCoordinator,
        config: TxnConfig,
    ) -> TxnCoordinator {
        let mut entries = HashMap::new();
        let mut producers = HashMap::new();
        let mut pending = HashMap::new();
        for (id, bytes) in store.txn_states() {
            match persist::decode(&bytes) {
                Ok(meta) => {
                    producers.insert(meta.producer_id, id.clone());
                    pending.insert(id.clone(), pending_of(&meta));
                    entries.insert(id, Arc::new(tokio::sync::Mutex::new(Some(meta))));
                }
                Err(e) => {
                    tracing::warn!(
                        "stored state of transactional id {id} is unreadable ({e}); ignoring it"
                    );
                }
            }
        }
        if !entries.is_empty() {
            tracing::info!("loaded {} transactional ids", entries.len());
        }
        TxnCoordinator {
            inner: Arc::new(Inner {
                config,
                store,
                groups,
                entries: Mutex::new(entries),
                producers: Mutex::new(producers),
                pending: Mutex::new(pending),
            }),
        }
    }

    pub fn config(&self) -> &TxnConfig {
        &self.inner.config
    }

    fn entry(&self, id: &str) -> Option<Entry> {
        lock(&self.inner.entries).get(id).cloned()
    }

    fn is_current(&self, id: &str, entry: &Entry) -> bool {
        lock(&self.inner.entries)
            .get(id)
            .is_some_and(|e| Arc::ptr_eq(e, entry))
    }

    fn persist(&self, id: &str, meta: &TxnMetadata) -> Result<(), TxnError> {
        let bytes = persist::encode(meta).map_err(|e| TxnError::Internal(e.to_string()))?;
        self.inner
            .store
            .set_txn_state(id, Some(bytes))
            .map_err(|e| TxnError::Storage(e.to_string()))
    }

    /// Adopts `next` as the metadata of `id` (after it was stored).
    fn adopt(&self, id: &str, meta: &mut TxnMetadata, next: TxnMetadata) {
        *meta = next;
        self.sync_pending(id, meta);
    }

    fn sync_pending(&self, id: &str, meta: &TxnMetadata) {
        let mut pending = lock(&self.inner.pending);
        if meta.pending_offsets.is_empty() {
            pending.remove(id);
        } else {
            pending.insert(id.to_string(), pending_of(meta));
        }
    }

    fn index_producer(&self, id: &str, old: Option<i64>, new: i64) {
        let mut producers = lock(&self.inner.producers);
        if let Some(old) = old.filter(|o| *o != new)
            && producers.get(&old).is_some_and(|i| i == id)
        {
            producers.remove(&old);
        }
        producers.insert(new, id.to_string());
    }

    /// Locks the metadata of `id` for a request that needs it to exist.
    async fn locked(
        &self,
        id: &str,
    ) -> Result<tokio::sync::OwnedMutexGuard<Option<TxnMetadata>>, TxnError> {
        if id.is_empty() {
            return Err(TxnError::InvalidRequest(
                "the transactional id is empty".into(),
            ));
        }
        let entry = self.entry(id).ok_or(TxnError::InvalidProducerIdMapping)?;
        let guard = entry.lock_owned().await;
        if guard.is_none() {
            return Err(TxnError::InvalidProducerIdMapping);
        }
        Ok(guard)
    }

    // ----- InitProducerId ---------------------------------------------------

    /// InitProducerId with a transactional id: the producer id of the id (a
    /// new one the first time, or when its epochs are exhausted) with a
    /// bumped epoch, which fences every older producer of the id. An ongoing
    /// transaction of the previous producer is aborted first.
    /// `expected` is the producer's current (id, epoch) when it asks to keep
    /// them (KIP-360).
    pub async fn init_producer_id(
        &self,
        host: &dyn TxnHost,
        id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), TxnError> {
        if id.is_empty() {
            return Err(TxnError::InvalidRequest(
                "the transactional id is empty".into(),
            ));
        }
        if timeout_ms <= 0 || timeout_ms > self.inner.config.max_timeout_ms {
            return Err(TxnError::InvalidTransactionTimeout);
        }
        // An entry removed by expiry while we waited for it is stale.
        let mut guard = loop {
            let entry = lock(&self.inner.entries)
                .entry(id.to_string())
                .or_default()
                .clone();
            let guard = entry.clone().lock_owned().await;
            if self.is_current(id, &entry) {
                break guard;
            }
        };
        let now = now_ms();
        if guard.is_none() {
            let pid = host.allocate_producer_id().map_err(TxnError::Storage)?;
            // Kept in memory only until the bumped epoch is stored below.
            *guard = Some(TxnMetadata::new(pid, timeout_ms, now));
            self.index_producer(id, None, pid);
        }
        let Some(meta) = guard.as_mut() else {
            return Err(TxnError::Internal("transaction metadata vanished".into()));
        };
        if let Some((pid, epoch)) = expected
            && !meta.accepts_expected(pid, epoch)
        {
            return Err(TxnError::ProducerFenced);
        }
        if meta.state.is_prepared() && !self.complete(host, id, meta).await {
            return Err(TxnError::ConcurrentTransactions);
        }
        if meta.state == TxnState::Ongoing {
            tracing::info!(
                "aborting the ongoing transaction of transactional id {id} (producer {} epoch {}) for a new producer",
                meta.producer_id,
                meta.producer_epoch
            );
            let next = meta.fenced_for_abort(now);
            self.persist(id, &next)?;
            self.adopt(id, meta, next);
            if !self.complete(host, id, meta).await {
                return Err(TxnError::ConcurrentTransactions);
            }
        }
        let expected_epoch = expected.map(|(_, e)| e);
        let next = if meta.needs_rotation(expected_epoch) {
            let pid = host.allocate_producer_id().map_err(TxnError::Storage)?;
            meta.with_rotated_producer_id(pid, timeout_ms, expected.is_some(), now)
        } else {
            meta.with_bumped_epoch(timeout_ms, expected_epoch, now)?
        };
        self.persist(id, &next)?;
        let old = meta.producer_id;
        self.adopt(id, meta, next);
        self.index_producer(id, Some(old), meta.producer_id);
        tracing::debug!(
            "initialized transactional id {id}: producer {} epoch {}",
            meta.producer_id,
            meta.producer_epoch
        );
        Ok((meta.producer_id, meta.producer_epoch))
    }

    // ----- AddPartitionsToTxn / AddOffsetsToTxn -----------------------------

    /// AddPartitionsToTxn: the partitions join the producer's transaction,
    /// which starts if none is ongoing.
    pub async fn add_partitions(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[PartitionKey],
    ) -> Result<(), TxnError> {
        self.add(id, producer_id, epoch, partitions, None).await
    }

    /// AddOffsetsToTxn: the group's offsets may be committed in the
    /// producer's transaction (TxnOffsetCommit), which starts if none is
    /// ongoing.
    pub async fn add_offsets(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        group: &str,
    ) -> Result<(), TxnError> {
        self.add(id, producer_id, epoch, &[], Some(group)).await
    }

    async fn add(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[PartitionKey],
        group: Option<&str>,
    ) -> Result<(), TxnError> {
        let mut guard = self.locked(id).await?;
        let Some(meta) = guard.as_mut() else {
            return Err(TxnError::InvalidProducerIdMapping);
        };
        meta.check_producer(producer_id, epoch)?;
        if meta.state.is_prepared() {
            return Err(TxnError::ConcurrentTransactions);
        }
        if meta.holds(partitions, group) {
            return Ok(());
        }
        let next = meta.with_added(partitions, group, now_ms());
        self.persist(id, &next)?;
        self.adopt(id, meta, next);
        Ok(())
    }

    /// AddPartitionsToTxn with verify_only (v4+): which partitions are in the
    /// ongoing transaction (`NotInTransaction` for the others). Nothing
    /// changes.
    pub async fn verify_partitions(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[PartitionKey],
    ) -> Result<Vec<(PartitionKey, Result<(), TxnError>)>, TxnError> {
        let guard = self.locked(id).await?;
        let Some(meta) = guard.as_ref() else {
            return Err(TxnError::InvalidProducerIdMapping);
        };
        meta.check_producer(producer_id, epoch)?;
        if meta.state.is_prepared() {
            return Err(TxnError::ConcurrentTransactions);
        }
        Ok(partitions
            .iter()
            .map(|p| {
                let held = meta.state == TxnState::Ongoing && meta.partitions.contains(p);
                (
                    p.clone(),
                    if held {
                        Ok(())
                    } else {
                        Err(TxnError::NotInTransaction)
                    },
                )
            })
            .collect())
    }

    // ----- TxnOffsetCommit --------------------------------------------------

    /// TxnOffsetCommit: stages offsets of a group added to the ongoing
    /// transaction; they are committed by EndTxn(commit) and dropped on
    /// abort. The member is checked as Kafka checks transactional commits.
    #[allow(clippy::too_many_arguments)]
    pub async fn stage_offsets(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        group: &str,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
        offsets: Vec<(PartitionKey, OffsetRecord)>,
    ) -> Result<(), TxnError> {
        let mut guard = self.locked(id).await?;
        let Some(meta) = guard.as_mut() else {
            return Err(TxnError::InvalidProducerIdMapping);
        };
        meta.check_producer(producer_id, epoch)?;
        if meta.state.is_prepared() {
            return Err(TxnError::ConcurrentTransactions);
        }
        if meta.state != TxnState::Ongoing || !meta.groups.contains(group) {
            return Err(TxnError::NotInTransaction);
        }
        self.inner
            .groups
            .validate_txn_offset_commit(group, generation_id, member_id, group_instance_id)
            .map_err(TxnError::Group)?;
        if offsets.is_empty() {
            return Ok(());
        }
        let next = meta.with_staged_offsets(group, offsets, now_ms());
        self.persist(id, &next)?;
        self.adopt(id, meta, next);
        Ok(())
    }

    /// Whether an ongoing or prepared transaction holds staged offsets for
    /// this group and partition (OffsetFetch answers UNSTABLE_OFFSET_COMMIT
    /// to consumers that require stable offsets).
    pub fn has_pending_offset(&self, group: &str, partition: &PartitionKey) -> bool {
        lock(&self.inner.pending)
            .values()
            .any(|v| v.iter().any(|(g, p)| g == group && p == partition))
    }

    // ----- EndTxn -----------------------------------------------------------

    /// EndTxn: commits or aborts the ongoing transaction. The decision is
    /// stored, then markers go to every partition of the transaction and, on
    /// commit, the staged offsets are committed. Returns the producer id and
    /// epoch. A completion that could not finish is retried in the
    /// background; the decision stands.
    pub async fn end_txn(
        &self,
        host: &dyn TxnHost,
        id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> Result<(i64, i16), TxnError> {
        let mut guard = self.locked(id).await?;
        let Some(meta) = guard.as_mut() else {
            return Err(TxnError::InvalidProducerIdMapping);
        };
        meta.check_producer(producer_id, epoch)?;
        match (meta.state, commit) {
            (TxnState::Ongoing, _) => {
                let next = meta.prepared(commit, now_ms());
                self.persist(id, &next)?;
                self.adopt(id, meta, next);
                if !self.complete(host, id, meta).await {
                    tracing::warn!(
                        "transactional id {id}: {} decided, its completion will be retried",
                        if commit { "commit" } else { "abort" }
                    );
                }
            }
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => {}
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                if !self.complete(host, id, meta).await {
                    return Err(TxnError::ConcurrentTransactions);
                }
            }
            _ => return Err(TxnError::InvalidTxnState),
        }
        Ok((meta.producer_id, meta.producer_epoch))
    }

    /// Writes the remaining markers of a prepared transaction and, on commit,
    /// its staged offsets, then stores it Complete. Returns whether it got
    /// there; what was done stays done (markers are not rewritten).
    async fn complete(&self, host: &dyn TxnHost, id: &str, meta: &mut TxnMetadata) -> bool {
        let commit = meta.state == TxnState::PrepareCommit;
        let partitions: Vec<PartitionKey> = meta.partitions.iter().cloned().collect();
        for p in partitions {
            match host.write_marker(&p, meta.producer_id, meta.producer_epoch, commit) {
                Ok(()) => {
                    meta.partitions.remove(&p);
                }
                Err(e) => {
                    tracing::warn!(
                        "transactional id {id}: writing the {} marker to {}-{} failed: {e}",
                        if commit { "COMMIT" } else { "ABORT" },
                        p.topic,
                        p.partition
                    );
                    return false;
                }
            }
        }
        if commit {
            let groups: Vec<String> = meta.pending_offsets.keys().cloned().collect();
            for group in groups {
                let offsets: Vec<(PartitionKey, OffsetRecord)> = meta
                    .pending_offsets
                    .get(&group)
                    .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                if let Err(e) = self.inner.groups.commit_txn_offsets(&group, offsets).await {
                    tracing::warn!(
                        "transactional id {id}: committing offsets of group {group} failed: {e}"
                    );
                    return false;
                }
                meta.pending_offsets.remove(&group);
                self.sync_pending(id, meta);
            }
        }
        let next = meta.completed(now_ms());
        if let Err(e) = self.persist(id, &next) {
            tracing::warn!("transactional id {id}: storing its completion failed: {e}");
            return false;
        }
        self.adopt(id, meta, next);
        true
    }

    // ----- Produce verification ---------------------------------------------

    /// Runs `append` (the append of a transactional batch of `producer_id`
    /// to `partition`) only if the partition is in the producer's ongoing
    /// transaction, holding the id so that no marker can be written between
    /// the check and the append. Without a transactional id in the request,
    /// the producer id names it.
    pub async fn append_in_txn<R>(
        &self,
        id: Option<&str>,
        producer_id: i64,
        epoch: i16,
        partition: &PartitionKey,
        append: impl FnOnce() -> R,
    ) -> Result<R, TxnError> {
        let id = match id {
            Some(id) => id.to_string(),
            None => lock(&self.inner.producers)
                .get(&producer_id)
                .cloned()
                .ok_or(TxnError::InvalidProducerIdMapping)?,
        };
        let guard = self.locked(&id).await?;
        let Some(meta) = guard.as_ref() else {
            return Err(TxnError::InvalidProducerIdMapping);
        };
        meta.check_producer(producer_id, epoch)?;
        if meta.state.is_prepared() {
            return Err(TxnError::ConcurrentTransactions);
        }
        if meta.state != TxnState::Ongoing || !meta.partitions.contains(partition) {
            return Err(TxnError::NotInTransaction);
        }
        Ok(append())
    }

    // ----- Recovery, timeouts, expiry ---------------------------------------

    fn snapshot(&self) -> Vec<(String, Entry)> {
        let mut all: Vec<(String, Entry)> = lock(&self.inner.entries)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Fences the producer of `meta` and aborts its transaction.
    async fn fence_and_abort(
        &self,
        host: &dyn TxnHost,
        id: &str,
        meta: &mut TxnMetadata,
        why: &str,
    ) {
        tracing::info!(
            "aborting the transaction of transactional id {id} (producer {} epoch {}): {why}",
            meta.producer_id,
            meta.producer_epoch
        );
        let next = meta.fenced_for_abort(now_ms());
        if let Err(e) = self.persist(id, &next) {
            tracing::warn!("transactional id {id}: storing the abort failed: {e}");
            return;
        }
        self.adopt(id, meta, next);
        if !self.complete(host, id, meta).await {
            tracing::warn!("transactional id {id}: the abort will be retried");
        }
    }

    /// On start: transactions left open by the previous run are aborted (their
    /// producers are fenced), prepared ones are completed.
    pub async fn recover(&self, host: &dyn TxnHost) {
        for (id, entry) in self.snapshot() {
            let mut guard = entry.lock().await;
            let Some(meta) = guard.as_mut() else { continue };
            if meta.state == TxnState::Ongoing {
                self.fence_and_abort(host, &id, meta, "open when the broker stopped")
                    .await;
            } else if meta.state.is_prepared() && !self.complete(host, &id, meta).await {
                tracing::warn!("transactional id {id}: completion will be retried");
            }
        }
    }

    /// One pass of upkeep at `now`: aborts timed-out transactions, retries
    /// unfinished completions, and forgets ids idle for longer than
    /// transactional.id.expiration.ms.
    pub async fn tick(&self, host: &dyn TxnHost, now: i64) {
        let expire_before = now.saturating_sub(self.inner.config.id_expiration_ms);
        for (id, entry) in self.snapshot() {
            let mut guard = entry.clone().lock_owned().await;
            let Some(meta) = guard.as_mut() else { continue };
            if meta.timed_out(now) {
                let why = format!("timed out after {} ms", meta.timeout_ms);
                self.fence_and_abort(host, &id, meta, &why).await;
            } else if meta.state.is_prepared() {
                let _ = self.complete(host, &id, meta).await;
            } else if meta.state.is_idle() && meta.last_update_ms <= expire_before {
                if let Err(e) = self.inner.store.set_txn_state(&id, None) {
                    tracing::warn!("expiring transactional id {id} failed: {e}");
                    continue;
                }
                tracing::info!("transactional id {id} expired");
                let pid = meta.producer_id;
                *guard = None;
                lock(&self.inner.pending).remove(&id);
                {
                    let mut entries = lock(&self.inner.entries);
                    if entries.get(&id).is_some_and(|e| Arc::ptr_eq(e, &entry)) {
                        entries.remove(&id);
                    }
                }
                let mut producers = lock(&self.inner.producers);
                if producers.get(&pid).is_some_and(|i| *i == id) {
                    producers.remove(&pid);
                }
            }
        }
    }

    /// Runs [`Self::tick`] every cleanup interval until the host is gone.
    pub async fn run<H: TxnHost + 'static>(self, host: Weak<H>) {
        let mut every = tokio::time::interval(self.inner.config.cleanup_interval);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            every.tick().await;
            let Some(host) = host.upgrade() else {
                return;
            };
            self.tick(host.as_ref(), now_ms()).await;
        }
    }

    /// Every transactional id with its metadata, in id order.
    pub async fn list(&self) -> Vec<(String, TxnMetadata)> {
        let mut entries: Vec<(String, Entry)> = lock(&self.inner.entries)
            .iter()
            .map(|(id, e)| (id.clone(), e.clone()))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::with_capacity(entries.len());
        for (id, entry) in entries {
            if let Some(meta) = entry.lock().await.clone() {
                out.push((id, meta));
            }
        }
        out
    }

    /// The metadata of a transactional id, if it has any.
    pub async fn describe(&self, id: &str) -> Option<TxnMetadata> {
        let entry = self.entry(id)?;
        let guard = entry.lock().await;
        guard.clone()
    }
}

#[cfg(test)]
mod tests;
