//! `kafka-topics`: create, list, describe, alter (partition count) and
//! delete topics with Apache Kafka's flags, messages and output layout
//! (TopicCommand). It must never talk to brokers other than through
//! [`strait_client::KafkaClient`].

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;
use regex::Regex;
use strait_client::KafkaClient;
use strait_client::admin::configs::{ConfigEntry, ConfigResource};
use strait_client::admin::topics::{
    NewPartitions, NewTopic, PartitionDescription, TopicDescription,
};
use strait_client::kafka_protocol::ResponseError;

use crate::invocation::{
    CliError, Console, block_on, client, client_config, kafka_uuid, parse_args, parse_kafka_uuid,
};

/// Topics Kafka treats as internal.
pub const INTERNAL_TOPICS: &[&str] = &[
    "__consumer_offsets",
    "__transaction_state",
    "__share_group_state",
];

const ALTER_CONFIG_HINT: &str =
    " (To alter topic configurations, the kafka-configs tool can be used.)";

/// Command-line options of `kafka-topics`, named as Kafka names them.
#[derive(Debug, Parser)]
#[command(
    name = "kafka-topics",
    about = "This tool helps to create, delete, describe, or change a topic.",
    version,
    infer_long_args = true
)]
pub struct TopicsOptions {
    /// REQUIRED: The Kafka server to connect to.
    #[arg(long, value_name = "server to connect to")]
    pub bootstrap_server: Option<String>,
    /// Property file containing configs to be passed to Admin Client.
    #[arg(long, value_name = "command config property file")]
    pub command_config: Option<PathBuf>,
    /// List all available topics.
    #[arg(long)]
    pub list: bool,
    /// Create a new topic.
    #[arg(long)]
    pub create: bool,
    /// Delete a topic.
    #[arg(long)]
    pub delete: bool,
    /// Alter the number of partitions and replica assignment.
    #[arg(long)]
    pub alter: bool,
    /// List details for the given topics.
    #[arg(long)]
    pub describe: bool,
    /// The topic to create, alter, describe or delete. It also accepts a
    /// regular expression, except for --create option.
    #[arg(long, value_name = "topic")]
    pub topic: Option<String>,
    /// The topic-id to describe.
    #[arg(long, value_name = "topic-id")]
    pub topic_id: Option<String>,
    /// A topic configuration override for the topic being created (name=value).
    #[arg(long, value_name = "name=value")]
    pub config: Vec<String>,
    /// This option is no longer supported and has been deprecated since 4.0.
    #[arg(long, value_name = "name")]
    pub delete_config: Vec<String>,
    /// The number of partitions for the topic being created or altered.
    #[arg(long, value_name = "# of partitions", allow_hyphen_values = true)]
    pub partitions: Option<i32>,
    /// The replication factor for each partition in the topic being created.
    #[arg(long, value_name = "replication factor", allow_hyphen_values = true)]
    pub replication_factor: Option<i32>,
    /// A list of manual partition-to-broker assignments (b1:b2,b3:b4,...).
    #[arg(
        long,
        value_name = "broker_id_for_part1_replica1 : broker_id_for_part1_replica2 , ..."
    )]
    pub replica_assignment: Option<String>,
    /// If set when describing topics, only show under-replicated partitions.
    #[arg(long)]
    pub under_replicated_partitions: bool,
    /// If set when describing topics, only show partitions whose leader is not available.
    #[arg(long)]
    pub unavailable_partitions: bool,
    /// If set when describing topics, only show partitions whose isr count is less than the configured minimum.
    #[arg(long)]
    pub under_min_isr_partitions: bool,
    /// If set when describing topics, only show partitions whose isr count is equal to the configured minimum.
    #[arg(long)]
    pub at_min_isr_partitions: bool,
    /// If set when describing topics, only show topics that have overridden configs.
    #[arg(long)]
    pub topics_with_overrides: bool,
    /// If set when altering or deleting or describing topics, the action will only execute if the topic exists.
    #[arg(long)]
    pub if_exists: bool,
    /// If set when creating topics, the action will only execute if the topic does not already exist.
    #[arg(long)]
    pub if_not_exists: bool,
    /// Exclude internal topics when listing or describing topics.
    #[arg(long)]
    pub exclude_internal: bool,
    /// The maximum partition size to be included in one DescribeTopicPartitions response.
    #[arg(long, value_name = "maximum number of partitions per response")]
    pub partition_size_limit_per_response: Option<i32>,
}

