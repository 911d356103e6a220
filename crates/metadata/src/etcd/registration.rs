//! Broker registration: `<prefix>/brokers/<node.id>` holding the broker's
//! advertised listeners, attached to an etcd lease that a background task
//! keeps alive.
//!
//! It owns the registration's life: creating it (refusing a node id or a
//! prefix that a live broker already holds), keeping the lease alive across
//! etcd restarts, registering again when the lease was lost, and reporting
//! through [`BrokerRegistration::fenced`] when another broker took the place
//! meanwhile. It must never exit the process itself: the broker decides.
//!
//! This version runs one broker per metadata prefix (replication comes
//! later), so registration is exclusive over the whole `brokers/` prefix.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp, TxnOpResponse};
use tokio::sync::watch;

use super::connection::Connection;
use super::{EtcdStore, unreachable};
use crate::MetadataError;

/// The lease's time to live: how long a dead broker's registration stays.
const LEASE_TTL_SECS: i64 = 6;
/// How often the lease is renewed.
const KEEP_ALIVE_EVERY: Duration = Duration::from_secs(2);
/// How long a renewal answer may take before the stream is opened again.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause between attempts while etcd is unreachable.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Why a broker cannot register.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error(
        "node.id {node_id} is already registered on etcd prefix {prefix} by a live broker \
         (listeners {listeners}); give each broker its own node.id, or stop the other one"
    )]
    NodeIdTaken {
        node_id: i32,
        prefix: String,
        listeners: String,
    },
    #[error(
        "etcd prefix {prefix} already serves a live broker (node.id {other}, listeners \
         {listeners}); this version of Strait runs one broker per metadata prefix (replicated \
         clusters come in a later version): give this broker its own metadata.etcd.prefix"
    )]
    PrefixTaken {
        other: String,
        prefix: String,
        listeners: String,
    },
    #[error("cannot register broker on etcd: {0}")]
    Etcd(#[from] super::EtcdError),
}

/// A live registration. Dropping it stops renewing the lease (the entry
/// then goes after the lease's TTL); [`BrokerRegistration::deregister`]
/// removes it at once.
pub struct BrokerRegistration {
    key: String,
    lease: Arc<AtomicI64>,
    fenced: watch::Receiver<Option<String>>,
    stop: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    connection: Arc<Connection>,
}

/// Who holds the `brokers/` prefix: (node id as written in the key, listeners).
type Holders = Vec<(String, String)>;

