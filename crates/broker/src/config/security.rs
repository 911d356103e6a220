//! Listener security settings read from server.properties: which security
//! protocol each listener speaks (`listener.security.protocol.map`), its TLS
//! material (`ssl.*`), its SASL mechanisms and PLAIN users
//! (`sasl.enabled.mechanisms`, `listener.name.<l>.<mechanism>.sasl.jaas.config`),
//! `connections.max.reauth.ms` and `super.users`. Per-listener overrides
//! (`listener.name.<listener>.<config>`) win over broker-wide values, as in
//! Kafka.
//!
//! It owns parsing and validating these keys into plain settings; loading
//! certificate files is done when listeners start (`crate::auth::tls`). It
//! must never put a secret value (password, key, JAAS text) into an error
//! message, a log line or a `Debug` output: secrets are held in [`Secret`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{ConfigError, Listener};
use crate::auth::jaas;

/// Kafka's four security protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Some(Self::Plaintext),
            "SSL" => Some(Self::Ssl),
            "SASL_PLAINTEXT" => Some(Self::SaslPlaintext),
            "SASL_SSL" => Some(Self::SaslSsl),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

impl std::fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// SASL mechanisms Strait serves. GSSAPI and OAUTHBEARER are not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl SaslMechanism {
    pub const ALL: [SaslMechanism; 3] = [Self::Plain, Self::ScramSha256, Self::ScramSha512];

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "PLAIN" => Some(Self::Plain),
            "SCRAM-SHA-256" => Some(Self::ScramSha256),
            "SCRAM-SHA-512" => Some(Self::ScramSha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    /// The JAAS login module Kafka expects for this mechanism.
    fn login_module(self) -> &'static str {
        match self {
            Self::Plain => "org.apache.kafka.common.security.plain.PlainLoginModule",
            Self::ScramSha256 | Self::ScramSha512 => {
                "org.apache.kafka.common.security.scram.ScramLoginModule"
            }
        }
    }
}

/// A secret configuration value. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that needs it (a comparison, a
    /// key parser). Never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[hidden]")
    }
}

/// `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Requested,
    Required,
}

/// Where the broker's certificate chain and private key come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStore {
    /// `ssl.keystore.location`: one PEM file holding the key and the chain.
    File(PathBuf),
    /// `ssl.keystore.certificate.chain` and `ssl.keystore.key`, inline PEM.
    Inline { chain: Secret, key: Secret },
}

/// Where trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustStore {
    /// `ssl.truststore.location`: a PEM file of certificates.
    File(PathBuf),
    /// `ssl.truststore.certificates`: inline PEM.
    Inline(Secret),
}

/// TLS protocol versions (`ssl.enabled.protocols`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// TLS settings of one SSL or SASL_SSL listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslSettings {
    pub keystore: KeyStore,
    /// `ssl.key.password`: decrypts an encrypted PKCS#8 private key.
    pub key_password: Option<Secret>,
    pub truststore: Option<TrustStore>,
    pub client_auth: ClientAuth,
    pub protocols: Vec<TlsVersion>,
}

/// SASL settings of one SASL_PLAINTEXT or SASL_SSL listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslSettings {
    pub mechanisms: Vec<SaslMechanism>,
    /// PLAIN users (`user_<name>="<password>"` in the PLAIN JAAS config).
    pub plain_users: BTreeMap<String, Secret>,
    /// `connections.max.reauth.ms`; 0 disables session expiry.
    pub max_reauth_ms: i64,
}

/// Security of one listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSecurity {
    pub name: String,
    pub protocol: SecurityProtocol,
    pub ssl: Option<SslSettings>,
    pub sasl: Option<SaslSettings>,
}

/// Security settings of the broker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityConfig {
    /// One entry per listener, in `listeners` order.
    pub listeners: Vec<ListenerSecurity>,
    /// `super.users`, as principals (`User:alice`); read by the authorizer.
    pub super_users: Vec<String>,
}

impl SecurityConfig {
    pub fn listener(&self, name: &str) -> Option<&ListenerSecurity> {
        self.listeners.iter().find(|l| l.name == name)
    }
}

/// Kafka's default `listener.security.protocol.map`.
pub const DEFAULT_PROTOCOL_MAP: &str =
    "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL";

