//! Per-connection authentication, as Kafka's SaslServerAuthenticator does it:
//! the state machine that, on SASL listeners, lets only ApiVersions,
//! SaslHandshake (v0 or v1) and SaslAuthenticate through before a client has
//! authenticated (any other request closes the connection), runs the PLAIN
//! or SCRAM exchange (framed by SaslAuthenticate after SaslHandshake v1, raw
//! size-prefixed tokens after v0), tracks the session's expiry
//! (`connections.max.reauth.ms`, KIP-368) and re-authentication, and yields
//! the connection's principal (`User:alice`, `User:<certificate DN>`,
//! `User:ANONYMOUS`).
//!
//! It must never log or answer with a password, a SCRAM proof or a JAAS
//! text, and must never let a request other than the three above reach the
//! handlers on a SASL listener before authentication succeeded.

pub mod jaas;
pub mod plain;
pub mod scram;
pub mod tls;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    ApiKey, RequestKind, ResponseKind, SaslAuthenticateResponse, SaslHandshakeResponse,
};
use strait_metadata::MetadataStore;
use strait_protocol::DecodedRequest;

use crate::config::{ListenerSecurity, SaslMechanism, SaslSettings, SecurityProtocol};
use crate::handlers::str_bytes;

/// The principal of a connection that has not authenticated (PLAINTEXT, or
/// TLS without a client certificate).
pub const ANONYMOUS: &str = "User:ANONYMOUS";

/// How long a failed authentication is held before its answer, as Kafka's
/// `connection.failed.authentication.delay.ms` (default 100).
pub const FAILED_AUTHENTICATION_DELAY: Duration = Duration::from_millis(100);

/// Largest frame accepted before authentication (Kafka's
/// `sasl.server.max.receive.size`).
pub const MAX_UNAUTHENTICATED_FRAME: usize = 524_288;

/// Why an exchange failed. `Denied` messages go to the client as they are
/// (Kafka's SaslAuthenticationException); `Invalid` ones are replaced by
/// Kafka's generic "invalid credentials" message. Neither ever holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    denied: bool,
    detail: String,
}

impl AuthFailure {
    pub(crate) fn denied(detail: impl Into<String>) -> Self {
        AuthFailure {
            denied: true,
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        AuthFailure {
            denied: false,
            detail: detail.into(),
        }
    }

    fn message(&self, mechanism: &str, reauthenticating: bool) -> String {
        if self.denied {
            self.detail.clone()
        } else {
            format!(
                "Authentication failed during {} due to invalid credentials with SASL mechanism {mechanism}",
                if reauthenticating {
                    "re-authentication"
                } else {
                    "authentication"
                }
            )
        }
    }

    /// The message the client gets.
    #[cfg(test)]
    pub fn client_message(&self, mechanism: &str) -> String {
        self.message(mechanism, false)
    }
}

/// What the connection does with a request after the authenticator saw it.
pub enum Outcome {
    /// Hand it to the handlers.
    Serve(DecodedRequest),
    /// Answer with this and go on.
    Respond(ResponseKind),
    /// Answer with this after [`FAILED_AUTHENTICATION_DELAY`], then close;
    /// the text is for the log.
    RespondAndClose(ResponseKind, String),
    /// Close without answering; the text is for the log.
    Close(String),
}

/// What the connection does with a raw SASL token (after SaslHandshake v0).
pub enum RawOutcome {
    /// Send these bytes as one size-prefixed frame and go on.
    Respond(Vec<u8>),
    /// Close (after the failed-authentication delay); the text is for the log.
    Close(String),
}

enum Exchange {
    Plain,
    Scram(Box<scram::ScramServer>),
}

enum Phase {
    /// PLAINTEXT or SSL: nothing to authenticate in band.
    Open,
    /// SASL, before SaslHandshake.
    Handshake,
    /// Mechanism chosen; `raw` after SaslHandshake v0.
    Exchanging {
        mechanism: SaslMechanism,
        raw: bool,
        exchange: Exchange,
    },
    /// SASL authentication succeeded.
    Authenticated,
}

struct Session {
    mechanism: SaslMechanism,
    principal: String,
    expires_at: Option<Instant>,
}

/// One connection's authentication state.
pub struct Authenticator {
    sasl: Option<Arc<SaslSettings>>,
    store: Arc<dyn MetadataStore>,
    phase: Phase,
    principal: String,
    /// The authenticated SASL session; kept while re-authenticating.
    session: Option<Session>,
    /// Set when the last exchange completed: (principal, re-authentication).
    completed: Option<(String, bool)>,
}

/// Kafka's answer to SaslHandshake/SaslAuthenticate on a listener without SASL
/// or after authentication.
const AFTER_AUTHENTICATION: &str =
    "SaslAuthenticate request received after successful authentication";

impl Authenticator {
    /// `tls_principal` is the client certificate's principal, if any.
    pub fn new(
        listener: &ListenerSecurity,
        sasl: Option<Arc<SaslSettings>>,
        store: Arc<dyn MetadataStore>,
        tls_principal: Option<String>,
    ) -> Self {
        let uses_sasl = listener.protocol.uses_sasl() && sasl.is_some();
        let principal = match (listener.protocol, tls_principal) {
            (SecurityProtocol::Ssl, Some(p)) => p,
            _ => ANONYMOUS.to_string(),
        };
        Authenticator {
            sasl: if uses_sasl { sasl } else { None },
            store,
            phase: if uses_sasl {
                Phase::Handshake
            } else {
                Phase::Open
            },
            principal,
            session: None,
            completed: None,
        }
    }

