"""server.properties handling: invalid values refuse startup; settings take effect."""

import pytest

import strait_harness as h


def run_server_expect_exit(tmp_path, props: dict, timeout=20):
    """Run `strait server` on a config that must be rejected; returns the CliResult."""
    cfg = tmp_path / "server.properties"
    h.write_properties(cfg, props)
    try:
        return h.run([h.binary("strait"), "server", "--config", cfg], timeout=timeout)
    except AssertionError as e:  # still running at the deadline (run() killed it)
        pytest.fail(f"strait kept running with an invalid config {props}:\n{e}", pytrace=False)


def base_props(tmp_path):
    port = h.free_port()
    return {
        "node.id": 1,
        "listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "log.dirs": tmp_path / "data",
        "num.partitions": 1,
    }


BAD = {
    "num_partitions_not_a_number": ("num.partitions", "three"),
    "num_partitions_zero": ("num.partitions", "0"),
    "node_id_negative": ("node.id", "-5"),
    "segment_bytes_negative": ("log.segment.bytes", "-1"),
    "retention_ms_garbage": ("log.retention.ms", "1day"),
    "listener_garbage": ("listeners", "not-a-listener"),
    "listener_bad_port": ("listeners", "PLAINTEXT://127.0.0.1:99999"),
    "auto_create_not_bool": ("auto.create.topics.enable", "maybe"),
    "message_max_bytes_garbage": ("message.max.bytes", "big"),
    "flush_interval_garbage": ("log.flush.interval.messages", "-"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_invalid_config_refuses_to_start(tmp_path, strait_bin, case):
    key, value = BAD[case]
    props = base_props(tmp_path)
    props[key] = value
    res = run_server_expect_exit(tmp_path, props)
    assert res.rc != 0, f"strait started (or exited 0) with {key}={value}:\n{res}"
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected a one-line error on stderr:\n{res}"
    assert key in lines[0], f"the error should name the offending key {key!r}:\n{res}"


def test_missing_config_file_fails(tmp_path, strait_bin):
    res = h.run([strait_bin, "server", "--config", tmp_path / "nope.properties"], timeout=20)
    assert res.rc != 0
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected a one-line error on stderr:\n{res}"


def test_port_in_use_fails(tmp_path, strait_factory):
    first = strait_factory()
    props = base_props(tmp_path)
    props["listeners"] = f"PLAINTEXT://127.0.0.1:{first.port}"
    props["log.dirs"] = tmp_path / "other-data"
    res = run_server_expect_exit(tmp_path, props)
    assert res.rc != 0, str(res)
    assert res.stderr.strip(), str(res)
    first.check_alive()


def test_comments_and_blank_lines_are_ignored(strait_factory):
    srv = strait_factory(start=False)
    srv.write_config()
    text = srv.config_path.read_text()
    srv.write_config = lambda: srv.config_path.write_text(
        "# Strait test config\n\n" + text.replace("\n", "\n\n# comment\n", 1))
    srv.start()
    srv.check_alive()


def test_sigterm_exits_cleanly(strait_factory):
    srv = strait_factory()
    assert srv.stop() == 0


def test_data_dir_created_and_reused(strait_factory):
    srv = strait_factory()
    assert srv.data_dir.is_dir(), "log.dirs should be created on first start"
    before = sorted(p.name for p in srv.data_dir.iterdir())
    assert before, "the data dir should hold at least the persisted cluster metadata"
    srv.stop()
    srv.start()
    assert srv.data_dir.is_dir()
