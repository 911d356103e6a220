//! `kafka-acls` binary: forwards to [`strait_cli::acls::run`].

fn main() -> std::process::ExitCode {
    strait_cli::invocation::run_main(strait_cli::acls::run)
}
