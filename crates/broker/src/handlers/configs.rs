//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics and
//! the broker. Values are validated against the topic config catalog before
//! anything is stored; storage settings of live logs follow every change.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};

use super::str_bytes;
use crate::errors;
use crate::state::Broker;
use crate::topic_config::{
    ConfigSource, ConfigType, TOPIC_CONFIGS, per_broker_key, validate_topic_config,
};

pub const TOPIC: i8 = 2;
pub const BROKER: i8 = 4;
pub const BROKER_LOGGER: i8 = 8;

type Failure = (ResponseError, String);

fn entry(
    name: &str,
    value: Option<String>,
    source: ConfigSource,
    kind: ConfigType,
    synonyms: Vec<(String, String, ConfigSource)>,
    include_synonyms: bool,
) -> DescribeConfigsResourceResult {
    let mut e = DescribeConfigsResourceResult::default();
    e.name = str_bytes(name);
    // Secrets (passwords, keys, JAAS) are described as null and sensitive, as Kafka does.
    let sensitive = crate::config::is_sensitive(name);
    e.is_sensitive = sensitive;
    e.value = value.filter(|_| !sensitive).map(str_bytes);
    e.config_source = source as i8;
    e.config_type = kind as i8;
    if include_synonyms {
        e.synonyms = synonyms
            .into_iter()
            .map(|(n, v, s)| {
                let mut syn = DescribeConfigsSynonym::default();
                syn.name = str_bytes(n);
                syn.value = (!sensitive).then(|| str_bytes(v));
                syn.source = s as i8;
                syn
            })
            .collect();
    }
    e
}

pub fn describe(
    broker: &Broker,
    req: DescribeConfigsRequest,
    _version: i16,
) -> DescribeConfigsResponse {
    let mut resp = DescribeConfigsResponse::default();
    for resource in req.resources {
        let name = resource.resource_name.to_string();
        let keys: Option<Vec<String>> = resource
            .configuration_keys
            .map(|k| k.iter().map(|s| s.to_string()).collect());
        let wanted = |n: &str| keys.as_ref().is_none_or(|k| k.iter().any(|x| x == n));
        let mut result = DescribeConfigsResult::default();
        result.resource_type = resource.resource_type;
        result.resource_name = resource.resource_name.clone();
        match resource.resource_type {
            TOPIC => match broker.store.topic(&name) {
                None => {
                    result.error_code = ResponseError::UnknownTopicOrPartition.code();
                    result.error_message =
                        Some(str_bytes(format!("Topic '{name}' does not exist.")));
                }
                Some(topic) => {
                    result.configs = broker.with_config_layers(&topic.configs, |layers| {
                        layers
                            .all()
                            .into_iter()
                            .filter(|c| wanted(c.def.name))
                            .map(|c| {
                                entry(
                                    c.def.name,
                                    Some(c.value),
                                    c.source,
                                    c.def.kind,
                                    c.synonyms,
                                    req.include_synonyms,
                                )
                            })
                            .collect()
                    });
                }
            },
            BROKER => match check_broker_name(broker, &name) {
                Err((code, message)) => {
                    result.error_code = code.code();
                    result.error_message = Some(str_bytes(message));
                }
                Ok(()) => {
                    result.configs = broker_configs(broker, !name.is_empty())
                        .into_iter()
                        .filter(|(n, ..)| wanted(n))
                        .map(|(n, v, source, kind, synonyms)| {
                            entry(&n, Some(v), source, kind, synonyms, req.include_synonyms)
                        })
                        .collect();
                }
            },
            BROKER_LOGGER => {}
            other => {
                result.error_code = ResponseError::InvalidRequest.code();
                result.error_message =
                    Some(str_bytes(format!("Unsupported resource type {other}")));
            }
        }
        resp.results.push(result);
    }
    resp
}

fn check_broker_name(broker: &Broker, name: &str) -> Result<(), Failure> {
    if name.is_empty() || name == broker.node_id().to_string() {
        Ok(())
    } else {
        Err((
            ResponseError::InvalidRequest,
            format!(
                "Unexpected broker id, expected {} or empty string, but received {name}",
                broker.node_id()
            ),
        ))
    }
}

type BrokerConfigEntry = (
    String,
    String,
    ConfigSource,
    ConfigType,
    Vec<(String, String, ConfigSource)>,
);

