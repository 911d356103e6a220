//! Who makes an HTTP call, and where its resources live: HTTP Basic checked
//! against the broker's PLAIN and SCRAM users (`User:<name>`); without an
//! `Authorization` header, the client certificate of an `https://`
//! connection (`User:<subject DN>`, as on a Kafka SSL listener); with
//! neither, `User:ANONYMOUS`; and the base URL that `metadata.self` links
//! start with. Must never log a password.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts, NestedPath};
use axum::http::header::{AUTHORIZATION, HOST};
use axum::http::request::Parts;
use base64::Engine;
use kafka_protocol::messages::ResponseKind;
use strait_broker::Broker;
use strait_broker::front_door::{self, AdminAnswer, Caller};
use strait_protocol::admin::AdminRequest;

use crate::https::TlsPeer;
use crate::{AppState, RestError};

/// One REST call: the broker, the authenticated caller, the base URL of
/// this API as the caller reached it (`http://host:port/kafka/v3`), and
/// this cluster's id and URL, read once per call.
pub struct RestCall {
    pub broker: Arc<Broker>,
    pub caller: Caller,
    pub base: String,
    pub cluster_id: String,
    pub cluster_url: String,
}

impl RestCall {
    /// Runs a Kafka request through the broker's handler and gate.
    pub async fn kafka<R>(&self, request: R, version: i16) -> Result<ResponseKind, RestError>
    where
        R: kafka_protocol::protocol::Request + Into<kafka_protocol::messages::RequestKind>,
    {
        Ok(front_door::kafka(&self.broker, &self.caller, request, version).await?)
    }

    /// Runs a Strait admin request (links and mirrors); its error, if it
    /// has one, as a REST error.
    pub async fn admin(&self, request: AdminRequest) -> Result<AdminAnswer, RestError> {
        let answer = front_door::admin(&self.broker, &self.caller, request).await;
        let e = answer.error();
        if e.is_error() {
            return Err(RestError::kafka(e.error_code, e.error_message.as_deref()));
        }
        Ok(answer)
    }

    /// 404 unless `cluster_id` is this cluster's.
    pub fn check_cluster(&self, cluster_id: &str) -> Result<(), RestError> {
        if cluster_id == self.cluster_id {
            Ok(())
        } else {
            Err(RestError::not_found(format!(
                "Cluster {cluster_id} cannot be found."
            )))
        }
    }
}

impl<S> FromRequestParts<S> for RestCall
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, RestError> {
        let state = &AppState::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let tls = parts.extensions.get::<TlsPeer>();
        // Credentials a caller sends are checked and win; a certificate
        // speaks for a caller that sends none.
        let principal = match (parts.headers.get(AUTHORIZATION), tls) {
            (Some(value), _) => {
                let user = basic_user(value.as_bytes(), state).await?;
                format!("User:{user}")
            }
            (
                None,
                Some(TlsPeer {
                    principal: Some(principal),
                }),
            ) => principal.clone(),
            (None, _) => "User:ANONYMOUS".to_string(),
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let host = parts
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| peer.to_string());
        let prefix = parts
            .extensions
            .get::<NestedPath>()
            .map(|p| p.as_str().trim_end_matches('/').to_string())
            .unwrap_or_default();
        let base = format!("{scheme}://{host}{prefix}");
        let cluster_id = state.broker.cluster_id();
        Ok(RestCall {
            broker: state.broker.clone(),
            caller: Caller { principal, peer },
            cluster_url: format!("{base}/clusters/{cluster_id}"),
            cluster_id,
            base,
        })
    }
}

/// The user of an `Authorization: Basic ...` header, if its password is right.
async fn basic_user(header: &[u8], state: &AppState) -> Result<String, RestError> {
    let refused = || RestError::unauthorized("Unauthorized");
    let text = std::str::from_utf8(header).map_err(|_| refused())?;
    let (scheme, encoded) = text.trim().split_once(' ').ok_or_else(refused)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(refused());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| refused())?;
    let decoded = String::from_utf8(decoded).map_err(|_| refused())?;
    let (user, password) = decoded.split_once(':').ok_or_else(refused)?;
    if state.passwords.check(&state.broker, user, password).await {
        Ok(user.to_string())
    } else {
        Err(refused())
    }
}
