//! `kafka-mirrors`: create, list and describe mirror topics and pause,
//! unpause, promote or fail them over, with Confluent's flags and output
//! lines (`Created topic T.`, the tab-separated CP 7.1 describe layout, the
//! "Request for stopping topic t's mirror ..." lines), and Strait's own
//! `--verify` (one tab-separated line per partition, exit 0 only when every
//! partition matches its source). It owns those flags,
//! their checks and the output format; it must never decide what a broker
//! decides (lag, states, which configs a mirror accepts) and reports every
//! whole-command failure as one line on stderr.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{CommandFactory, Parser};
use strait_client::admin::links::{
    AlterMirrorsRequest, CreateMirrorTopicRequest, DescribeMirrorsRequest, ListMirrorsRequest,
    MirrorDescription, MirrorOp, MirrorPartitionVerification, VerifyMirrorsRequest, VerifyResult,
};

use crate::cluster_links::{normalize_long_flags, one_line, parse_config_map};
use crate::invocation::{CliError, Console, block_on, client, client_config, parse_args};

/// Prefix of the error line of a failed command.
pub const ERROR_PREFIX: &str = "Error while executing mirror command: ";

/// Command-line options of `kafka-mirrors`, named as Confluent names them.
#[derive(Debug, Parser)]
#[command(
    name = "kafka-mirrors",
    about = "This tool creates, lists, describes and manages mirror topics of cluster links.",
    version,
    infer_long_args = true
)]
pub struct MirrorsOptions {
    /// REQUIRED: the server(s) of the destination cluster, host:port[,host:port].
    #[arg(long, value_name = "host:port", allow_hyphen_values = true)]
    pub bootstrap_server: Option<String>,
    /// Property file containing configs to be passed to Admin Client.
    #[arg(long, value_name = "file", allow_hyphen_values = true)]
    pub command_config: Option<PathBuf>,
    /// Creates a mirror topic.
    #[arg(long)]
    pub create: bool,
    /// Lists mirror topics.
    #[arg(long)]
    pub list: bool,
    /// Describes mirror topics.
    #[arg(long)]
    pub describe: bool,
    /// Pauses mirroring of the given topics.
    #[arg(long)]
    pub pause: bool,
    /// Resumes mirroring of the given topics.
    #[arg(long)]
    pub unpause: bool,
    /// Stops mirroring after checking that the mirror has no lag; the topics become writable.
    #[arg(long)]
    pub promote: bool,
    /// Stops mirroring at once; the topics become writable.
    #[arg(long)]
    pub failover: bool,
    /// Strait: compares each partition of the given mirrors with its source,
    /// batch by batch (offsets, record count, CRC); exit 0 only when all match.
    #[arg(long)]
    pub verify: bool,
    /// The name of the mirror topic to create.
    #[arg(long, value_name = "topic", allow_hyphen_values = true)]
    pub mirror_topic: Option<String>,
    /// The source topic to mirror (required when the link has a prefix).
    #[arg(long, value_name = "topic", allow_hyphen_values = true)]
    pub source_topic: Option<String>,
    /// The cluster link (to create over, or to filter on).
    #[arg(
        long,
        alias = "link-name",
        value_name = "link name",
        allow_hyphen_values = true
    )]
    pub link: Option<String>,
    /// The replication factor of the mirror topic (default: the destination cluster's).
    #[arg(long, value_name = "replication factor", allow_hyphen_values = true)]
    pub replication_factor: Option<String>,
    /// Topic configs to override on the mirror, 'k1=v1,k2=[v1,v2]'.
    #[arg(long, allow_hyphen_values = true, value_name = "key=value,...")]
    pub config: Option<String>,
    /// Comma-separated mirror topics to act on or describe.
    #[arg(long, value_name = "topic,...", allow_hyphen_values = true)]
    pub topics: Option<String>,
    /// Also list or describe topics whose mirroring was stopped by promote or failover.
    #[arg(long)]
    pub include_stopped: bool,
    /// With --describe: only topics still in PENDING_STOPPED.
    #[arg(long)]
    pub pending_stopped_only: bool,
    /// Only validate the action; change nothing.
    #[arg(long)]
    pub validate_only: bool,
}

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorAction {
    Create,
    List,
    Describe,
    Verify,
    Alter(MirrorOp),
}

