//! `kafka-consumer-groups`: list, describe (offsets, members, state), delete
//! groups, reset offsets and delete offsets, with Kafka's
//! ConsumerGroupCommand flags, messages and column layouts. It must never
//! join a group; offsets are changed only through admin-style commits.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;
use strait_client::admin::groups::{CommittedOffset, GroupDescription};
use strait_client::admin::offsets::{IsolationLevel, OffsetSpec};
use strait_client::kafka_protocol::ResponseError;
use strait_client::{ClientError, KafkaClient, TopicPartition};

use crate::invocation::{CliError, Console, block_on, client, client_config, parse_args};

/// The placeholder Kafka prints for missing values.
pub const MISSING_COLUMN_VALUE: &str = "-";

/// Command-line options of `kafka-consumer-groups`, named as Kafka names them.
#[derive(Debug, Parser)]
#[command(
    name = "kafka-consumer-groups",
    about = "This tool helps to list all consumer groups, describe a consumer group, delete consumer group info, or reset consumer group offsets.",
    version,
    infer_long_args = true
)]
pub struct ConsumerGroupsOptions {
    /// REQUIRED: The server(s) to connect to.
    #[arg(long, value_name = "server to connect to")]
    pub bootstrap_server: Option<String>,
    /// The consumer group we wish to act on.
    #[arg(long, value_name = "consumer group")]
    pub group: Vec<String>,
    /// The topic whose consumer group information should be deleted or
    /// included in the reset offset process (`topic1:0,1,2` selects partitions).
    #[arg(long, value_name = "topic")]
    pub topic: Vec<String>,
    /// Consider all topics assigned to a group in the `reset-offsets` process.
    #[arg(long)]
    pub all_topics: bool,
    /// List all consumer groups.
    #[arg(long)]
    pub list: bool,
    /// Describe consumer group and list offset lag related to given group.
    #[arg(long)]
    pub describe: bool,
    /// Apply to all consumer groups.
    #[arg(long)]
    pub all_groups: bool,
    /// Pass in groups to delete topic partition offsets and ownership information over the entire consumer group.
    #[arg(long)]
    pub delete: bool,
    /// The timeout that can be set for some use cases (ms).
    #[arg(long, value_name = "timeout (ms)", default_value_t = 5000)]
    pub timeout: u64,
    /// Property file containing configs to be passed to Admin Client and Consumer.
    #[arg(long, value_name = "command config property file")]
    pub command_config: Option<PathBuf>,
    /// Reset offsets of consumer group.
    #[arg(long)]
    pub reset_offsets: bool,
    /// Delete offsets of consumer group.
    #[arg(long)]
    pub delete_offsets: bool,
    /// Only show results without executing changes on Consumer Groups.
    #[arg(long)]
    pub dry_run: bool,
    /// Execute operation.
    #[arg(long)]
    pub execute: bool,
    /// Export operation execution to a CSV file.
    #[arg(long)]
    pub export: bool,
    /// Reset offsets to a specific offset.
    #[arg(long, value_name = "offset", allow_hyphen_values = true)]
    pub to_offset: Option<i64>,
    /// Reset offsets to values defined in CSV file.
    #[arg(long, value_name = "path to CSV file")]
    pub from_file: Option<PathBuf>,
    /// Reset offsets to offset from datetime. Format: 'YYYY-MM-DDTHH:mm:SS.sss'
    #[arg(long, value_name = "datetime")]
    pub to_datetime: Option<String>,
    /// Reset offsets to offset by duration from current timestamp. Format: 'PnDTnHnMnS'
    #[arg(long, value_name = "duration")]
    pub by_duration: Option<String>,
    /// Reset offsets to earliest offset.
    #[arg(long)]
    pub to_earliest: bool,
    /// Reset offsets to latest offset.
    #[arg(long)]
    pub to_latest: bool,
    /// Reset offsets to current offset.
    #[arg(long)]
    pub to_current: bool,
    /// Reset offsets shifting current offset by 'n', where 'n' can be positive or negative.
    #[arg(long, value_name = "number-of-offsets", allow_hyphen_values = true)]
    pub shift_by: Option<i64>,
    /// Describe members of the group.
    #[arg(long)]
    pub members: bool,
    /// Provide additional information, if any, when describing the group.
    #[arg(long)]
    pub verbose: bool,
    /// Describe the group and list all topic partitions in the group along with their offset lag.
    #[arg(long)]
    pub offsets: bool,
    /// With --describe: include the state of the group. With --list: show (or filter by) states.
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    pub state: Option<String>,
    /// With --list: show (or filter by) group types.
    #[arg(long = "type", num_args = 0..=1, default_missing_value = "")]
    pub group_type: Option<String>,
}

/// Group states as Kafka names them (ConsumerGroupState, without UNKNOWN).
pub const GROUP_STATES: &[&str] = &[
    "PreparingRebalance",
    "CompletingRebalance",
    "Stable",
    "Dead",
    "Empty",
    "Assigning",
    "Reconciling",
];

/// Group types as Kafka names them (GroupType, without UNKNOWN).
pub const GROUP_TYPES: &[&str] = &["Consumer", "Classic", "Share", "Streams"];

fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

fn scenario_flags(o: &ConsumerGroupsOptions) -> Vec<(&'static str, bool)> {
    vec![
        ("to-offset", o.to_offset.is_some()),
        ("shift-by", o.shift_by.is_some()),
        ("to-datetime", o.to_datetime.is_some()),
        ("by-duration", o.by_duration.is_some()),
        ("to-earliest", o.to_earliest),
        ("to-latest", o.to_latest),
        ("to-current", o.to_current),
        ("from-file", o.from_file.is_some()),
    ]
}

