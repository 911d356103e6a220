"""A broker with its metadata on etcd (issue 12, first slice):
metadata.etcd.endpoints / metadata.etcd.prefix select the etcd store.

- Everything the broker keeps (topics, group offsets, SCRAM users, ACLs)
  lives in etcd and survives a kill -9 of the broker.
- etcd restarted while clients produce: records keep flowing (reads are
  served from the broker's copy); CreateTopics fails with a clear, retriable
  error while etcd is down and works again once it is back.
- Bad starts are one line on stderr and a non-zero exit: etcd unreachable,
  a node.id a live broker holds, a second broker on the prefix, log dirs of
  another cluster.
- The broker's lease: lost, it registers again; lost while another broker
  took its node.id, it stops with one line.
"""

from __future__ import annotations

import itertools
import re
import shutil
import threading
import time

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")
from confluent_kafka import KafkaException, TopicPartition  # noqa: E402
from confluent_kafka.admin import NewTopic  # noqa: E402

import etcd_harness  # noqa: E402
import kafka_helpers as kh  # noqa: E402
import strait_harness as h  # noqa: E402

pytestmark = pytest.mark.skipif(not etcd_harness.available(),
                                reason=f"{etcd_harness.ETCD_BIN} (Debian etcd-server) is missing")

_prefixes = itertools.count()
# A tracing log line: "2026-12-07T16:04:05.123456Z  INFO ...".
LOG_LINE = re.compile(r"^\S*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


@pytest.fixture
def etcd(tmp_path):
    server = etcd_harness.EtcdServer(tmp_path / "etcd").start()
    yield server
    server.stop()


def on_etcd(etcd, prefix: str, **extra) -> dict:
    return {"metadata.etcd.endpoints": etcd.endpoint, "metadata.etcd.prefix": prefix, **extra}


def new_prefix() -> str:
    return f"/e2e-{next(_prefixes)}"


def start_expecting_refusal(srv, timeout: float = 30) -> str:
    """Runs the broker's config in the foreground; returns its one error line."""
    srv.write_config()
    started = time.monotonic()
    res = h.run([h.binary("strait"), "server", "--config", srv.config_path], timeout=timeout)
    assert res.rc != 0, f"broker started:\n{res}"
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and not LOG_LINE.match(ln)]
    assert len(lines) == 1, f"expected one error line:\n{res}"
    assert lines[0].startswith("strait: "), lines[0]
    assert time.monotonic() - started < timeout
    return lines[0]


def cluster_id(srv) -> str:
    return h.run_cli("kafka-cluster", "cluster-id", "--bootstrap-server",
                     srv.bootstrap).check().stdout.split()[-1]


def kcat(*args, input: str | None = None) -> h.CliResult:
    res = h.run(["kcat", *args], input=input, timeout=60)
    assert res.rc == 0, f"kcat failed:\n{res}"
    return res


