//! Link configuration: the client settings used to reach the source cluster
//! and the link properties, with Confluent's names and defaults. Owns parsing,
//! validation and the sensitive-value rules; must never open connections.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::filters::{AclFilters, GroupFilters, TopicFilters};

/// A link property the engine understands.
pub struct LinkPropertyDef {
    pub name: &'static str,
    pub default: Option<&'static str>,
    pub kind: PropertyKind,
    /// Whether it may change after the link exists.
    pub alterable: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PropertyKind {
    Bool,
    Long,
    Text,
    GroupFilters,
    TopicFilters,
    AclFilters,
    OneOf(&'static [&'static str]),
}

macro_rules! prop {
    ($name:expr, $default:expr, $kind:expr) => {
        LinkPropertyDef {
            name: $name,
            default: $default,
            kind: $kind,
            alterable: true,
        }
    };
    ($name:expr, $default:expr, $kind:expr, fixed) => {
        LinkPropertyDef {
            name: $name,
            default: $default,
            kind: $kind,
            alterable: false,
        }
    };
}

/// Link properties (Confluent's "Link Properties").
pub const LINK_PROPERTIES: &[LinkPropertyDef] = &[
    prop!("acl.filters", None, PropertyKind::AclFilters),
    prop!("acl.sync.enable", Some("false"), PropertyKind::Bool),
    prop!("acl.sync.ms", Some("5000"), PropertyKind::Long),
    prop!(
        "auto.create.mirror.topics.enable",
        Some("false"),
        PropertyKind::Bool
    ),
    prop!(
        "auto.create.mirror.topics.filters",
        None,
        PropertyKind::TopicFilters
    ),
    prop!(
        "availability.check.consecutive.failure.threshold",
        Some("5"),
        PropertyKind::Long
    ),
    prop!("availability.check.ms", Some("60000"), PropertyKind::Long),
    prop!("cluster.link.paused", Some("false"), PropertyKind::Bool),
    prop!("cluster.link.prefix", None, PropertyKind::Text, fixed),
    prop!(
        "cluster.link.retry.timeout.ms",
        Some("300000"),
        PropertyKind::Long
    ),
    prop!(
        "connection.mode",
        Some("OUTBOUND"),
        PropertyKind::OneOf(&["OUTBOUND", "INBOUND"]),
        fixed
    ),
    prop!(
        "consumer.group.prefix.enable",
        Some("false"),
        PropertyKind::Bool
    ),
    prop!(
        "consumer.offset.group.filters",
        None,
        PropertyKind::GroupFilters
    ),
    prop!(
        "consumer.offset.sync.enable",
        Some("false"),
        PropertyKind::Bool
    ),
    prop!("consumer.offset.sync.ms", Some("30000"), PropertyKind::Long),
    prop!(
        "link.mode",
        Some("DESTINATION"),
        PropertyKind::OneOf(&["DESTINATION", "SOURCE", "BIDIRECTIONAL"]),
        fixed
    ),
    prop!("metadata.max.age.ms", Some("300000"), PropertyKind::Long),
    prop!(
        "mirror.start.offset.spec",
        Some("earliest"),
        PropertyKind::Text
    ),
    prop!("mirror.verification.interval.ms", None, PropertyKind::Long),
    prop!("num.cluster.link.fetchers", Some("1"), PropertyKind::Long),
    prop!(
        "replica.fetch.max.bytes",
        Some("1048576"),
        PropertyKind::Long
    ),
    prop!("replica.fetch.min.bytes", Some("1"), PropertyKind::Long),
    prop!(
        "replica.fetch.response.max.bytes",
        Some("10485760"),
        PropertyKind::Long
    ),
    prop!("replica.fetch.wait.max.ms", Some("500"), PropertyKind::Long),
    prop!("replica.fetch.backoff.ms", Some("1000"), PropertyKind::Long),
    prop!("topic.config.sync.include", None, PropertyKind::Text),
    prop!("topic.config.sync.ms", Some("5000"), PropertyKind::Long),
];