/// Config names (after any `listener.name.<l>.` and `<mechanism>.` prefix)
/// whose values are secrets: never logged, described as null and sensitive.
const SENSITIVE: &[&str] = &[
    "sasl.jaas.config",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.truststore.password",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
    "ssl.truststore.certificates",
    "password.encoder.secret",
    "password.encoder.old.secret",
];

/// Whether a configuration key holds a secret (Kafka's PASSWORD type).
pub fn is_sensitive(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SENSITIVE
        .iter()
        .any(|s| key == *s || key.ends_with(&format!(".{s}")))
        || key.ends_with("password")
}

/// Whether `key` is one this module reads (so it is not warned about as
/// unknown).
pub fn is_security_key(key: &str) -> bool {
    key.starts_with("ssl.")
        || key.starts_with("confluent.http.server.ssl.")
        || key.starts_with("sasl.")
        || key.starts_with("listener.name.")
        || key.ends_with(".sasl.jaas.config")
        || matches!(
            key,
            "super.users"
                | "connections.max.reauth.ms"
                | "authorizer.class.name"
                | "allow.everyone.if.no.acl.found"
                | "principal.builder.class"
                | "security.inter.broker.protocol"
                | "connection.failed.authentication.delay.ms"
                | "password.encoder.secret"
                | "password.encoder.old.secret"
        )
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    let shown = if is_sensitive(key) { "[hidden]" } else { value };
    ConfigError::Invalid {
        key: key.to_string(),
        value: shown.to_string(),
        reason: reason.into(),
    }
}

fn refuse(message: impl Into<String>) -> ConfigError {
    ConfigError::Security(message.into())
}

/// Looks configs up for one listener: `listener.name.<name>.<key>` first,
/// then the broker-wide `<key>`.
struct ListenerProps<'a> {
    props: &'a BTreeMap<String, String>,
    prefix: String,
}

impl<'a> ListenerProps<'a> {
    fn new(props: &'a BTreeMap<String, String>, listener: &str) -> Self {
        ListenerProps {
            props,
            prefix: format!("listener.name.{}.", listener.to_ascii_lowercase()),
        }
    }

    fn prefixed_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The listener-prefixed value only.
    fn own(&self, key: &str) -> Option<(String, &'a str)> {
        let k = self.prefixed_key(key);
        self.props.get(&k).map(|v| (k, v.as_str()))
    }

    /// The listener-prefixed value, else the broker-wide one; with the key
    /// it was found under (for error messages).
    fn get(&self, key: &str) -> Option<(String, &'a str)> {
        self.own(key)
            .or_else(|| self.props.get(key).map(|v| (key.to_string(), v.as_str())))
    }
}

/// Parses `listener.security.protocol.map`.
fn parse_protocol_map(value: &str) -> Result<BTreeMap<String, SecurityProtocol>, ConfigError> {
    let key = "listener.security.protocol.map";
    let mut map = BTreeMap::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, proto) = item
            .split_once(':')
            .ok_or_else(|| invalid(key, value, format!("'{item}' is not LISTENER:PROTOCOL")))?;
        let proto = SecurityProtocol::parse(proto).ok_or_else(|| {
            invalid(
                key,
                value,
                format!(
                    "unknown security protocol '{}' (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)",
                    proto.trim()
                ),
            )
        })?;
        map.insert(name.trim().to_uppercase(), proto);
    }
    Ok(map)
}