def create_topic_error(bootstrap: str, name: str):
    """The error of one CreateTopics, or None when it succeeded."""
    a = kh.admin(bootstrap)
    fs = a.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)],
                         request_timeout=20)
    try:
        fs[name].result(timeout=30)
        return None
    except KafkaException as e:
        return e.args[0]


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")
def test_everything_survives_kill9_of_a_broker_on_etcd(etcd, strait_factory):
    prefix = new_prefix()
    srv = strait_factory(on_etcd(etcd, prefix, **{
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "super.users": "User:ANONYMOUS"}))
    # Topics, records from confluent-kafka and kcat.
    kh.create_topic(srv.bootstrap, "orders", partitions=3)
    kh.produce_all(srv.bootstrap, "orders", [f"o{i}".encode() for i in range(30)], partition=0)
    kcat("-P", "-b", srv.bootstrap, "-t", "events", "-p", "0", "-X", "acks=all",
         input="".join(f"e{i}\n" for i in range(20)))
    # Group offsets.
    c = kh.consumer(srv.bootstrap, **{"group.id": "billing"})
    c.commit(offsets=[TopicPartition("orders", 0, 17), TopicPartition("events", 0, 5)],
             asynchronous=False)
    c.close()
    # A SCRAM user and an ACL.
    srv.cli("kafka-configs", "--alter", "--add-config", "SCRAM-SHA-256=[password=s3cret-pw]",
            "--entity-type", "users", "--entity-name", "carol").check()
    srv.cli("kafka-acls", "--add", "--allow-principal", "User:bob", "--operation", "Read",
            "--topic", "orders").check()
    cluster = cluster_id(srv)
    # Nothing of it is in the log dir: the store is etcd.
    assert not (srv.data_dir / "strait-metadata.redb").exists()

    srv.kill9()
    # The restarted broker waits out its own dead registration's lease.
    srv.start()

    assert cluster_id(srv) == cluster
    listed = srv.cli("kafka-topics", "--list").check().stdout.split()
    assert {"orders", "events"} <= set(listed), listed
    got = kh.consume_partition(srv.bootstrap, "orders", 0)
    assert [m.value() for m in got] == [f"o{i}".encode() for i in range(30)]
    out = kcat("-C", "-b", srv.bootstrap, "-t", "events", "-p", "0", "-o", "beginning", "-e",
               "-f", "%s\n").stdout.splitlines()
    assert out == [f"e{i}" for i in range(20)]
    c = kh.consumer(srv.bootstrap, **{"group.id": "billing"})
    committed = c.committed([TopicPartition("orders", 0), TopicPartition("events", 0)],
                            timeout=15)
    c.close()
    assert [tp.offset for tp in committed] == [17, 5]
    res = srv.cli("kafka-configs", "--describe", "--entity-type", "users",
                  "--entity-name", "carol").check()
    assert "SCRAM-SHA-256=iterations=4096" in res.stdout, res
    res = srv.cli("kafka-acls", "--list", "--topic", "orders").check()
    assert "User:bob" in res.stdout and "READ" in res.stdout.upper(), res
    # New records after the restart land after the old ones.
    kh.produce_all(srv.bootstrap, "orders", [b"after"], partition=0)
    assert kh.consume_partition(srv.bootstrap, "orders", 0, start=30)[0].value() == b"after"


def test_etcd_restart_while_producing(etcd, strait_factory, topic_name):
    srv = strait_factory(on_etcd(etcd, new_prefix()))
    kh.create_topic(srv.bootstrap, topic_name, partitions=2)

    delivered: list = []
    failed: list = []
    undelivered: list = []
    stop = threading.Event()

    def produce():
        p = kh.producer(srv.bootstrap, **{"linger.ms": 1})

        def cb(err, msg):
            (failed if err is not None else delivered).append(time.monotonic())

        i = 0
        while not stop.is_set():
            p.produce(topic_name, value=f"r{i}".encode(), on_delivery=cb)
            i += 1
            p.poll(0.02)
        undelivered.append(p.flush(30))

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    h.wait_until(lambda: len(delivered) > 20, timeout=20, what="records flowing")

    etcd.kill9()
    down_at = time.monotonic()
    # A metadata change fails, clearly and retriably.
    err = create_topic_error(srv.bootstrap, f"{topic_name}-while-down")
    assert err is not None, "CreateTopics succeeded with etcd down"
    assert err.code() == confluent_kafka.KafkaError.REQUEST_TIMED_OUT, err
    assert "metadata store unavailable" in err.str() and etcd.endpoint in err.str(), err.str()
    # Meanwhile records keep flowing.
    h.wait_until(lambda: sum(1 for t in delivered if t > down_at) > 20, timeout=20,
                 what="records delivered while etcd is down")

    etcd.start()
    up_at = time.monotonic()
    h.wait_until(lambda: create_topic_error(srv.bootstrap, f"{topic_name}-after") is None,
                 timeout=30, what="CreateTopics to work again")
    h.wait_until(lambda: sum(1 for t in delivered if t > up_at) > 20, timeout=20,
                 what="records delivered after etcd is back")
    stop.set()
    thread.join(timeout=40)
    assert not thread.is_alive()
    assert undelivered == [0], undelivered
    assert not failed, f"{len(failed)} records failed"
    n = sum(len(kh.consume_partition(srv.bootstrap, topic_name, p)) for p in range(2))
    assert n == len(delivered)
    # The topic made while etcd was down does not exist; the one after does.
    listed = srv.cli("kafka-topics", "--list").check().stdout.split()
    assert f"{topic_name}-after" in listed and f"{topic_name}-while-down" not in listed
    srv.check_alive()


