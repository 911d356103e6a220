//! `kafka-cluster` binary: forwards to [`strait_cli::cluster::run`].

fn main() -> std::process::ExitCode {
    strait_cli::invocation::run_main(strait_cli::cluster::run)
}
