//! `kafka-acls`: add, remove and list ACLs with Apache Kafka's AclCommand
//! flags (`--add/--remove/--list`, `--allow-principal`, `--deny-principal`,
//! `--allow-host`, `--deny-host`, `--operation`, `--topic`, `--group`,
//! `--cluster`, `--transactional-id`, `--resource-pattern-type`,
//! `--producer`, `--consumer`, `--idempotent`, `--force`, ...), its argument
//! checks, its confirmation prompt and its output texts. It owns those; it
//! must never decide what an ACL grants (brokers do) and reports every
//! failure as one line on stderr.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::BufRead;
use std::path::PathBuf;

use clap::Parser;
use strait_client::KafkaClient;
use strait_client::admin::acls::{
    AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter, AclOperation,
    AclPermissionType, CLUSTER_NAME, PatternType, ResourcePattern, ResourcePatternFilter,
    ResourceType,
};

use crate::invocation::{CliError, Console, block_on, client, client_config, parse_args};

/// Prefix of a failed command's error line, as Kafka's AclCommand prints it.
pub const ERROR_PREFIX: &str = "Error while executing ACL command: ";

/// Command-line options of `kafka-acls`, named as Kafka names them.
#[derive(Debug, Parser)]
#[command(
    name = "kafka-acls",
    about = "This tool helps to manage acls on kafka.",
    version,
    infer_long_args = true
)]
pub struct AclsOptions {
    /// A list of host/port pairs to use for establishing the connection to the Kafka cluster.
    #[arg(long, value_name = "server to connect to")]
    pub bootstrap_server: Option<String>,
    /// A list of host/port pairs to use for establishing the connection to the KRaft controllers.
    #[arg(long, value_name = "controller to connect to")]
    pub bootstrap_controller: Option<String>,
    /// A property file containing configs to be passed to Admin Client.
    #[arg(long, value_name = "command-config")]
    pub command_config: Option<PathBuf>,
    /// Indicates you are trying to add ACLs.
    #[arg(long)]
    pub add: bool,
    /// Indicates you are trying to remove ACLs.
    #[arg(long)]
    pub remove: bool,
    /// List ACLs for the specified resource, use --topic <topic> or --group <group> or --cluster to specify a resource.
    #[arg(long)]
    pub list: bool,
    /// Topic to which ACLs should be added or removed. A value of '*' indicates ACL should apply to all topics.
    #[arg(long, value_name = "topic")]
    pub topic: Vec<String>,
    /// Add/Remove cluster ACLs.
    #[arg(long)]
    pub cluster: bool,
    /// Consumer Group to which the ACLs should be added or removed. A value of '*' indicates the ACLs should apply to all groups.
    #[arg(long, value_name = "group")]
    pub group: Vec<String>,
    /// The transactionalId to which ACLs should be added or removed. A value of '*' indicates the ACLs should apply to all transactionalIds.
    #[arg(long, value_name = "transactional-id")]
    pub transactional_id: Vec<String>,
    /// Enable idempotence for the producer. This should be used in combination with the --producer option.
    #[arg(long)]
    pub idempotent: bool,
    /// Delegation token to which ACLs should be added or removed. A value of '*' indicates ACL should apply to all tokens.
    #[arg(long, value_name = "delegation-token")]
    pub delegation_token: Vec<String>,
    /// The type of the resource pattern or pattern filter: literal or prefixed when adding; also any or match when listing or removing.
    #[arg(
        long,
        value_name = "ANY|MATCH|LITERAL|PREFIXED",
        default_value = "LITERAL"
    )]
    pub resource_pattern_type: String,
    /// Operation that is being allowed or denied (repeatable). Default: All.
    #[arg(long, value_name = "operation")]
    pub operation: Vec<String>,
    /// principal is in principalType:name format. User:'*' is the wild card indicating all users.
    #[arg(long, value_name = "allow-principal")]
    pub allow_principal: Vec<String>,
    /// principal is in principalType:name format. DENY RULES TAKE PRECEDENCE OVER ALLOW RULES.
    #[arg(long, value_name = "deny-principal")]
    pub deny_principal: Vec<String>,
    /// List ACLs for the specified principal (repeatable; only with --list).
    #[arg(long, value_name = "principal")]
    pub principal: Vec<String>,
    /// Host from which principals listed in --allow-principal will have access. Default: '*'.
    #[arg(long, value_name = "allow-host")]
    pub allow_host: Vec<String>,
    /// Host from which principals listed in --deny-principal will be denied access. Default: '*'.
    #[arg(long, value_name = "deny-host")]
    pub deny_host: Vec<String>,
    /// Convenience option to add/remove ACLs for producer role: WRITE, DESCRIBE and CREATE on topic.
    #[arg(long)]
    pub producer: bool,
    /// Convenience option to add/remove ACLs for consumer role: READ, DESCRIBE on topic and READ on group.
    #[arg(long)]
    pub consumer: bool,
    /// Assume Yes to all queries and do not prompt.
    #[arg(long)]
    pub force: bool,
    /// Specifies a user principal as a resource in relation with the operation.
    #[arg(long, value_name = "user-principal")]
    pub user_principal: Vec<String>,
}

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclAction {
    Add,
    Remove,
    List,
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

/// Kafka's message for two options that cannot go together.
fn invalid_with(option: &str, other: &str) -> CliError {
    usage(format!(
        "Option \"[{option}]\" can't be used with option \"[{other}]\""
    ))
}

/// The action, after AclCommand's argument checks.
pub fn check_options(o: &AclsOptions) -> Result<AclAction, CliError> {
    match (&o.bootstrap_server, &o.bootstrap_controller) {
        (Some(_), Some(_)) => {
            return Err(usage(
                "Only one of --bootstrap-server or --bootstrap-controller must be specified",
            ));
        }
        (None, None) => {
            return Err(usage(
                "One of --bootstrap-server or --bootstrap-controller must be specified",
            ));
        }
        (None, Some(_)) => {
            return Err(usage(
                "--bootstrap-controller: Strait brokers have no separate controller listener; use --bootstrap-server",
            ));
        }
        (Some(_), None) => {}
    }
    let actions: Vec<AclAction> = [
        (o.add, AclAction::Add),
        (o.remove, AclAction::Remove),
        (o.list, AclAction::List),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, a)| a)
    .collect();
    let [action] = actions[..] else {
        return Err(usage(
            "Command must include exactly one action: --list, --add, --remove. ",
        ));
    };
    if o.list {
        for (name, on) in [
            ("producer", o.producer),
            ("consumer", o.consumer),
            ("allow-host", !o.allow_host.is_empty()),
            ("allow-principal", !o.allow_principal.is_empty()),
            ("deny-host", !o.deny_host.is_empty()),
            ("deny-principal", !o.deny_principal.is_empty()),
        ] {
            if on {
                return Err(invalid_with("list", name));
            }
        }
    }
    for (role, on) in [("producer", o.producer), ("consumer", o.consumer)] {
        if !on {
            continue;
        }
        for (name, given) in [
            ("operation", !o.operation.is_empty()),
            ("deny-principal", !o.deny_principal.is_empty()),
            ("deny-host", !o.deny_host.is_empty()),
        ] {
            if given {
                return Err(invalid_with(role, name));
            }
        }
    }
    if !o.principal.is_empty() && !o.list {
        return Err(usage(
            "The --principal option is only available if --list is set",
        ));
    }
    if o.producer && o.topic.is_empty() {
        return Err(usage("With --producer you must specify a --topic"));
    }
    if o.idempotent && !o.producer {
        return Err(usage(
            "The --idempotent option is only available if --producer is set",
        ));
    }
    if o.consumer
        && (o.topic.is_empty()
            || o.group.is_empty()
            || (!o.producer && (o.cluster || !o.transactional_id.is_empty())))
    {
        return Err(usage(
            "With --consumer you must specify a --topic and a --group and no --cluster or --transactional-id option should be specified.",
        ));
    }
    Ok(action)
}

