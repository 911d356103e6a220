//! Config administration: DescribeConfigs and IncrementalAlterConfigs, with a
//! fallback to the legacy (whole-set) AlterConfigs for brokers that lack the
//! incremental API. It owns config resource/source vocabularies; it must
//! never parse command-line syntax such as `k=[a,b]`.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_configs_request::{
    AlterConfigsResource as LegacyResource, AlterableConfig as LegacyConfig,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    AlterConfigsRequest, ApiKey, DescribeConfigsRequest, IncrementalAlterConfigsRequest,
};

use super::str_bytes;
use super::topics::ItemResults;
use crate::client::{KafkaClient, Route};
use crate::error::ClientError;

/// Kinds of config resources (the protocol's resource type codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigResourceType {
    Topic,
    Broker,
    BrokerLogger,
    ClientMetrics,
    Group,
    /// A type this client has no name for (e.g. vendor extensions).
    Other(i8),
}

impl ConfigResourceType {
    /// The wire code.
    pub fn code(self) -> i8 {
        match self {
            ConfigResourceType::Topic => 2,
            ConfigResourceType::Broker => 4,
            ConfigResourceType::BrokerLogger => 8,
            ConfigResourceType::ClientMetrics => 16,
            ConfigResourceType::Group => 32,
            ConfigResourceType::Other(code) => code,
        }
    }

    /// From a wire code.
    pub fn from_code(code: i8) -> Self {
        match code {
            2 => ConfigResourceType::Topic,
            4 => ConfigResourceType::Broker,
            8 => ConfigResourceType::BrokerLogger,
            16 => ConfigResourceType::ClientMetrics,
            32 => ConfigResourceType::Group,
            other => ConfigResourceType::Other(other),
        }
    }
}

/// A config resource: a type and a name (a broker id as text for brokers,
/// the empty string for cluster-wide broker defaults).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigResource {
    pub resource_type: ConfigResourceType,
    pub name: String,
}

impl ConfigResource {
    pub fn new(resource_type: ConfigResourceType, name: impl Into<String>) -> Self {
        ConfigResource {
            resource_type,
            name: name.into(),
        }
    }

    pub fn topic(name: impl Into<String>) -> Self {
        ConfigResource::new(ConfigResourceType::Topic, name)
    }

    pub fn broker(id: i32) -> Self {
        ConfigResource::new(ConfigResourceType::Broker, id.to_string())
    }

    /// The cluster-wide broker defaults resource.
    pub fn broker_defaults() -> Self {
        ConfigResource::new(ConfigResourceType::Broker, "")
    }

    /// Which broker must serve requests for this resource, if a specific one.
    fn route(&self) -> Route {
        match self.resource_type {
            ConfigResourceType::Broker | ConfigResourceType::BrokerLogger => {
                match self.name.parse::<i32>() {
                    Ok(id) => Route::Broker(id),
                    Err(_) => Route::Any,
                }
            }
            _ => Route::Any,
        }
    }

    /// The config source that holds this resource's own dynamic settings.
    pub fn dynamic_source(&self) -> Option<ConfigSource> {
        match self.resource_type {
            ConfigResourceType::Topic => Some(ConfigSource::DynamicTopicConfig),
            ConfigResourceType::Broker if self.name.is_empty() => {
                Some(ConfigSource::DynamicDefaultBrokerConfig)
            }
            ConfigResourceType::Broker => Some(ConfigSource::DynamicBrokerConfig),
            ConfigResourceType::BrokerLogger => Some(ConfigSource::DynamicBrokerLoggerConfig),
            ConfigResourceType::ClientMetrics => Some(ConfigSource::DynamicClientMetricsConfig),
            ConfigResourceType::Group => Some(ConfigSource::DynamicGroupConfig),
            ConfigResourceType::Other(_) => None,
        }
    }
}

impl std::fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ConfigResource(type={:?}, name='{}')",
            self.resource_type, self.name
        )
    }
}

