"""kafka-cluster-links, kafka-mirrors and kafka-configs --cluster-link between
two real Strait brokers (source and destination), run as the Confluent command
reference shows them (only hosts, ports and names differ).

Data is produced to the source with kcat (several codecs) and confluent-kafka;
the mirror must hold the same records at the same offsets.  Every wait is
bounded."""

from __future__ import annotations

import base64
import re
import shutil
import time
import uuid

import pytest

import kafka_helpers as kh
import strait_harness as h

pytest.importorskip("confluent_kafka")
from confluent_kafka import KafkaError  # noqa: E402

HAVE_KCAT = shutil.which("kcat") is not None
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]

LIST_RE = re.compile(
    r"Link name: '(?P<name>[^']*)', link ID: '(?P<id>[A-Za-z0-9_-]{22})', "
    r"remote cluster ID: '(?P<remote>[^']*)', local cluster ID: '(?P<local>[^']*)', "
    r"remote cluster available: '(?P<available>true|false)'"
    r"(?:, topics: \[(?P<topics>[^\]]*)\])?")
TOPIC_LINE_RE = re.compile(
    r"Topic: (?P<topic>\S+)\tLinkName: (?P<link>\S+)\tLinkId: (?P<id>[0-9a-f-]{36})\t"
    r"MirrorTopic: (?P<source>\S+)\tState: (?P<state>[A-Z_]+)\t"
    r"StateTime: (?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})")
PARTITION_LINE_RE = re.compile(
    r"\tPartition: (?P<partition>\d+)\tState: (?P<state>[A-Z_]+)\t"
    r"DestLogEndOffset: (?P<leo>-?\d+)\tLastFetchSourceHighWatermark: (?P<hw>-?\d+)\t"
    r"Lag: (?P<lag>-?\d+)\tTimeSinceLastFetchMs: (?P<since>-?\d+)")


# ---------------------------------------------------------------------------
# fixtures and helpers
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clusters(tmp_path_factory):
    """(source, destination): two independent single-broker clusters, shared
    by the tests of this file and stopped by PID at the end."""
    base = tmp_path_factory.mktemp("cluster-links")
    servers = [h.StraitServer(base / "source"), h.StraitServer(base / "destination")]
    try:
        for srv in servers:
            srv.start()
        yield servers[0], servers[1]
    finally:
        problems = []
        for srv in servers:
            try:
                srv.stop()
            except Exception as e:  # keep stopping the other one
                problems.append(f"{srv!r}: {e}")
            if srv.unexpected_exit:
                problems.append(f"{srv.unexpected_exit}\n{srv.log_tail()}")
        assert not problems, "\n".join(problems)


@pytest.fixture(autouse=True)
def _server_logs_on_failure(request, clusters):
    # conftest's report hook appends these servers' logs to failed tests.
    request.node._strait_servers = list(clusters)
    yield
    for srv in clusters:
        srv.check_alive()


def links(dst, *args):
    return dst.cli("kafka-cluster-links", *args)


def mirrors(dst, *args):
    return h.run_cli("kafka-mirrors", *args, "--bootstrap-server", dst.bootstrap)


def one_line_error(res, *needles):
    assert res.rc != 0, f"expected failure:\n{res}"
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one line on stderr:\n{res}"
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in error line:\n{res}"
    return lines[0]


def cluster_id(srv) -> str:
    res = h.run_cli("kafka-cluster", "cluster-id", "--bootstrap-server", srv.bootstrap).check()
    m = re.fullmatch(r"Cluster ID: (\S+)\n", res.stdout)
    assert m, res
    return m.group(1)


def listed_links(dst, *args) -> dict:
    res = links(dst, "--list", *args).check()
    if res.stdout == "No cluster links found.\n":
        return {}
    out = {}
    for line in res.stdout.splitlines():
        m = LIST_RE.fullmatch(line)
        assert m, f"bad --list line {line!r}:\n{res}"
        out[m.group("name")] = m.groupdict()
    return out


def describe_mirrors(dst, *args):
    """kafka-mirrors --describe -> {topic: (topic fields, [partition fields])}."""
    res = mirrors(dst, "--describe", *args).check()
    if res.stdout == "No mirror topics found.\n":
        return {}
    out, current = {}, None
    for line in res.stdout.splitlines():
        if line.startswith("\t"):
            m = PARTITION_LINE_RE.fullmatch(line)
            assert m and current, f"bad partition line {line!r}:\n{res}"
            out[current][1].append({k: (v if k == "state" else int(v))
                                    for k, v in m.groupdict().items()})
        else:
            m = TOPIC_LINE_RE.fullmatch(line)
            assert m, f"bad topic line {line!r}:\n{res}"
            current = m.group("topic")
            out[current] = (m.groupdict(), [])
    return out


