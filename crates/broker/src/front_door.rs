//! The broker's in-process entry for front doors other than the Kafka port
//! (the HTTP API). A Kafka request or a Strait admin request made for an
//! authenticated caller runs through the very handler, and the very
//! authorization gate, that the same request from a Kafka connection runs
//! through: one implementation of every operation, two front doors.
//!
//! It owns turning a caller into a connection context and checking a user
//! name and password against the broker's PLAIN and SCRAM users. It must
//! never implement an operation itself.

use std::net::SocketAddr;
use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseKind};
use strait_protocol::DecodedRequest;
use strait_protocol::admin::AdminRequest;
use subtle::ConstantTimeEq;

pub use crate::handlers::links::AdminAnswer;
use crate::server::ConnectionContext;
use crate::state::Broker;
use crate::{SecurityProtocol, config::SaslMechanism};

/// Who makes a call: a Kafka principal (`User:alice`, `User:ANONYMOUS`) and
/// the address the call came from.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: String,
    pub peer: SocketAddr,
    /// The name the front door goes by in logs and in listener-scoped
    /// answers (Metadata's endpoints are those of the first Kafka listener).
    pub front_door: &'static str,
}

impl Caller {
    fn context(&self, broker: &Broker) -> ConnectionContext {
        ConnectionContext {
            peer: self.peer,
            listener: broker
                .advertised
                .first()
                .map(|l| l.name.clone())
                .unwrap_or_else(|| self.front_door.to_string()),
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

/// Whether `user` may sign in with `password`: a PLAIN user of any SASL
/// listener, or a user with a SCRAM credential of either mechanism.
pub fn check_password(broker: &Broker, user: &str, password: &str) -> bool {
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
        .filter_map(|s| s.plain_users.get(user))
        .any(|expected| bool::from(expected.expose().as_bytes().ct_eq(password.as_bytes())));
    if plain {
        return true;
    }
    let credentials = broker.store.scram_credentials(user);
    [SaslMechanism::ScramSha256, SaslMechanism::ScramSha512]
        .into_iter()
        .any(|mechanism| {
            credentials
                .get(mechanism.name())
                .is_some_and(|c| crate::auth::scram::password_matches(mechanism, c, password))
        })
}
