"""Prometheus metrics at `/metrics` on the HTTP listener (issue 11): the text
parses with prometheus_client's OpenMetrics parser, request counters move
with real client traffic, partition series match the log, and a mirror's
lag and fetched records match `kafka-mirrors --describe` and the source.

Every wait is bounded."""

from __future__ import annotations

import pytest

requests = pytest.importorskip("requests")
parser = pytest.importorskip("prometheus_client.openmetrics.parser")

import kafka_helpers as kh  # noqa: E402
import strait_harness as h  # noqa: E402
from test_cluster_links_cli import describe_mirrors, wait_caught_up  # noqa: E402

T = 20.0


def scrape(url: str) -> dict:
    """{(sample name, frozenset(labels)): value} of one scrape."""
    resp = requests.get(f"{url}/metrics", timeout=T)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/openmetrics-text"), resp.headers
    out = {}
    for family in parser.text_string_to_metric_families(resp.text):
        assert family.name.startswith("strait_"), family.name
        assert family.documentation, f"{family.name} has no HELP"
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: dict, name: str, **labels):
    return samples.get((name, frozenset(labels.items())))


def start_http(strait_factory):
    port = h.free_port()
    srv = strait_factory({"confluent.http.server.listeners": f"http://127.0.0.1:{port}"})
    url = f"http://127.0.0.1:{port}"
    h.wait_until(lambda: h.port_open(port), T, what="the HTTP listener")
    return srv, url


def test_metrics_parse_and_follow_client_traffic(strait_factory, topic_name):
    srv, url = start_http(strait_factory)
    kh.create_topic(srv.bootstrap, topic_name, partitions=2)
    before = scrape(url)
    kh.produce_all(srv.bootstrap, topic_name, [b"a", b"b", b"c", b"d", b"e"], partition=1)
    got = kh.consume_partition(srv.bootstrap, topic_name, 1)
    assert len(got) == 5
    after = scrape(url)

    assert value(after, "strait_partition_log_end_offset", topic=topic_name, partition="1") == 5
    assert value(after, "strait_partition_log_end_offset", topic=topic_name, partition="0") == 0
    assert value(after, "strait_topic_partitions", topic=topic_name) == 2
    assert value(after, "strait_topic_produced_bytes_total", topic=topic_name) > 0
    assert value(after, "strait_topic_fetched_bytes_total", topic=topic_name) > 0

    def produce_requests(samples):
        return sum(v for (n, labels), v in samples.items()
                   if n == "strait_requests_total" and ("api", "Produce") in labels)
    assert produce_requests(after) > produce_requests(before)
    assert value(after, "strait_connections_accepted_total", listener="PLAINTEXT") >= 1
    assert any(n == "strait_request_duration_seconds_bucket" for n, _ in after)


def test_mirror_metrics_match_the_cli(strait_factory, topic_name):
    src = strait_factory()
    dst, url = start_http(strait_factory)
    kh.create_topic(src.bootstrap, topic_name, partitions=2)
    for p in (0, 1):
        kh.produce_all(src.bootstrap, topic_name, [b"x"] * (3 + p), partition=p)
    dst.cli("kafka-cluster-links", "--create", "--link", "m", "--config",
            f"bootstrap.servers={src.bootstrap},metadata.max.age.ms=500").check()
    dst.cli("kafka-mirrors", "--create", "--mirror-topic", topic_name, "--link", "m").check()
    wait_caught_up(src, dst, topic_name, 2)

    samples = scrape(url)
    described = describe_mirrors(dst, "--topics", topic_name)[topic_name][1]
    for p in described:
        assert value(samples, "strait_mirror_partition_lag", link="m", topic=topic_name,
                     partition=str(p["partition"])) == p["lag"] == 0
        assert value(samples, "strait_mirror_partition_lag_seconds", link="m", topic=topic_name,
                     partition=str(p["partition"])) == 0
    assert value(samples, "strait_mirror_fetched_records_total", link="m", topic=topic_name) == 7
    assert value(samples, "strait_link_state", link="m", state="ACTIVE") == 1
    assert value(samples, "strait_link_mirrors", link="m", state="ACTIVE") == 1
    assert value(samples, "strait_partition_log_end_offset", topic=topic_name, partition="1") == 4


def test_lag_seconds_of_a_paused_mirror_grows_with_wall_time(strait_factory, topic_name):
    """The RPO figure: a paused mirror behind its source reports how old the
    oldest record it lacks is, and that figure keeps growing while the
    source's producer is stopped."""
    import time

    src = strait_factory()
    dst, url = start_http(strait_factory)
    kh.create_topic(src.bootstrap, topic_name, partitions=1)
    kh.produce_all(src.bootstrap, topic_name, [b"x"] * 3, partition=0)
    dst.cli("kafka-cluster-links", "--create", "--link", "m", "--config",
            f"bootstrap.servers={src.bootstrap},metadata.max.age.ms=500").check()
    dst.cli("kafka-mirrors", "--create", "--mirror-topic", topic_name, "--link", "m").check()
    wait_caught_up(src, dst, topic_name, 1)
    dst.cli("kafka-mirrors", "--pause", "--topics", topic_name).check()
    produced_at = time.time()
    kh.produce_all(src.bootstrap, topic_name, [b"y"] * 4, partition=0)
    # The producer has stopped; the paused mirror lacks its 4 records.

    labels = {"link": "m", "topic": topic_name, "partition": "0"}

    def lagging():
        s = scrape(url)
        return (value(s, "strait_mirror_partition_lag", **labels) == 4
                and value(s, "strait_mirror_partition_lag_seconds", **labels) > 0)
    h.wait_until(lagging, T, what="the paused mirror to report its lag")
    described = describe_mirrors(dst, "--topics", topic_name)[topic_name][1]
    assert [p["lag"] for p in described] == [4]

    first = value(scrape(url), "strait_mirror_partition_lag_seconds", **labels)
    time.sleep(2.0)
    second = value(scrape(url), "strait_mirror_partition_lag_seconds", **labels)
    assert second - first >= 1.5, (first, second)
    # It is the age of the oldest missing record, not more.
    assert second <= time.time() - produced_at + 1.0, second
