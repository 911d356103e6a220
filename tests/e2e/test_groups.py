"""Consumer groups: FindCoordinator, Join/Sync/Heartbeat/Leave, OffsetCommit/Fetch,
ListGroups, DescribeGroups, DeleteGroups.  Marked `groups`."""

import shutil

import pytest

pytest.importorskip("confluent_kafka")

from confluent_kafka import Consumer, ConsumerGroupState, KafkaError, TopicPartition  # noqa: E402

import kafka_helpers as kh  # noqa: E402
from strait_harness import run, wait_until  # noqa: E402

pytestmark = pytest.mark.groups

T = 60


def group_consumer(bootstrap, group, **conf):
    base = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 500,
        "log_level": 3,
    }
    base.update(conf)
    return Consumer(base)


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")
def test_kcat_balanced_consumer(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=3)
    values = [f"m{i}".encode() for i in range(90)]
    delivered = kh.produce_all(broker.bootstrap, topic_name, values,
                               keys=[str(i).encode() for i in range(90)])
    res = run(["kcat", "-b", broker.bootstrap, "-X", "auto.offset.reset=earliest",
               "-c", "90", "-f", "%p %o %s\n", "-G", "kcat-group", topic_name], timeout=T)
    assert res.rc == 0, str(res)
    got = sorted(tuple(l.split(" ")) for l in res.stdout.splitlines())
    expected = sorted((str(p), str(o), v.decode()) for p, o, _, v in delivered)
    assert got == expected


def test_three_consumers_share_six_partitions(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=6)
    group = "trio"
    consumers = [group_consumer(broker.bootstrap, group, **{"client.id": f"c{i}"})
                 for i in range(3)]
    try:
        for c in consumers:
            c.subscribe([topic_name])

        def balanced(_):
            parts = [sorted(tp.partition for tp in c.assignment()) for c in consumers]
            return all(len(p) == 2 for p in parts) and \
                sorted(sum(parts, [])) == list(range(6))
        kh.poll_until(consumers, balanced, T, "each consumer to own 2 of the 6 partitions")
        owner = {tp.partition: i for i, c in enumerate(consumers) for tp in c.assignment()}

        n = 600
        delivered = kh.produce_all(broker.bootstrap, topic_name,
                                   [f"v{i}".encode() for i in range(n)],
                                   keys=[str(i).encode() for i in range(n)])
        got = kh.poll_until(consumers, lambda g: sum(map(len, g.values())) >= n, T,
                         f"{n} messages across the group")
        seen = []
        for i, c in enumerate(consumers):
            for m in got[id(c)]:
                assert owner[m.partition()] == i, "message delivered to a non-owner"
                seen.append((m.partition(), m.offset(), m.value()))
        assert sorted(seen) == sorted((p, o, v) for p, o, _, v in delivered)
    finally:
        for c in consumers:
            c.close()


def test_rebalance_when_member_leaves(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=4)
    a = group_consumer(broker.bootstrap, "leavers")
    b = group_consumer(broker.bootstrap, "leavers")
    try:
        a.subscribe([topic_name])
        b.subscribe([topic_name])
        kh.poll_until([a, b], lambda _: len(a.assignment()) == 2 and len(b.assignment()) == 2, T,
                   "2+2 assignment")
        b.close()  # LeaveGroup
        kh.poll_until([a], lambda _: len(a.assignment()) == 4, T, "survivor to own all 4 partitions")
    finally:
        a.close()


@pytest.mark.parametrize("how", ["stop", "kill9"])
def test_committed_offsets_survive_restart(strait_factory, topic_name, how):
    srv = strait_factory()
    kh.create_topic(srv.bootstrap, topic_name)
    kh.produce_all(srv.bootstrap, topic_name, [f"v{i}".encode() for i in range(20)], partition=0)

    c = group_consumer(srv.bootstrap, "durable")
    try:
        c.subscribe([topic_name])
        got = kh.poll_until([c], lambda g: len(g[id(c)]) >= 10, T, "10 messages")[id(c)]
        assert [m.offset() for m in got[:10]] == list(range(10))
        c.commit(offsets=[TopicPartition(topic_name, 0, 10)], asynchronous=False)
        committed = c.committed([TopicPartition(topic_name, 0)], timeout=T)
        assert committed[0].offset == 10
    finally:
        c.close()

    if how == "stop":
        srv.stop()
    else:
        srv.kill9()
    srv.start()

    c = group_consumer(srv.bootstrap, "durable")
    try:
        committed = c.committed([TopicPartition(topic_name, 0)], timeout=T)
        assert committed[0].offset == 10
        c.subscribe([topic_name])
        got = kh.poll_until([c], lambda g: len(g[id(c)]) >= 10, T, "the remaining 10 messages")[id(c)]
        assert [(m.offset(), m.value()) for m in got] == [(i, f"v{i}".encode()) for i in range(10, 20)]
    finally:
        c.close()


