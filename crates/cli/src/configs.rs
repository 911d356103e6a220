//! `kafka-configs`: describe and alter dynamic configs of topics, brokers
//! (including cluster-wide broker defaults), broker loggers, groups and
//! client-metrics resources (the broker answers the resource types it does
//! not hold with Kafka's error), and users' SCRAM credentials ([`users`]), with
//! Kafka's ConfigCommand flags, checks and output lines. Strait has no client
//! quotas, so quota entities (`clients`, `ips`, quota configs of `users`) are
//! parsed and checked like Kafka's, then refused with one line, as the broker
//! refuses DescribeClientQuotas. New entity kinds (e.g. `--cluster-link`) plug
//! in through [`EntityType`]. It must never parse properties syntax itself (see
//! [`crate::properties`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;
use strait_client::KafkaClient;
use strait_client::admin::configs::{
    ConfigAlteration, ConfigEntry, ConfigResource, ConfigResourceType,
};

use crate::invocation::{CliError, Console, block_on, client, client_config, parse_args};

pub mod users;
use crate::properties::{load_properties_file, parse_config_assignments};

/// Command-line options of `kafka-configs`, named as Kafka names them.
#[derive(Debug, Parser)]
#[command(
    name = "kafka-configs",
    about = "This tool helps to manipulate and describe entity config for a topic, client, user, broker, ip, client-metrics or group",
    version,
    infer_long_args = true
)]
pub struct ConfigsOptions {
    /// The Kafka servers to connect to.
    #[arg(long, value_name = "server to connect to")]
    pub bootstrap_server: Option<String>,
    /// The Kafka controllers to connect to.
    #[arg(long, value_name = "controller to connect to")]
    pub bootstrap_controller: Option<String>,
    /// Property file containing configs to be passed to Admin Client.
    #[arg(long, value_name = "command config property file")]
    pub command_config: Option<PathBuf>,
    /// Alter the configuration for the entity.
    #[arg(long)]
    pub alter: bool,
    /// List configs for the given entity.
    #[arg(long)]
    pub describe: bool,
    /// List all configs for the given entity, including static configs if available.
    #[arg(long)]
    pub all: bool,
    /// Type of entity (topics/clients/users/brokers/broker-loggers/ips/client-metrics/groups).
    #[arg(long)]
    pub entity_type: Vec<String>,
    /// Name of entity (topic name/client id/user principal name/broker id/ip/client metrics/group id).
    #[arg(long)]
    pub entity_name: Vec<String>,
    /// Default entity name for clients/users/brokers/ips (applies to corresponding entity type).
    #[arg(long)]
    pub entity_default: bool,
    /// Key Value pairs of configs to add. Square brackets can be used to group
    /// values which contain commas: 'k1=v1,k2=[v1,v2,v2],k3=v3'.
    #[arg(long, allow_hyphen_values = true)]
    pub add_config: Option<String>,
    /// Path to a properties file with configs to add.
    #[arg(long)]
    pub add_config_file: Option<PathBuf>,
    /// config keys to remove 'k1,k2'.
    #[arg(long, value_delimiter = ',')]
    pub delete_config: Vec<String>,
    /// Suppress console prompts.
    #[arg(long)]
    pub force: bool,
    /// The topic's name.
    #[arg(long)]
    pub topic: Option<String>,
    /// The client's ID.
    #[arg(long)]
    pub client: Option<String>,
    /// The config defaults for all clients.
    #[arg(long)]
    pub client_defaults: bool,
    /// The user's principal name.
    #[arg(long)]
    pub user: Option<String>,
    /// The config defaults for all users.
    #[arg(long)]
    pub user_defaults: bool,
    /// The broker's ID.
    #[arg(long)]
    pub broker: Option<String>,
    /// The config defaults for all brokers.
    #[arg(long)]
    pub broker_defaults: bool,
    /// The broker's ID for its logger config.
    #[arg(long)]
    pub broker_logger: Option<String>,
    /// The config defaults for all IPs.
    #[arg(long)]
    pub ip_defaults: bool,
    /// The IP address.
    #[arg(long)]
    pub ip: Option<String>,
    /// The group's ID.
    #[arg(long)]
    pub group: Option<String>,
    /// The client metrics config resource name.
    #[arg(long)]
    pub client_metrics: Option<String>,
    /// The cluster link's name.
    #[arg(long)]
    pub cluster_link: Option<String>,
}