    /// The connection's principal (`User:ANONYMOUS` until SASL succeeds).
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// Whether requests other than the SASL ones may be served.
    pub fn is_authenticated(&self) -> bool {
        matches!(self.phase, Phase::Open | Phase::Authenticated)
    }

    /// Whether the next frame is a raw SASL token (SaslHandshake v0 flow).
    pub fn expects_raw_token(&self) -> bool {
        matches!(self.phase, Phase::Exchanging { raw: true, .. })
    }

    /// The SASL mechanism of the exchange in progress, else of the session;
    /// `None` before a mechanism was chosen.
    pub fn mechanism(&self) -> Option<SaslMechanism> {
        match &self.phase {
            Phase::Exchanging { mechanism, .. } => Some(*mechanism),
            _ => self.session.as_ref().map(|s| s.mechanism),
        }
    }

    /// The exchange that just completed, once: (principal, re-authentication).
    pub fn take_completed(&mut self) -> Option<(String, bool)> {
        self.completed.take()
    }

    fn expired(&self, now: Instant) -> bool {
        self.session
            .as_ref()
            .and_then(|s| s.expires_at)
            .is_some_and(|at| now >= at)
    }

    fn reauthenticating(&self) -> bool {
        self.session.is_some()
    }

    /// Whether a Strait admin frame may be served now.
    pub fn admits_admin_frame(&self, now: Instant) -> bool {
        self.is_authenticated() && !self.expired(now)
    }

    /// Sees one decoded request.
    pub fn on_request(&mut self, request: DecodedRequest, now: Instant) -> Outcome {
        let api = request.api_key;
        let version = request.version();
        match (&self.phase, api) {
            (Phase::Authenticated, _) if self.expired(now) => {
                Outcome::Close("its SASL session expired (connections.max.reauth.ms)".into())
            }
            (_, ApiKey::SaslHandshake) => match request.body {
                RequestKind::SaslHandshake(r) => self.handshake(r.mechanism.as_str(), version),
                _ => Outcome::Close("malformed SaslHandshake".into()),
            },
            (_, ApiKey::SaslAuthenticate) => match request.body {
                RequestKind::SaslAuthenticate(r) => self.authenticate(&r.auth_bytes, version, now),
                _ => Outcome::Close("malformed SaslAuthenticate".into()),
            },
            (Phase::Open | Phase::Authenticated, _) => Outcome::Serve(request),
            (Phase::Handshake, ApiKey::ApiVersions) => Outcome::Serve(request),
            (Phase::Handshake, _) => Outcome::Close(format!(
                "Unexpected Kafka request of type {api:?} during SASL handshake."
            )),
            (Phase::Exchanging { .. }, _) => Outcome::Close(format!(
                "Unexpected Kafka request of type {api:?} during SASL authentication."
            )),
        }
    }

    fn handshake(&mut self, mechanism: &str, version: i16) -> Outcome {
        let Some(sasl) = self.sasl.clone() else {
            let mut r = SaslHandshakeResponse::default();
            r.error_code = ResponseError::IllegalSaslState.code();
            return Outcome::Respond(ResponseKind::SaslHandshake(r));
        };
        let enabled: Vec<_> = sasl
            .mechanisms
            .iter()
            .map(|m| str_bytes(m.name()))
            .collect();
        let mut response = SaslHandshakeResponse::default();
        response.mechanisms = enabled;
        match self.phase {
            Phase::Handshake => {}
            Phase::Authenticated => {
                if version == 0 {
                    response.error_code = ResponseError::IllegalSaslState.code();
                    return Outcome::RespondAndClose(
                        ResponseKind::SaslHandshake(response),
                        "re-authentication must use SaslHandshake v1 and SaslAuthenticate".into(),
                    );
                }
                if let Some(s) = &self.session
                    && s.mechanism.name() != mechanism
                {
                    response.error_code = ResponseError::UnsupportedSaslMechanism.code();
                    response.mechanisms = vec![str_bytes(s.mechanism.name())];
                    return Outcome::RespondAndClose(
                        ResponseKind::SaslHandshake(response),
                        format!(
                            "SASL mechanism changed from {} during re-authentication",
                            s.mechanism.name()
                        ),
                    );
                }
            }
            Phase::Open | Phase::Exchanging { .. } => {
                return Outcome::Close(
                    "Unexpected Kafka request of type SaslHandshake during SASL authentication."
                        .into(),
                );
            }
        }
        let Some(mech) = SaslMechanism::parse(mechanism).filter(|m| sasl.mechanisms.contains(m))
        else {
            response.error_code = ResponseError::UnsupportedSaslMechanism.code();
            return Outcome::RespondAndClose(
                ResponseKind::SaslHandshake(response),
                format!("Unsupported SASL mechanism {mechanism}"),
            );
        };
        self.phase = Phase::Exchanging {
            mechanism: mech,
            raw: version == 0,
            exchange: match mech {
                SaslMechanism::Plain => Exchange::Plain,
                _ => Exchange::Scram(Box::new(scram::ScramServer::new(mech))),
            },
        };
        Outcome::Respond(ResponseKind::SaslHandshake(response))
    }