/// The broker-level configs: every broker synonym of a topic config plus
/// every key of server.properties, resolved dynamic > static > default.
fn broker_configs(broker: &Broker, per_broker: bool) -> Vec<BrokerConfigEntry> {
    let dynamic = broker.store.broker_configs();
    let mut out: BTreeMap<String, BrokerConfigEntry> = BTreeMap::new();
    let mut add = |name: &str, default: Option<&str>, kind: ConfigType| {
        let mut synonyms = Vec::new();
        if per_broker && let Some(v) = dynamic.get(&per_broker_key(broker.node_id(), name)) {
            synonyms.push((name.to_string(), v.clone(), ConfigSource::DynamicBroker));
        }
        if let Some(v) = dynamic.get(name) {
            synonyms.push((
                name.to_string(),
                v.clone(),
                ConfigSource::DynamicDefaultBroker,
            ));
        }
        if let Some(v) = broker.config.properties.get(name) {
            synonyms.push((name.to_string(), v.clone(), ConfigSource::StaticBroker));
        }
        if let Some(d) = default {
            synonyms.push((name.to_string(), d.to_string(), ConfigSource::Default));
        }
        if let Some((_, v, s)) = synonyms.first().cloned() {
            out.insert(name.to_string(), (name.to_string(), v, s, kind, synonyms));
        }
    };
    for def in TOPIC_CONFIGS {
        if let Some(syn) = def.broker_synonym {
            add(syn, Some(def.default), def.kind);
        }
    }
    let statics: Vec<String> = broker.config.properties.keys().cloned().collect();
    for key in statics {
        add(&key, None, ConfigType::String);
    }
    out.into_values().collect()
}

/// The topic config a dynamic broker config stands in for.
fn broker_key_def(key: &str) -> Option<&'static crate::topic_config::TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.broker_synonym == Some(key))
}

enum Change {
    Set(String),
    Delete,
    Append(String),
    Subtract(String),
}

fn apply(
    current: &BTreeMap<String, String>,
    changes: Vec<(String, Change)>,
    is_topic: bool,
) -> Result<BTreeMap<String, String>, Failure> {
    let mut next = current.clone();
    for (key, change) in changes {
        let def = if is_topic {
            crate::topic_config::topic_config_def(&key)
        } else {
            broker_key_def(&key)
        };
        let Some(def) = def else {
            return Err(if is_topic {
                (
                    ResponseError::InvalidConfig,
                    format!("Unknown topic config name: {key}"),
                )
            } else {
                (
                    ResponseError::InvalidConfig,
                    format!("Cannot update these configs dynamically: Set({key})"),
                )
            });
        };
        match change {
            Change::Set(v) => {
                validate_topic_config(def.name, &v)
                    .map_err(|e| (ResponseError::InvalidConfig, e.to_string()))?;
                next.insert(key, v);
            }
            Change::Delete => {
                next.remove(&key);
            }
            Change::Append(v) | Change::Subtract(v) if def.kind != ConfigType::List => {
                let _ = v;
                return Err((
                    ResponseError::InvalidConfig,
                    format!("Config value append/subtract is not allowed for config key: {key}"),
                ));
            }
            Change::Append(v) => {
                let mut items: Vec<String> = next
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| def.default.to_string())
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                for item in v.split(',').map(str::trim) {
                    if !items.iter().any(|i| i == item) {
                        items.push(item.to_string());
                    }
                }
                let joined = items.join(",");
                validate_topic_config(def.name, &joined)
                    .map_err(|e| (ResponseError::InvalidConfig, e.to_string()))?;
                next.insert(key, joined);
            }
            Change::Subtract(v) => {
                let drop: Vec<&str> = v.split(',').map(str::trim).collect();
                let items: Vec<String> = next
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| def.default.to_string())
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty() && !drop.contains(&s.as_str()))
                    .collect();
                next.insert(key, items.join(","));
            }
        }
    }
    Ok(next)
}