def test_unreachable_etcd_at_startup_is_one_line(strait_factory):
    port = h.free_port()
    srv = strait_factory({"metadata.etcd.endpoints": f"http://127.0.0.1:{port}"}, start=False)
    line = start_expecting_refusal(srv)
    assert f"127.0.0.1:{port}" in line and "etcd" in line, line


def test_a_prefix_without_endpoints_is_refused(strait_factory):
    srv = strait_factory({"metadata.etcd.prefix": "/x"}, start=False)
    line = start_expecting_refusal(srv)
    assert "metadata.etcd.endpoints" in line, line


def test_same_node_id_or_a_second_broker_on_one_prefix_is_refused(etcd, strait_factory):
    prefix = new_prefix()
    first = strait_factory(on_etcd(etcd, prefix))
    same_id = strait_factory(on_etcd(etcd, prefix), start=False, node_id=1)
    line = start_expecting_refusal(same_id)
    assert "node.id 1 is already registered" in line and first.bootstrap in line, line
    other = strait_factory(on_etcd(etcd, prefix), start=False, node_id=2)
    line = start_expecting_refusal(other)
    assert "one broker per metadata prefix" in line and prefix in line, line
    first.check_alive()
    # Once the first one stops (and deregisters), the prefix is free.
    first.stop()
    other.start()


@pytest.mark.skipif(not etcd_harness.etcdctl_available(),
                    reason=f"{etcd_harness.ETCDCTL_BIN} (Debian etcd-client) is missing")
def test_a_broker_registers_again_after_losing_its_lease(etcd, strait_factory):
    prefix = new_prefix()
    srv = strait_factory(on_etcd(etcd, prefix))
    key = f"{prefix}/brokers/1"

    def registered() -> bool:
        return etcd.etcdctl("get", key, "--keys-only").stdout.split() == [key]

    assert registered()
    assert etcd.revoke_all_leases() == 1
    h.wait_until(lambda: "lost its lease" in srv.log_tail(), timeout=15,
                 what="the broker to notice")
    h.wait_until(registered, timeout=15, what="the registration to come back")
    assert f"broker registration {key} is back" in srv.log_tail()
    assert srv.bootstrap.split(":")[1] in etcd.etcdctl("get", key, "--print-value-only").stdout
    kh.create_topic(srv.bootstrap, "still-serving")
    srv.check_alive()


@pytest.mark.skipif(not etcd_harness.etcdctl_available(),
                    reason=f"{etcd_harness.ETCDCTL_BIN} (Debian etcd-client) is missing")
def test_a_broker_whose_registration_is_taken_over_stops_with_one_line(etcd, strait_factory):
    prefix = new_prefix()
    first = strait_factory(on_etcd(etcd, prefix))
    # A second broker with the same node.id waits for the registration to go...
    second = strait_factory(on_etcd(etcd, prefix), node_id=1)
    time.sleep(1)
    # ...and gets it when the first one's lease is revoked.
    assert etcd.revoke_all_leases() == 1
    h.wait_until(lambda: first.proc.poll() is not None, timeout=15,
                 what="the first broker to stop")
    first._expect_exit = True  # stopping is what this test expects
    assert first.proc.returncode != 0
    errors = [ln for ln in first.log_tail().splitlines() if ln.startswith("strait: ")]
    assert len(errors) == 1, first.log_tail()
    assert "registration on etcd was taken over" in errors[0], errors[0]
    assert second.bootstrap in errors[0], errors[0]
    # The second broker serves.
    kh.create_topic(second.bootstrap, "after-takeover")
    second.check_alive()


def test_log_dirs_of_another_cluster_are_refused(etcd, strait_factory):
    prefix = new_prefix()
    on_prefix = strait_factory(on_etcd(etcd, prefix))
    on_prefix.stop()
    # A broker of another cluster (embedded store), then pointed at the prefix.
    other = strait_factory()
    kh.create_topic(other.bootstrap, "theirs")
    other_cluster = cluster_id(other)
    other.stop()
    other.overrides.update(on_etcd(etcd, prefix))
    line = start_expecting_refusal(other)
    assert prefix in line and other_cluster in line and str(other.data_dir) in line, line
    # An empty prefix over those log dirs is refused too, and stays empty.
    empty = new_prefix()
    other.overrides.update(on_etcd(etcd, empty))
    line = start_expecting_refusal(other)
    assert empty in line and other_cluster in line, line
    line2 = start_expecting_refusal(other)
    assert line2 == line
