//! `kafka-broker-api-versions` binary: forwards to [`strait_cli::broker_api_versions::run`].

fn main() -> std::process::ExitCode {
    strait_cli::invocation::run_main(strait_cli::broker_api_versions::run)
}