/// Parses `super.users`: principals separated by semicolons.
fn parse_super_users(value: &str) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for p in value.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        match p.split_once(':') {
            Some((kind, name)) if !kind.is_empty() && !name.is_empty() => out.push(p.to_string()),
            _ => {
                return Err(invalid(
                    "super.users",
                    value,
                    format!(
                        "'{p}' is not a principal: expected a string in format principalType:principalName"
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// `ssl.client.auth` of a Kafka listener. KIP-684: on SASL_SSL listeners
/// only a listener-prefixed value applies; the broker-wide one is for SSL
/// listeners.
fn kafka_client_auth(
    lp: &ListenerProps<'_>,
    protocol: SecurityProtocol,
) -> Result<ClientAuth, ConfigError> {
    let value = if protocol == SecurityProtocol::SaslSsl {
        lp.own("ssl.client.auth")
    } else {
        lp.get("ssl.client.auth")
    };
    match value {
        None => Ok(ClientAuth::None),
        Some((k, v)) => client_auth_named(&k, v),
    }
}

/// `required`, `requested` or `none`, in any case.
fn client_auth_named(key: &str, value: &str) -> Result<ClientAuth, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "none" | "" => Ok(ClientAuth::None),
        "requested" => Ok(ClientAuth::Requested),
        "required" => Ok(ClientAuth::Required),
        _ => Err(invalid(
            key,
            value,
            "must be one of required, requested, none",
        )),
    }
}

/// The prefix of the HTTP front door's own keys, as Confluent Server names
/// them (`confluent.http.server.ssl.keystore.location`, ...).
pub const HTTP_SERVER_PREFIX: &str = "confluent.http.server.";

/// TLS settings of the `https://` listeners of
/// `confluent.http.server.listeners`. Each `ssl.*` key is read as
/// `confluent.http.server.ssl.*` first, then as the broker's own `ssl.*`,
/// so one key store can serve both front doors. Client certificates follow
/// `confluent.http.server.ssl.client.authentication` (NONE, REQUESTED,
/// REQUIRED), else `confluent.http.server.ssl.client.auth` (`true` is
/// REQUIRED, as in Confluent's REST server), else the broker's
/// `ssl.client.auth`.
pub fn parse_http_ssl(props: &BTreeMap<String, String>) -> Result<SslSettings, ConfigError> {
    let lp = ListenerProps {
        props,
        prefix: HTTP_SERVER_PREFIX.to_string(),
    };
    let client_auth = match (
        lp.own("ssl.client.authentication"),
        lp.own("ssl.client.auth"),
    ) {
        (Some((k, v)), _) => client_auth_named(&k, v)?,
        (None, Some((k, v))) => match v.trim().to_ascii_lowercase().as_str() {
            "true" => ClientAuth::Required,
            "false" => ClientAuth::None,
            _ => client_auth_named(&k, v)
                .map_err(|_| invalid(&k, v, "must be true, false, required, requested or none"))?,
        },
        (None, None) => match props.get("ssl.client.auth") {
            None => ClientAuth::None,
            Some(v) => client_auth_named("ssl.client.auth", v)?,
        },
    };
    parse_ssl(&lp, "https", SecurityProtocol::Ssl, client_auth)
}

fn parse_ssl(
    lp: &ListenerProps<'_>,
    name: &str,
    protocol: SecurityProtocol,
    client_auth: ClientAuth,
) -> Result<SslSettings, ConfigError> {
    for (key, default) in [("ssl.keystore.type", "PEM"), ("ssl.truststore.type", "PEM")] {
        if let Some((k, v)) = lp.get(key)
            && !v.eq_ignore_ascii_case(default)
        {
            return Err(invalid(
                &k,
                v,
                "only PEM key and trust stores are supported by Strait (convert JKS or PKCS12 stores to PEM, e.g. with openssl)",
            ));
        }
    }
    let location = lp.get("ssl.keystore.location");
    let chain = lp.get("ssl.keystore.certificate.chain");
    let key = lp.get("ssl.keystore.key");
    if lp.get("ssl.keystore.password").is_some() {
        return Err(refuse(format!(
            "listener {name}: SSL key store password cannot be specified with PEM format, only key password may be specified"
        )));
    }
    let keystore = match (location, chain, key) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(refuse(format!(
                "listener {name}: set either ssl.keystore.location or ssl.keystore.certificate.chain with ssl.keystore.key, not both"
            )));
        }
        (Some((_, path)), None, None) => {
            if path.trim().is_empty() {
                return Err(refuse(format!(
                    "listener {name}: ssl.keystore.location is empty"
                )));
            }
            KeyStore::File(PathBuf::from(path.trim()))
        }
        (None, Some((_, chain)), Some((_, key))) => KeyStore::Inline {
            chain: Secret::new(chain),
            key: Secret::new(key),
        },
        (None, Some(_), None) | (None, None, Some(_)) => {
            return Err(refuse(format!(
                "listener {name}: ssl.keystore.certificate.chain and ssl.keystore.key must be set together"
            )));
        }
        (None, None, None) => {
            return Err(refuse(format!(
                "listener {name} uses {} but has no key store: set ssl.keystore.location (a PEM file with the key and certificate chain) or ssl.keystore.certificate.chain and ssl.keystore.key",
                protocol
            )));
        }
    };
    if lp.get("ssl.truststore.password").is_some() {
        return Err(refuse(format!(
            "listener {name}: SSL trust store password cannot be specified for PEM format"
        )));
    }
    let truststore = match (
        lp.get("ssl.truststore.location"),
        lp.get("ssl.truststore.certificates"),
    ) {
        (Some(_), Some(_)) => {
            return Err(refuse(format!(
                "listener {name}: set either ssl.truststore.location or ssl.truststore.certificates, not both"
            )));
        }
        (Some((_, path)), None) => Some(TrustStore::File(PathBuf::from(path.trim()))),
        (None, Some((_, certs))) => Some(TrustStore::Inline(Secret::new(certs))),
        (None, None) => None,
    };
    if client_auth != ClientAuth::None && truststore.is_none() {
        return Err(refuse(format!(
            "listener {name}: ssl.client.auth={} needs a trust store: set ssl.truststore.location or ssl.truststore.certificates",
            if client_auth == ClientAuth::Required {
                "required"
            } else {
                "requested"
            }
        )));
    }
    let protocols = match lp.get("ssl.enabled.protocols") {
        None => vec![TlsVersion::Tls12, TlsVersion::Tls13],
        Some((k, v)) => {
            let mut out = Vec::new();
            for p in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let version = match p {
                    "TLSv1.2" => TlsVersion::Tls12,
                    "TLSv1.3" => TlsVersion::Tls13,
                    _ => {
                        return Err(invalid(
                            &k,
                            v,
                            format!("'{p}' is not supported: Strait speaks TLSv1.2 and TLSv1.3"),
                        ));
                    }
                };
                if !out.contains(&version) {
                    out.push(version);
                }
            }
            if out.is_empty() {
                return Err(invalid(&k, v, "no protocol enabled"));
            }
            out
        }
    };
    let key_password = lp.get("ssl.key.password").map(|(_, v)| Secret::new(v));
    Ok(SslSettings {
        keystore,
        key_password,
        truststore,
        client_auth,
        protocols,
    })
}

