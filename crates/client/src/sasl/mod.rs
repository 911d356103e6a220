//! SASL authentication for `security.protocol` SASL_PLAINTEXT and SASL_SSL:
//! the `sasl.*` client properties (Java's `sasl.jaas.config`, librdkafka's
//! `sasl.username`/`sasl.password`), and the exchange run on a fresh
//! connection right after ApiVersions: SaslHandshake v1 to agree on the
//! mechanism, then SaslAuthenticate (v0-2) round trips for PLAIN or
//! SCRAM-SHA-256/512. It must never log a password or put it (or SCRAM
//! proofs) into an error message, and never retries: a failed
//! authentication is final for the connection.
//!
//! Session expiry (KIP-368): when the broker answers with
//! `session_lifetime_ms > 0`, [`authenticate`] returns that lifetime and the
//! connection reports itself closed once 90% of it has passed, so
//! [`crate::KafkaClient`] (and anyone pooling connections by
//! `is_closed`) opens and authenticates a fresh connection. Requests already
//! in flight finish on the old one, so a pipelined connection never has to
//! pause for a re-authentication exchange.

pub mod jaas;
pub mod scram;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
};
use kafka_protocol::protocol::{StrBytes, VersionRange};

use crate::connection::Connection;
use crate::error::{ClientError, error_description};
use crate::secret::{REDACTED, Secret};
use scram::{ScramClient, ScramHash};

/// A SASL mechanism this client implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl SaslMechanism {
    /// The name sent in SaslHandshake.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    fn scram_hash(self) -> Option<ScramHash> {
        match self {
            SaslMechanism::Plain => None,
            SaslMechanism::ScramSha256 => Some(ScramHash::Sha256),
            SaslMechanism::ScramSha512 => Some(ScramHash::Sha512),
        }
    }

    /// Parses a `sasl.mechanism` value (`property` names it in errors).
    pub fn parse(property: &str, value: &str) -> Result<SaslMechanism, ClientError> {
        match value.trim().to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(SaslMechanism::Plain),
            "SCRAM-SHA-256" => Ok(SaslMechanism::ScramSha256),
            "SCRAM-SHA-512" => Ok(SaslMechanism::ScramSha512),
            "GSSAPI" | "OAUTHBEARER" => Err(ClientError::UnsupportedConfig {
                property: property.to_string(),
                value: value.trim().to_string(),
                reason: "supported mechanisms are PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512"
                    .to_string(),
            }),
            _ => Err(ClientError::InvalidConfig {
                property: property.to_string(),
                value: value.trim().to_string(),
                reason: "expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512".to_string(),
            }),
        }
    }
}

/// Credentials and mechanism of a SASL client.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslSettings {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: Secret,
    /// SCRAM with a delegation token (`tokenauth=true` in the JAAS options).
    pub token_auth: bool,
}

impl std::fmt::Debug for SaslSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslSettings")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("token_auth", &self.token_auth)
            .finish()
    }
}

fn invalid(property: &str, value: &str, reason: impl Into<String>) -> ClientError {
    ClientError::InvalidConfig {
        property: property.to_string(),
        value: crate::secret::shown_value(property, value),
        reason: reason.into(),
    }
}

fn take(props: &mut BTreeMap<String, String>, key: &str) -> Option<String> {
    props.remove(key).filter(|v| !v.trim().is_empty())
}

impl SaslSettings {
    /// Settings for `mechanism` with a user name and password.
    pub fn new(mechanism: SaslMechanism, username: impl Into<String>, password: Secret) -> Self {
        SaslSettings {
            mechanism,
            username: username.into(),
            password,
            token_auth: false,
        }
    }