def end_offsets(bootstrap, topic, partitions):
    c = kh.consumer(bootstrap)
    try:
        return [c.get_watermark_offsets(kh.TopicPartition(topic, p), timeout=10)[1]
                for p in range(partitions)]
    finally:
        c.close()


def wait_caught_up(src, dst, topic, partitions, timeout=20.0):
    """Until describe shows Lag: 0 on every partition at the source's end offsets."""
    want = end_offsets(src.bootstrap, topic, partitions)

    def ok():
        described = describe_mirrors(dst, "--topics", topic).get(topic)
        if not described or len(described[1]) != partitions:
            return False
        return all(p["lag"] == 0 and p["leo"] == want[p["partition"]] and p["hw"] == p["leo"]
                   for p in described[1])
    h.wait_until(ok, timeout, interval=0.2, what=f"mirror {topic} to reach {want} with Lag: 0")
    return want


def records(bootstrap, topic, partition):
    return [(m.offset(), m.key(), m.value(), m.headers(), m.timestamp())
            for m in kh.consume_partition(bootstrap, topic, partition)]


def assert_identical(src, dst, topic, partitions):
    """Same offsets and same record bytes (keys, values, headers, timestamps)
    on both sides, partition by partition; kcat agrees."""
    for p in range(partitions):
        a, b = records(src.bootstrap, topic, p), records(dst.bootstrap, topic, p)
        assert a, f"{topic}-{p} is empty on the source"
        assert a == b, f"{topic}-{p} differs: source {len(a)} records, mirror {len(b)}"
        if HAVE_KCAT:
            cmd = ["kcat", "-C", "-t", topic, "-p", str(p), "-o", "beginning", "-e",
                   "-f", "%p %o %k %s\\n"]
            ka = h.run(cmd[:2] + ["-b", src.bootstrap] + cmd[2:], timeout=30)
            kb = h.run(cmd[:2] + ["-b", dst.bootstrap] + cmd[2:], timeout=30)
            assert ka.rc == 0 and kb.rc == 0, f"{ka}\n{kb}"
            # (some values hold newlines, so lines are not records)
            assert ka.stdout == kb.stdout and len(ka.stdout.splitlines()) >= len(a)


def kcat_produce(bootstrap, topic, lines, codec):
    res = h.run(["kcat", "-P", "-b", bootstrap, "-t", topic, "-K", ":", "-X", "acks=all",
                 "-z", codec], input="".join(f"{line}\n" for line in lines), timeout=60)
    assert res.rc == 0 and "ERROR" not in res.stderr, f"kcat produce failed:\n{res}"


def produce_mixed(src, topic, tag, partitions):
    """kcat with every codec, then confluent-kafka with headers and two codecs."""
    if HAVE_KCAT:
        for codec in CODECS:
            kcat_produce(src.bootstrap, topic,
                         [f"{tag}-{codec}-{i}:{codec} value {i} " + "xyz" * (i % 9)
                          for i in range(60)], codec)
    for codec in ("lz4", "zstd"):
        p = kh.producer(src.bootstrap, **{"compression.type": codec})
        for i in range(90):
            p.produce(topic, key=f"{tag}-ck-{i}".encode(), value=bytes([i % 256]) * (i + 1),
                      partition=i % partitions, headers=[("h", f"{codec}-{i}".encode())])
            p.poll(0)
        assert p.flush(30) == 0


def produce_fails(bootstrap, topic) -> KafkaError:
    errors = []
    p = kh.producer(bootstrap, **{"message.timeout.ms": 8000, "retries": 0})
    p.produce(topic, value=b"must not land", partition=0,
              on_delivery=lambda err, msg: errors.append(err))
    p.flush(15)
    assert errors and errors[0] is not None, "produce to a mirror topic succeeded"
    return errors[0]


def produce_ok(bootstrap, topic):
    out = kh.produce_all(bootstrap, topic, [b"writable now"], partition=0, timeout=20)
    return out[0][1]


# ---------------------------------------------------------------------------
# the reference's examples, in the order an operator runs them
# ---------------------------------------------------------------------------

