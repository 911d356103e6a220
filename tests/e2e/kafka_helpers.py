"""Small confluent-kafka helpers shared by the tests.  All waits are bounded."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

# Keep librdkafka quiet and quick to give up on a dead broker.
COMMON = {
    "socket.timeout.ms": 10000,
    "log_level": 3,
}


def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap, **COMMON})


def create_topic(bootstrap_or_admin, name: str, partitions: int = 1, config: dict | None = None,
                 timeout: float = 15.0):
    a = admin(bootstrap_or_admin) if isinstance(bootstrap_or_admin, str) else bootstrap_or_admin
    fs = a.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                   config=config or {})], operation_timeout=timeout,
                         request_timeout=timeout)
    fs[name].result(timeout=timeout)
    wait_topic_visible(a, name, partitions, timeout)
    return a


def wait_topic_visible(a: AdminClient, name: str, partitions: int, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        md = a.list_topics(topic=name, timeout=5)
        t = md.topics.get(name)
        if t is not None and t.error is None and len(t.partitions) == partitions:
            return md
        if time.monotonic() > deadline:
            raise AssertionError(
                f"topic {name} not visible with {partitions} partitions within {timeout}s: "
                f"{t.error if t else 'absent'}, partitions={len(t.partitions) if t else None}")
        time.sleep(0.2)


def producer(bootstrap: str, **conf) -> Producer:
    base = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": 30000,
        **COMMON,
    }
    base.update(conf)
    return Producer(base)


def produce_all(bootstrap: str, topic: str, values, partition: int | None = None,
                keys=None, timeout: float = 30.0, **conf):
    """Produce `values` (bytes) and wait for every delivery report.

    Returns a list of (partition, offset, key, value) in produce order; raises
    if any message failed."""
    p = producer(bootstrap, **conf)
    results: list = [None] * len(values)
    errors = []

    def cb_for(i):
        def cb(err, msg):
            if err is not None:
                errors.append((i, err))
            else:
                results[i] = (msg.partition(), msg.offset(), msg.key(), msg.value())
        return cb

    keys = keys or [None] * len(values)
    for i, (k, v) in enumerate(zip(keys, values)):
        kwargs = {"value": v, "key": k, "on_delivery": cb_for(i)}
        if partition is not None:
            kwargs["partition"] = partition
        while True:
            try:
                p.produce(topic, **kwargs)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    remaining = p.flush(timeout)
    assert remaining == 0, f"{remaining} messages still undelivered after {timeout}s"
    assert not errors, f"delivery failed: {errors[:5]}"
    return results


def consumer(bootstrap: str, **conf) -> Consumer:
    base = {
        "bootstrap.servers": bootstrap,
        "group.id": "strait-e2e-unused",  # required by librdkafka; never joined when assigning
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        **COMMON,
    }
    base.update(conf)
    return Consumer(base)


def consume_partition(bootstrap: str, topic: str, partition: int = 0, start: int = 0,
                      count: int | None = None, timeout: float = 30.0, **conf):
    """Read one partition by assign() from offset `start`.

    Reads `count` messages, or (count=None) until the end of the partition as
    reported by partition EOF.  Returns a list of Message objects."""
    c = consumer(bootstrap, **conf)
    try:
        c.assign([TopicPartition(topic, partition, start)])
        out = []
        deadline = time.monotonic() + timeout
        while True:
            if count is not None and len(out) >= count:
                return out
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"consumed {len(out)} of {count if count is not None else 'all'} messages "
                    f"from {topic}-{partition} in {timeout}s")
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    if count is None:
                        return out
                    continue
                raise AssertionError(f"consume error: {msg.error()}")
            out.append(msg)
    finally:
        c.close()


def describe_topic_configs(a: AdminClient, topic: str, timeout: float = 15.0) -> dict:
    """{name: ConfigEntry} for a topic, via DescribeConfigs."""
    res = ConfigResource(ResourceType.TOPIC, topic)
    return a.describe_configs([res], request_timeout=timeout)[res].result(timeout=timeout)


def poll_until(consumers, predicate, timeout, what):
    """Poll every group consumer, collecting messages per consumer (keyed by
    id()), until predicate(got) holds; fails after `timeout` seconds."""
    got = {id(c): [] for c in consumers}
    deadline = time.monotonic() + timeout
    while not predicate(got):
        if time.monotonic() > deadline:
            assignments = [sorted(tp.partition for tp in c.assignment()) for c in consumers]
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                 f"assignments={assignments}")
        for c in consumers:
            m = c.poll(0.1)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"consumer error: {m.error()}")
            got[id(c)].append(m)
    return got
