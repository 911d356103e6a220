//! The catalog of topic-level configs: Kafka's names, types, defaults and the
//! broker config each one falls back to. Owns validation of topic config
//! values and resolution of the effective value through the layers (topic
//! override, dynamic broker config, static server.properties, default). Must
//! never store anything.

use std::collections::BTreeMap;
use strait_log::{LogConfig, TimestampType};

/// Kafka's config value types, with their DescribeConfigs codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Long = 5,
    Double = 6,
    List = 7,
}

/// Where an effective value comes from (DescribeConfigs `config_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    DynamicTopic = 1,
    DynamicBroker = 2,
    DynamicDefaultBroker = 3,
    StaticBroker = 4,
    Default = 5,
}

pub struct TopicConfigDef {
    pub name: &'static str,
    pub kind: ConfigType,
    pub default: &'static str,
    /// The broker config that provides the default, if any.
    pub broker_synonym: Option<&'static str>,
    /// Allowed values for enumerations and lists.
    pub allowed: &'static [&'static str],
    pub min: Option<i64>,
}

const LONG_MAX: &str = "9223372036854775807";

macro_rules! def {
    ($name:expr, $kind:ident, $default:expr, $syn:expr) => {
        TopicConfigDef {
            name: $name,
            kind: ConfigType::$kind,
            default: $default,
            broker_synonym: $syn,
            allowed: &[],
            min: None,
        }
    };
    ($name:expr, $kind:ident, $default:expr, $syn:expr, min = $min:expr) => {
        TopicConfigDef {
            name: $name,
            kind: ConfigType::$kind,
            default: $default,
            broker_synonym: $syn,
            allowed: &[],
            min: Some($min),
        }
    };
    ($name:expr, $kind:ident, $default:expr, $syn:expr, one_of = $allowed:expr) => {
        TopicConfigDef {
            name: $name,
            kind: ConfigType::$kind,
            default: $default,
            broker_synonym: $syn,
            allowed: $allowed,
            min: None,
        }
    };
}

/// Every topic config Strait knows, in Kafka's (alphabetical) order.
pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    def!(
        "cleanup.policy",
        List,
        "delete",
        Some("log.cleanup.policy"),
        one_of = &["delete", "compact"]
    ),
    def!(
        "compression.type",
        String,
        "producer",
        Some("compression.type"),
        one_of = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]
    ),
    def!(
        "delete.retention.ms",
        Long,
        "86400000",
        Some("log.cleaner.delete.retention.ms"),
        min = 0
    ),
    def!(
        "file.delete.delay.ms",
        Long,
        "60000",
        Some("log.segment.delete.delay.ms"),
        min = 0
    ),
    def!(
        "flush.messages",
        Long,
        LONG_MAX,
        Some("log.flush.interval.messages"),
        min = 1
    ),
    def!(
        "flush.ms",
        Long,
        LONG_MAX,
        Some("log.flush.interval.ms"),
        min = 0
    ),
    def!(
        "index.interval.bytes",
        Int,
        "4096",
        Some("log.index.interval.bytes"),
        min = 0
    ),
    def!(
        "local.retention.bytes",
        Long,
        "-2",
        Some("log.local.retention.bytes"),
        min = -2
    ),
    def!(
        "local.retention.ms",
        Long,
        "-2",
        Some("log.local.retention.ms"),
        min = -2
    ),
    def!(
        "max.compaction.lag.ms",
        Long,
        LONG_MAX,
        Some("log.cleaner.max.compaction.lag.ms"),
        min = 1
    ),
    def!(
        "max.message.bytes",
        Int,
        "1048588",
        Some("message.max.bytes"),
        min = 0
    ),
    def!(
        "message.timestamp.after.max.ms",
        Long,
        "3600000",
        Some("log.message.timestamp.after.max.ms"),
        min = 0
    ),
    def!(
        "message.timestamp.before.max.ms",
        Long,
        LONG_MAX,
        Some("log.message.timestamp.before.max.ms"),
        min = 0
    ),
    def!(
        "message.timestamp.type",
        String,
        "CreateTime",
        Some("log.message.timestamp.type"),
        one_of = &["CreateTime", "LogAppendTime"]
    ),
    def!(
        "min.cleanable.dirty.ratio",
        Double,
        "0.5",
        Some("log.cleaner.min.cleanable.ratio")
    ),
    def!(
        "min.compaction.lag.ms",
        Long,
        "0",
        Some("log.cleaner.min.compaction.lag.ms"),
        min = 0
    ),
    def!(
        "min.insync.replicas",
        Int,
        "1",
        Some("min.insync.replicas"),
        min = 1
    ),
    def!("preallocate", Boolean, "false", Some("log.preallocate")),
    def!("remote.storage.enable", Boolean, "false", None),
    def!("retention.bytes", Long, "-1", Some("log.retention.bytes")),
    def!(
        "retention.ms",
        Long,
        "604800000",
        Some("log.retention.ms"),
        min = -1
    ),
    def!(
        "segment.bytes",
        Int,
        "1073741824",
        Some("log.segment.bytes"),
        min = 14
    ),
    def!(
        "segment.index.bytes",
        Int,
        "10485760",
        Some("log.index.size.max.bytes"),
        min = 4
    ),
    def!(
        "segment.jitter.ms",
        Long,
        "0",
        Some("log.roll.jitter.ms"),
        min = 0
    ),
    def!(
        "segment.ms",
        Long,
        "604800000",
        Some("log.roll.ms"),
        min = 1
    ),
    def!(
        "unclean.leader.election.enable",
        Boolean,
        "false",
        Some("unclean.leader.election.enable")
    ),
];