/// The interval of continuous mirror verification; -1 or unset: off.
pub const VERIFICATION_INTERVAL: &str = "mirror.verification.interval.ms";

/// Client settings (for reaching the source) that links accept.
const CLIENT_KEYS: &[&str] = &[
    "bootstrap.servers",
    "client.dns.lookup",
    "client.id",
    "connections.max.idle.ms",
    "default.api.timeout.ms",
    "metadata.max.age.ms",
    "reconnect.backoff.max.ms",
    "reconnect.backoff.ms",
    "request.timeout.ms",
    "retry.backoff.ms",
    "security.protocol",
    "socket.connection.setup.timeout.max.ms",
    "socket.connection.setup.timeout.ms",
];
const CLIENT_PREFIXES: &[&str] = &["ssl.", "sasl."];

/// Values never printed or logged, and sealed at rest (the PASSWORD-typed
/// client configs and PEM key material, with their `local.` twins).
pub fn is_sensitive(key: &str) -> bool {
    let key = key.strip_prefix("local.").unwrap_or(key);
    key == "sasl.jaas.config"
        || key.ends_with(".password")
        || key == "ssl.keystore.key"
        || key == "ssl.keystore.certificate.chain"
        || key == "ssl.truststore.certificates"
        || key.contains("secret")
}

pub fn property(name: &str) -> Option<&'static LinkPropertyDef> {
    LINK_PROPERTIES.iter().find(|p| p.name == name)
}