def parse_table(stdout):
    """Rows of a whitespace-aligned kafka-consumer-groups table, keyed by header."""
    lines = [l for l in stdout.splitlines() if l.strip()]
    for i, line in enumerate(lines):
        if line.split()[:2] == ["GROUP", "TOPIC"]:
            header = line.split()
            return header, [dict(zip(header, l.split())) for l in lines[i + 1:]]
    raise AssertionError(f"no GROUP/TOPIC header in:\n{stdout}")


def test_consumer_groups_cli_list_describe_delete(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name)
    kh.produce_all(broker.bootstrap, topic_name, [f"v{i}".encode() for i in range(20)], partition=0)
    c = group_consumer(broker.bootstrap, "cli-group", **{"client.id": "e2e-client"})
    try:
        c.subscribe([topic_name])
        kh.poll_until([c], lambda g: len(g[id(c)]) >= 10, T, "10 messages")
        c.commit(offsets=[TopicPartition(topic_name, 0, 10)], asynchronous=False)

        res = broker.cli("kafka-consumer-groups", "--list").check()
        assert "cli-group" in res.stdout.split()

        res = broker.cli("kafka-consumer-groups", "--describe", "--group", "cli-group").check()
        header, rows = parse_table(res.stdout)
        assert header == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET",
                          "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"]
        assert len(rows) == 1, res.stdout
        row = rows[0]
        assert (row["GROUP"], row["TOPIC"], row["PARTITION"]) == ("cli-group", topic_name, "0")
        assert (row["CURRENT-OFFSET"], row["LOG-END-OFFSET"], row["LAG"]) == ("10", "20", "10")
        assert row["CONSUMER-ID"].startswith("e2e-client-"), row
        assert row["HOST"] == "/127.0.0.1", row
        assert row["CLIENT-ID"] == "e2e-client", row
    finally:
        c.close()

    # No active members any more: offsets are still described.
    res = broker.cli("kafka-consumer-groups", "--describe", "--group", "cli-group").check()
    assert "Consumer group 'cli-group' has no active members." in res.stdout
    header, rows = parse_table(res.stdout)
    assert [(r["CURRENT-OFFSET"], r["LAG"], r["CONSUMER-ID"]) for r in rows] == [("10", "10", "-")]

    res = broker.cli("kafka-consumer-groups", "--delete", "--group", "cli-group").check()
    assert "Deletion of requested consumer groups ('cli-group') was successful." in res.stdout
    res = broker.cli("kafka-consumer-groups", "--list").check()
    assert "cli-group" not in res.stdout.split()


def test_describe_missing_group_fails(broker):
    res = broker.cli("kafka-consumer-groups", "--describe", "--group", "ghost")
    assert res.rc != 0 or "does not exist" in res.stdout + res.stderr, str(res)


def test_admin_list_describe_delete_groups(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=2)
    a = kh.admin(broker.bootstrap)
    c = group_consumer(broker.bootstrap, "admin-group", **{"client.id": "adm"})
    try:
        c.subscribe([topic_name])
        kh.poll_until([c], lambda _: len(c.assignment()) == 2, T, "assignment")
        listed = a.list_consumer_groups(request_timeout=T).result(timeout=T)
        assert "admin-group" in [g.group_id for g in listed.valid]
        desc = a.describe_consumer_groups(["admin-group"], request_timeout=T)["admin-group"] \
            .result(timeout=T)
        assert desc.state == ConsumerGroupState.STABLE
        assert len(desc.members) == 1
        assert desc.members[0].client_id == "adm"
        assert sorted(tp.partition for tp in desc.members[0].assignment.topic_partitions) == [0, 1]
        assert desc.coordinator.id == 1

        # A group with members cannot be deleted.
        fut = a.delete_consumer_groups(["admin-group"], request_timeout=T)["admin-group"]
        with pytest.raises(Exception) as ei:
            fut.result(timeout=T)
        assert ei.value.args[0].code() == KafkaError.NON_EMPTY_GROUP
    finally:
        c.close()

    wait_until(lambda: a.describe_consumer_groups(["admin-group"], request_timeout=T)
               ["admin-group"].result(timeout=T).state == ConsumerGroupState.EMPTY,
               T, what="group to become EMPTY")
    a.delete_consumer_groups(["admin-group"], request_timeout=T)["admin-group"].result(timeout=T)
    listed = a.list_consumer_groups(request_timeout=T).result(timeout=T)
    assert "admin-group" not in [g.group_id for g in listed.valid]