impl MirrorAction {
    fn flag(self) -> &'static str {
        match self {
            MirrorAction::Create => "create",
            MirrorAction::List => "list",
            MirrorAction::Describe => "describe",
            MirrorAction::Verify => "verify",
            MirrorAction::Alter(MirrorOp::Pause) => "pause",
            MirrorAction::Alter(MirrorOp::Unpause) => "unpause",
            MirrorAction::Alter(MirrorOp::Promote) => "promote",
            MirrorAction::Alter(MirrorOp::Failover) => "failover",
        }
    }
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

/// `a,b,,c` into `[a, b, c]`, trimmed, duplicates dropped, order kept.
pub fn split_topics(text: &str) -> Vec<String> {
    let mut topics: Vec<String> = Vec::new();
    for t in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if !topics.iter().any(|x| x == t) {
            topics.push(t.to_string());
        }
    }
    topics
}

/// The action, after the argument checks.
pub fn check_options(o: &MirrorsOptions) -> Result<MirrorAction, CliError> {
    if o.bootstrap_server.is_none() {
        return Err(usage("Missing required argument \"[bootstrap-server]\""));
    }
    let actions = [
        (o.create, MirrorAction::Create),
        (o.list, MirrorAction::List),
        (o.describe, MirrorAction::Describe),
        (o.pause, MirrorAction::Alter(MirrorOp::Pause)),
        (o.unpause, MirrorAction::Alter(MirrorOp::Unpause)),
        (o.promote, MirrorAction::Alter(MirrorOp::Promote)),
        (o.failover, MirrorAction::Alter(MirrorOp::Failover)),
        (o.verify, MirrorAction::Verify),
    ];
    let chosen: Vec<MirrorAction> = actions
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, a)| *a)
        .collect();
    let [action] = chosen[..] else {
        return Err(usage(
            "Command must include exactly one action: --create, --list, --describe, --pause, --unpause, --promote, --failover, or --verify.",
        ));
    };
    let create_only = [
        ("mirror-topic", o.mirror_topic.is_some()),
        ("source-topic", o.source_topic.is_some()),
        ("replication-factor", o.replication_factor.is_some()),
        ("config", o.config.is_some()),
    ];
    let is_alter = matches!(action, MirrorAction::Alter(_));
    let others = [
        (
            "link",
            o.link.is_some(),
            !is_alter, // create, list, describe and verify take --link
        ),
        (
            "topics",
            o.topics.is_some(),
            action != MirrorAction::Create && action != MirrorAction::List,
        ),
        (
            "include-stopped",
            o.include_stopped,
            matches!(action, MirrorAction::List | MirrorAction::Describe),
        ),
        (
            "pending-stopped-only",
            o.pending_stopped_only,
            action == MirrorAction::Describe,
        ),
        (
            "validate-only",
            o.validate_only,
            action == MirrorAction::Create || is_alter,
        ),
    ];
    let flag = action.flag();
    for (name, on) in create_only {
        if on && action != MirrorAction::Create {
            return Err(usage(format!(
                "Option \"[{flag}]\" can't be used with option \"[{name}]\""
            )));
        }
    }
    for (name, on, allowed) in others {
        if on && !allowed {
            if name == "link" && o.topics.is_some() {
                return Err(usage("Cannot specify both --topics and --link."));
            }
            return Err(usage(format!(
                "Option \"[{flag}]\" can't be used with option \"[{name}]\""
            )));
        }
    }
    match action {
        MirrorAction::Create => {
            if o.mirror_topic.is_none() {
                return Err(usage("Missing required argument \"[mirror-topic]\""));
            }
            if o.link.is_none() {
                return Err(usage("Missing required argument \"[link]\""));
            }
        }
        MirrorAction::Alter(_) | MirrorAction::Verify => {
            let topics = o.topics.as_deref().map(split_topics).unwrap_or_default();
            if topics.is_empty() {
                return Err(usage("Missing required argument \"[topics]\""));
            }
        }
        MirrorAction::List | MirrorAction::Describe => {}
    }
    Ok(action)
}