fn is_client_key(key: &str) -> bool {
    CLIENT_KEYS.contains(&key) || CLIENT_PREFIXES.iter().any(|p| key.starts_with(p))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkConfigError {
    #[error("Unknown cluster link config: {0}")]
    Unknown(String),
    #[error("Invalid value {value} for cluster link config {name}: {reason}")]
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
    #[error("Missing required cluster link config: {0}")]
    Missing(&'static str),
    #[error("Cluster link config {0} cannot be altered after the link is created")]
    NotAlterable(String),
    /// Settings that are valid alone but not together (Kafka's
    /// `InvalidConfigurationException`).
    #[error("{0}")]
    Conflict(String),
}

/// Confluent's message for `acl.sync.enable=true` without `acl.filters`.
pub const ACL_SYNC_WITHOUT_FILTERS: &str = "ACL migration is enabled but acl.filters is not set. Please set acl.filters to proceed with ACL migration.";
/// The refusal of a source-initiated link half.
pub const SOURCE_INITIATED: &str = "Source-initiated cluster links (link.mode=SOURCE or connection.mode=INBOUND) are not available in Strait: create the link on the destination cluster with connection.mode=OUTBOUND and bootstrap.servers set to the source cluster.";
/// The refusal of a bidirectional link, until Strait has them (issue 13).
pub const BIDIRECTIONAL: &str = "Bidirectional cluster links (link.mode=BIDIRECTIONAL) are not available in Strait yet: create a link with link.mode=DESTINATION on each cluster that mirrors topics.";
/// Strait's message for ACL sync on a prefixed link.
pub const ACL_SYNC_WITH_PREFIX: &str = "ACL sync (acl.sync.enable=true) cannot be enabled on a cluster link with a prefix (cluster.link.prefix): ACLs would be synced under the source's resource names, not the prefixed mirror names.";

fn invalid(name: &str, value: &str, reason: impl Into<String>) -> LinkConfigError {
    LinkConfigError::Invalid {
        name: name.to_string(),
        value: if is_sensitive(name) {
            "[hidden]".into()
        } else {
            value.to_string()
        },
        reason: reason.into(),
    }
}

/// Validates one key/value pair.
pub fn validate_entry(name: &str, value: &str) -> Result<(), LinkConfigError> {
    if let Some(def) = property(name) {
        match def.kind {
            PropertyKind::Bool => {
                if !matches!(value, "true" | "false") {
                    return Err(invalid(
                        name,
                        value,
                        "Expected value to be either true or false",
                    ));
                }
            }
            PropertyKind::Long => {
                let n: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| invalid(name, value, "Not a number of type LONG"))?;
                if name == VERIFICATION_INTERVAL {
                    if n < -1 {
                        return Err(invalid(name, value, "Value must be at least -1"));
                    }
                } else if n < 0 {
                    return Err(invalid(name, value, "Value must be at least 0"));
                }
            }
            PropertyKind::OneOf(allowed) => {
                if !allowed.contains(&value) {
                    return Err(invalid(
                        name,
                        value,
                        format!("String must be one of: {}", allowed.join(", ")),
                    ));
                }
            }
            PropertyKind::GroupFilters => {
                GroupFilters::parse(value).map_err(|e| invalid(name, value, e.to_string()))?;
            }
            PropertyKind::TopicFilters => {
                TopicFilters::parse(value).map_err(|e| invalid(name, value, e.to_string()))?;
            }
            PropertyKind::AclFilters => {
                crate::filters::AclFilters::parse(value)
                    .map_err(|e| invalid(name, value, e.to_string()))?;
            }
            PropertyKind::Text => {
                if name == "mirror.start.offset.spec" {
                    StartOffsetSpec::parse(value)
                        .map_err(|e| invalid(name, value, e.to_string()))?;
                }
                if name == "cluster.link.prefix"
                    && !value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                {
                    return Err(invalid(
                        name,
                        value,
                        "a prefix may only contain ASCII alphanumerics, '.', '_' and '-'",
                    ));
                }
            }
        }
        return Ok(());
    }
    if is_client_key(name) {
        if name == "security.protocol"
            && !matches!(
                value.to_ascii_uppercase().as_str(),
                "PLAINTEXT" | "SSL" | "SASL_PLAINTEXT" | "SASL_SSL"
            )
        {
            return Err(invalid(
                name,
                value,
                "must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
            ));
        }
        if name == "bootstrap.servers" && value.trim().is_empty() {
            return Err(invalid(name, value, "must not be empty"));
        }
        return Ok(());
    }
    Err(LinkConfigError::Unknown(name.to_string()))
}

/// The configs as stored: JSON filters on one line (see
/// [`crate::filters::compact_json`]), everything else as given.
pub fn normalized(mut configs: BTreeMap<String, String>) -> BTreeMap<String, String> {
    for key in crate::filters::JSON_FILTER_KEYS {
        if let Some(value) = configs.get_mut(*key) {
            *value = crate::filters::compact_json(value);
        }
    }
    configs
}

/// Validates a whole set of configs for a new link.
pub fn validate_new(configs: &BTreeMap<String, String>) -> Result<(), LinkConfigError> {
    for (k, v) in configs {
        validate_entry(k, v)?;
    }
    let link_mode = configs
        .get("link.mode")
        .map(String::as_str)
        .unwrap_or("DESTINATION");
    let connection_mode = configs
        .get("connection.mode")
        .map(String::as_str)
        .unwrap_or("OUTBOUND");
    if link_mode.eq_ignore_ascii_case("SOURCE") || connection_mode.eq_ignore_ascii_case("INBOUND") {
        // A source-initiated link needs the source to dial the destination
        // and the destination to fetch over that connection; Strait's links
        // always dial out from the destination.
        return Err(LinkConfigError::Conflict(SOURCE_INITIATED.into()));
    }
    if link_mode.eq_ignore_ascii_case("BIDIRECTIONAL") {
        // Accepting it would give a one-way link under a two-way name.
        return Err(LinkConfigError::Conflict(BIDIRECTIONAL.into()));
    }
    if !configs.contains_key("bootstrap.servers") {
        return Err(LinkConfigError::Missing("bootstrap.servers"));
    }
    let enabled = |key: &str| configs.get(key).is_some_and(|v| v == "true");
    if enabled("acl.sync.enable") {
        let filters = configs
            .get("acl.filters")
            .map(|v| AclFilters::parse(v).unwrap_or_default())
            .unwrap_or_default();
        if filters.0.is_empty() {
            return Err(LinkConfigError::Conflict(ACL_SYNC_WITHOUT_FILTERS.into()));
        }
        if configs
            .get("cluster.link.prefix")
            .is_some_and(|p| !p.is_empty())
        {
            return Err(LinkConfigError::Conflict(ACL_SYNC_WITH_PREFIX.into()));
        }
    }
    Ok(())
}

/// Applies an alteration, refusing changes to fixed properties.
pub fn alter(
    current: &BTreeMap<String, String>,
    set: &BTreeMap<String, String>,
    delete: &[String],
) -> Result<BTreeMap<String, String>, LinkConfigError> {
    let mut next = current.clone();
    for key in delete {
        if property(key).is_some_and(|p| !p.alterable) {
            return Err(LinkConfigError::NotAlterable(key.clone()));
        }
        if property(key).is_none() && !is_client_key(key) {
            return Err(LinkConfigError::Unknown(key.clone()));
        }
        next.remove(key);
    }
    for (key, value) in set {
        validate_entry(key, value)?;
        if property(key).is_some_and(|p| !p.alterable) && current.get(key) != Some(value) {
            return Err(LinkConfigError::NotAlterable(key.clone()));
        }
        next.insert(key.clone(), value.clone());
    }
    validate_new(&next)?;
    Ok(next)
}

/// Where a new mirror starts reading its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOffsetSpec {
    Earliest,
    Latest,
    /// Milliseconds since the epoch.
    Timestamp(i64),
}

