"""Operational drills for cluster links (issue 4): failover after the source
dies mid-stream, recovery of the destination from kill -9, retention-deleted
source heads, and source topics deleted under a mirror. Two real Strait
brokers, driven by the CLI tools and real clients."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

import kafka_helpers as kh
import strait_harness as h

FAST = {"group.initial.rebalance.delay.ms": "0"}
ALL_GROUPS = {"groupFilters": [{"name": "*", "patternType": "LITERAL", "filterType": "INCLUDE"}]}


def create_link(dst, src, link, **configs):
    conf = {"bootstrap.servers": src.bootstrap, "metadata.max.age.ms": "500",
            "topic.config.sync.ms": "500", "consumer.offset.sync.ms": "500",
            "replica.fetch.backoff.ms": "100"}
    conf.update(configs)
    extra = []
    groups = conf.pop("consumer.offset.group.filters", None)
    if groups is not None:
        extra = ["--consumer-group-filters-json", groups]
    h.run_cli("kafka-cluster-links", "--bootstrap-server", dst.bootstrap, "--create",
              "--link", link, "--config",
              ",".join(f"{k}={v}" for k, v in conf.items()), *extra).check()


def create_mirror(dst, topic, link):
    r = h.run_cli("kafka-mirrors", "--create", "--mirror-topic", topic, "--link", link,
                  "--bootstrap-server", dst.bootstrap).check()
    assert r.stdout.strip() == f"Created topic {topic}."


def describe(dst, topic):
    r = h.run_cli("kafka-mirrors", "--describe", "--topics", topic, "--bootstrap-server",
                  dst.bootstrap)
    return r


def partition_states(dst, topic):
    out = describe(dst, topic).stdout
    return re.findall(r"Partition: (\d+)\tState: (\S+)\tDestLogEndOffset: (-?\d+)\t"
                      r"LastFetchSourceHighWatermark: (-?\d+)\tLag: (-?\d+)", out)


def wait_caught_up(dst, topic, source_ends, timeout=30.0):
    def ok():
        rows = partition_states(dst, topic)
        return rows and all(int(leo) == source_ends[int(p)] for p, _, leo, _, _ in rows)
    h.wait_until(ok, timeout, what=f"{topic} to reach {source_ends}")


def end_offsets(bootstrap, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe"})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(partitions)}
    finally:
        c.close()


def read_all(bootstrap, topic, partitions):
    """(partition, offset, key, value) of every record, read_uncommitted."""
    out = []
    for p in range(partitions):
        out.extend((p, m.offset(), m.key(), m.value())
                   for m in kh.consume_partition(bootstrap, topic, p))
    return sorted(out)


def test_failover_drill_source_dies_mid_stream(strait_factory):
    src = strait_factory(FAST)
    dst = strait_factory(FAST)
    topic = "payments"
    kh.create_topic(src.bootstrap, topic, 2)
    create_link(dst, src, "dr", **{"consumer.offset.sync.enable": "true",
                                   "consumer.offset.group.filters": json.dumps(ALL_GROUPS)})
    create_mirror(dst, topic, "dr")

    # A producer streams into the source while a consumer group reads it.
    stop = threading.Event()
    acked = []

    def produce():
        p = Producer({"bootstrap.servers": src.bootstrap, "acks": "all", "linger.ms": 5,
                      "message.timeout.ms": 3000})
        i = 0
        while not stop.is_set():
            p.produce(topic, key=str(i % 2).encode(), value=f"v{i}".encode(),
                      on_delivery=lambda e, m: e is None and acked.append(1))
            p.poll(0)
            i += 1
            time.sleep(0.002)
        p.flush(5)

    t = threading.Thread(target=produce, daemon=True)
    t.start()
    c = Consumer({"bootstrap.servers": src.bootstrap, "group.id": "billing",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    consumed = 0
    deadline = time.time() + 20
    while consumed < 200 and time.time() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            consumed += 1
    c.commit(asynchronous=False)
    committed = {tp.partition: tp.offset for tp in c.committed(
        [TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)}
    c.close()
    time.sleep(1.5)  # offsets and records reach the destination

    # The source dies mid-stream.
    src.kill9()
    stop.set()
    t.join(10)
    h.wait_until(lambda: "SOURCE_UNAVAILABLE" in describe(dst, topic).stdout, 20,
                 what="the mirror to report SOURCE_UNAVAILABLE")

    # Promote needs the source to check lag: a clear refusal, not a timeout.
    r = h.run_cli("kafka-mirrors", "--promote", "--topics", topic, "--bootstrap-server",
                  dst.bootstrap)
    errors = r.stderr.strip().splitlines()
    assert r.rc != 0 and len(errors) == 1, r
    assert "could not be reached to check lag" in errors[0] and "--failover" in errors[0], r

    r = h.run_cli("kafka-mirrors", "--failover", "--topics", topic, "--bootstrap-server",
                  dst.bootstrap).check()
    assert f"Request for stopping topic {topic}'s mirror was successfully scheduled." in r.stdout
    h.wait_until(lambda: "State: STOPPED" in h.run_cli(
        "kafka-mirrors", "--describe", "--topics", topic, "--include-stopped",
        "--bootstrap-server", dst.bootstrap).stdout, 10, what="STOPPED")

    # The group resumes on the destination at its synced offsets.
    dst_committed = {}
    c = Consumer({"bootstrap.servers": dst.bootstrap, "group.id": "billing",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    for tp in c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10):
        dst_committed[tp.partition] = tp.offset
    assert dst_committed == committed
    c.subscribe([topic])
    first = {}
    deadline = time.time() + 20
    while len(first) < 2 and time.time() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error() and m.partition() not in first:
            first[m.partition()] = m.offset()
    c.close()
    for p, off in first.items():
        assert off == committed[p], (p, off, committed)

    # A producer writes new records after the last mirrored offset.
    ends = end_offsets(dst.bootstrap, topic, 2)
    delivered = kh.produce_all(dst.bootstrap, topic, [b"after-failover"], partition=0)
    assert delivered[0][1] == ends[0]


def test_destination_kill9_resumes_without_gap_or_duplicate(strait_factory):
    src = strait_factory()
    dst = strait_factory()
    topic = "ledger"
    kh.create_topic(src.bootstrap, topic, 3)
    for p in range(3):
        kh.produce_all(src.bootstrap, topic, [f"a{p}-{i}".encode() for i in range(300)],
                       partition=p)
    create_link(dst, src, "l")
    create_mirror(dst, topic, "l")
    time.sleep(0.3)
    dst.kill9()
    for p in range(3):
        kh.produce_all(src.bootstrap, topic, [f"b{p}-{i}".encode() for i in range(200)],
                       partition=p)
    dst.start()
    wait_caught_up(dst, topic, end_offsets(src.bootstrap, topic, 3))
    assert read_all(dst.bootstrap, topic, 3) == read_all(src.bootstrap, topic, 3)


def test_mirror_of_a_source_with_a_deleted_head_keeps_offsets(strait_factory):
    src = strait_factory()
    dst = strait_factory()
    topic = "trimmed"
    kh.create_topic(src.bootstrap, topic, 1)
    kh.produce_all(src.bootstrap, topic, [f"r{i}".encode() for i in range(100)], partition=0)
    a = kh.admin(src.bootstrap)
    from confluent_kafka import TopicPartition as TP
    futs = a.delete_records([TP(topic, 0, 40)])
    for f in futs.values():
        f.result(10)
    create_link(dst, src, "l")
    create_mirror(dst, topic, "l")
    wait_caught_up(dst, topic, {0: 100})
    got = read_all(dst.bootstrap, topic, 1)
    assert got[0][1] >= 40 and got[-1][1] == 99
    assert got == [row for row in read_all(src.bootstrap, topic, 1) if row[1] >= got[0][1]]


def test_deleted_source_topic_fails_the_mirror_and_keeps_its_data(strait_factory):
    src = strait_factory()
    dst = strait_factory()
    topic = "doomed"
    kh.create_topic(src.bootstrap, topic, 1)
    kh.produce_all(src.bootstrap, topic, [b"x"] * 10, partition=0)
    create_link(dst, src, "l")
    create_mirror(dst, topic, "l")
    wait_caught_up(dst, topic, {0: 10})
    h.run_cli("kafka-topics", "--bootstrap-server", src.bootstrap, "--delete", "--topic",
              topic).check()
    h.wait_until(lambda: "State: FAILED" in describe(dst, topic).stdout, 20,
                 what="the mirror to fail")
    assert len(read_all(dst.bootstrap, topic, 1)) == 10
    # Still read-only until failover; then writable.
    with pytest.raises(AssertionError, match="delivery failed"):
        kh.produce_all(dst.bootstrap, topic, [b"y"], partition=0, **{"message.timeout.ms": 3000})
    h.run_cli("kafka-mirrors", "--failover", "--topics", topic, "--bootstrap-server",
              dst.bootstrap).check()
    assert kh.produce_all(dst.bootstrap, topic, [b"y"], partition=0)[0][1] == 10


def test_promote_refuses_while_the_mirror_lags_and_succeeds_at_lag_zero(strait_factory):
    src = strait_factory()
    dst = strait_factory()
    topic = "promoted"
    kh.create_topic(src.bootstrap, topic, 2)
    for p in range(2):
        kh.produce_all(src.bootstrap, topic, [f"a{p}-{i}".encode() for i in range(50)],
                       partition=p)
    create_link(dst, src, "l")
    create_mirror(dst, topic, "l")
    wait_caught_up(dst, topic, end_offsets(src.bootstrap, topic, 2))
    h.run_cli("kafka-mirrors", "--pause", "--topics", topic, "--bootstrap-server",
              dst.bootstrap).check()
    kh.produce_all(src.bootstrap, topic, [f"b{i}".encode() for i in range(30)], partition=1)

    res = h.run_cli("kafka-mirrors", "--promote", "--topics", topic, "--bootstrap-server",
                    dst.bootstrap)
    assert res.rc != 0, res
    errors = res.stderr.strip().splitlines()
    assert len(errors) == 1 and "mirror lag is not zero" in errors[0], res
    assert partition_states(dst, topic)[0][1] == "PAUSED", "a refused promote changes nothing"

    h.run_cli("kafka-mirrors", "--unpause", "--topics", topic, "--bootstrap-server",
              dst.bootstrap).check()
    wait_caught_up(dst, topic, end_offsets(src.bootstrap, topic, 2))
    h.run_cli("kafka-mirrors", "--promote", "--topics", topic, "--bootstrap-server",
              dst.bootstrap).check()
    h.wait_until(lambda: all(s == "STOPPED" for _, s, *_ in partition_states(dst, topic)),
                 15, what="the promotion to finish")
    # The promoted topic takes writes after the last mirrored offset.
    got = kh.produce_all(dst.bootstrap, topic, [b"after"], partition=1)
    assert got[0][1] == 80
