"""confluent-kafka (librdkafka) admin, idempotent producer and assign/seek consumer."""

import time

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")

from confluent_kafka import KafkaError, KafkaException, TopicPartition  # noqa: E402
from confluent_kafka.admin import (  # noqa: E402
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

import kafka_helpers as kh  # noqa: E402
from strait_harness import wait_until  # noqa: E402

T = 15  # seconds: bound for every admin future


# ---------------------------------------------------------------------------
# Admin
# ---------------------------------------------------------------------------

def test_create_list_delete_topic(broker, topic_name):
    a = kh.admin(broker.bootstrap)
    fs = a.create_topics([NewTopic(topic_name, num_partitions=3, replication_factor=1)],
                         operation_timeout=T, request_timeout=T)
    assert fs[topic_name].result(timeout=T) is None

    md = kh.wait_topic_visible(a, topic_name, 3)
    t = md.topics[topic_name]
    assert sorted(t.partitions) == [0, 1, 2]
    for p in t.partitions.values():
        assert p.leader == 1
        assert list(p.replicas) == [1]
        assert list(p.isrs) == [1]
    assert md.brokers[1].host == "127.0.0.1"
    assert md.brokers[1].port == broker.port

    fs = a.delete_topics([topic_name], operation_timeout=T, request_timeout=T)
    assert fs[topic_name].result(timeout=T) is None
    wait_until(lambda: topic_name not in a.list_topics(timeout=5).topics, T,
               what=f"{topic_name} to disappear from metadata")


def test_create_existing_topic_fails(broker, topic_name):
    a = kh.create_topic(broker.bootstrap, topic_name, partitions=1)
    fs = a.create_topics([NewTopic(topic_name, num_partitions=1, replication_factor=1)],
                         request_timeout=T)
    with pytest.raises(KafkaException) as ei:
        fs[topic_name].result(timeout=T)
    assert ei.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS


def test_delete_unknown_topic_fails(broker):
    a = kh.admin(broker.bootstrap)
    fs = a.delete_topics(["no-such-topic"], request_timeout=T)
    with pytest.raises(KafkaException) as ei:
        fs["no-such-topic"].result(timeout=T)
    assert ei.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_create_topic_with_configs_and_describe(broker, topic_name):
    a = kh.create_topic(broker.bootstrap, topic_name, partitions=2,
                        config={"retention.ms": "3600000", "cleanup.policy": "delete"})
    cfg = kh.describe_topic_configs(a, topic_name)
    assert cfg["retention.ms"].value == "3600000"
    assert cfg["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    # Kafka's default topic configs are all described.
    for key in ("cleanup.policy", "segment.bytes", "retention.bytes", "max.message.bytes",
                "compression.type", "min.insync.replicas"):
        assert key in cfg, f"{key} missing from DescribeConfigs: {sorted(cfg)}"
    assert cfg["segment.bytes"].source != ConfigSource.DYNAMIC_TOPIC_CONFIG.value


def test_describe_configs_unknown_topic(broker):
    a = kh.admin(broker.bootstrap)
    res = ConfigResource(ResourceType.TOPIC, "no-such-topic")
    with pytest.raises(KafkaException) as ei:
        a.describe_configs([res], request_timeout=T)[res].result(timeout=T)
    assert ei.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_describe_broker_configs(strait_factory):
    srv = strait_factory({"log.retention.ms": "7200000", "num.partitions": "2"})
    a = kh.admin(srv.bootstrap)
    res = ConfigResource(ResourceType.BROKER, "1")
    cfg = a.describe_configs([res], request_timeout=T)[res].result(timeout=T)
    assert cfg["log.retention.ms"].value == "7200000"
    assert cfg["log.retention.ms"].source == ConfigSource.STATIC_BROKER_CONFIG.value
    assert cfg["num.partitions"].value == "2"
    assert "message.max.bytes" in cfg


def test_incremental_alter_configs(broker, topic_name):
    a = kh.create_topic(broker.bootstrap, topic_name)
    res = ConfigResource(ResourceType.TOPIC, topic_name, incremental_configs=[
        ConfigEntry("retention.ms", "12345", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("segment.bytes", "1048576", incremental_operation=AlterConfigOpType.SET),
    ])
    a.incremental_alter_configs([res], request_timeout=T)[res].result(timeout=T)
    cfg = kh.describe_topic_configs(a, topic_name)
    assert cfg["retention.ms"].value == "12345"
    assert cfg["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert cfg["segment.bytes"].value == "1048576"

    # DELETE reverts to the default; the other override stays.
    res = ConfigResource(ResourceType.TOPIC, topic_name, incremental_configs=[
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
    ])
    a.incremental_alter_configs([res], request_timeout=T)[res].result(timeout=T)
    cfg = kh.describe_topic_configs(a, topic_name)
    assert cfg["retention.ms"].source != ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert cfg["retention.ms"].value == "604800000"  # Kafka's default, 7 days
    assert cfg["segment.bytes"].value == "1048576"


def test_incremental_alter_unknown_config_rejected(broker, topic_name):
    a = kh.create_topic(broker.bootstrap, topic_name)
    res = ConfigResource(ResourceType.TOPIC, topic_name, incremental_configs=[
        ConfigEntry("no.such.config", "1", incremental_operation=AlterConfigOpType.SET),
    ])
    with pytest.raises(KafkaException) as ei:
        a.incremental_alter_configs([res], request_timeout=T)[res].result(timeout=T)
    assert ei.value.args[0].code() == KafkaError.INVALID_CONFIG


@pytest.mark.filterwarnings("ignore:alter_configs has been deprecated:DeprecationWarning")
def test_alter_configs_replaces_whole_set(broker, topic_name):
    """Legacy AlterConfigs replaces all dynamic configs of the resource."""
    a = kh.create_topic(broker.bootstrap, topic_name, config={"retention.ms": "99999"})
    res = ConfigResource(ResourceType.TOPIC, topic_name, set_config={"cleanup.policy": "compact"})
    a.alter_configs([res], request_timeout=T)[res].result(timeout=T)
    cfg = kh.describe_topic_configs(a, topic_name)
    assert cfg["cleanup.policy"].value == "compact"
    assert cfg["cleanup.policy"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert cfg["retention.ms"].value == "604800000", "AlterConfigs must drop overrides it does not list"


def test_create_partitions(broker, topic_name):
    a = kh.create_topic(broker.bootstrap, topic_name, partitions=2)
    fs = a.create_partitions([NewPartitions(topic_name, 5)], request_timeout=T)
    assert fs[topic_name].result(timeout=T) is None
    kh.wait_topic_visible(a, topic_name, 5)
    # The new partitions are usable.
    delivered = kh.produce_all(broker.bootstrap, topic_name, [b"x"], partition=4)
    assert delivered[0][:2] == (4, 0)

    # Shrinking is not allowed.
    fs = a.create_partitions([NewPartitions(topic_name, 3)], request_timeout=T)
    with pytest.raises(KafkaException) as ei:
        fs[topic_name].result(timeout=T)
    assert ei.value.args[0].code() == KafkaError.INVALID_PARTITIONS


def test_describe_cluster_and_cluster_id(broker):
    a = kh.admin(broker.bootstrap)
    md = a.list_topics(timeout=T)
    assert md.cluster_id, "Metadata must carry a cluster id"
    assert md.controller_id == 1
    assert list(md.brokers) == [1]
    desc = a.describe_cluster(request_timeout=T).result(timeout=T)
    assert desc.cluster_id == md.cluster_id
    assert [n.id for n in desc.nodes] == [1]
    assert desc.nodes[0].host == "127.0.0.1" and desc.nodes[0].port == broker.port


def test_delete_records_moves_log_start(broker, topic_name):
    a = kh.create_topic(broker.bootstrap, topic_name)
    kh.produce_all(broker.bootstrap, topic_name, [f"m{i}".encode() for i in range(10)], partition=0)
    tp = TopicPartition(topic_name, 0, 6)
    res = a.delete_records([tp], request_timeout=T)[tp].result(timeout=T)
    assert res.low_watermark == 6
    c = kh.consumer(broker.bootstrap)
    try:
        assert c.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=T) == (6, 10)
    finally:
        c.close()
    msgs = kh.consume_partition(broker.bootstrap, topic_name, 0, start=0)  # reset -> earliest
    assert [(m.offset(), m.value()) for m in msgs] == [(i, f"m{i}".encode()) for i in range(6, 10)]


def test_list_offsets_admin(broker, topic_name):
    a = kh.create_topic(broker.bootstrap, topic_name)
    kh.produce_all(broker.bootstrap, topic_name, [b"a", b"b", b"c"], partition=0)
    tp = TopicPartition(topic_name, 0)
    earliest = a.list_offsets({tp: OffsetSpec.earliest()}, request_timeout=T)[tp].result(timeout=T)
    latest = a.list_offsets({tp: OffsetSpec.latest()}, request_timeout=T)[tp].result(timeout=T)
    assert (earliest.offset, latest.offset) == (0, 3)


# ---------------------------------------------------------------------------
# Producer / consumer
# ---------------------------------------------------------------------------

def test_idempotent_producer_offsets_and_assign_seek(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=3)
    n = 300
    values = [f"value-{i}".encode() for i in range(n)]
    keys = [f"key-{i}".encode() for i in range(n)]
    delivered = kh.produce_all(broker.bootstrap, topic_name, values, keys=keys,
                               **{"enable.idempotence": True, "acks": "all"})

    by_partition = {}
    for part, off, k, v in delivered:
        by_partition.setdefault(part, []).append((off, k, v))
    # Per partition, the producer was told offsets 0..n_p-1, in produce order.
    for part, recs in by_partition.items():
        assert [o for o, _, _ in recs] == list(range(len(recs))), f"partition {part}"

    c = kh.consumer(broker.bootstrap)
    try:
        for part, recs in by_partition.items():
            tp = TopicPartition(topic_name, part)
            lo, hi = c.get_watermark_offsets(tp, timeout=T)
            assert (lo, hi) == (0, len(recs))
    finally:
        c.close()

    for part, recs in by_partition.items():
        msgs = kh.consume_partition(broker.bootstrap, topic_name, part, start=0, count=len(recs))
        assert [(m.offset(), m.key(), m.value()) for m in msgs] == recs

    # Seek into the middle of the biggest partition.
    part, recs = max(by_partition.items(), key=lambda kv: len(kv[1]))
    mid = len(recs) // 2
    msgs = kh.consume_partition(broker.bootstrap, topic_name, part, start=mid,
                                count=len(recs) - mid)
    assert [(m.offset(), m.key(), m.value()) for m in msgs] == recs[mid:]


def test_consumer_seek_after_assign(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name)
    kh.produce_all(broker.bootstrap, topic_name, [f"v{i}".encode() for i in range(20)], partition=0)
    c = kh.consumer(broker.bootstrap, **{"enable.partition.eof": False})
    try:
        c.assign([TopicPartition(topic_name, 0, 0)])
        first = None
        deadline = time.monotonic() + T
        while first is None and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                first = m
        assert first is not None and first.offset() == 0
        c.seek(TopicPartition(topic_name, 0, 15))
        got = []
        deadline = time.monotonic() + T
        while len(got) < 5 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error() and m.offset() >= 15:
                got.append((m.offset(), m.value()))
        assert got == [(i, f"v{i}".encode()) for i in range(15, 20)]
    finally:
        c.close()


def test_offsets_for_times(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name)
    base = int(time.time() * 1000) - 100_000
    p = kh.producer(broker.bootstrap)
    delivered = []
    for i in range(10):
        p.produce(topic_name, value=f"t{i}".encode(), partition=0, timestamp=base + i * 1000,
                  on_delivery=lambda err, msg: delivered.append((err, msg.offset())))
        p.flush(T)  # one message per batch: timestamps are per record anyway
    assert [d for d in delivered if d[0] is not None] == []
    assert [o for _, o in delivered] == list(range(10))

    c = kh.consumer(broker.bootstrap)
    try:
        def lookup(ts):
            r = c.offsets_for_times([TopicPartition(topic_name, 0, ts)], timeout=T)
            assert r[0].error is None, r[0].error
            return r[0].offset
        assert lookup(base) == 0
        assert lookup(base + 5000) == 5
        assert lookup(base + 5500) == 6       # first record with timestamp >= ts
        assert lookup(base - 1) == 0
        assert lookup(base + 9000) == 9
        assert lookup(base + 100_000) == -1   # no such record: end
    finally:
        c.close()
    msgs = kh.consume_partition(broker.bootstrap, topic_name, 0, start=0, count=10)
    assert [m.timestamp()[1] for m in msgs] == [base + i * 1000 for i in range(10)]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_confluent_compressed_roundtrip(broker, topic_name, codec):
    kh.create_topic(broker.bootstrap, topic_name)
    values = [(f"{i}:" + "payload" * 20).encode() for i in range(1000)]
    delivered = kh.produce_all(broker.bootstrap, topic_name, values, partition=0,
                               **{"compression.type": codec, "linger.ms": 50,
                                  "enable.idempotence": True})
    assert [d[1] for d in delivered] == list(range(1000))
    msgs = kh.consume_partition(broker.bootstrap, topic_name, 0, start=0, count=1000)
    assert [(m.offset(), m.value()) for m in msgs] == list(enumerate(values))


def test_acks_zero_and_one(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name)
    kh.produce_all(broker.bootstrap, topic_name, [b"a1", b"a2"], partition=0, acks="1")
    kh.produce_all(broker.bootstrap, topic_name, [b"z1", b"z2"], partition=0, acks="0",
                   **{"enable.idempotence": False})
    msgs = wait_until(
        lambda: (lambda m: m if len(m) == 4 else None)(
            kh.consume_partition(broker.bootstrap, topic_name, 0, start=0)),
        T, what="4 messages (acks=0 ones included)")
    assert [(m.offset(), m.value()) for m in msgs] == [(0, b"a1"), (1, b"a2"), (2, b"z1"), (3, b"z2")]


def test_headers_and_null_key_roundtrip(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name)
    p = kh.producer(broker.bootstrap)
    p.produce(topic_name, value=b"with-headers", partition=0,
              headers=[("h1", b"v1"), ("h2", None)])
    p.produce(topic_name, value=None, key=b"tombstone", partition=0)
    assert p.flush(T) == 0
    msgs = kh.consume_partition(broker.bootstrap, topic_name, 0, start=0, count=2)
    assert msgs[0].key() is None and msgs[0].value() == b"with-headers"
    assert msgs[0].headers() == [("h1", b"v1"), ("h2", None)]
    assert msgs[1].key() == b"tombstone" and msgs[1].value() is None


def test_auto_create_topic_on_produce(broker, topic_name):
    delivered = kh.produce_all(broker.bootstrap, topic_name, [b"hello"])
    assert delivered[0][:2] == (0, 0)
    a = kh.admin(broker.bootstrap)
    md = kh.wait_topic_visible(a, topic_name, 1)
    assert topic_name in md.topics


def test_fetch_from_out_of_range_offset_resets(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name)
    kh.produce_all(broker.bootstrap, topic_name, [b"a", b"b"], partition=0)
    msgs = kh.consume_partition(broker.bootstrap, topic_name, 0, start=1000, count=2,
                                **{"auto.offset.reset": "earliest"})
    assert [(m.offset(), m.value()) for m in msgs] == [(0, b"a"), (1, b"b")]
