"""Kafka transactions end to end: a confluent-kafka (librdkafka) transactional
producer commits and aborts across partitions; read_committed consumers see
exactly the committed records, read_uncommitted consumers see everything;
send_offsets_to_transaction commits group offsets only with the transaction;
a new producer with the same transactional.id fences the old one; open
transactions are aborted after a broker crash and on timeout; kafka-python's
transactional producer works too.  Every wait is bounded.
"""

from __future__ import annotations

import struct
import time
import uuid

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

import kafka_helpers as kh
import kafka_wire as kw
from strait_harness import wait_until

# Fast group joins for the consumer in the offsets test.
FAST_GROUPS = {"group.initial.rebalance.delay.ms": 0}


def txn_producer(bootstrap: str, txn_id: str, **conf):
    return kh.producer(bootstrap, **{
        "transactional.id": txn_id,
        "enable.idempotence": True,
        "linger.ms": 0,
        **conf,
    })


def read_all(bootstrap: str, topic: str, partitions: int, isolation: str,
             timeout: float = 20.0) -> dict[int, list[tuple[int, bytes]]]:
    """Every record of every partition as {partition: [(offset, value)]},
    reading from the start until each partition reports EOF."""
    c = kh.consumer(bootstrap, **{"isolation.level": isolation,
                                  "group.id": f"reader-{uuid.uuid4().hex[:8]}"})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        out: dict[int, list[tuple[int, bytes]]] = {p: [] for p in range(partitions)}
        at_eof: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(at_eof) < partitions:
            assert time.monotonic() < deadline, (
                f"{isolation} read of {topic} did not reach the end of every partition "
                f"in {timeout}s (at EOF: {sorted(at_eof)}, read: "
                f"{ {p: len(v) for p, v in out.items()} })")
            msg = c.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_eof.add(msg.partition())
                    continue
                raise AssertionError(f"consume error: {msg.error()}")
            out[msg.partition()].append((msg.offset(), msg.value()))
            at_eof.discard(msg.partition())
        return out
    finally:
        c.close()


def values(records: dict[int, list[tuple[int, bytes]]]) -> set[bytes]:
    return {v for recs in records.values() for _, v in recs}


