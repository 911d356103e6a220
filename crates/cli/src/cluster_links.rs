//! `kafka-cluster-links`: create, list, describe and delete cluster links
//! with Confluent's flags (`--create --link L --config-file F`, `--list`,
//! `--describe --link L`, `--delete --link L [--force]`, ...) and output
//! lines. It owns those flags, their checks, how link configs are assembled
//! from `--config`/`--config-file` and the filter-JSON flags, and the output
//! format; it also holds the small helpers `kafka-mirrors` shares. It must
//! never decide anything a broker decides (config validity, link state),
//! never print a sensitive config value, and reports every failure as one
//! line on stderr.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};
use strait_client::KafkaClient;
use strait_client::admin::links::{
    ClusterLinkListing, CreateClusterLinkRequest, DeleteClusterLinkRequest, LinkConfigEntry,
    ListClusterLinksRequest,
};

use crate::invocation::{CliError, Console, block_on, client, client_config, parse_args};
use crate::properties::{PropertiesError, load_properties_file, parse_config_assignments};

/// Prefix of every error line of this tool.
pub const ERROR_PREFIX: &str = "Error while executing cluster link command: ";

/// Command-line options of `kafka-cluster-links`, named as Confluent names them.
#[derive(Debug, Parser)]
#[command(
    name = "kafka-cluster-links",
    about = "This tool creates, lists, describes and deletes cluster links.",
    version,
    infer_long_args = true
)]
pub struct ClusterLinksOptions {
    /// REQUIRED: the server(s) of the cluster that holds the link (usually the destination), host:port[,host:port].
    #[arg(long, value_name = "host:port", allow_hyphen_values = true)]
    pub bootstrap_server: Option<String>,
    /// Property file containing configs to be passed to Admin Client.
    #[arg(long, value_name = "file", allow_hyphen_values = true)]
    pub command_config: Option<PathBuf>,
    /// Creates a new cluster link.
    #[arg(long)]
    pub create: bool,
    /// Lists the cluster links.
    #[arg(long)]
    pub list: bool,
    /// Describes a cluster link.
    #[arg(long)]
    pub describe: bool,
    /// Deletes a cluster link.
    #[arg(long)]
    pub delete: bool,
    /// The name of the cluster link.
    #[arg(
        long,
        alias = "link-name",
        value_name = "link name",
        allow_hyphen_values = true
    )]
    pub link: Option<String>,
    /// The ID of the source cluster; checked against the source unless --exclude-validate-link.
    #[arg(long, value_name = "cluster ID", allow_hyphen_values = true)]
    pub cluster_id: Option<String>,
    /// Configs of the new link, 'k1=v1,k2=[v1,v2],k3=v3' (square brackets group values with commas).
    #[arg(long, allow_hyphen_values = true, value_name = "key=value,...")]
    pub config: Option<String>,
    /// Property file containing the configs of the new link.
    #[arg(long, value_name = "file", allow_hyphen_values = true)]
    pub config_file: Option<PathBuf>,
    /// Only validate the action; change nothing.
    #[arg(long)]
    pub validate_only: bool,
    /// Create the link without checking that the source cluster can be reached (requires --cluster-id).
    #[arg(long)]
    pub exclude_validate_link: bool,
    /// JSON for consumer.offset.group.filters.
    #[arg(long, allow_hyphen_values = true, value_name = "JSON")]
    pub consumer_group_filters_json: Option<String>,
    /// Path to a JSON file for consumer.offset.group.filters.
    #[arg(long, value_name = "file", allow_hyphen_values = true)]
    pub consumer_group_filters_json_file: Option<PathBuf>,
    /// Path to a JSON file for acl.filters.
    #[arg(long, value_name = "file", allow_hyphen_values = true)]
    pub acl_filters_json_file: Option<PathBuf>,
    /// JSON for auto.create.mirror.topics.filters.
    #[arg(long, allow_hyphen_values = true, value_name = "JSON")]
    pub topic_filters_json: Option<String>,
    /// Path to a JSON file for auto.create.mirror.topics.filters.
    #[arg(long, value_name = "file", allow_hyphen_values = true)]
    pub topic_filters_json_file: Option<PathBuf>,
    /// With --list: include the mirror topics of each link.
    #[arg(long)]
    pub include_topics: bool,
    /// With --list or --describe: also print the state of each of the link's
    /// tasks (topic config sync, consumer offset sync, ACL sync, ...).
    #[arg(long)]
    pub include_tasks: bool,
    /// With --delete: delete the link even while mirror topics use it.
    #[arg(long)]
    pub force: bool,
}

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAction {
    Create,
    List,
    Describe,
    Delete,
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

/// Rewrites Java-style single-dash long options (`-create`, `-list`, also
/// `-link=x`) to `--...` when the name is one of `command`'s long flags, as
/// Confluent's jopt-based tools accept them. Values of options (a cluster id
/// may well start with `-`) are left alone.
pub fn normalize_long_flags(args: Vec<OsString>, command: &clap::Command) -> Vec<OsString> {
    let mut longs: Vec<(String, bool)> = vec![("help".into(), false), ("version".into(), false)];
    for a in command.get_arguments() {
        let takes_value = a.get_action().takes_values();
        let mut names: Vec<&str> = a.get_long().into_iter().collect();
        names.extend(a.get_all_aliases().unwrap_or_default());
        longs.extend(names.into_iter().map(|n| (n.to_string(), takes_value)));
    }
    let takes_value = |name: &str| longs.iter().find(|(l, _)| l == name).map(|(_, v)| *v);
    let mut expect_value = false;
    let mut out = Vec::with_capacity(args.len());
    for (i, arg) in args.into_iter().enumerate() {
        let text = arg.to_str().unwrap_or_default().to_string();
        if i == 0 || std::mem::take(&mut expect_value) {
            out.push(arg);
            continue;
        }
        let flag = text
            .strip_prefix("--")
            .or_else(|| text.strip_prefix('-').filter(|rest| rest.len() > 1));
        let Some(flag) = flag else {
            out.push(arg);
            continue;
        };
        let (name, inline_value) = match flag.split_once('=') {
            Some((name, _)) => (name, true),
            None => (flag, false),
        };
        match takes_value(name) {
            Some(value) => {
                expect_value = value && !inline_value;
                if text.starts_with("--") {
                    out.push(arg);
                } else {
                    out.push(OsString::from(format!("-{text}")));
                }
            }
            None => out.push(arg),
        }
    }
    out
}

/// The action, after Confluent's argument checks.
pub fn check_options(o: &ClusterLinksOptions) -> Result<LinkAction, CliError> {
    if o.bootstrap_server.is_none() {
        return Err(usage("Missing required argument \"[bootstrap-server]\""));
    }
    let actions = [
        (o.create, LinkAction::Create),
        (o.list, LinkAction::List),
        (o.describe, LinkAction::Describe),
        (o.delete, LinkAction::Delete),
    ];
    let chosen: Vec<LinkAction> = actions
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, a)| *a)
        .collect();
    let [action] = chosen[..] else {
        return Err(usage(
            "Command must include exactly one action: --create, --list, --describe, or --delete.",
        ));
    };
    let action_name = match action {
        LinkAction::Create => "create",
        LinkAction::List => "list",
        LinkAction::Describe => "describe",
        LinkAction::Delete => "delete",
    };
    // Options that only make sense with some actions.
    let present: [(&str, bool, &[LinkAction]); 13] = [
        ("cluster-id", o.cluster_id.is_some(), &[LinkAction::Create]),
        ("config", o.config.is_some(), &[LinkAction::Create]),
        (
            "config-file",
            o.config_file.is_some(),
            &[LinkAction::Create],
        ),
        (
            "exclude-validate-link",
            o.exclude_validate_link,
            &[LinkAction::Create],
        ),
        (
            "consumer-group-filters-json",
            o.consumer_group_filters_json.is_some(),
            &[LinkAction::Create],
        ),
        (
            "consumer-group-filters-json-file",
            o.consumer_group_filters_json_file.is_some(),
            &[LinkAction::Create],
        ),
        (
            "acl-filters-json-file",
            o.acl_filters_json_file.is_some(),
            &[LinkAction::Create],
        ),
        (
            "topic-filters-json",
            o.topic_filters_json.is_some(),
            &[LinkAction::Create],
        ),
        (
            "topic-filters-json-file",
            o.topic_filters_json_file.is_some(),
            &[LinkAction::Create],
        ),
        (
            "validate-only",
            o.validate_only,
            &[LinkAction::Create, LinkAction::Delete],
        ),
        ("force", o.force, &[LinkAction::Delete]),
        ("include-topics", o.include_topics, &[LinkAction::List]),
        (
            "include-tasks",
            o.include_tasks,
            &[LinkAction::List, LinkAction::Describe],
        ),
    ];
    for (name, on, allowed) in present {
        if on && !allowed.contains(&action) {
            return Err(usage(format!(
                "Option \"[{action_name}]\" can't be used with option \"[{name}]\""
            )));
        }
    }
    if action != LinkAction::List && o.link.is_none() {
        return Err(usage("Missing required argument \"[link]\""));
    }
    if action == LinkAction::Create {
        if o.config.is_some() && o.config_file.is_some() {
            return Err(usage(
                "Only one of --config or --config-file may be specified.",
            ));
        }
        if o.config.is_none() && o.config_file.is_none() {
            return Err(usage(
                "Command must include required configs for cluster link creation.",
            ));
        }
        if o.exclude_validate_link && o.cluster_id.is_none() {
            return Err(usage(
                "Command must include --cluster-id if --exclude-validate-link is specified.",
            ));
        }
        if o.consumer_group_filters_json.is_some() && o.consumer_group_filters_json_file.is_some() {
            return Err(usage(
                "Only one of --consumer-group-filters-json or --consumer-group-filters-json-file may be specified.",
            ));
        }
        if o.topic_filters_json.is_some() && o.topic_filters_json_file.is_some() {
            return Err(usage(
                "Only one of --topic-filters-json or --topic-filters-json-file may be specified.",
            ));
        }
    }
    Ok(action)
}

