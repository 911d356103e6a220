//! Client configuration built from Kafka client properties (`bootstrap.servers`,
//! `client.id`, `request.timeout.ms`, ...). It owns property parsing and
//! validation; it must never open connections, and it reads no files itself
//! (callers such as the CLI's `--command-config` or cluster-link configs hand
//! it a map). For TLS, [`crate::tls`] loads the PEM files that `ssl.*`
//! properties name while the configuration is built, so a bad path or
//! certificate is reported here rather than on first connect. Secrets
//! (`sasl.jaas.config`, passwords, keys) never appear in its `Debug` output
//! or errors.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::error::ClientError;
use crate::sasl::SaslSettings;
use crate::secret::shown_value;
use crate::tls::TlsSettings;

/// `security.protocol` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    /// True for SSL and SASL_SSL.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// True for SASL_PLAINTEXT and SASL_SSL.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }

    /// The property value, as Kafka spells it.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }
}

/// Connection and retry settings of a [`crate::KafkaClient`] or [`crate::Connection`].
/// `Debug` redacts secrets.
#[derive(Clone, PartialEq)]
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
    /// TLS settings (`ssl.*`); set exactly when `security_protocol` uses TLS.
    pub tls: Option<TlsSettings>,
    /// SASL settings (`sasl.*`); set exactly when `security_protocol` uses SASL.
    pub sasl: Option<SaslSettings>,
    /// Properties this client does not interpret, kept for layers above (e.g. cluster links).
    pub other: BTreeMap<String, String>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let other: BTreeMap<&str, String> = self
            .other
            .iter()
            .map(|(k, v)| (k.as_str(), shown_value(k, v)))
            .collect();
        f.debug_struct("ClientConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("client_id", &self.client_id)
            .field("request_timeout", &self.request_timeout)
            .field("default_api_timeout", &self.default_api_timeout)
            .field("connection_setup_timeout", &self.connection_setup_timeout)
            .field("metadata_max_age", &self.metadata_max_age)
            .field("retry_backoff", &self.retry_backoff)
            .field("reconnect_backoff", &self.reconnect_backoff)
            .field("security_protocol", &self.security_protocol)
            .field("tls", &self.tls)
            .field("sasl", &self.sasl)
            .field("other", &other)
            .finish()
    }
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
            tls: None,
            sasl: None,
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
    /// kept in [`ClientConfig::other`]; malformed values are errors naming the
    /// property (never showing a secret value). With SSL/SASL_SSL the `ssl.*`
    /// properties are read (and their PEM files loaded); with
    /// SASL_PLAINTEXT/SASL_SSL the `sasl.*` ones. Otherwise those keys are
    /// only kept in `other`, as Kafka's clients ignore them.
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
        if config.security_protocol.uses_tls() {
            config.tls = Some(TlsSettings::from_properties(&mut config.other)?);
        }
        if config.security_protocol.uses_sasl() {
            config.sasl = Some(SaslSettings::from_properties(&mut config.other)?);
        } else if config.other.contains_key("sasl.jaas.config")
            || config.other.contains_key("sasl.username")
        {
            tracing::warn!(
                security_protocol = config.security_protocol.name(),
                "SASL credentials are configured but security.protocol does not use SASL; they are ignored"
            );
        }
        Ok(config)
    }

    /// Sets `security.protocol` with its TLS and SASL settings, checking
    /// that they fit together.
    pub fn with_security(
        mut self,
        protocol: SecurityProtocol,
        tls: Option<TlsSettings>,
        sasl: Option<SaslSettings>,
    ) -> Result<Self, ClientError> {
        if protocol.uses_tls() != tls.is_some() || protocol.uses_sasl() != sasl.is_some() {
            return Err(ClientError::InvalidConfig {
                property: "security.protocol".to_string(),
                value: protocol.name().to_string(),
                reason: "TLS settings are needed exactly for SSL/SASL_SSL and SASL settings exactly for SASL_PLAINTEXT/SASL_SSL".to_string(),
            });
        }
        self.security_protocol = protocol;
        self.tls = tls;
        self.sasl = sasl;
        Ok(self)
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
        "SSL" => Ok(SecurityProtocol::Ssl),
        "SASL_PLAINTEXT" => Ok(SecurityProtocol::SaslPlaintext),
        "SASL_SSL" => Ok(SecurityProtocol::SaslSsl),
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
    fn accepts_every_security_protocol() {
        let ca = crate::tls::test_pki::TestPki::new();
        let dir = crate::tls::test_pki::temp_dir("config-protocols");
        let ca_path = dir.join("ca.pem");
        assert!(std::fs::write(&ca_path, &ca.ca_pem).is_ok());
        let ca_path = ca_path.display().to_string();
        let jaas = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="link" password="s3cr3t";"#;
        let tls = [
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", ca_path.as_str()),
        ];
        let sasl = [
            ("sasl.mechanism", "SCRAM-SHA-256"),
            ("sasl.jaas.config", jaas),
        ];
        for (protocol, extra, uses_tls, uses_sasl) in [
            ("PLAINTEXT", vec![], false, false),
            ("SSL", tls.to_vec(), true, false),
            ("SASL_PLAINTEXT", sasl.to_vec(), false, true),
            (
                "SASL_SSL",
                [tls.to_vec(), sasl.to_vec()].concat(),
                true,
                true,
            ),
        ] {
            let mut pairs = vec![("security.protocol", protocol)];
            pairs.extend(extra);
            let config = ClientConfig::from_properties(&props(&pairs));
            let Ok(config) = config else {
                panic!("{protocol} should parse: {config:?}")
            };
            assert_eq!(config.security_protocol.name(), protocol);
            assert_eq!(config.tls.is_some(), uses_tls, "{protocol}");
            assert_eq!(config.sasl.is_some(), uses_sasl, "{protocol}");
            assert!(config.other.is_empty(), "{protocol}: {:?}", config.other);
        }
        let err = ClientConfig::from_properties(&props(&[("security.protocol", "BOGUS")]));
        assert!(matches!(err, Err(ClientError::InvalidConfig { .. })));
    }

    #[test]
    fn inline_pem_aliases_and_hostname_switch() {
        let pki = crate::tls::test_pki::TestPki::new();
        // PEM squeezed onto one line, as a properties file with continuation
        // lines delivers it.
        let one_line = pki.ca_pem.replace('\n', " ");
        let config = ClientConfig::from_properties(&props(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.type", "pem"),
            ("ssl.truststore.certificates", one_line.as_str()),
            ("ssl.endpoint.identification.algorithm", ""),
            ("ssl.keystore.type", "PEM"),
            (
                "ssl.keystore.certificate.chain",
                pki.client_cert_pem.as_str(),
            ),
            ("ssl.keystore.key", pki.client_key_pem.as_str()),
        ]));
        let Ok(config) = config else {
            panic!("inline PEM should parse: {config:?}")
        };
        let Some(tls) = &config.tls else {
            panic!("no TLS settings")
        };
        assert!(!tls.verify_hostname);
        assert!(tls.identity.is_some());
        let debug = format!("{config:?}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");

        let dir = crate::tls::test_pki::temp_dir("config-alias");
        let ca_path = dir.join("ca.pem");
        assert!(std::fs::write(&ca_path, &pki.ca_pem).is_ok());
        let config = ClientConfig::from_properties(&props(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", &ca_path.display().to_string()),
        ]));
        assert!(
            config
                .as_ref()
                .is_ok_and(|c| c.tls.as_ref().is_some_and(|t| t.verify_hostname)),
            "{config:?}"
        );
    }

    #[test]
    fn invalid_tls_settings_name_the_property_without_secrets() {
        let pki = crate::tls::test_pki::TestPki::new();
        let dir = crate::tls::test_pki::temp_dir("config-invalid");
        let ca_path = dir.join("ca.pem");
        assert!(std::fs::write(&ca_path, &pki.ca_pem).is_ok());
        let ca = ca_path.display().to_string();
        let missing = dir.join("missing.pem").display().to_string();
        let jks = dir.join("store.jks");
        assert!(std::fs::write(&jks, [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]).is_ok());
        let jks = jks.display().to_string();
        let key = pki.client_key_pem.as_str();
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (
                vec![
                    ("ssl.truststore.type", "JKS"),
                    ("ssl.truststore.location", &ca),
                ],
                "ssl.truststore.type",
            ),
            (
                vec![("ssl.truststore.location", &missing)],
                "ssl.truststore.location",
            ),
            (
                vec![("ssl.truststore.location", &jks)],
                "ssl.truststore.location",
            ),
            (
                vec![
                    ("ssl.truststore.location", &ca),
                    ("ssl.truststore.certificates", &pki.ca_pem),
                ],
                "ssl.truststore.certificates",
            ),
            (
                vec![
                    ("ssl.truststore.location", &ca),
                    ("ssl.ca.location", &missing),
                ],
                "ssl.ca.location",
            ),
            (
                vec![
                    ("ssl.truststore.location", &ca),
                    ("ssl.truststore.password", "s3cr3t"),
                ],
                "ssl.truststore.password",
            ),
            (
                vec![("ssl.truststore.location", &ca), ("ssl.keystore.key", key)],
                "ssl.keystore.key",
            ),
            (
                vec![
                    ("ssl.truststore.location", &ca),
                    ("ssl.key.password", "s3cr3t"),
                ],
                "ssl.key.password",
            ),
            (
                vec![
                    ("ssl.truststore.location", &ca),
                    ("ssl.keystore.certificate.chain", &pki.client_cert_pem),
                    (
                        "ssl.keystore.key",
                        "-----BEGIN PRIVATE KEY-----\ns3cr3t\n-----END PRIVATE KEY-----",
                    ),
                ],
                "ssl.keystore.key",
            ),
            (
                vec![
                    ("ssl.truststore.location", &ca),
                    ("ssl.endpoint.identification.algorithm", "dns"),
                ],
                "ssl.endpoint.identification.algorithm",
            ),
            (
                vec![
                    ("ssl.truststore.location", &ca),
                    ("ssl.keystore.type", "PKCS12"),
                ],
                "ssl.keystore.type",
            ),
            (
                vec![
                    ("ssl.truststore.location", &ca),
                    ("ssl.enabled.protocols", "TLSv1.1"),
                ],
                "ssl.enabled.protocols",
            ),
        ];
        for (pairs, property) in cases {
            let mut all = vec![
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "PLAIN"),
                ("sasl.username", "u"),
                ("sasl.password", "s3cr3t"),
            ];
            all.extend(pairs);
            let err = match ClientConfig::from_properties(&props(&all)) {
                Ok(config) => panic!("expected an error naming {property}, got {config:?}"),
                Err(err) => err,
            };
            let named = match &err {
                ClientError::InvalidConfig { property, .. }
                | ClientError::UnsupportedConfig { property, .. } => property.clone(),
                other => panic!("unexpected error kind {other:?}"),
            };
            let text = err.to_string();
            assert!(
                named == property || text.contains(property),
                "{text:?} should name {property}"
            );
            assert!(
                !text.contains("s3cr3t") && !text.contains("PRIVATE KEY"),
                "{text:?} leaks a secret"
            );
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let config = ClientConfig::from_properties(&props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="s3cr3t";"#,
            ),
            ("ssl.keystore.password", "s3cr3t-too"),
            ("sasl.oauthbearer.client.secret", "s3cr3t-three"),
        ]));
        let Ok(config) = config else {
            panic!("config should parse: {config:?}")
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(
            debug.contains("alice") && debug.contains("[hidden]"),
            "{debug}"
        );
        assert_eq!(
            config.sasl.as_ref().map(|s| s.password.expose()),
            Some("s3cr3t")
        );
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