/// ConsumerGroupCommandOptions' checks.
pub fn check_options(o: &ConsumerGroupsOptions) -> Result<(), CliError> {
    let actions = [
        o.list,
        o.describe,
        o.delete,
        o.reset_offsets,
        o.delete_offsets,
    ]
    .iter()
    .filter(|a| **a)
    .count();
    if actions != 1 {
        return Err(usage(
            "Command must include exactly one action: --list, --describe, --delete, --reset-offsets, --delete-offsets",
        ));
    }
    if o.bootstrap_server.is_none() {
        return Err(usage("Missing required argument \"[bootstrap-server]\""));
    }
    let has_group = !o.group.is_empty();
    if (o.members || o.verbose || o.offsets) && !o.describe {
        let flag = if o.members {
            "members"
        } else if o.offsets {
            "offsets"
        } else {
            "verbose"
        };
        return Err(usage(format!(
            "Option [{flag}] can only be used with option [describe]"
        )));
    }
    if o.state.is_some() && !o.describe && !o.list {
        return Err(usage(
            "Option [state] can only be used with options [describe], [list]",
        ));
    }
    if o.group_type.is_some() && !o.list {
        return Err(usage("Option [type] can only be used with option [list]"));
    }
    if o.describe {
        if !has_group && !o.all_groups {
            return Err(usage(
                "Option [describe] takes one of these options: [all-groups], [group]",
            ));
        }
        let sub_actions = [o.members, o.offsets, o.state.is_some()]
            .iter()
            .filter(|a| **a)
            .count();
        if sub_actions > 1 {
            return Err(usage(
                "Option [describe] takes at most one of these options: [members], [offsets], [state]",
            ));
        }
        if o.state.as_deref().is_some_and(|s| !s.is_empty()) {
            return Err(usage("Option [describe] does not take a value for [state]"));
        }
    }
    if o.delete {
        if !has_group && !o.all_groups {
            return Err(usage(
                "Option [delete] takes one of these options: [all-groups], [group]",
            ));
        }
        if !o.topic.is_empty() {
            return Err(usage(
                "The consumer does not support topic-specific offset deletion from a consumer group.",
            ));
        }
    }
    if o.delete_offsets && (!has_group || o.topic.is_empty()) {
        return Err(usage(
            "Option [delete-offsets] takes the following options: [group], [topic]",
        ));
    }
    if o.reset_offsets {
        if o.dry_run && o.execute {
            return Err(usage(
                "Option [reset-offsets] only accepts one of [execute] and [dry-run]",
            ));
        }
        if !has_group && !o.all_groups {
            return Err(usage(
                "Option [reset-offsets] takes one of these options: [all-groups], [group]",
            ));
        }
        let scenarios: Vec<&str> = scenario_flags(o)
            .into_iter()
            .filter(|(_, p)| *p)
            .map(|(n, _)| n)
            .collect();
        if scenarios.len() > 1 {
            return Err(usage(format!(
                "Option \"[{}]\" can't be used with option \"[{}]\"",
                scenarios[0], scenarios[1]
            )));
        }
        if scenarios.is_empty() {
            return Err(usage(
                "Option '[reset-offsets]' requires one of the following scenarios: [to-offset], [shift-by], [to-datetime], [by-duration], [to-earliest], [to-latest], [to-current], [from-file]",
            ));
        }
        if !o.all_topics && o.topic.is_empty() && o.from_file.is_none() {
            return Err(usage(
                "One of the reset scopes should be defined: --all-topics, --topic.",
            ));
        }
    }
    if has_group && o.all_groups {
        return Err(usage(
            "Option \"[group]\" can't be used with option \"[all-groups]\"",
        ));
    }
    if has_group && o.list {
        return Err(usage(
            "Option \"[group]\" can't be used with option \"[list]\"",
        ));
    }
    if !o.topic.is_empty() && (o.list || o.describe) {
        let other = if o.list { "list" } else { "describe" };
        return Err(usage(format!(
            "Option \"[topic]\" can't be used with option \"[{other}]\""
        )));
    }
    Ok(())
}

/// Entry point used by the `kafka-consumer-groups` binary and by tests.
pub fn run(args: Vec<OsString>, console: &mut Console<'_>) -> i32 {
    let options: ConsumerGroupsOptions = match parse_args(args, console) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let result = check_options(&options).and_then(|()| block_on(execute(&options, console)));
    match result {
        Ok(Outcome::Clean) => 0,
        Ok(Outcome::ReportedErrors) => 1,
        Err(err) if err.is_broken_pipe() => 0,
        Err(err @ CliError::Usage(_)) => {
            let _ = writeln!(console.err, "{err}");
            1
        }
        Err(err) => {
            let _ = writeln!(
                console.err,
                "Error: Executing consumer group command failed due to {err}"
            );
            1
        }
    }
}

/// Whether a run printed per-group errors (which makes the exit code non-zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Clean,
    ReportedErrors,
}

struct Report<'c, 'a> {
    console: &'c mut Console<'a>,
    errors: bool,
}

impl Report<'_, '_> {
    fn error(&mut self, message: &str) -> Result<(), CliError> {
        self.errors = true;
        writeln!(self.console.err, "Error: {message}")?;
        Ok(())
    }

    fn outcome(&self) -> Outcome {
        if self.errors {
            Outcome::ReportedErrors
        } else {
            Outcome::Clean
        }
    }
}

async fn execute(
    o: &ConsumerGroupsOptions,
    console: &mut Console<'_>,
) -> Result<Outcome, CliError> {
    let bootstrap = o.bootstrap_server.as_deref().unwrap_or_default();
    if o.reset_offsets && !o.dry_run && !o.execute {
        writeln!(
            console.err,
            "WARN: No action will be performed as the --execute option is missing.In a future major release, the default behavior of this command will be to prompt the user before executing the reset rather than doing a dry run. You should add the --dry-run option explicitly if you are scripting this command and want to keep the current default behavior without prompting."
        )?;
    }
    let config = client_config(
        bootstrap,
        o.command_config.as_deref(),
        &[("default.api.timeout.ms", o.timeout.to_string())],
    )?;
    let client = client(config)?;
    let mut report = Report {
        console,
        errors: false,
    };
    if o.list {
        list_groups(&client, o, &mut report).await?;
    } else if o.describe {
        describe_groups(&client, o, &mut report).await?;
    } else if o.delete {
        delete_groups(&client, o, &mut report).await?;
    } else if o.reset_offsets {
        reset_offsets(&client, o, &mut report).await?;
    } else {
        delete_offsets(&client, o, &mut report).await?;
    }
    Ok(report.outcome())
}

/// Group ids of consumer groups (protocol type `consumer` or empty), sorted.
async fn consumer_group_ids(client: &KafkaClient) -> Result<Vec<String>, CliError> {
    let listings = client.list_groups(&[], &[]).await?;
    Ok(listings
        .into_iter()
        .filter(|g| g.protocol_type == "consumer" || g.protocol_type.is_empty())
        .map(|g| g.group_id)
        .collect())
}

fn parse_filter(input: &str, valid: &[&str], what: &str) -> Result<Vec<String>, CliError> {
    let mut parsed = Vec::new();
    for part in input.split(',') {
        let part = part.trim();
        match valid.iter().find(|v| v.eq_ignore_ascii_case(part)) {
            Some(v) => parsed.push((*v).to_string()),
            None => {
                return Err(usage(format!(
                    "Invalid {what} list '{input}'. Valid {what}s are: {}",
                    valid.join(", ")
                )));
            }
        }
    }
    Ok(parsed)
}

fn pad(value: &str, width: usize) -> String {
    format!("{value:<width$}")
}