def high_watermark(bootstrap: str, topic: str, partition: int) -> int:
    c = kh.consumer(bootstrap, **{"isolation.level": "read_uncommitted"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
    finally:
        c.close()


def run_transaction(p, topic: str, tag: str, partitions: int, per_partition: int,
                    commit: bool) -> set[bytes]:
    p.begin_transaction()
    sent = set()
    for part in range(partitions):
        for j in range(per_partition):
            v = f"{tag}-p{part}-{j}".encode()
            p.produce(topic, value=v, partition=part)
            sent.add(v)
    if commit:
        p.commit_transaction(15)
    else:
        p.flush(15)  # the records reach the log before the abort
        p.abort_transaction(15)
    return sent


def test_commit_abort_isolation_and_offsets(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=2)
    p = txn_producer(broker.bootstrap, f"txn-{topic_name}")
    p.init_transactions(15)
    committed, aborted = set(), set()
    txns = 6
    per_partition = 3
    for i in range(txns):
        commit = i % 2 == 0
        sent = run_transaction(p, topic_name, f"t{i}", 2, per_partition, commit)
        (committed if commit else aborted).update(sent)

    rc = read_all(broker.bootstrap, topic_name, 2, "read_committed")
    ru = read_all(broker.bootstrap, topic_name, 2, "read_uncommitted")
    assert values(rc) == committed
    assert values(ru) == committed | aborted
    for part in range(2):
        data_offsets = [o for o, _ in ru[part]]
        hw = high_watermark(broker.bootstrap, topic_name, part)
        markers = sorted(set(range(hw)) - set(data_offsets))
        # One control marker after each transaction's records, nothing else.
        assert len(markers) == txns, (markers, hw)
        assert markers == [(i + 1) * (per_partition + 1) - 1 for i in range(txns)]
        # Committed records: each transaction's offsets are contiguous, and
        # what lies between two of them is only markers and aborted records.
        committed_offsets = [o for o, _ in rc[part]]
        by_txn: dict[str, list[int]] = {}
        for o, v in rc[part]:
            by_txn.setdefault(v.decode().split("-")[0], []).append(o)
        for offs in by_txn.values():
            assert offs == list(range(offs[0], offs[0] + per_partition)), offs
        aborted_offsets = {o for o, v in ru[part] if v in aborted}
        gaps = set(range(committed_offsets[0], committed_offsets[-1] + 1)) - set(committed_offsets)
        assert gaps <= set(markers) | aborted_offsets
    p.flush(5)


def test_open_transaction_holds_back_read_committed(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=1)
    kh.produce_all(broker.bootstrap, topic_name, [b"before"], partition=0)
    p = txn_producer(broker.bootstrap, f"txn-{topic_name}")
    p.init_transactions(15)
    p.begin_transaction()
    p.produce(topic_name, value=b"pending", partition=0)
    p.flush(15)
    assert values(read_all(broker.bootstrap, topic_name, 1, "read_committed")) == {b"before"}
    assert values(read_all(broker.bootstrap, topic_name, 1, "read_uncommitted")) == {
        b"before", b"pending"}
    # Data produced by others after the open transaction waits for it too.
    kh.produce_all(broker.bootstrap, topic_name, [b"after"], partition=0)
    assert values(read_all(broker.bootstrap, topic_name, 1, "read_committed")) == {b"before"}
    p.commit_transaction(15)
    assert values(read_all(broker.bootstrap, topic_name, 1, "read_committed")) == {
        b"before", b"pending", b"after"}


def test_send_offsets_to_transaction(strait_factory, topic_name):
    broker = strait_factory(FAST_GROUPS)
    src, dst = f"{topic_name}-in", f"{topic_name}-out"
    kh.create_topic(broker.bootstrap, src, partitions=1)
    kh.create_topic(broker.bootstrap, dst, partitions=1)
    kh.produce_all(broker.bootstrap, src, [f"in-{i}".encode() for i in range(10)], partition=0)
    group = f"g-{topic_name}"
    c = kh.consumer(broker.bootstrap, **{"group.id": group, "enable.partition.eof": False,
                                         "isolation.level": "read_committed"})
    p = txn_producer(broker.bootstrap, f"txn-{topic_name}")
    try:
        c.subscribe([src])
        p.init_transactions(15)

        def consume(n):
            got = []
            deadline = time.monotonic() + 20
            while len(got) < n:
                assert time.monotonic() < deadline, f"consumed {len(got)} of {n}"
                m = c.poll(0.2)
                if m is not None and not m.error():
                    got.append(m)
            return got

        def committed_offset():
            return c.committed([TopicPartition(src, 0)], timeout=10)[0].offset

        def committed_offset_uncommitted_view():
            other = kh.consumer(broker.bootstrap, **{"group.id": group,
                                                     "isolation.level": "read_uncommitted"})
            try:
                return other.committed([TopicPartition(src, 0)], timeout=10)[0].offset
            finally:
                other.close()

        # Aborted: the group's offset does not move.
        msgs = consume(4)
        p.begin_transaction()
        for m in msgs:
            p.produce(dst, value=b"out-" + m.value(), partition=0)
        p.send_offsets_to_transaction(c.position(c.assignment()),
                                      c.consumer_group_metadata(), 15)
        p.abort_transaction(15)
        assert committed_offset() < 0, "an aborted transaction committed offsets"

        # Committed: the offset is the consumer's position.
        p.begin_transaction()
        for m in msgs:
            p.produce(dst, value=b"out-" + m.value(), partition=0)
        positions = c.position(c.assignment())
        p.send_offsets_to_transaction(positions, c.consumer_group_metadata(), 15)
        assert committed_offset_uncommitted_view() < 0, "offsets committed before the commit"
        # KIP-447: a read_committed consumer is told the offset is unstable
        # (and retries) while the transaction is open.
        t0 = time.monotonic()
        with pytest.raises(KafkaException):
            c.committed([TopicPartition(src, 0)], timeout=1.5)
        assert time.monotonic() - t0 >= 1.0
        p.commit_transaction(15)
        assert committed_offset() == 4 == positions[0].offset
        out = read_all(broker.bootstrap, dst, 1, "read_committed")
        assert [v for _, v in out[0]] == [b"out-in-%d" % i for i in range(4)]
    finally:
        c.close()
        p.flush(5)


def test_second_producer_fences_the_first(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=2)
    txn_id = f"txn-{topic_name}"
    p1 = txn_producer(broker.bootstrap, txn_id)
    p1.init_transactions(15)
    p1.begin_transaction()
    p1.produce(topic_name, value=b"zombie-0", partition=0)
    p1.produce(topic_name, value=b"zombie-1", partition=1)
    p1.flush(15)

    p2 = txn_producer(broker.bootstrap, txn_id)
    p2.init_transactions(15)  # aborts p1's transaction and fences p1
    with pytest.raises(KafkaException) as e:
        p1.commit_transaction(15)
    err = e.value.args[0]
    assert err.fatal() or err.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                                         KafkaError.INVALID_PRODUCER_EPOCH), err

    sent = run_transaction(p2, topic_name, "ok", 2, 2, commit=True)
    assert values(read_all(broker.bootstrap, topic_name, 2, "read_committed")) == sent
    assert values(read_all(broker.bootstrap, topic_name, 2, "read_uncommitted")) == sent | {
        b"zombie-0", b"zombie-1"}


def test_restart_aborts_open_transaction(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=2)
    txn_id = f"txn-{topic_name}"
    p = txn_producer(broker.bootstrap, txn_id)
    p.init_transactions(15)
    committed = run_transaction(p, topic_name, "done", 2, 2, commit=True)
    p.begin_transaction()
    p.produce(topic_name, value=b"open-0", partition=0)
    p.produce(topic_name, value=b"open-1", partition=1)
    p.flush(15)

    broker.kill9()
    broker.start()
    # The open transaction was aborted: read_committed reaches the end
    # without it, read_uncommitted still sees its records.
    assert values(read_all(broker.bootstrap, topic_name, 2, "read_committed")) == committed
    assert values(read_all(broker.bootstrap, topic_name, 2, "read_uncommitted")) == committed | {
        b"open-0", b"open-1"}
    # The old producer cannot commit it any more.
    with pytest.raises(KafkaException):
        p.commit_transaction(15)

    p2 = txn_producer(broker.bootstrap, txn_id)
    p2.init_transactions(15)
    more = run_transaction(p2, topic_name, "again", 2, 1, commit=True)
    assert values(read_all(broker.bootstrap, topic_name, 2, "read_committed")) == committed | more
    broker.check_alive()


def test_transaction_timeout_aborts(strait_factory, topic_name):
    broker = strait_factory({
        "transaction.abort.timed.out.transaction.cleanup.interval.ms": 200,
        "transaction.max.timeout.ms": 60000,
    })
    kh.create_topic(broker.bootstrap, topic_name, partitions=1)
    p = txn_producer(broker.bootstrap, f"txn-{topic_name}",
                     **{"transaction.timeout.ms": 1500, "socket.timeout.ms": 1500,
                        "message.timeout.ms": 1500})
    p.init_transactions(15)
    p.begin_transaction()
    p.produce(topic_name, value=b"too-slow", partition=0)
    p.flush(15)
    # Once aborted, the marker moves the last stable offset past the record.
    wait_until(lambda: read_all(broker.bootstrap, topic_name, 1, "read_committed") == {0: []}
               and high_watermark(broker.bootstrap, topic_name, 0) == 2,
               timeout=15, what="the timed-out transaction to be aborted")
    assert values(read_all(broker.bootstrap, topic_name, 1, "read_uncommitted")) == {b"too-slow"}
    with pytest.raises(KafkaException):
        p.commit_transaction(10)


def test_transaction_timeout_over_the_maximum_is_refused(strait_factory, topic_name):
    broker = strait_factory({"transaction.max.timeout.ms": 5000})
    p = txn_producer(broker.bootstrap, f"txn-{topic_name}",
                     **{"transaction.timeout.ms": 6000, "socket.timeout.ms": 6000,
                        "message.timeout.ms": 6000})
    with pytest.raises(KafkaException) as e:
        p.init_transactions(10)
    assert e.value.args[0].code() == KafkaError.INVALID_TRANSACTION_TIMEOUT


def test_kafka_python_transactional_producer(broker, topic_name):
    from kafka import KafkaProducer

    kh.create_topic(broker.bootstrap, topic_name, partitions=2)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id=f"kp-{topic_name}",
                      enable_idempotence=True, request_timeout_ms=10000)
    try:
        p.init_transactions()
        p.begin_transaction()
        for part in range(2):
            p.send(topic_name, value=b"kp-commit-%d" % part, partition=part)
        p.commit_transaction()
        p.begin_transaction()
        for part in range(2):
            p.send(topic_name, value=b"kp-abort-%d" % part, partition=part)
        p.flush(timeout=10)
        p.abort_transaction()
    finally:
        p.close(timeout=5)
    assert values(read_all(broker.bootstrap, topic_name, 2, "read_committed")) == {
        b"kp-commit-0", b"kp-commit-1"}
    assert len(values(read_all(broker.bootstrap, topic_name, 2, "read_uncommitted"))) == 4