/// Entry point used by the `kafka-topics` binary and by tests.
pub fn run(args: Vec<OsString>, console: &mut Console<'_>) -> i32 {
    let options: TopicsOptions = match parse_args(args, console) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let result = check_options(&options).and_then(|()| block_on(execute(&options, console)));
    match result {
        Ok(()) => 0,
        Err(err) if err.is_broken_pipe() => 0,
        Err(CliError::Usage(message)) => {
            let _ = writeln!(console.err, "{message}");
            1
        }
        Err(err) => {
            let _ = writeln!(console.err, "Error while executing topic command : {err}");
            1
        }
    }
}

fn option_name(name: &str) -> String {
    format!("\"[{name}]\"")
}

fn invalid_with(used: &str, others: &[(&str, bool)], suffix: &str) -> Result<(), CliError> {
    for (other, present) in others {
        if *present {
            return Err(CliError::Usage(format!(
                "Option {} can't be used with option {}{suffix}",
                option_name(used),
                option_name(other)
            )));
        }
    }
    Ok(())
}

/// Argument checks in the order Kafka's TopicCommandOptions performs them.
pub fn check_options(o: &TopicsOptions) -> Result<(), CliError> {
    let actions = [o.create, o.list, o.alter, o.describe, o.delete]
        .iter()
        .filter(|a| **a)
        .count();
    if actions != 1 {
        return Err(CliError::Usage(
            "Command must include exactly one action: --list, --describe, --create, --alter or --delete".to_string(),
        ));
    }
    if o.bootstrap_server.is_none() {
        return Err(CliError::Usage(
            "--bootstrap-server must be specified".to_string(),
        ));
    }
    if o.describe && o.if_exists && o.topic.is_none() && o.topic_id.is_none() {
        return Err(CliError::Usage(
            "--topic or --topic-id is required to describe a topic".to_string(),
        ));
    }
    if !o.list && !o.describe && o.topic.is_none() {
        return Err(CliError::Usage(format!(
            "Missing required argument {}",
            option_name("topic")
        )));
    }
    if o.alter {
        if !o.config.is_empty() {
            return Err(CliError::Usage(format!(
                "Option combination {} can't be used with option {}{ALTER_CONFIG_HINT}",
                option_name("alter"),
                option_name("config")
            )));
        }
        if o.partitions.is_none() {
            return Err(CliError::Usage(format!(
                "Missing required argument {}",
                option_name("partitions")
            )));
        }
    }
    let not_create_alter = [
        ("list", o.list),
        ("describe", o.describe),
        ("delete", o.delete),
    ];
    if !o.config.is_empty() {
        invalid_with("config", &not_create_alter, "")?;
    }
    if o.partitions.is_some() {
        invalid_with("partitions", &not_create_alter, "")?;
    }
    if o.replication_factor.is_some() {
        invalid_with(
            "replication-factor",
            &[
                ("alter", o.alter),
                ("list", o.list),
                ("describe", o.describe),
                ("delete", o.delete),
            ],
            "",
        )?;
    }
    if o.replica_assignment.is_some() {
        invalid_with("replica-assignment", &not_create_alter, "")?;
        if o.create {
            invalid_with(
                "replica-assignment",
                &[
                    ("partitions", o.partitions.is_some()),
                    ("replication-factor", o.replication_factor.is_some()),
                ],
                "",
            )?;
        }
    }
    let report_options = [
        ("under-replicated-partitions", o.under_replicated_partitions),
        ("under-min-isr-partitions", o.under_min_isr_partitions),
        ("at-min-isr-partitions", o.at_min_isr_partitions),
        ("unavailable-partitions", o.unavailable_partitions),
    ];
    for (name, present) in report_options {
        if present {
            invalid_with(
                name,
                &[
                    ("alter", o.alter),
                    ("create", o.create),
                    ("list", o.list),
                    ("delete", o.delete),
                    ("topics-with-overrides", o.topics_with_overrides),
                ],
                "",
            )?;
            let others: Vec<(&str, bool)> = report_options
                .iter()
                .filter(|(n, _)| *n != name)
                .copied()
                .collect();
            invalid_with(name, &others, "")?;
        }
    }
    if o.topics_with_overrides {
        invalid_with(
            "topics-with-overrides",
            &[
                ("alter", o.alter),
                ("create", o.create),
                ("list", o.list),
                ("delete", o.delete),
            ],
            "",
        )?;
    }
    if o.if_exists {
        invalid_with("if-exists", &[("create", o.create), ("list", o.list)], "")?;
    }
    if o.if_not_exists {
        invalid_with(
            "if-not-exists",
            &[
                ("alter", o.alter),
                ("list", o.list),
                ("describe", o.describe),
                ("delete", o.delete),
            ],
            "",
        )?;
    }
    if o.exclude_internal {
        invalid_with(
            "exclude-internal",
            &[
                ("alter", o.alter),
                ("create", o.create),
                ("delete", o.delete),
            ],
            "",
        )?;
    }
    Ok(())
}

