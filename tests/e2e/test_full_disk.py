"""A full disk (issue 10, item 6): produce gets KAFKA_STORAGE_ERROR, nothing
half-written becomes visible, and the broker logs the failing path and the OS
error once per partition and interval rather than staying silent or flooding
the log. The log dir is a small tmpfs mounted for the test (root only)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")

from confluent_kafka import KafkaError  # noqa: E402

import kafka_helpers as kh  # noqa: E402

T = 15


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)],
                         capture_output=True, text=True, timeout=10)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=10)


def fill(path):
    """Writes `path` until the file system is full."""
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
    # The last partial chunk may still fit byte by byte.
    with open(path, "ab", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 512)
        except OSError:
            pass


def produce_one(bootstrap, topic, value):
    """Produces one record without retries; returns its delivery error or None."""
    p = kh.producer(bootstrap, **{"retries": 0, "message.timeout.ms": 5000,
                                  "enable.idempotence": False})
    result = []
    p.produce(topic, value=value, partition=0, on_delivery=lambda err, msg: result.append(err))
    p.flush(T)
    assert result, "no delivery report"
    return result[0]


def test_full_disk_is_refused_and_logged_once(strait_factory, small_disk):
    srv = strait_factory({"log.dirs": small_disk, "log.flush.interval.messages": 1})
    topic = "full"
    kh.create_topic(srv.bootstrap, topic, 1)
    assert produce_one(srv.bootstrap, topic, b"before") is None
    filler = small_disk / "filler"
    fill(filler)
    errors = [produce_one(srv.bootstrap, topic, b"x" * 20000 + bytes([i])) for i in range(4)]
    assert all(e is not None and e.code() == KafkaError.KAFKA_STORAGE_ERROR for e in errors), \
        errors
    time.sleep(0.5)
    log = open(srv.log_path, errors="replace").read()
    lines = [ln for ln in log.splitlines() if f"storage failure on {topic}-0" in ln]
    assert len(lines) == 1, "\n".join(lines) or log[-3000:]
    assert "No space left on device" in lines[0], lines[0]
    assert str(small_disk) in lines[0], lines[0]
    # Room again: produce works, and only acknowledged records are visible.
    filler.unlink()
    assert produce_one(srv.bootstrap, topic, b"after") is None
    got = kh.consume_partition(srv.bootstrap, topic, 0, count=2, timeout=T)
    assert [m.value() for m in got] == [b"before", b"after"]
    srv.check_alive()
    srv.stop()
