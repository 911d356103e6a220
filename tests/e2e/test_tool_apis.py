"""Tool-facing APIs answered with Kafka's semantics: OffsetForLeaderEpoch and
DescribeProducers, and their authorization gates.

Data is produced by confluent-kafka; the API is spoken in raw frames
(kafka_wire) since neither installed client exposes these APIs.
"""

from __future__ import annotations

import kafka_helpers as kh
import kafka_wire as kw

OFFSET_FOR_LEADER_EPOCH = 23
UNKNOWN_TOPIC_OR_PARTITION = 3
FENCED_LEADER_EPOCH = 74
UNKNOWN_LEADER_EPOCH = 75


def offset_for_leader_epoch(bootstrap: str, topic: str, parts, version: int = 4):
    """parts: [(partition, current_leader_epoch, leader_epoch)] ->
    {partition: (error, leader_epoch, end_offset)}."""
    flexible = version >= 4
    w = kw.Writer(flexible)
    if version >= 3:
        w.int32(-1)  # replica_id: a consumer

    def partition(wr, p):
        wr.int32(p[0])
        if version >= 2:
            wr.int32(p[1])
        wr.int32(p[2])
        if flexible:
            wr.tags()

    def topic_entry(wr, t):
        wr.string(t)
        wr.array(parts, partition)
        if flexible:
            wr.tags()

    w.array([topic], topic_entry)
    if flexible:
        w.tags()
    with kw.KafkaConnection.to(bootstrap) as conn:
        r = conn.request(OFFSET_FOR_LEADER_EPOCH, version, w.getvalue(), flexible=flexible)
        if version >= 2:
            r.int32()  # throttle_time_ms

        def read_partition(rd):
            err = rd.int16()
            pid = rd.int32()
            epoch = rd.int32() if version >= 1 else None
            end = rd.int64()
            if flexible:
                rd.tags()
            return pid, (err, epoch, end)

        topics = r.topics(read_partition)
    assert [t[0] for t in topics] == [topic]
    return dict(topics[0][1])


def test_offset_for_leader_epoch_is_advertised(broker):
    with kw.KafkaConnection.to(broker.bootstrap) as conn:
        versions = conn.api_versions().versions
    assert versions[OFFSET_FOR_LEADER_EPOCH] == (2, 4)  # Kafka 4 dropped v0-1


def test_offset_for_leader_epoch(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=2)
    kh.produce_all(broker.bootstrap, topic_name, [b"a", b"b", b"c"], partition=0)
    kh.produce_all(broker.bootstrap, topic_name, [b"x"], partition=1,
                   **{"enable.idempotence": True})
    got = offset_for_leader_epoch(broker.bootstrap, topic_name, [
        (0, 0, 0),     # current epoch: the log end offset
        (1, -1, 0),    # no fencing asked for
        (0, -1, 3),    # newer than current: undefined
        (0, 1, 0),     # client believes in a newer epoch
        (1, -5, 0),    # client's epoch is stale
        (9, -1, 0),    # no such partition
    ])
    # The response keys by partition; later duplicates win, so check each
    # case on its own below as well.
    assert got[9] == (UNKNOWN_TOPIC_OR_PARTITION, -1, -1)
    assert offset_for_leader_epoch(broker.bootstrap, topic_name, [(0, 0, 0)]) == {0: (0, 0, 3)}
    assert offset_for_leader_epoch(broker.bootstrap, topic_name, [(1, -1, 0)]) == {1: (0, 0, 1)}
    assert offset_for_leader_epoch(broker.bootstrap, topic_name, [(0, -1, 3)]) == {0: (0, -1, -1)}
    assert offset_for_leader_epoch(broker.bootstrap, topic_name, [(0, 1, 0)]) == {
        0: (UNKNOWN_LEADER_EPOCH, -1, -1)}
    assert offset_for_leader_epoch(broker.bootstrap, topic_name, [(1, -5, 0)]) == {
        1: (FENCED_LEADER_EPOCH, -1, -1)}
    # Version 2, the oldest served, is not flexible and has no replica id.
    assert offset_for_leader_epoch(broker.bootstrap, topic_name, [(0, -1, 0)], version=2) == {
        0: (0, 0, 3)}