    /// Feeds one client token to the running exchange: Ok(Some(response))
    /// while it goes on or when it completes, Err on failure.
    fn step(&mut self, token: &[u8], now: Instant) -> Result<(Vec<u8>, bool), (String, String)> {
        let reauth = self.reauthenticating();
        let Phase::Exchanging {
            mechanism,
            exchange,
            ..
        } = &mut self.phase
        else {
            return Err((
                "no SASL exchange in progress".into(),
                "no SASL exchange in progress".into(),
            ));
        };
        let mechanism = *mechanism;
        let fail = |e: AuthFailure| (e.message(mechanism.name(), reauth), e.detail);
        let (response, user) = match exchange {
            Exchange::Plain => {
                let users = self
                    .sasl
                    .as_ref()
                    .map(|s| &s.plain_users)
                    .ok_or_else(|| fail(AuthFailure::invalid("no PLAIN users")))?;
                let user = plain::authenticate(token, users).map_err(fail)?;
                (Vec::new(), Some(user))
            }
            Exchange::Scram(server) => {
                let store = self.store.clone();
                match server
                    .step(token, |user| {
                        store.scram_credentials(user).remove(mechanism.name())
                    })
                    .map_err(fail)?
                {
                    scram::ScramStep::Challenge(c) => (c, None),
                    scram::ScramStep::Complete { response, user } => (response, Some(user)),
                }
            }
        };
        let Some(user) = user else {
            return Ok((response, false));
        };
        let principal = format!("User:{user}");
        if let Some(previous) = &self.session
            && previous.principal != principal
        {
            let m = format!(
                "Cannot change principals during re-authentication from {}: {principal}",
                previous.principal
            );
            return Err((m.clone(), m));
        }
        let lifetime = self.session_lifetime_ms();
        self.session = Some(Session {
            mechanism,
            principal: principal.clone(),
            expires_at: (lifetime > 0).then(|| now + Duration::from_millis(lifetime as u64)),
        });
        self.principal = principal.clone();
        self.completed = Some((principal, reauth));
        self.phase = Phase::Authenticated;
        Ok((response, true))
    }

    fn session_lifetime_ms(&self) -> i64 {
        self.sasl.as_ref().map_or(0, |s| s.max_reauth_ms)
    }

    fn authenticate(&mut self, token: &Bytes, version: i16, now: Instant) -> Outcome {
        let mut response = SaslAuthenticateResponse::default();
        match self.phase {
            Phase::Open | Phase::Authenticated => {
                response.error_code = ResponseError::IllegalSaslState.code();
                response.error_message = Some(str_bytes(AFTER_AUTHENTICATION));
                return Outcome::Respond(ResponseKind::SaslAuthenticate(response));
            }
            Phase::Handshake => {
                return Outcome::Close(
                    "Unexpected Kafka request of type SaslAuthenticate during SASL handshake."
                        .into(),
                );
            }
            Phase::Exchanging { raw: true, .. } => {
                return Outcome::Close(
                    "SaslAuthenticate after a SaslHandshake v0 (raw tokens expected)".into(),
                );
            }
            Phase::Exchanging { raw: false, .. } => {}
        }
        match self.step(token, now) {
            Ok((bytes, done)) => {
                response.auth_bytes = Bytes::from(bytes);
                if done && version >= 1 {
                    response.session_lifetime_ms = self.session_lifetime_ms();
                }
                Outcome::Respond(ResponseKind::SaslAuthenticate(response))
            }
            Err((message, detail)) => {
                response.error_code = ResponseError::SaslAuthenticationFailed.code();
                response.error_message = Some(str_bytes(message));
                Outcome::RespondAndClose(ResponseKind::SaslAuthenticate(response), detail)
            }
        }
    }

    /// Sees one raw SASL token (only when [`Self::expects_raw_token`]).
    pub fn on_raw_token(&mut self, token: &[u8], now: Instant) -> RawOutcome {
        match self.step(token, now) {
            Ok((bytes, _)) => RawOutcome::Respond(bytes),
            Err((_, detail)) => RawOutcome::Close(detail),
        }
    }
}

#[cfg(test)]
mod tests;
