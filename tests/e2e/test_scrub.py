"""The background scrubber (`log.scrub.interval.ms`, issue 14): a byte that
rots in a closed segment after a clean shutdown (so recovery never re-reads
it) is found, logged once and shown in the metrics, and nothing is changed
or deleted; other partitions stay clean. Produced with confluent-kafka,
read back with kcat, metrics parsed with prometheus_client. Every wait is
bounded."""

from __future__ import annotations

import os
import subprocess

import pytest

pytest.importorskip("confluent_kafka")
pytest.importorskip("prometheus_client")

import kafka_helpers as kh  # noqa: E402
import strait_harness as h  # noqa: E402
from test_metrics import scrape, value  # noqa: E402

T = 30


def test_scrub_finds_a_flipped_byte_after_a_clean_shutdown(strait_factory, topic_name):
    port = h.free_port()
    srv = strait_factory({"confluent.http.server.listeners": f"http://127.0.0.1:{port}",
                          "log.scrub.interval.ms": "300",
                          "log.scrub.bytes.per.second": "1000000"})
    url = f"http://127.0.0.1:{port}"
    h.wait_until(lambda: h.port_open(port), T, what="the HTTP listener")
    # Small segments, so that most of the data sits in closed ones.
    kh.create_topic(srv.bootstrap, topic_name, partitions=2,
                    config={"segment.bytes": "2000"})
    values = [f"record-{i:04d}-".encode() * 8 for i in range(100)]
    for p in (0, 1):
        for i in range(0, len(values), 10):  # one batch each: several segments
            kh.produce_all(srv.bootstrap, topic_name, values[i:i + 10], partition=p)
    samples = {}

    def clean_pass_done():
        samples.clear()
        samples.update(scrape(url))
        return (value(samples, "strait_log_scrub_batches_total") or 0) > 0
    h.wait_until(clean_pass_done, T, what="a scrub pass over the closed segments")
    assert value(samples, "strait_log_scrub_corrupt_partitions") == 0
    assert value(samples, "strait_log_scrub_read_bytes_total") > 0

    srv.stop()
    victim, _ = srv.flip_stored_byte(topic_name)
    damaged = open(victim, "rb").read()

    srv.start()
    h.wait_until(lambda: h.port_open(port), T, what="the HTTP listener")

    def found():
        samples.clear()
        samples.update(scrape(url))
        return value(samples, "strait_log_scrub_corrupt_batches",
                     topic=topic_name, partition="0") == 1
    h.wait_until(found, T, what="the scrubber to report the flipped byte")
    assert value(samples, "strait_log_scrub_corrupt_partitions") == 1
    assert value(samples, "strait_log_scrub_corrupt_batches",
                 topic=topic_name, partition="1") is None

    # Logged once, naming the partition, the file and the offsets.
    h.wait_until(lambda: value(scrape(url), "strait_log_scrub_passes_total") >= 3, T,
                 what="more scrub passes")
    log = open(srv.log_path, errors="replace").read()
    lines = [line for line in log.splitlines() if "log scrub: partition" in line
             and "is corrupt" in line]
    assert len(lines) == 1, lines
    assert f"{topic_name}-0" in lines[0] and os.path.basename(victim) in lines[0], lines[0]
    assert "CRC mismatch" in lines[0], lines[0]

    # Reported, not repaired or deleted: the file is as damaged as it was,
    # and kcat still reads the whole partition back.
    assert open(victim, "rb").read() == damaged
    out = subprocess.run(["kcat", "-C", "-b", srv.bootstrap, "-t", topic_name, "-p", "1",
                          "-o", "beginning", "-e", "-q", "-f", "%s\n"],
                         capture_output=True, timeout=T, check=True)
    assert out.stdout.splitlines() == values
    srv.check_alive()


def test_bad_scrub_settings_refuse_to_start(strait_factory):
    for props, expected in [({"log.scrub.interval.ms": "0"}, "log.scrub.interval.ms"),
                            ({"log.scrub.bytes.per.second": "0"}, "log.scrub.bytes.per.second"),
                            ({"log.scrub.interval.ms": "soon"}, "log.scrub.interval.ms")]:
        srv = strait_factory(start=False)
        srv.overrides.update(props)
        srv.write_config()
        res = h.run([h.binary("strait"), "server", "--config", srv.config_path], timeout=30)
        assert res.rc != 0, str(res)
        errors = [line for line in res.stderr.splitlines() if line.startswith("strait:")]
        assert len(errors) == 1 and expected in errors[0], str(res)
