//! `strait-bench`: benchmarks that start real `strait server` processes on
//! 127.0.0.1 (ephemeral ports, temporary data directories, stopped by PID)
//! and drive them with librdkafka:
//!
//! * `strait-bench broker`: produce throughput (acks=all, 1 KiB records, a
//!   tuned producer) then consume throughput, with the broker's peak RSS.
//! * `strait-bench link`: catch-up throughput of a cluster link mirroring a
//!   pre-filled topic, the same copy done by a librdkafka consume-and-produce
//!   pipeline (the MirrorMaker approach), and the end-to-end lag of both at
//!   a steady produce rate.
//!
//! Every figure is printed as it is measured and, with `--json FILE`, written
//! to a JSON file together with the machine and the load average.

mod admin;
mod broker_bench;
mod http_bench;
mod kafka;
mod link_bench;
mod report;
mod server;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "strait-bench",
    version,
    about = "Strait broker and cluster-link benchmarks"
)]
struct Cli {
    /// Directory holding the release `strait` binary.
    #[arg(
        long,
        env = "STRAIT_BIN_DIR",
        default_value = "target/release",
        global = true
    )]
    bin_dir: PathBuf,
    /// Directory under which each run makes its temporary broker data directories.
    #[arg(long, env = "STRAIT_BENCH_WORK_DIR", global = true)]
    work_dir: Option<PathBuf>,
    /// Also write the results to this JSON file.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// Keep the brokers' data directories and logs instead of deleting them.
    #[arg(long, global = true)]
    keep_data: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Produce then consume throughput against one broker.
    Broker(BrokerArgs),
    /// Cluster-link catch-up and lag, beside a consume-and-produce pipeline.
    Link(LinkArgs),
    /// The HTTP front door: a /metrics scrape of many partitions, produce
    /// while scraping, and REST produce, beside librdkafka's produce.
    Http(HttpArgs),
}

#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Partitions of the topic the scrape is timed with.
    #[arg(long, default_value_t = 10_000)]
    scale_partitions: i32,
    /// Scrapes timed.
    #[arg(long, default_value_t = 20)]
    scrapes: u32,
    /// Records per librdkafka produce run.
    #[arg(long, default_value_t = 1_500_000)]
    records: u64,
    /// Produce runs of each kind (with and without the scraper), alternating.
    #[arg(long, default_value_t = 5)]
    runs: u32,
    /// How often the scraper polls /metrics during its produce runs.
    #[arg(long, default_value_t = 500)]
    scrape_interval_ms: u64,
    /// Records produced through REST.
    #[arg(long, default_value_t = 50_000)]
    rest_records: u64,
    /// Records per REST request body.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    rest_batch: u64,
    #[command(flatten)]
    load: LoadArgs,
}

/// Settings shared by both benchmarks.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Size of each record's value in bytes.
    #[arg(long, default_value_t = 1024)]
    record_size: usize,
    /// Partitions of every benchmark topic.
    #[arg(long, default_value_t = 8)]
    partitions: i32,
    /// Producer linger.ms.
    #[arg(long, default_value_t = 5)]
    linger_ms: u32,
    /// Producer batch.size in bytes (the broker accepts batches up to message.max.bytes).
    #[arg(long, default_value_t = 1_000_000)]
    batch_size: u32,
    /// Extra librdkafka producer property, key=value (repeatable).
    #[arg(long = "producer-config", value_parser = key_value)]
    producer_config: Vec<(String, String)>,
    /// Extra librdkafka consumer property, key=value (repeatable).
    #[arg(long = "consumer-config", value_parser = key_value)]
    consumer_config: Vec<(String, String)>,
    /// Extra server.properties entry for every broker, key=value (repeatable).
    #[arg(long = "server-config", value_parser = key_value)]
    server_config: Vec<(String, String)>,
}

impl LoadArgs {
    fn tuning(&self) -> kafka::Tuning {
        kafka::Tuning {
            linger_ms: self.linger_ms,
            batch_size: self.batch_size,
            producer: self.producer_config.clone(),
            consumer: self.consumer_config.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Records to produce (and then consume) in each run.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Runs, each on a fresh topic; all are reported, with the median.
    #[arg(long, default_value_t = 1)]
    runs: u32,
    /// Producer instances sending at once (each its own librdkafka client and
    /// thread, records split evenly); the clock covers them all.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    producers: u32,
    /// Consumers reading at once (each its own librdkafka client and thread,
    /// partitions split between them, as in a consumer group); the clock
    /// covers them all.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    consumers: u32,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// Size of the pre-filled source topic (values only), e.g. 2GiB, 512MiB.
    #[arg(long, default_value = "2GiB", value_parser = report::parse_size)]
    bytes: u64,
    /// Steady produce rate of the lag phase, e.g. 20MB (per second; MB = 10^6 bytes).
    #[arg(long, default_value = "20MB", value_parser = report::parse_size)]
    lag_rate: u64,
    /// Length of each lag phase in seconds.
    #[arg(long, default_value_t = 60)]
    lag_seconds: u64,
    /// Seconds at the start of each lag phase left out of the percentiles.
    #[arg(long, default_value_t = 5)]
    lag_warmup_seconds: u64,
    /// Extra cluster-link config, key=value (repeatable), e.g. replica.fetch.max.bytes=4194304.
    #[arg(long = "link-config", value_parser = key_value)]
    link_config: Vec<(String, String)>,
    /// Phases to run, comma-separated: catchup, pipeline, lag, pipeline-lag.
    #[arg(
        long,
        default_value = "catchup,pipeline,lag,pipeline-lag",
        value_delimiter = ','
    )]
    phases: Vec<String>,
    /// Give up on a copy (catch-up or pipeline) after this many seconds.
    #[arg(long, default_value_t = 1800)]
    copy_timeout_seconds: u64,
    #[command(flatten)]
    load: LoadArgs,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected key=value, got {s:?}"))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if !cli.bin_dir.join("strait").is_file() {
        bail!(
            "no strait binary in {} (build with `cargo build --release -p strait`, \
             or set --bin-dir / STRAIT_BIN_DIR)",
            cli.bin_dir.display()
        );
    }
    let bin_dir = cli
        .bin_dir
        .canonicalize()
        .with_context(|| format!("resolving {}", cli.bin_dir.display()))?;
    let parent = cli.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&parent)?;
    let work = tempfile::Builder::new()
        .prefix("strait-bench-")
        .tempdir_in(&parent)
        .with_context(|| format!("making a work directory under {}", parent.display()))?;
    println!("work directory: {}", work.path().display());
    let command_line: Vec<String> = std::env::args().collect();
    let result = match &cli.command {
        Command::Broker(args) => broker_bench::run(&bin_dir, work.path(), args),
        Command::Link(args) => link_bench::run(&bin_dir, work.path(), args),
        Command::Http(args) => http_bench::run(&bin_dir, work.path(), args),
    };
    if cli.keep_data {
        let kept = work.keep();
        println!("kept {}", kept.display());
    }
    let mut results = result?;
    if let Some(obj) = results.as_object_mut() {
        obj.insert("command".into(), command_line.join(" ").into());
        obj.insert("machine".into(), report::machine());
    }
    if let Some(path) = &cli.json {
        report::write_json(path, &results)?;
        println!("results written to {}", path.display());
    }
    Ok(())
}