/// Kinds of entities the tool addresses. Each knows its plural flag name
/// (as `--entity-type` spells it) and how it maps to a config resource;
/// further kinds (such as cluster links) are added here with their own
/// describe/alter handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityType {
    Topics,
    Clients,
    Users,
    Brokers,
    Ips,
    BrokerLoggers,
    ClientMetrics,
    Groups,
    /// Strait's (and Confluent's) cluster links, served by [`crate::link_configs`].
    ClusterLinks,
}

impl EntityType {
    const ALL: [EntityType; 9] = [
        EntityType::Topics,
        EntityType::Clients,
        EntityType::Users,
        EntityType::Brokers,
        EntityType::Ips,
        EntityType::BrokerLoggers,
        EntityType::ClientMetrics,
        EntityType::Groups,
        EntityType::ClusterLinks,
    ];

    /// The `--entity-type` spelling.
    pub fn flag_name(self) -> &'static str {
        match self {
            EntityType::Topics => "topics",
            EntityType::Clients => "clients",
            EntityType::Users => "users",
            EntityType::Brokers => "brokers",
            EntityType::Ips => "ips",
            EntityType::BrokerLoggers => "broker-loggers",
            EntityType::ClientMetrics => "client-metrics",
            EntityType::Groups => "groups",
            EntityType::ClusterLinks => "cluster-links",
        }
    }

    /// The name used in messages ("topic", "broker", ...): the flag name minus its last letter, as Kafka prints it.
    pub fn singular(self) -> &'static str {
        let name = self.flag_name();
        &name[..name.len() - 1]
    }

    pub fn from_flag_name(name: &str) -> Option<EntityType> {
        EntityType::ALL.into_iter().find(|t| t.flag_name() == name)
    }

    /// The config resource type, for entities stored as config resources.
    pub fn resource_type(self) -> Option<ConfigResourceType> {
        match self {
            EntityType::Topics => Some(ConfigResourceType::Topic),
            EntityType::Brokers => Some(ConfigResourceType::Broker),
            EntityType::BrokerLoggers => Some(ConfigResourceType::BrokerLogger),
            EntityType::ClientMetrics => Some(ConfigResourceType::ClientMetrics),
            EntityType::Groups => Some(ConfigResourceType::Group),
            EntityType::Clients
            | EntityType::Users
            | EntityType::Ips
            | EntityType::ClusterLinks => None,
        }
    }

    fn takes_defaults(self) -> bool {
        matches!(
            self,
            EntityType::Users | EntityType::Clients | EntityType::Brokers | EntityType::Ips
        )
    }
}

/// The entity types and names the command line selects, in order; an empty
/// name means "default entity".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntitySelection {
    pub types: Vec<EntityType>,
    pub names: Vec<String>,
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

