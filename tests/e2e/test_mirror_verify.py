"""Proven integrity of mirror topics (issue 14): `kafka-mirrors --verify`
compares each mirror partition with its source batch by batch, and the
background scrubber repairs a mirror's corrupt batch with the source's
same bytes. Two real Strait brokers on ephemeral ports; a byte is flipped
in a closed segment of the mirror while the destination is stopped.
Records are produced with confluent-kafka and read back with it; metrics
parsed with prometheus_client. Every wait is bounded."""

from __future__ import annotations

import os
import time

import pytest
import requests

pytest.importorskip("confluent_kafka")
pytest.importorskip("prometheus_client")

import kafka_helpers as kh  # noqa: E402
import strait_harness as h  # noqa: E402
from test_link_mirroring import create_link, mirror, wait_mirrored  # noqa: E402
from test_metrics import scrape, value  # noqa: E402

T = 30


def verify(dst, *args):
    return h.run_cli("kafka-mirrors", "--bootstrap-server", dst.bootstrap, "--verify", *args)


def lines_by_partition(out: str) -> dict:
    """`Key: Value` tab-separated lines, keyed by partition."""
    result = {}
    for line in out.splitlines():
        fields = dict(f.split(": ", 1) for f in line.split("\t"))
        result[int(fields["Partition"])] = fields
    return result


def one_error_line(r, *words):
    assert r.rc != 0, str(r)
    errors = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, str(r)
    assert errors[0].startswith("Error while executing mirror command: "), str(r)
    for w in words:
        assert w in errors[0], str(r)
    assert r.stdout == "", str(r)


def test_mirror_verify_finds_a_flipped_byte_and_the_scrubber_repairs_it(strait_factory):
    src = strait_factory()
    dst = strait_factory()
    create_link(dst, src)
    topic = "verified"
    # Small segments on the source: the mirror follows segment.bytes, so most
    # of its data sits in closed segments too.
    kh.create_topic(src.bootstrap, topic, partitions=2, config={"segment.bytes": "2000"})
    mirror(dst, topic)
    values = [f"record-{i:04d}-".encode() * 8 for i in range(100)]
    for i in range(0, len(values), 10):  # one batch each, mirrored one by one
        for p in (0, 1):
            kh.produce_all(src.bootstrap, topic, values[i:i + 10], partition=p)
        wait_mirrored(src, dst, topic, 2)

    r = verify(dst, "--topics", topic).check()
    got = lines_by_partition(r.stdout)
    assert sorted(got) == [0, 1], str(r)
    for p in (0, 1):
        assert got[p]["Topic"] == topic
        assert got[p]["VerifiedOffsets"] == "0-99", str(r)
        # Ten produce calls; the producer may split one into two batches.
        assert int(got[p]["Batches"]) >= 10, str(r)
        assert got[p]["Result"] == "OK", str(r)
    assert verify(dst, "--topics", topic, "--link", "l").rc == 0

    dst.stop()
    victim, original = dst.flip_stored_byte(topic)
    dst.start()

    r = verify(dst, "--topics", topic)
    assert r.rc == 1, str(r)
    got = lines_by_partition(r.stdout)
    assert got[0]["Result"] == "MISMATCH", str(r)
    assert got[0]["FirstDifferentOffset"] == "0", str(r)
    assert "corrupt on disk" in got[0]["Reason"], str(r)
    assert got[0]["Batches"] == "0", str(r)
    assert got[1]["Result"] == "OK", str(r)

    # Now with the scrubber: it finds the batch and writes the source's bytes
    # over it, in place.
    dst.stop()
    port = h.free_port()
    dst.overrides.update({"log.scrub.interval.ms": "300",
                          "log.scrub.bytes.per.second": "1000000",
                          "confluent.http.server.listeners": f"http://127.0.0.1:{port}"})
    dst.start()
    url = f"http://127.0.0.1:{port}"
    h.wait_until(lambda: h.port_open(port), T, what="the HTTP listener")
    h.wait_until(lambda: value(scrape(url), "strait_log_scrub_repaired_batches_total") == 1,
                 T, what="the scrubber to repair the batch from the source")
    h.wait_until(lambda: value(scrape(url), "strait_log_scrub_passes_total") >= 3, T,
                 what="more scrub passes")
    samples = scrape(url)
    assert value(samples, "strait_log_scrub_repaired_batches_total") == 1
    assert value(samples, "strait_log_scrub_corrupt_partitions") == 0
    assert open(victim, "rb").read() == original, "the very same bytes, same length"

    log = open(dst.log_path, errors="replace").read()
    repaired = [line for line in log.splitlines() if "repaired from source" in line]
    assert len(repaired) == 1, repaired
    assert f"{topic}-0" in repaired[0] and os.path.basename(victim) in repaired[0]

    r = verify(dst, "--topics", topic).check()
    assert [f["Result"] for f in lines_by_partition(r.stdout).values()] == ["OK", "OK"], str(r)
    for p in (0, 1):
        got = [m.value() for m in kh.consume_partition(dst.bootstrap, topic, p)]
        assert got == values, f"partition {p}"

    # The same over REST, documented in the OpenAPI document.
    base = f"{url}/kafka/v3"
    cluster = requests.get(f"{base}/clusters", timeout=T).json()["data"][0]["cluster_id"]
    action = f"{base}/clusters/{cluster}/links/l/mirrors:verify"
    r = requests.post(action, json={"mirror_topic_names": [topic]}, timeout=T)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert [(d["partition_id"], d["result"], d["verified_to"]) for d in data] == \
        [(0, "OK", 100), (1, "OK", 100)], data
    assert requests.post(action, json={"mirror_topic_names": []}, timeout=T).status_code == 400
    r = requests.post(f"{base}/clusters/{cluster}/links/nope/mirrors:verify",
                      json={"mirror_topic_names": [topic]}, timeout=T)
    assert r.status_code == 404, r.text
    paths = requests.get(f"{base}/openapi.json", timeout=T).json()["paths"]
    assert "/clusters/{cluster_id}/links/{link_name}/mirrors:verify" in paths, sorted(paths)
    dst.check_alive()