    /// Reads the `sasl.*` properties this client implements out of `props`
    /// (leaving any others).
    pub fn from_properties(
        props: &mut BTreeMap<String, String>,
    ) -> Result<SaslSettings, ClientError> {
        let mechanism = match (
            take(props, "sasl.mechanism"),
            take(props, "sasl.mechanisms"),
        ) {
            (Some(a), Some(b)) if !a.trim().eq_ignore_ascii_case(b.trim()) => {
                return Err(invalid(
                    "sasl.mechanism",
                    a.trim(),
                    "sasl.mechanisms is also set, to a different mechanism; set only one",
                ));
            }
            (Some(value), _) => SaslMechanism::parse("sasl.mechanism", &value)?,
            (None, Some(value)) => SaslMechanism::parse("sasl.mechanisms", &value)?,
            (None, None) => {
                return Err(ClientError::UnsupportedConfig {
                    property: "sasl.mechanism".to_string(),
                    value: "GSSAPI".to_string(),
                    reason: "Kafka's default mechanism (Kerberos) is not supported; set sasl.mechanism to PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512".to_string(),
                });
            }
        };
        let jaas_text = take(props, "sasl.jaas.config");
        let username = props.remove("sasl.username");
        let password = props.remove("sasl.password");
        let Some(jaas_text) = jaas_text else {
            let (Some(username), Some(password)) = (username, password) else {
                return Err(invalid(
                    "sasl.jaas.config",
                    "",
                    format!(
                        "{} needs credentials: set sasl.jaas.config (or sasl.username and sasl.password)",
                        mechanism.name()
                    ),
                ));
            };
            let username = username.trim().to_string();
            if username.is_empty() {
                return Err(invalid("sasl.username", "", "must not be empty"));
            }
            return Ok(SaslSettings::new(
                mechanism,
                username,
                Secret::new(password),
            ));
        };
        if username.is_some() || password.is_some() {
            return Err(invalid(
                "sasl.jaas.config",
                REDACTED,
                "sasl.username/sasl.password are also set; give the credentials one way only",
            ));
        }
        let entry = jaas::parse(&jaas_text)
            .map_err(|reason| invalid("sasl.jaas.config", REDACTED, reason))?;
        let expected = match mechanism {
            SaslMechanism::Plain => jaas::PLAIN_LOGIN_MODULE,
            SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => jaas::SCRAM_LOGIN_MODULE,
        };
        if entry.login_module != expected {
            let known = [jaas::PLAIN_LOGIN_MODULE, jaas::SCRAM_LOGIN_MODULE];
            let reason = if known.contains(&entry.login_module.as_str()) {
                format!(
                    "sasl.mechanism={} needs {expected}, but the login module is {}",
                    mechanism.name(),
                    entry.login_module
                )
            } else {
                format!(
                    "login module {} is not supported; sasl.mechanism={} needs {expected}",
                    entry.login_module,
                    mechanism.name()
                )
            };
            return Err(invalid("sasl.jaas.config", REDACTED, reason));
        }
        let username = match entry.option("username") {
            Some(name) if !name.expose().is_empty() => name.expose().to_string(),
            _ => {
                return Err(invalid(
                    "sasl.jaas.config",
                    REDACTED,
                    format!("{} has no username option", entry.login_module),
                ));
            }
        };
        let Some(password) = entry.option("password") else {
            return Err(invalid(
                "sasl.jaas.config",
                REDACTED,
                format!("{} has no password option", entry.login_module),
            ));
        };
        let token_auth = entry
            .option("tokenauth")
            .is_some_and(|v| v.expose().eq_ignore_ascii_case("true"));
        if token_auth && mechanism == SaslMechanism::Plain {
            return Err(invalid(
                "sasl.jaas.config",
                REDACTED,
                "tokenauth is only valid with SCRAM mechanisms",
            ));
        }
        Ok(SaslSettings {
            mechanism,
            username,
            password: password.clone(),
            token_auth,
        })
    }
}

/// Replaces any occurrence of the password in text from the broker.
fn scrub(text: &str, password: &Secret) -> String {
    if password.is_empty() {
        text.to_string()
    } else {
        text.replace(password.expose(), REDACTED)
    }
}