async fn execute(o: &TopicsOptions, console: &mut Console<'_>) -> Result<(), CliError> {
    if !o.delete_config.is_empty() {
        writeln!(
            console.err,
            "delete-config option is no longer supported and deprecated since version 4.0. The config will be fully removed in future releases."
        )?;
    }
    let bootstrap = o.bootstrap_server.as_deref().unwrap_or_default();
    let config = client_config(bootstrap, o.command_config.as_deref(), &[])?;
    let client = client(config)?;
    if o.create {
        create_topic(&client, o, console).await
    } else if o.alter {
        alter_topic(&client, o).await
    } else if o.list {
        list_topics(&client, o, console).await
    } else if o.describe {
        describe_topics(&client, o, console).await
    } else {
        delete_topic(&client, o).await
    }
}

/// Kafka's `--topic` filter: commas become alternatives, spaces and
/// surrounding quotes are dropped, and the whole name must match.
pub fn topic_filter(raw: &str) -> Result<Regex, CliError> {
    let cleaned: String = raw.trim().replace(',', "|").replace(' ', "");
    let cleaned = cleaned
        .trim_start_matches(['"', '\''])
        .trim_end_matches(['"', '\''])
        .to_string();
    Regex::new(&format!("^(?:{cleaned})$"))
        .map_err(|_| CliError::Command(format!("{cleaned} is an invalid regex.")))
}

/// Sorted topic names matching `--topic` (all when absent), honouring `--exclude-internal`.
async fn matching_topics(
    client: &KafkaClient,
    filter: Option<&str>,
    exclude_internal: bool,
) -> Result<Vec<String>, CliError> {
    let listings = client.list_topics(true).await?;
    let regex = filter.map(topic_filter).transpose()?;
    let mut names: Vec<String> = listings
        .into_iter()
        .filter(|t| {
            !(exclude_internal && (t.is_internal || INTERNAL_TOPICS.contains(&t.name.as_str())))
        })
        .filter(|t| regex.as_ref().is_none_or(|r| r.is_match(&t.name)))
        .map(|t| t.name)
        .collect();
    names.sort();
    Ok(names)
}

fn ensure_topic_exists(
    found: &[String],
    requested: Option<&str>,
    require: bool,
) -> Result<(), CliError> {
    if let Some(topic) = requested
        && !topic.is_empty()
        && require
        && found.is_empty()
    {
        return Err(CliError::Command(format!(
            "Topic '{topic}' does not exist as expected"
        )));
    }
    Ok(())
}

/// Parses `--config` values the way TopicCommand does (`key=val`, split on `=` with surrounding spaces).
pub fn parse_topic_configs(values: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    let mut configs = BTreeMap::new();
    for value in values {
        let mut parts: Vec<&str> = value.split('=').map(str::trim).collect();
        while parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        match parts.as_slice() {
            [key, val] => {
                configs.insert((*key).to_string(), (*val).to_string());
            }
            _ => {
                return Err(CliError::Command(
                    "requirement failed: Invalid topic config: all configs to be added must be in the format \"key=val\"."
                        .to_string(),
                ));
            }
        }
    }
    Ok(configs)
}