/// Where a config value comes from. Displays with Kafka's AdminClient names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigSource {
    Unknown,
    DynamicTopicConfig,
    DynamicBrokerConfig,
    DynamicDefaultBrokerConfig,
    StaticBrokerConfig,
    DefaultConfig,
    DynamicBrokerLoggerConfig,
    DynamicClientMetricsConfig,
    DynamicGroupConfig,
}

impl ConfigSource {
    /// From the DescribeConfigs wire code.
    pub fn from_code(code: i8) -> Self {
        match code {
            1 => ConfigSource::DynamicTopicConfig,
            2 => ConfigSource::DynamicBrokerConfig,
            3 => ConfigSource::DynamicDefaultBrokerConfig,
            4 => ConfigSource::StaticBrokerConfig,
            5 => ConfigSource::DefaultConfig,
            6 => ConfigSource::DynamicBrokerLoggerConfig,
            7 => ConfigSource::DynamicClientMetricsConfig,
            8 => ConfigSource::DynamicGroupConfig,
            _ => ConfigSource::Unknown,
        }
    }

    /// Kafka's AdminClient name for the source.
    pub fn name(self) -> &'static str {
        match self {
            ConfigSource::Unknown => "UNKNOWN",
            ConfigSource::DynamicTopicConfig => "DYNAMIC_TOPIC_CONFIG",
            ConfigSource::DynamicBrokerConfig => "DYNAMIC_BROKER_CONFIG",
            ConfigSource::DynamicDefaultBrokerConfig => "DYNAMIC_DEFAULT_BROKER_CONFIG",
            ConfigSource::StaticBrokerConfig => "STATIC_BROKER_CONFIG",
            ConfigSource::DefaultConfig => "DEFAULT_CONFIG",
            ConfigSource::DynamicBrokerLoggerConfig => "DYNAMIC_BROKER_LOGGER_CONFIG",
            ConfigSource::DynamicClientMetricsConfig => "DYNAMIC_CLIENT_METRICS_CONFIG",
            ConfigSource::DynamicGroupConfig => "DYNAMIC_GROUP_CONFIG",
        }
    }
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One synonym of a config entry (e.g. the broker-level default behind a topic config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSynonym {
    pub name: String,
    pub value: Option<String>,
    pub source: ConfigSource,
}

/// One described config value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    /// `None` for sensitive values (and values the broker does not reveal).
    pub value: Option<String>,
    pub source: ConfigSource,
    pub is_sensitive: bool,
    pub read_only: bool,
    pub synonyms: Vec<ConfigSynonym>,
    /// The protocol's config type code (0 when unknown).
    pub config_type: i8,
    pub documentation: Option<String>,
}

impl ConfigEntry {
    /// True when the value is the built-in default.
    pub fn is_default(&self) -> bool {
        self.source == ConfigSource::DefaultConfig
    }
}

/// Incremental alteration operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlterConfigOp {
    Set,
    Delete,
    Append,
    Subtract,
}

impl AlterConfigOp {
    pub fn code(self) -> i8 {
        match self {
            AlterConfigOp::Set => 0,
            AlterConfigOp::Delete => 1,
            AlterConfigOp::Append => 2,
            AlterConfigOp::Subtract => 3,
        }
    }
}

/// One change to one config key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigAlteration {
    pub name: String,
    pub op: AlterConfigOp,
    pub value: Option<String>,
}

impl ConfigAlteration {
    pub fn set(name: impl Into<String>, value: impl Into<String>) -> Self {
        ConfigAlteration {
            name: name.into(),
            op: AlterConfigOp::Set,
            value: Some(value.into()),
        }
    }

    pub fn delete(name: impl Into<String>) -> Self {
        ConfigAlteration {
            name: name.into(),
            op: AlterConfigOp::Delete,
            value: None,
        }
    }
}

