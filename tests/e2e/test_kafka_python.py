"""kafka-python (pure Python client): producer/consumer round trip and admin.

kafka-python is run both with broker-version auto-detection (api_version=None,
which derives a version from the ApiVersions response) and pinned to
api_version=(2, 6), a common setting in deployed applications that fixes the
request versions it uses.
"""

import time

import pytest

kafka = pytest.importorskip("kafka")

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import NewTopic  # noqa: E402

T = 30
API_VERSIONS = [pytest.param(None, id="auto"), pytest.param((2, 6), id="pinned-2.6")]


def common(bootstrap, api_version):
    conf = {"bootstrap_servers": bootstrap, "request_timeout_ms": 20000}
    if api_version is not None:
        conf["api_version"] = api_version
    return conf


def create_topic(bootstrap, name, partitions, api_version=None):
    admin = KafkaAdminClient(**common(bootstrap, api_version))
    try:
        admin.create_topics([NewTopic(name=name, num_partitions=partitions, replication_factor=1)])
        deadline = time.monotonic() + T
        while name not in admin.list_topics():
            assert time.monotonic() < deadline, f"{name} not listed after create"
            time.sleep(0.2)
    finally:
        admin.close()


@pytest.mark.parametrize("api_version", API_VERSIONS)
def test_admin_create_topic(broker, topic_name, api_version):
    admin = KafkaAdminClient(**common(broker.bootstrap, api_version))
    try:
        admin.create_topics([NewTopic(name=topic_name, num_partitions=3, replication_factor=1)])
        deadline = time.monotonic() + T
        while topic_name not in admin.list_topics():
            assert time.monotonic() < deadline
            time.sleep(0.2)
        (desc,) = admin.describe_topics([topic_name])
        assert desc["error_code"] == 0
        assert sorted(p["partition_index"] for p in desc["partitions"]) == [0, 1, 2]
    finally:
        admin.close()


@pytest.mark.parametrize("api_version", API_VERSIONS)
@pytest.mark.parametrize("compression", [None, "gzip"])
def test_producer_consumer_roundtrip(broker, topic_name, api_version, compression):
    create_topic(broker.bootstrap, topic_name, 2)
    producer = KafkaProducer(acks="all", compression_type=compression, linger_ms=5,
                             **common(broker.bootstrap, api_version))
    sent = []
    try:
        futures = [producer.send(topic_name, key=f"k{i}".encode(), value=f"v{i}".encode(),
                                 partition=i % 2)
                   for i in range(200)]
        producer.flush(timeout=T)
        for i, f in enumerate(futures):
            md = f.get(timeout=T)
            sent.append((md.partition, md.offset, f"k{i}".encode(), f"v{i}".encode()))
    finally:
        producer.close(timeout=T)

    for part in (0, 1):
        recs = [s for s in sent if s[0] == part]
        assert [s[1] for s in recs] == list(range(len(recs))), f"partition {part} offsets"

    consumer = KafkaConsumer(group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=10000,
                             **common(broker.bootstrap, api_version))
    try:
        tps = [TopicPartition(topic_name, 0), TopicPartition(topic_name, 1)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        got = []
        deadline = time.monotonic() + T
        while len(got) < len(sent) and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                got.extend((r.partition, r.offset, r.key, r.value) for r in records)
        assert sorted(got) == sorted(sent)
        # Per partition, records arrive in offset order.
        for part in (0, 1):
            offs = [g[1] for g in got if g[0] == part]
            assert offs == sorted(offs)
        assert consumer.end_offsets(tps) == {
            tp: len([s for s in sent if s[0] == tp.partition]) for tp in tps}
    finally:
        consumer.close()


@pytest.mark.parametrize("api_version", API_VERSIONS)
def test_consumer_seek_to_offset(broker, topic_name, api_version):
    create_topic(broker.bootstrap, topic_name, 1)
    producer = KafkaProducer(**common(broker.bootstrap, api_version))
    try:
        for i in range(30):
            producer.send(topic_name, value=f"v{i}".encode(), partition=0)
        producer.flush(timeout=T)
    finally:
        producer.close(timeout=T)
    consumer = KafkaConsumer(group_id=None, enable_auto_commit=False,
                             **common(broker.bootstrap, api_version))
    try:
        tp = TopicPartition(topic_name, 0)
        consumer.assign([tp])
        consumer.seek(tp, 25)
        got = []
        deadline = time.monotonic() + T
        while len(got) < 5 and time.monotonic() < deadline:
            for _, records in consumer.poll(timeout_ms=500).items():
                got.extend((r.offset, r.value) for r in records)
        assert got == [(i, f"v{i}".encode()) for i in range(25, 30)]
        assert consumer.beginning_offsets([tp]) == {tp: 0}
    finally:
        consumer.close()


@pytest.mark.groups
def test_kafka_python_group_consumer(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, 2)
    producer = KafkaProducer(**common(broker.bootstrap, None))
    try:
        for i in range(40):
            producer.send(topic_name, value=f"v{i}".encode(), partition=i % 2)
        producer.flush(timeout=T)
    finally:
        producer.close(timeout=T)
    consumer = KafkaConsumer(topic_name, group_id="kp-group", auto_offset_reset="earliest",
                             enable_auto_commit=False, **common(broker.bootstrap, None))
    try:
        got = []
        deadline = time.monotonic() + 60
        while len(got) < 40 and time.monotonic() < deadline:
            for _, records in consumer.poll(timeout_ms=500).items():
                got.extend(r.value for r in records)
        assert sorted(got) == sorted(f"v{i}".encode() for i in range(40))
        consumer.commit()
        committed = consumer.committed(TopicPartition(topic_name, 0))
        assert committed == 20
    finally:
        consumer.close()


def test_describe_log_dirs(broker, topic_name):
    create_topic(broker.bootstrap, topic_name, 2)
    producer = KafkaProducer(**common(broker.bootstrap, None))
    try:
        producer.send(topic_name, value=b"x" * 100, partition=1).get(timeout=T)
    finally:
        producer.close(timeout=T)
    admin = KafkaAdminClient(**common(broker.bootstrap, None))
    try:
        (entry,) = admin.describe_log_dirs()
    finally:
        admin.close()
    assert entry["broker"] == 1
    (log_dir,) = entry["log_dirs"]
    assert log_dir["error_code"] == 0
    assert log_dir["log_dir"] == str(broker.data_dir)
    (topic,) = [t for t in log_dir["topics"] if t["name"] == topic_name]
    sizes = {p["partition_index"]: p["partition_size"] for p in topic["partitions"]}
    assert sizes[0] == 0
    assert sizes[1] > 100  # one record batch holding a 100-byte value
