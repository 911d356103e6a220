"""Mirror topics are byte-for-byte copies of their source (issue 4).

Two real Strait brokers: records reach the source from kcat with every
compression codec, from confluent-kafka (plain, idempotent, transactional with
commits and aborts), a compacted source with offset gaps and a source whose
head was deleted. A link mirrors each topic; then both sides are read with raw
Fetch requests (no client decoding) and compared batch by batch: the same
offsets, the same bytes, the same log start, high watermark, last stable
offset and aborted transactions. Only the partition leader epoch (bytes 12-15
of a batch, outside the CRC) belongs to each cluster's own leadership, as in
Kafka's replication, so it is left out of the comparison.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import time

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

import kafka_helpers as kh  # noqa: E402
import kafka_wire as kw  # noqa: E402
import strait_harness as h  # noqa: E402

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
FETCH = 1
READ_UNCOMMITTED, READ_COMMITTED = 0, 1


# -- raw fetch ---------------------------------------------------------------

def fetch_once(conn, topic, partition, offset, isolation):
    """One Fetch v5: (error, high watermark, last stable, log start, aborted, records)."""
    w = kw.Writer(False)
    w.int32(-1).int32(0).int32(0).int32(8 << 20).int8(isolation)

    def part(w, _):
        w.int32(partition).int64(offset).int64(-1).int32(4 << 20)

    w.array([topic], lambda w, t: (w.string(t), w.array([0], part)))
    r = conn.request(FETCH, 5, w.getvalue(), flexible=False)
    r.int32()  # throttle
    out = []

    def read_part(r):
        pid, err, hw, lso, lstart = r.int32(), r.int16(), r.int64(), r.int64(), r.int64()
        aborted = r.array(lambda r: (r.int64(), r.int64()))
        records = r.bytes_()
        out.append((err, hw, lso, lstart, aborted or [], records or b""))

    r.array(lambda r: (r.string(), r.array(read_part)))
    assert len(out) == 1
    return out[0]


def split_batches(records: bytes):
    """Whole batches in a records blob (a trailing partial batch is dropped)."""
    batches, pos = [], 0
    while pos + 12 <= len(records):
        (length,) = struct.unpack_from(">i", records, pos + 8)
        end = pos + 12 + length
        if end > len(records):
            break
        batches.append(records[pos:end])
        pos = end
    return batches


def base_and_last(batch: bytes):
    base = struct.unpack_from(">q", batch, 0)[0]
    last_delta = struct.unpack_from(">i", batch, 23)[0]
    return base, base + last_delta


def raw_partition(bootstrap, topic, partition, isolation=READ_UNCOMMITTED):
    """Every batch of a partition from its log start, with its offsets state."""
    with kw.KafkaConnection.to(bootstrap) as conn:
        err, hw, lso, lstart, aborted, records = fetch_once(conn, topic, partition, 0,
                                                            isolation)
        if err == 1:  # OFFSET_OUT_OF_RANGE: the head was deleted; start at log start
            err, hw, lso, lstart, aborted, records = fetch_once(
                conn, topic, partition, max(lstart, 0), isolation)
            if err == 1:
                # Strait (like Kafka v5) reports the log start with the error.
                pytest.fail(f"{bootstrap} {topic}-{partition}: out of range at log start")
        assert err == 0, f"fetch {topic}-{partition} at {bootstrap}: error {err}"
        batches, all_aborted = [], set(map(tuple, aborted))
        while True:
            got = split_batches(records)
            batches.extend(got)
            nxt = base_and_last(batches[-1])[1] + 1 if batches else None
            if not got or nxt >= (lso if isolation == READ_COMMITTED else hw):
                break
            err, hw2, lso2, _, aborted, records = fetch_once(conn, topic, partition, nxt,
                                                             isolation)
            assert err == 0
            all_aborted |= set(map(tuple, aborted))
        return {"hw": hw, "lso": lso, "log_start": lstart, "batches": batches,
                "aborted": sorted(all_aborted)}


def without_epoch(batch: bytes) -> bytes:
    return batch[:12] + batch[16:]


def assert_identical(src, dst, topic, partitions, isolation=READ_UNCOMMITTED):
    for p in range(partitions):
        a = raw_partition(src.bootstrap, topic, p, isolation)
        b = raw_partition(dst.bootstrap, topic, p, isolation)
        where = f"{topic}-{p}"
        assert (b["hw"], b["lso"], b["log_start"]) == (a["hw"], a["lso"], a["log_start"]), where
        assert [base_and_last(x) for x in b["batches"]] == \
            [base_and_last(x) for x in a["batches"]], where
        assert [without_epoch(x) for x in b["batches"]] == \
            [without_epoch(x) for x in a["batches"]], f"{where}: batch bytes differ"
        assert b["aborted"] == a["aborted"], where


def assert_verified(dst, topic):
    """`kafka-mirrors --verify` agrees: every partition OK, exit 0 (gaps from
    compaction and transaction markers verify exactly as the mirror holds them)."""
    r = h.run_cli("kafka-mirrors", "--bootstrap-server", dst.bootstrap, "--verify",
                  "--topics", topic).check()
    lines = r.stdout.splitlines()
    assert lines and all(line.endswith("\tResult: OK") for line in lines), str(r)


# -- link helpers ------------------------------------------------------------

def create_link(dst, src, link="l"):
    conf = {"bootstrap.servers": src.bootstrap, "metadata.max.age.ms": "500",
            "topic.config.sync.ms": "500"}
    h.run_cli("kafka-cluster-links", "--bootstrap-server", dst.bootstrap, "--create",
              "--link", link, "--config",
              ",".join(f"{k}={v}" for k, v in conf.items())).check()


def mirror(dst, topic, link="l"):
    r = h.run_cli("kafka-mirrors", "--create", "--mirror-topic", topic, "--link", link,
                  "--bootstrap-server", dst.bootstrap).check()
    assert r.stdout.strip() == f"Created topic {topic}."


def end_offsets(bootstrap, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe"})
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(partitions)]
    finally:
        c.close()


def wait_mirrored(src, dst, topic, partitions, timeout=40.0):
    want = end_offsets(src.bootstrap, topic, partitions)

    def done():
        try:
            return end_offsets(dst.bootstrap, topic, partitions) == want
        except Exception:
            return False

    h.wait_until(done, timeout, interval=0.2, what=f"mirror {topic} to reach {want}")


@pytest.fixture
def pair(strait_factory):
    src = strait_factory()
    dst = strait_factory()
    create_link(dst, src)
    return src, dst


# -- tests ---------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")
def test_every_codec_and_producer_kind_is_mirrored_byte_for_byte(pair):
    src, dst = pair
    topic = "codecs"
    kh.create_topic(src.bootstrap, topic, 2)
    for codec in CODECS:
        lines = "".join(f"k{i}:{codec}-kcat-{i}\n" for i in range(200))
        for p in range(2):
            res = subprocess.run(["kcat", "-P", "-b", src.bootstrap, "-t", topic, "-p", str(p),
                                  "-K", ":", "-z", codec, "-X", "linger.ms=5"],
                                 input=lines.encode(), capture_output=True, timeout=60)
            assert res.returncode == 0, res.stderr
        kh.produce_all(src.bootstrap, topic, [f"{codec}-ck-{i}".encode() * 5 for i in range(300)],
                       partition=1, **{"compression.type": codec, "linger.ms": 10})
    kh.produce_all(src.bootstrap, topic, [f"idem-{i}".encode() for i in range(500)],
                   partition=0, **{"enable.idempotence": True, "compression.type": "lz4"})
    mirror(dst, topic)
    # Records produced while the mirror runs are copied as well.
    kh.produce_all(src.bootstrap, topic, [f"late-{i}".encode() for i in range(100)],
                   partition=0, **{"compression.type": "zstd"})
    wait_mirrored(src, dst, topic, 2)
    assert_identical(src, dst, topic, 2)
    assert_verified(dst, topic)
    # A real consumer on the destination decodes every codec.
    got = [m.value() for m in kh.consume_partition(dst.bootstrap, topic, 1)]
    want = [m.value() for m in kh.consume_partition(src.bootstrap, topic, 1)]
    assert got == want and len(got) == 5 * 200 + 5 * 300


def test_transactional_commits_and_aborts_are_mirrored_with_markers(pair):
    src, dst = pair
    topic = "txns"
    kh.create_topic(src.bootstrap, topic, 1)
    p = Producer({"bootstrap.servers": src.bootstrap, "transactional.id": "mirror-tx",
                  "linger.ms": 5})
    p.init_transactions(30)
    committed = []
    for round_ in range(6):
        p.begin_transaction()
        values = [f"r{round_}-{i}".encode() for i in range(50)]
        for v in values:
            p.produce(topic, v, partition=0)
        p.flush(30)
        if round_ % 2 == 0:
            p.commit_transaction(30)
            committed.extend(values)
        else:
            p.abort_transaction(30)
    # Plain records between the transactions.
    kh.produce_all(src.bootstrap, topic, [b"plain"], partition=0)
    committed.append(b"plain")
    mirror(dst, topic)
    wait_mirrored(src, dst, topic, 1)
    assert_identical(src, dst, topic, 1)
    assert_identical(src, dst, topic, 1, isolation=READ_COMMITTED)
    assert_verified(dst, topic)
    raw = raw_partition(dst.bootstrap, topic, 0, READ_COMMITTED)
    assert len(raw["aborted"]) == 3, raw["aborted"]
    # A read_committed consumer on the destination sees exactly the committed records.
    c = Consumer({"bootstrap.servers": dst.bootstrap, "group.id": "rc",
                  "isolation.level": "read_committed", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, 0, 0)])
    seen, deadline = [], time.monotonic() + 30
    while len(seen) < len(committed) and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            seen.append(m.value())
    c.close()
    assert seen == committed


def test_compacted_source_with_offset_gaps_is_mirrored_byte_for_byte(pair):
    src, dst = pair
    topic = "compacted"
    kh.create_topic(src.bootstrap, topic, 1, config={
        "cleanup.policy": "compact", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.01"})
    keys = [f"k{i}".encode() for i in range(20)]
    for round_ in range(3):
        kh.produce_all(src.bootstrap, topic, [f"v{round_}-{i}".encode() for i in range(20)],
                       partition=0, keys=keys)
        time.sleep(0.3)  # the next round rolls a new segment
    kh.produce_all(src.bootstrap, topic, [b"end"], partition=0, keys=[b"end"])

    def has_gaps():
        offsets = []
        for b in raw_partition(src.bootstrap, topic, 0)["batches"]:
            base, last = base_and_last(b)
            offsets.append((base, last))
        return offsets and offsets[0][0] >= 20

    h.wait_until(has_gaps, 30, interval=0.5, what="source compaction")
    mirror(dst, topic)
    wait_mirrored(src, dst, topic, 1)
    assert_identical(src, dst, topic, 1)
    assert_verified(dst, topic)
    got = [(m.offset(), m.key()) for m in kh.consume_partition(dst.bootstrap, topic, 0)]
    assert got[0][0] >= 20, "the mirror keeps the source's gaps, not renumbered offsets"


def test_source_with_deleted_head_keeps_its_log_start(pair):
    src, dst = pair
    topic = "headless"
    kh.create_topic(src.bootstrap, topic, 1)
    kh.produce_all(src.bootstrap, topic, [f"r{i}".encode() for i in range(200)], partition=0,
                   **{"batch.num.messages": 20})
    admin = kh.admin(src.bootstrap)  # held: the futures need a live client
    futs = admin.delete_records([TopicPartition(topic, 0, 120)])
    for f in futs.values():
        f.result(10)
    mirror(dst, topic)
    wait_mirrored(src, dst, topic, 1)
    src_raw = raw_partition(src.bootstrap, topic, 0)
    dst_raw = raw_partition(dst.bootstrap, topic, 0)
    assert src_raw["log_start"] == 120 and dst_raw["log_start"] == 120
    assert [without_epoch(b) for b in dst_raw["batches"]] == \
        [without_epoch(b) for b in src_raw["batches"]]
    r = h.run_cli("kafka-mirrors", "--bootstrap-server", dst.bootstrap, "--verify",
                  "--topics", topic).check()
    assert "\tVerifiedOffsets: 120-199\t" in r.stdout and r.stdout.rstrip().endswith(
        "\tResult: OK"), str(r)