def test_scrubber_leaves_a_regular_topic_report_only_next_to_a_mirror(strait_factory):
    src = strait_factory()
    port = h.free_port()
    dst = strait_factory({"log.scrub.interval.ms": "300",
                          "log.scrub.bytes.per.second": "1000000",
                          "confluent.http.server.listeners": f"http://127.0.0.1:{port}"})
    url = f"http://127.0.0.1:{port}"
    topic = "plain"
    kh.create_topic(dst.bootstrap, topic, partitions=1, config={"segment.bytes": "2000"})
    values = [f"record-{i:04d}-".encode() * 8 for i in range(50)]
    for i in range(0, len(values), 10):
        kh.produce_all(dst.bootstrap, topic, values[i:i + 10], partition=0)
    create_link(dst, src)
    dst.stop()
    victim, _ = dst.flip_stored_byte(topic, min_segments=1)
    damaged = open(victim, "rb").read()
    dst.start()
    h.wait_until(lambda: h.port_open(port), T, what="the HTTP listener")
    h.wait_until(lambda: value(scrape(url), "strait_log_scrub_corrupt_batches",
                               topic=topic, partition="0") == 1, T,
                 what="the scrubber to report the flipped byte")
    assert value(scrape(url), "strait_log_scrub_repaired_batches_total") == 0
    assert open(victim, "rb").read() == damaged, "a regular topic is never repaired"
    one_error_line(verify(dst, "--topics", topic), f"'{topic}' is not a mirror topic")


def test_mirror_verify_refuses_bad_input_with_one_error_line(strait_factory):
    src = strait_factory()
    dst = strait_factory()
    create_link(dst, src)
    kh.create_topic(src.bootstrap, "m", partitions=1)
    kh.produce_all(src.bootstrap, "m", [b"a", b"b"], partition=0)
    mirror(dst, "m")
    wait_mirrored(src, dst, "m", 1)
    kh.create_topic(dst.bootstrap, "local", partitions=1)

    one_error_line(verify(dst, "--topics", "local"), "'local' is not a mirror topic")
    one_error_line(verify(dst, "--topics", "m,nope"), "nope")
    one_error_line(verify(dst, "--topics", "m", "--link", "other"),
                   "Cluster link 'other' does not exist.")
    r = verify(dst)
    assert r.rc != 0 and "[topics]" in r.stderr, str(r)

    r = verify(dst, "--topics", "m").check()
    assert lines_by_partition(r.stdout)[0]["VerifiedOffsets"] == "0-1", str(r)

    src.stop()
    r = verify(dst, "--topics", "m")
    one_error_line(r, "source")