# -- the wire, for what well-behaved clients never send ----------------------

INIT_PRODUCER_ID, ADD_PARTITIONS_TO_TXN, END_TXN = 22, 24, 26
INVALID_TXN_STATE, INVALID_PRODUCER_ID_MAPPING, TRANSACTION_ABORTABLE = 48, 49, 120
UNKNOWN_TOPIC_OR_PARTITION, OPERATION_NOT_ATTEMPTED = 3, 55


def wire_init(conn, txn_id: str):
    w = kw.Writer().string(txn_id).int32(60000)
    r = conn.request(INIT_PRODUCER_ID, 1, w.getvalue())
    r.int32()
    return r.int16(), r.int64(), r.int16()


def wire_add_partitions(conn, txn_id: str, pid: int, epoch: int, topic: str, parts):
    w = kw.Writer().string(txn_id).int64(pid).int16(epoch)
    w.array([(topic, parts)], lambda w, t: w.string(t[0]).array(t[1], lambda w, p: w.int32(p)))
    r = conn.request(ADD_PARTITIONS_TO_TXN, 1, w.getvalue())
    r.int32()
    topics = r.array(lambda r: (r.string(), r.array(lambda r: (r.int32(), r.int16()))))
    return {p: e for _, ps in topics for p, e in ps}