/// A `mirror.start.offset.spec` that is none of the three forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be earliest, latest or a timestamp in milliseconds")]
pub struct InvalidStartOffsetSpec;

impl StartOffsetSpec {
    pub fn parse(value: &str) -> Result<Self, InvalidStartOffsetSpec> {
        match value.trim() {
            "earliest" => Ok(Self::Earliest),
            "latest" => Ok(Self::Latest),
            other => other
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(Self::Timestamp)
                .ok_or(InvalidStartOffsetSpec),
        }
    }
}

/// The typed view of a link's configs that the engine runs with. Its
/// `Debug` withholds sensitive values.
#[derive(Clone)]
pub struct LinkSettings {
    pub raw: BTreeMap<String, String>,
    pub paused: bool,
    pub retry_timeout: Duration,
    pub metadata_max_age: Duration,
    pub start_offset: StartOffsetSpec,
    pub topic_config_sync: Duration,
    pub offset_sync_enable: bool,
    pub offset_sync: Duration,
    pub group_filters: GroupFilters,
    pub auto_create_enable: bool,
    pub topic_filters: TopicFilters,
    pub acl_sync_enable: bool,
    pub acl_sync: Duration,
    pub acl_filters: AclFilters,
    pub prefix: Option<String>,
    pub group_prefix_enable: bool,
    pub fetch_max_bytes: i32,
    pub fetch_response_max_bytes: i32,
    pub fetch_min_bytes: i32,
    pub fetch_wait_max: Duration,
    pub fetch_backoff: Duration,
    /// Continuous verification's interval (None: off).
    pub verification_interval: Option<Duration>,
}

