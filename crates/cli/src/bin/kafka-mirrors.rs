//! `kafka-mirrors` binary: forwards to [`strait_cli::mirrors::run`].

fn main() -> std::process::ExitCode {
    strait_cli::invocation::run_main(strait_cli::mirrors::run)
}