impl EtcdStore {
    /// Registers this broker under `<prefix>/brokers/<node_id>` with its
    /// advertised `listeners`. A registration left by a broker that died
    /// (kill -9) is waited for until its lease expires; one kept alive by a
    /// live broker is refused.
    pub fn register_broker(
        &self,
        node_id: i32,
        listeners: &[String],
    ) -> Result<BrokerRegistration, RegistrationError> {
        let brokers = self.settings.brokers_prefix();
        let key = format!("{brokers}{node_id}");
        let value = serde_json::json!({ "node_id": node_id, "listeners": listeners }).to_string();
        let deadline = Duration::from_secs(LEASE_TTL_SECS as u64 + 2);
        let started = std::time::Instant::now();
        let mut logged_wait = false;
        let lease = loop {
            let (b, k, v) = (brokers.clone(), key.clone(), value.clone());
            let outcome = self
                .connection
                .call(move |c| async move { try_register(c, &b, &k, &v).await })
                .map_err(|e| RegistrationError::Etcd(unreachable(e)))?;
            let holders = match outcome {
                Ok(lease) => break lease,
                Err(holders) => holders,
            };
            if started.elapsed() >= deadline {
                return Err(refusal(node_id, &self.settings.prefix, holders));
            }
            if !logged_wait {
                tracing::info!(
                    "etcd prefix {} has a broker registration ({}); waiting up to {} s for it \
                     to expire in case its broker is gone",
                    self.settings.prefix,
                    holders
                        .iter()
                        .map(|(id, _)| id.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    deadline.as_secs()
                );
                logged_wait = true;
            }
            std::thread::sleep(Duration::from_millis(300));
        };
        let lease = Arc::new(AtomicI64::new(lease));
        let (fenced_tx, fenced) = watch::channel(None);
        let (stop, stop_rx) = tokio::sync::oneshot::channel();
        let keeper = KeepAlive {
            client: self.connection.client.clone(),
            brokers,
            key: key.clone(),
            value,
            node_id,
            prefix: self.settings.prefix.clone(),
            lease: lease.clone(),
        };
        self.connection
            .spawn(keeper.run(fenced_tx, stop_rx))
            .map_err(|e| RegistrationError::Etcd(e.into()))?;
        tracing::info!("registered broker {node_id} on etcd as {key}");
        Ok(BrokerRegistration {
            key,
            lease,
            fenced,
            stop: std::sync::Mutex::new(Some(stop)),
            connection: self.connection.clone(),
        })
    }
}

impl BrokerRegistration {
    /// The etcd key this broker is registered under.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Completes when the registration was lost and another broker took the
    /// node id or the prefix meanwhile; gives the reason. Pending forever
    /// otherwise.
    pub async fn fenced(&self) -> String {
        let mut rx = self.fenced.clone();
        loop {
            if let Some(reason) = rx.borrow_and_update().clone() {
                return reason;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Stops renewing and revokes the lease, which removes the registration
    /// at once (waits two seconds at most).
    pub fn deregister(&self) -> Result<(), MetadataError> {
        self.stop_renewing();
        let lease = self.lease.load(Ordering::SeqCst);
        self.connection
            .call_within(Duration::from_secs(2), move |mut c| async move {
                c.lease_revoke(lease).await
            })
            .map(|_| ())
    }

    fn stop_renewing(&self) {
        let stop = self.stop.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
    }
}

impl Drop for BrokerRegistration {
    fn drop(&mut self) {
        self.stop_renewing();
    }
}

fn refusal(node_id: i32, prefix: &str, holders: Holders) -> RegistrationError {
    let own = node_id.to_string();
    if let Some((_, listeners)) = holders.iter().find(|(id, _)| *id == own) {
        return RegistrationError::NodeIdTaken {
            node_id,
            prefix: prefix.to_string(),
            listeners: listeners.clone(),
        };
    }
    let (other, listeners) = holders
        .into_iter()
        .next()
        .unwrap_or_else(|| ("?".into(), "?".into()));
    RegistrationError::PrefixTaken {
        other,
        prefix: prefix.to_string(),
        listeners,
    }
}

/// Grants a lease and puts the registration under it if no broker is
/// registered under `brokers`; otherwise revokes the lease and says who is.
async fn try_register(
    mut client: Client,
    brokers: &str,
    key: &str,
    value: &str,
) -> Result<Result<i64, Holders>, etcd_client::Error> {
    let lease = client.lease_grant(LEASE_TTL_SECS, None).await?.id();
    let txn = Txn::new()
        .when(vec![
            Compare::create_revision(brokers, CompareOp::Equal, 0).with_prefix(),
        ])
        .and_then(vec![TxnOp::put(
            key,
            value,
            Some(PutOptions::new().with_lease(lease)),
        )])
        .or_else(vec![TxnOp::get(
            brokers,
            Some(GetOptions::new().with_prefix()),
        )]);
    let response = client.txn(txn).await?;
    if response.succeeded() {
        return Ok(Ok(lease));
    }
    let _ = client.lease_revoke(lease).await;
    let mut holders = Vec::new();
    for op in response.op_responses() {
        if let TxnOpResponse::Get(got) = op {
            for kv in got.kvs() {
                let id = kv
                    .key_str()
                    .ok()
                    .and_then(|k| k.strip_prefix(brokers))
                    .unwrap_or("?")
                    .to_string();
                let listeners = serde_json::from_slice::<serde_json::Value>(kv.value())
                    .ok()
                    .and_then(|v| v.get("listeners").cloned())
                    .and_then(|l| {
                        l.as_array().map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str())
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                    })
                    .unwrap_or_else(|| "unknown".into());
                holders.push((id, listeners));
            }
        }
    }
    Ok(Err(holders))
}

/// The background task that keeps one registration alive.
struct KeepAlive {
    client: Client,
    brokers: String,
    key: String,
    value: String,
    node_id: i32,
    prefix: String,
    lease: Arc<AtomicI64>,
}

enum Renewal {
    Stopped,
    Lost(String),
}

impl KeepAlive {
    async fn run(
        self,
        fenced: watch::Sender<Option<String>>,
        mut stop: tokio::sync::oneshot::Receiver<()>,
    ) {
        loop {
            let why = match self.renew_until_lost(&mut stop).await {
                Renewal::Stopped => return,
                Renewal::Lost(why) => why,
            };
            tracing::warn!(
                "broker registration {} lost its lease ({why}); registering again",
                self.key
            );
            // Best effort: a lease that is in fact alive would keep the old
            // entry and make this broker look like someone else.
            let old = self.lease.load(Ordering::SeqCst);
            let _ = self.client.clone().lease_revoke(old).await;
            loop {
                let attempt =
                    try_register(self.client.clone(), &self.brokers, &self.key, &self.value);
                let outcome = tokio::select! {
                    _ = &mut stop => return,
                    outcome = tokio::time::timeout(ANSWER_TIMEOUT, attempt) => outcome,
                };
                match outcome {
                    Ok(Ok(Ok(lease))) => {
                        self.lease.store(lease, Ordering::SeqCst);
                        tracing::info!("broker registration {} is back", self.key);
                        break;
                    }
                    Ok(Ok(Err(holders))) => {
                        let reason = refusal(self.node_id, &self.prefix, holders).to_string();
                        tracing::error!("broker registration {} lost for good: {reason}", self.key);
                        let _ = fenced.send(Some(reason));
                        return;
                    }
                    Ok(Err(_)) | Err(_) => tokio::time::sleep(RETRY_PAUSE).await,
                }
            }
        }
    }

    /// Renews the lease until it is gone or the registration is stopped;
    /// rides out etcd being unreachable.
    async fn renew_until_lost(&self, stop: &mut tokio::sync::oneshot::Receiver<()>) -> Renewal {
        let mut logged_down = false;
        loop {
            let lease = self.lease.load(Ordering::SeqCst);
            let mut client = self.client.clone();
            let opened = tokio::select! {
                _ = &mut *stop => return Renewal::Stopped,
                opened = tokio::time::timeout(ANSWER_TIMEOUT, client.lease_keep_alive(lease)) => opened,
            };
            let (mut keeper, mut stream) = match opened {
                Ok(Ok(pair)) => pair,
                Ok(Err(etcd_client::Error::LeaseKeepAliveError(why))) => {
                    return Renewal::Lost(why);
                }
                Ok(Err(e)) => {
                    if !logged_down {
                        tracing::warn!(
                            "cannot renew broker registration {}: {}",
                            self.key,
                            super::connection::describe(&e)
                        );
                        logged_down = true;
                    }
                    tokio::select! {
                        _ = &mut *stop => return Renewal::Stopped,
                        _ = tokio::time::sleep(RETRY_PAUSE) => continue,
                    }
                }
                Err(_) => continue,
            };
            if logged_down {
                tracing::info!("renewing broker registration {} again", self.key);
                logged_down = false;
            }
            loop {
                tokio::select! {
                    _ = &mut *stop => return Renewal::Stopped,
                    _ = tokio::time::sleep(KEEP_ALIVE_EVERY) => {}
                }
                if keeper.keep_alive().await.is_err() {
                    break;
                }
                match tokio::time::timeout(ANSWER_TIMEOUT, stream.message()).await {
                    Ok(Ok(Some(answer))) if answer.ttl() > 0 => {}
                    Ok(Ok(Some(_))) => return Renewal::Lost("the lease expired".into()),
                    Ok(Ok(None)) | Ok(Err(_)) | Err(_) => break,
                }
            }
        }
    }
}