/// The CreateMirrorTopic request the options describe.
pub fn create_request(o: &MirrorsOptions) -> Result<CreateMirrorTopicRequest, CliError> {
    let replication_factor = match &o.replication_factor {
        None => None,
        Some(text) => Some(text.trim().parse::<i16>().map_err(|_| {
            CliError::Command(format!(
                "Invalid replication factor '{text}': it must be a number."
            ))
        })?),
    };
    let configs = match &o.config {
        Some(text) => parse_config_map(text)?,
        None => Default::default(),
    };
    Ok(CreateMirrorTopicRequest {
        mirror_topic: o.mirror_topic.clone().unwrap_or_default(),
        link_name: o.link.clone().unwrap_or_default(),
        source_topic: o.source_topic.clone(),
        replication_factor,
        configs,
        validate_only: o.validate_only,
    })
}

/// `yyyy-MM-dd HH:mm:ss` in local time, as Confluent prints StateTime.
pub fn format_state_time(epoch_ms: i64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_millis_opt(epoch_ms) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        }
        chrono::LocalResult::None => epoch_ms.to_string(),
    }
}

/// The describe lines of one mirror: the topic line, then one per partition
/// (CP 7.1 layout, tab-separated).
pub fn describe_lines(mirror: &MirrorDescription, state_time: &str) -> Vec<String> {
    let mut lines = vec![format!(
        "Topic: {}\tLinkName: {}\tLinkId: {}\tMirrorTopic: {}\tState: {}\tStateTime: {state_time}",
        mirror.mirror_topic, mirror.link_name, mirror.link_id, mirror.source_topic, mirror.state
    )];
    for p in &mirror.partitions {
        let mut line = format!(
            "\tPartition: {}\tState: {}\tDestLogEndOffset: {}\tLastFetchSourceHighWatermark: {}\tLag: {}\tTimeSinceLastFetchMs: {}",
            p.partition,
            p.state,
            p.dest_log_end_offset,
            p.last_fetch_source_high_watermark,
            p.lag,
            p.time_since_last_fetch_ms
        );
        // Continuous verification, only when the link configures it.
        if let Some(v) = &p.verification {
            line.push_str(&format!(
                "\tLastVerifiedOffset: {}\tVerification: {}",
                v.last_verified_offset, v.result
            ));
            if let Some(offset) = v.first_different_offset {
                line.push_str(&format!("\tFirstDifferentOffset: {offset}"));
            }
        }
        lines.push(line);
    }
    lines
}

/// The `--verify` line of one partition (tab-separated, like `--describe`).
pub fn verify_line(v: &MirrorPartitionVerification) -> String {
    let range = if v.verified_to > v.verified_from {
        format!("{}-{}", v.verified_from, v.verified_to - 1)
    } else {
        "none".to_string()
    };
    let mut line = format!(
        "Topic: {}\tPartition: {}\tVerifiedOffsets: {range}\tBatches: {}\tResult: {}",
        v.topic,
        v.partition,
        v.batches,
        v.result.as_str()
    );
    if let Some(offset) = v.first_different_offset {
        line.push_str(&format!("\tFirstDifferentOffset: {offset}"));
    }
    if let Some(reason) = &v.reason {
        line.push_str(&format!("\tReason: {reason}"));
    }
    line
}

/// The line printed for one topic of an alter request that succeeded.
pub fn alter_success_line(op: MirrorOp, topic: &str, validate_only: bool) -> String {
    let verb = match op {
        MirrorOp::Pause => "pausing",
        MirrorOp::Unpause => "unpausing",
        MirrorOp::Promote | MirrorOp::Failover => "stopping",
    };
    if validate_only {
        return format!("Request for {verb} topic {topic}'s mirror was successfully validated.");
    }
    match op {
        MirrorOp::Promote | MirrorOp::Failover => format!(
            "Request for stopping topic {topic}'s mirror was successfully scheduled. Please use the describe command with the --pending-stopped-only option to monitor progress."
        ),
        _ => format!("Request for {verb} topic {topic}'s mirror was successfully scheduled."),
    }
}