/// Parses `--replica-assignment` (`1:2,2:3`): partition index to broker ids.
pub fn parse_replica_assignment(text: &str) -> Result<BTreeMap<i32, Vec<i32>>, CliError> {
    let mut assignment = BTreeMap::new();
    let mut first_len = None;
    for (index, partition) in text.split(',').enumerate() {
        let brokers: Vec<i32> = partition
            .split(':')
            .map(|b| {
                b.trim()
                    .parse::<i32>()
                    .map_err(|_| CliError::Command(format!("For input string: \"{}\"", b.trim())))
            })
            .collect::<Result<_, _>>()?;
        let mut seen = BTreeSet::new();
        let duplicates: Vec<String> = brokers
            .iter()
            .filter(|b| !seen.insert(**b))
            .map(|b| b.to_string())
            .collect();
        if !duplicates.is_empty() {
            return Err(CliError::Command(format!(
                "Partition replica lists may not contain duplicate entries: {}",
                duplicates.join(",")
            )));
        }
        let expected = *first_len.get_or_insert(brokers.len());
        if brokers.len() != expected {
            let list: Vec<String> = brokers.iter().map(i32::to_string).collect();
            return Err(CliError::Command(format!(
                "Partition {index} has different replication factor: [{}]",
                list.join(", ")
            )));
        }
        let index = i32::try_from(index)
            .map_err(|_| CliError::Command("too many partitions".to_string()))?;
        assignment.insert(index, brokers);
    }
    Ok(assignment)
}

async fn create_topic(
    client: &KafkaClient,
    o: &TopicsOptions,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let name = o.topic.clone().unwrap_or_default();
    let configs = parse_topic_configs(&o.config)?;
    let assignments = match &o.replica_assignment {
        Some(text) if !text.is_empty() => parse_replica_assignment(text)?,
        _ => BTreeMap::new(),
    };
    if name.contains('.') && name.contains('_') {
        // Kafka prints this on stdout for any '.' or '_'; here it is printed only when
        // the name mixes both (the case that can actually collide), and on stderr so
        // stdout stays "Created topic NAME." for scripts.
        writeln!(
            console.err,
            "WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both."
        )?;
    }
    if let Some(rf) = o.replication_factor
        && !(1..=i32::from(i16::MAX)).contains(&rf)
    {
        return Err(CliError::Command(format!(
            "The replication factor must be between 1 and {} inclusive",
            i16::MAX
        )));
    }
    if o.partitions.is_some_and(|p| p < 1) {
        return Err(CliError::Command(
            "The partitions must be greater than 0".to_string(),
        ));
    }
    let topic = NewTopic {
        name: name.clone(),
        num_partitions: o.partitions,
        replication_factor: o.replication_factor.and_then(|rf| i16::try_from(rf).ok()),
        assignments,
        configs,
    };
    let results = client
        .create_topics(std::slice::from_ref(&topic), false)
        .await?;
    match results.into_iter().next() {
        Some((_, Ok(_))) | None => {
            writeln!(console.out, "Created topic {name}.")?;
            Ok(())
        }
        Some((_, Err(err))) => {
            if o.if_not_exists && err.server_error() == Some(ResponseError::TopicAlreadyExists) {
                Ok(())
            } else {
                Err(err.into())
            }
        }
    }
}

async fn list_topics(
    client: &KafkaClient,
    o: &TopicsOptions,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let names = matching_topics(client, o.topic.as_deref(), o.exclude_internal).await?;
    // One line per topic; nothing at all when there is none, as Kafka's tool.
    for name in names {
        writeln!(console.out, "{name}")?;
    }
    Ok(())
}

