//! `kafka-consumer-groups` binary: forwards to [`strait_cli::consumer_groups::run`].

fn main() -> std::process::ExitCode {
    strait_cli::invocation::run_main(strait_cli::consumer_groups::run)
}