impl LinkSettings {
    pub fn from_configs(raw: &BTreeMap<String, String>) -> Self {
        let get = |k: &str| -> String {
            raw.get(k)
                .cloned()
                .or_else(|| property(k).and_then(|p| p.default).map(str::to_string))
                .unwrap_or_default()
        };
        let ms = |k: &str| Duration::from_millis(get(k).parse::<u64>().unwrap_or(0));
        let num = |k: &str| get(k).parse::<i64>().unwrap_or(0).clamp(1, i32::MAX as i64) as i32;
        LinkSettings {
            raw: raw.clone(),
            paused: get("cluster.link.paused") == "true",
            retry_timeout: ms("cluster.link.retry.timeout.ms"),
            metadata_max_age: ms("metadata.max.age.ms"),
            start_offset: StartOffsetSpec::parse(&get("mirror.start.offset.spec"))
                .unwrap_or(StartOffsetSpec::Earliest),
            topic_config_sync: ms("topic.config.sync.ms"),
            offset_sync_enable: get("consumer.offset.sync.enable") == "true",
            offset_sync: ms("consumer.offset.sync.ms"),
            group_filters: GroupFilters::parse(&get("consumer.offset.group.filters"))
                .unwrap_or_default(),
            auto_create_enable: get("auto.create.mirror.topics.enable") == "true",
            topic_filters: TopicFilters::parse(&get("auto.create.mirror.topics.filters"))
                .unwrap_or_default(),
            acl_sync_enable: get("acl.sync.enable") == "true",
            acl_sync: ms("acl.sync.ms"),
            acl_filters: AclFilters::parse(&get("acl.filters")).unwrap_or_default(),
            prefix: raw
                .get("cluster.link.prefix")
                .filter(|p| !p.is_empty())
                .cloned(),
            group_prefix_enable: get("consumer.group.prefix.enable") == "true",
            fetch_max_bytes: num("replica.fetch.max.bytes"),
            fetch_response_max_bytes: num("replica.fetch.response.max.bytes"),
            fetch_min_bytes: num("replica.fetch.min.bytes"),
            fetch_wait_max: ms("replica.fetch.wait.max.ms"),
            fetch_backoff: ms("replica.fetch.backoff.ms"),
            verification_interval: get(VERIFICATION_INTERVAL)
                .trim()
                .parse::<u64>()
                .ok()
                .map(Duration::from_millis),
        }
    }