/// `k=v,...` into a map, rejecting empty keys (later keys win).
pub fn parse_config_map(text: &str) -> Result<BTreeMap<String, String>, CliError> {
    let mut map = BTreeMap::new();
    for (key, value) in parse_config_assignments(text)? {
        if key.is_empty() {
            return Err(PropertiesError::NotKeyValue { entry: text.into() }.into());
        }
        map.insert(key, value);
    }
    Ok(map)
}

fn read_json_file(path: &Path) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Command(format!("Could not read {}: {e}", path.display())))?;
    if text.trim().is_empty() {
        return Err(CliError::Command(format!(
            "The JSON file {} is empty.",
            path.display()
        )));
    }
    Ok(text.trim().to_string())
}

/// The configs of the link to create: `--config` or `--config-file`, then
/// the filter-JSON flags on top (they win over the same keys in the configs).
pub fn link_configs(o: &ClusterLinksOptions) -> Result<BTreeMap<String, String>, CliError> {
    let mut configs = match (&o.config, &o.config_file) {
        (Some(text), _) => parse_config_map(text)?,
        (None, Some(path)) => load_properties_file(path)?,
        (None, None) => BTreeMap::new(),
    };
    let group_filters = match (
        &o.consumer_group_filters_json,
        &o.consumer_group_filters_json_file,
    ) {
        (Some(json), _) => Some(json.trim().to_string()),
        (None, Some(path)) => Some(read_json_file(path)?),
        (None, None) => None,
    };
    if let Some(json) = group_filters {
        configs.insert("consumer.offset.group.filters".to_string(), json);
    }
    if let Some(path) = &o.acl_filters_json_file {
        configs.insert("acl.filters".to_string(), read_json_file(path)?);
    }
    let topic_filters = match (&o.topic_filters_json, &o.topic_filters_json_file) {
        (Some(json), _) => Some(json.trim().to_string()),
        (None, Some(path)) => Some(read_json_file(path)?),
        (None, None) => None,
    };
    if let Some(json) = topic_filters {
        configs.insert("auto.create.mirror.topics.filters".to_string(), json);
    }
    Ok(configs)
}