def describe_partitions(dst, topic) -> dict:
    """The `--describe` partition lines of one mirror, keyed by partition."""
    r = h.run_cli("kafka-mirrors", "--describe", "--topics", topic, "--bootstrap-server",
                  dst.bootstrap).check()
    partition_lines = "\n".join(line.strip("\t") for line in r.stdout.splitlines()
                                if line.startswith("\tPartition: "))
    return lines_by_partition(partition_lines)


def test_continuous_verification_reaches_the_end_then_names_a_flipped_byte(strait_factory):
    src = strait_factory()
    port = h.free_port()
    dst = strait_factory({"confluent.http.server.listeners": f"http://127.0.0.1:{port}"})
    url = f"http://127.0.0.1:{port}"
    conf = {"bootstrap.servers": src.bootstrap, "metadata.max.age.ms": "500",
            "topic.config.sync.ms": "500", "mirror.verification.interval.ms": "500"}
    h.run_cli("kafka-cluster-links", "--bootstrap-server", dst.bootstrap, "--create",
              "--link", "l", "--config",
              ",".join(f"{k}={v}" for k, v in conf.items())).check()
    topic = "watched"
    kh.create_topic(src.bootstrap, topic, partitions=1, config={"segment.bytes": "2000"})
    mirror(dst, topic)
    values = [f"record-{i:04d}-".encode() * 8 for i in range(100)]
    for i in range(0, len(values), 10):
        kh.produce_all(src.bootstrap, topic, values[i:i + 10], partition=0)
    wait_mirrored(src, dst, topic, 1)

    h.wait_until(lambda: describe_partitions(dst, topic)[0].get("LastVerifiedOffset") == "99",
                 T, interval=0.3, what="continuous verification to reach the end")
    line = describe_partitions(dst, topic)[0]
    assert line["Verification"] == "OK", line
    assert line["Lag"] == "0" and line["DestLogEndOffset"] == "100", line
    h.wait_until(lambda: h.port_open(port), T, what="the HTTP listener")
    samples = scrape(url)
    labels = {"link": "l", "topic": topic, "partition": "0"}
    assert value(samples, "strait_mirror_partition_verified_offset", **labels) == 99
    assert value(samples, "strait_mirror_partition_verification_ok", **labels) == 1

    dst.stop()
    dst.flip_stored_byte(topic)
    dst.start()

    h.wait_until(lambda: describe_partitions(dst, topic)[0].get("Verification") == "MISMATCH",
                 T, interval=0.3, what="continuous verification to find the flipped byte")
    line = describe_partitions(dst, topic)[0]
    assert line["FirstDifferentOffset"] == "0", line
    assert line["LastVerifiedOffset"] == "-1", line
    h.wait_until(lambda: h.port_open(port), T, what="the HTTP listener")
    base = f"{url}/kafka/v3"
    cluster = requests.get(f"{base}/clusters", timeout=T).json()["data"][0]["cluster_id"]
    r = requests.get(f"{base}/clusters/{cluster}/links/l/mirrors/{topic}", timeout=T)
    assert r.status_code == 200, r.text
    (v,) = r.json()["mirror_verifications"]
    assert (v["partition"], v["result"], v["first_different_offset"]) == (0, "MISMATCH", 0), v
    assert "corrupt on disk" in v["reason"], v
    assert value(scrape(url), "strait_mirror_partition_verification_ok", **labels) == 0
    # Logged once, not on every run (three more runs at 500 ms).
    time.sleep(1.5)
    log = open(dst.log_path, errors="replace").read()
    found = [line for line in log.splitlines() if "differs from its source at offset 0" in line]
    assert len(found) == 1, found
    dst.check_alive()
