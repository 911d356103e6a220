//! Runs the tools' entry points in-process: argument errors and an
//! unreachable cluster must end in exactly one stderr line and exit code 1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code states expectations by panicking

use std::time::{Duration, Instant};

mod common;

use common::{Run, run};

fn assert_one_line_error(run: &Run, needle: &str) {
    assert_eq!(run.code, 1, "stdout: {} stderr: {}", run.stdout, run.stderr);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "stderr: {}", run.stderr);
    assert!(
        lines[0].contains(needle),
        "{needle:?} not in {:?}",
        lines[0]
    );
}

fn closed_port() -> u16 {
    match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(e) => panic!("{e}"),
    }
}

fn fast_client_config() -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("strait-cli-fast-{}.properties", std::process::id()));
    if let Err(e) = std::fs::write(
        &path,
        "request.timeout.ms=500\ndefault.api.timeout.ms=1000\nretry.backoff.ms=50\n",
    ) {
        panic!("{e}");
    }
    path
}

#[test]
fn topics_argument_errors_are_one_line() {
    let r = run(strait_cli::topics::run, &[]);
    assert_one_line_error(&r, "exactly one action");
    let r = run(strait_cli::topics::run, &["--list"]);
    assert_one_line_error(&r, "--bootstrap-server must be specified");
    let r = run(
        strait_cli::topics::run,
        &[
            "--list",
            "--bootstrap-server",
            "localhost:9092",
            "--no-such-flag",
        ],
    );
    assert_one_line_error(&r, "--no-such-flag");
    let r = run(
        strait_cli::topics::run,
        &[
            "--describe",
            "--bootstrap-server",
            "localhost:9092",
            "--partitions",
            "x",
        ],
    );
    assert_one_line_error(&r, "x");
}

#[test]
fn unreachable_cluster_times_out_with_one_line() {
    let config = fast_client_config();
    let port = closed_port();
    let bootstrap = format!("127.0.0.1:{port}");
    let config_arg = config.to_string_lossy().into_owned();
    let started = Instant::now();
    let r = run(
        strait_cli::topics::run,
        &[
            "--bootstrap-server",
            &bootstrap,
            "--list",
            "--command-config",
            &config_arg,
        ],
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_one_line_error(
        &r,
        "Error while executing topic command : Timed out waiting for a node assignment. Call: listTopics",
    );

    let r = run(
        strait_cli::cluster::run,
        &[
            "cluster-id",
            "--bootstrap-server",
            &bootstrap,
            "--config",
            &config_arg,
        ],
    );
    assert_one_line_error(&r, "Timed out waiting for a node assignment");

    let r = run(
        strait_cli::configs::run,
        &[
            "--bootstrap-server",
            &bootstrap,
            "--command-config",
            &config_arg,
            "--describe",
            "--topic",
            "t",
        ],
    );
    assert_one_line_error(&r, "Error while executing config command with args");

    let r = run(
        strait_cli::consumer_groups::run,
        &[
            "--bootstrap-server",
            &bootstrap,
            "--list",
            "--timeout",
            "800",
        ],
    );
    assert_one_line_error(&r, "Error: Executing consumer group command failed due to");
    let _ = std::fs::remove_file(config);
}

#[test]
fn incomplete_sasl_settings_name_the_property() {
    let path =
        std::env::temp_dir().join(format!("strait-cli-sasl-{}.properties", std::process::id()));
    if let Err(e) = std::fs::write(
        &path,
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n",
    ) {
        panic!("{e}");
    }
    let config_arg = path.to_string_lossy().into_owned();
    let r = run(
        strait_cli::topics::run,
        &[
            "--bootstrap-server",
            "localhost:9092",
            "--list",
            "--command-config",
            &config_arg,
        ],
    );
    assert_one_line_error(&r, "sasl.jaas.config");
    let _ = std::fs::remove_file(path);
}

#[test]
fn other_tools_argument_errors_are_one_line() {
    let r = run(strait_cli::cluster::run, &[]);
    assert_one_line_error(&r, "too few arguments");
    let r = run(
        strait_cli::configs::run,
        &["--bootstrap-server", "h:1", "--describe"],
    );
    assert_one_line_error(&r, "At least one entity type must be specified");
    let r = run(
        strait_cli::consumer_groups::run,
        &["--bootstrap-server", "h:1"],
    );
    assert_one_line_error(&r, "exactly one action");
    let r = run(
        strait_cli::consumer_groups::run,
        &["--bootstrap-server", "h:1", "--list", "--state", "bogus"],
    );
    assert_one_line_error(&r, "Invalid state list 'bogus'");
}

#[test]
fn help_goes_to_stdout_with_exit_zero() {
    let r = run(strait_cli::topics::run, &["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("--bootstrap-server"));
    assert!(r.stderr.is_empty());
}