fn pattern_type(o: &AclsOptions) -> Result<PatternType, CliError> {
    PatternType::parse(o.resource_pattern_type.trim()).ok_or_else(|| {
        usage(format!(
            "Unknown resource-pattern-type: {}",
            o.resource_pattern_type
        ))
    })
}

/// The resource filters the options name, in Kafka's order.
fn resource_filters(
    o: &AclsOptions,
    pattern: PatternType,
    die_if_none: bool,
) -> Result<Vec<ResourcePatternFilter>, CliError> {
    let mut out: Vec<ResourcePatternFilter> = Vec::new();
    let mut add = |resource_type, name: &str| {
        let f = ResourcePatternFilter {
            resource_type,
            name: Some(name.trim().to_string()),
            pattern_type: pattern,
        };
        if !out.contains(&f) {
            out.push(f);
        }
    };
    for t in &o.topic {
        add(ResourceType::Topic, t);
    }
    if pattern == PatternType::Literal && (o.cluster || o.idempotent) {
        add(ResourceType::Cluster, CLUSTER_NAME);
    }
    for g in &o.group {
        add(ResourceType::Group, g);
    }
    for id in &o.transactional_id {
        add(ResourceType::TransactionalId, id);
    }
    for t in &o.delegation_token {
        add(ResourceType::DelegationToken, t);
    }
    for u in &o.user_principal {
        add(ResourceType::User, u);
    }
    if out.is_empty() && die_if_none {
        return Err(usage(
            "You must provide at least one resource: --topic <topic> or --cluster or --group <group> or --delegation-token <Delegation Token ID>",
        ));
    }
    Ok(out)
}

