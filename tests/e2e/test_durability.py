"""Data survives a clean restart and a kill -9."""

import threading
import time

import pytest

pytest.importorskip("confluent_kafka")

from confluent_kafka import TopicPartition  # noqa: E402

import kafka_helpers as kh  # noqa: E402
from strait_harness import pid_alive, run_cli  # noqa: E402

T = 30


def read_all(bootstrap, topic, partition=0, timeout=T):
    """Every record of a partition from offset 0 to the high watermark."""
    c = kh.consumer(bootstrap)
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
    finally:
        c.close()
    assert lo == 0, f"log start offset moved to {lo}"
    if hi == 0:
        return []
    return kh.consume_partition(bootstrap, topic, partition, start=0, count=hi, timeout=timeout)


def test_restart_keeps_data_and_topics(strait_factory, topic_name):
    srv = strait_factory()
    kh.create_topic(srv.bootstrap, topic_name, partitions=3, config={"retention.ms": "86400000"})
    values = [f"before-{i}".encode() for i in range(300)]
    delivered = kh.produce_all(srv.bootstrap, topic_name, values, keys=[str(i).encode() for i in range(300)])
    cluster_id = kh.admin(srv.bootstrap).list_topics(timeout=T).cluster_id

    old_pid = srv.pid
    rc = srv.stop()
    assert rc == 0, f"SIGTERM should be a clean shutdown (exit 0), got {rc}"
    assert not pid_alive(old_pid)
    srv.start()
    assert srv.pid != old_pid

    a = kh.admin(srv.bootstrap)
    md = kh.wait_topic_visible(a, topic_name, 3)
    assert md.cluster_id == cluster_id, "cluster id must be persisted in the data dir"

    for part in range(3):
        expected = [(o, v) for p, o, _, v in delivered if p == part]
        got = read_all(srv.bootstrap, topic_name, part)
        assert [(m.offset(), m.value()) for m in got] == expected

    # Topic configs survive too.
    assert kh.describe_topic_configs(a, topic_name)["retention.ms"].value == "86400000"

    # And the log continues where it left off.
    more = kh.produce_all(srv.bootstrap, topic_name, [b"after"], partition=0)
    n0 = len([d for d in delivered if d[0] == 0])
    assert more[0][:2] == (0, n0)


def test_restart_after_many_segments(strait_factory, topic_name):
    """Small segments: recovery has to stitch several segment files together."""
    srv = strait_factory({"log.segment.bytes": "16384"})
    kh.create_topic(srv.bootstrap, topic_name)
    values = [(f"{i:05d}-" + "x" * 200).encode() for i in range(1000)]
    kh.produce_all(srv.bootstrap, topic_name, values, partition=0, **{"linger.ms": 0,
                   "batch.num.messages": 10})
    srv.stop()
    srv.start()
    got = read_all(srv.bootstrap, topic_name)
    assert [(m.offset(), m.value()) for m in got] == list(enumerate(values))


def test_deleted_topic_stays_deleted_after_restart(strait_factory, topic_name):
    srv = strait_factory()
    a = kh.create_topic(srv.bootstrap, topic_name)
    a.delete_topics([topic_name], operation_timeout=T, request_timeout=T)[topic_name].result(timeout=T)
    srv.stop()
    srv.start()
    a = kh.admin(srv.bootstrap)
    assert topic_name not in a.list_topics(timeout=T).topics


class BackgroundProducer(threading.Thread):
    """Produces seq-numbered records to partition 0 until stopped, recording acks."""

    def __init__(self, bootstrap, topic):
        super().__init__(daemon=True)
        self.topic = topic
        self.acked = {}         # offset -> value
        self.acked_values = set()
        self.errors = 0
        self.double_acks = []
        self.sent = 0
        self.first_error = None
        self._stop_evt = threading.Event()
        self.p = kh.producer(bootstrap, **{
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 2,
            "message.timeout.ms": 5000,
            "request.timeout.ms": 3000,
            "retry.backoff.ms": 100,
            "reconnect.backoff.max.ms": 500,
        })

    def _cb(self, err, msg):
        if err is None:
            if msg.offset() in self.acked:
                self.double_acks.append(msg.offset())
            self.acked[msg.offset()] = msg.value()
            self.acked_values.add(msg.value())
        else:
            self.errors += 1
            self.first_error = self.first_error or err

    def run(self):
        i = 0
        while not self._stop_evt.is_set():
            try:
                self.p.produce(self.topic, value=f"seq-{i:08d}".encode(), partition=0,
                               on_delivery=self._cb)
                i += 1
                self.sent = i
            except BufferError:
                pass
            self.p.poll(0 if i % 50 else 0.001)

    def halt(self, timeout=20):
        """Stop producing and wait (bounded) for every outstanding delivery report."""
        self._stop_evt.set()
        self.join(timeout=5)
        assert not self.is_alive(), "producer thread did not stop"
        left = self.p.flush(timeout)
        return left

    def close(self):
        # Destroy the librdkafka handle now rather than at garbage collection, so
        # it stops reconnecting (and logging) during later tests.
        close = getattr(self.p, "close", None)
        if close is not None:
            close()
        self.p = None


