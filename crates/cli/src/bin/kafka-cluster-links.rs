//! `kafka-cluster-links` binary: forwards to [`strait_cli::cluster_links::run`].

fn main() -> std::process::ExitCode {
    strait_cli::invocation::run_main(strait_cli::cluster_links::run)
}
