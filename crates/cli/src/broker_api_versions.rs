//! `kafka-broker-api-versions`: every broker of the cluster with the API
//! versions it advertises, in Kafka's BrokerApiVersionsCommand format
//! (`host:port (id: 1 rack: null isFenced: false) -> (` then one
//! `Name(key): min to max [usable: v]` line per API, in key order, APIs of
//! a broker listener it does not advertise as `UNSUPPORTED`). Strait's link
//! admin APIs are named too. It must never change anything on a broker.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;
use strait_client::kafka_protocol::messages::ApiKey;
use strait_client::kafka_protocol::protocol::VersionRange;
use strait_client::{BrokerInfo, Connection};
use strait_protocol::admin::AdminApi;

use crate::invocation::{
    CliError, Console, block_on, client, client_config, exit_code, parse_args,
};

/// Command-line options of `kafka-broker-api-versions`.
#[derive(Debug, Parser)]
#[command(
    name = "kafka-broker-api-versions",
    about = "This tool helps to retrieve broker version information.",
    version,
    infer_long_args = true
)]
pub struct BrokerApiVersionsOptions {
    /// REQUIRED: The server to connect to.
    #[arg(long)]
    pub bootstrap_server: Option<String>,
    /// A property file containing configs to be passed to Admin Client.
    #[arg(long)]
    pub command_config: Option<PathBuf>,
}

/// Entry point used by the `kafka-broker-api-versions` binary and by tests.
pub fn run(args: Vec<OsString>, console: &mut Console<'_>) -> i32 {
    let options: BrokerApiVersionsOptions = match parse_args(args, console) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let result = block_on(execute(&options, console));
    exit_code(result, console)
}

async fn execute(
    options: &BrokerApiVersionsOptions,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let Some(bootstrap) = &options.bootstrap_server else {
        return Err(CliError::Usage(
            "Missing required argument \"[bootstrap-server]\"".to_string(),
        ));
    };
    let config = client_config(bootstrap, options.command_config.as_deref(), &[])?;
    let client = client(config.clone())?;
    let metadata = client.refresh_brokers().await?;
    let mut brokers: Vec<BrokerInfo> = metadata.brokers.values().cloned().collect();
    brokers.sort_by_key(|b| b.id);
    for broker in brokers {
        // Each broker's own answer, over a connection of its own, as the
        // Java tool asks every node.
        let node = node_text(&broker);
        match Connection::connect(&broker.address(), &config).await {
            Ok(connection) => {
                let text = versions_text(connection.broker_api_versions());
                connection.close();
                writeln!(console.out, "{node} -> {text}")?;
            }
            Err(e) => writeln!(console.out, "{node} -> ERROR: {e}")?,
        }
    }
    Ok(())
}

/// Kafka's `Node.toString()`.
fn node_text(broker: &BrokerInfo) -> String {
    format!(
        "{}:{} (id: {} rack: {} isFenced: false)",
        broker.host,
        broker.port,
        broker.id,
        broker.rack.as_deref().unwrap_or("null")
    )
}

/// Kafka's `NodeApiVersions.toString(true)`: the advertised APIs and the
/// broker-listener APIs missing from them, in key order, one per line.
fn versions_text(advertised: &BTreeMap<i16, VersionRange>) -> String {
    let mut lines: BTreeMap<i16, String> = advertised
        .iter()
        .map(|(key, range)| (*key, api_line(*key, *range)))
        .collect();
    for api in strait_protocol::versions::broker_apis() {
        let key = api as i16;
        lines
            .entry(key)
            .or_insert_with(|| format!("{api:?}({key}): UNSUPPORTED"));
    }
    let body: Vec<String> = lines.into_values().collect();
    format!("(\n\t{}\n)", body.join(",\n\t"))
}

/// One advertised API: its name, the broker's range, and the newest
/// version both the broker and this tool speak.
fn api_line(key: i16, broker: VersionRange) -> String {
    let range = if broker.min == broker.max {
        broker.min.to_string()
    } else {
        format!("{} to {}", broker.min, broker.max)
    };
    let ours = match ApiKey::try_from(key) {
        Ok(api) => Some((format!("{api:?}"), api.valid_versions())),
        Err(_) => AdminApi::from_key(key).map(|api| {
            (
                format!("{api:?}"),
                VersionRange {
                    min: 0,
                    max: AdminApi::MAX_VERSION,
                },
            )
        }),
    };
    match ours {
        None => format!("UNKNOWN({key}): {range}"),
        Some((name, ours)) => {
            let usable = if ours.max < broker.min {
                " [unusable: node too new]".to_string()
            } else if broker.max < ours.min {
                " [unusable: node too old]".to_string()
            } else {
                format!(" [usable: {}]", ours.max.min(broker.max))
            };
            format!("{name}({key}): {range}{usable}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(min: i16, max: i16) -> VersionRange {
        VersionRange { min, max }
    }

    #[test]
    fn lines_follow_kafkas_node_api_versions() {
        let ours_max = ApiKey::Produce.valid_versions().max;
        assert_eq!(
            api_line(0, range(3, ours_max)),
            format!("Produce(0): 3 to {ours_max} [usable: {ours_max}]")
        );
        assert_eq!(
            api_line(0, range(3, ours_max + 5)),
            format!("Produce(0): 3 to {} [usable: {ours_max}]", ours_max + 5)
        );
        assert_eq!(
            api_line(0, range(ours_max + 1, ours_max + 2)),
            format!(
                "Produce(0): {} to {} [unusable: node too new]",
                ours_max + 1,
                ours_max + 2
            )
        );
        assert_eq!(api_line(18, range(2, 2)), "ApiVersions(18): 2 [usable: 2]");
        assert_eq!(
            api_line(32001, range(0, 0)),
            "CreateClusterLink(32001): 0 [usable: 0]"
        );
        assert_eq!(api_line(31999, range(0, 3)), "UNKNOWN(31999): 0 to 3");
    }

    #[test]
    fn missing_broker_apis_are_unsupported_and_all_in_key_order() {
        let mut advertised = BTreeMap::new();
        advertised.insert(18, range(0, 4));
        advertised.insert(0, range(3, 13));
        let text = versions_text(&advertised);
        assert!(text.starts_with("(\n\tProduce(0): 3 to 13"), "{text}");
        assert!(text.ends_with("\n)"), "{text}");
        assert!(text.contains(",\n\tFetch(1): UNSUPPORTED,\n\t"), "{text}");
        assert!(text.contains("ElectLeaders(43): UNSUPPORTED"), "{text}");
        let keys: Vec<i16> = text
            .lines()
            .filter_map(|l| l.split_once('(').and_then(|(_, r)| r.split_once(')')))
            .filter_map(|(k, _)| k.parse().ok())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert!(!keys.is_empty());
    }

    #[test]
    fn nodes_print_as_kafka_prints_them() {
        let b = BrokerInfo {
            id: 3,
            host: "127.0.0.1".into(),
            port: 9092,
            rack: None,
        };
        assert_eq!(
            node_text(&b),
            "127.0.0.1:9092 (id: 3 rack: null isFenced: false)"
        );
    }
}
