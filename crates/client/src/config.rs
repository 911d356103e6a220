//! Client configuration built from Kafka client properties (`bootstrap.servers`,
//! `client.id`, `request.timeout.ms`, ...). It owns property parsing and
//! validation; it must never open connections or read files (callers such as
//! the CLI's `--command-config` or cluster-link configs hand it a map).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::error::ClientError;

/// `security.protocol` values. Only PLAINTEXT is implemented; the others are
/// recognised so the error can say precisely what is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext,
}

/// Connection and retry settings of a [`crate::KafkaClient`] or [`crate::Connection`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// `bootstrap.servers`: `host:port` entries, tried in order.
    pub bootstrap_servers: Vec<String>,
    /// `client.id`, sent in every request header.
    pub client_id: String,
    /// `request.timeout.ms`: how long one request may wait for its response.
    pub request_timeout: Duration,
    /// `default.api.timeout.ms`: overall deadline of one client call, retries included.
    pub default_api_timeout: Duration,
    /// `socket.connection.setup.timeout.ms`: TCP connect timeout.
    pub connection_setup_timeout: Duration,
    /// `metadata.max.age.ms`: cached metadata older than this is refreshed before use.
    pub metadata_max_age: Duration,
    /// `retry.backoff.ms`: pause between retries of a failed call.
    pub retry_backoff: Duration,
    /// `reconnect.backoff.ms`: pause before reconnecting to a broker that failed.
    pub reconnect_backoff: Duration,
    /// `security.protocol`.
    pub security_protocol: SecurityProtocol,
    /// Properties this client does not interpret, kept for layers above (e.g. cluster links).
    pub other: BTreeMap<String, String>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bootstrap_servers: Vec::new(),
            client_id: "strait-client".to_string(),
            request_timeout: Duration::from_millis(30_000),
            default_api_timeout: Duration::from_millis(60_000),
            connection_setup_timeout: Duration::from_millis(10_000),
            metadata_max_age: Duration::from_millis(300_000),
            retry_backoff: Duration::from_millis(100),
            reconnect_backoff: Duration::from_millis(50),
            security_protocol: SecurityProtocol::Plaintext,
            other: BTreeMap::new(),
        }
    }
}

/// Properties that are legitimate client settings but have no effect here
/// (they matter for producers/consumers or for TLS/SASL, which would be
/// rejected through `security.protocol` anyway).
const IGNORED_WITHOUT_COMPLAINT: &[&str] = &["client.dns.lookup", "connections.max.idle.ms"];

impl ClientConfig {
    /// A default configuration with the given bootstrap servers.
    pub fn new<I, S>(bootstrap_servers: I) -> Result<Self, ClientError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut config = ClientConfig::default();
        let joined: Vec<String> = bootstrap_servers.into_iter().map(Into::into).collect();
        config.bootstrap_servers = parse_bootstrap_servers(&joined.join(","))?;
        Ok(config)
    }

    /// Builds a configuration from Kafka client properties. Unknown keys are
    /// kept in [`ClientConfig::other`]; malformed values are errors naming the property.
    pub fn from_properties(props: &HashMap<String, String>) -> Result<Self, ClientError> {
        let mut config = ClientConfig::default();
        let mut keys: Vec<&String> = props.keys().collect();
        keys.sort();
        for key in keys {
            let Some(raw) = props.get(key) else { continue };
            let value = raw.trim();
            match key.as_str() {
                "bootstrap.servers" => config.bootstrap_servers = parse_bootstrap_servers(value)?,
                "client.id" => config.client_id = value.to_string(),
                "request.timeout.ms" => config.request_timeout = parse_millis(key, value)?,
                "default.api.timeout.ms" => config.default_api_timeout = parse_millis(key, value)?,
                "socket.connection.setup.timeout.ms" => {
                    config.connection_setup_timeout = parse_millis(key, value)?
                }
                "metadata.max.age.ms" => config.metadata_max_age = parse_millis(key, value)?,
                "retry.backoff.ms" => config.retry_backoff = parse_millis(key, value)?,
                "reconnect.backoff.ms" => config.reconnect_backoff = parse_millis(key, value)?,
                "security.protocol" => config.security_protocol = parse_security_protocol(value)?,
                other if IGNORED_WITHOUT_COMPLAINT.contains(&other) => {}
                other => {
                    config.other.insert(other.to_string(), raw.clone());
                }
            }
        }
        Ok(config)
    }

    /// Sets `bootstrap.servers` from a comma-separated list (as `--bootstrap-server` passes it).
    pub fn with_bootstrap_servers(mut self, servers: &str) -> Result<Self, ClientError> {
        self.bootstrap_servers = parse_bootstrap_servers(servers)?;
        Ok(self)
    }

    /// Sets `client.id`.
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self
    }

    /// Sets `request.timeout.ms`.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets `default.api.timeout.ms`.
    pub fn with_default_api_timeout(mut self, timeout: Duration) -> Self {
        self.default_api_timeout = timeout;
        self
    }
}