async fn list_groups(
    client: &KafkaClient,
    o: &ConsumerGroupsOptions,
    report: &mut Report<'_, '_>,
) -> Result<(), CliError> {
    let include_state = o.state.is_some();
    let include_type = o.group_type.is_some();
    if !include_state && !include_type {
        for group in consumer_group_ids(client).await? {
            writeln!(report.console.out, "{group}")?;
        }
        return Ok(());
    }
    let states = match o.state.as_deref() {
        Some(s) if !s.is_empty() => parse_filter(s, GROUP_STATES, "state")?,
        _ => Vec::new(),
    };
    let types = match o.group_type.as_deref() {
        Some(t) if !t.is_empty() => parse_filter(&t.to_lowercase(), GROUP_TYPES, "type")?,
        _ => Vec::new(),
    };
    let wire_types: Vec<String> = types.iter().map(|t| t.to_lowercase()).collect();
    let listings: Vec<_> = client
        .list_groups(&states, &wire_types)
        .await?
        .into_iter()
        .filter(|g| g.protocol_type == "consumer" || g.protocol_type.is_empty())
        .filter(|g| {
            states.is_empty()
                || g.state
                    .as_deref()
                    .is_none_or(|s| states.iter().any(|w| w.eq_ignore_ascii_case(s)))
        })
        .filter(|g| {
            types.is_empty()
                || g.group_type
                    .as_deref()
                    .is_none_or(|t| types.iter().any(|w| w.eq_ignore_ascii_case(t)))
        })
        .collect();
    let width = listings
        .iter()
        .map(|g| g.group_id.len().max(15))
        .max()
        .unwrap_or(15)
        + 10;
    let mut header = pad("GROUP", width);
    if include_type {
        header.push_str(&format!(" {}", pad("TYPE", 20)));
    }
    if include_state {
        header.push_str(&format!(" {}", pad("STATE", 20)));
    }
    writeln!(report.console.out, "{header}")?;
    for group in listings {
        let mut line = pad(&group.group_id, width);
        if include_type {
            let name = group
                .group_type
                .as_deref()
                .and_then(|t| {
                    GROUP_TYPES
                        .iter()
                        .find(|v| v.eq_ignore_ascii_case(t))
                        .copied()
                })
                .unwrap_or("Unknown");
            line.push_str(&format!(" {}", pad(name, 20)));
        }
        if include_state {
            let name = group
                .state
                .as_deref()
                .and_then(|s| {
                    GROUP_STATES
                        .iter()
                        .find(|v| v.eq_ignore_ascii_case(s))
                        .copied()
                })
                .unwrap_or("Unknown");
            line.push_str(&format!(" {}", pad(name, 20)));
        }
        writeln!(report.console.out, "{line}")?;
    }
    Ok(())
}

/// One row of the offsets view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionAssignmentRow {
    pub group: String,
    pub topic: Option<String>,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    pub log_end_offset: Option<i64>,
    pub lag: Option<i64>,
    pub consumer_id: Option<String>,
    pub host: Option<String>,
    pub client_id: Option<String>,
}

fn show<T: ToString>(value: &Option<T>) -> String {
    value
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_else(|| MISSING_COLUMN_VALUE.to_string())
}

/// The offsets table exactly as Kafka lays it out (leading newline per line, final newline).
pub fn format_offsets_table(rows: &[PartitionAssignmentRow]) -> String {
    let group_width = rows.iter().map(|r| r.group.len()).fold(15, usize::max);
    let topic_width = rows
        .iter()
        .map(|r| show(&r.topic).len())
        .fold(15, usize::max);
    let consumer_width = rows
        .iter()
        .map(|r| show(&r.consumer_id).len())
        .fold(15, usize::max);
    let host_width = rows
        .iter()
        .map(|r| show(&r.host).len())
        .fold(15, usize::max);
    let line = |cells: [&str; 9]| {
        format!(
            "\n{} {} {} {} {} {} {} {} {}",
            pad(cells[0], group_width),
            pad(cells[1], topic_width),
            pad(cells[2], 10),
            pad(cells[3], 15),
            pad(cells[4], 15),
            pad(cells[5], 15),
            pad(cells[6], consumer_width),
            pad(cells[7], host_width),
            cells[8]
        )
    };
    let mut text = line([
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]);
    for r in rows {
        text.push_str(&line([
            &r.group,
            &show(&r.topic),
            &show(&r.partition),
            &show(&r.offset),
            &show(&r.log_end_offset),
            &show(&r.lag),
            &show(&r.consumer_id),
            &show(&r.host),
            &show(&r.client_id),
        ]));
    }
    text.push('\n');
    text
}

/// Prints the state notice Kafka prints before group details; returns
/// whether details should follow.
fn print_state_notice(
    report: &mut Report<'_, '_>,
    group: &str,
    state: &str,
    rows: usize,
) -> Result<bool, CliError> {
    match state {
        "Dead" => {
            report.error(&format!("Consumer group '{group}' does not exist."))?;
            return Ok(false);
        }
        "Empty" => writeln!(
            report.console.out,
            "\nConsumer group '{group}' has no active members."
        )?,
        "PreparingRebalance" | "CompletingRebalance" | "Assigning" | "Reconciling" => writeln!(
            report.console.out,
            "\nWarning: Consumer group '{group}' is rebalancing."
        )?,
        "Stable" => {}
        other => {
            return Err(CliError::Command(format!(
                "Expected a valid consumer group state, but found '{other}'."
            )));
        }
    }
    Ok(rows > 0)
}

async fn describe_targets(
    client: &KafkaClient,
    o: &ConsumerGroupsOptions,
) -> Result<Vec<String>, CliError> {
    if o.all_groups {
        consumer_group_ids(client).await
    } else {
        Ok(o.group.clone())
    }
}

async fn log_end_offsets(
    client: &KafkaClient,
    partitions: &[TopicPartition],
) -> Result<BTreeMap<TopicPartition, i64>, CliError> {
    offsets_for(client, partitions, OffsetSpec::Latest).await
}

async fn offsets_for(
    client: &KafkaClient,
    partitions: &[TopicPartition],
    spec: OffsetSpec,
) -> Result<BTreeMap<TopicPartition, i64>, CliError> {
    if partitions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let requests: Vec<(TopicPartition, OffsetSpec)> =
        partitions.iter().map(|tp| (tp.clone(), spec)).collect();
    let results = client
        .list_offsets(&requests, IsolationLevel::ReadUncommitted)
        .await?;
    Ok(results
        .into_iter()
        .filter_map(|(tp, outcome)| outcome.ok().map(|o| (tp, o.offset)))
        .collect())
}

