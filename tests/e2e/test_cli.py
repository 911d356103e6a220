"""Strait's CLI tools: Apache Kafka's flags and output formats."""

import re
import time

import pytest

import kafka_helpers as kh
from strait_harness import run_cli, wait_until

pytest.importorskip("confluent_kafka")


def assert_one_line_error(res, *needles):
    assert res.rc != 0, f"expected failure:\n{res}"
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected exactly one line on stderr:\n{res}"
    for n in needles:
        assert n in lines[0], f"{n!r} not in error line:\n{res}"


def topics(broker, *args):
    return broker.cli("kafka-topics", *args)


def parse_describe(stdout):
    """kafka-topics --describe -> (header fields, [partition fields])."""
    header, parts = None, []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        fields = {}
        for item in line.strip("\n").split("\t"):
            if ": " in item or item.endswith(":"):
                k, _, v = item.partition(":")
                fields[k.strip()] = v.strip()
        if line.startswith("\t"):
            parts.append(fields)
        else:
            assert header is None, f"two topic header lines:\n{stdout}"
            header = fields
    return header, parts


# ---------------------------------------------------------------------------
# kafka-topics
# ---------------------------------------------------------------------------

def test_topics_list_on_an_empty_cluster_prints_nothing(broker):
    res = topics(broker, "--list").check()
    assert res.stdout == "", repr(res.stdout)


def test_broker_log_has_no_colour_codes_when_not_a_terminal(broker, topic_name):
    topics(broker, "--create", "--topic", topic_name, "--partitions", "1").check()
    text = open(broker.log_path, errors="replace").read()
    assert "INFO" in text
    assert "\x1b[" not in text, "ANSI escape codes in a log written to a file"


def test_topics_create_list_describe_alter_delete(broker, topic_name):
    res = topics(broker, "--create", "--topic", topic_name, "--partitions", "3",
                 "--replication-factor", "1", "--config", "retention.ms=86400000").check()
    assert res.stdout.strip() == f"Created topic {topic_name}."

    res = topics(broker, "--list").check()
    assert topic_name in res.stdout.splitlines()

    res = topics(broker, "--describe", "--topic", topic_name).check()
    header, parts = parse_describe(res.stdout)
    assert header["Topic"] == topic_name
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", header["TopicId"]), header
    assert header["PartitionCount"] == "3"
    assert header["ReplicationFactor"] == "1"
    assert "retention.ms=86400000" in header["Configs"].split(",")
    assert [p["Partition"] for p in parts] == ["0", "1", "2"]
    for p in parts:
        assert p["Topic"] == topic_name
        assert (p["Leader"], p["Replicas"], p["Isr"]) == ("1", "1", "1"), p

    res = topics(broker, "--alter", "--topic", topic_name, "--partitions", "5").check()
    header, parts = parse_describe(topics(broker, "--describe", "--topic", topic_name).check().stdout)
    assert header["PartitionCount"] == "5"
    assert [p["Partition"] for p in parts] == ["0", "1", "2", "3", "4"]

    topics(broker, "--delete", "--topic", topic_name).check()
    wait_until(lambda: topic_name not in topics(broker, "--list").check().stdout.splitlines(),
               15, what=f"{topic_name} to disappear from --list")


def test_topics_list_is_sorted(broker):
    for name in ("zeta", "alpha", "mid"):
        topics(broker, "--create", "--topic", name).check()
    listed = topics(broker, "--list").check().stdout.split()
    assert [n for n in listed if n in ("zeta", "alpha", "mid")] == ["alpha", "mid", "zeta"]


def test_topics_create_uses_num_partitions_default(strait_factory, topic_name):
    srv = strait_factory({"num.partitions": "4"})
    srv.cli("kafka-topics", "--create", "--topic", topic_name).check()
    header, parts = parse_describe(
        srv.cli("kafka-topics", "--describe", "--topic", topic_name).check().stdout)
    assert header["PartitionCount"] == "4" and len(parts) == 4


def test_topics_create_duplicate_fails(broker, topic_name):
    topics(broker, "--create", "--topic", topic_name).check()
    res = topics(broker, "--create", "--topic", topic_name)
    assert_one_line_error(res, topic_name, "already exists")


