"""Log compaction (cleanup.policy=compact) seen from a confluent-kafka client.

The broker compacts on its 1 s upkeep tick (gated by min.cleanable.dirty.ratio), so no
server property is needed; segment.ms=100 makes every produce round after a short pause
land in a new segment, which rolls the previous one out of the active position.
"""

import time

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")

from confluent_kafka import KafkaError  # noqa: E402

import kafka_helpers as kh  # noqa: E402
from strait_harness import wait_until  # noqa: E402

KEYS = [f"k{i}".encode() for i in range(10)]


def _produce_round(broker, topic, values):
    res = kh.produce_all(broker.bootstrap, topic, values, partition=0, keys=KEYS)
    time.sleep(0.3)  # older than segment.ms: the next round rolls a new segment
    return res


def test_compacted_topic_keeps_latest_value_per_key_with_offset_gaps(broker, topic_name):
    kh.create_topic(broker.bootstrap, topic_name, partitions=1, config={
        "cleanup.policy": "compact",
        "segment.ms": "100",
        "min.cleanable.dirty.ratio": "0.01",
    })
    first = _produce_round(broker, topic_name, [b"v1-" + k for k in KEYS])
    # Round 2 overwrites every key; k9 becomes a tombstone (kept: delete.retention.ms is a day).
    second = _produce_round(broker, topic_name, [b"v2-" + k for k in KEYS[:-1]] + [None])
    # A last record rolls round 2 out of the active segment.
    last = kh.produce_all(broker.bootstrap, topic_name, [b"end"], partition=0, keys=[b"end"])
    assert [r[1] for r in first] == list(range(10))
    assert [r[1] for r in second] == list(range(10, 20))
    assert last[0][1] == 20

    expected = {k: (b"v2-" + k if k != b"k9" else None) for k in KEYS}
    expected[b"end"] = b"end"
    seen = {}

    def compacted():
        msgs = kh.consume_partition(broker.bootstrap, topic_name, 0, start=0, timeout=20)
        seen["msgs"] = [(m.offset(), m.key(), m.value()) for m in msgs]
        return [(k, v) for _, k, v in seen["msgs"]] == list(expected.items())

    wait_until(compacted, 30, interval=0.5,
               what=f"compaction of {topic_name} (last read: {seen.get('msgs')})")
    offsets = [o for o, _, _ in seen["msgs"]]
    # Kept records keep their offsets: round 1 (0..9) is gone, a gap before offset 10.
    assert offsets == list(range(10, 21))

    # A compacted topic rejects records without a key.
    p = kh.producer(broker.bootstrap, **{"message.timeout.ms": 10000, "retries": 0})
    errors = []
    p.produce(topic_name, value=b"no key", partition=0,
              on_delivery=lambda err, msg: errors.append(err))
    p.flush(15)
    assert errors and errors[0] is not None
    assert errors[0].code() == KafkaError.INVALID_RECORD
