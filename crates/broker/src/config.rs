//! The broker's static configuration, read from a Kafka-style
//! `server.properties` file. Owns parsing and validation of those keys; must
//! never hold dynamic (runtime-altered) values, which live in metadata.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod security;
pub use security::{
    ClientAuth, KeyStore, ListenerSecurity, SaslMechanism, SaslSettings, Secret, SecurityConfig,
    SecurityProtocol, SslSettings, TlsVersion, TrustStore, is_sensitive,
};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid value '{value}' for configuration {key}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
    #[error("missing required configuration {0}")]
    Missing(&'static str),
    /// Listener security settings that cannot work together.
    #[error("{0}")]
    Security(String),
}

/// One listener: a name (PLAINTEXT, ...), a host and a port (0 = ephemeral).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

/// One HTTP listener of `confluent.http.server.listeners`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpListener {
    pub host: String,
    /// 0 = ephemeral.
    pub port: u16,
    /// The TLS settings of an `https://` listener; `None` for `http://`.
    pub tls: Option<SslSettings>,
}

/// Parsed `server.properties`.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub node_id: i32,
    pub listeners: Vec<Listener>,
    pub advertised_listeners: Vec<Listener>,
    pub log_dirs: Vec<PathBuf>,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub socket_request_max_bytes: usize,
    pub log_retention_check_interval_ms: u64,
    /// `confluent.http.server.listeners`: the REST API, metrics and live page.
    pub http_listeners: Vec<HttpListener>,
    /// The most partitions one DescribeTopicPartitions answer holds.
    pub max_request_partition_size_limit: i32,
    /// Above this many partitions (or committed group partitions, or mirror
    /// partitions), the metrics leave out per-partition series
    /// (`strait.metrics.partition.series.max`, default 10000).
    pub metrics_partition_series_max: usize,
    /// Each listener's security protocol, TLS and SASL settings; `super.users`.
    pub security: SecurityConfig,
    /// `metadata.etcd.endpoints` and `metadata.etcd.prefix`: metadata on
    /// etcd; `None` keeps it in the embedded store in the first log dir.
    pub metadata_etcd: Option<strait_metadata::EtcdSettings>,
    /// Every key as written (after validation), for DescribeConfigs and as
    /// the static layer below topic configs.
    pub properties: BTreeMap<String, String>,
}

/// Keys this broker reads, with the check applied to each value.
#[derive(Clone, Copy)]
enum Check {
    Int,
    Long,
    Bool,
    Text,
}

const KNOWN: &[(&str, Check)] = &[
    ("node.id", Check::Int),
    ("broker.id", Check::Int),
    ("listeners", Check::Text),
    ("advertised.listeners", Check::Text),
    ("listener.security.protocol.map", Check::Text),
    ("inter.broker.listener.name", Check::Text),
    ("log.dirs", Check::Text),
    ("log.dir", Check::Text),
    ("num.partitions", Check::Int),
    ("default.replication.factor", Check::Int),
    ("log.segment.bytes", Check::Int),
    ("log.roll.ms", Check::Long),
    ("log.roll.hours", Check::Int),
    ("log.retention.ms", Check::Long),
    ("log.retention.minutes", Check::Int),
    ("log.retention.hours", Check::Int),
    ("log.retention.bytes", Check::Long),
    ("log.retention.check.interval.ms", Check::Long),
    ("log.flush.interval.messages", Check::Long),
    ("log.flush.interval.ms", Check::Long),
    ("log.index.interval.bytes", Check::Int),
    ("log.cleanup.policy", Check::Text),
    ("log.message.timestamp.type", Check::Text),
    ("compression.type", Check::Text),
    ("auto.create.topics.enable", Check::Bool),
    ("delete.topic.enable", Check::Bool),
    ("message.max.bytes", Check::Int),
    ("socket.request.max.bytes", Check::Int),
    ("confluent.http.server.listeners", Check::Text),
    ("max.request.partition.size.limit", Check::Int),
    ("min.insync.replicas", Check::Int),
    ("offsets.topic.replication.factor", Check::Int),
    ("transaction.state.log.replication.factor", Check::Int),
    ("transaction.state.log.min.isr", Check::Int),
    ("transaction.max.timeout.ms", Check::Int),
    (
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        Check::Int,
    ),
    ("transactional.id.expiration.ms", Check::Int),
    ("group.initial.rebalance.delay.ms", Check::Int),
    ("group.min.session.timeout.ms", Check::Int),
    ("group.max.session.timeout.ms", Check::Int),
    ("group.consumer.session.timeout.ms", Check::Int),
    ("group.consumer.heartbeat.interval.ms", Check::Int),
    ("group.consumer.max.size", Check::Int),
    ("offsets.retention.minutes", Check::Int),
    ("process.roles", Check::Text),
    ("controller.quorum.voters", Check::Text),
    ("controller.quorum.bootstrap.servers", Check::Text),
    ("controller.listener.names", Check::Text),
    ("num.network.threads", Check::Int),
    ("num.io.threads", Check::Int),
    ("num.recovery.threads.per.data.dir", Check::Int),
    ("socket.send.buffer.bytes", Check::Int),
    ("socket.receive.buffer.bytes", Check::Int),
    (crate::metrics::PARTITION_SERIES_MAX_KEY, Check::Int),
    (crate::scrubber::INTERVAL_KEY, Check::Long),
    (crate::scrubber::RATE_KEY, Check::Long),
    ("metadata.etcd.endpoints", Check::Text),
    ("metadata.etcd.prefix", Check::Text),
];