async fn alter_topic(client: &KafkaClient, o: &TopicsOptions) -> Result<(), CliError> {
    let topics = matching_topics(client, o.topic.as_deref(), o.exclude_internal).await?;
    ensure_topic_exists(&topics, o.topic.as_deref(), !o.if_exists)?;
    if topics.is_empty() {
        return Ok(());
    }
    let total = o.partitions.unwrap_or_default();
    let assignment = match &o.replica_assignment {
        Some(text) if !text.is_empty() => Some(parse_replica_assignment(text)?),
        _ => None,
    };
    let descriptions = match assignment {
        Some(_) => client.describe_topics(&topics).await?,
        None => BTreeMap::new(),
    };
    let mut increases = Vec::new();
    for topic in &topics {
        let new_assignments = match (&assignment, descriptions.get(topic)) {
            (Some(map), Some(Ok(description))) => {
                let existing = description.partitions.len();
                Some(map.values().skip(existing).cloned().collect())
            }
            (Some(_), Some(Err(err))) => return Err(CliError::Command(err.to_string())),
            _ => None,
        };
        increases.push(NewPartitions {
            topic: topic.clone(),
            total_count: total,
            assignments: new_assignments,
        });
    }
    let results = client.create_partitions(&increases, false).await?;
    for (_, outcome) in results {
        outcome?;
    }
    Ok(())
}

async fn delete_topic(client: &KafkaClient, o: &TopicsOptions) -> Result<(), CliError> {
    let topics = matching_topics(client, o.topic.as_deref(), o.exclude_internal).await?;
    ensure_topic_exists(&topics, o.topic.as_deref(), !o.if_exists)?;
    if topics.is_empty() {
        return Ok(());
    }
    let results = client.delete_topics(&topics).await?;
    for (_, outcome) in results {
        outcome?;
    }
    Ok(())
}

/// Which parts of `--describe` output to show, from the report flags.
#[derive(Debug, Clone, Copy)]
pub struct DescribeFilter {
    pub under_replicated: bool,
    pub unavailable: bool,
    pub under_min_isr: bool,
    pub at_min_isr: bool,
    pub with_overrides_only: bool,
}

impl DescribeFilter {
    fn from_options(o: &TopicsOptions) -> Self {
        DescribeFilter {
            under_replicated: o.under_replicated_partitions,
            unavailable: o.unavailable_partitions,
            under_min_isr: o.under_min_isr_partitions,
            at_min_isr: o.at_min_isr_partitions,
            with_overrides_only: o.topics_with_overrides,
        }
    }

    fn describe_configs(&self) -> bool {
        !(self.under_replicated || self.unavailable || self.under_min_isr || self.at_min_isr)
    }

    fn describe_partitions(&self) -> bool {
        !self.with_overrides_only
    }
}

