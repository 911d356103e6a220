"""The tool APIs as kafka-python 3 (a client nobody here wrote) speaks them:
DescribeTopicPartitions (KIP-966, Kafka 3.7+ `kafka-topics --describe`),
with its page limit and cursor, and the `kafka-transactions` APIs
ListTransactions, DescribeTransactions and DescribeProducers against a
transaction left open by a confluent-kafka (librdkafka) producer.

Every wait is bounded."""

from __future__ import annotations

import time

import pytest

kafka = pytest.importorskip("kafka")

from kafka import KafkaAdminClient, TopicPartition  # noqa: E402
from kafka.admin._transactions import TransactionState  # noqa: E402
import kafka.errors as Errors  # noqa: E402

import kafka_helpers as kh  # noqa: E402

UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_TOPIC_EXCEPTION = 17
INVALID_REQUEST = 42
# Topic operations when no authorizer is configured: every supported one
# (READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS).
ALL_TOPIC_OPERATIONS = sum(1 << code for code in (3, 4, 5, 6, 7, 8, 10, 11))


def admin(bootstrap: str) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20000)


def pages(a: KafkaAdminClient, topics, limit: int):
    """Every page of a DescribeTopicPartitions walk, following the cursor."""
    out, cursor = [], None
    for _ in range(100):
        page = a.describe_topic_partitions(topics, response_partition_limit=limit, cursor=cursor)
        out.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError(f"no end of pages after 100: last cursor {cursor}")


def partition_list(page):
    return [(t["name"], p["partition_index"]) for t in page["topics"] for p in t["partitions"]]


def test_describe_topic_partitions_pages_with_a_cursor(broker, topic_name):
    a_name, b_name = f"{topic_name}-a", f"{topic_name}-b"
    kh.create_topic(broker.bootstrap, b_name, partitions=3)
    kh.create_topic(broker.bootstrap, a_name, partitions=5)
    a = admin(broker.bootstrap)
    try:
        walk = pages(a, [b_name, a_name, b_name], limit=4)
        # Name order, each topic once, four partitions a page.
        assert [partition_list(p) for p in walk] == [
            [(a_name, 0), (a_name, 1), (a_name, 2), (a_name, 3)],
            [(a_name, 4), (b_name, 0), (b_name, 1), (b_name, 2)],
        ]
        assert walk[0]["next_cursor"] == {"topic_name": a_name, "partition_index": 4}
        # An exact fit points at the start of the next topic.
        (first, second) = pages(a, [a_name, b_name], limit=5)
        assert first["next_cursor"] == {"topic_name": b_name, "partition_index": 0}
        assert partition_list(second) == [(b_name, 0), (b_name, 1), (b_name, 2)]

        (whole,) = pages(a, [a_name], limit=2000)
        (t,) = whole["topics"]
        assert t["error_code"] == 0 and t["is_internal"] is False
        assert t["topic_authorized_operations"] == ALL_TOPIC_OPERATIONS
        for p in t["partitions"]:
            assert (p["leader_id"], p["leader_epoch"]) == (1, 0)
            assert (p["replica_nodes"], p["isr_nodes"], p["offline_replicas"]) == ([1], [1], [])
        # The same topic id as Metadata reports.
        (meta,) = a.describe_topics([a_name])
        assert str(t["topic_id"]) == str(meta["topic_id"])
    finally:
        a.close()


def test_describe_topic_partitions_of_every_topic(broker, topic_name):
    names = [f"{topic_name}-{i}" for i in range(3)]
    for n in names:
        kh.create_topic(broker.bootstrap, n, partitions=2)
    a = admin(broker.bootstrap)
    try:
        walk = pages(a, [], limit=3)
        seen = [tp for p in walk for tp in partition_list(p)]
        assert seen == sorted(seen), "every topic, in name order"
        assert [tp for tp in seen if tp[0] in names] == [(n, i) for n in names for i in range(2)]
        assert all(len(partition_list(p)) <= 3 for p in walk)
        # A cursor on a topic that does not exist starts at the next name.
        rest = a.describe_topic_partitions(
            [], cursor={"topic_name": names[1][:-1] + "1~", "partition_index": 7})
        assert [t["name"] for t in rest["topics"]] == [names[2]]
    finally:
        a.close()