def test_topics_create_if_not_exists(broker, topic_name):
    topics(broker, "--create", "--topic", topic_name).check()
    topics(broker, "--create", "--if-not-exists", "--topic", topic_name).check()


def test_topics_describe_missing_topic_fails(broker):
    res = topics(broker, "--describe", "--topic", "does-not-exist")
    assert_one_line_error(res, "does-not-exist")


def test_topics_alter_cannot_shrink(broker, topic_name):
    topics(broker, "--create", "--topic", topic_name, "--partitions", "3").check()
    res = topics(broker, "--alter", "--topic", topic_name, "--partitions", "2")
    assert_one_line_error(res)


def test_topics_create_invalid_name_fails(broker):
    res = topics(broker, "--create", "--topic", "bad/name")
    assert_one_line_error(res)


def test_topics_unreachable_broker_fails_in_bounded_time(tmp_path, strait_bin):
    """With Kafka's client timeouts from --command-config, a dead broker is an error, not a hang."""
    from strait_harness import free_port
    cfg = tmp_path / "client.properties"
    cfg.write_text("default.api.timeout.ms=5000\nrequest.timeout.ms=3000\n")
    start = time.monotonic()
    res = run_cli("kafka-topics", "--bootstrap-server", f"127.0.0.1:{free_port()}",
                  "--command-config", cfg, "--list", timeout=60)
    assert res.rc != 0, str(res)
    assert_one_line_error(res)
    assert time.monotonic() - start < 30, "default.api.timeout.ms=5000 was not honoured"


# ---------------------------------------------------------------------------
# kafka-configs
# ---------------------------------------------------------------------------

def test_configs_topic_alter_describe_delete(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name)
    base = ("--entity-type", "topics", "--entity-name", topic_name)

    res = broker.cli("kafka-configs", *base, "--describe").check()
    assert res.stdout.splitlines()[0] == f"Dynamic configs for topic {topic_name} are:"
    assert "retention.ms" not in res.stdout

    res = broker.cli("kafka-configs", *base, "--alter",
                     "--add-config", "retention.ms=1000,cleanup.policy=compact").check()
    assert res.stdout.strip() == f"Completed updating config for topic {topic_name}."

    res = broker.cli("kafka-configs", *base, "--describe").check()
    lines = [l.strip() for l in res.stdout.splitlines()]
    assert lines[0] == f"Dynamic configs for topic {topic_name} are:"
    # Kafka lists the topic override first, then the broker-level default.
    assert ("retention.ms=1000 sensitive=false "
            "synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000, "
            "DEFAULT_CONFIG:log.retention.hours=168}") in lines, res.stdout
    assert any(l.startswith("cleanup.policy=compact sensitive=false") for l in lines), res.stdout
    assert kh.describe_topic_configs(kh.admin(broker.bootstrap), topic_name)[
        "retention.ms"].value == "1000"

    res = broker.cli("kafka-configs", *base, "--alter", "--delete-config", "retention.ms").check()
    assert res.stdout.strip() == f"Completed updating config for topic {topic_name}."
    res = broker.cli("kafka-configs", *base, "--describe").check()
    assert "retention.ms=" not in res.stdout
    assert "cleanup.policy=compact" in res.stdout


def test_configs_topic_shorthand_flag(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name)
    res = broker.cli("kafka-configs", "--topic", topic_name, "--alter",
                     "--add-config", "segment.bytes=2097152").check()
    assert res.stdout.strip() == f"Completed updating config for topic {topic_name}."
    res = broker.cli("kafka-configs", "--topic", topic_name, "--describe").check()
    assert "segment.bytes=2097152" in res.stdout