async fn offset_rows(
    client: &KafkaClient,
    description: &GroupDescription,
    committed: &BTreeMap<TopicPartition, CommittedOffset>,
) -> Result<Vec<PartitionAssignmentRow>, CliError> {
    let group = &description.group_id;
    let mut members: Vec<_> = description
        .members
        .iter()
        .filter(|m| !m.assignment.is_empty())
        .collect();
    members.sort_by_key(|m| std::cmp::Reverse(m.assignment.len()));
    let mut assigned = BTreeSet::new();
    let mut rows = Vec::new();
    let mut all_partitions: Vec<TopicPartition> = members
        .iter()
        .flat_map(|m| m.assignment.iter().cloned())
        .collect();
    all_partitions.extend(committed.keys().cloned());
    all_partitions.sort();
    all_partitions.dedup();
    let ends = log_end_offsets(client, &all_partitions).await?;
    let row = |tp: &TopicPartition, consumer: &str, host: &str, client_id: &str| {
        let offset = committed.get(tp).map(|c| c.offset);
        let log_end_offset = ends.get(tp).copied();
        let lag = match (offset.filter(|o| *o != -1), log_end_offset) {
            (Some(o), Some(end)) => Some(end - o),
            _ => None,
        };
        PartitionAssignmentRow {
            group: group.clone(),
            topic: Some(tp.topic.clone()),
            partition: Some(tp.partition),
            offset,
            log_end_offset,
            lag,
            consumer_id: Some(consumer.to_string()),
            host: Some(host.to_string()),
            client_id: Some(client_id.to_string()),
        }
    };
    for member in members {
        let mut partitions = member.assignment.clone();
        partitions.sort_by(|a, b| {
            a.partition
                .cmp(&b.partition)
                .then_with(|| a.topic.cmp(&b.topic))
        });
        for tp in &partitions {
            assigned.insert(tp.clone());
            rows.push(row(
                tp,
                &member.member_id,
                &member.client_host,
                &member.client_id,
            ));
        }
    }
    let mut unassigned: Vec<&TopicPartition> = committed
        .keys()
        .filter(|tp| !assigned.contains(*tp))
        .collect();
    unassigned.sort_by(|a, b| {
        a.partition
            .cmp(&b.partition)
            .then_with(|| a.topic.cmp(&b.topic))
    });
    for tp in unassigned {
        rows.push(row(
            tp,
            MISSING_COLUMN_VALUE,
            MISSING_COLUMN_VALUE,
            MISSING_COLUMN_VALUE,
        ));
    }
    Ok(rows)
}

/// The members table (`--members`, optionally `--verbose`).
pub fn format_members_table(
    description: &GroupDescription,
    verbose: bool,
    compute_widths: bool,
) -> String {
    let group = &description.group_id;
    let (mut group_w, mut consumer_w, mut instance_w, mut host_w, mut client_w) =
        (15, 15, 17, 15, 15);
    let mut include_instance = false;
    if compute_widths {
        for m in &description.members {
            group_w = group_w.max(group.len());
            consumer_w = consumer_w.max(m.member_id.len());
            instance_w = instance_w.max(m.group_instance_id.as_deref().unwrap_or("").len());
            host_w = host_w.max(m.client_host.len());
            client_w = client_w.max(m.client_id.len());
            include_instance = include_instance
                || m.group_instance_id
                    .as_deref()
                    .is_some_and(|i| !i.is_empty());
        }
    }
    let line = |g: &str, c: &str, i: &str, h: &str, cl: &str, n: &str| {
        if include_instance {
            format!(
                "{} {} {} {} {} {} ",
                pad(g, group_w),
                pad(c, consumer_w),
                pad(i, instance_w),
                pad(h, host_w),
                pad(cl, client_w),
                pad(n, 15)
            )
        } else {
            format!(
                "{} {} {} {} {} ",
                pad(g, group_w),
                pad(c, consumer_w),
                pad(h, host_w),
                pad(cl, client_w),
                pad(n, 15)
            )
        }
    };
    let mut text = format!(
        "\n{}",
        line(
            "GROUP",
            "CONSUMER-ID",
            "GROUP-INSTANCE-ID",
            "HOST",
            "CLIENT-ID",
            "#PARTITIONS"
        )
    );
    if verbose {
        text.push_str("ASSIGNMENT");
    }
    text.push('\n');
    for m in &description.members {
        text.push_str(&line(
            group,
            &m.member_id,
            m.group_instance_id.as_deref().unwrap_or(""),
            &m.client_host,
            &m.client_id,
            &m.assignment.len().to_string(),
        ));
        if verbose {
            if m.assignment.is_empty() {
                text.push_str(MISSING_COLUMN_VALUE);
            } else {
                let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
                for tp in &m.assignment {
                    by_topic
                        .entry(tp.topic.as_str())
                        .or_default()
                        .push(tp.partition);
                }
                let mut parts: Vec<String> = by_topic
                    .into_iter()
                    .map(|(topic, mut partitions)| {
                        partitions.sort_unstable();
                        let list: Vec<String> = partitions.iter().map(i32::to_string).collect();
                        format!("{topic}({})", list.join(","))
                    })
                    .collect();
                parts.sort();
                text.push_str(&parts.join(", "));
            }
        }
        text.push('\n');
    }
    text
}

/// The `--state` table.
pub fn format_state_table(description: &GroupDescription) -> String {
    let coordinator = format!(
        "{}:{}  ({})",
        description.coordinator.host, description.coordinator.port, description.coordinator.node_id
    );
    let width = coordinator.len().max(25);
    let line = |a: &str, b: &str, c: &str, d: &str, e: &str| {
        format!(
            "\n{} {} {} {} {}",
            pad(a, width),
            pad(b, 25),
            pad(c, 20),
            pad(d, 15),
            e
        )
    };
    let mut text = line(
        "GROUP",
        "COORDINATOR (ID)",
        "ASSIGNMENT-STRATEGY",
        "STATE",
        "#MEMBERS",
    );
    text.push_str(&line(
        &description.group_id,
        &coordinator,
        &description.protocol,
        &description.state,
        &description.members.len().to_string(),
    ));
    text.push('\n');
    text
}