fn parse_sasl(lp: &ListenerProps<'_>, listener_name: &str) -> Result<SaslSettings, ConfigError> {
    let explicit = lp.get("sasl.enabled.mechanisms");
    let mut mechanisms = Vec::new();
    if let Some((k, v)) = &explicit {
        for m in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let mech = SaslMechanism::parse(m).ok_or_else(|| {
                invalid(
                    k,
                    v,
                    format!(
                        "SASL mechanism {m} is not supported by Strait (supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)"
                    ),
                )
            })?;
            if !mechanisms.contains(&mech) {
                mechanisms.push(mech);
            }
        }
        if mechanisms.is_empty() {
            return Err(invalid(
                k,
                v,
                format!("listener {listener_name} uses SASL but no mechanism is enabled"),
            ));
        }
    } else {
        mechanisms = SaslMechanism::ALL.to_vec();
    }
    let mut plain_users = BTreeMap::new();
    let mut plain_configured = false;
    for mech in SaslMechanism::ALL {
        let jaas_key = format!("{}.sasl.jaas.config", mech.name().to_ascii_lowercase());
        let Some((k, text)) = lp.get(&jaas_key) else {
            continue;
        };
        let module = jaas::parse_single(text).map_err(|e| invalid(&k, text, e.to_string()))?;
        if module.class != mech.login_module() {
            return Err(invalid(
                &k,
                text,
                format!(
                    "login module {} does not serve {}; expected {}",
                    module.class,
                    mech.name(),
                    mech.login_module()
                ),
            ));
        }
        if mech == SaslMechanism::Plain {
            plain_configured = true;
            for (option, value) in &module.options {
                if let Some(user) = option.strip_prefix("user_") {
                    plain_users.insert(user.to_string(), Secret::new(value.expose()));
                }
            }
        }
    }
    if mechanisms.contains(&SaslMechanism::Plain) && !plain_configured {
        if explicit.is_some() {
            return Err(refuse(format!(
                "listener {listener_name} enables SASL mechanism PLAIN but has no PLAIN users: set listener.name.{}.plain.sasl.jaas.config",
                listener_name.to_ascii_lowercase()
            )));
        }
        // Default mechanisms: PLAIN only where PLAIN users are configured.
        mechanisms.retain(|m| *m != SaslMechanism::Plain);
    }
    let max_reauth_ms = match lp.get("connections.max.reauth.ms") {
        None => 0,
        Some((k, v)) => {
            let n: i64 = v
                .trim()
                .parse()
                .map_err(|_| invalid(&k, v, "not a 64-bit integer"))?;
            if n < 0 {
                return Err(invalid(&k, v, "must be >= 0"));
            }
            n
        }
    };
    Ok(SaslSettings {
        mechanisms,
        plain_users,
        max_reauth_ms,
    })
}