    /// The client settings for the source cluster, as stored (sensitive
    /// values sealed; see [`crate::secrets`]).
    pub fn client_properties(&self) -> HashMap<String, String> {
        self.raw
            .iter()
            .filter(|(k, _)| is_client_key(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl std::fmt::Debug for LinkSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let raw: BTreeMap<&str, &str> = self
            .raw
            .iter()
            .map(|(k, v)| {
                let shown = if is_sensitive(k) { "[hidden]" } else { v };
                (k.as_str(), shown)
            })
            .collect();
        f.debug_struct("LinkSettings")
            .field("raw", &raw)
            .field("paused", &self.paused)
            .finish_non_exhaustive()
    }
}

/// Every config of a link for describe: set values, then defaults; sensitive
/// values are withheld.
pub fn describe(raw: &BTreeMap<String, String>) -> Vec<(String, Option<String>, bool, bool)> {
    let mut out: BTreeMap<String, (Option<String>, bool, bool)> = BTreeMap::new();
    for def in LINK_PROPERTIES {
        if let Some(d) = def.default {
            out.insert(def.name.to_string(), (Some(d.to_string()), false, false));
        }
    }
    for (k, v) in raw {
        let sensitive = is_sensitive(k);
        out.insert(
            k.clone(),
            (
                if sensitive { None } else { Some(v.clone()) },
                sensitive,
                true,
            ),
        );
    }
    out.into_iter()
        .map(|(k, (v, s, set))| (k, v, s, set))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn validates_new_links() {
        assert!(validate_new(&cfg(&[("bootstrap.servers", "h:1")])).is_ok());
        assert_eq!(
            validate_new(&cfg(&[])),
            Err(LinkConfigError::Missing("bootstrap.servers"))
        );
        assert!(matches!(
            validate_new(&cfg(&[("bootstrap.servers", "h:1"), ("bogus.key", "1")])),
            Err(LinkConfigError::Unknown(_))
        ));
        assert!(
            validate_new(&cfg(&[
                ("bootstrap.servers", "h:1"),
                ("cluster.link.paused", "maybe")
            ]))
            .is_err()
        );
        assert!(
            validate_new(&cfg(&[
                ("bootstrap.servers", "h:1"),
                ("sasl.jaas.config", "x required;")
            ]))
            .is_ok()
        );
    }

    #[test]
    fn bidirectional_links_are_refused_clearly() {
        assert_eq!(
            validate_new(&cfg(&[
                ("link.mode", "BIDIRECTIONAL"),
                ("bootstrap.servers", "h:1")
            ])),
            Err(LinkConfigError::Conflict(BIDIRECTIONAL.into()))
        );
    }

    #[test]
    fn source_initiated_halves_are_refused_clearly() {
        for pairs in [
            [("link.mode", "SOURCE"), ("bootstrap.servers", "h:1")],
            [("connection.mode", "INBOUND"), ("link.mode", "DESTINATION")],
        ] {
            assert_eq!(
                validate_new(&cfg(&pairs)),
                Err(LinkConfigError::Conflict(SOURCE_INITIATED.into()))
            );
        }
        assert!(
            validate_new(&cfg(&[
                ("bootstrap.servers", "h:1"),
                ("link.mode", "DESTINATION"),
                ("connection.mode", "OUTBOUND")
            ]))
            .is_ok()
        );
    }

    #[test]
    fn acl_sync_needs_filters_and_no_prefix() {
        let filters = r#"{"aclFilters":[{"resourceFilter":{"resourceType":"any","patternType":"any"},"accessFilter":{"operation":"any","permissionType":"any"}}]}"#;
        let on = [("bootstrap.servers", "h:1"), ("acl.sync.enable", "true")];
        assert_eq!(
            validate_new(&cfg(&on)),
            Err(LinkConfigError::Conflict(ACL_SYNC_WITHOUT_FILTERS.into()))
        );
        let with_filters = [on[0], on[1], ("acl.filters", filters)];
        assert!(validate_new(&cfg(&with_filters)).is_ok());
        let prefixed = [
            on[0],
            on[1],
            ("acl.filters", filters),
            ("cluster.link.prefix", "w."),
        ];
        assert_eq!(
            validate_new(&cfg(&prefixed)),
            Err(LinkConfigError::Conflict(ACL_SYNC_WITH_PREFIX.into()))
        );
        // Alter sees the link as a whole.
        let linked = cfg(&[("bootstrap.servers", "h:1"), ("cluster.link.prefix", "w.")]);
        assert!(
            alter(
                &linked,
                &cfg(&[("acl.sync.enable", "true"), ("acl.filters", filters)]),
                &[]
            )
            .is_err()
        );
        // Disabled sync needs neither.
        assert!(validate_new(&cfg(&[on[0], ("acl.sync.enable", "false")])).is_ok());
    }

    #[test]
    fn verification_interval_is_off_unless_set_to_zero_or_more() {
        let key = VERIFICATION_INTERVAL;
        assert!(validate_entry(key, "500").is_ok());
        assert!(validate_entry(key, "-1").is_ok());
        assert!(matches!(
            validate_entry(key, "-2"),
            Err(LinkConfigError::Invalid { .. })
        ));
        assert!(matches!(
            validate_entry(key, "often"),
            Err(LinkConfigError::Invalid { .. })
        ));
        let interval =
            |pairs: &[(&str, &str)]| LinkSettings::from_configs(&cfg(pairs)).verification_interval;
        assert_eq!(interval(&[]), None);
        assert_eq!(interval(&[(key, "-1")]), None);
        assert_eq!(interval(&[(key, "500")]), Some(Duration::from_millis(500)));
    }

    #[test]
    fn fixed_properties_cannot_change() {
        let cur = cfg(&[
            ("bootstrap.servers", "h:1"),
            ("cluster.link.prefix", "west."),
        ]);
        assert!(matches!(
            alter(&cur, &cfg(&[("cluster.link.prefix", "east.")]), &[]),
            Err(LinkConfigError::NotAlterable(_))
        ));
        assert!(
            alter(
                &cur,
                &cfg(&[("cluster.link.retry.timeout.ms", "10000")]),
                &["request.timeout.ms".into()]
            )
            .is_ok()
        );
    }

    #[test]
    fn sensitive_values_are_withheld() {
        let d = describe(&cfg(&[
            ("bootstrap.servers", "h:1"),
            ("sasl.jaas.config", "secret"),
        ]));
        let jaas = d.iter().find(|e| e.0 == "sasl.jaas.config").unwrap();
        assert_eq!((jaas.1.clone(), jaas.2), (None, true));
        assert!(
            d.iter()
                .any(|e| e.0 == "metadata.max.age.ms" && e.1.as_deref() == Some("300000"))
        );
    }
}