/// The CreateClusterLink request the options describe.
pub fn create_request(o: &ClusterLinksOptions) -> Result<CreateClusterLinkRequest, CliError> {
    Ok(CreateClusterLinkRequest {
        link_name: o.link.clone().unwrap_or_default(),
        cluster_id: o.cluster_id.clone(),
        configs: link_configs(o)?,
        validate_only: o.validate_only,
        validate_link: !o.exclude_validate_link,
    })
}

/// Kafka's base64 text of a link id the broker sent as a dashed UUID
/// (anything else is shown as it came).
pub fn link_id_text(id: &str) -> String {
    match uuid::Uuid::parse_str(id) {
        Ok(uuid) => crate::invocation::kafka_uuid(&uuid),
        Err(_) => id.to_string(),
    }
}

fn or_null(value: Option<&str>) -> &str {
    value.unwrap_or("null")
}

/// One `--list` line, in the command reference's layout (`topics` only with
/// --include-topics). The link state is on `--describe`'s first line.
pub fn list_line(link: &ClusterLinkListing) -> String {
    let mut line = format!(
        "Link name: '{}', link ID: '{}', remote cluster ID: '{}', local cluster ID: '{}', remote cluster available: '{}'",
        link.link_name,
        link_id_text(&link.link_id),
        or_null(link.remote_cluster_id.as_deref()),
        link.local_cluster_id,
        link.remote_cluster_available,
    );
    if let Some(topics) = &link.topics {
        line.push_str(&format!(", topics: [{}]", topics.join(", ")));
    }
    line
}

