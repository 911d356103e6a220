//! Runs `kafka-cluster-links` and `kafka-mirrors` in-process: argument
//! errors, unreadable files and an unreachable cluster must each end in
//! exactly one stderr line with the tool's prefix and exit code 1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code states expectations by panicking

use std::time::{Duration, Instant};

mod common;

use common::{Run, run};

fn assert_one_line_error(run: &Run, needles: &[&str]) {
    assert_eq!(run.code, 1, "stdout: {} stderr: {}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "");
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "stderr: {}", run.stderr);
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "{needle:?} not in {:?}",
            lines[0]
        );
    }
}

fn closed_port() -> u16 {
    match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(e) => panic!("{e}"),
    }
}

fn fast_client_config() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "strait-link-tools-fast-{}.properties",
        std::process::id()
    ));
    if let Err(e) = std::fs::write(
        &path,
        "request.timeout.ms=500\ndefault.api.timeout.ms=1000\nretry.backoff.ms=50\n",
    ) {
        panic!("{e}");
    }
    path
}

const LINKS: &str = "Error while executing cluster link command: ";
const MIRRORS: &str = "Error while executing mirror command: ";

#[test]
fn cluster_links_argument_errors_are_one_line() {
    use strait_cli::cluster_links::run as links;
    let r = run(links, &["--list"]);
    assert_one_line_error(&r, &[LINKS, "bootstrap-server"]);
    let r = run(links, &["--bootstrap-server", "h:1"]);
    assert_one_line_error(&r, &[LINKS, "exactly one action"]);
    let r = run(
        links,
        &[
            "--bootstrap-server",
            "h:1",
            "--create",
            "--link",
            "l",
            "--config",
            "bootstrap.servers=h:2",
            "--exclude-validate-link",
        ],
    );
    assert_one_line_error(
        &r,
        &[
            LINKS,
            "Command must include --cluster-id if --exclude-validate-link is specified.",
        ],
    );
    let r = run(
        links,
        &[
            "--bootstrap-server",
            "h:1",
            "--create",
            "--link",
            "l",
            "--config",
            "bootstrap.servers",
        ],
    );
    assert_one_line_error(&r, &[LINKS, "key=val"]);
    let r = run(
        links,
        &[
            "--bootstrap-server",
            "h:1",
            "--create",
            "--link",
            "l",
            "--config-file",
            "/nonexistent/strait/link.properties",
        ],
    );
    assert_one_line_error(&r, &[LINKS, "/nonexistent/strait/link.properties"]);
    let r = run(links, &["--bootstrap-server", "h:1", "--no-such-flag"]);
    assert_one_line_error(&r, &["--no-such-flag"]);
}

#[test]
fn mirrors_argument_errors_are_one_line() {
    use strait_cli::mirrors::run as mirrors;
    let r = run(mirrors, &["--promote", "--bootstrap-server", "h:1"]);
    assert_one_line_error(&r, &[MIRRORS, "Missing required argument \"[topics]\""]);
    let r = run(
        mirrors,
        &[
            "--bootstrap-server",
            "h:1",
            "--failover",
            "--topics",
            "t",
            "--link",
            "l",
        ],
    );
    assert_one_line_error(&r, &[MIRRORS, "Cannot specify both --topics and --link."]);
    let r = run(
        mirrors,
        &[
            "--bootstrap-server",
            "h:1",
            "--create",
            "--mirror-topic",
            "t",
            "--link",
            "l",
            "--replication-factor",
            "three",
        ],
    );
    assert_one_line_error(&r, &[MIRRORS, "three"]);
}

#[test]
fn unreachable_cluster_times_out_with_one_line() {
    let config = fast_client_config();
    let config_arg = config.to_string_lossy().into_owned();
    let bootstrap = format!("127.0.0.1:{}", closed_port());
    let started = Instant::now();
    let r = run(
        strait_cli::cluster_links::run,
        &[
            "--list",
            "--bootstrap-server",
            &bootstrap,
            "--command-config",
            &config_arg,
        ],
    );
    assert_one_line_error(
        &r,
        &[
            LINKS,
            "Timed out waiting for a node assignment. Call: ListClusterLinks",
        ],
    );
    let r = run(
        strait_cli::mirrors::run,
        &[
            "--describe",
            "--bootstrap-server",
            &bootstrap,
            "--command-config",
            &config_arg,
        ],
    );
    assert_one_line_error(&r, &[MIRRORS, "Call: DescribeMirrors"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    let _ = std::fs::remove_file(config);
}