/// Resolves entity flags and performs ConfigCommand's argument checks.
pub fn check_options(o: &ConfigsOptions) -> Result<EntitySelection, CliError> {
    let actions = [o.alter, o.describe].iter().filter(|a| **a).count();
    if actions != 1 {
        return Err(usage(
            "Command must include exactly one action: --describe, --alter",
        ));
    }
    if o.describe {
        if o.add_config.is_some() {
            return Err(usage(
                "Option \"[describe]\" can't be used with option \"[add-config]\"",
            ));
        }
        if !o.delete_config.is_empty() {
            return Err(usage(
                "Option \"[describe]\" can't be used with option \"[delete-config]\"",
            ));
        }
    }
    let shortcut_names: Vec<(EntityType, Option<&String>)> = vec![
        (EntityType::Topics, o.topic.as_ref()),
        (EntityType::Clients, o.client.as_ref()),
        (EntityType::Users, o.user.as_ref()),
        (EntityType::Brokers, o.broker.as_ref()),
        (EntityType::BrokerLoggers, o.broker_logger.as_ref()),
        (EntityType::Ips, o.ip.as_ref()),
        (EntityType::ClientMetrics, o.client_metrics.as_ref()),
        (EntityType::Groups, o.group.as_ref()),
        (EntityType::ClusterLinks, o.cluster_link.as_ref()),
    ];
    let shortcut_defaults = [
        (EntityType::Clients, o.client_defaults),
        (EntityType::Users, o.user_defaults),
        (EntityType::Brokers, o.broker_defaults),
        (EntityType::Ips, o.ip_defaults),
    ];
    let mut types = Vec::new();
    for raw in &o.entity_type {
        match EntityType::from_flag_name(raw) {
            Some(t) => types.push(t),
            None => {
                let allowed: Vec<&str> = EntityType::ALL.iter().map(|t| t.flag_name()).collect();
                return Err(usage(format!(
                    "Invalid entity type {raw}, the entity type must be one of {} with a --bootstrap-server or --bootstrap-controller argument",
                    allowed.join(", ")
                )));
            }
        }
    }
    let mut names: Vec<String> = o.entity_name.clone();
    if o.entity_default {
        names.push(String::new());
    }
    let uses_shortcuts = shortcut_names.iter().any(|(_, n)| n.is_some())
        || shortcut_defaults.iter().any(|(_, d)| *d);
    for (kind, name) in &shortcut_names {
        if let Some(name) = name {
            types.push(*kind);
            names.push((*name).clone());
        }
    }
    for (kind, present) in shortcut_defaults {
        if present {
            types.push(kind);
            names.push(String::new());
        }
    }
    let mut seen = Vec::new();
    let mut duplicates = Vec::new();
    for t in &types {
        if seen.contains(t) {
            duplicates.push(t.flag_name());
        } else {
            seen.push(*t);
        }
    }
    if !duplicates.is_empty() {
        return Err(usage(format!(
            "Duplicate entity type(s) specified: {}",
            duplicates.join(",")
        )));
    }
    if types.is_empty() {
        return Err(usage("At least one entity type must be specified"));
    }
    if types.len() > 1
        && !(types.len() == 2
            && types.contains(&EntityType::Users)
            && types.contains(&EntityType::Clients))
    {
        return Err(usage(
            "Only 'users' and 'clients' entity types may be specified together",
        ));
    }
    if (!o.entity_name.is_empty() || !o.entity_type.is_empty() || o.entity_default)
        && uses_shortcuts
    {
        return Err(usage(
            "--entity-{type,name,default} should not be used in conjunction with specific entity flags",
        ));
    }
    match (&o.bootstrap_server, &o.bootstrap_controller) {
        (None, None) => {
            return Err(usage(
                "One of the required --bootstrap-server or --bootstrap-controller arguments must be specified",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(usage(
                "Only one of --bootstrap-server and --bootstrap-controller can be specified",
            ));
        }
        (None, Some(_)) => {
            return Err(usage(
                "--bootstrap-controller: Strait brokers have no separate controller listener; use --bootstrap-server",
            ));
        }
        (Some(_), None) => {}
    }
    let has_name = names.iter().any(|n| !n.is_empty());
    let has_default = names.iter().any(String::is_empty);
    let first = types[0];
    if has_name
        && (types.contains(&EntityType::Brokers) || types.contains(&EntityType::BrokerLoggers))
    {
        for name in names.iter().filter(|n| !n.is_empty()) {
            if name.parse::<i32>().is_err() {
                return Err(usage(format!(
                    "The entity name for {} must be a valid integer broker id, but it is: {name}",
                    first.flag_name()
                )));
            }
        }
    }
    if o.describe {
        if !types.iter().any(|t| t.takes_defaults()) && o.entity_default {
            let list: Vec<&str> = types.iter().map(|t| t.flag_name()).collect();
            return Err(usage(format!(
                "--entity-default must not be specified with --describe of {}",
                list.join(",")
            )));
        }
        if types.contains(&EntityType::BrokerLoggers) && !has_name {
            return Err(usage(format!(
                "An entity name must be specified with --describe of {}",
                first.flag_name()
            )));
        }
    }
    if o.alter {
        if types.iter().any(|t| t.takes_defaults()) {
            if !has_name && !has_default {
                return Err(usage(
                    "An entity-name or default entity must be specified with --alter of users, clients, brokers or ips",
                ));
            }
        } else if !has_name {
            let list: Vec<&str> = types.iter().map(|t| t.flag_name()).collect();
            return Err(usage(format!(
                "An entity name must be specified with --alter of {}",
                list.join(",")
            )));
        }
        if o.add_config.is_some() && o.add_config_file.is_some() {
            return Err(usage(
                "Only one of --add-config or --add-config-file must be specified",
            ));
        }
        if o.add_config.is_none() && o.add_config_file.is_none() && o.delete_config.is_empty() {
            return Err(usage(
                "At least one of --add-config, --add-config-file, or --delete-config must be specified with --alter",
            ));
        }
        if types.len() != names.len() {
            return Err(usage(
                "An entity name must be specified for every entity type",
            ));
        }
    }
    Ok(EntitySelection { types, names })
}

/// Entry point used by the `kafka-configs` binary and by tests.
pub fn run(args: Vec<OsString>, console: &mut Console<'_>) -> i32 {
    let shown_args: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let options: ConfigsOptions = match parse_args(args, console) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let result = check_options(&options)
        .and_then(|selection| block_on(execute(&options, &selection, console)));
    match result {
        Ok(()) => 0,
        Err(err) if err.is_broken_pipe() => 0,
        Err(err @ (CliError::Usage(_) | CliError::Command(_) | CliError::Properties(_))) => {
            let _ = writeln!(console.err, "{err}");
            1
        }
        Err(err) => {
            let _ = writeln!(
                console.err,
                "Error while executing config command with args '{}': {err}",
                shown_args.join(" ")
            );
            1
        }
    }
}

async fn execute(
    o: &ConfigsOptions,
    selection: &EntitySelection,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let bootstrap = o.bootstrap_server.as_deref().unwrap_or_default();
    let config = client_config(bootstrap, o.command_config.as_deref(), &[])?;
    let client = client(config)?;
    let kind = selection.types[0];
    if kind == EntityType::ClusterLinks {
        return crate::link_configs::execute(&client, o, selection, console).await;
    }
    if kind == EntityType::Users || selection.types.contains(&EntityType::Users) {
        return if o.alter {
            users::alter(&client, o, selection, console).await
        } else {
            users::describe(&client, selection, console).await
        };
    }
    if kind.resource_type().is_none() {
        return Err(CliError::Command(format!(
            "Entity type '{}' holds client quotas, which Strait brokers do not have",
            kind.flag_name()
        )));
    }
    if o.alter {
        let name = selection.names.first().cloned().unwrap_or_default();
        alter(&client, o, kind, &name, console).await
    } else {
        describe(
            &client,
            kind,
            selection.names.first().cloned(),
            o.all,
            console,
        )
        .await
    }
}

/// Kafka's topic-name rules, with its wording.
pub fn validate_topic_name(name: &str) -> Result<(), CliError> {
    let reason = if name.is_empty() {
        Some("the empty string is not allowed".to_string())
    } else if name == "." {
        Some("'.' is not allowed".to_string())
    } else if name == ".." {
        Some("'..' is not allowed".to_string())
    } else if name.len() > 249 {
        Some(format!(
            "the length of '{name}' is longer than the max allowed length 249"
        ))
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
    {
        Some(format!(
            "'{name}' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"
        ))
    } else {
        None
    };
    match reason {
        Some(reason) => Err(CliError::Command(format!(
            "Topic name is invalid: {reason}"
        ))),
        None => Ok(()),
    }
}

fn resource_for(kind: EntityType, name: &str) -> Result<ConfigResource, CliError> {
    let resource_type = kind
        .resource_type()
        .ok_or_else(|| CliError::Command(format!("Invalid entity type: {}", kind.flag_name())))?;
    if kind == EntityType::Topics && !name.is_empty() {
        validate_topic_name(name)?;
    }
    if matches!(kind, EntityType::Brokers | EntityType::BrokerLoggers)
        && !name.is_empty()
        && name.parse::<i32>().is_err()
    {
        return Err(CliError::Command(format!(
            "The entity name for {} must be a valid integer broker id, found: {name}",
            kind.flag_name()
        )));
    }
    Ok(ConfigResource::new(resource_type, name))
}

/// The config entries of one resource, filtered to its dynamic source unless
/// `describe_all`, sorted by name.
async fn resource_config(
    client: &KafkaClient,
    resource: &ConfigResource,
    include_synonyms: bool,
    describe_all: bool,
) -> Result<Vec<ConfigEntry>, CliError> {
    let results = client
        .describe_configs(std::slice::from_ref(resource), include_synonyms, false)
        .await?;
    let entries = match results.into_iter().next() {
        Some((_, outcome)) => outcome?,
        None => Vec::new(),
    };
    let filter = if describe_all {
        None
    } else {
        resource.dynamic_source()
    };
    let mut entries: Vec<ConfigEntry> = entries
        .into_iter()
        .filter(|e| filter.is_none_or(|source| e.source == source))
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// One `  name=value sensitive=... synonyms={...}` line.
pub fn config_entry_line(entry: &ConfigEntry) -> String {
    let synonyms: Vec<String> = entry
        .synonyms
        .iter()
        .map(|s| {
            format!(
                "{}:{}={}",
                s.source,
                s.name,
                s.value.as_deref().unwrap_or("null")
            )
        })
        .collect();
    format!(
        "  {}={} sensitive={} synonyms={{{}}}",
        entry.name,
        entry.value.as_deref().unwrap_or("null"),
        entry.is_sensitive,
        synonyms.join(", ")
    )
}

/// The header line before an entity's configs.
pub fn describe_header(kind: EntityType, name: &str, describe_all: bool) -> String {
    if name.is_empty() {
        format!(
            "Default configs for {} in the cluster are:",
            kind.flag_name()
        )
    } else {
        let source = if describe_all { "All" } else { "Dynamic" };
        format!("{source} configs for {} {name} are:", kind.singular())
    }
}

async fn describe(
    client: &KafkaClient,
    kind: EntityType,
    name: Option<String>,
    describe_all: bool,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let entities: Vec<String> = match name {
        Some(name) => vec![name],
        None => match kind {
            EntityType::Topics => client
                .list_topics(true)
                .await?
                .into_iter()
                .map(|t| t.name)
                .collect(),
            EntityType::Brokers | EntityType::BrokerLoggers => {
                let cluster = client.describe_cluster().await?;
                let mut ids: Vec<String> =
                    cluster.brokers.iter().map(|b| b.id.to_string()).collect();
                ids.push(String::new());
                ids
            }
            EntityType::Groups => client
                .list_groups(&[], &[])
                .await?
                .into_iter()
                .filter(|g| g.protocol_type == "consumer" || g.protocol_type.is_empty())
                .map(|g| g.group_id)
                .collect(),
            other => {
                return Err(CliError::Command(format!(
                    "Listing every {} entity needs an API Strait brokers do not serve; name one with --entity-name",
                    other.flag_name()
                )));
            }
        },
    };
    for entity in entities {
        writeln!(
            console.out,
            "{}",
            describe_header(kind, &entity, describe_all)
        )?;
        let resource = resource_for(kind, &entity)?;
        for entry in resource_config(client, &resource, true, describe_all).await? {
            writeln!(console.out, "{}", config_entry_line(&entry))?;
        }
    }
    Ok(())
}

/// The `--add-config`/`--add-config-file` values, with Kafka's key check.
pub fn configs_to_add(o: &ConfigsOptions) -> Result<BTreeMap<String, String>, CliError> {
    let mut props = BTreeMap::new();
    if let Some(path) = &o.add_config_file {
        props.extend(load_properties_file(path)?);
    }
    if let Some(text) = &o.add_config {
        props.extend(parse_config_assignments(text)?);
    }
    for key in props.keys() {
        if !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
        {
            return Err(CliError::Command(format!(
                "Invalid character found for config key: {key}"
            )));
        }
    }
    Ok(props)
}

async fn alter(
    client: &KafkaClient,
    o: &ConfigsOptions,
    kind: EntityType,
    name: &str,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let to_add = configs_to_add(o)?;
    let to_delete: Vec<String> = o
        .delete_config
        .iter()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect();
    let resource = resource_for(kind, name)?;
    let current = resource_config(client, &resource, false, false).await?;
    let invalid: Vec<&str> = to_delete
        .iter()
        .filter(|k| !current.iter().any(|e| &e.name == *k))
        .map(String::as_str)
        .collect();
    if !invalid.is_empty() {
        return Err(CliError::Command(format!(
            "Invalid config(s): {}",
            invalid.join(",")
        )));
    }
    let mut changes: Vec<ConfigAlteration> = to_add
        .iter()
        .map(|(k, v)| ConfigAlteration::set(k, v))
        .collect();
    changes.extend(to_delete.iter().map(ConfigAlteration::delete));
    let results = client
        .incremental_alter_configs(&[(resource, changes)], false)
        .await?;
    for (_, outcome) in results {
        outcome?;
    }
    if name.is_empty() {
        writeln!(
            console.out,
            "Completed updating default config for {} in the cluster.",
            kind.flag_name()
        )?;
    } else {
        writeln!(
            console.out,
            "Completed updating config for {} {name}.",
            kind.singular()
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use strait_client::admin::configs::{ConfigSource, ConfigSynonym};

    fn options(args: &[&str]) -> ConfigsOptions {
        let mut full = vec!["kafka-configs"];
        full.extend_from_slice(args);
        match ConfigsOptions::try_parse_from(full) {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn entity_shortcuts_and_checks() {
        let selection = check_options(&options(&[
            "--bootstrap-server",
            "h:1",
            "--describe",
            "--topic",
            "t",
        ]));
        assert_eq!(
            selection.ok(),
            Some(EntitySelection {
                types: vec![EntityType::Topics],
                names: vec!["t".to_string()]
            })
        );
        let selection = check_options(&options(&[
            "--bootstrap-server",
            "h:1",
            "--alter",
            "--broker-defaults",
            "--add-config",
            "a=b",
        ]));
        assert_eq!(selection.ok().map(|s| s.names), Some(vec![String::new()]));
        let err = check_options(&options(&[
            "--bootstrap-server",
            "h:1",
            "--alter",
            "--entity-type",
            "topics",
            "--add-config",
            "a=b",
        ]));
        assert!(
            matches!(err, Err(CliError::Usage(m)) if m == "An entity name must be specified with --alter of topics")
        );
        let err = check_options(&options(&[
            "--bootstrap-server",
            "h:1",
            "--describe",
            "--broker",
            "x",
        ]));
        assert!(
            matches!(err, Err(CliError::Usage(m)) if m.contains("must be a valid integer broker id"))
        );
        let err = check_options(&options(&[
            "--bootstrap-server",
            "h:1",
            "--alter",
            "--topic",
            "t",
        ]));
        assert!(
            matches!(err, Err(CliError::Usage(m)) if m.starts_with("At least one of --add-config"))
        );
        let err = check_options(&options(&["--describe", "--topic", "t"]));
        assert!(matches!(err, Err(CliError::Usage(_))));
        let err = check_options(&options(&[
            "--bootstrap-server",
            "h:1",
            "--describe",
            "--entity-type",
            "tables",
        ]));
        assert!(
            matches!(err, Err(CliError::Usage(m)) if m.starts_with("Invalid entity type tables"))
        );
    }

    #[test]
    fn output_lines_match_config_command() {
        assert_eq!(
            describe_header(EntityType::Topics, "t", false),
            "Dynamic configs for topic t are:"
        );
        assert_eq!(
            describe_header(EntityType::Brokers, "1", true),
            "All configs for broker 1 are:"
        );
        assert_eq!(
            describe_header(EntityType::Brokers, "", false),
            "Default configs for brokers in the cluster are:"
        );
        let entry = ConfigEntry {
            name: "retention.ms".to_string(),
            value: Some("1000".to_string()),
            source: ConfigSource::DynamicTopicConfig,
            is_sensitive: false,
            read_only: false,
            synonyms: vec![
                ConfigSynonym {
                    name: "retention.ms".to_string(),
                    value: Some("1000".to_string()),
                    source: ConfigSource::DynamicTopicConfig,
                },
                ConfigSynonym {
                    name: "log.retention.hours".to_string(),
                    value: Some("168".to_string()),
                    source: ConfigSource::DefaultConfig,
                },
            ],
            config_type: 0,
            documentation: None,
        };
        assert_eq!(
            config_entry_line(&entry),
            "  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000, DEFAULT_CONFIG:log.retention.hours=168}"
        );
    }

    #[test]
    fn add_config_parsing_and_key_check() {
        let o = options(&[
            "--bootstrap-server",
            "h:1",
            "--alter",
            "--topic",
            "t",
            "--add-config",
            "a=1,b=[x,y]",
        ]);
        let added = configs_to_add(&o);
        let Ok(added) = added else { panic!() };
        assert_eq!(added.get("b").map(String::as_str), Some("x,y"));
        let o = options(&[
            "--bootstrap-server",
            "h:1",
            "--alter",
            "--topic",
            "t",
            "--add-config",
            "a b=1",
        ]);
        assert!(configs_to_add(&o).is_err());
        assert!(validate_topic_name("bad name").is_err());
        assert!(validate_topic_name("good.name-1").is_ok());
    }
}