def test_reference_examples_end_to_end(clusters, tmp_path):
    src, dst = clusters
    src_id, dst_id = cluster_id(src), cluster_id(dst)
    assert src_id != dst_id
    topic, partitions = "web.orders", 3
    kh.create_topic(src.bootstrap, topic, partitions=partitions)
    produce_mixed(src, topic, "first", partitions)

    # --- create: --config-file (the reference's recommended form) -----------
    config_file = tmp_path / "example-link.config"
    config_file.write_text(f"bootstrap.servers={src.bootstrap}\n"
                           f"# comments and blank lines are fine\n\n")
    res = links(dst, "--create", "--link", "example-link", "--config-file", config_file,
                "--validate-only").check()
    assert res.stdout == "Cluster link 'example-link' creation successfully validated.\n"
    assert "example-link" not in listed_links(dst)
    res = links(dst, "--create", "--link", "example-link", "--config-file", config_file).check()
    assert res.stdout == "Cluster link 'example-link' creation successfully completed.\n"
    assert res.stderr == ""

    # --- create: --config with --cluster-id; --bootstrap-server at the end ---
    res = h.run_cli("kafka-cluster-links", "--create", "--link", "second-link", "--config",
                    f"bootstrap.servers={src.bootstrap},metadata.max.age.ms=60000",
                    "--cluster-id", src_id, "--bootstrap-server", dst.bootstrap).check()
    assert res.stdout == "Cluster link 'second-link' creation successfully completed.\n"

    # --- list ---------------------------------------------------------------
    listed = listed_links(dst)
    assert set(listed) == {"example-link", "second-link"}, listed
    for entry in listed.values():
        assert (entry["remote"], entry["local"]) == (src_id, dst_id)
        # A link validated at creation has just reached its source.
        assert entry["available"] == "true", entry
        assert entry["topics"] is None
    assert listed["example-link"]["id"] != listed["second-link"]["id"]
    only = listed_links(dst, "--link", "second-link")
    assert list(only) == ["second-link"]

    # --- kafka-configs --describe / --alter --cluster-link ------------------
    res = dst.cli("kafka-configs", "--describe", "--cluster-link", "example-link").check()
    lines = res.stdout.splitlines()
    assert lines[0] == "Dynamic configs for cluster-link example-link are:", res
    assert "  metadata.max.age.ms=300000 sensitive=false synonyms={}" in lines, res
    assert f"  bootstrap.servers={src.bootstrap} sensitive=false synonyms={{}}" in lines, res
    assert all(re.fullmatch(r"  \S+=.* sensitive=(true|false) synonyms=\{\}", l)
               for l in lines[1:]), res
    res = dst.cli("kafka-configs", "--alter", "--cluster-link", "example-link",
                  "--add-config", "cluster.link.retry.timeout.ms=10000",
                  "--delete-config", "request.timeout.ms").check()
    assert res.stdout == "Completed updating config for cluster-link example-link.\n"
    update = tmp_path / "my-update-configs.txt"
    update.write_text("consumer.offset.sync.ms=25384\ntopic.config.sync.ms=38254\n")
    dst.cli("kafka-configs", "--alter", "--cluster-link", "example-link",
            "--add-config-file", update).check()
    res = dst.cli("kafka-configs", "--describe", "--cluster-link", "example-link").check()
    for expected in ("cluster.link.retry.timeout.ms=10000", "consumer.offset.sync.ms=25384",
                     "topic.config.sync.ms=38254"):
        assert f"  {expected} sensitive=false synonyms={{}}" in res.stdout.splitlines(), res
    # The (Confluent CP 7.4) describe view of a link.
    res = links(dst, "--describe", "--link", "example-link").check()
    first, second = res.stdout.splitlines()
    assert first.startswith(f"Link name: 'example-link', link ID: '{listed['example-link']['id']}', "
                            f"remote cluster ID: '{src_id}', local cluster ID: '{dst_id}', "
                            f"link mode: 'DESTINATION', connection mode: 'OUTBOUND', "
                            f"link state: 'ACTIVE', link coordinator id: '1', "
                            f"link coordinator host: '127.0.0.1', topics: []"), first
    assert second.startswith("Configs: ") and f"bootstrap.servers={src.bootstrap}" in second

    # --- kafka-mirrors --create / --list / --describe ----------------------
    res = h.run_cli("kafka-mirrors", "--create", "--mirror-topic", topic, "--link",
                    "example-link", "--bootstrap-server", dst.bootstrap).check()
    assert res.stdout == f"Created topic {topic}.\n"
    assert mirrors(dst, "--list").check().stdout == f"{topic}\n"
    assert mirrors(dst, "--list", "--link", "example-link").check().stdout == f"{topic}\n"
    assert mirrors(dst, "--list", "--link", "second-link").check().stdout == ""
    want = wait_caught_up(src, dst, topic, partitions)
    assert sum(want) == (5 * 60 if HAVE_KCAT else 0) + 2 * 90
    described = describe_mirrors(dst, "--link", "example-link")
    head, parts = described[topic]
    assert (head["link"], head["source"], head["state"]) == ("example-link", topic, "ACTIVE")
    # The same link id in both layouts: dashed here (CP 7.1), base64 in --list.
    b64 = base64.urlsafe_b64encode(uuid.UUID(head["id"]).bytes).decode().rstrip("=")
    assert b64 == listed["example-link"]["id"]
    assert [p["partition"] for p in parts] == list(range(partitions))
    assert all(p["state"] == "ACTIVE" and p["since"] >= 0 for p in parts), parts
    assert listed_links(dst, "--include-topics")["example-link"]["topics"] == topic
    assert_identical(src, dst, topic, partitions)

    # --- a mirror is read-only ----------------------------------------------
    err = produce_fails(dst.bootstrap, topic)
    assert err.code() == KafkaError.INVALID_REQUEST, err
    assert end_offsets(dst.bootstrap, topic, partitions) == want

    # --- pause / unpause ----------------------------------------------------
    res = mirrors(dst, "--pause", "--topics", topic).check()
    assert res.stdout == f"Request for pausing topic {topic}'s mirror was successfully scheduled.\n"
    assert describe_mirrors(dst, "--topics", topic)[topic][0]["state"] == "PAUSED"
    produce_mixed(src, topic, "second", partitions)
    time.sleep(1.0)  # a running fetcher would have copied something by now
    assert end_offsets(dst.bootstrap, topic, partitions) == want
    res = mirrors(dst, "--unpause", "--topics", topic).check()
    assert res.stdout == \
        f"Request for unpausing topic {topic}'s mirror was successfully scheduled.\n"
    want = wait_caught_up(src, dst, topic, partitions)
    assert_identical(src, dst, topic, partitions)

    # --- promote (lag is 0) -------------------------------------------------
    res = mirrors(dst, "--promote", "--topics", topic, "--validate-only").check()
    assert describe_mirrors(dst, "--topics", topic)[topic][0]["state"] == "ACTIVE"
    res = mirrors(dst, "--promote", "--topics", topic).check()
    assert res.stdout.splitlines() == [
        f"Calculating max offset and ms lag for mirror topics: [{topic}]",
        f"Finished calculating max offset lag and max lag ms for mirror topics: [{topic}]",
        f"Request for stopping topic {topic}'s mirror was successfully scheduled. Please use "
        f"the describe command with the --pending-stopped-only option to monitor progress.",
    ], res
    h.wait_until(lambda: mirrors(dst, "--describe", "--pending-stopped-only").check().stdout
                 == "No mirror topics found.\n", 15, what="the promotion to finish")
    assert describe_mirrors(dst, "--topics", topic)[topic][0]["state"] == "STOPPED"
    assert mirrors(dst, "--list").check().stdout == ""
    assert mirrors(dst, "--list", "--include-stopped").check().stdout == f"{topic}\n"
    assert produce_ok(dst.bootstrap, topic) == want[0]
    res = mirrors(dst, "--promote", "--topics", topic)
    assert res.rc == 1 and res.stdout.startswith("Calculating max offset"), res
    one_line_error(res, f"Error encountered while stopping topic {topic}'s mirror: "
                        f"Topic '{topic}' has already stopped its mirror from 'example-link'")

    # --- failover -----------------------------------------------------------
    kh.create_topic(src.bootstrap, "web.events", partitions=1)
    kh.produce_all(src.bootstrap, "web.events", [b"e%d" % i for i in range(25)],
                   **{"compression.type": "gzip"})
    mirrors(dst, "--create", "--mirror-topic", "web.events", "--link", "second-link").check()
    wait_caught_up(src, dst, "web.events", 1)
    assert_identical(src, dst, "web.events", 1)
    res = mirrors(dst, "--failover", "--topics", "web.events", "--validate-only").check()
    assert "successfully validated" in res.stdout
    res = mirrors(dst, "--failover", "--topics", "web.events").check()
    assert res.stdout == (
        "Request for stopping topic web.events's mirror was successfully scheduled. Please use "
        "the describe command with the --pending-stopped-only option to monitor progress.\n")
    h.wait_until(lambda: describe_mirrors(dst, "--topics", "web.events")["web.events"][0]
                 ["state"] == "STOPPED", 15, what="the failover to finish")
    assert produce_ok(dst.bootstrap, "web.events") == 25

    # --- delete: refused while a mirror is attached, --force works ---------
    kh.create_topic(src.bootstrap, "inventory.shipments", partitions=2)
    mirrors(dst, "--create", "--mirror-topic", "inventory.shipments", "--link",
            "example-link").check()
    res = links(dst, "--delete", "--link", "example-link")
    one_line_error(res, "Error while executing cluster link command: ", "inventory.shipments")
    res = links(dst, "--delete", "--link", "example-link", "--force", "--validate-only").check()
    assert res.stdout == "Cluster link 'example-link' deletion successfully validated.\n"
    assert set(listed_links(dst)) == {"example-link", "second-link"}
    assert mirrors(dst, "--list").check().stdout == "inventory.shipments\n"
    res = links(dst, "--delete", "--link", "example-link", "--force").check()
    assert res.stdout == "Cluster link 'example-link' deletion successfully completed.\n"
    res = links(dst, "--delete", "--link", "second-link").check()
    assert res.stdout == "Cluster link 'second-link' deletion successfully completed.\n"
    assert links(dst, "--list").check().stdout == "No cluster links found.\n"
    assert mirrors(dst, "--list", "--include-stopped").check().stdout == ""
    assert produce_ok(dst.bootstrap, "inventory.shipments") == 0