async fn describe_groups(
    client: &KafkaClient,
    o: &ConsumerGroupsOptions,
    report: &mut Report<'_, '_>,
) -> Result<(), CliError> {
    let groups = describe_targets(client, o).await?;
    let descriptions = client.describe_groups(&groups).await?;
    for (group, outcome) in descriptions {
        let description = match outcome {
            Ok(d) => d,
            Err(err) if err.server_error() == Some(ResponseError::GroupIdNotFound) => {
                report.error(&format!("Consumer group '{group}' does not exist."))?;
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        if o.members {
            let show_details = print_state_notice(
                report,
                &group,
                &description.state,
                description.members.len(),
            )?;
            write!(
                report.console.out,
                "{}",
                format_members_table(&description, o.verbose, show_details)
            )?;
        } else if o.state.is_some() {
            if print_state_notice(report, &group, &description.state, 1)? {
                write!(report.console.out, "{}", format_state_table(&description))?;
            }
        } else {
            let committed = if description.state == "Dead" {
                BTreeMap::new()
            } else {
                client.offset_fetch(&group, None).await?
            };
            let rows = offset_rows(client, &description, &committed).await?;
            if print_state_notice(report, &group, &description.state, rows.len())? {
                write!(report.console.out, "{}", format_offsets_table(&rows))?;
            }
        }
    }
    Ok(())
}

async fn delete_groups(
    client: &KafkaClient,
    o: &ConsumerGroupsOptions,
    report: &mut Report<'_, '_>,
) -> Result<(), CliError> {
    let groups = describe_targets(client, o).await?;
    let results = client.delete_groups(&groups).await?;
    let mut succeeded = Vec::new();
    let mut failed = Vec::new();
    for (group, outcome) in results {
        match outcome {
            Ok(()) => succeeded.push(group),
            Err(err) => failed.push((group, err)),
        }
    }
    if failed.is_empty() {
        writeln!(
            report.console.out,
            "Deletion of requested consumer groups ('{}') was successful.",
            succeeded.join(", ")
        )?;
        return Ok(());
    }
    report.error("Deletion of some consumer groups failed:")?;
    for (group, err) in &failed {
        writeln!(
            report.console.err,
            "* Group '{group}' could not be deleted due to: {}",
            describe_failure(err)
        )?;
    }
    if !succeeded.is_empty() {
        let quoted: Vec<String> = succeeded.iter().map(|g| format!("'{g}'")).collect();
        writeln!(
            report.console.out,
            "\nThese consumer groups were deleted successfully: {}",
            quoted.join(", ")
        )?;
    }
    Ok(())
}

/// An error as `KafkaErrorName: message`, close to how Kafka prints exceptions.
fn describe_failure(err: &ClientError) -> String {
    match err.server_error() {
        Some(code) => format!("{code:?}: {err}"),
        None => err.to_string(),
    }
}

/// Parses `topic:0,1,2` into partitions.
pub fn parse_topic_with_partitions(arg: &str) -> Result<Vec<TopicPartition>, CliError> {
    let parts: Vec<&str> = arg.split(':').collect();
    let [topic, partitions] = parts.as_slice() else {
        return Err(usage(format!(
            "Invalid topic arg '{arg}', expected topic name and partitions"
        )));
    };
    partitions
        .split(',')
        .map(|p| {
            p.parse::<i32>()
                .map(|partition| TopicPartition::new(*topic, partition))
                .map_err(|_| {
                    usage(format!(
                        "Invalid partition '{p}' specified in topic arg '{arg}''"
                    ))
                })
        })
        .collect()
}

async fn partitions_of_topics(
    client: &KafkaClient,
    topics: &[String],
) -> Result<Vec<TopicPartition>, CliError> {
    let mut result = Vec::new();
    if topics.is_empty() {
        return Ok(result);
    }
    let descriptions = client.describe_topics(topics).await?;
    for topic in topics {
        match descriptions.get(topic) {
            Some(Ok(description)) => {
                result.extend(
                    description
                        .partitions
                        .iter()
                        .map(|p| TopicPartition::new(topic.clone(), p.partition)),
                );
            }
            Some(Err(err)) => return Err(CliError::Command(err.to_string())),
            None => {}
        }
    }
    Ok(result)
}

async fn partitions_to_reset(
    client: &KafkaClient,
    o: &ConsumerGroupsOptions,
    committed: &BTreeMap<TopicPartition, CommittedOffset>,
) -> Result<Vec<TopicPartition>, CliError> {
    if o.all_topics {
        return Ok(committed.keys().cloned().collect());
    }
    let mut partitions = Vec::new();
    let mut plain_topics = Vec::new();
    for arg in &o.topic {
        if arg.contains(':') {
            partitions.extend(parse_topic_with_partitions(arg)?);
        } else {
            plain_topics.push(arg.clone());
        }
    }
    partitions.extend(partitions_of_topics(client, &plain_topics).await?);
    Ok(partitions)
}

/// Parses `--to-datetime` like Kafka's `Utils.getDateTime`: `YYYY-MM-DDTHH:mm:SS.sss`
/// with an optional zone (`Z`, `+hh`, `+hhmm`, `+hh:mm`); no zone means UTC.
pub fn parse_datetime_millis(text: &str) -> Result<i64, CliError> {
    let bad = || {
        usage(format!(
            "Error parsing timestamp '{text}'. Expected format 'YYYY-MM-DDTHH:mm:SS.sss'"
        ))
    };
    let (date, time) = text.split_once('T').ok_or_else(|| {
        usage(
            "Error parsing timestamp. It does not contain a 'T' according to ISO8601 format"
                .to_string(),
        )
    })?;
    let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| bad())?;
    if time.len() < 12 {
        return Err(bad());
    }
    let (clock, zone) = time.split_at(12);
    let clock = chrono::NaiveTime::parse_from_str(clock, "%H:%M:%S%.3f").map_err(|_| bad())?;
    let offset_seconds: i64 = match zone {
        "" | "Z" => 0,
        zone => {
            let sign = match zone.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Err(bad()),
            };
            let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
            if !(digits.len() == 2 || digits.len() == 4)
                || !digits.chars().all(|c| c.is_ascii_digit())
            {
                return Err(bad());
            }
            let hours: i64 = digits[..2].parse().map_err(|_| bad())?;
            let minutes: i64 = if digits.len() == 4 {
                digits[2..].parse().map_err(|_| bad())?
            } else {
                0
            };
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let local = date.and_time(clock).and_utc().timestamp_millis();
    Ok(local - offset_seconds * 1000)
}

/// Parses an ISO-8601 duration (`PnDTnHnMnS`, seconds may be fractional) into milliseconds.
pub fn parse_duration_millis(text: &str) -> Result<i64, CliError> {
    let bad = || usage(format!("Text cannot be parsed to a Duration: {text}"));
    let upper = text.trim().to_ascii_uppercase();
    let (negative, body) = match upper.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, upper.strip_prefix('+').unwrap_or(&upper).to_string()),
    };
    let body = body.strip_prefix('P').ok_or_else(bad)?;
    let (days_part, time_part) = match body.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (body, None),
    };
    let mut millis: f64 = 0.0;
    let mut any = false;
    if !days_part.is_empty() {
        let days = days_part.strip_suffix('D').ok_or_else(bad)?;
        millis += days.parse::<f64>().map_err(|_| bad())? * 86_400_000.0;
        any = true;
    }
    if let Some(time) = time_part {
        let mut number = String::new();
        for c in time.chars() {
            let unit = match c {
                'H' => 3_600_000.0,
                'M' => 60_000.0,
                'S' => 1000.0,
                c if c.is_ascii_digit() || c == '.' || c == '-' => {
                    number.push(c);
                    continue;
                }
                _ => return Err(bad()),
            };
            millis += number.parse::<f64>().map_err(|_| bad())? * unit;
            number.clear();
            any = true;
        }
        if !number.is_empty() {
            return Err(bad());
        }
    }
    if !any {
        return Err(bad());
    }
    let millis = millis.round() as i64;
    Ok(if negative { -millis } else { millis })
}

