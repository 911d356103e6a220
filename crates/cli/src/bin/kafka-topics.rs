//! `kafka-topics` binary: forwards to [`strait_cli::topics::run`].

fn main() -> std::process::ExitCode {
    strait_cli::invocation::run_main(strait_cli::topics::run)
}