/// Checks `Type:name` (Kafka's `SecurityUtils.parseKafkaPrincipal`).
fn principal(text: &str) -> Result<String, CliError> {
    let text = text.trim();
    if text.is_empty() || !text.contains(':') {
        return Err(CliError::Command(format!(
            "expected a string in format principalType:principalName but got {text}"
        )));
    }
    Ok(text.to_string())
}

/// The entries for `operations`: allowed principals from allowed hosts,
/// denied principals from denied hosts (hosts default to `*`).
fn entries(
    o: &AclsOptions,
    operations: &[AclOperation],
) -> Result<Vec<AccessControlEntry>, CliError> {
    let hosts = |given: &[String], principals: &[String]| -> Vec<String> {
        if !given.is_empty() {
            given.iter().map(|h| h.trim().to_string()).collect()
        } else if !principals.is_empty() {
            vec!["*".to_string()]
        } else {
            Vec::new()
        }
    };
    let mut out: Vec<AccessControlEntry> = Vec::new();
    for (principals, given_hosts, permission) in [
        (&o.allow_principal, &o.allow_host, AclPermissionType::Allow),
        (&o.deny_principal, &o.deny_host, AclPermissionType::Deny),
    ] {
        for p in principals {
            let p = principal(p)?;
            for operation in operations {
                for host in hosts(given_hosts, principals) {
                    let e = AccessControlEntry {
                        principal: p.clone(),
                        host,
                        operation: *operation,
                        permission_type: permission,
                    };
                    if !out.contains(&e) {
                        out.push(e);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The operations `--operation` names (ALL when none); unknown names are
/// kept as `None`, which the operation check then refuses.
fn cli_operations(o: &AclsOptions) -> Vec<Option<AclOperation>> {
    if o.operation.is_empty() {
        return vec![Some(AclOperation::All)];
    }
    o.operation
        .iter()
        .map(|op| AclOperation::parse(op.trim()).filter(|op| *op != AclOperation::Any))
        .collect()
}

/// Kafka's operations valid on a resource type.
fn supported_operations(t: ResourceType) -> &'static [AclOperation] {
    use AclOperation::*;
    match t {
        ResourceType::Topic => &[
            Read,
            Write,
            Create,
            Describe,
            Delete,
            Alter,
            DescribeConfigs,
            AlterConfigs,
        ],
        ResourceType::Group => &[Read, Describe, Delete, DescribeConfigs, AlterConfigs],
        ResourceType::Cluster => &[
            Create,
            ClusterAction,
            DescribeConfigs,
            AlterConfigs,
            IdempotentWrite,
            Alter,
            Describe,
        ],
        ResourceType::TransactionalId => &[Describe, Write],
        ResourceType::DelegationToken => &[Describe],
        ResourceType::User => &[CreateTokens, DescribeTokens],
        ResourceType::Any => &[],
    }
}

/// Kafka's Pascal-case operation name (`DescribeConfigs`), as its usage
/// messages print them.
fn pascal(op: AclOperation) -> String {
    op.name()
        .split('_')
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_string() + &chars.as_str().to_lowercase(),
                None => String::new(),
            }
        })
        .collect()
}

/// Resource filter -> entries to add or remove (empty: every entry), as
/// AclCommand's `getResourceFilterToAcls` builds them.
fn filter_to_entries(
    o: &AclsOptions,
    pattern: PatternType,
) -> Result<Vec<(ResourcePatternFilter, Vec<AccessControlEntry>)>, CliError> {
    let mut out: Vec<(ResourcePatternFilter, Vec<AccessControlEntry>)> = Vec::new();
    let mut merge = |filter: ResourcePatternFilter, acls: Vec<AccessControlEntry>| match out
        .iter_mut()
        .find(|(f, _)| *f == filter)
    {
        Some((_, existing)) => {
            for a in acls {
                if !existing.contains(&a) {
                    existing.push(a);
                }
            }
        }
        None => out.push((filter, acls)),
    };
    let filters = resource_filters(o, pattern, true)?;
    if !o.producer && !o.consumer {
        let operations = cli_operations(o);
        let known: Vec<AclOperation> = operations.iter().flatten().copied().collect();
        let acls = entries(o, &known)?;
        for f in &filters {
            let valid = supported_operations(f.resource_type);
            if operations
                .iter()
                .any(|op| op.is_none_or(|op| op != AclOperation::All && !valid.contains(&op)))
            {
                let names: Vec<String> = valid
                    .iter()
                    .copied()
                    .chain([AclOperation::All])
                    .map(pascal)
                    .collect();
                return Err(usage(format!(
                    "ResourceType {} only supports operations {}",
                    f.resource_type,
                    names.join(", ")
                )));
            }
            merge(f.clone(), acls.clone());
        }
    }
    if o.producer {
        let topic_acls = entries(
            o,
            &[
                AclOperation::Write,
                AclOperation::Describe,
                AclOperation::Create,
            ],
        )?;
        let txn_acls = entries(o, &[AclOperation::Write, AclOperation::Describe])?;
        for f in &filters {
            match f.resource_type {
                ResourceType::Topic => merge(f.clone(), topic_acls.clone()),
                ResourceType::TransactionalId => merge(f.clone(), txn_acls.clone()),
                _ => {}
            }
        }
        if o.idempotent {
            merge(
                ResourcePatternFilter {
                    resource_type: ResourceType::Cluster,
                    name: Some(CLUSTER_NAME.to_string()),
                    pattern_type: PatternType::Literal,
                },
                entries(o, &[AclOperation::IdempotentWrite])?,
            );
        }
    }
    if o.consumer {
        let topic_acls = entries(o, &[AclOperation::Read, AclOperation::Describe])?;
        let group_acls = entries(o, &[AclOperation::Read])?;
        for f in &filters {
            match f.resource_type {
                ResourceType::Topic => merge(f.clone(), topic_acls.clone()),
                ResourceType::Group => merge(f.clone(), group_acls.clone()),
                _ => {}
            }
        }
    }
    Ok(out)
}

/// Where the `--remove` confirmation is read from.
pub type Input<'a> = &'a mut dyn BufRead;

/// Entry point used by the `kafka-acls` binary and by tests; confirmations
/// are read from standard input.
pub fn run(args: Vec<OsString>, console: &mut Console<'_>) -> i32 {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    run_with_input(args, console, &mut input)
}

/// [`run`] with confirmations read from `input`.
pub fn run_with_input(args: Vec<OsString>, console: &mut Console<'_>, input: Input<'_>) -> i32 {
    let options: AclsOptions = match parse_args(args, console) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let result = check_options(&options)
        .and_then(|action| block_on(execute(&options, action, console, input)));
    match result {
        Ok(()) => 0,
        Err(err) if err.is_broken_pipe() => 0,
        Err(CliError::Usage(message)) => {
            let _ = writeln!(console.err, "{}", message.trim_end());
            1
        }
        Err(err) => {
            let text = err
                .to_string()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let _ = writeln!(console.err, "{ERROR_PREFIX}{text}");
            1
        }
    }
}

async fn execute(
    o: &AclsOptions,
    action: AclAction,
    console: &mut Console<'_>,
    input: Input<'_>,
) -> Result<(), CliError> {
    let pattern = pattern_type(o)?;
    // Every argument problem is reported before connecting.
    let plan = match action {
        AclAction::Add => {
            if matches!(pattern, PatternType::Any | PatternType::Match) {
                return Err(usage(format!(
                    "A '--resource-pattern-type' value of '{pattern}' is not valid when adding acls."
                )));
            }
            let plan = filter_to_entries(o, pattern)?;
            if plan.iter().any(|(_, acls)| acls.is_empty()) {
                return Err(usage(
                    "You must specify one of: --allow-principal, --deny-principal when trying to add ACLs.",
                ));
            }
            plan
        }
        AclAction::Remove => filter_to_entries(o, pattern)?,
        AclAction::List => Vec::new(),
    };
    let listed_principals: Vec<String> = o
        .principal
        .iter()
        .map(|p| principal(p))
        .collect::<Result<_, _>>()?;
    let bootstrap = o.bootstrap_server.as_deref().unwrap_or_default();
    let client = client(client_config(bootstrap, o.command_config.as_deref(), &[])?)?;
    match action {
        AclAction::Add => add(&client, plan, console).await,
        AclAction::Remove => remove(&client, o, plan, console, input).await,
        AclAction::List => {
            let filters = resource_filters(o, pattern, false)?;
            list(&client, &filters, &listed_principals, console).await
        }
    }
}

/// Kafka's block of entries: ` \t(entry)\n\t(entry) ` between two newlines.
fn entry_block(acls: &[AccessControlEntry]) -> String {
    let lines: Vec<String> = acls.iter().map(|a| format!("\t{a}")).collect();
    format!("\n {} \n", lines.join("\n"))
}

async fn add(
    client: &KafkaClient,
    plan: Vec<(ResourcePatternFilter, Vec<AccessControlEntry>)>,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    for (filter, acls) in plan {
        let pattern = ResourcePattern {
            resource_type: filter.resource_type,
            name: filter.name.clone().unwrap_or_default(),
            pattern_type: filter.pattern_type,
        };
        writeln!(
            console.out,
            "Adding ACLs for resource `{pattern}`: {}",
            entry_block(&acls)
        )?;
        let bindings: Vec<AclBinding> = acls
            .into_iter()
            .map(|entry| AclBinding {
                pattern: pattern.clone(),
                entry,
            })
            .collect();
        for result in client.create_acls(&bindings).await? {
            result?;
        }
    }
    Ok(())
}

fn confirm(
    o: &AclsOptions,
    prompt: &str,
    console: &mut Console<'_>,
    input: Input<'_>,
) -> Result<bool, CliError> {
    if o.force {
        return Ok(true);
    }
    writeln!(console.out, "{prompt}")?;
    console.out.flush()?;
    let mut answer = String::new();
    input.read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("y"))
}

async fn remove(
    client: &KafkaClient,
    o: &AclsOptions,
    plan: Vec<(ResourcePatternFilter, Vec<AccessControlEntry>)>,
    console: &mut Console<'_>,
    input: Input<'_>,
) -> Result<(), CliError> {
    for (filter, acls) in plan {
        let prompt = if acls.is_empty() {
            format!(
                "Are you sure you want to delete all ACLs for resource filter `{filter}`? (y/n)"
            )
        } else {
            format!(
                "Are you sure you want to remove ACLs: {} from resource filter `{filter}`? (y/n)",
                entry_block(&acls)
            )
        };
        if !confirm(o, &prompt, console, input)? {
            continue;
        }
        let filters: Vec<AclBindingFilter> = if acls.is_empty() {
            vec![AclBindingFilter {
                pattern: filter.clone(),
                entry: AccessControlEntryFilter::any(),
            }]
        } else {
            acls.iter()
                .map(|a| AclBindingFilter {
                    pattern: filter.clone(),
                    entry: AccessControlEntryFilter::from(a),
                })
                .collect()
        };
        for result in client.delete_acls(&filters).await? {
            result?;
        }
    }
    Ok(())
}

async fn list(
    client: &KafkaClient,
    filters: &[ResourcePatternFilter],
    principals: &[String],
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let mut bindings: Vec<AclBinding> = Vec::new();
    if filters.is_empty() {
        bindings = client.describe_acls(&AclBindingFilter::any()).await?;
    } else {
        for f in filters {
            let found = client
                .describe_acls(&AclBindingFilter {
                    pattern: f.clone(),
                    entry: AccessControlEntryFilter::any(),
                })
                .await?;
            bindings.extend(found);
        }
    }
    let mut by_resource: BTreeMap<ResourcePattern, Vec<AccessControlEntry>> = BTreeMap::new();
    for b in bindings {
        let entries = by_resource.entry(b.pattern).or_default();
        if !entries.contains(&b.entry) {
            entries.push(b.entry);
        }
    }
    if principals.is_empty() {
        print_resources(&by_resource, console)?;
    } else {
        for p in principals {
            writeln!(console.out, "ACLs for principal `{p}`")?;
            let mine: BTreeMap<ResourcePattern, Vec<AccessControlEntry>> = by_resource
                .iter()
                .map(|(r, acls)| {
                    (
                        r.clone(),
                        acls.iter().filter(|a| a.principal == *p).cloned().collect(),
                    )
                })
                .filter(|(_, acls): &(ResourcePattern, Vec<AccessControlEntry>)| !acls.is_empty())
                .collect();
            print_resources(&mine, console)?;
        }
    }
    Ok(())
}

fn print_resources(
    by_resource: &BTreeMap<ResourcePattern, Vec<AccessControlEntry>>,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    for (resource, acls) in by_resource {
        writeln!(
            console.out,
            "Current ACLs for resource `{resource}`: {}",
            entry_block(acls)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(args: &[&str]) -> AclsOptions {
        let argv = std::iter::once("kafka-acls").chain(args.iter().copied());
        match AclsOptions::try_parse_from(argv) {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        }
    }

    fn check_err(args: &[&str]) -> String {
        match check_options(&options(args)) {
            Ok(a) => panic!("{args:?} accepted as {a:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn argument_checks_are_kafkas() {
        assert_eq!(
            check_err(&["--list"]),
            "One of --bootstrap-server or --bootstrap-controller must be specified"
        );
        assert_eq!(
            check_err(&["--bootstrap-server", "h:1", "--add", "--list"]),
            "Command must include exactly one action: --list, --add, --remove. "
        );
        assert_eq!(
            check_err(&["--bootstrap-server", "h:1", "--list", "--producer"]),
            "Option \"[list]\" can't be used with option \"[producer]\""
        );
        assert_eq!(
            check_err(&["--bootstrap-server", "h:1", "--add", "--producer"]),
            "With --producer you must specify a --topic"
        );
        assert_eq!(
            check_err(&[
                "--bootstrap-server",
                "h:1",
                "--add",
                "--idempotent",
                "--topic",
                "t"
            ]),
            "The --idempotent option is only available if --producer is set"
        );
        assert!(
            check_err(&[
                "--bootstrap-server",
                "h:1",
                "--add",
                "--consumer",
                "--topic",
                "t"
            ])
            .starts_with("With --consumer you must specify a --topic and a --group")
        );
        assert_eq!(
            check_options(&options(&["--bootstrap-server", "h:1", "--list"])).ok(),
            Some(AclAction::List)
        );
    }

    #[test]
    fn entries_cover_principals_operations_and_hosts() {
        let o = options(&[
            "--bootstrap-server",
            "h:1",
            "--add",
            "--allow-principal",
            "User:alice",
            "--allow-principal",
            "User:bob",
            "--allow-host",
            "10.0.0.1",
            "--deny-principal",
            "User:eve",
            "--operation",
            "Read",
            "--operation",
            "Write",
            "--topic",
            "t",
        ]);
        let plan = filter_to_entries(&o, PatternType::Literal).unwrap_or_default();
        assert_eq!(plan.len(), 1);
        let (filter, acls) = &plan[0];
        assert_eq!(filter.name.as_deref(), Some("t"));
        assert_eq!(acls.len(), 6, "{acls:?}");
        assert!(acls.iter().any(|a| a.principal == "User:eve"
            && a.host == "*"
            && a.permission_type == AclPermissionType::Deny));
        assert!(
            acls.iter()
                .filter(|a| a.permission_type == AclPermissionType::Allow)
                .all(|a| a.host == "10.0.0.1")
        );
    }

    #[test]
    fn producer_and_consumer_roles() {
        let o = options(&[
            "--bootstrap-server",
            "h:1",
            "--add",
            "--allow-principal",
            "User:alice",
            "--producer",
            "--consumer",
            "--idempotent",
            "--topic",
            "t",
            "--group",
            "g",
            "--transactional-id",
            "tx",
        ]);
        let plan = filter_to_entries(&o, PatternType::Literal).unwrap_or_default();
        let ops = |t: ResourceType| -> Vec<AclOperation> {
            plan.iter()
                .filter(|(f, _)| f.resource_type == t)
                .flat_map(|(_, acls)| acls.iter().map(|a| a.operation))
                .collect()
        };
        assert_eq!(
            ops(ResourceType::Topic),
            vec![
                AclOperation::Write,
                AclOperation::Describe,
                AclOperation::Create,
                AclOperation::Read
            ]
        );
        assert_eq!(ops(ResourceType::Group), vec![AclOperation::Read]);
        assert_eq!(
            ops(ResourceType::TransactionalId),
            vec![AclOperation::Write, AclOperation::Describe]
        );
        assert_eq!(
            ops(ResourceType::Cluster),
            vec![AclOperation::IdempotentWrite]
        );
    }

    #[test]
    fn operations_are_checked_per_resource_type() {
        let o = options(&[
            "--bootstrap-server",
            "h:1",
            "--add",
            "--allow-principal",
            "User:alice",
            "--operation",
            "IdempotentWrite",
            "--topic",
            "t",
        ]);
        let err = filter_to_entries(&o, PatternType::Literal)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("ResourceType TOPIC only supports operations Read, Write, Create"),
            "{err}"
        );
        assert!(err.ends_with("DescribeConfigs, AlterConfigs, All"), "{err}");
    }

    #[test]
    fn entry_blocks_look_like_kafkas() {
        let e = AccessControlEntry {
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission_type: AclPermissionType::Allow,
        };
        assert_eq!(
            entry_block(&[e]),
            "\n \t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW) \n"
        );
    }
}
