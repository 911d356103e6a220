//! The etcd store's connection: its own Tokio runtime thread, the etcd
//! client, the bridge that lets synchronous callers wait (with a deadline)
//! for an etcd call, and the watch that keeps the local copy current.
//!
//! It owns talking to etcd and recovering from etcd going away (the watch
//! reconnects and reloads the prefix). It must never decide what to write:
//! the store builds every transaction.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use etcd_client::{Client, ConnectOptions, EventType, GetOptions, WatchOptions};

use super::cache::Cache;
use crate::MetadataError;

/// How long one etcd call may take before the caller gets
/// [`MetadataError::Unavailable`].
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read from etcd: a whole prefix is read at once, and
/// gRPC's 4 MiB default would refuse the metadata of a large cluster.
pub(crate) const MAX_ANSWER_BYTES: usize = 1 << 30;
/// How long the watch waits before reconnecting after etcd went away.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

/// A connected etcd client with the runtime that drives it.
pub(crate) struct Connection {
    /// `None` only while dropping (the runtime is shut down in the background
    /// so that a store may be dropped from async code).
    runtime: Option<tokio::runtime::Runtime>,
    pub client: Client,
    /// For messages: the endpoints as configured.
    endpoints: String,
}

impl Connection {
    /// Starts the runtime thread and creates the client. The client connects
    /// lazily; [`Connection::call`] is what finds out whether etcd answers.
    pub fn open(endpoints: &[String]) -> Result<Self, MetadataError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("strait-etcd")
            .enable_all()
            .build()
            .map_err(|e| MetadataError::Storage(format!("cannot start the etcd runtime: {e}")))?;
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2))
            .with_keep_alive_while_idle(true);
        let list = endpoints.to_vec();
        let client = runtime
            .block_on(async move { Client::connect(list, Some(options)).await })
            .map_err(|e| {
                MetadataError::Unavailable(format!(
                    "etcd at {} cannot be reached: {e}",
                    endpoints.join(",")
                ))
            })?;
        Ok(Connection {
            runtime: Some(runtime),
            client,
            endpoints: endpoints.join(","),
        })
    }

    fn handle(&self) -> Result<&tokio::runtime::Handle, MetadataError> {
        self.runtime
            .as_ref()
            .map(|r| r.handle())
            .ok_or_else(|| MetadataError::Storage("the etcd store is closed".into()))
    }

    /// Runs `call` on the etcd runtime and waits for it, at most `timeout`.
    /// Safe to call from any thread, async or not, except the etcd runtime's
    /// own.
    pub fn call_within<T, F, Fut>(&self, timeout: Duration, call: F) -> Result<T, MetadataError>
    where
        T: Send + 'static,
        F: FnOnce(Client) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, etcd_client::Error>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let client = self.client.clone();
        self.handle()?.spawn(async move {
            let outcome = tokio::time::timeout(timeout, call(client)).await;
            let _ = tx.send(outcome);
        });
        let unavailable =
            |why: String| MetadataError::Unavailable(format!("etcd at {}: {why}", self.endpoints));
        match rx.recv() {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(e))) if is_refusal(&e) => Err(MetadataError::Storage(format!(
                "etcd at {} refused the request: {}",
                self.endpoints,
                describe(&e)
            ))),
            Ok(Ok(Err(e))) => Err(unavailable(describe(&e))),
            Ok(Err(_)) => Err(unavailable(format!(
                "no answer within {} s",
                timeout.as_secs_f32()
            ))),
            Err(_) => Err(MetadataError::Storage("the etcd runtime stopped".into())),
        }
    }

    /// [`Connection::call_within`] with the usual deadline.
    pub fn call<T, F, Fut>(&self, call: F) -> Result<T, MetadataError>
    where
        T: Send + 'static,
        F: FnOnce(Client) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, etcd_client::Error>> + Send + 'static,
    {
        self.call_within(CALL_TIMEOUT, call)
    }

    /// Spawns a task on the etcd runtime.
    pub fn spawn<Fut>(&self, task: Fut) -> Result<(), MetadataError>
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handle()?.spawn(task);
        Ok(())
    }

    /// Keeps `cache` current with every key under `prefix`, for as long as
    /// the runtime lives: a watch from the revision after the one `cache`
    /// was read at; when etcd goes away, a full read and a watch again once
    /// it is back.
    pub fn follow(&self, prefix: String, cache: Arc<RwLock<Cache>>) -> Result<(), MetadataError> {
        let client = self.client.clone();
        let endpoints = self.endpoints.clone();
        let mut read_at = Some(read(&cache).followed());
        self.spawn(async move {
            let mut down_since: Option<std::time::Instant> = None;
            loop {
                let outcome = follow_once(
                    client.clone(),
                    &prefix,
                    &cache,
                    read_at.take(),
                    &mut down_since,
                )
                .await;
                if down_since.is_none() {
                    tracing::warn!(
                        "lost the etcd watch on {prefix} at {endpoints} ({outcome}); metadata reads \
                         are served from the local copy until it is back"
                    );
                    down_since = Some(std::time::Instant::now());
                }
                tokio::time::sleep(RECONNECT_PAUSE).await;
            }
        })
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Whether etcd answered and refused (a request too large, its space quota
/// exceeded, ...), which retrying will not change; anything else (no
/// connection, no leader, a timeout) is etcd being unavailable.
fn is_refusal(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::GRpcStatus(status) => !matches!(
            status.code(),
            tonic::Code::Unavailable
                | tonic::Code::DeadlineExceeded
                | tonic::Code::Cancelled
                | tonic::Code::Unknown
                | tonic::Code::Aborted
        ),
        _ => false,
    }
}

/// An etcd client error in a few words: gRPC errors carry the transport's
/// whole debug chain in their text, so it is the status message and the
/// innermost cause ("tcp connect error: Connection refused (os error 111)").
pub(crate) fn describe(e: &etcd_client::Error) -> String {
    match e {
        etcd_client::Error::GRpcStatus(status) => {
            let mut innermost: Option<&dyn std::error::Error> = None;
            let mut next = std::error::Error::source(status);
            while let Some(cause) = next {
                innermost = Some(cause);
                next = cause.source();
            }
            match innermost {
                Some(cause) if !status.message().is_empty() => {
                    format!("{}: {cause}", status.message())
                }
                Some(cause) => cause.to_string(),
                None => status.message().to_string(),
            }
        }
        other => other.to_string(),
    }
}

/// Every key under `prefix` with the prefix stripped, its value and mod
/// revision, and the revision the read was made at (`None`: an answer
/// without a header).
pub(crate) async fn read_prefix(
    client: Client,
    prefix: &str,
) -> Result<(Vec<(String, Vec<u8>, i64)>, Option<i64>), etcd_client::Error> {
    let read = client
        .kv_client()
        .max_decoding_message_size(MAX_ANSWER_BYTES)
        .get(prefix, Some(GetOptions::new().with_prefix()))
        .await?;
    let kvs = read
        .kvs()
        .iter()
        .filter_map(|kv| {
            let key = kv.key_str().ok()?.strip_prefix(prefix)?.to_string();
            Some((key, kv.value().to_vec(), kv.mod_revision()))
        })
        .collect();
    Ok((kvs, read.header().map(|h| h.revision())))
}

/// One (read-then-)watch pass; returns why it ended. `read_at` is the
/// revision `cache` was already read at, so the pass watches from the next
/// one without reading again.
async fn follow_once(
    client: Client,
    prefix: &str,
    cache: &RwLock<Cache>,
    read_at: Option<i64>,
    down_since: &mut Option<std::time::Instant>,
) -> String {
    let revision = match read_at {
        Some(revision) => revision,
        None => match tokio::time::timeout(CALL_TIMEOUT, read_prefix(client.clone(), prefix)).await
        {
            Ok(Ok((kvs, Some(revision)))) => {
                write(cache).reload(kvs, revision);
                revision
            }
            Ok(Ok((_, None))) => return "an answer without a header".into(),
            Ok(Err(e)) => return describe(&e),
            Err(_) => return "no answer".into(),
        },
    };
    let options = WatchOptions::new()
        .with_prefix()
        .with_start_revision(revision + 1);
    let mut watch = client
        .watch_client()
        .max_decoding_message_size(MAX_ANSWER_BYTES);
    let mut stream = match watch.watch(prefix, Some(options)).await {
        Ok(s) => s,
        Err(e) => return describe(&e),
    };
    if let Some(since) = down_since.take() {
        tracing::info!(
            "etcd watch on {prefix} is back after {} ms",
            since.elapsed().as_millis()
        );
    }
    loop {
        let response = match stream.message().await {
            Ok(Some(r)) => r,
            Ok(None) => return "the watch stream ended".into(),
            Err(e) => return describe(&e),
        };
        if response.canceled() {
            return format!("the watch was cancelled: {}", response.cancel_reason());
        }
        let mut cache = write(cache);
        let mut last = 0;
        for event in response.events() {
            let Some(kv) = event.kv() else { continue };
            let Some(key) = kv.key_str().ok().and_then(|k| k.strip_prefix(prefix)) else {
                continue;
            };
            let value = match event.event_type() {
                EventType::Put => Some(kv.value()),
                EventType::Delete => None,
            };
            cache.apply(key, value, kv.mod_revision());
            last = last.max(kv.mod_revision());
        }
        cache.followed_to(last);
    }
}

/// The cache for writing; a poisoned lock only means a panic elsewhere, and
/// every change to the cache is a whole key, so the data is consistent.
pub(crate) fn write(cache: &RwLock<Cache>) -> std::sync::RwLockWriteGuard<'_, Cache> {
    cache.write().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn read(cache: &RwLock<Cache>) -> std::sync::RwLockReadGuard<'_, Cache> {
    cache.read().unwrap_or_else(|e| e.into_inner())
}