def test_describe_topic_partitions_errors(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=1)
    a = admin(broker.bootstrap)
    try:
        got = a.describe_topic_partitions([topic_name, f"{topic_name}-missing", "bad name!"])
        errors = {t["name"]: t["error_code"] for t in got["topics"]}
        assert errors == {topic_name: 0, f"{topic_name}-missing": UNKNOWN_TOPIC_OR_PARTITION,
                          "bad name!": INVALID_TOPIC_EXCEPTION}
        assert got["next_cursor"] is None
        # Kafka rejects a cursor outside the named topics, and a negative
        # cursor partition, on every topic of the request.
        for cursor in ({"topic_name": "elsewhere", "partition_index": 0},
                       {"topic_name": topic_name, "partition_index": -1}):
            got = a.describe_topic_partitions([topic_name], cursor=cursor)
            assert [(t["name"], t["error_code"], t["partitions"]) for t in got["topics"]] == [
                (topic_name, INVALID_REQUEST, [])], cursor
        # A limit of 0 (or less) still answers one partition, as Kafka does.
        got = a.describe_topic_partitions([topic_name], response_partition_limit=0)
        assert partition_list(got) == [(topic_name, 0)]
    finally:
        a.close()


def test_the_broker_caps_a_page(strait_factory, topic_name):
    srv = strait_factory({"max.request.partition.size.limit": 2})
    kh.create_topic(srv.bootstrap, topic_name, partitions=5)
    a = admin(srv.bootstrap)
    try:
        walk = pages(a, [topic_name], limit=2000)
        assert [len(partition_list(p)) for p in walk] == [2, 2, 1]
    finally:
        a.close()


# ----- kafka-transactions ------------------------------------------------------


def test_transactions_listed_and_described(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=3)
    txn_id = f"tools-{topic_name}"
    p = kh.producer(broker.bootstrap, **{"transactional.id": txn_id, "linger.ms": 0,
                                         "transaction.timeout.ms": 45000})
    p.init_transactions(20)
    p.begin_transaction()
    for part in (0, 2):
        p.produce(topic_name, value=b"open", partition=part)
    assert p.flush(20) == 0
    a = admin(broker.bootstrap)
    try:
        listed = a.list_transactions()
        assert list(listed) == [1], "one broker, node 1"
        (mine,) = [t for t in listed[1] if t.transactional_id == txn_id]
        assert mine.state == TransactionState.ONGOING
        pid = mine.producer_id
        # Filters as Kafka applies them.
        assert [t.transactional_id for t in
                a.list_transactions(state_filters=["Ongoing"])[1]].count(txn_id) == 1
        assert txn_id not in [t.transactional_id for t in
                              a.list_transactions(state_filters=["CompleteCommit"])[1]]
        assert [t.transactional_id for t in
                a.list_transactions(producer_id_filters=[pid])[1]] == [txn_id]
        assert a.list_transactions(transactional_id_pattern=f"tools-{topic_name[:4]}.*")[1]
        assert a.list_transactions(duration_filter_ms=3_600_000)[1] == []

        d = a.describe_transactions([txn_id])[txn_id]
        assert (d.state, d.producer_id, d.transaction_timeout_ms) == (
            TransactionState.ONGOING, pid, 45000)
        assert d.topic_partitions == {TopicPartition(topic_name, 0), TopicPartition(topic_name, 2)}
        assert abs(d.transaction_start_time_ms - time.time() * 1000) < 60_000

        producers = a.describe_producers(
            [TopicPartition(topic_name, i) for i in range(3)])
        (active,) = producers[TopicPartition(topic_name, 0)].active_producers
        assert (active.producer_id, active.producer_epoch) == (pid, d.producer_epoch)
        assert active.current_transaction_start_offset == 0
        assert producers[TopicPartition(topic_name, 1)].active_producers == []

        p.commit_transaction(20)
        d = a.describe_transactions([txn_id])[txn_id]
        assert (d.state, d.topic_partitions) == (TransactionState.COMPLETE_COMMIT, set())
        (active,) = a.describe_producers(
            [TopicPartition(topic_name, 2)])[TopicPartition(topic_name, 2)].active_producers
        assert active.current_transaction_start_offset == -1

        with pytest.raises(Errors.TransactionalIdNotFoundError):
            a.describe_transactions([f"{txn_id}-never"])
    finally:
        a.close()