/// Reads a reset plan CSV: `topic,partition,offset` (single group) or `group,topic,partition,offset`.
pub fn parse_reset_plan(
    text: &str,
    single_group: Option<&str>,
) -> Result<BTreeMap<String, BTreeMap<TopicPartition, i64>>, CliError> {
    let mut plan: BTreeMap<String, BTreeMap<TopicPartition, i64>> = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let (group, topic, partition, offset) = match (fields.as_slice(), single_group) {
            ([topic, partition, offset], Some(group)) => {
                (group.to_string(), *topic, *partition, *offset)
            }
            ([group, topic, partition, offset], _) => {
                ((*group).to_string(), *topic, *partition, *offset)
            }
            _ => return Err(usage(format!("Invalid reset plan line '{line}'"))),
        };
        let partition: i32 = partition
            .parse()
            .map_err(|_| usage(format!("Invalid partition in reset plan line '{line}'")))?;
        let offset: i64 = offset
            .parse()
            .map_err(|_| usage(format!("Invalid offset in reset plan line '{line}'")))?;
        plan.entry(group)
            .or_default()
            .insert(TopicPartition::new(topic, partition), offset);
    }
    Ok(plan)
}

/// Clamps requested offsets into each partition's [earliest, latest] range.
async fn check_offsets_range(
    client: &KafkaClient,
    requested: BTreeMap<TopicPartition, i64>,
    report: &mut Report<'_, '_>,
) -> Result<BTreeMap<TopicPartition, i64>, CliError> {
    let partitions: Vec<TopicPartition> = requested.keys().cloned().collect();
    let starts = offsets_for(client, &partitions, OffsetSpec::Earliest).await?;
    let ends = offsets_for(client, &partitions, OffsetSpec::Latest).await?;
    let mut result = BTreeMap::new();
    for (tp, offset) in requested {
        let value = match (ends.get(&tp), starts.get(&tp)) {
            (Some(end), _) if offset > *end => {
                writeln!(
                    report.console.err,
                    "WARN: New offset ({offset}) is higher than latest offset for topic partition {tp}. Value will be set to {end}"
                )?;
                *end
            }
            (_, Some(start)) if offset < *start => {
                writeln!(
                    report.console.err,
                    "WARN: New offset ({offset}) is lower than earliest offset for topic partition {tp}. Value will be set to {start}"
                )?;
                *start
            }
            (None, _) => {
                return Err(CliError::Command(format!(
                    "Unexpected non-existing offset value for topic partition {tp}"
                )));
            }
            _ => offset,
        };
        result.insert(tp, value);
    }
    Ok(result)
}

async fn offsets_at_spec(
    client: &KafkaClient,
    partitions: &[TopicPartition],
    spec: OffsetSpec,
    what: &str,
) -> Result<BTreeMap<TopicPartition, i64>, CliError> {
    let found = offsets_for(client, partitions, spec).await?;
    for tp in partitions {
        if !found.contains_key(tp) {
            return Err(usage(format!(
                "Error getting {what} offset of topic partition: {tp}"
            )));
        }
    }
    Ok(found)
}

async fn offsets_at_timestamp(
    client: &KafkaClient,
    partitions: &[TopicPartition],
    timestamp: i64,
    report: &mut Report<'_, '_>,
) -> Result<BTreeMap<TopicPartition, i64>, CliError> {
    let found = offsets_for(client, partitions, OffsetSpec::Timestamp(timestamp)).await?;
    let mut result = BTreeMap::new();
    let mut fallback = Vec::new();
    for tp in partitions {
        match found.get(tp) {
            Some(offset) if *offset != -1 => {
                result.insert(tp.clone(), *offset);
            }
            _ => {
                writeln!(
                    report.console.out,
                    "\nWarn: Partition {} from topic {} is empty. Falling back to latest known offset.",
                    tp.partition, tp.topic
                )?;
                fallback.push(tp.clone());
            }
        }
    }
    result.extend(
        offsets_at_spec(
            client,
            &fallback,
            OffsetSpec::Latest,
            "offset by timestamp of",
        )
        .await?,
    );
    Ok(result)
}

async fn prepare_offsets(
    client: &KafkaClient,
    o: &ConsumerGroupsOptions,
    group: &str,
    partitions: &[TopicPartition],
    committed: &BTreeMap<TopicPartition, CommittedOffset>,
    plan: Option<&BTreeMap<String, BTreeMap<TopicPartition, i64>>>,
    report: &mut Report<'_, '_>,
) -> Result<BTreeMap<TopicPartition, i64>, CliError> {
    if let Some(offset) = o.to_offset {
        let requested = partitions.iter().map(|tp| (tp.clone(), offset)).collect();
        return check_offsets_range(client, requested, report).await;
    }
    if o.to_earliest {
        return offsets_at_spec(client, partitions, OffsetSpec::Earliest, "starting").await;
    }
    if o.to_latest {
        return offsets_at_spec(client, partitions, OffsetSpec::Latest, "ending").await;
    }
    if let Some(shift) = o.shift_by {
        let mut requested = BTreeMap::new();
        for tp in partitions {
            let current = committed.get(tp).ok_or_else(|| {
                usage(format!("Cannot shift offset for partition {tp} since there is no current committed offset"))
            })?;
            requested.insert(tp.clone(), current.offset.saturating_add(shift));
        }
        return check_offsets_range(client, requested, report).await;
    }
    if let Some(text) = &o.to_datetime {
        let timestamp = parse_datetime_millis(text)?;
        return offsets_at_timestamp(client, partitions, timestamp, report).await;
    }
    if let Some(text) = &o.by_duration {
        let duration = parse_duration_millis(text)?;
        let now = chrono::Utc::now().timestamp_millis();
        return offsets_at_timestamp(client, partitions, now - duration, report).await;
    }
    if let Some(plan) = plan {
        return match plan.get(group) {
            Some(for_group) => check_offsets_range(client, for_group.clone(), report).await,
            None => {
                report.error(&format!("No reset plan for group {group} found"))?;
                Ok(BTreeMap::new())
            }
        };
    }
    if o.to_current {
        let mut result = BTreeMap::new();
        let mut without = Vec::new();
        for tp in partitions {
            match committed.get(tp) {
                Some(c) => {
                    result.insert(tp.clone(), c.offset);
                }
                None => without.push(tp.clone()),
            }
        }
        result.extend(offsets_at_spec(client, &without, OffsetSpec::Latest, "ending").await?);
        return Ok(result);
    }
    Err(usage(
        "Option '[reset-offsets]' requires one of the following scenarios: [to-offset], [shift-by], [to-datetime], [by-duration], [to-earliest], [to-latest], [to-current], [from-file]",
    ))
}

/// The reset plan table (`GROUP TOPIC PARTITION NEW-OFFSET`) as Kafka prints it.
pub fn format_reset_table(plan: &BTreeMap<String, BTreeMap<TopicPartition, i64>>) -> String {
    let line = |a: &str, b: &str, c: &str, d: &str| {
        format!(
            "\n{} {} {} {}",
            pad(a, 30),
            pad(b, 30),
            pad(c, 10),
            pad(d, 15)
        )
    };
    let mut text = String::new();
    if !plan.is_empty() {
        text.push_str(&line("GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"));
    }
    for (group, offsets) in plan {
        for (tp, offset) in offsets {
            text.push_str(&line(
                group,
                &tp.topic,
                &tp.partition.to_string(),
                &offset.to_string(),
            ));
        }
    }
    text.push('\n');
    text
}