def test_configs_broker_alter_describe_delete(broker):
    base = ("--entity-type", "brokers", "--entity-name", "1")
    res = broker.cli("kafka-configs", *base, "--alter",
                     "--add-config", "log.retention.ms=123456").check()
    assert res.stdout.strip() == "Completed updating config for broker 1."

    res = broker.cli("kafka-configs", *base, "--describe").check()
    lines = [l.strip() for l in res.stdout.splitlines()]
    assert lines[0] == "Dynamic configs for broker 1 are:"
    assert any(l.startswith("log.retention.ms=123456 sensitive=false synonyms={"
                            "DYNAMIC_BROKER_CONFIG:log.retention.ms=123456") for l in lines), res.stdout

    res = broker.cli("kafka-configs", *base, "--describe", "--all").check()
    assert res.stdout.splitlines()[0] == "All configs for broker 1 are:"
    assert any(l.strip().startswith("num.partitions=1 ") for l in res.stdout.splitlines()), res.stdout

    res = broker.cli("kafka-configs", *base, "--alter", "--delete-config", "log.retention.ms").check()
    assert res.stdout.strip() == "Completed updating config for broker 1."
    res = broker.cli("kafka-configs", *base, "--describe").check()
    assert "log.retention.ms=123456" not in res.stdout


def test_configs_unknown_topic_fails(broker):
    res = broker.cli("kafka-configs", "--entity-type", "topics", "--entity-name", "nope",
                     "--describe")
    assert_one_line_error(res, "nope")


def test_configs_invalid_value_fails(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name)
    res = broker.cli("kafka-configs", "--entity-type", "topics", "--entity-name", topic_name,
                     "--alter", "--add-config", "retention.ms=notanumber")
    assert_one_line_error(res)


# ---------------------------------------------------------------------------
# kafka-cluster
# ---------------------------------------------------------------------------

def test_cluster_id_matches_metadata(broker):
    res = run_cli("kafka-cluster", "cluster-id", "--bootstrap-server", broker.bootstrap).check()
    m = re.fullmatch(r"Cluster ID: (\S+)\n?", res.stdout)
    assert m, f"unexpected output:\n{res}"
    assert m.group(1) == kh.admin(broker.bootstrap).list_topics(timeout=15).cluster_id


def test_cluster_ids_differ_between_data_dirs(strait_factory):
    a, b = strait_factory(), strait_factory()
    ida = run_cli("kafka-cluster", "cluster-id", "--bootstrap-server", a.bootstrap).check().stdout
    idb = run_cli("kafka-cluster", "cluster-id", "--bootstrap-server", b.bootstrap).check().stdout
    assert ida != idb


# ---------------------------------------------------------------------------
# kafka-broker-api-versions
# ---------------------------------------------------------------------------

def test_broker_api_versions_prints_what_the_broker_advertises(broker):
    import kafka_wire as kw

    res = broker.cli("kafka-broker-api-versions").check()
    host, port = broker.bootstrap.rsplit(":", 1)
    lines = res.stdout.splitlines()
    # Kafka's Node.toString() and NodeApiVersions.toString(true).
    assert lines[0] == f"{host}:{port} (id: 1 rack: null isFenced: false) -> (", res.stdout
    assert lines[-1] == ")", res.stdout
    entries = {}
    for line in lines[1:-1]:
        m = re.fullmatch(r"\t(\w+)\((\d+)\): (.*?),?", line)
        assert m, f"not an API line: {line!r}"
        entries[int(m.group(2))] = (m.group(1), m.group(3))
    assert list(entries) == sorted(entries)
    conn = kw.KafkaConnection(host, int(port))
    try:
        advertised = conn.api_versions().versions
    finally:
        conn.close()
    for key, (lo, hi) in advertised.items():
        name, text = entries[key]
        shown = str(lo) if lo == hi else f"{lo} to {hi}"
        assert text.startswith(shown + " [usable: "), (name, text, lo, hi)
    assert entries[0] == ("Produce", entries[0][1]) and entries[1][0] == "Fetch"
    # What a Kafka broker serves and Strait does not is listed, as the Java
    # tool lists what a broker leaves out.
    assert entries[43] == ("ElectLeaders", "UNSUPPORTED")
    assert all(text == "UNSUPPORTED" for k, (_, text) in entries.items() if k not in advertised)


def test_broker_api_versions_bad_input_is_one_line(broker):
    assert_one_line_error(run_cli("kafka-broker-api-versions"), "bootstrap-server")
    assert_one_line_error(run_cli("kafka-broker-api-versions", "--bootstrap-server",
                                  broker.bootstrap, "--no-such-flag"), "--no-such-flag")
    assert_one_line_error(run_cli("kafka-broker-api-versions", "--bootstrap-server",
                                  broker.bootstrap, "--command-config", "/nonexistent.properties"),
                          "/nonexistent.properties")