/// The line printed for one topic of an alter request that failed.
pub fn alter_error_line(op: MirrorOp, topic: &str, message: &str) -> String {
    let verb = match op {
        MirrorOp::Pause => "pausing",
        MirrorOp::Unpause => "unpausing",
        MirrorOp::Promote | MirrorOp::Failover => "stopping",
    };
    format!("Error encountered while {verb} topic {topic}'s mirror: {message}")
}

/// Entry point used by the `kafka-mirrors` binary and by tests.
pub fn run(args: Vec<OsString>, console: &mut Console<'_>) -> i32 {
    let args = normalize_long_flags(args, &MirrorsOptions::command());
    let options: MirrorsOptions = match parse_args(args, console) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let result =
        check_options(&options).and_then(|action| block_on(execute(&options, action, console)));
    match result {
        Ok(code) => code,
        Err(err) if err.is_broken_pipe() => 0,
        Err(err) => {
            let _ = writeln!(console.err, "{ERROR_PREFIX}{}", one_line(&err));
            1
        }
    }
}

/// Runs the action; the exit code is 1 when some topic of an alter failed.
async fn execute(
    o: &MirrorsOptions,
    action: MirrorAction,
    console: &mut Console<'_>,
) -> Result<i32, CliError> {
    let bootstrap = o.bootstrap_server.as_deref().unwrap_or_default();
    let config = client_config(bootstrap, o.command_config.as_deref(), &[])?;
    let create = match action {
        MirrorAction::Create => Some(create_request(o)?),
        _ => None,
    };
    let client = client(config)?;
    match action {
        MirrorAction::Create => {
            let request = create.unwrap_or_default();
            client.create_mirror_topic(&request).await?;
            if o.validate_only {
                writeln!(
                    console.out,
                    "Mirror topic '{}' creation successfully validated.",
                    request.mirror_topic
                )?;
            } else {
                writeln!(console.out, "Created topic {}.", request.mirror_topic)?;
            }
        }
        MirrorAction::List => {
            let request = ListMirrorsRequest {
                link_name: o.link.clone(),
                include_stopped: o.include_stopped,
            };
            for topic in client.list_mirrors(&request).await? {
                writeln!(console.out, "{topic}")?;
            }
        }
        MirrorAction::Describe => {
            let request = DescribeMirrorsRequest {
                link_name: o.link.clone(),
                topics: o.topics.as_deref().map(split_topics),
                include_stopped: o.include_stopped || o.pending_stopped_only,
            };
            let mirrors: Vec<MirrorDescription> = client
                .describe_mirrors(&request)
                .await?
                .into_iter()
                .filter(|m| !o.pending_stopped_only || m.state == "PENDING_STOPPED")
                .collect();
            if mirrors.is_empty() {
                writeln!(console.out, "No mirror topics found.")?;
            }
            for mirror in &mirrors {
                for line in describe_lines(mirror, &format_state_time(mirror.state_time_ms)) {
                    writeln!(console.out, "{line}")?;
                }
            }
        }
        MirrorAction::Verify => {
            let request = VerifyMirrorsRequest {
                topics: o.topics.as_deref().map(split_topics).unwrap_or_default(),
                link_name: o.link.clone(),
            };
            let partitions = client.verify_mirrors(&request).await?;
            for p in &partitions {
                writeln!(console.out, "{}", verify_line(p))?;
            }
            let all_ok = partitions.iter().all(|p| p.result == VerifyResult::Ok);
            return Ok(if all_ok { 0 } else { 1 });
        }
        MirrorAction::Alter(op) => {
            let topics = o.topics.as_deref().map(split_topics).unwrap_or_default();
            let listed = format!("[{}]", topics.join(", "));
            if op == MirrorOp::Promote {
                writeln!(
                    console.out,
                    "Calculating max offset and ms lag for mirror topics: {listed}"
                )?;
            }
            let request = AlterMirrorsRequest {
                op,
                topics,
                validate_only: o.validate_only,
                link_name: o.link.clone(),
            };
            let results = client.alter_mirrors(&request).await?;
            if op == MirrorOp::Promote {
                writeln!(
                    console.out,
                    "Finished calculating max offset lag and max lag ms for mirror topics: {listed}"
                )?;
            }
            let mut failed = false;
            for (topic, outcome) in results {
                match outcome {
                    Ok(()) => writeln!(
                        console.out,
                        "{}",
                        alter_success_line(op, &topic, o.validate_only)
                    )?,
                    Err(err) => {
                        failed = true;
                        writeln!(
                            console.err,
                            "{}",
                            alter_error_line(op, &topic, &err.to_string())
                        )?;
                    }
                }
            }
            return Ok(if failed { 1 } else { 0 });
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use strait_client::admin::links::{
        MirrorPartitionDescription, MirrorPartitionVerificationStatus,
    };

    fn options(args: &[&str]) -> MirrorsOptions {
        let mut full = vec![OsString::from("kafka-mirrors")];
        full.extend(args.iter().map(OsString::from));
        let full = normalize_long_flags(full, &MirrorsOptions::command());
        match MirrorsOptions::try_parse_from(full) {
            Ok(o) => o,
            Err(e) => panic!("{e}"),
        }
    }

    fn usage_message(result: Result<MirrorAction, CliError>) -> String {
        match result {
            Err(CliError::Usage(m)) => m,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn actions_and_checks() {
        let o = options(&[
            "--create",
            "--mirror-topic",
            "t",
            "--link",
            "l",
            "--bootstrap-server",
            "h:1",
        ]);
        assert_eq!(check_options(&o).ok(), Some(MirrorAction::Create));
        let o = options(&[
            "--bootstrap-server",
            "h:1",
            "--failover",
            "--topics",
            "a,b",
            "--validate-only",
        ]);
        assert_eq!(
            check_options(&o).ok(),
            Some(MirrorAction::Alter(MirrorOp::Failover))
        );
        let o = options(&["-describe", "-link", "l", "--bootstrap-server", "h:1"]);
        assert_eq!(check_options(&o).ok(), Some(MirrorAction::Describe));
        assert_eq!(
            usage_message(check_options(&options(&[
                "--bootstrap-server",
                "h:1",
                "--promote"
            ]))),
            "Missing required argument \"[topics]\""
        );
        assert_eq!(
            usage_message(check_options(&options(&[
                "--bootstrap-server",
                "h:1",
                "--promote",
                "--topics",
                "a",
                "--link",
                "l"
            ]))),
            "Cannot specify both --topics and --link."
        );
        assert_eq!(
            usage_message(check_options(&options(&[
                "--bootstrap-server",
                "h:1",
                "--create",
                "--link",
                "l"
            ]))),
            "Missing required argument \"[mirror-topic]\""
        );
        assert_eq!(
            usage_message(check_options(&options(&[
                "--bootstrap-server",
                "h:1",
                "--list",
                "--pending-stopped-only"
            ]))),
            "Option \"[list]\" can't be used with option \"[pending-stopped-only]\""
        );
        assert!(
            usage_message(check_options(&options(&[
                "--bootstrap-server",
                "h:1",
                "--pause",
                "--unpause",
                "--topics",
                "a"
            ])))
            .starts_with("Command must include exactly one action")
        );
    }

    #[test]
    fn verify_takes_topics_and_a_link() {
        let o = options(&[
            "--bootstrap-server",
            "h:1",
            "--verify",
            "--topics",
            "a,b",
            "--link",
            "l",
        ]);
        assert_eq!(check_options(&o).unwrap(), MirrorAction::Verify);
        let o = options(&["--bootstrap-server", "h:1", "--verify"]);
        assert_eq!(
            usage_message(check_options(&o)),
            "Missing required argument \"[topics]\""
        );
        let o = options(&[
            "--bootstrap-server",
            "h:1",
            "--verify",
            "--topics",
            "a",
            "--validate-only",
        ]);
        assert!(usage_message(check_options(&o)).contains("[validate-only]"));
    }

    #[test]
    fn verify_lines() {
        let mut v = MirrorPartitionVerification {
            topic: "t".into(),
            partition: 0,
            verified_from: 0,
            verified_to: 1234,
            batches: 57,
            result: VerifyResult::Ok,
            first_different_offset: None,
            reason: None,
        };
        assert_eq!(
            verify_line(&v),
            "Topic: t\tPartition: 0\tVerifiedOffsets: 0-1233\tBatches: 57\tResult: OK"
        );
        v.result = VerifyResult::Mismatch;
        v.first_different_offset = Some(789);
        v.reason = Some("crc 0x00000001 != source 0x00000002".into());
        assert_eq!(
            verify_line(&v),
            "Topic: t\tPartition: 0\tVerifiedOffsets: 0-1233\tBatches: 57\tResult: MISMATCH\tFirstDifferentOffset: 789\tReason: crc 0x00000001 != source 0x00000002"
        );
        v.verified_to = 0;
        assert!(verify_line(&v).contains("VerifiedOffsets: none"));
    }

    #[test]
    fn create_request_parsing() {
        let o = options(&[
            "--bootstrap-server",
            "h:1",
            "--create",
            "--mirror-topic",
            "pfx.t",
            "--source-topic",
            "t",
            "--link",
            "l",
            "--replication-factor",
            "1",
            "--config",
            "retention.ms=1000,confluent.placement.constraints=[a,b]",
        ]);
        let request = create_request(&o);
        let Ok(request) = request else {
            panic!("{request:?}")
        };
        assert_eq!(request.mirror_topic, "pfx.t");
        assert_eq!(request.source_topic.as_deref(), Some("t"));
        assert_eq!(request.replication_factor, Some(1));
        assert_eq!(
            request
                .configs
                .get("confluent.placement.constraints")
                .map(String::as_str),
            Some("a,b")
        );
        let o = options(&[
            "--bootstrap-server",
            "h:1",
            "--create",
            "--mirror-topic",
            "t",
            "--link",
            "l",
            "--replication-factor",
            "x",
        ]);
        assert!(create_request(&o).is_err());
        assert_eq!(split_topics(" a, b,,a ,c"), vec!["a", "b", "c"]);
    }

    #[test]
    fn output_lines() {
        let mirror = MirrorDescription {
            mirror_topic: "t".into(),
            source_topic: "t".into(),
            link_name: "l".into(),
            link_id: "id".into(),
            state: "ACTIVE".into(),
            state_time_ms: 0,
            reason: None,
            partitions: vec![MirrorPartitionDescription {
                partition: 0,
                state: "ACTIVE".into(),
                dest_log_end_offset: 194,
                last_fetch_source_high_watermark: 194,
                lag: 0,
                time_since_last_fetch_ms: 99792,
                verification: None,
            }],
        };
        assert_eq!(
            describe_lines(&mirror, "2022-05-20 23:12:02"),
            vec![
                "Topic: t\tLinkName: l\tLinkId: id\tMirrorTopic: t\tState: ACTIVE\tStateTime: 2022-05-20 23:12:02".to_string(),
                "\tPartition: 0\tState: ACTIVE\tDestLogEndOffset: 194\tLastFetchSourceHighWatermark: 194\tLag: 0\tTimeSinceLastFetchMs: 99792".to_string(),
            ]
        );
        let mut verified = mirror.clone();
        verified.partitions[0].verification = Some(MirrorPartitionVerificationStatus {
            last_verified_offset: 150,
            result: "MISMATCH".into(),
            first_different_offset: Some(151),
            reason: Some("crc differs".into()),
            verified_time_ms: 1,
        });
        assert_eq!(
            describe_lines(&verified, "2022-05-20 23:12:02")[1],
            "\tPartition: 0\tState: ACTIVE\tDestLogEndOffset: 194\tLastFetchSourceHighWatermark: 194\tLag: 0\tTimeSinceLastFetchMs: 99792\tLastVerifiedOffset: 150\tVerification: MISMATCH\tFirstDifferentOffset: 151"
        );
        assert_eq!(format_state_time(0).len(), 19);
        assert_eq!(
            alter_success_line(MirrorOp::Promote, "t", false),
            "Request for stopping topic t's mirror was successfully scheduled. Please use the describe command with the --pending-stopped-only option to monitor progress."
        );
        assert_eq!(
            alter_success_line(MirrorOp::Pause, "t", false),
            "Request for pausing topic t's mirror was successfully scheduled."
        );
        assert_eq!(
            alter_error_line(
                MirrorOp::Failover,
                "t",
                "Topic 't' has already stopped its mirror from 'l'"
            ),
            "Error encountered while stopping topic t's mirror: Topic 't' has already stopped its mirror from 'l'"
        );
    }
}