/// Validates and stores new configs for one resource.
async fn store_configs(
    broker: &Arc<Broker>,
    resource_type: i8,
    name: &str,
    build: impl FnOnce(&BTreeMap<String, String>, bool) -> Result<BTreeMap<String, String>, Failure>,
    validate_only: bool,
) -> Result<(), Failure> {
    let _guard = broker.admin.lock().await;
    match resource_type {
        TOPIC => {
            let Some(mut topic) = broker.store.topic(name) else {
                return Err((
                    ResponseError::UnknownTopicOrPartition,
                    format!("Topic '{name}' does not exist."),
                ));
            };
            let next = build(&topic.configs, true)?;
            if let Some(engine) = broker.links.get() {
                let changed = next
                    .iter()
                    .filter(|(k, v)| topic.configs.get(*k) != Some(*v))
                    .map(|(k, _)| k)
                    .chain(topic.configs.keys().filter(|k| !next.contains_key(*k)));
                for key in changed {
                    if !engine.config_settable(name, key) {
                        return Err((
                            ResponseError::InvalidConfig,
                            format!(
                                "Cannot modify mirror topic '{name}'s configuration for '{key}'"
                            ),
                        ));
                    }
                }
            }
            if validate_only {
                return Ok(());
            }
            topic.configs = next;
            broker
                .store
                .update_topic(topic.clone())
                .map_err(|e| errors::metadata_failure(&e))?;
            broker.topics.reconfigure(name, &broker.log_config(&topic));
            tracing::info!("updated configs of topic {name}");
            Ok(())
        }
        BROKER => {
            check_broker_name(broker, name)?;
            // The cluster-wide defaults use bare keys; this broker's own
            // values are stored under `{node}:{key}`.
            let all = broker.store.broker_configs();
            let prefix = per_broker_key(broker.node_id(), "");
            let (mine, others): (BTreeMap<String, String>, BTreeMap<String, String>) =
                if name.is_empty() {
                    all.into_iter().partition(|(k, _)| !k.contains(':'))
                } else {
                    let (mine, others): (Vec<_>, Vec<_>) =
                        all.into_iter().partition(|(k, _)| k.starts_with(&prefix));
                    (
                        mine.into_iter()
                            .map(|(k, v)| (k[prefix.len()..].to_string(), v))
                            .collect(),
                        others.into_iter().collect(),
                    )
                };
            let next_mine = build(&mine, false)?;
            if validate_only {
                return Ok(());
            }
            let mut next = others;
            for (k, v) in next_mine {
                let key = if name.is_empty() {
                    k
                } else {
                    per_broker_key(broker.node_id(), &k)
                };
                next.insert(key, v);
            }
            broker
                .store
                .set_broker_configs(next)
                .map_err(|e| errors::metadata_failure(&e))?;
            for topic in broker.store.topics() {
                broker
                    .topics
                    .reconfigure(&topic.name, &broker.log_config(&topic));
            }
            tracing::info!("updated dynamic broker configs");
            Ok(())
        }
        other => Err((
            ResponseError::InvalidRequest,
            format!("Unsupported resource type {other}"),
        )),
    }
}

pub async fn alter(broker: &Arc<Broker>, req: AlterConfigsRequest) -> AlterConfigsResponse {
    use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
    let mut resp = AlterConfigsResponse::default();
    for resource in req.resources {
        let name = resource.resource_name.to_string();
        let mut out = AlterConfigsResourceResponse::default();
        out.resource_type = resource.resource_type;
        out.resource_name = resource.resource_name.clone();
        let mut changes = Vec::new();
        let mut null_key = None;
        for c in &resource.configs {
            match &c.value {
                Some(v) => changes.push((c.name.to_string(), Change::Set(v.to_string()))),
                None => null_key = Some(c.name.to_string()),
            }
        }
        let outcome = match null_key {
            Some(k) => Err((
                ResponseError::InvalidRequest,
                format!("Null value not supported for : {k}"),
            )),
            None => {
                store_configs(
                    broker,
                    resource.resource_type,
                    &name,
                    // AlterConfigs replaces the whole set of overrides.
                    |_, is_topic| apply(&BTreeMap::new(), changes, is_topic),
                    req.validate_only,
                )
                .await
            }
        };
        if let Err((code, message)) = outcome {
            out.error_code = code.code();
            out.error_message = Some(str_bytes(message));
        }
        resp.responses.push(out);
    }
    resp
}

pub async fn incremental_alter(
    broker: &Arc<Broker>,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
    let mut resp = IncrementalAlterConfigsResponse::default();
    for resource in req.resources {
        let name = resource.resource_name.to_string();
        let mut out = AlterConfigsResourceResponse::default();
        out.resource_type = resource.resource_type;
        out.resource_name = resource.resource_name.clone();
        let mut changes = Vec::new();
        let mut invalid = None;
        for c in &resource.configs {
            let key = c.name.to_string();
            let value = c.value.as_ref().map(|v| v.to_string());
            let change = match (c.config_operation, value) {
                (0, Some(v)) => Change::Set(v),
                (1, _) => Change::Delete,
                (2, Some(v)) => Change::Append(v),
                (3, Some(v)) => Change::Subtract(v),
                (0 | 2 | 3, None) => {
                    invalid = Some((
                        ResponseError::InvalidRequest,
                        format!("Null value not supported for : {key}"),
                    ));
                    break;
                }
                (op, _) => {
                    invalid = Some((
                        ResponseError::InvalidRequest,
                        format!("Unknown alter config operation {op}"),
                    ));
                    break;
                }
            };
            changes.push((key, change));
        }
        let outcome = match invalid {
            Some(e) => Err(e),
            None => {
                store_configs(
                    broker,
                    resource.resource_type,
                    &name,
                    |current, is_topic| apply(current, changes, is_topic),
                    req.validate_only,
                )
                .await
            }
        };
        if let Err((code, message)) = outcome {
            out.error_code = code.code();
            out.error_message = Some(str_bytes(message));
        }
        resp.responses.push(out);
    }
    resp
}
