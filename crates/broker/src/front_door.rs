//! The broker's in-process entry for front doors other than the Kafka port
//! (the HTTP API). A Kafka request or a Strait admin request made for an
//! authenticated caller runs through the very handler, and the very
//! authorization gate, that the same request from a Kafka connection runs
//! through: one implementation of every operation, two front doors.
//!
//! It owns turning a caller into a connection context, checking a user
//! name and password against the broker's PLAIN and SCRAM users, and
//! lending the Kafka listeners' TLS (acceptor and mTLS principal) to
//! `https://` front doors. It must never implement an operation itself.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseKind};
use sha2::{Digest, Sha256};
use strait_metadata::ScramCredential;
use strait_protocol::DecodedRequest;
use strait_protocol::admin::AdminRequest;
use subtle::ConstantTimeEq;

pub use crate::handlers::links::AdminAnswer;
use crate::server::ConnectionContext;
use crate::state::Broker;
use crate::{SecurityProtocol, config::SaslMechanism};

/// The TLS acceptor of an `https://` front door, built exactly as a Kafka
/// SSL listener's is (PEM stores, encrypted keys, client authentication).
pub fn tls_acceptor(
    name: &str,
    ssl: &crate::config::SslSettings,
) -> Result<tokio_rustls::TlsAcceptor, crate::BrokerError> {
    crate::auth::tls::acceptor(name, ssl).map_err(crate::BrokerError::Tls)
}

/// How long a TLS handshake may take before the connection is dropped: the
/// Kafka listeners' bound, for every front door.
pub const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = crate::server::TLS_HANDSHAKE_TIMEOUT;

/// Kafka's mTLS principal of a TLS connection (`User:<subject DN>`, RFC
/// 2253), if the peer presented a certificate the trust store vouched for.
pub fn tls_principal(conn: &tokio_rustls::rustls::ServerConnection) -> Option<String> {
    crate::auth::tls::peer_principal(conn)
}

/// Who makes a call: a Kafka principal (`User:alice`, `User:ANONYMOUS`) and
/// the address the call came from.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: String,
    pub peer: SocketAddr,
}

impl Caller {
    /// Listener-scoped answers (Metadata's endpoints) are those of the
    /// first Kafka listener.
    fn context(&self, broker: &Broker) -> ConnectionContext {
        ConnectionContext {
            peer: self.peer,
            listener: broker
                .advertised
                .first()
                .map(|l| l.name.clone())
                .unwrap_or_default(),
            security_protocol: SecurityProtocol::Plaintext,
            principal: self.principal.clone(),
        }
    }
}

/// Why a Kafka call got no answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{api:?} v{version} is not served")]
    Unserved { api: ApiKey, version: i16 },
    #[error("API key {0} is unknown")]
    UnknownKey(i16),
    #[error("the broker gave no answer to {0:?}")]
    NoAnswer(ApiKey),
}

/// Runs one Kafka request for `caller` at `version` and returns its response.
pub async fn kafka<R>(
    broker: &Arc<Broker>,
    caller: &Caller,
    body: R,
    version: i16,
) -> Result<ResponseKind, CallError>
where
    R: kafka_protocol::protocol::Request + Into<RequestKind>,
{
    let api = ApiKey::try_from(R::KEY).map_err(|_| CallError::UnknownKey(R::KEY))?;
    let served = strait_protocol::versions::served_range(api)
        .is_some_and(|(min, max)| (min..=max).contains(&version));
    if !served {
        return Err(CallError::Unserved { api, version });
    }
    let mut header = RequestHeader::default();
    header.request_api_key = R::KEY;
    header.request_api_version = version;
    header.client_id = Some(kafka_protocol::protocol::StrBytes::from_static_str(
        "strait-http",
    ));
    let request = DecodedRequest {
        header,
        api_key: api,
        body: body.into(),
    };
    let ctx = caller.context(broker);
    match crate::handlers::handle(broker, request, &ctx).await {
        crate::handlers::Reply::Send(resp) => Ok(*resp),
        _ => Err(CallError::NoAnswer(api)),
    }
}

/// Runs one Strait admin request (links and mirrors) for `caller`.
pub async fn admin(broker: &Arc<Broker>, caller: &Caller, request: AdminRequest) -> AdminAnswer {
    let session =
        crate::authz::Session::new(caller.principal.clone(), caller.peer.ip().to_string());
    crate::handlers::links::answer(broker, &session, request).await
}

/// Whether `caller` may make `request`, by the very check its handler's
/// gate makes (DESCRIBE or ALTER on the cluster; no authorizer allows
/// everything), for front doors that show what the request would read.
pub fn admin_allowed(broker: &Broker, caller: &Caller, request: &AdminRequest) -> bool {
    let session =
        crate::authz::Session::new(caller.principal.clone(), caller.peer.ip().to_string());
    crate::authz::admin::check(broker.authorizer.as_ref(), &session, request).is_none()
}

/// Checks user names and passwords against the broker's PLAIN users (of
/// any SASL listener with PLAIN) and SCRAM credentials (either mechanism).
///
/// A SCRAM check runs PBKDF2 over the credential's iterations, so it runs
/// on a blocking thread, and a password that passed is remembered (as a
/// digest, with the credential it was checked against) until the
/// credential changes.
#[derive(Default)]
pub struct PasswordCheck {
    verified: std::sync::Mutex<HashMap<String, Verified>>,
}

/// A password that passed a SCRAM check: its digest and the stored key of
/// the credential it matched.
struct Verified {
    digest: [u8; 32],
    stored_key: Vec<u8>,
}

impl PasswordCheck {
    /// Whether `user` may sign in with `password`.
    pub async fn check(&self, broker: &Arc<Broker>, user: &str, password: &str) -> bool {
        if user.is_empty() || password.is_empty() {
            return false;
        }
        let plain = broker
            .config
            .security
            .listeners
            .iter()
            .filter_map(|l| l.sasl.as_ref())
            .filter(|s| s.mechanisms.contains(&SaslMechanism::Plain))
            .any(|s| crate::auth::plain::password_matches(&s.plain_users, user, password));
        if plain {
            return true;
        }
        let credentials = broker.store.scram_credentials(user);
        let current: Vec<(SaslMechanism, ScramCredential)> =
            [SaslMechanism::ScramSha256, SaslMechanism::ScramSha512]
                .into_iter()
                .filter_map(|m| credentials.get(m.name()).map(|c| (m, c.clone())))
                .collect();
        if current.is_empty() {
            return false;
        }
        let digest: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        if let Ok(verified) = self.verified.lock()
            && let Some(v) = verified.get(user)
            && bool::from(v.digest.as_slice().ct_eq(digest.as_slice()))
            && current.iter().any(|(_, c)| c.stored_key == v.stored_key)
        {
            return true;
        }
        let password = password.to_string();
        let matched = tokio::task::spawn_blocking(move || {
            current
                .into_iter()
                .find(|(m, c)| crate::auth::scram::password_matches(*m, c, &password))
                .map(|(_, c)| c.stored_key)
        })
        .await
        .ok()
        .flatten();
        match matched {
            Some(stored_key) => {
                if let Ok(mut verified) = self.verified.lock() {
                    verified.insert(user.to_string(), Verified { digest, stored_key });
                }
                true
            }
            None => false,
        }
    }
}
