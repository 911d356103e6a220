"""Leader epochs kept in the log: OffsetForLeaderEpoch answers from the
partition's leader-epoch-checkpoint, the answers survive a clean restart and a
kill -9, and confluent-kafka consumers (librdkafka validates positions with
OffsetForLeaderEpoch) keep their place across a restart.

The mirror case (a source's epochs 3 and 7 answered by the mirror) is covered
in the log crate's unit tests: a Strait source stamps epoch 0, so an e2e
mirror cannot carry other epochs yet.
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("confluent_kafka")

from confluent_kafka import KafkaError, TopicPartition  # noqa: E402

import kafka_helpers as kh  # noqa: E402
from test_tool_apis import (  # noqa: E402
    FENCED_LEADER_EPOCH,
    UNKNOWN_LEADER_EPOCH,
    offset_for_leader_epoch,
)

T = 30


def checkpoint(srv, topic, partition=0):
    return (srv.data_dir / f"{topic}-{partition}" / "leader-epoch-checkpoint").read_text()


def check(srv, topic, end):
    bootstrap = srv.bootstrap
    assert offset_for_leader_epoch(bootstrap, topic, [(0, 0, 0)]) == {0: (0, 0, end)}
    assert offset_for_leader_epoch(bootstrap, topic, [(0, -1, 0)]) == {0: (0, 0, end)}
    # Newer than every cached epoch, and the undefined epoch: undefined, no error.
    assert offset_for_leader_epoch(bootstrap, topic, [(0, -1, 1)]) == {0: (0, -1, -1)}
    assert offset_for_leader_epoch(bootstrap, topic, [(0, -1, -1)]) == {0: (0, -1, -1)}
    # Fencing on the epoch the client believes current.
    assert offset_for_leader_epoch(bootstrap, topic, [(0, 1, 0)]) == {
        0: (UNKNOWN_LEADER_EPOCH, -1, -1)}
    assert offset_for_leader_epoch(bootstrap, topic, [(0, -3, 0)]) == {
        0: (FENCED_LEADER_EPOCH, -1, -1)}
    assert checkpoint(srv, topic) == "0\n1\n0 0\n"


def test_epoch_answers_survive_restart_and_kill9(strait_factory, topic_name):
    srv = strait_factory()
    kh.create_topic(srv.bootstrap, topic_name)
    kh.produce_all(srv.bootstrap, topic_name, [f"v{i}".encode() for i in range(7)], partition=0)
    check(srv, topic_name, 7)
    # Leader appends are stamped with the partition's epoch, not the producer's -1.
    msgs = kh.consume_partition(srv.bootstrap, topic_name, 0, start=0, count=7)
    assert {m.leader_epoch() for m in msgs} == {0}

    srv.stop()
    srv.start()
    check(srv, topic_name, 7)

    kh.produce_all(srv.bootstrap, topic_name, [b"after-restart"], partition=0)
    srv.kill9()
    srv.start()
    check(srv, topic_name, 8)


def test_epoch_checkpoint_is_rebuilt_when_missing(strait_factory, topic_name):
    """A log written before the cache existed has no checkpoint: it is rebuilt
    from the batch headers, and no data goes."""
    srv = strait_factory()
    kh.create_topic(srv.bootstrap, topic_name)
    kh.produce_all(srv.bootstrap, topic_name, [b"a", b"b", b"c"], partition=0)
    srv.stop()
    (srv.data_dir / f"{topic_name}-0" / "leader-epoch-checkpoint").unlink()
    srv.start()
    check(srv, topic_name, 3)
    msgs = kh.consume_partition(srv.bootstrap, topic_name, 0, start=0, count=3)
    assert [m.value() for m in msgs] == [b"a", b"b", b"c"]


def test_confluent_consumer_keeps_its_place_across_restart(strait_factory, topic_name):
    srv = strait_factory()
    kh.create_topic(srv.bootstrap, topic_name)
    kh.produce_all(srv.bootstrap, topic_name, [f"a{i}".encode() for i in range(5)], partition=0)
    c = kh.consumer(srv.bootstrap, **{"group.id": f"g-{topic_name}",
                                      "enable.partition.eof": False,
                                      "reconnect.backoff.ms": 100,
                                      "reconnect.backoff.max.ms": 500})
    seen = []

    def poll_until(n, timeout=T):
        deadline = time.monotonic() + timeout
        while len(seen) < n and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                # Transport errors while the broker restarts are expected.
                assert m.error().code() in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN), \
                    m.error()
                continue
            seen.append((m.offset(), m.value()))
        assert len(seen) >= n, f"consumed {seen} in {timeout}s"

    try:
        c.subscribe([topic_name])
        poll_until(5)
        c.commit(asynchronous=False)
        srv.stop()
        srv.start()
        kh.produce_all(srv.bootstrap, topic_name, [f"b{i}".encode() for i in range(5)],
                       partition=0)
        poll_until(10, timeout=60)
        assert seen == [(i, f"a{i}".encode()) for i in range(5)] + \
            [(5 + i, f"b{i}".encode()) for i in range(5)]
        committed = c.committed([TopicPartition(topic_name, 0)], timeout=T)[0]
        assert committed.offset == 5
    finally:
        c.close()