pub fn topic_config_def(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TopicConfigError {
    #[error("Unknown topic config name: {0}")]
    Unknown(String),
    #[error("Invalid value {value} for configuration {name}: {reason}")]
    InvalidValue {
        name: String,
        value: String,
        reason: String,
    },
}

/// Checks one topic config value against the catalog.
pub fn validate_topic_config(name: &str, value: &str) -> Result<(), TopicConfigError> {
    let def = topic_config_def(name).ok_or_else(|| TopicConfigError::Unknown(name.to_string()))?;
    validate_value(def, value)
}

fn validate_value(def: &TopicConfigDef, value: &str) -> Result<(), TopicConfigError> {
    let bad = |reason: String| TopicConfigError::InvalidValue {
        name: def.name.to_string(),
        value: value.to_string(),
        reason,
    };
    match def.kind {
        ConfigType::Int | ConfigType::Long => {
            let n: i64 = if def.kind == ConfigType::Int {
                value
                    .trim()
                    .parse::<i32>()
                    .map(i64::from)
                    .map_err(|_| bad("Not a number of type INT".into()))?
            } else {
                value
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| bad("Not a number of type LONG".into()))?
            };
            if let Some(min) = def.min
                && n < min
            {
                return Err(bad(format!("Value must be at least {min}")));
            }
        }
        ConfigType::Double => {
            value
                .trim()
                .parse::<f64>()
                .map_err(|_| bad("Not a number of type DOUBLE".into()))?;
        }
        ConfigType::Boolean => {
            if !matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "false") {
                return Err(bad("Expected value to be either true or false".into()));
            }
        }
        ConfigType::String | ConfigType::List => {
            if !def.allowed.is_empty() {
                let items: Vec<&str> = if def.kind == ConfigType::List {
                    value.split(',').map(str::trim).collect()
                } else {
                    vec![value.trim()]
                };
                for item in items {
                    if !def.allowed.contains(&item) {
                        return Err(bad(format!(
                            "String must be one of: {}",
                            def.allowed.join(", ")
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The layers a topic config is resolved through.
pub struct ConfigLayers<'a> {
    /// This broker's id: per-broker dynamic configs are stored as `{id}:{key}`.
    pub node_id: i32,
    pub topic: &'a BTreeMap<String, String>,
    pub dynamic_broker: &'a BTreeMap<String, String>,
    pub static_broker: &'a BTreeMap<String, String>,
}

/// One resolved config with its source and the synonyms below it.
pub struct ResolvedConfig {
    pub def: &'static TopicConfigDef,
    pub value: String,
    pub source: ConfigSource,
    /// (name, value, source) from the most to the least specific layer.
    pub synonyms: Vec<(String, String, ConfigSource)>,
}

impl ConfigLayers<'_> {
    pub fn resolve(&self, def: &'static TopicConfigDef) -> ResolvedConfig {
        let mut synonyms = Vec::new();
        if let Some(v) = self.topic.get(def.name) {
            synonyms.push((def.name.to_string(), v.clone(), ConfigSource::DynamicTopic));
        }
        if let Some(syn) = def.broker_synonym {
            if let Some(v) = self.dynamic_broker.get(&per_broker_key(self.node_id, syn)) {
                synonyms.push((syn.to_string(), v.clone(), ConfigSource::DynamicBroker));
            }
            if let Some(v) = self.dynamic_broker.get(syn) {
                synonyms.push((
                    syn.to_string(),
                    v.clone(),
                    ConfigSource::DynamicDefaultBroker,
                ));
            }
            if let Some(v) = static_broker_value(self.static_broker, syn) {
                synonyms.push((syn.to_string(), v, ConfigSource::StaticBroker));
            }
        }
        // Kafka names the coarsest unit for these defaults (168 hours).
        let (default_name, default_value) = match def.broker_synonym {
            Some("log.retention.ms") => ("log.retention.hours", "168"),
            Some("log.roll.ms") => ("log.roll.hours", "168"),
            Some(syn) => (syn, def.default),
            None => (def.name, def.default),
        };
        synonyms.push((
            default_name.to_string(),
            default_value.to_string(),
            ConfigSource::Default,
        ));
        let (value, source) = match &synonyms[0] {
            (_, _, ConfigSource::Default) => (def.default.to_string(), ConfigSource::Default),
            (_, v, s) => (v.clone(), *s),
        };
        ResolvedConfig {
            def,
            value,
            source,
            synonyms,
        }
    }

    pub fn value(&self, name: &str) -> Option<String> {
        topic_config_def(name).map(|d| self.resolve(d).value)
    }

    pub fn all(&self) -> Vec<ResolvedConfig> {
        TOPIC_CONFIGS.iter().map(|d| self.resolve(d)).collect()
    }

    /// The storage settings of a partition of this topic.
    pub fn log_config(&self) -> LogConfig {
        let long = |name: &str, default: i64| -> i64 {
            self.value(name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let defaults = LogConfig::default();
        LogConfig {
            segment_bytes: long("segment.bytes", defaults.segment_bytes as i64).max(14) as u64,
            segment_ms: long("segment.ms", defaults.segment_ms),
            retention_ms: long("retention.ms", defaults.retention_ms),
            retention_bytes: long("retention.bytes", defaults.retention_bytes),
            flush_interval_messages: long("flush.messages", i64::MAX).max(1) as u64,
            flush_interval_ms: long("flush.ms", i64::MAX),
            index_interval_bytes: long("index.interval.bytes", 4096).clamp(0, u32::MAX as i64)
                as u32,
            max_message_bytes: long("max.message.bytes", 1_048_588).max(0) as usize,
            timestamp_type: if self.value("message.timestamp.type").as_deref()
                == Some("LogAppendTime")
            {
                TimestampType::LogAppendTime
            } else {
                TimestampType::CreateTime
            },
            cleanup_policy_compact: self.cleanup_policy_has("compact"),
            cleanup_policy_delete: self.cleanup_policy_has("delete"),
            delete_retention_ms: long("delete.retention.ms", defaults.delete_retention_ms),
            min_compaction_lag_ms: long("min.compaction.lag.ms", defaults.min_compaction_lag_ms),
            min_cleanable_dirty_ratio: self
                .value("min.cleanable.dirty.ratio")
                .and_then(|v| v.parse().ok())
                .unwrap_or(defaults.min_cleanable_dirty_ratio),
            ..defaults
        }
    }

    /// Whether `cleanup.policy` lists `policy`.
    fn cleanup_policy_has(&self, policy: &str) -> bool {
        self.value("cleanup.policy")
            .unwrap_or_else(|| "delete".into())
            .split(',')
            .any(|p| p.trim() == policy)
    }
}

/// How a per-broker dynamic config is keyed in the dynamic broker config map
/// (cluster-wide defaults use the bare key).
pub fn per_broker_key(node_id: i32, key: &str) -> String {
    format!("{node_id}:{key}")
}

/// Static broker values, including Kafka's coarser-unit aliases
/// (log.retention.hours/minutes, log.roll.hours).
fn static_broker_value(props: &BTreeMap<String, String>, key: &str) -> Option<String> {
    if let Some(v) = props.get(key) {
        return Some(v.clone());
    }
    let scaled = |k: &str, factor: i64| {
        props
            .get(k)
            .and_then(|v| v.parse::<i64>().ok())
            .map(|n| (n * factor).to_string())
    };
    match key {
        "log.retention.ms" => scaled("log.retention.minutes", 60_000)
            .or_else(|| scaled("log.retention.hours", 3_600_000)),
        "log.roll.ms" => scaled("log.roll.hours", 3_600_000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_like_kafka() {
        assert!(validate_topic_config("retention.ms", "1000").is_ok());
        assert!(validate_topic_config("retention.ms", "-1").is_ok());
        assert!(validate_topic_config("retention.ms", "abc").is_err());
        assert!(validate_topic_config("cleanup.policy", "compact,delete").is_ok());
        assert!(validate_topic_config("cleanup.policy", "shred").is_err());
        assert!(validate_topic_config("segment.bytes", "10").is_err());
        assert!(matches!(
            validate_topic_config("no.such", "1"),
            Err(TopicConfigError::Unknown(_))
        ));
    }

    #[test]
    fn resolves_through_layers() {
        let topic = BTreeMap::from([("retention.ms".to_string(), "5".to_string())]);
        let dynamic = BTreeMap::from([("log.segment.bytes".to_string(), "2048".to_string())]);
        let stat = BTreeMap::from([
            ("log.retention.hours".to_string(), "1".to_string()),
            ("log.segment.bytes".to_string(), "4096".to_string()),
        ]);
        let layers = ConfigLayers {
            node_id: 1,
            topic: &topic,
            dynamic_broker: &dynamic,
            static_broker: &stat,
        };
        let r = layers.resolve(topic_config_def("retention.ms").unwrap());
        assert_eq!(r.value, "5");
        assert_eq!(r.source, ConfigSource::DynamicTopic);
        assert_eq!(r.synonyms[1].1, "3600000");
        let s = layers.resolve(topic_config_def("segment.bytes").unwrap());
        assert_eq!(
            (s.value.as_str(), s.source),
            ("2048", ConfigSource::DynamicDefaultBroker)
        );
        let lc = layers.log_config();
        assert_eq!(lc.retention_ms, 5);
        assert_eq!(lc.segment_bytes, 2048);
    }
}
