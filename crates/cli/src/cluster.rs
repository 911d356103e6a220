//! `kafka-cluster`: the `cluster-id` and `unregister` subcommands with Kafka's
//! ClusterTool flags (`--bootstrap-server/-b`, `--config/-c`, also accepting
//! `--command-config`) and messages. It must never cache anything between runs.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use strait_client::kafka_protocol::ResponseError;

use crate::invocation::{
    CliError, Console, block_on, client, client_config, exit_code, parse_args,
};

/// Command-line options of `kafka-cluster`.
#[derive(Debug, Parser)]
#[command(
    name = "kafka-cluster",
    about = "The Kafka cluster tool.",
    version,
    infer_long_args = true
)]
pub struct ClusterOptions {
    #[command(subcommand)]
    pub command: ClusterCommand,
}

/// The tool's subcommands.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Get information about the ID of a cluster.
    #[command(name = "cluster-id")]
    ClusterId(ConnectionArgs),
    /// Unregister a broker.
    Unregister {
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The ID of the broker to unregister.
        #[arg(long, short = 'i', allow_hyphen_values = true)]
        id: i32,
    },
}

/// How to reach the cluster.
#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// A list of host/port pairs to use for establishing the connection to the Kafka cluster.
    #[arg(long, short = 'b')]
    pub bootstrap_server: Option<String>,
    /// A list of host/port pairs to use for establishing the connection to the KRaft controllers.
    #[arg(long, short = 'C')]
    pub bootstrap_controller: Option<String>,
    /// A property file containing configurations for the Admin client.
    #[arg(long, short = 'c', alias = "command-config")]
    pub config: Option<PathBuf>,
}

/// Entry point used by the `kafka-cluster` binary and by tests.
pub fn run(args: Vec<OsString>, console: &mut Console<'_>) -> i32 {
    let options: ClusterOptions = match parse_args(args, console) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let result = block_on(execute(&options, console));
    exit_code(result, console)
}

fn connection_config(args: &ConnectionArgs) -> Result<strait_client::ClientConfig, CliError> {
    match (&args.bootstrap_server, &args.bootstrap_controller) {
        (Some(_), Some(_)) => Err(CliError::Usage(
            "argument --bootstrap-controller/-C: not allowed with argument --bootstrap-server/-b"
                .to_string(),
        )),
        (None, Some(_)) => Err(CliError::Usage(
            "--bootstrap-controller: Strait brokers have no separate controller listener; use --bootstrap-server"
                .to_string(),
        )),
        (None, None) => Err(CliError::Usage(
            "one of the arguments --bootstrap-server/-b --bootstrap-controller/-C is required"
                .to_string(),
        )),
        (Some(bootstrap), None) => client_config(bootstrap, args.config.as_deref(), &[]),
    }
}

async fn execute(options: &ClusterOptions, console: &mut Console<'_>) -> Result<(), CliError> {
    match &options.command {
        ClusterCommand::ClusterId(connection) => {
            let client = client(connection_config(connection)?)?;
            let cluster = client.describe_cluster().await?;
            match cluster.cluster_id {
                Some(id) => writeln!(console.out, "Cluster ID: {id}")?,
                None => writeln!(
                    console.out,
                    "No cluster ID found. The Kafka version is probably too old."
                )?,
            }
        }
        ClusterCommand::Unregister { connection, id } => {
            let client = client(connection_config(connection)?)?;
            match client.unregister_broker(*id).await {
                Ok(()) => writeln!(console.out, "Broker {id} is no longer registered.")?,
                Err(strait_client::ClientError::UnsupportedVersion { .. }) => writeln!(
                    console.out,
                    "The target cluster does not support the broker unregistration API."
                )?,
                Err(err) if err.server_error() == Some(ResponseError::UnsupportedVersion) => {
                    writeln!(
                        console.out,
                        "The target cluster does not support the broker unregistration API."
                    )?
                }
                Err(err) => return Err(err.into()),
            }
        }
    }
    Ok(())
}