/// Splits a comma-separated `host:port` list, checking each entry.
pub fn parse_bootstrap_servers(value: &str) -> Result<Vec<String>, ClientError> {
    let mut servers = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        split_host_port(entry).map_err(|reason| ClientError::InvalidConfig {
            property: "bootstrap.servers".to_string(),
            value: value.to_string(),
            reason,
        })?;
        servers.push(entry.to_string());
    }
    if servers.is_empty() {
        return Err(ClientError::InvalidConfig {
            property: "bootstrap.servers".to_string(),
            value: value.to_string(),
            reason: "no bootstrap server given".to_string(),
        });
    }
    Ok(servers)
}

/// Splits `host:port` or `[v6addr]:port` into host and port.
pub fn split_host_port(entry: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(format!("'{entry}' has an unterminated '['"));
        };
        let Some(port) = after.strip_prefix(':') else {
            return Err(format!("'{entry}' has no port"));
        };
        (host, port)
    } else {
        match entry.rsplit_once(':') {
            Some((host, port)) => (host, port),
            None => return Err(format!("'{entry}' is not of the form host:port")),
        }
    };
    if host.is_empty() {
        return Err(format!("'{entry}' has an empty host"));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| format!("'{entry}' has an invalid port"))?;
    if port == 0 {
        return Err(format!("'{entry}' has an invalid port"));
    }
    Ok((host.to_string(), port))
}

fn parse_millis(property: &str, value: &str) -> Result<Duration, ClientError> {
    let millis: i64 = value.parse().map_err(|_| ClientError::InvalidConfig {
        property: property.to_string(),
        value: value.to_string(),
        reason: "expected a number of milliseconds".to_string(),
    })?;
    if millis < 0 {
        return Err(ClientError::InvalidConfig {
            property: property.to_string(),
            value: value.to_string(),
            reason: "must not be negative".to_string(),
        });
    }
    Ok(Duration::from_millis(millis.unsigned_abs()))
}

fn parse_security_protocol(value: &str) -> Result<SecurityProtocol, ClientError> {
    match value.to_ascii_uppercase().as_str() {
        "PLAINTEXT" => Ok(SecurityProtocol::Plaintext),
        "SSL" | "SASL_PLAINTEXT" | "SASL_SSL" => Err(ClientError::UnsupportedConfig {
            property: "security.protocol".to_string(),
            value: value.to_string(),
            reason: "only PLAINTEXT is supported by this client for now".to_string(),
        }),
        _ => Err(ClientError::InvalidConfig {
            property: "security.protocol".to_string(),
            value: value.to_string(),
            reason: "expected one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL".to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_known_properties_and_keeps_unknown_ones() {
        let config = ClientConfig::from_properties(&props(&[
            ("bootstrap.servers", "a:9092, b:9093"),
            ("client.id", "tool"),
            ("request.timeout.ms", "1500"),
            ("default.api.timeout.ms", "2500"),
            ("metadata.max.age.ms", "10"),
            ("security.protocol", "plaintext"),
            ("link.mode", "SOURCE"),
        ]));
        let Ok(config) = config else {
            panic!("config should parse: {config:?}");
        };
        assert_eq!(config.bootstrap_servers, vec!["a:9092", "b:9093"]);
        assert_eq!(config.client_id, "tool");
        assert_eq!(config.request_timeout, Duration::from_millis(1500));
        assert_eq!(config.default_api_timeout, Duration::from_millis(2500));
        assert_eq!(config.metadata_max_age, Duration::from_millis(10));
        assert_eq!(
            config.other.get("link.mode").map(String::as_str),
            Some("SOURCE")
        );
    }

    #[test]
    fn rejects_tls_and_sasl_naming_the_property() {
        for protocol in ["SSL", "SASL_PLAINTEXT", "SASL_SSL"] {
            let err = ClientConfig::from_properties(&props(&[("security.protocol", protocol)]));
            match err {
                Err(ClientError::UnsupportedConfig { property, .. }) => {
                    assert_eq!(property, "security.protocol")
                }
                other => panic!("expected UnsupportedConfig, got {other:?}"),
            }
        }
        let err = ClientConfig::from_properties(&props(&[("security.protocol", "BOGUS")]));
        assert!(matches!(err, Err(ClientError::InvalidConfig { .. })));
    }

    #[test]
    fn rejects_bad_numbers_and_servers() {
        let err = ClientConfig::from_properties(&props(&[("request.timeout.ms", "soon")]));
        assert!(
            matches!(err, Err(ClientError::InvalidConfig { ref property, .. }) if property == "request.timeout.ms")
        );
        assert!(parse_bootstrap_servers("localhost").is_err());
        assert!(parse_bootstrap_servers("host:notaport").is_err());
        assert!(parse_bootstrap_servers("").is_err());
        assert_eq!(split_host_port("[::1]:9092"), Ok(("::1".to_string(), 9092)));
    }
}