/// The `--export` CSV: without the group column when exactly one group was named.
pub fn format_reset_csv(
    plan: &BTreeMap<String, BTreeMap<TopicPartition, i64>>,
    single_group: bool,
) -> String {
    let mut text = String::new();
    for (group, offsets) in plan {
        for (tp, offset) in offsets {
            if single_group {
                text.push_str(&format!("{},{},{}\n", tp.topic, tp.partition, offset));
            } else {
                text.push_str(&format!(
                    "{group},{},{},{}\n",
                    tp.topic, tp.partition, offset
                ));
            }
        }
    }
    text
}

async fn reset_offsets(
    client: &KafkaClient,
    o: &ConsumerGroupsOptions,
    report: &mut Report<'_, '_>,
) -> Result<(), CliError> {
    let groups = describe_targets(client, o).await?;
    let single_group = o.group.len() == 1;
    let plan_file = match &o.from_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CliError::Command(format!("Could not read {}: {e}", path.display()))
            })?;
            Some(parse_reset_plan(
                &text,
                if single_group {
                    o.group.first().map(String::as_str)
                } else {
                    None
                },
            )?)
        }
        None => None,
    };
    let descriptions = client.describe_groups(&groups).await?;
    let mut result: BTreeMap<String, BTreeMap<TopicPartition, i64>> = BTreeMap::new();
    for (group, outcome) in descriptions {
        let state = match outcome {
            Ok(description) => description.state,
            Err(err) if err.server_error() == Some(ResponseError::GroupIdNotFound) => {
                "Dead".to_string()
            }
            Err(err) => return Err(err.into()),
        };
        if state != "Empty" && state != "Dead" {
            report.error(&format!(
                "Assignments can only be reset if the group '{group}' is inactive, but the current state is {state}."
            ))?;
            result.insert(group, BTreeMap::new());
            continue;
        }
        let committed = client.offset_fetch(&group, None).await?;
        let partitions = if plan_file.is_some() && !o.all_topics && o.topic.is_empty() {
            Vec::new()
        } else {
            partitions_to_reset(client, o, &committed).await?
        };
        let prepared = prepare_offsets(
            client,
            o,
            &group,
            &partitions,
            &committed,
            plan_file.as_ref(),
            report,
        )
        .await?;
        if o.execute && !prepared.is_empty() {
            let commits: Vec<(TopicPartition, i64, Option<String>)> = prepared
                .iter()
                .map(|(tp, offset)| (tp.clone(), *offset, None))
                .collect();
            let outcomes = client.offset_commit(&group, &commits).await?;
            for (_, outcome) in outcomes {
                outcome?;
            }
        }
        result.insert(group, prepared);
    }
    if o.export {
        writeln!(
            report.console.out,
            "{}",
            format_reset_csv(&result, single_group)
        )?;
    } else {
        write!(report.console.out, "{}", format_reset_table(&result))?;
    }
    Ok(())
}

