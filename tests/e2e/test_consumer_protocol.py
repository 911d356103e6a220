"""KIP-848 consumer groups (group.protocol=consumer): ConsumerGroupHeartbeat
assignment and reconciliation, ConsumerGroupDescribe, and offsets that
survive a restart.  Marked `groups`."""


import pytest

pytest.importorskip("confluent_kafka")

from confluent_kafka import Consumer, ConsumerGroupType, TopicPartition  # noqa: E402

import kafka_helpers as kh  # noqa: E402

pytestmark = pytest.mark.groups

T = 60
# Fast heartbeats keep reconciliation within a few seconds.
BROKER = {"group.consumer.heartbeat.interval.ms": "500"}


def modern_consumer(bootstrap, group, **conf):
    base = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "group.protocol": "consumer",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "log_level": 3,
    }
    base.update(conf)
    return Consumer(base)


def partitions(c):
    return sorted(tp.partition for tp in c.assignment())



def values(got):
    return sorted(m.value() for ms in got.values() for m in ms)


def test_three_share_six_then_two_cover_all(strait_factory, topic_name):
    srv = strait_factory(BROKER)
    kh.create_topic(srv.bootstrap, topic_name, partitions=6)
    group = "modern-trio"
    consumers = [modern_consumer(srv.bootstrap, group, **{"client.id": f"c{i}"})
                 for i in range(3)]
    closed = []
    try:
        for c in consumers:
            c.subscribe([topic_name])

        def balanced(members):
            parts = [partitions(c) for c in members]
            return all(len(p) == 6 // len(members) for p in parts) and \
                sorted(sum(parts, [])) == list(range(6))

        kh.poll_until(consumers, lambda _: balanced(consumers), T,
                   "each of three consumers to own 2 of the 6 partitions")
        owner = {tp.partition: i for i, c in enumerate(consumers) for tp in c.assignment()}

        first = [f"a{i}".encode() for i in range(300)]
        kh.produce_all(srv.bootstrap, topic_name, first, keys=[str(i).encode() for i in range(300)])
        got = kh.poll_until(consumers, lambda g: sum(map(len, g.values())) >= len(first), T,
                         "the first batch across the group")
        for i, c in enumerate(consumers):
            for m in got[id(c)]:
                assert owner[m.partition()] == i, "record delivered to a non-owner"
        assert values(got) == sorted(first), "records lost or duplicated"
        for c in consumers:
            c.commit(asynchronous=False)

        a = kh.admin(srv.bootstrap)
        listed = a.list_consumer_groups(request_timeout=15).result(timeout=T)
        mine = [g for g in listed.valid if g.group_id == group]
        assert mine and mine[0].type == ConsumerGroupType.CONSUMER, listed.valid

        leaver = consumers.pop()
        leaver.close()
        closed.append(leaver)
        kh.poll_until(consumers, lambda _: balanced(consumers), T,
                   "the two remaining consumers to cover all 6 partitions")

        desc = a.describe_consumer_groups([group], request_timeout=15)[group].result(timeout=T)
        assert desc.type == ConsumerGroupType.CONSUMER
        assert len(desc.members) == 2
        assert sorted(len(m.assignment.topic_partitions) for m in desc.members) == [3, 3]
        # kafka-consumer-groups describes it through ConsumerGroupDescribe.
        res = srv.cli("kafka-consumer-groups", "--describe", "--group", group, "--members")
        assert res.rc == 0, str(res)
        rows = [l.split() for l in res.stdout.splitlines() if l.startswith(group)]
        assert sorted(int(r[-1]) for r in rows) == [3, 3], res.stdout

        second = [f"b{i}".encode() for i in range(300)]
        kh.produce_all(srv.bootstrap, topic_name, second,
                       keys=[str(i).encode() for i in range(300)])
        got = kh.poll_until(consumers, lambda g: sum(map(len, g.values())) >= len(second), T,
                         "the second batch across the two survivors")
        # The survivors resume from the committed offsets: exactly the new records.
        assert values(got) == sorted(second), "records lost or re-delivered after the leave"
    finally:
        for c in consumers:
            c.close()


@pytest.mark.parametrize("how", ["stop", "kill9"])
def test_commits_survive_restart(strait_factory, topic_name, how):
    srv = strait_factory(BROKER)
    kh.create_topic(srv.bootstrap, topic_name, partitions=2)
    for p in (0, 1):
        kh.produce_all(srv.bootstrap, topic_name,
                       [f"p{p}-{i}".encode() for i in range(20)], partition=p)
    group = "modern-durable"
    c = modern_consumer(srv.bootstrap, group)
    try:
        c.subscribe([topic_name])
        kh.poll_until([c], lambda g: len(g[id(c)]) >= 40, T, "all 40 records")
        c.commit(offsets=[TopicPartition(topic_name, 0, 7), TopicPartition(topic_name, 1, 12)],
                 asynchronous=False)
        committed = c.committed([TopicPartition(topic_name, 0), TopicPartition(topic_name, 1)],
                                timeout=T)
        assert [tp.offset for tp in committed] == [7, 12]
    finally:
        c.close()

    if how == "stop":
        srv.stop()
    else:
        srv.kill9()
    srv.start()

    c = modern_consumer(srv.bootstrap, group)
    try:
        c.subscribe([topic_name])
        got = kh.poll_until([c], lambda g: len(g[id(c)]) >= 13 + 8, T,
                         "the records after the committed offsets")[id(c)]
        by_partition = {p: [m.offset() for m in got if m.partition() == p] for p in (0, 1)}
        assert by_partition[0] == list(range(7, 20))
        assert by_partition[1] == list(range(12, 20))
    finally:
        c.close()


def test_running_consumer_rejoins_after_restart(strait_factory, topic_name):
    """Group state is in memory: after a restart the running member is told
    it is unknown, rejoins with epoch 0 and resumes from its commits."""
    srv = strait_factory(BROKER)
    kh.create_topic(srv.bootstrap, topic_name, partitions=2)
    first = [f"a{i}".encode() for i in range(10)]
    kh.produce_all(srv.bootstrap, topic_name, first)
    c = modern_consumer(srv.bootstrap, "modern-rejoin")
    try:
        c.subscribe([topic_name])
        got = kh.poll_until([c], lambda g: len(g[id(c)]) >= len(first), T, "the first batch")
        assert values(got) == sorted(first)
        c.commit(asynchronous=False)
        srv.stop()
        srv.start()
        second = [f"b{i}".encode() for i in range(10)]
        kh.produce_all(srv.bootstrap, topic_name, second)
        got = kh.poll_until([c], lambda g: len(g[id(c)]) >= len(second), T,
                         "the second batch after the restart")
        assert values(got) == sorted(second), "records lost or re-delivered across the restart"
    finally:
        c.close()