# ---------------------------------------------------------------------------
# bad input: one line, non-zero exit, nothing half-created
# ---------------------------------------------------------------------------

def test_bad_input_is_one_line_and_creates_nothing(clusters, tmp_path):
    src, dst = clusters
    src_id = cluster_id(src)
    kh.create_topic(src.bootstrap, "present", partitions=1)
    links(dst, "--create", "--link", "bad-input-link", "--config",
          f"bootstrap.servers={src.bootstrap}").check()
    before_topics = set(dst.cli("kafka-topics", "--list").check().stdout.splitlines())

    # unknown link
    one_line_error(mirrors(dst, "--create", "--mirror-topic", "present", "--link", "nope"),
                   "Error while executing mirror command: Cluster link 'nope' does not exist.")
    one_line_error(links(dst, "--describe", "--link", "nope"),
                   "Error while executing cluster link command: ",
                   "Cluster link 'nope' does not exist.")
    one_line_error(links(dst, "--delete", "--link", "nope"),
                   "Error while executing cluster link command: ",
                   "Cluster link 'nope' does not exist.")
    one_line_error(dst.cli("kafka-configs", "--describe", "--cluster-link", "nope"),
                   "Cluster link 'nope' does not exist.")
    one_line_error(dst.cli("kafka-configs", "--alter", "--cluster-link", "nope",
                           "--add-config", "metadata.max.age.ms=1000"),
                   "Cluster link 'nope' does not exist.")
    one_line_error(mirrors(dst, "--list", "--link", "nope"), "Cluster link 'nope' does not exist.")
    # Found or not is the exit code's to say, as for --describe.
    res = links(dst, "--list", "--link", "nope")
    one_line_error(res, "Link name 'nope' not found.")
    assert res.stdout == ""

    # duplicate link
    one_line_error(links(dst, "--create", "--link", "bad-input-link", "--config",
                         f"bootstrap.servers={src.bootstrap}"),
                   "Error while executing cluster link command: "
                   "Cluster link 'bad-input-link' already exists.")

    # a source-initiated link half: refused clearly, nothing created
    for conf in ("link.mode=DESTINATION,connection.mode=INBOUND",
                 f"bootstrap.servers={src.bootstrap},link.mode=SOURCE,connection.mode=OUTBOUND"):
        one_line_error(links(dst, "--create", "--link", "si-link", "--config", conf),
                       "Source-initiated cluster links", "connection.mode=OUTBOUND")
    assert "si-link" not in listed_links(dst)
    # a bidirectional link: refused until Strait has them, never a silent one-way link
    one_line_error(links(dst, "--create", "--link", "bi-link", "--config",
                         f"bootstrap.servers={src.bootstrap},link.mode=BIDIRECTIONAL"),
                   "link.mode=BIDIRECTIONAL", "not available")
    assert "bi-link" not in listed_links(dst)

    # mirror of a topic the source does not have
    one_line_error(mirrors(dst, "--create", "--mirror-topic", "missing-topic", "--link",
                           "bad-input-link"),
                   "Error while executing mirror command: ", "missing-topic",
                   "does not exist on the source cluster")
    # a mirror that already exists, and promote/failover of non-mirrors
    mirrors(dst, "--create", "--mirror-topic", "present", "--link", "bad-input-link").check()
    one_line_error(mirrors(dst, "--create", "--mirror-topic", "present", "--link",
                           "bad-input-link"),
                   "Error while executing mirror command: Topic 'present' already exists.")
    one_line_error(mirrors(dst, "--failover", "--topics", "no-such-topic"),
                   "Error encountered while stopping topic no-such-topic's mirror: ")

    # wrong --cluster-id
    one_line_error(links(dst, "--create", "--link", "wrong-id", "--cluster-id", "not-the-id",
                         "--config", f"bootstrap.servers={src.bootstrap}"),
                   "Error while executing cluster link command: ", "not-the-id", src_id)

    # malformed --config, unknown config key, bad values, config syntax in files
    one_line_error(links(dst, "--create", "--link", "malformed", "--config",
                         f"bootstrap.servers{src.bootstrap}"),
                   "Error while executing cluster link command: ", "key=val")
    one_line_error(links(dst, "--create", "--link", "malformed", "--config",
                         f"bootstrap.servers={src.bootstrap},no.such.config=1"),
                   "Error while executing cluster link command: ", "no.such.config")
    one_line_error(links(dst, "--create", "--link", "malformed", "--config",
                         f"bootstrap.servers={src.bootstrap}",
                         "--consumer-group-filters-json", "{not json"),
                   "Error while executing cluster link command: ",
                   "consumer.offset.group.filters")
    one_line_error(links(dst, "--create", "--link", "malformed", "--config-file",
                         tmp_path / "absent.properties"),
                   "Error while executing cluster link command: ", "absent.properties")
    one_line_error(links(dst, "--create", "--link", "bad/name", "--config",
                         f"bootstrap.servers={src.bootstrap}"),
                   "Link name 'bad/name' is illegal")
    one_line_error(dst.cli("kafka-configs", "--alter", "--cluster-link", "bad-input-link",
                           "--add-config", "cluster.link.paused=maybe"),
                   "cluster.link.paused")

    # unreachable source: refused unless --exclude-validate-link (with --cluster-id)
    dead = f"127.0.0.1:{h.free_port()}"
    t0 = time.monotonic()
    one_line_error(links(dst, "--create", "--link", "unreachable", "--config",
                         f"bootstrap.servers={dead},cluster.link.retry.timeout.ms=1000"),
                   "Error while executing cluster link command: ",
                   "the source cluster is unreachable")
    assert time.monotonic() - t0 < 20
    one_line_error(links(dst, "--create", "--link", "unreachable", "--config",
                         f"bootstrap.servers={dead}", "--exclude-validate-link"),
                   "Command must include --cluster-id if --exclude-validate-link is specified.")
    res = links(dst, "--create", "--link", "unreachable", "--config",
                f"bootstrap.servers={dead}", "--exclude-validate-link", "--cluster-id",
                "offline-cluster").check()
    assert res.stdout == "Cluster link 'unreachable' creation successfully completed.\n"

    # argument errors
    one_line_error(links(dst, "--create", "--link", "x"),
                   "Command must include required configs for cluster link creation.")
    one_line_error(links(dst, "--list", "--delete"), "exactly one action")
    one_line_error(mirrors(dst, "--promote"), "Missing required argument \"[topics]\"")
    one_line_error(h.run_cli("kafka-mirrors", "--list"), "bootstrap-server")

    # nothing half-created
    listed = listed_links(dst)
    assert set(listed) == {"bad-input-link", "unreachable"}, listed
    assert listed["unreachable"]["remote"] == "offline-cluster"
    assert mirrors(dst, "--list", "--include-stopped").check().stdout == "present\n"
    after_topics = set(dst.cli("kafka-topics", "--list").check().stdout.splitlines())
    assert after_topics - before_topics == {"present"}, after_topics - before_topics
    res = links(dst, "--delete", "--link", "bad-input-link", "--force").check()
    links(dst, "--delete", "--link", "unreachable").check()
    assert links(dst, "--list").check().stdout == "No cluster links found.\n"