def wire_end_txn(conn, txn_id: str, pid: int, epoch: int, commit: bool) -> int:
    w = kw.Writer().string(txn_id).int64(pid).int16(epoch).boolean(commit)
    r = conn.request(END_TXN, 1, w.getvalue())
    r.int32()
    return r.int16()


def transactional_batch(values, pid: int, epoch: int, seq: int) -> bytes:
    """A record batch with the transactional attribute set (CRC redone)."""
    b = bytearray(kw.encode_record_batch(values, producer_id=pid, producer_epoch=epoch,
                                         base_sequence=seq))
    b[21:23] = struct.pack(">h", 0x10)
    b[17:21] = struct.pack(">I", kw.crc32c(bytes(b[21:])))
    return bytes(b)


def test_produce_outside_the_transaction_is_refused(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=2)
    txn_id = f"wire-{topic_name}"
    with kw.KafkaConnection.to(broker.bootstrap) as conn:
        err, pid, epoch = wire_init(conn, txn_id)
        assert (err, epoch) == (0, 0)
        batch = transactional_batch([b"x"], pid, epoch, 0)
        # Not added to the transaction: Kafka's produce verification errors.
        assert conn.produce(topic_name, 0, batch, version=8)["error_code"] == INVALID_TXN_STATE
        assert conn.produce(topic_name, 0, batch, version=11)["error_code"] == TRANSACTION_ABORTABLE
        other = transactional_batch([b"x"], pid + 1000, 0, 0)
        assert conn.produce(topic_name, 0, other, version=8)["error_code"] == \
            INVALID_PRODUCER_ID_MAPPING
        # Unknown partitions fail alone; the others are not attempted.
        assert wire_add_partitions(conn, txn_id, pid, epoch, topic_name, [0, 7]) == {
            0: OPERATION_NOT_ATTEMPTED, 7: UNKNOWN_TOPIC_OR_PARTITION}
        assert wire_add_partitions(conn, txn_id, pid, epoch, topic_name, [0]) == {0: 0}
        assert conn.produce(topic_name, 0, batch, version=8)["error_code"] == 0
        assert conn.produce(topic_name, 1, batch, version=8)["error_code"] == INVALID_TXN_STATE
        assert wire_end_txn(conn, txn_id, pid, epoch, True) == 0
        assert wire_end_txn(conn, txn_id, pid, epoch, False) == INVALID_TXN_STATE
    assert values(read_all(broker.bootstrap, topic_name, 2, "read_committed")) == {b"x"}
    # The committed record at 0, its COMMIT marker at 1.
    assert high_watermark(broker.bootstrap, topic_name, 0) == 2
