"""What a mirror topic refuses and what it follows (issue 4): records cannot be
produced or deleted, mirrored configs cannot be changed while configs
Confluent leaves local can, partitions cannot be added by hand but follow
the source's, and after a promotion everything is allowed again. Real
clients (confluent-kafka's AdminClient, kafka-configs) against two Strait
brokers; every wait is bounded."""

from __future__ import annotations

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")

from confluent_kafka import KafkaError, TopicPartition  # noqa: E402
from confluent_kafka.admin import (  # noqa: E402
    AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions)

import kafka_helpers as kh  # noqa: E402
import strait_harness as h  # noqa: E402

T = 15


def create_link(dst, src):
    conf = {"bootstrap.servers": src.bootstrap, "metadata.max.age.ms": "500",
            "topic.config.sync.ms": "500"}
    h.run_cli("kafka-cluster-links", "--bootstrap-server", dst.bootstrap, "--create",
              "--link", "l", "--config", ",".join(f"{k}={v}" for k, v in conf.items())).check()


def alter_topic(admin, topic, key, value):
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)])
    return admin.incremental_alter_configs([res])[res]


def error_code(future):
    try:
        future.result(T)
    except confluent_kafka.KafkaException as e:
        return e.args[0].code()
    return None


def partition_count(admin, topic):
    md = admin.list_topics(topic, timeout=T)
    return len(md.topics[topic].partitions)


def test_mirror_refuses_writes_and_local_changes_and_follows_the_source(strait_factory):
    src = strait_factory()
    dst = strait_factory()
    topic = "rules"
    kh.create_topic(src.bootstrap, topic, 2)
    kh.produce_all(src.bootstrap, topic, [f"r{i}".encode() for i in range(20)], partition=0)
    create_link(dst, src)
    h.run_cli("kafka-mirrors", "--create", "--mirror-topic", topic, "--link", "l",
              "--bootstrap-server", dst.bootstrap).check()
    admin = kh.admin(dst.bootstrap)
    h.wait_until(lambda: len(kh.consume_partition(dst.bootstrap, topic, 0, count=20,
                                                  timeout=3)) == 20, 30, what="mirroring")

    # Records: neither deleted nor produced.
    futs = admin.delete_records([TopicPartition(topic, 0, 5)])
    assert error_code(next(iter(futs.values()))) == KafkaError.INVALID_REQUEST

    # Configs: mirrored ones are refused, local ones are allowed.
    assert error_code(alter_topic(admin, topic, "retention.ms", "1000")) == \
        KafkaError.INVALID_CONFIG
    assert error_code(alter_topic(admin, topic, "local.retention.ms", "60000")) is None
    res = h.run_cli("kafka-configs", "--bootstrap-server", dst.bootstrap, "--alter",
                    "--topic", topic, "--add-config", "cleanup.policy=compact")
    assert res.rc != 0 and "Cannot modify mirror topic" in res.stderr, res

    # Partitions: not by hand, but the source's growth is followed.
    futs = admin.create_partitions([NewPartitions(topic, 4)])
    assert error_code(futs[topic]) == KafkaError.INVALID_PARTITIONS
    src_admin = kh.admin(src.bootstrap)
    src_admin.create_partitions([NewPartitions(topic, 4)])[topic].result(T)
    h.wait_until(lambda: partition_count(admin, topic) == 4, 30,
                 what="the mirror to follow the source's partition count")
    kh.produce_all(src.bootstrap, topic, [b"new"], partition=3)
    h.wait_until(lambda: [m.value() for m in kh.consume_partition(
        dst.bootstrap, topic, 3, count=1, timeout=3)] == [b"new"], 30,
        what="records of a new partition")
    # A source config change arrives; the local override stays.
    src_res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET)])
    src_admin.incremental_alter_configs([src_res])[src_res].result(T)
    h.wait_until(lambda: kh.describe_topic_configs(admin, topic)["retention.ms"].value
                 == "7200000", 30, what="retention.ms to follow the source")
    assert kh.describe_topic_configs(admin, topic)["local.retention.ms"].value == "60000"

    # After a promotion the topic is an ordinary one.
    h.run_cli("kafka-mirrors", "--promote", "--topics", topic, "--bootstrap-server",
              dst.bootstrap).check()
    h.wait_until(lambda: h.run_cli("kafka-mirrors", "--list", "--bootstrap-server",
                                   dst.bootstrap).stdout == "", 15, what="the promotion")
    assert error_code(alter_topic(admin, topic, "retention.ms", "1000")) is None
    futs = admin.delete_records([TopicPartition(topic, 0, 5)])
    assert error_code(next(iter(futs.values()))) is None
    assert kh.produce_all(dst.bootstrap, topic, [b"mine"], partition=0)[0][1] == 20


def test_mirror_created_with_a_local_retention_keeps_it(strait_factory):
    """Confluent's REST example creates a mirror with a retention.ms override:
    configs that may follow the source can be given at creation and then stay
    local; the always-mirrored ones (cleanup.policy, ...) cannot."""
    src = strait_factory()
    dst = strait_factory()
    topic = "overridden"
    kh.create_topic(src.bootstrap, topic, 1)
    src_admin = kh.admin(src.bootstrap)
    src_res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("segment.ms", "3600000", incremental_operation=AlterConfigOpType.SET)])
    src_admin.incremental_alter_configs([src_res])[src_res].result(T)
    create_link(dst, src)
    res = h.run_cli("kafka-mirrors", "--create", "--mirror-topic", topic, "--link", "l",
                    "--bootstrap-server", dst.bootstrap, "--config", "cleanup.policy=compact")
    assert res.rc != 0 and "cleanup.policy" in res.stderr, res
    assert topic not in kh.admin(dst.bootstrap).list_topics(timeout=T).topics
    h.run_cli("kafka-mirrors", "--create", "--mirror-topic", topic, "--link", "l",
              "--bootstrap-server", dst.bootstrap, "--config", "retention.ms=86400000").check()
    admin = kh.admin(dst.bootstrap)
    configs = kh.describe_topic_configs(admin, topic)
    assert configs["retention.ms"].value == "86400000"
    assert configs["segment.ms"].value == "3600000"
    # A later source change of the overridden key is not copied; others are.
    src_res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "1000000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("segment.ms", "1800000", incremental_operation=AlterConfigOpType.SET)])
    src_admin.incremental_alter_configs([src_res])[src_res].result(T)
    h.wait_until(lambda: kh.describe_topic_configs(admin, topic)["segment.ms"].value
                 == "1800000", 30, what="segment.ms to follow the source")
    assert kh.describe_topic_configs(admin, topic)["retention.ms"].value == "86400000"
    # The override is the mirror's own: it can be changed there.
    assert error_code(alter_topic(admin, topic, "retention.ms", "43200000")) is None
