"""Link metadata sync (issue 5): consumer offsets, topic configs,
auto-created mirrors and prefixes, between two real Strait brokers, driven
with the CLI tools exactly as the command reference shows."""

from __future__ import annotations

import json
import re
import time

import pytest
from confluent_kafka import Consumer, TopicPartition

import kafka_helpers as kh
import strait_harness as h

FAST = {"group.initial.rebalance.delay.ms": "0"}
ALL_GROUPS = {"groupFilters": [{"name": "*", "patternType": "LITERAL", "filterType": "INCLUDE"}]}


@pytest.fixture
def pair(strait_factory):
    return strait_factory(FAST), strait_factory(FAST)


def link_create(dst, src, link, *extra, configs=None, cli=h.run_cli):
    conf = {"bootstrap.servers": src.bootstrap, "metadata.max.age.ms": "500",
            "topic.config.sync.ms": "500", "consumer.offset.sync.ms": "500",
            "replica.fetch.backoff.ms": "100"}
    conf.update(configs or {})
    groups = conf.pop("consumer.offset.group.filters", None)
    if groups is not None:
        extra = extra + ("--consumer-group-filters-json", groups)
    return cli("kafka-cluster-links", "--bootstrap-server", dst.bootstrap, "--create",
               "--link", link, "--config", ",".join(f"{k}={v}" for k, v in conf.items()), *extra)


def mirror_create(dst, topic, link, *extra):
    return h.run_cli("kafka-mirrors", "--create", "--mirror-topic", topic, "--link", link,
                     "--bootstrap-server", dst.bootstrap, *extra)


def wait_lag_zero(dst, topic, timeout=20.0):
    def ok():
        r = h.run_cli("kafka-mirrors", "--describe", "--topics", topic,
                      "--bootstrap-server", dst.bootstrap)
        lines = [l for l in r.stdout.splitlines() if "Partition:" in l]
        return r.rc == 0 and bool(lines) and all(re.search(r"Lag: 0\b", l) for l in lines)
    h.wait_until(ok, timeout, what=f"mirror {topic} to catch up")


def commit_group(bootstrap, group, topic, upto, partitions=1):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        c.commit(offsets=[TopicPartition(topic, p, upto) for p in range(partitions)],
                 asynchronous=False)
    finally:
        c.close()


def describe_group(bootstrap, group):
    r = h.run_cli("kafka-consumer-groups", "--bootstrap-server", bootstrap, "--describe",
                  "--group", group)
    rows = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[0] == group:
            rows[(parts[1], int(parts[2]))] = parts
    return r, rows


def committed(bootstrap, group, topic, partition=0):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tp = c.committed([TopicPartition(topic, partition)], timeout=10)[0]
        return tp.offset
    finally:
        c.close()