fn join_ids(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// The `Topic: ...` summary line, or `None` when the filter hides it.
pub fn topic_summary_line(
    description: &TopicDescription,
    configs: &[ConfigEntry],
    filter: &DescribeFilter,
) -> Option<String> {
    if !filter.describe_configs() {
        return None;
    }
    let overrides: Vec<String> = configs
        .iter()
        .filter(|c| !c.is_default())
        .map(|c| format!("{}={}", c.name, c.value.as_deref().unwrap_or("null")))
        .collect();
    if filter.with_overrides_only && overrides.is_empty() {
        return None;
    }
    let mut line = format!("Topic: {}", description.name);
    if !description.topic_id.is_nil() {
        line.push_str(&format!("\tTopicId: {}", kafka_uuid(&description.topic_id)));
    }
    let replication_factor = description
        .partitions
        .first()
        .map(|p| p.replicas.len())
        .unwrap_or(0);
    line.push_str(&format!(
        "\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}",
        description.partitions.len(),
        replication_factor,
        overrides.join(",")
    ));
    Some(line)
}

/// The per-partition line (tab-indented), or `None` when the filter hides it.
pub fn partition_line(
    topic: &str,
    partition: &PartitionDescription,
    min_isr: usize,
    live_brokers: &BTreeSet<i32>,
    filter: &DescribeFilter,
) -> Option<String> {
    if !filter.describe_partitions() {
        return None;
    }
    let under_replicated = partition.replicas.len() > partition.isr.len();
    let unavailable = partition.leader.is_none_or(|l| !live_brokers.contains(&l));
    let under_min_isr = partition.leader.is_none() || partition.isr.len() < min_isr;
    let at_min_isr = partition.isr.len() == min_isr;
    let show = filter.describe_configs()
        || (filter.under_replicated && under_replicated)
        || (filter.unavailable && unavailable)
        || (filter.under_min_isr && under_min_isr)
        || (filter.at_min_isr && at_min_isr);
    if !show {
        return None;
    }
    let leader = partition
        .leader
        .map(|l| l.to_string())
        .unwrap_or_else(|| "none".to_string());
    let elr = partition
        .eligible_leader_replicas
        .as_deref()
        .map(join_ids)
        .unwrap_or_else(|| "N/A".to_string());
    let last_known_elr = partition
        .last_known_elr
        .as_deref()
        .map(join_ids)
        .unwrap_or_else(|| "N/A".to_string());
    Some(format!(
        "\tTopic: {topic}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}\tElr: {elr}\tLastKnownElr: {last_known_elr}",
        partition.partition,
        join_ids(&partition.replicas),
        join_ids(&partition.isr),
    ))
}

async fn describe_topics(
    client: &KafkaClient,
    o: &TopicsOptions,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let requested_id = o.topic_id.as_deref().map(|text| {
        parse_kafka_uuid(text).ok_or_else(|| CliError::Command(format!("Invalid topic id: {text}")))
    });
    let requested_id = requested_id.transpose()?.filter(|id| !id.is_nil());
    let topics: Vec<String> = match requested_id {
        Some(id) => {
            let listings = client.list_topics(!o.exclude_internal).await?;
            let found: Vec<String> = listings
                .into_iter()
                .filter(|t| t.topic_id == id)
                .map(|t| t.name)
                .collect();
            if found.is_empty() && !o.if_exists {
                return Err(CliError::Command(format!(
                    "TopicId '{}' does not exist as expected",
                    kafka_uuid(&id)
                )));
            }
            found
        }
        None => {
            let found = matching_topics(client, o.topic.as_deref(), o.exclude_internal).await?;
            ensure_topic_exists(&found, o.topic.as_deref(), !o.if_exists)?;
            found
        }
    };
    if topics.is_empty() {
        return Ok(());
    }
    let descriptions = client.describe_topics(&topics).await?;
    let resources: Vec<ConfigResource> = topics.iter().map(ConfigResource::topic).collect();
    let configs = client.describe_configs(&resources, false, false).await?;
    let cluster = client.describe_cluster().await?;
    let live_brokers: BTreeSet<i32> = cluster.brokers.iter().map(|b| b.id).collect();
    let filter = DescribeFilter::from_options(o);
    for topic in &topics {
        let description = match descriptions.get(topic) {
            Some(Ok(description)) => description,
            Some(Err(err)) => return Err(CliError::Command(err.to_string())),
            None => continue,
        };
        let entries: &[ConfigEntry] = match configs.get(&ConfigResource::topic(topic)) {
            Some(Ok(entries)) => entries,
            Some(Err(err)) => return Err(CliError::Command(err.to_string())),
            None => &[],
        };
        let min_isr = entries
            .iter()
            .find(|e| e.name == "min.insync.replicas")
            .and_then(|e| e.value.as_deref())
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(1);
        if let Some(line) = topic_summary_line(description, entries, &filter) {
            writeln!(console.out, "{line}")?;
        }
        for partition in &description.partitions {
            if let Some(line) = partition_line(topic, partition, min_isr, &live_brokers, &filter) {
                writeln!(console.out, "{line}")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use strait_client::admin::configs::ConfigSource;

    fn options(args: &[&str]) -> TopicsOptions {
        let mut full = vec!["kafka-topics"];
        full.extend_from_slice(args);
        match TopicsOptions::try_parse_from(full) {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn exactly_one_action_and_bootstrap_required() {
        let err = check_options(&options(&["--bootstrap-server", "x:1"]));
        assert!(
            matches!(err, Err(CliError::Usage(m)) if m.starts_with("Command must include exactly one action"))
        );
        let err = check_options(&options(&["--list"]));
        assert!(
            matches!(err, Err(CliError::Usage(m)) if m == "--bootstrap-server must be specified")
        );
        let err = check_options(&options(&["--create", "--bootstrap-server", "x:1"]));
        assert!(
            matches!(err, Err(CliError::Usage(m)) if m == "Missing required argument \"[topic]\"")
        );
        let err = check_options(&options(&[
            "--list",
            "--bootstrap-server",
            "x:1",
            "--partitions",
            "3",
        ]));
        assert!(
            matches!(err, Err(CliError::Usage(m)) if m == "Option \"[partitions]\" can't be used with option \"[list]\"")
        );
        assert!(
            check_options(&options(&[
                "--create",
                "--bootstrap",
                "x:1",
                "--topic",
                "t",
                "--partitions",
                "3"
            ]))
            .is_ok()
        );
    }

    #[test]
    fn topic_filter_matches_whole_names() {
        let Ok(filter) = topic_filter("\"orders.*, payments\"") else {
            panic!()
        };
        assert!(filter.is_match("orders-eu"));
        assert!(filter.is_match("payments"));
        assert!(!filter.is_match("old-payments"));
        assert!(topic_filter("(").is_err());
    }

    #[test]
    fn topic_config_and_assignment_parsing() {
        let parsed = parse_topic_configs(&[
            "retention.ms = 1000".to_string(),
            "cleanup.policy=compact".to_string(),
        ]);
        let Ok(parsed) = parsed else { panic!() };
        assert_eq!(parsed.get("retention.ms").map(String::as_str), Some("1000"));
        assert!(parse_topic_configs(&["novalue".to_string()]).is_err());
        assert!(parse_topic_configs(&["a=".to_string()]).is_err());
        let assignment = parse_replica_assignment("1:2, 2:3");
        let Ok(assignment) = assignment else { panic!() };
        assert_eq!(assignment.get(&1), Some(&vec![2, 3]));
        assert!(parse_replica_assignment("1:1").is_err());
        assert!(parse_replica_assignment("1:2,3").is_err());
    }

    #[test]
    fn describe_lines_follow_kafka_layout() {
        let description = TopicDescription {
            name: "orders".to_string(),
            topic_id: uuid::Uuid::from_bytes([
                0xbd, 0x1b, 0x6a, 0x16, 0xfa, 0xa6, 0x47, 0x34, 0x8b, 0x92, 0xb8, 0xf3, 0x8f, 0xcc,
                0x99, 0x56,
            ]),
            is_internal: false,
            partitions: vec![PartitionDescription {
                partition: 0,
                leader: Some(1),
                leader_epoch: 0,
                replicas: vec![1, 2],
                isr: vec![1],
                offline_replicas: vec![],
                eligible_leader_replicas: None,
                last_known_elr: Some(vec![]),
            }],
        };
        let configs = vec![
            ConfigEntry {
                name: "retention.ms".to_string(),
                value: Some("1000".to_string()),
                source: ConfigSource::DynamicTopicConfig,
                is_sensitive: false,
                read_only: false,
                synonyms: vec![],
                config_type: 0,
                documentation: None,
            },
            ConfigEntry {
                name: "segment.bytes".to_string(),
                value: Some("1".to_string()),
                source: ConfigSource::DefaultConfig,
                is_sensitive: false,
                read_only: false,
                synonyms: vec![],
                config_type: 0,
                documentation: None,
            },
        ];
        let all = DescribeFilter {
            under_replicated: false,
            unavailable: false,
            under_min_isr: false,
            at_min_isr: false,
            with_overrides_only: false,
        };
        assert_eq!(
            topic_summary_line(&description, &configs, &all).as_deref(),
            Some(
                "Topic: orders\tTopicId: vRtqFvqmRzSLkrjzj8yZVg\tPartitionCount: 1\tReplicationFactor: 2\tConfigs: retention.ms=1000"
            )
        );
        let live: BTreeSet<i32> = [1, 2].into_iter().collect();
        assert_eq!(
            partition_line("orders", &description.partitions[0], 1, &live, &all).as_deref(),
            Some(
                "\tTopic: orders\tPartition: 0\tLeader: 1\tReplicas: 1,2\tIsr: 1\tElr: N/A\tLastKnownElr: "
            )
        );
        let under = DescribeFilter {
            under_replicated: true,
            ..all
        };
        assert!(topic_summary_line(&description, &configs, &under).is_none());
        assert!(partition_line("orders", &description.partitions[0], 1, &live, &under).is_some());
        let overrides = DescribeFilter {
            with_overrides_only: true,
            ..all
        };
        assert!(
            partition_line("orders", &description.partitions[0], 1, &live, &overrides).is_none()
        );
    }
}