/// One line per task of a link (`--include-tasks`, a Strait addition; the
/// states are Confluent's task states: ACTIVE, IN_ERROR, LINK_PAUSED).
pub fn task_lines(link: &ClusterLinkListing) -> Vec<String> {
    let time = |ms: Option<i64>| {
        ms.map(crate::mirrors::format_state_time)
            .unwrap_or_else(|| "null".to_string())
    };
    link.tasks
        .iter()
        .map(|t| {
            format!(
                "  Task: '{}', state: '{}', last success time: '{}', last error time: '{}', last error: '{}'",
                t.task,
                t.state,
                time(t.last_success_ms),
                time(t.last_error_ms),
                t.last_error.as_deref().unwrap_or("null")
            )
        })
        .collect()
}

/// The two `--describe` lines (CP 7.4 layout).
pub fn describe_lines(
    link: &ClusterLinkListing,
    configs: &[LinkConfigEntry],
    coordinator: Option<(i32, String)>,
) -> [String; 2] {
    let setting = |name: &str, default: &str| -> String {
        configs
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.value.clone())
            .unwrap_or_else(|| default.to_string())
    };
    let (coordinator_id, coordinator_host) = match coordinator {
        Some((id, host)) => (id.to_string(), host),
        None => ("-1".to_string(), "null".to_string()),
    };
    let first = format!(
        "Link name: '{}', link ID: '{}', remote cluster ID: '{}', local cluster ID: '{}', link mode: '{}', connection mode: '{}', link state: '{}', link coordinator id: '{}', link coordinator host: '{}', topics: [{}]",
        link.link_name,
        link_id_text(&link.link_id),
        or_null(link.remote_cluster_id.as_deref()),
        link.local_cluster_id,
        setting("link.mode", "DESTINATION"),
        setting("connection.mode", "OUTBOUND"),
        link.link_state,
        coordinator_id,
        coordinator_host,
        link.topics.as_deref().unwrap_or_default().join(", ")
    );
    let set: Vec<String> = configs
        .iter()
        .filter(|c| c.source == "DYNAMIC_CLUSTER_LINK_CONFIG")
        .map(|c| {
            let value = if c.sensitive {
                "null"
            } else {
                c.value.as_deref().unwrap_or("null")
            };
            format!("{}={value}", c.name)
        })
        .collect();
    [first, format!("Configs: {}", set.join(","))]
}

/// Entry point used by the `kafka-cluster-links` binary and by tests.
pub fn run(args: Vec<OsString>, console: &mut Console<'_>) -> i32 {
    let args = normalize_long_flags(args, &ClusterLinksOptions::command());
    let options: ClusterLinksOptions = match parse_args(args, console) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let result =
        check_options(&options).and_then(|action| block_on(execute(&options, action, console)));
    match result {
        Ok(()) => 0,
        Err(err) if err.is_broken_pipe() => 0,
        Err(err) => {
            let _ = writeln!(console.err, "{ERROR_PREFIX}{}", one_line(&err));
            1
        }
    }
}