/// Reads the security settings of every listener.
pub fn parse_security(
    props: &BTreeMap<String, String>,
    listeners: &[Listener],
) -> Result<SecurityConfig, ConfigError> {
    let map_text = props
        .get("listener.security.protocol.map")
        .map(String::as_str)
        .unwrap_or(DEFAULT_PROTOCOL_MAP);
    let map = parse_protocol_map(map_text)?;
    if props.contains_key("sasl.jaas.config") {
        tracing::warn!(
            "Server config sasl.jaas.config should be prefixed with SASL mechanism name, ignoring config"
        );
    }
    let mut out = Vec::new();
    for l in listeners {
        let protocol = *map.get(&l.name).ok_or_else(|| {
            refuse(format!(
                "No security protocol defined for listener {} (add it to listener.security.protocol.map)",
                l.name
            ))
        })?;
        let lp = ListenerProps::new(props, &l.name);
        let mut sec = ListenerSecurity {
            name: l.name.clone(),
            protocol,
            ssl: None,
            sasl: None,
        };
        if protocol.uses_tls() {
            let client_auth = kafka_client_auth(&lp, protocol)?;
            sec.ssl = Some(parse_ssl(&lp, &sec.name, protocol, client_auth)?);
        }
        if protocol.uses_sasl() {
            sec.sasl = Some(parse_sasl(&lp, &l.name)?);
        }
        out.push(sec);
    }
    let super_users = match props.get("super.users") {
        Some(v) => parse_super_users(v)?,
        None => Vec::new(),
    };
    Ok(SecurityConfig {
        listeners: out,
        super_users,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{BrokerConfig, parse_properties};
    use super::*;

    fn cfg(text: &str) -> Result<BrokerConfig, ConfigError> {
        BrokerConfig::from_properties(parse_properties(text))
    }

    fn err(text: &str) -> String {
        match cfg(text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        }
    }

    const PLAIN_JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required \
        username=\"admin\" password=\"admin-pw\" user_admin=\"admin-pw\" user_alice=\"alice-secret\";";

    #[test]
    fn default_map_and_plaintext() {
        let c = cfg("listeners=PLAINTEXT://127.0.0.1:0").unwrap();
        assert_eq!(c.security.listeners.len(), 1);
        assert_eq!(
            c.security.listeners[0].protocol,
            SecurityProtocol::Plaintext
        );
        assert!(c.security.listeners[0].ssl.is_none());
    }

    #[test]
    fn custom_listener_names_and_overrides() {
        let text = format!(
            "listeners=CLIENT://127.0.0.1:0,INTERNAL://127.0.0.1:0,SECURE://127.0.0.1:0\n\
             listener.security.protocol.map=CLIENT:SASL_SSL,INTERNAL:PLAINTEXT,SECURE:SSL\n\
             ssl.keystore.location=/k.pem\n\
             listener.name.secure.ssl.keystore.location=/secure.pem\n\
             ssl.truststore.location=/ca.pem\n\
             ssl.client.auth=required\n\
             listener.name.client.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512\n\
             listener.name.client.plain.sasl.jaas.config={PLAIN_JAAS}\n\
             connections.max.reauth.ms=60000\n\
             super.users=User:admin;User:CN=ops,O=Acme\n"
        );
        let c = cfg(&text).unwrap();
        let client = c.security.listener("CLIENT").unwrap();
        assert_eq!(client.protocol, SecurityProtocol::SaslSsl);
        let ssl = client.ssl.as_ref().unwrap();
        assert_eq!(ssl.keystore, KeyStore::File("/k.pem".into()));
        // KIP-684: the broker-wide ssl.client.auth does not apply to SASL_SSL.
        assert_eq!(ssl.client_auth, ClientAuth::None);
        let sasl = client.sasl.as_ref().unwrap();
        assert_eq!(
            sasl.mechanisms,
            vec![SaslMechanism::Plain, SaslMechanism::ScramSha512]
        );
        assert_eq!(sasl.plain_users.len(), 2);
        assert_eq!(sasl.plain_users["alice"].expose(), "alice-secret");
        assert_eq!(sasl.max_reauth_ms, 60000);
        let secure = c.security.listener("SECURE").unwrap();
        let ssl = secure.ssl.as_ref().unwrap();
        assert_eq!(ssl.keystore, KeyStore::File("/secure.pem".into()));
        assert_eq!(ssl.client_auth, ClientAuth::Required);
        assert_eq!(
            c.security.listener("INTERNAL").unwrap().protocol,
            SecurityProtocol::Plaintext
        );
        assert_eq!(
            c.security.super_users,
            vec!["User:admin", "User:CN=ops,O=Acme"]
        );
    }

    #[test]
    fn default_mechanisms_drop_plain_without_users() {
        let c = cfg("listeners=SASL_PLAINTEXT://127.0.0.1:0").unwrap();
        let sasl = c.security.listeners[0].sasl.as_ref().unwrap();
        assert_eq!(
            sasl.mechanisms,
            vec![SaslMechanism::ScramSha256, SaslMechanism::ScramSha512]
        );
        let c = cfg(&format!(
            "listeners=SASL_PLAINTEXT://127.0.0.1:0\nplain.sasl.jaas.config={PLAIN_JAAS}"
        ))
        .unwrap();
        let sasl = c.security.listeners[0].sasl.as_ref().unwrap();
        assert_eq!(sasl.mechanisms, SaslMechanism::ALL.to_vec());
    }

    #[test]
    fn refuses_invalid_combinations_without_showing_secrets() {
        let cases = [
            (
                "listeners=CLIENT://127.0.0.1:0",
                "No security protocol defined for listener CLIENT",
            ),
            (
                "listeners=A://h:1\nlistener.security.protocol.map=A:TLS",
                "unknown security protocol",
            ),
            ("listeners=SSL://h:1", "has no key store"),
            (
                "listeners=SSL://h:1\nssl.keystore.location=/k\nssl.keystore.type=JKS",
                "only PEM",
            ),
            (
                "listeners=SSL://h:1\nssl.keystore.location=/k\nssl.keystore.password=hunter2",
                "key store password cannot be specified",
            ),
            (
                "listeners=SSL://h:1\nssl.keystore.location=/k\nssl.keystore.key=hunter2",
                "not both",
            ),
            (
                "listeners=SSL://h:1\nssl.keystore.key=hunter2",
                "must be set together",
            ),
            (
                "listeners=SSL://h:1\nssl.keystore.location=/k\nssl.client.auth=required",
                "needs a trust store",
            ),
            (
                "listeners=SSL://h:1\nssl.keystore.location=/k\nssl.client.auth=maybe",
                "required, requested, none",
            ),
            (
                "listeners=SSL://h:1\nssl.keystore.location=/k\nssl.enabled.protocols=TLSv1.1",
                "TLSv1.1",
            ),
            (
                "listeners=SASL_SSL://h:1\nssl.keystore.location=/k\nsasl.enabled.mechanisms=GSSAPI",
                "GSSAPI is not supported",
            ),
            (
                "listeners=SASL_PLAINTEXT://h:1\nsasl.enabled.mechanisms=PLAIN",
                "no PLAIN users",
            ),
            (
                "listeners=SASL_PLAINTEXT://h:1\nplain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_a=\"hunter2\"",
                "semi-colon",
            ),
            (
                "listeners=SASL_PLAINTEXT://h:1\nplain.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required user_a=\"hunter2\";",
                "does not serve PLAIN",
            ),
            (
                "listeners=SASL_PLAINTEXT://h:1\nconnections.max.reauth.ms=-1",
                "must be >= 0",
            ),
            ("super.users=alice", "principalType:principalName"),
        ];
        for (text, expected) in cases {
            let e = err(text);
            assert!(e.contains(expected), "{text}: {e}");
            assert!(!e.contains("hunter2"), "secret shown: {e}");
            assert!(!e.contains('\n'), "not one line: {e}");
        }
        // Mechanisms matter only where SASL is used.
        assert!(cfg("listeners=PLAINTEXT://h:1\nsasl.enabled.mechanisms=GSSAPI").is_ok());
    }

    #[test]
    fn sensitive_keys() {
        for k in [
            "ssl.keystore.password",
            "listener.name.sasl_ssl.plain.sasl.jaas.config",
            "ssl.keystore.key",
            "listener.name.x.ssl.truststore.certificates",
            "ssl.key.password",
        ] {
            assert!(is_sensitive(k), "{k}");
        }
        for k in [
            "ssl.keystore.location",
            "listeners",
            "sasl.enabled.mechanisms",
        ] {
            assert!(!is_sensitive(k), "{k}");
        }
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "[hidden]");
    }
}