/// One SaslAuthenticate round trip; a non-zero error code becomes a
/// [`ClientError::Server`] carrying the broker's message.
async fn exchange(
    connection: &Connection,
    version: i16,
    auth_bytes: Vec<u8>,
    settings: &SaslSettings,
) -> Result<SaslAuthenticateResponse, ClientError> {
    let request = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(auth_bytes));
    let response = connection.send_versioned(request, version).await?;
    if response.error_code != 0 {
        let error = ResponseError::try_from_code(response.error_code)
            .unwrap_or(ResponseError::SaslAuthenticationFailed);
        let message = match response.error_message.as_deref() {
            Some(text) if !text.is_empty() => scrub(text, &settings.password),
            _ => format!(
                "{} ({} authentication with {} as user '{}')",
                error_description(error).trim_end_matches('.'),
                settings.mechanism.name(),
                connection.address(),
                settings.username
            ),
        };
        return Err(ClientError::Server { error, message });
    }
    Ok(response)
}

fn client_side_failure(
    connection: &Connection,
    settings: &SaslSettings,
    reason: String,
) -> ClientError {
    ClientError::Authentication {
        address: connection.address().to_string(),
        mechanism: settings.mechanism.name().to_string(),
        reason,
    }
}

/// Authenticates a connection whose ApiVersions exchange is done. Returns
/// the session lifetime when the broker set one (KIP-368).
pub async fn authenticate(
    connection: &Connection,
    settings: &SaslSettings,
) -> Result<Option<Duration>, ClientError> {
    let mechanism = settings.mechanism;
    let handshake_version =
        connection.negotiated_version(ApiKey::SaslHandshake, VersionRange { min: 1, max: 1 })?;
    let handshake =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism.name()));
    let response = connection
        .send_versioned(handshake, handshake_version)
        .await?;
    if response.error_code == ResponseError::UnsupportedSaslMechanism.code() {
        let enabled: Vec<&str> = response.mechanisms.iter().map(|m| m.as_str()).collect();
        let enabled = if enabled.is_empty() {
            "none".to_string()
        } else {
            enabled.join(", ")
        };
        return Err(ClientError::Server {
            error: ResponseError::UnsupportedSaslMechanism,
            message: format!(
                "The broker at {} does not support SASL mechanism {} (sasl.mechanism); it enables: {enabled}",
                connection.address(),
                mechanism.name()
            ),
        });
    }
    ClientError::check(response.error_code, None)?;
    let version = connection.version_for::<SaslAuthenticateRequest>()?;
    let last = match mechanism.scram_hash() {
        None => {
            // RFC 4616: authzid NUL authcid NUL passwd, with an empty authzid.
            let mut token = Vec::with_capacity(settings.username.len() + 2 + 64);
            token.push(0);
            token.extend_from_slice(settings.username.as_bytes());
            token.push(0);
            token.extend_from_slice(settings.password.expose().as_bytes());
            exchange(connection, version, token, settings).await?
        }
        Some(hash) => {
            let extensions: &[(&str, &str)] = if settings.token_auth {
                &[("tokenauth", "true")]
            } else {
                &[]
            };
            let mut client =
                ScramClient::new(hash, &settings.username, &settings.password, extensions);
            let first = exchange(
                connection,
                version,
                client.client_first_message().into_bytes(),
                settings,
            )
            .await?;
            let server_first = first.auth_bytes;
            // Key derivation costs `iterations` HMACs: keep it off the runtime threads.
            let derived = tokio::task::spawn_blocking(move || {
                let result = client.handle_server_first(&server_first);
                (client, result)
            })
            .await
            .map_err(|e| {
                client_side_failure(connection, settings, format!("key derivation failed: {e}"))
            })?;
            let (mut client, client_final) = derived;
            let client_final =
                client_final.map_err(|e| client_side_failure(connection, settings, e.0))?;
            let last = exchange(connection, version, client_final.into_bytes(), settings).await?;
            client
                .handle_server_final(&last.auth_bytes)
                .map_err(|e| client_side_failure(connection, settings, e.0))?;
            last
        }
    };
    tracing::debug!(
        address = %connection.address(),
        mechanism = mechanism.name(),
        user = %settings.username,
        session_lifetime_ms = last.session_lifetime_ms,
        "SASL authentication succeeded"
    );
    Ok(u64::try_from(last.session_lifetime_ms)
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn error_text(result: Result<SaslSettings, ClientError>) -> String {
        match result {
            Ok(settings) => panic!("expected an error, got {settings:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn reads_jaas_and_librdkafka_credentials() {
        let mut p = props(&[
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="link" password="pw";"#,
            ),
            ("sasl.login.refresh.window.factor", "0.8"),
        ]);
        let settings = SaslSettings::from_properties(&mut p);
        assert_eq!(
            settings.ok(),
            Some(SaslSettings::new(
                SaslMechanism::ScramSha512,
                "link",
                Secret::new("pw")
            ))
        );
        assert_eq!(p.len(), 1, "unknown sasl.* keys stay for the caller");

        let mut p = props(&[
            ("sasl.mechanisms", "plain"),
            ("sasl.username", "u"),
            ("sasl.password", "p w"),
        ]);
        let settings = SaslSettings::from_properties(&mut p);
        assert_eq!(
            settings.ok(),
            Some(SaslSettings::new(
                SaslMechanism::Plain,
                "u",
                Secret::new("p w")
            ))
        );
    }

    #[test]
    fn invalid_combinations_name_the_property_and_hide_secrets() {
        let jaas_plain = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="s3cr3t";"#;
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![("sasl.jaas.config", jaas_plain)], "sasl.mechanism"),
            (
                vec![
                    ("sasl.mechanism", "GSSAPI"),
                    ("sasl.jaas.config", jaas_plain),
                ],
                "sasl.mechanism",
            ),
            (
                vec![
                    ("sasl.mechanism", "SCRAM-SHA-256"),
                    ("sasl.jaas.config", jaas_plain),
                ],
                "ScramLoginModule",
            ),
            (
                vec![
                    ("sasl.mechanism", "PLAIN"),
                    ("sasl.jaas.config", jaas_plain),
                    ("sasl.password", "s3cr3t"),
                ],
                "one way only",
            ),
            (
                vec![
                    ("sasl.mechanism", "PLAIN"),
                    (
                        "sasl.jaas.config",
                        r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="s3cr3t""#,
                    ),
                    ("sasl.mechanisms", "SCRAM-SHA-256"),
                ],
                "sasl.mechanisms",
            ),
            (
                vec![
                    ("sasl.mechanism", "PLAIN"),
                    (
                        "sasl.jaas.config",
                        r#"org.apache.kafka.common.security.plain.PlainLoginModule required user="u" password="s3cr3t";"#,
                    ),
                ],
                "no username",
            ),
            (
                vec![
                    ("sasl.mechanism", "PLAIN"),
                    (
                        "sasl.jaas.config",
                        r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password=s3cr3t x;"#,
                    ),
                ],
                "sasl.jaas.config",
            ),
            (vec![("sasl.mechanism", "PLAIN")], "needs credentials"),
            (
                vec![("sasl.mechanism", "PLAIN"), ("sasl.password", "s3cr3t")],
                "needs credentials",
            ),
        ];
        for (pairs, expected) in cases {
            let text = error_text(SaslSettings::from_properties(&mut props(&pairs)));
            assert!(
                text.contains(expected),
                "{text:?} should mention {expected}"
            );
            assert!(!text.contains("s3cr3t"), "{text:?} leaks the password");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let settings = SaslSettings::new(SaslMechanism::Plain, "u", Secret::new("s3cr3t"));
        let text = format!("{settings:?}");
        assert!(!text.contains("s3cr3t") && text.contains("[hidden]"));
        assert_eq!(
            scrub("bad password s3cr3t for u", &settings.password),
            "bad password [hidden] for u"
        );
    }
}