async fn delete_offsets(
    client: &KafkaClient,
    o: &ConsumerGroupsOptions,
    report: &mut Report<'_, '_>,
) -> Result<(), CliError> {
    let group = o.group.first().cloned().unwrap_or_default();
    let mut partitions: BTreeSet<TopicPartition> = BTreeSet::new();
    let mut statuses: BTreeMap<TopicPartition, Option<String>> = BTreeMap::new();
    let mut plain_topics = Vec::new();
    for arg in &o.topic {
        if arg.contains(':') {
            partitions.extend(parse_topic_with_partitions(arg)?);
        } else {
            plain_topics.push(arg.clone());
        }
    }
    if !plain_topics.is_empty() {
        let descriptions = client.describe_topics(&plain_topics).await?;
        for topic in &plain_topics {
            match descriptions.get(topic) {
                Some(Ok(d)) => partitions.extend(
                    d.partitions
                        .iter()
                        .map(|p| TopicPartition::new(topic.clone(), p.partition)),
                ),
                Some(Err(err)) => {
                    statuses.insert(
                        TopicPartition::new(topic.clone(), -1),
                        Some(err.to_string()),
                    );
                }
                None => {}
            }
        }
    }
    let list: Vec<TopicPartition> = partitions.iter().cloned().collect();
    let deletion = client.delete_offsets(&group, &list).await?;
    match &deletion.group_result {
        Ok(()) => writeln!(
            report.console.out,
            "Request succeed for deleting offsets with topic {} group {group}",
            o.topic.join(", ")
        )?,
        Err(err) => {
            let message = match err.server_error() {
                Some(ResponseError::InvalidGroupId) => format!("'{group}' is not valid."),
                Some(ResponseError::GroupIdNotFound) => format!("'{group}' does not exist."),
                Some(ResponseError::GroupAuthorizationFailed) => {
                    format!("Access to '{group}' is not authorized.")
                }
                Some(ResponseError::NonEmptyGroup) => {
                    format!(
                        "Deleting offsets of a consumer group '{group}' is forbidden if the group is not empty."
                    )
                }
                Some(ResponseError::GroupSubscribedToTopic)
                | Some(ResponseError::TopicAuthorizationFailed)
                | Some(ResponseError::UnknownTopicOrPartition) => {
                    "Encounter some partition level error, see the follow-up details:".to_string()
                }
                Some(other) => format!("Encounter some unknown error: {other:?}"),
                None => format!("Encounter some unknown error: {err}"),
            };
            report.error(&message)?;
        }
    }
    for tp in &list {
        let status = match deletion.partitions.get(tp) {
            Some(Ok(())) => None,
            Some(Err(err)) => Some(err.to_string()),
            None => deletion
                .group_result
                .as_ref()
                .err()
                .map(ToString::to_string),
        };
        statuses.insert(tp.clone(), status);
    }
    let mut text = format!(
        "\n{} {} {}",
        pad("TOPIC", 30),
        pad("PARTITION", 15),
        pad("STATUS", 15)
    );
    for (tp, status) in &statuses {
        let partition = if tp.partition >= 0 {
            tp.partition.to_string()
        } else {
            "Not Provided".to_string()
        };
        let status = match status {
            Some(message) => format!("Error: :{message}"),
            None => "Successful".to_string(),
        };
        text.push_str(&format!(
            "\n{} {} {}",
            pad(&tp.topic, 30),
            pad(&partition, 15),
            pad(&status, 15)
        ));
    }
    text.push('\n');
    write!(report.console.out, "{text}")?;
    if statuses.values().any(Option::is_some) {
        report.errors = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use strait_client::admin::groups::{CoordinatorNode, GroupMember};

    fn options(args: &[&str]) -> ConsumerGroupsOptions {
        let mut full = vec!["kafka-consumer-groups", "--bootstrap-server", "h:1"];
        full.extend_from_slice(args);
        match ConsumerGroupsOptions::try_parse_from(full) {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn option_checks() {
        assert!(check_options(&options(&["--list"])).is_ok());
        assert!(check_options(&options(&["--list", "--state"])).is_ok());
        assert!(check_options(&options(&["--list", "--state", "stable,empty"])).is_ok());
        assert!(
            matches!(check_options(&options(&["--describe"])), Err(CliError::Usage(m)) if m.contains("[all-groups], [group]"))
        );
        assert!(
            check_options(&options(&[
                "--describe",
                "--group",
                "g",
                "--members",
                "--verbose"
            ]))
            .is_ok()
        );
        assert!(matches!(
            check_options(&options(&[
                "--describe",
                "--group",
                "g",
                "--members",
                "--state"
            ])),
            Err(CliError::Usage(_))
        ));
        assert!(
            matches!(check_options(&options(&["--reset-offsets", "--group", "g", "--all-topics"])), Err(CliError::Usage(m)) if m.contains("requires one of the following scenarios"))
        );
        assert!(
            matches!(check_options(&options(&["--reset-offsets", "--group", "g", "--to-earliest"])), Err(CliError::Usage(m)) if m.contains("reset scopes"))
        );
        assert!(
            check_options(&options(&[
                "--reset-offsets",
                "--group",
                "g",
                "--to-earliest",
                "--topic",
                "t:0,1",
                "--execute"
            ]))
            .is_ok()
        );
        assert!(matches!(
            check_options(&options(&[
                "--reset-offsets",
                "--group",
                "g",
                "--to-earliest",
                "--to-latest",
                "--all-topics"
            ])),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(
            check_options(&options(&["--delete", "--group", "g", "--topic", "t"])),
            Err(CliError::Usage(_))
        ));
        assert!(
            check_options(&options(&[
                "--reset-offsets",
                "--group",
                "g",
                "--shift-by",
                "-2",
                "--all-topics",
                "--dry-run"
            ]))
            .is_ok()
        );
    }

    #[test]
    fn offsets_table_layout() {
        let rows = vec![PartitionAssignmentRow {
            group: "g".to_string(),
            topic: Some("t".to_string()),
            partition: Some(0),
            offset: Some(5),
            log_end_offset: Some(10),
            lag: Some(5),
            consumer_id: Some(MISSING_COLUMN_VALUE.to_string()),
            host: Some(MISSING_COLUMN_VALUE.to_string()),
            client_id: Some(MISSING_COLUMN_VALUE.to_string()),
        }];
        let table = format_offsets_table(&rows);
        let expected = "\nGROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID\ng               t               0          5               10              5               -               -               -\n";
        assert_eq!(table, expected);
    }

    #[test]
    fn members_and_state_tables() {
        let description = GroupDescription {
            group_id: "g".to_string(),
            state: "Stable".to_string(),
            protocol_type: "consumer".to_string(),
            protocol: "range".to_string(),
            members: vec![GroupMember {
                member_id: "m-1".to_string(),
                group_instance_id: None,
                client_id: "c".to_string(),
                client_host: "/127.0.0.1".to_string(),
                assignment: vec![
                    TopicPartition::new("t", 1),
                    TopicPartition::new("t", 0),
                    TopicPartition::new("a", 3),
                ],
                raw_metadata: Default::default(),
                raw_assignment: Default::default(),
            }],
            coordinator: CoordinatorNode {
                node_id: 1,
                host: "localhost".to_string(),
                port: 9092,
            },
        };
        let members = format_members_table(&description, true, true);
        assert_eq!(
            members,
            "\nGROUP           CONSUMER-ID     HOST            CLIENT-ID       #PARTITIONS     ASSIGNMENT\ng               m-1             /127.0.0.1      c               3               a(3), t(0,1)\n"
        );
        let state = format_state_table(&description);
        assert_eq!(
            state,
            "\nGROUP                     COORDINATOR (ID)          ASSIGNMENT-STRATEGY  STATE           #MEMBERS\ng                         localhost:9092  (1)       range                Stable          1\n"
        );
    }

    #[test]
    fn reset_table_and_csv() {
        let mut plan = BTreeMap::new();
        plan.insert(
            "g".to_string(),
            BTreeMap::from([(TopicPartition::new("t", 0), 42i64)]),
        );
        let table = format_reset_table(&plan);
        assert_eq!(
            table,
            format!(
                "\n{:<30} {:<30} {:<10} {:<15}\n{:<30} {:<30} {:<10} {:<15}\n",
                "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET", "g", "t", "0", "42"
            )
        );
        assert_eq!(format_reset_csv(&plan, true), "t,0,42\n");
        assert_eq!(format_reset_csv(&plan, false), "g,t,0,42\n");
        assert_eq!(format_reset_table(&BTreeMap::new()), "\n");
    }

    #[test]
    fn datetime_and_duration_parsing() {
        assert_eq!(
            parse_datetime_millis("1970-01-01T00:00:01.500").ok(),
            Some(1500)
        );
        assert_eq!(
            parse_datetime_millis("1970-01-01T01:00:00.000+01:00").ok(),
            Some(0)
        );
        assert_eq!(
            parse_datetime_millis("1970-01-01T00:00:00.000-0130").ok(),
            Some(5_400_000)
        );
        assert_eq!(
            parse_datetime_millis("1970-01-01T00:00:00.000Z").ok(),
            Some(0)
        );
        assert!(parse_datetime_millis("1970-01-01 00:00:00").is_err());
        assert!(parse_datetime_millis("1970-01-01T00:00:00").is_err());
        assert_eq!(parse_duration_millis("PT1H").ok(), Some(3_600_000));
        assert_eq!(
            parse_duration_millis("P1DT1M1.5S").ok(),
            Some(86_400_000 + 60_000 + 1500)
        );
        assert!(parse_duration_millis("1H").is_err());
        assert!(parse_duration_millis("PT").is_err());
    }

    #[test]
    fn topic_partition_args_and_reset_plans() {
        assert_eq!(
            parse_topic_with_partitions("t:0,2").ok(),
            Some(vec![
                TopicPartition::new("t", 0),
                TopicPartition::new("t", 2)
            ])
        );
        assert!(parse_topic_with_partitions("t:x").is_err());
        assert!(parse_topic_with_partitions("t:1:2").is_err());
        let plan = parse_reset_plan("t,0,5\nt,1,6\n", Some("g"));
        let Ok(plan) = plan else { panic!() };
        assert_eq!(plan.get("g").map(|m| m.len()), Some(2));
        let plan = parse_reset_plan("g1,t,0,5\ng2,t,0,6\n", None);
        assert_eq!(plan.map(|p| p.len()).ok(), Some(2));
    }
}