/// Reads Java-style properties: `key=value` or `key: value`, `#`/`!`
/// comments, trailing-backslash continuation lines.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            continue;
        }
        pending.push_str(line);
        let entry = std::mem::take(&mut pending);
        let split = entry.find(['=', ':']);
        let (k, v) = match split {
            Some(i) => (&entry[..i], &entry[i + 1..]),
            None => (entry.as_str(), ""),
        };
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    out
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Parses a listener list such as `PLAINTEXT://127.0.0.1:9092,SSL://:9093`.
pub fn parse_listeners(key: &str, value: &str) -> Result<Vec<Listener>, ConfigError> {
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, rest) = item
            .split_once("://")
            .ok_or_else(|| invalid(key, value, format!("'{item}' is not NAME://host:port")))?;
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| invalid(key, value, format!("'{item}' has no port")))?;
        let port: u16 = port
            .parse()
            .map_err(|_| invalid(key, value, format!("'{port}' is not a port number")))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if name.is_empty() {
            return Err(invalid(key, value, "listener name is empty"));
        }
        if out.iter().any(|l: &Listener| l.name == name) {
            return Err(invalid(
                key,
                value,
                format!("listener name {name} is repeated"),
            ));
        }
        out.push(Listener {
            name: name.to_uppercase(),
            host: host.to_string(),
            port,
        });
    }
    if out.is_empty() {
        return Err(invalid(key, value, "no listener given"));
    }
    Ok(out)
}

/// `http://host:port` or `https://host:port`, comma-separated. Every
/// `https://` listener shares one set of TLS settings
/// (`security::parse_http_ssl`), read only when one is configured.
fn parse_http_listeners(
    value: &str,
    props: &BTreeMap<String, String>,
) -> Result<Vec<HttpListener>, ConfigError> {
    const KEY: &str = "confluent.http.server.listeners";
    let mut out = Vec::new();
    let mut tls: Option<SslSettings> = None;
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (rest, secure) = if let Some(rest) = item.strip_prefix("http://") {
            (rest, false)
        } else if let Some(rest) = item.strip_prefix("https://") {
            (rest, true)
        } else {
            return Err(invalid(
                KEY,
                value,
                format!("'{item}' is not http://host:port or https://host:port"),
            ));
        };
        let listener_tls = if secure {
            if tls.is_none() {
                tls = Some(security::parse_http_ssl(props)?);
            }
            tls.clone()
        } else {
            None
        };
        let rest = rest.trim_end_matches('/');
        let Some((host, port)) = rest.rsplit_once(':') else {
            return Err(invalid(KEY, value, format!("'{item}' has no port")));
        };
        let port: u16 = port
            .parse()
            .map_err(|_| invalid(KEY, value, format!("'{item}' has an invalid port")))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if out
            .iter()
            .any(|l: &HttpListener| l.host == host && l.port == port && port != 0)
        {
            return Err(invalid(KEY, value, format!("'{item}' is repeated")));
        }
        out.push(HttpListener {
            host,
            port,
            tls: listener_tls,
        });
    }
    if out.is_empty() {
        return Err(invalid(KEY, value, "no listener given"));
    }
    Ok(out)
}