def test_offset_for_leader_epoch_unknown_topic(broker):
    got = offset_for_leader_epoch(broker.bootstrap, "no-such-topic-olep", [(0, -1, 0)])
    assert got == {0: (UNKNOWN_TOPIC_OR_PARTITION, -1, -1)}


DESCRIBE_PRODUCERS = 61


def describe_producers(bootstrap: str, topic: str, partitions):
    """{partition: (error, [(pid, epoch, last_seq, last_ts, coord_epoch, txn_start)])}."""
    w = kw.Writer(True)

    def topic_entry(wr, t):
        wr.string(t)
        wr.array(partitions, lambda wr2, p: wr2.int32(p))
        wr.tags()

    w.array([topic], topic_entry)
    w.tags()
    with kw.KafkaConnection.to(bootstrap) as conn:
        r = conn.request(DESCRIBE_PRODUCERS, 0, w.getvalue(), flexible=True)
        r.int32()  # throttle_time_ms

        def read_producer(rd):
            out = (rd.int64(), rd.int32(), rd.int32(), rd.int64(), rd.int32(), rd.int64())
            rd.tags()
            return out

        def read_partition(rd):
            idx = rd.int32()
            err = rd.int16()
            rd.string()  # error_message
            producers = rd.array(read_producer)
            rd.tags()
            return idx, (err, producers)

        topics = r.topics(read_partition)
    assert [t[0] for t in topics] == [topic]
    return dict(topics[0][1])


def test_describe_producers(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=2)
    # Plain, idempotent producer: three records to partition 0.
    kh.produce_all(broker.bootstrap, topic_name, [b"a", b"b", b"c"], partition=0,
                   **{"enable.idempotence": True})
    # Transactional producer left open on partition 1 after one record at offset 0.
    txn = kh.producer(broker.bootstrap, **{"transactional.id": f"txn-{topic_name}"})
    txn.init_transactions(30)
    txn.begin_transaction()
    txn.produce(topic_name, b"open", partition=1)
    assert txn.flush(30) == 0

    got = describe_producers(broker.bootstrap, topic_name, [0, 1, 7])
    err0, p0 = got[0]
    assert err0 == 0 and len(p0) == 1
    pid, epoch, last_seq, last_ts, coord_epoch, txn_start = p0[0]
    assert pid >= 0 and epoch == 0 and last_seq == 2 and last_ts > 0
    assert txn_start == -1
    err1, p1 = got[1]
    assert err1 == 0 and len(p1) == 1
    tpid, _, tseq, _, _, ttxn_start = p1[0]
    assert tpid != pid and tseq == 0 and ttxn_start == 0
    assert got[7] == (UNKNOWN_TOPIC_OR_PARTITION, [])
    txn.abort_transaction(30)


def test_describe_producers_unknown_topic(broker):
    assert describe_producers(broker.bootstrap, "no-such-topic-dp", [0]) == {
        0: (UNKNOWN_TOPIC_OR_PARTITION, [])}


TOPIC_AUTHORIZATION_FAILED = 29


def test_acl_gate_refuses_anonymous_without_describe_or_read(strait_factory, topic_name):
    """With an authorizer and no ACLs, ANONYMOUS on PLAINTEXT may neither
    describe (OffsetForLeaderEpoch) nor read (DescribeProducers) the topic."""
    srv = strait_factory(start=False)
    srv.overrides.update({
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:nobody",
    })
    srv.start()
    # ANONYMOUS may not create topics either; ask for one that needn't exist:
    # refusal comes before the existence check, as in Kafka.
    assert offset_for_leader_epoch(srv.bootstrap, topic_name, [(0, -1, 0)]) == {
        0: (TOPIC_AUTHORIZATION_FAILED, -1, -1)}
    assert describe_producers(srv.bootstrap, topic_name, [0]) == {
        0: (TOPIC_AUTHORIZATION_FAILED, [])}
