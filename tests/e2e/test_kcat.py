"""Produce and consume with kcat (librdkafka) using every compression codec."""

import shutil

import pytest

import kafka_helpers as kh
from strait_harness import run

pytestmark = pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def kcat_produce(bootstrap, topic, lines, *extra, timeout=60):
    res = run(["kcat", "-P", "-b", bootstrap, "-t", topic, "-K", ":",
               "-X", "acks=all", *extra],
              input="".join(f"{line}\n" for line in lines), timeout=timeout)
    assert res.rc == 0, f"kcat produce failed:\n{res}"
    assert "ERROR" not in res.stderr, f"kcat reported errors:\n{res}"
    return res


def kcat_consume(bootstrap, topic, *extra, timeout=60):
    res = run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e",
               "-f", "%o %k %s\n", *extra], timeout=timeout)
    assert res.rc == 0, f"kcat consume failed:\n{res}"
    return res.stdout.splitlines()


@pytest.mark.parametrize("codec", CODECS)
def test_kcat_roundtrip_with_codec(broker, topic_name, codec):
    kh.create_topic(broker.bootstrap, topic_name, partitions=1)
    n = 500
    # Repetitive payloads so that every codec actually compresses something.
    lines = [f"k{i}:value-{i}-" + "abcdefgh" * (i % 7) for i in range(n)]
    kcat_produce(broker.bootstrap, topic_name, lines, "-z", codec)

    got = kcat_consume(broker.bootstrap, topic_name, "-p", "0")
    expected = [f"{i} k{i} value-{i}-" + "abcdefgh" * (i % 7) for i in range(n)]
    assert len(got) == n, f"expected {n} messages, got {len(got)}: first {got[:3]} last {got[-3:]}"
    assert got == expected


def test_kcat_two_producers_offsets_contiguous(broker, topic_name):
    """Two separate kcat runs (different codecs) append after each other."""
    kh.create_topic(broker.bootstrap, topic_name, partitions=1)
    kcat_produce(broker.bootstrap, topic_name, [f"a{i}:first-{i}" for i in range(100)], "-z", "lz4")
    kcat_produce(broker.bootstrap, topic_name, [f"b{i}:second-{i}" for i in range(100)], "-z", "zstd")
    got = kcat_consume(broker.bootstrap, topic_name, "-p", "0")
    expected = [f"{i} a{i} first-{i}" for i in range(100)] + \
               [f"{100 + i} b{i} second-{i}" for i in range(100)]
    assert got == expected


def test_kcat_consume_from_offset(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=1)
    kcat_produce(broker.bootstrap, topic_name, [f"k{i}:v{i}" for i in range(50)])
    res = run(["kcat", "-C", "-b", broker.bootstrap, "-t", topic_name, "-p", "0",
               "-o", "42", "-e", "-f", "%o %k %s\n"], timeout=60)
    assert res.rc == 0, str(res)
    assert res.stdout.splitlines() == [f"{i} k{i} v{i}" for i in range(42, 50)]


def test_kcat_metadata_lists_topic(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=3)
    res = run(["kcat", "-L", "-b", broker.bootstrap, "-t", topic_name], timeout=30)
    assert res.rc == 0, str(res)
    assert f'topic "{topic_name}" with 3 partitions' in res.stdout, res.stdout
    assert "1 brokers:" in res.stdout, res.stdout
    assert f"127.0.0.1:{broker.port}" in res.stdout, res.stdout