/// Splits resources by the route that must serve them, keeping order.
fn by_route<'a, T>(
    items: impl IntoIterator<Item = (&'a ConfigResource, T)>,
) -> Vec<(Route, Vec<(&'a ConfigResource, T)>)> {
    let mut groups: Vec<(Route, Vec<(&'a ConfigResource, T)>)> = Vec::new();
    for (resource, value) in items {
        let route = resource.route();
        match groups.iter_mut().find(|(r, _)| *r == route) {
            Some((_, list)) => list.push((resource, value)),
            None => groups.push((route, vec![(resource, value)])),
        }
    }
    groups
}

impl KafkaClient {
    /// Describes configs of the given resources. Broker resources are asked
    /// of the broker itself, others of any broker.
    pub async fn describe_configs(
        &self,
        resources: &[ConfigResource],
        include_synonyms: bool,
        include_documentation: bool,
    ) -> Result<ItemResults<ConfigResource, Vec<ConfigEntry>>, ClientError> {
        let mut results = BTreeMap::new();
        for (route, group) in by_route(resources.iter().map(|r| (r, ()))) {
            let response = self
                .call("describeConfigs", &route, |version| {
                    DescribeConfigsRequest::default()
                        .with_include_synonyms(include_synonyms)
                        .with_include_documentation(include_documentation && version >= 3)
                        .with_resources(
                            group
                                .iter()
                                .map(|(resource, _)| {
                                    DescribeConfigsResource::default()
                                        .with_resource_type(resource.resource_type.code())
                                        .with_resource_name(str_bytes(&resource.name))
                                        .with_configuration_keys(None)
                                })
                                .collect(),
                        )
                })
                .await?;
            for result in response.body.results {
                let resource = ConfigResource::new(
                    ConfigResourceType::from_code(result.resource_type),
                    result.resource_name.to_string(),
                );
                let outcome = match ClientError::from_code(
                    result.error_code,
                    result.error_message.as_deref(),
                ) {
                    Some(err) => Err(err),
                    None => Ok(result
                        .configs
                        .iter()
                        .map(|c| ConfigEntry {
                            name: c.name.to_string(),
                            value: c.value.as_ref().map(|v| v.to_string()),
                            source: ConfigSource::from_code(c.config_source),
                            is_sensitive: c.is_sensitive,
                            read_only: c.read_only,
                            synonyms: c
                                .synonyms
                                .iter()
                                .map(|s| ConfigSynonym {
                                    name: s.name.to_string(),
                                    value: s.value.as_ref().map(|v| v.to_string()),
                                    source: ConfigSource::from_code(s.source),
                                })
                                .collect(),
                            config_type: c.config_type,
                            documentation: c.documentation.as_ref().map(|d| d.to_string()),
                        })
                        .collect()),
                };
                results.insert(resource, outcome);
            }
        }
        fill_missing_resources(&mut results, resources, "describeConfigs");
        Ok(results)
    }

    /// Applies incremental config changes. Falls back to the legacy
    /// AlterConfigs (read-modify-write of the dynamic config set) when the
    /// broker does not support IncrementalAlterConfigs.
    pub async fn incremental_alter_configs(
        &self,
        alterations: &[(ConfigResource, Vec<ConfigAlteration>)],
        validate_only: bool,
    ) -> Result<ItemResults<ConfigResource, ()>, ClientError> {
        if !self
            .any_broker_supports(ApiKey::IncrementalAlterConfigs)
            .await?
        {
            return self.alter_configs_legacy(alterations, validate_only).await;
        }
        let mut results = BTreeMap::new();
        for (route, group) in by_route(alterations.iter().map(|(r, a)| (r, a))) {
            let response = self
                .call("incrementalAlterConfigs", &route, |_version| {
                    IncrementalAlterConfigsRequest::default()
                        .with_validate_only(validate_only)
                        .with_resources(
                            group
                                .iter()
                                .map(|(resource, changes)| {
                                    AlterConfigsResource::default()
                                        .with_resource_type(resource.resource_type.code())
                                        .with_resource_name(str_bytes(&resource.name))
                                        .with_configs(
                                            changes
                                                .iter()
                                                .map(|c| {
                                                    AlterableConfig::default()
                                                        .with_name(str_bytes(&c.name))
                                                        .with_config_operation(c.op.code())
                                                        .with_value(
                                                            c.value.as_deref().map(str_bytes),
                                                        )
                                                })
                                                .collect(),
                                        )
                                })
                                .collect(),
                        )
                })
                .await?;
            for result in response.body.responses {
                let resource = ConfigResource::new(
                    ConfigResourceType::from_code(result.resource_type),
                    result.resource_name.to_string(),
                );
                results.insert(
                    resource,
                    ClientError::check(result.error_code, result.error_message.as_deref()),
                );
            }
        }
        let requested: Vec<ConfigResource> = alterations.iter().map(|(r, _)| r.clone()).collect();
        fill_missing_resources(&mut results, &requested, "incrementalAlterConfigs");
        Ok(results)
    }

    async fn alter_configs_legacy(
        &self,
        alterations: &[(ConfigResource, Vec<ConfigAlteration>)],
        validate_only: bool,
    ) -> Result<ItemResults<ConfigResource, ()>, ClientError> {
        let mut results = BTreeMap::new();
        let resources: Vec<ConfigResource> = alterations.iter().map(|(r, _)| r.clone()).collect();
        let current = self.describe_configs(&resources, false, false).await?;
        for (resource, changes) in alterations {
            let outcome = match current.get(resource) {
                Some(Ok(entries)) => match apply_alterations(resource, entries, changes) {
                    Ok(full_set) => {
                        self.send_legacy_alter(resource, full_set, validate_only)
                            .await?
                    }
                    Err(err) => Err(err),
                },
                Some(Err(err)) => Err(ClientError::InvalidArgument(err.to_string())),
                None => Err(ClientError::InvalidArgument(format!(
                    "no current configuration returned for {resource}"
                ))),
            };
            results.insert(resource.clone(), outcome);
        }
        Ok(results)
    }

    async fn send_legacy_alter(
        &self,
        resource: &ConfigResource,
        full_set: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<Result<(), ClientError>, ClientError> {
        let response = self
            .call("alterConfigs", &resource.route(), |_version| {
                AlterConfigsRequest::default()
                    .with_validate_only(validate_only)
                    .with_resources(vec![
                        LegacyResource::default()
                            .with_resource_type(resource.resource_type.code())
                            .with_resource_name(str_bytes(&resource.name))
                            .with_configs(
                                full_set
                                    .iter()
                                    .map(|(k, v)| {
                                        LegacyConfig::default()
                                            .with_name(str_bytes(k))
                                            .with_value(Some(str_bytes(v)))
                                    })
                                    .collect(),
                            ),
                    ])
            })
            .await?;
        Ok(match response.body.responses.first() {
            Some(r) => ClientError::check(r.error_code, r.error_message.as_deref()),
            None => Err(ClientError::InvalidArgument(format!(
                "the broker did not return a result for {resource} in alterConfigs"
            ))),
        })
    }
}

/// Computes the complete dynamic config set after applying `changes`, as the
/// legacy AlterConfigs API needs it.
pub fn apply_alterations(
    resource: &ConfigResource,
    entries: &[ConfigEntry],
    changes: &[ConfigAlteration],
) -> Result<BTreeMap<String, String>, ClientError> {
    let dynamic = resource.dynamic_source();
    let mut set = BTreeMap::new();
    for entry in entries.iter().filter(|e| Some(e.source) == dynamic) {
        match &entry.value {
            Some(value) => {
                set.insert(entry.name.clone(), value.clone());
            }
            None if changes.iter().any(|c| c.name == entry.name) => {}
            None => {
                return Err(ClientError::InvalidArgument(format!(
                    "Cannot preserve sensitive config {} with the legacy AlterConfigs API; specify it again",
                    entry.name
                )));
            }
        }
    }
    for change in changes {
        match change.op {
            AlterConfigOp::Set => {
                set.insert(
                    change.name.clone(),
                    change.value.clone().unwrap_or_default(),
                );
            }
            AlterConfigOp::Delete => {
                set.remove(&change.name);
            }
            AlterConfigOp::Append | AlterConfigOp::Subtract => {
                let current: Vec<String> = set
                    .get(&change.name)
                    .or_else(|| {
                        entries
                            .iter()
                            .find(|e| e.name == change.name)
                            .and_then(|e| e.value.as_ref())
                    })
                    .map(|v| {
                        v.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                let items: Vec<String> = change
                    .value
                    .as_deref()
                    .unwrap_or("")
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                let updated: Vec<String> = if change.op == AlterConfigOp::Append {
                    let mut list = current;
                    for item in items {
                        if !list.contains(&item) {
                            list.push(item);
                        }
                    }
                    list
                } else {
                    current.into_iter().filter(|v| !items.contains(v)).collect()
                };
                set.insert(change.name.clone(), updated.join(","));
            }
        }
    }
    Ok(set)
}

fn fill_missing_resources<T>(
    results: &mut ItemResults<ConfigResource, T>,
    requested: &[ConfigResource],
    call: &str,
) {
    for resource in requested {
        if !results.contains_key(resource) {
            let message = format!("The broker did not return a result for {resource} in {call}");
            results.insert(resource.clone(), Err(ClientError::InvalidArgument(message)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, value: Option<&str>, source: ConfigSource) -> ConfigEntry {
        ConfigEntry {
            name: name.to_string(),
            value: value.map(String::from),
            source,
            is_sensitive: value.is_none(),
            read_only: false,
            synonyms: Vec::new(),
            config_type: 0,
            documentation: None,
        }
    }

    #[test]
    fn legacy_alter_keeps_other_dynamic_configs() {
        let resource = ConfigResource::topic("t");
        let entries = vec![
            entry(
                "retention.ms",
                Some("1000"),
                ConfigSource::DynamicTopicConfig,
            ),
            entry(
                "cleanup.policy",
                Some("delete"),
                ConfigSource::DynamicTopicConfig,
            ),
            entry("segment.bytes", Some("1"), ConfigSource::DefaultConfig),
        ];
        let changes = vec![
            ConfigAlteration::set("max.message.bytes", "10"),
            ConfigAlteration::delete("retention.ms"),
            ConfigAlteration {
                name: "cleanup.policy".to_string(),
                op: AlterConfigOp::Append,
                value: Some("compact".to_string()),
            },
        ];
        let result = apply_alterations(&resource, &entries, &changes);
        let Ok(set) = result else {
            panic!("unexpected {result:?}")
        };
        assert_eq!(set.get("max.message.bytes").map(String::as_str), Some("10"));
        assert_eq!(
            set.get("cleanup.policy").map(String::as_str),
            Some("delete,compact")
        );
        assert!(!set.contains_key("retention.ms"));
        assert!(!set.contains_key("segment.bytes"));
    }

    #[test]
    fn legacy_alter_refuses_to_drop_hidden_sensitive_values() {
        let resource = ConfigResource::broker(1);
        let entries = vec![entry("secret", None, ConfigSource::DynamicBrokerConfig)];
        assert!(
            apply_alterations(&resource, &entries, &[ConfigAlteration::set("a", "b")]).is_err()
        );
        assert!(
            apply_alterations(&resource, &entries, &[ConfigAlteration::set("secret", "x")]).is_ok()
        );
    }

    #[test]
    fn resource_routes_and_sources() {
        assert_eq!(ConfigResource::broker(3).route(), Route::Broker(3));
        assert_eq!(ConfigResource::broker_defaults().route(), Route::Any);
        assert_eq!(
            ConfigResource::broker_defaults().dynamic_source(),
            Some(ConfigSource::DynamicDefaultBrokerConfig)
        );
        assert_eq!(
            ConfigSource::from_code(1).to_string(),
            "DYNAMIC_TOPIC_CONFIG"
        );
        assert_eq!(ConfigResourceType::from_code(2), ConfigResourceType::Topic);
    }
}