/// An error's text on one line.
pub fn one_line(err: &CliError) -> String {
    err.to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

async fn execute(
    o: &ClusterLinksOptions,
    action: LinkAction,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let bootstrap = o.bootstrap_server.as_deref().unwrap_or_default();
    let config = client_config(bootstrap, o.command_config.as_deref(), &[])?;
    // Build the request before connecting: file and syntax errors come first.
    let create = match action {
        LinkAction::Create => Some(create_request(o)?),
        _ => None,
    };
    let client = client(config)?;
    let link = o.link.clone().unwrap_or_default();
    let done = if o.validate_only {
        "validated"
    } else {
        "completed"
    };
    match action {
        LinkAction::Create => {
            let request = create.unwrap_or_default();
            client.create_cluster_link(&request).await?;
            writeln!(
                console.out,
                "Cluster link '{link}' creation successfully {done}."
            )?;
        }
        LinkAction::Delete => {
            let request = DeleteClusterLinkRequest {
                link_name: link.clone(),
                force: o.force,
                validate_only: o.validate_only,
            };
            client.delete_cluster_link(&request).await?;
            writeln!(
                console.out,
                "Cluster link '{link}' deletion successfully {done}."
            )?;
        }
        LinkAction::List => list(&client, o, console).await?,
        LinkAction::Describe => describe(&client, &link, o.include_tasks, console).await?,
    }
    Ok(())
}

fn is_link_not_found(err: &strait_client::ClientError) -> bool {
    err.server_error().map(|e| e.code())
        == Some(strait_client::admin::links::CLUSTER_LINK_NOT_FOUND)
}

async fn list(
    client: &KafkaClient,
    o: &ClusterLinksOptions,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let request = ListClusterLinksRequest {
        link_name: o.link.clone(),
        include_topics: o.include_topics,
    };
    let links = match client.list_cluster_links(&request).await {
        Ok(links) => links,
        Err(err) if is_link_not_found(&err) && o.link.is_some() => {
            return Err(CliError::Command(format!(
                "Link name '{}' not found.",
                o.link.as_deref().unwrap_or_default()
            )));
        }
        Err(err) => return Err(err.into()),
    };
    if links.is_empty() {
        writeln!(console.out, "No cluster links found.")?;
    }
    for link in &links {
        writeln!(console.out, "{}", list_line(link))?;
        if o.include_tasks {
            for line in task_lines(link) {
                writeln!(console.out, "{line}")?;
            }
        }
    }
    Ok(())
}

async fn describe(
    client: &KafkaClient,
    link_name: &str,
    include_tasks: bool,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let request = ListClusterLinksRequest {
        link_name: Some(link_name.to_string()),
        include_topics: true,
    };
    let links = client.list_cluster_links(&request).await?;
    let Some(link) = links.into_iter().find(|l| l.link_name == link_name) else {
        return Err(CliError::Command(format!(
            "Cluster link '{link_name}' does not exist."
        )));
    };
    let configs = client.describe_cluster_link_configs(link_name).await?;
    let metadata = client.refresh_brokers().await?;
    let coordinator = metadata
        .controller_id
        .and_then(|id| metadata.broker(id))
        .or_else(|| metadata.brokers.values().next())
        .map(|b| (b.id, b.host.clone()));
    for line in describe_lines(&link, &configs, coordinator) {
        writeln!(console.out, "{line}")?;
    }
    if include_tasks {
        for line in task_lines(&link) {
            writeln!(console.out, "{line}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use strait_client::admin::links::LinkTaskStatus;

    fn options(args: &[&str]) -> ClusterLinksOptions {
        let mut full = vec![OsString::from("kafka-cluster-links")];
        full.extend(args.iter().map(OsString::from));
        let full = normalize_long_flags(full, &ClusterLinksOptions::command());
        match ClusterLinksOptions::try_parse_from(full) {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        }
    }

    fn usage_message(result: Result<LinkAction, CliError>) -> String {
        match result {
            Err(CliError::Usage(m)) => m,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn actions_and_required_arguments() {
        let o = options(&[
            "--bootstrap-server",
            "h:1",
            "--create",
            "--link",
            "l",
            "--config-file",
            "f",
        ]);
        assert_eq!(check_options(&o).ok(), Some(LinkAction::Create));
        // --bootstrap-server may come last, and Java-style single dashes work.
        let o = options(&["-list", "--bootstrap-server", "h:1"]);
        assert_eq!(check_options(&o).ok(), Some(LinkAction::List));
        let o = options(&["--describe", "--link", "l", "--bootstrap-server", "h:1"]);
        assert_eq!(check_options(&o).ok(), Some(LinkAction::Describe));
        assert_eq!(
            usage_message(check_options(&options(&["--list"]))),
            "Missing required argument \"[bootstrap-server]\""
        );
        assert!(
            usage_message(check_options(&options(&[
                "--bootstrap-server",
                "h:1",
                "--list",
                "--delete"
            ])))
            .starts_with("Command must include exactly one action")
        );
        assert_eq!(
            usage_message(check_options(&options(&[
                "--bootstrap-server",
                "h:1",
                "--delete"
            ]))),
            "Missing required argument \"[link]\""
        );
        assert_eq!(
            usage_message(check_options(&options(&[
                "--bootstrap-server",
                "h:1",
                "--list",
                "--force"
            ]))),
            "Option \"[list]\" can't be used with option \"[force]\""
        );
    }

    #[test]
    fn create_checks() {
        let base = ["--bootstrap-server", "h:1", "--create", "--link", "l"];
        let with = |extra: &[&str]| {
            let mut all: Vec<&str> = base.to_vec();
            all.extend_from_slice(extra);
            check_options(&options(&all))
        };
        assert_eq!(
            usage_message(with(&[])),
            "Command must include required configs for cluster link creation."
        );
        assert!(
            usage_message(with(&["--config", "a=b", "--config-file", "f"])).contains("Only one")
        );
        assert_eq!(
            usage_message(with(&[
                "--config",
                "bootstrap.servers=h:2",
                "--exclude-validate-link"
            ])),
            "Command must include --cluster-id if --exclude-validate-link is specified."
        );
        assert!(
            with(&[
                "--config",
                "bootstrap.servers=h:2",
                "--exclude-validate-link",
                "--cluster-id",
                "abc"
            ])
            .is_ok()
        );
        // Kafka cluster ids may start with '-'; option values are never rewritten.
        let o = options(&[
            "-create",
            "-link",
            "l",
            "-config",
            "a=b",
            "--cluster-id",
            "-NtqrIgvTtSQRZBuWCcChw",
            "-bootstrap-server",
            "h:1",
        ]);
        assert_eq!(o.cluster_id.as_deref(), Some("-NtqrIgvTtSQRZBuWCcChw"));
        assert_eq!(o.bootstrap_server.as_deref(), Some("h:1"));
        let o = options(&["--list", "--link", "-list", "--bootstrap-server", "h:1"]);
        assert_eq!(o.link.as_deref(), Some("-list"));
        assert!(
            usage_message(with(&[
                "--config",
                "a=b",
                "--topic-filters-json",
                "{}",
                "--topic-filters-json-file",
                "f"
            ]))
            .contains("Only one of --topic-filters-json")
        );
    }

    #[test]
    fn configs_come_from_flags_files_and_filters() {
        let dir = std::env::temp_dir().join(format!("strait-links-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let props = dir.join("link.properties");
        let groups = dir.join("groups.json");
        let acls = dir.join("acls.json");
        let written = std::fs::write(&props, "bootstrap.servers=a:1,b:2\nsasl.mechanism=PLAIN\n")
            .and_then(|_| {
                std::fs::write(
                    &groups,
                    "{\"groupFilters\": [{\"name\": \"*\", \"patternType\": \"LITERAL\"}]}\n",
                )
            })
            .and_then(|_| std::fs::write(&acls, "{\"aclFilters\": []}"));
        assert!(written.is_ok());
        let o = options(&[
            "--bootstrap-server",
            "h:1",
            "--create",
            "--link",
            "l",
            "--config-file",
            &props.to_string_lossy(),
            "--consumer-group-filters-json-file",
            &groups.to_string_lossy(),
            "--acl-filters-json-file",
            &acls.to_string_lossy(),
            "--topic-filters-json",
            "{\"topicFilters\": []}",
            "--cluster-id",
            "src",
            "--exclude-validate-link",
            "--validate-only",
        ]);
        let request = create_request(&o);
        let Ok(request) = request else {
            panic!("{request:?}")
        };
        assert_eq!(request.link_name, "l");
        assert_eq!(request.cluster_id.as_deref(), Some("src"));
        assert!(request.validate_only && !request.validate_link);
        let get = |k: &str| request.configs.get(k).map(String::as_str);
        assert_eq!(get("bootstrap.servers"), Some("a:1,b:2"));
        assert_eq!(get("sasl.mechanism"), Some("PLAIN"));
        assert_eq!(
            get("consumer.offset.group.filters"),
            Some("{\"groupFilters\": [{\"name\": \"*\", \"patternType\": \"LITERAL\"}]}")
        );
        assert_eq!(get("acl.filters"), Some("{\"aclFilters\": []}"));
        assert_eq!(
            get("auto.create.mirror.topics.filters"),
            Some("{\"topicFilters\": []}")
        );
        let _ = std::fs::remove_dir_all(&dir);

        let o = options(&[
            "--bootstrap-server",
            "h:1",
            "--create",
            "--link",
            "l",
            "--config",
            "bootstrap.servers=[a:1,b:2],metadata.max.age.ms=5000",
        ]);
        let configs = link_configs(&o);
        let Ok(configs) = configs else {
            panic!("{configs:?}")
        };
        assert_eq!(
            configs.get("bootstrap.servers").map(String::as_str),
            Some("a:1,b:2")
        );
        assert_eq!(configs.len(), 2);
        assert!(parse_config_map("bootstrap.servers").is_err());
        assert!(parse_config_map("=x").is_err());
        assert!(parse_config_map("a=b=c").is_err());
    }

    #[test]
    fn output_lines() {
        let id = "b11b6a16-faa6-4734-8b92-b8f38fcc9956";
        let mut link = ClusterLinkListing {
            link_name: "test-link".into(),
            link_id: id.into(),
            remote_cluster_id: Some("src".into()),
            local_cluster_id: "dst".into(),
            remote_cluster_available: true,
            link_state: "ACTIVE".into(),
            ..Default::default()
        };
        assert_eq!(
            list_line(&link),
            "Link name: 'test-link', link ID: 'sRtqFvqmRzSLkrjzj8yZVg', remote cluster ID: 'src', local cluster ID: 'dst', remote cluster available: 'true'"
        );
        link.topics = Some(vec!["a".into(), "b".into()]);
        assert!(list_line(&link).ends_with("remote cluster available: 'true', topics: [a, b]"));
        let configs = vec![
            LinkConfigEntry {
                name: "bootstrap.servers".into(),
                value: Some("h:1".into()),
                sensitive: false,
                read_only: false,
                source: "DYNAMIC_CLUSTER_LINK_CONFIG".into(),
            },
            LinkConfigEntry {
                name: "metadata.max.age.ms".into(),
                value: Some("300000".into()),
                sensitive: false,
                read_only: false,
                source: "DEFAULT_CONFIG".into(),
            },
            LinkConfigEntry {
                name: "sasl.jaas.config".into(),
                value: None,
                sensitive: true,
                read_only: false,
                source: "DYNAMIC_CLUSTER_LINK_CONFIG".into(),
            },
        ];
        let [first, second] = describe_lines(&link, &configs, Some((1, "broker-1".into())));
        assert_eq!(
            first,
            "Link name: 'test-link', link ID: 'sRtqFvqmRzSLkrjzj8yZVg', remote cluster ID: 'src', local cluster ID: 'dst', link mode: 'DESTINATION', connection mode: 'OUTBOUND', link state: 'ACTIVE', link coordinator id: '1', link coordinator host: 'broker-1', topics: [a, b]"
        );
        assert_eq!(
            second,
            "Configs: bootstrap.servers=h:1,sasl.jaas.config=null"
        );
        assert_eq!(link_id_text("not-a-uuid"), "not-a-uuid");

        link.tasks = vec![LinkTaskStatus {
            task: "AclSync".into(),
            state: "IN_ERROR".into(),
            last_success_ms: None,
            last_error: Some("denied".into()),
            last_error_ms: Some(0),
        }];
        let [line] = &task_lines(&link)[..] else {
            panic!("one task line expected");
        };
        assert!(
            line.starts_with("  Task: 'AclSync', state: 'IN_ERROR', last success time: 'null', last error time: '")
                && line.ends_with("', last error: 'denied'"),
            "{line}"
        );
    }
}