def test_kill9_loses_no_acknowledged_record(strait_factory, topic_name):
    srv = strait_factory()
    kh.create_topic(srv.bootstrap, topic_name)

    bp = BackgroundProducer(srv.bootstrap, topic_name)
    bp.start()
    try:
        deadline = time.monotonic() + 30
        while len(bp.acked) < 3000 and time.monotonic() < deadline:
            time.sleep(0.05)
        acked_before_kill = len(bp.acked)
        assert acked_before_kill > 0, f"nothing acknowledged in 30s (first error: {bp.first_error})"

        srv.kill9()                       # mid-stream: the producer is still sending
        left = bp.halt(timeout=20)        # outstanding messages time out (broker is down)
    finally:
        if bp.is_alive():
            bp.halt(timeout=5)
        bp.close()
    assert left == 0, f"{left} messages without a delivery report"
    acked = dict(bp.acked)
    assert not bp.double_acks, f"offsets acknowledged twice: {bp.double_acks[:10]}"
    assert len(acked) >= acked_before_kill

    srv.start()
    records = read_all(srv.bootstrap, topic_name, timeout=60)
    offsets = [m.offset() for m in records]
    values = [m.value() for m in records]

    # No gap: offsets are exactly 0..n-1.
    assert offsets == list(range(len(records))), "offsets are not contiguous from 0"
    # Nothing acknowledged was lost, and each acked record is at its acked offset.
    assert len(records) >= len(acked), (
        f"log has {len(records)} records after restart but {len(acked)} were acknowledged")
    wrong = [(o, v, values[o] if o < len(values) else None)
             for o, v in acked.items() if o >= len(values) or values[o] != v]
    assert not wrong, f"{len(wrong)} acknowledged records missing or changed, e.g. {wrong[:5]}"
    # No duplicates (each payload is unique by construction).
    assert len(set(values)) == len(values), "duplicate records in the log"
    # Unacknowledged extras (written before the crash, ack lost) may exist, but they
    # must be records the producer really sent, in send order.
    seqs = [int(v.split(b"-")[1]) for v in values]
    assert seqs == sorted(seqs), "records out of producer order"
    assert seqs[-1] < bp.sent


def test_kill9_then_produce_more(strait_factory, topic_name):
    """After crash recovery the log accepts appends at the next offset."""
    srv = strait_factory()
    kh.create_topic(srv.bootstrap, topic_name)
    kh.produce_all(srv.bootstrap, topic_name, [f"a{i}".encode() for i in range(100)], partition=0)
    srv.kill9()
    srv.start()
    d = kh.produce_all(srv.bootstrap, topic_name, [b"after-crash"], partition=0)
    assert d[0][:2] == (0, 100)
    got = read_all(srv.bootstrap, topic_name)
    assert [m.value() for m in got] == [f"a{i}".encode() for i in range(100)] + [b"after-crash"]


def test_cluster_id_stable_across_restarts(strait_factory):
    srv = strait_factory()
    first = run_cli("kafka-cluster", "cluster-id", "--bootstrap-server", srv.bootstrap)
    assert first.rc == 0, str(first)
    srv.stop()
    srv.start()
    second = run_cli("kafka-cluster", "cluster-id", "--bootstrap-server", srv.bootstrap)
    assert second.rc == 0, str(second)
    assert first.stdout == second.stdout
    srv.kill9()
    srv.start()
    third = kh.admin(srv.bootstrap).list_topics(timeout=T).cluster_id
    assert first.stdout.strip() == f"Cluster ID: {third}"