impl BrokerConfig {
    /// Reads and validates a properties file. Unknown keys are warned about.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_properties(parse_properties(&text))
    }

    pub fn from_properties(props: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        for (key, value) in &props {
            match KNOWN.iter().find(|(k, _)| k == key) {
                None => {
                    if !security::is_security_key(key) {
                        tracing::warn!("unknown configuration '{key}' is ignored");
                    }
                }
                Some((_, check)) => check_value(key, value, *check)?,
            }
        }
        let get = |k: &str| props.get(k).map(String::as_str);
        let int = |k: &str, default: i64| -> i64 {
            get(k).and_then(|v| v.parse().ok()).unwrap_or(default)
        };
        let node_id = int("node.id", int("broker.id", 1)) as i32;
        if node_id < 0 {
            return Err(invalid("node.id", &node_id.to_string(), "must be >= 0"));
        }
        let listeners_text = get("listeners").unwrap_or("PLAINTEXT://127.0.0.1:9092");
        let listeners = parse_listeners("listeners", listeners_text)?;
        let advertised_listeners = match get("advertised.listeners") {
            Some(v) => parse_listeners("advertised.listeners", v)?,
            None => listeners.clone(),
        };
        let security = security::parse_security(&props, &listeners)?;
        for adv in &advertised_listeners {
            if !listeners.iter().any(|l| l.name == adv.name) {
                return Err(invalid(
                    "advertised.listeners",
                    &adv.name,
                    "names a listener that is not in listeners",
                ));
            }
        }
        let dirs_text = get("log.dirs")
            .or(get("log.dir"))
            .unwrap_or("/tmp/strait-logs");
        let log_dirs: Vec<PathBuf> = dirs_text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect();
        if log_dirs.is_empty() {
            return Err(ConfigError::Missing("log.dirs"));
        }
        let num_partitions = int("num.partitions", 1);
        if num_partitions < 1 {
            return Err(invalid(
                "num.partitions",
                &num_partitions.to_string(),
                "must be >= 1",
            ));
        }
        let rf = int("default.replication.factor", 1);
        if rf < 1 {
            return Err(invalid(
                "default.replication.factor",
                &rf.to_string(),
                "must be >= 1",
            ));
        }
        for (key, min) in [
            ("log.segment.bytes", 14),
            ("message.max.bytes", 0),
            ("socket.request.max.bytes", 1),
            ("log.index.interval.bytes", 0),
            ("log.flush.interval.messages", 1),
            ("log.flush.interval.ms", 0),
            ("log.roll.ms", 1),
            ("log.roll.hours", 1),
            ("log.retention.check.interval.ms", 1),
            ("max.request.partition.size.limit", 1),
            (crate::metrics::PARTITION_SERIES_MAX_KEY, 0),
            (crate::scrubber::INTERVAL_KEY, -1),
            (crate::scrubber::RATE_KEY, 1),
        ] {
            if let Some(v) = get(key) {
                let n: i64 = v.parse().unwrap_or(i64::MIN);
                if n < min {
                    return Err(invalid(key, v, format!("must be at least {min}")));
                }
            }
        }
        if get(crate::scrubber::INTERVAL_KEY).map(str::trim) == Some("0") {
            return Err(invalid(
                crate::scrubber::INTERVAL_KEY,
                "0",
                "must be -1 (off) or a positive number of milliseconds",
            ));
        }
        for (key, allowed) in [
            ("log.cleanup.policy", &["delete", "compact"][..]),
            (
                "compression.type",
                &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"][..],
            ),
            (
                "log.message.timestamp.type",
                &["CreateTime", "LogAppendTime"][..],
            ),
        ] {
            if let Some(v) = get(key) {
                for item in v.split(',').map(str::trim) {
                    if !allowed.contains(&item) {
                        return Err(invalid(
                            key,
                            v,
                            format!("must be one of {}", allowed.join(", ")),
                        ));
                    }
                }
            }
        }
        let http_listeners = match get("confluent.http.server.listeners") {
            Some(v) => parse_http_listeners(v, &props)?,
            None => Vec::new(),
        };
        // authorizer.class.name, super.users, allow.everyone.if.no.acl.found.
        crate::authz::AuthorizerConfig::from_properties(&props)?;
        let metadata_etcd = match (get("metadata.etcd.endpoints"), get("metadata.etcd.prefix")) {
            (None, None) => None,
            (None, Some(prefix)) => {
                return Err(invalid(
                    "metadata.etcd.prefix",
                    prefix,
                    "needs metadata.etcd.endpoints (without it, metadata stays in the log dir)",
                ));
            }
            (Some(endpoints), prefix) => Some(
                strait_metadata::EtcdSettings::new(endpoints, prefix).map_err(|e| {
                    let key = match e {
                        strait_metadata::EtcdError::InvalidPrefix(_) => "metadata.etcd.prefix",
                        _ => "metadata.etcd.endpoints",
                    };
                    invalid(key, get(key).unwrap_or(""), e.to_string())
                })?,
            ),
        };
        Ok(BrokerConfig {
            node_id,
            listeners,
            advertised_listeners,
            log_dirs,
            num_partitions: num_partitions as i32,
            default_replication_factor: rf as i16,
            auto_create_topics_enable: get("auto.create.topics.enable") != Some("false"),
            socket_request_max_bytes: int("socket.request.max.bytes", 104_857_600) as usize,
            log_retention_check_interval_ms: int("log.retention.check.interval.ms", 300_000) as u64,
            http_listeners,
            max_request_partition_size_limit: int("max.request.partition.size.limit", 2000) as i32,
            metrics_partition_series_max: int(
                crate::metrics::PARTITION_SERIES_MAX_KEY,
                crate::metrics::PARTITION_SERIES_MAX_DEFAULT as i64,
            ) as usize,
            security,
            metadata_etcd,
            properties: props,
        })
    }
}

