//! The `strait` binary: `strait server --config server.properties` runs a
//! broker. Owns process setup (logging, runtime, exit codes); must never
//! contain broker logic.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod fd_limit;
mod huge_alloc;

#[global_allocator]
static ALLOCATOR: huge_alloc::HugeAllocator = huge_alloc::HugeAllocator;

#[derive(Parser)]
#[command(
    name = "strait",
    version,
    about = "Strait: a Kafka-compatible broker with Cluster Linking"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a broker.
    Server {
        /// Kafka-style server.properties file.
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    huge_alloc::keep_large_buffers();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STRAIT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: log files and collectors get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Command::Server { config } => match run_server(config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("strait: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run_server(config: PathBuf) -> anyhow::Result<()> {
    // The configuration first: a bad one is refused with its one line alone.
    let config = strait_broker::BrokerConfig::load(&config)?;
    match fd_limit::raise_to_hard() {
        Ok(r) if r.now > r.before => {
            tracing::info!("raised the open-file limit from {} to {}", r.before, r.now)
        }
        Ok(r) => tracing::info!("open-file limit is {} (hard limit {})", r.now, r.hard),
        Err(e) => tracing::warn!("could not raise the open-file limit: {e}"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let http = config.http_listeners.clone();
        // Caught from here on, so a SIGTERM while starting still ends cleanly.
        let shutdown = strait_broker::ShutdownSignal::install()?;
        let broker = strait_broker::start(config).await?;
        if !http.is_empty() {
            for bound in strait_http::serve(broker.clone(), &http).await? {
                tracing::info!("HTTP listening on {bound}");
                println!("Strait HTTP listening: {bound}");
            }
        }
        strait_broker::run_until_signal(broker, shutdown).await?;
        anyhow::Ok(())
    })?;
    Ok(())
}