def test_consumer_group_migration_procedure(pair, tmp_path):
    """The reference's step-by-step migration of group someGroup."""
    west, east = pair
    topic = "west-offsets"
    kh.create_topic(west.bootstrap, topic, 1)
    kh.produce_all(west.bootstrap, topic, [f"m{i}".encode() for i in range(100)], partition=0)
    # A consumer on the source reads everything and commits, then stops.
    c = Consumer({"bootstrap.servers": west.bootstrap, "group.id": "someGroup",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    seen = 0
    deadline = time.time() + 30
    while seen < 100 and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            seen += 1
    assert seen == 100
    c.commit(asynchronous=False)
    c.close()

    filters = tmp_path / "filters.json"
    filters.write_text(json.dumps(ALL_GROUPS, indent=2))  # pretty-printed, as in the reference
    link_create(east, west, "offsets-cluster-link", "--consumer-group-filters-json-file",
                str(filters), configs={"consumer.offset.sync.enable": "true"}).check()
    # Described on one line, like every other config.
    described = h.run_cli("kafka-configs", "--bootstrap-server", east.bootstrap, "--describe",
                          "--cluster-link", "offsets-cluster-link").check().stdout.splitlines()
    assert f"  consumer.offset.group.filters={json.dumps(ALL_GROUPS, separators=(',', ':'))} " \
        "sensitive=false synonyms={}" in described, described
    assert all(line.endswith("synonyms={}") for line in described[1:]), described
    mirror_create(east, topic, "offsets-cluster-link").check()
    wait_lag_zero(east, topic)

    # Wait 2x consumer.offset.sync.ms, then compare both sides as the reference does.
    def synced():
        return describe_group(east.bootstrap, "someGroup")[1].get((topic, 0), [None] * 4)[3] == "100"
    h.wait_until(synced, 15, what="someGroup's offset to reach the destination")
    r, src_rows = describe_group(west.bootstrap, "someGroup")
    assert src_rows[(topic, 0)][3:6] == ["100", "100", "0"], r
    r, dst_rows = describe_group(east.bootstrap, "someGroup")
    assert dst_rows[(topic, 0)][3:6] == ["100", "100", "0"], r

    # Remove the group from the migration with --add-config-file, as written.
    new_filters = tmp_path / "newFilters.properties"
    new_filters.write_text("consumer.offset.group.filters=" + json.dumps({"groupFilters": [
        {"name": "*", "patternType": "LITERAL", "filterType": "INCLUDE"},
        {"name": "someGroup", "patternType": "LITERAL", "filterType": "EXCLUDE"}]}) + "\n")
    h.run_cli("kafka-configs", "--bootstrap-server", east.bootstrap, "--alter",
              "--cluster-link", "offsets-cluster-link", "--add-config-file",
              str(new_filters)).check()

    # New source records are mirrored; the destination consumer resumes at 100.
    kh.produce_all(west.bootstrap, topic, [f"m{i}".encode() for i in range(100, 110)], partition=0)
    wait_lag_zero(east, topic)
    c = Consumer({"bootstrap.servers": east.bootstrap, "group.id": "someGroup",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got = []
    deadline = time.time() + 30
    while len(got) < 10 and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append((m.offset(), m.value()))
    extra = c.poll(1.0)
    c.close()
    assert got == [(i, f"m{i}".encode()) for i in range(100, 110)]
    assert extra is None or extra.error() is not None, "a record was read twice or skipped"

    # The sync tasks report their state and last success under --describe.
    res = h.run_cli("kafka-cluster-links", "--bootstrap-server", east.bootstrap, "--describe",
                    "--link", "offsets-cluster-link", "--include-tasks").check()
    tasks = [line.strip() for line in res.stdout.splitlines() if line.strip().startswith("Task: ")]
    offset_task = [t for t in tasks if t.startswith("Task: 'ConsumerOffsetSync'")]
    assert offset_task, res
    assert "state: 'ACTIVE'" in offset_task[0] and "last success time: 'null'" not in \
        offset_task[0], res


def test_active_destination_group_is_never_overwritten(pair):
    src, dst = pair
    topic = "busy"
    kh.create_topic(src.bootstrap, topic, 1)
    kh.produce_all(src.bootstrap, topic, [b"x"] * 20, partition=0)
    link_create(dst, src, "l", configs={"consumer.offset.sync.enable": "true",
                                        "consumer.offset.group.filters": json.dumps(ALL_GROUPS)}
                ).check()
    mirror_create(dst, topic, "l").check()
    wait_lag_zero(dst, topic)
    # A member of group g is active on the destination.
    member = Consumer({"bootstrap.servers": dst.bootstrap, "group.id": "g",
                       "auto.offset.reset": "earliest", "enable.auto.commit": False,
                       "session.timeout.ms": 30000})
    member.subscribe([topic])
    h.wait_until(lambda: (member.poll(0.2), len(member.assignment()) > 0)[1], 20,
                 what="the destination member to join")
    member.commit(offsets=[TopicPartition(topic, 0, 3)], asynchronous=False)
    commit_group(src.bootstrap, "g", topic, 17)
    time.sleep(2.5)  # several sync intervals
    member.poll(0.1)
    assert committed(dst.bootstrap, "g", topic) == 3
    member.close()
    # Once the group is empty, the source's offset arrives.
    h.wait_until(lambda: committed(dst.bootstrap, "g", topic) == 17, 15,
                 what="the source offset after the destination group emptied")


def test_exclude_beats_include_and_offsets_cap_at_log_end(pair):
    src, dst = pair
    topic = "filtered"
    kh.create_topic(src.bootstrap, topic, 1)
    kh.produce_all(src.bootstrap, topic, [b"x"] * 10, partition=0)
    filters = {"groupFilters": [
        {"name": "app.", "patternType": "PREFIXED", "filterType": "INCLUDE"},
        {"name": "app.secret", "patternType": "LITERAL", "filterType": "EXCLUDE"}]}
    link_create(dst, src, "l", "--consumer-group-filters-json", json.dumps(filters),
                configs={"consumer.offset.sync.enable": "true"}).check()
    mirror_create(dst, topic, "l").check()
    wait_lag_zero(dst, topic)
    for g in ("app.one", "app.secret", "other"):
        commit_group(src.bootstrap, g, topic, 7)
    h.wait_until(lambda: committed(dst.bootstrap, "app.one", topic) == 7, 15,
                 what="app.one's offset")
    time.sleep(1.5)
    assert committed(dst.bootstrap, "app.secret", topic) < 0
    assert committed(dst.bootstrap, "other", topic) < 0


def test_prefixed_link_mirrors_topics_and_groups_with_prefix(pair):
    src, dst = pair
    kh.create_topic(src.bootstrap, "orders", 2)
    kh.produce_all(src.bootstrap, "orders", [b"o"] * 10, partition=0)
    link_create(dst, src, "west-link", configs={
        "cluster.link.prefix": "west.", "consumer.offset.sync.enable": "true",
        "consumer.offset.group.filters": json.dumps(ALL_GROUPS)}).check()
    r = mirror_create(dst, "west.orders", "west-link")
    assert r.rc != 0 and "source-topic" in (r.stderr + r.stdout), r
    mirror_create(dst, "west.orders", "west-link", "--source-topic", "orders").check()
    wait_lag_zero(dst, "west.orders")
    commit_group(src.bootstrap, "g", "orders", 5, partitions=1)
    h.wait_until(lambda: committed(dst.bootstrap, "west.g", "west.orders") == 5, 15,
                 what="group g synced as west.g")
    assert committed(dst.bootstrap, "g", "west.orders") < 0


def test_topic_config_changes_follow_the_source(pair):
    src, dst = pair
    topic = "configured"
    kh.create_topic(src.bootstrap, topic, 1, config={"retention.ms": "3600000"})
    link_create(dst, src, "l").check()
    mirror_create(dst, topic, "l").check()
    a_dst = kh.admin(dst.bootstrap)
    assert kh.describe_topic_configs(a_dst, topic)["retention.ms"].value == "3600000"
    r = h.run_cli("kafka-configs", "--bootstrap-server", src.bootstrap, "--alter", "--topic",
                  topic, "--add-config", "retention.ms=7200000")
    r.check()
    # topic.config.sync.ms=500: the change arrives within one sync plus one interval.
    h.wait_until(lambda: kh.describe_topic_configs(a_dst, topic)["retention.ms"].value == "7200000",
                 5, what="retention.ms to reach the mirror")
    # A synced config cannot be changed on the mirror.
    r = h.run_cli("kafka-configs", "--bootstrap-server", dst.bootstrap, "--alter", "--topic",
                  topic, "--add-config", "retention.ms=1000")
    assert r.rc != 0 and "mirror" in (r.stderr + r.stdout), r


def test_auto_created_mirrors_follow_filters(pair):
    src, dst = pair
    kh.create_topic(src.bootstrap, "sales.eu", 1)
    filters = {"topicFilters": [
        {"name": "sales.", "patternType": "PREFIXED", "filterType": "INCLUDE"},
        {"name": "sales.secret", "patternType": "LITERAL", "filterType": "EXCLUDE"}]}
    link_create(dst, src, "auto", "--topic-filters-json", json.dumps(filters),
                configs={"auto.create.mirror.topics.enable": "true"}).check()

    def mirrors():
        return set(h.run_cli("kafka-mirrors", "--list", "--bootstrap-server",
                             dst.bootstrap).stdout.split())
    h.wait_until(lambda: "sales.eu" in mirrors(), 15, what="sales.eu to be auto-mirrored")
    # Topics created after the link are mirrored too; excluded ones are not.
    kh.create_topic(src.bootstrap, "sales.us", 1)
    kh.create_topic(src.bootstrap, "sales.secret", 1)
    kh.create_topic(src.bootstrap, "hr", 1)
    kh.produce_all(src.bootstrap, "sales.us", [b"u"] * 5, partition=0)
    h.wait_until(lambda: "sales.us" in mirrors(), 15, what="sales.us to be auto-mirrored")
    wait_lag_zero(dst, "sales.us")
    time.sleep(1.5)
    assert not ({"sales.secret", "hr"} & mirrors())


def test_invalid_filter_json_is_refused_and_the_link_keeps_its_config(pair, tmp_path):
    src, dst = pair
    bad = json.dumps({"groupFilters": [{"name": "*", "patternType": "REGEX",
                                        "filterType": "INCLUDE"}]})
    r = link_create(dst, src, "l", "--consumer-group-filters-json", bad)
    assert r.rc != 0 and "patternType" in r.stderr, r
    assert "Link name: 'l'" not in h.run_cli("kafka-cluster-links", "--list",
                                             "--bootstrap-server", dst.bootstrap).stdout
    link_create(dst, src, "l", "--consumer-group-filters-json", json.dumps(ALL_GROUPS)).check()
    wrong_field = tmp_path / "bad.properties"
    wrong_field.write_text('consumer.offset.group.filters={"groupFilters":[{"nam":"x"}]}\n')
    r = h.run_cli("kafka-configs", "--bootstrap-server", dst.bootstrap, "--alter",
                  "--cluster-link", "l", "--add-config-file", str(wrong_field))
    assert r.rc != 0 and "nam" in r.stderr, r
    r = h.run_cli("kafka-configs", "--bootstrap-server", dst.bootstrap, "--describe",
                  "--cluster-link", "l").check()
    assert '"name":"*"' in r.stdout.replace(" ", ""), r