fn check_value(key: &str, value: &str, check: Check) -> Result<(), ConfigError> {
    match check {
        Check::Int => value
            .parse::<i32>()
            .map(|_| ())
            .map_err(|_| invalid(key, value, "not a 32-bit integer")),
        Check::Long => value
            .parse::<i64>()
            .map(|_| ())
            .map_err(|_| invalid(key, value, "not a 64-bit integer")),
        Check::Bool => match value {
            "true" | "false" => Ok(()),
            _ => Err(invalid(key, value, "must be true or false")),
        },
        Check::Text => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Result<BrokerConfig, ConfigError> {
        BrokerConfig::from_properties(parse_properties(text))
    }

    #[test]
    fn parses_kafka_style_properties() {
        let c = cfg("# comment\nnode.id=3\nlisteners=PLAINTEXT://127.0.0.1:0\nlog.dirs=/a, /b\n\
                     num.partitions = 4\nauto.create.topics.enable=false\nlog.retention.ms=\\\n  1000\n")
            .unwrap();
        assert_eq!(c.node_id, 3);
        assert_eq!(c.listeners[0].port, 0);
        assert_eq!(c.log_dirs.len(), 2);
        assert_eq!(c.num_partitions, 4);
        assert!(!c.auto_create_topics_enable);
        assert_eq!(c.properties["log.retention.ms"], "1000");
        assert_eq!(c.metrics_partition_series_max, 10_000);
        let c = cfg("strait.metrics.partition.series.max=0").unwrap();
        assert_eq!(c.metrics_partition_series_max, 0);
    }

    #[test]
    fn https_listeners_read_the_http_keys_then_the_brokers() {
        let c = cfg(
            "confluent.http.server.listeners=http://127.0.0.1:0,https://127.0.0.1:0\n\
                     ssl.keystore.location=/broker.pem\n\
                     confluent.http.server.ssl.truststore.location=/ca.pem\n\
                     confluent.http.server.ssl.client.authentication=REQUIRED\n",
        )
        .unwrap();
        assert_eq!(c.http_listeners.len(), 2);
        assert!(c.http_listeners[0].tls.is_none());
        let tls = c.http_listeners[1].tls.as_ref().unwrap();
        assert_eq!(tls.keystore, KeyStore::File("/broker.pem".into()));
        assert_eq!(tls.truststore, Some(TrustStore::File("/ca.pem".into())));
        assert_eq!(tls.client_auth, ClientAuth::Required);

        // The HTTP key wins over the broker's; `ssl.client.auth=true` is
        // Confluent REST's REQUIRED; the broker's ssl.client.auth applies
        // when neither HTTP key is set.
        let c = cfg("confluent.http.server.listeners=https://127.0.0.1:0\n\
                     ssl.keystore.location=/broker.pem\n\
                     confluent.http.server.ssl.keystore.location=/http.pem\n\
                     ssl.truststore.location=/ca.pem\n\
                     confluent.http.server.ssl.client.auth=true\n")
        .unwrap();
        let tls = c.http_listeners[0].tls.as_ref().unwrap();
        assert_eq!(tls.keystore, KeyStore::File("/http.pem".into()));
        assert_eq!(tls.client_auth, ClientAuth::Required);
        let c = cfg("confluent.http.server.listeners=https://127.0.0.1:0\n\
                     ssl.keystore.location=/broker.pem\n\
                     ssl.truststore.location=/ca.pem\nssl.client.auth=requested\n")
        .unwrap();
        assert_eq!(
            c.http_listeners[0].tls.as_ref().unwrap().client_auth,
            ClientAuth::Requested
        );
    }

    #[test]
    fn https_listeners_refuse_what_cannot_work() {
        let no_store = cfg("confluent.http.server.listeners=https://127.0.0.1:0")
            .unwrap_err()
            .to_string();
        assert!(no_store.contains("no key store"), "{no_store}");
        let no_trust = cfg("confluent.http.server.listeners=https://127.0.0.1:0\n\
                            ssl.keystore.location=/k.pem\n\
                            confluent.http.server.ssl.client.authentication=REQUIRED\n")
        .unwrap_err()
        .to_string();
        assert!(no_trust.contains("needs a trust store"), "{no_trust}");
        let bad = cfg("confluent.http.server.listeners=https://127.0.0.1:0\n\
                       ssl.keystore.location=/k.pem\n\
                       confluent.http.server.ssl.client.authentication=maybe\n")
        .unwrap_err()
        .to_string();
        assert!(
            bad.contains("confluent.http.server.ssl.client.authentication"),
            "{bad}"
        );
        assert!(cfg("confluent.http.server.listeners=ftp://127.0.0.1:0").is_err());
        // An http:// listener alone reads no TLS key.
        assert!(cfg("confluent.http.server.listeners=http://127.0.0.1:0").is_ok());
    }

    #[test]
    fn refuses_invalid_values() {
        assert!(cfg("num.partitions=abc").is_err());
        assert!(cfg("num.partitions=0").is_err());
        assert!(cfg("listeners=127.0.0.1:9092").is_err());
        assert!(cfg("auto.create.topics.enable=yes").is_err());
        assert!(cfg("log.segment.bytes=5").is_err());
        assert!(cfg("compression.type=brotli").is_err());
        assert!(cfg("strait.metrics.partition.series.max=-1").is_err());
        assert!(cfg("log.scrub.interval.ms=0").is_err());
        assert!(cfg("log.scrub.interval.ms=-2").is_err());
        assert!(cfg("log.scrub.bytes.per.second=0").is_err());
        assert!(cfg("log.scrub.interval.ms=-1").is_ok());
        assert!(cfg("log.scrub.interval.ms=1000\nlog.scrub.bytes.per.second=1").is_ok());
        let e = cfg("listeners=PLAINTEXT://h:99999")
            .unwrap_err()
            .to_string();
        assert!(e.contains("listeners"), "{e}");
    }

    #[test]
    fn metadata_on_etcd() {
        assert!(cfg("").unwrap().metadata_etcd.is_none());
        let c = cfg("metadata.etcd.endpoints=http://127.0.0.1:2379,http://127.0.0.1:2380").unwrap();
        let etcd = c.metadata_etcd.unwrap();
        assert_eq!(etcd.endpoints.len(), 2);
        assert_eq!(etcd.prefix, "/strait");
        let c = cfg("metadata.etcd.endpoints=http://h:1\nmetadata.etcd.prefix=/prod/").unwrap();
        assert_eq!(c.metadata_etcd.unwrap().prefix, "/prod");
        // A prefix alone would be silently ignored: refused.
        let e = cfg("metadata.etcd.prefix=/x").unwrap_err().to_string();
        assert!(e.contains("metadata.etcd.endpoints"), "{e}");
        let e = cfg("metadata.etcd.endpoints=127.0.0.1:2379")
            .unwrap_err()
            .to_string();
        assert!(e.contains("metadata.etcd.endpoints"), "{e}");
        let e = cfg("metadata.etcd.endpoints=http://h:1\nmetadata.etcd.prefix=x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("metadata.etcd.prefix"), "{e}");
    }
}
