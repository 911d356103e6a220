//! `kafka-configs` binary: forwards to [`strait_cli::configs::run`].

fn main() -> std::process::ExitCode {
    strait_cli::invocation::run_main(strait_cli::configs::run)
}
