"""Malformed and hostile input on raw sockets.

Expected behaviour follows Apache Kafka's broker:
- a frame that cannot be parsed (bad length, truncated header, garbage body),
  an unknown API key, or a known API key at a version the broker does not
  support (other than ApiVersions) -> the broker closes that connection
  without a response and keeps serving every other connection;
- a size prefix above socket.request.max.bytes (100 MiB) -> connection closed;
- ApiVersions at an unsupported version -> a v0-encoded ApiVersionsResponse
  with UNSUPPORTED_VERSION (35) listing the ApiVersions range;
- per-partition / per-topic errors are returned as error codes in normal
  responses: CORRUPT_MESSAGE (2), MESSAGE_TOO_LARGE (10),
  INVALID_TOPIC_EXCEPTION (17).
"""

import random
import struct

import pytest

import kafka_wire as kw

MAX_REQUEST = 100 * 1024 * 1024  # socket.request.max.bytes default


def connect(broker, **kw_):
    return kw.KafkaConnection.to(broker.bootstrap, **kw_)


def assert_serving(broker):
    """The broker process is alive and a fresh connection gets ApiVersions answered."""
    broker.check_alive()
    with connect(broker) as c:
        res = c.api_versions()
        assert res.error_code == kw.NONE
        assert kw.API_VERSIONS in res.versions


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def test_api_versions_advertises_contract_apis(broker):
    with connect(broker) as c:
        res = c.api_versions()
    assert res.error_code == 0
    # ApiVersions, Metadata, Produce, Fetch, ListOffsets, CreateTopics, DeleteTopics,
    # CreatePartitions, DeleteRecords, DescribeConfigs, AlterConfigs,
    # IncrementalAlterConfigs, DescribeCluster, DescribeLogDirs
    for key in (18, 3, 0, 1, 2, 19, 20, 37, 21, 32, 33, 44, 60, 35):
        assert key in res.versions, f"api key {key} not advertised: {sorted(res.versions)}"
        lo, hi = res.versions[key]
        assert 0 <= lo <= hi, (key, lo, hi)
    # Magic v2 record batches need Produce >= 3 and Fetch >= 4.
    assert res.versions[0][1] >= 3 and res.versions[1][1] >= 4


def test_api_versions_v0(broker):
    with connect(broker) as c:
        res = c.api_versions(version=0)
    assert res.error_code == 0
    assert res.versions[kw.API_VERSIONS][0] == 0


GARBAGE = {
    "negative_length": b"\xff\xff\xff\xff" + b"garbage",
    "zero_length": b"\x00\x00\x00\x00" + b"\x00" * 8,
    "frame_shorter_than_header": frame(b"\x00\x12"),
    "truncated_header": frame(struct.pack(">hhh", 18, 0, 0)),
    # Metadata v1 whose topic array claims 2^31-1 entries but carries none.
    "garbage_body": frame(struct.pack(">hhih", 3, 1, 1, 4) + b"e2e!" + b"\x7f\xff\xff\xff"),
    # CreateTopics v2 with a topic name length pointing far past the end.
    "string_overrun": frame(struct.pack(">hhih", 19, 2, 1, 4) + b"e2e!"
                            + struct.pack(">ih", 1, 30000) + b"abc"),
    "random_bytes": frame(bytes([0x7f, 0x33]) + random.Random(1234).randbytes(60)),
}


@pytest.mark.parametrize("case", sorted(GARBAGE))
def test_malformed_frame_closes_only_that_connection(broker, case):
    with connect(broker) as healthy:
        assert healthy.api_versions().error_code == 0
        with connect(broker) as bad:
            bad.send_raw(GARBAGE[case])
            leftover = bad.wait_closed(timeout=10)
            assert leftover == b"", f"broker answered a malformed frame with {leftover[:64]!r}"
        # The pre-existing connection still works, and so do new ones.
        assert healthy.api_versions().error_code == 0
    assert_serving(broker)


def test_unknown_api_key_closes_connection(broker):
    with connect(broker) as c:
        c.send_raw(c.frame(999, 0, b"", correlation_id=42, flexible_header=False))
        leftover = c.wait_closed(timeout=10)
        assert leftover == b"", f"expected no response for api key 999, got {leftover[:64]!r}"
    assert_serving(broker)


def test_unsupported_version_of_known_api_closes_connection(broker):
    with connect(broker) as c:
        c.send_raw(c.frame(kw.METADATA, 32000, b"\x00", correlation_id=7, flexible_header=True))
        leftover = c.wait_closed(timeout=10)
        assert leftover == b"", f"expected no response, got {leftover[:64]!r}"
    assert_serving(broker)


@pytest.mark.parametrize("version", [127, 32767])
def test_api_versions_unsupported_version_answers_v0_error(broker, version):
    with connect(broker) as c:
        c.send_raw(kw.api_versions_frame(version, correlation_id=1234))
        data = c.recv_frame()
        r = kw.Reader(data)
        assert r.int32() == 1234  # response header v0: correlation id only
        res = kw.parse_api_versions_body(r, version=0)
        assert res.error_code == kw.UNSUPPORTED_VERSION
        assert kw.API_VERSIONS in res.versions, res.versions
        lo, hi = res.versions[kw.API_VERSIONS]
        assert lo == 0 and hi >= 3
        # The connection stays usable: the client retries with a supported version.
        assert c.api_versions(version=min(hi, 3)).error_code == 0


@pytest.mark.parametrize("size", [MAX_REQUEST + 1, 2**31 - 1])
def test_oversized_request_closes_connection(broker, size):
    with connect(broker) as c:
        c.send_raw(struct.pack(">i", size) + struct.pack(">hhih", 18, 0, 1, 0))
        leftover = c.wait_closed(timeout=10)
        assert leftover == b""
    assert_serving(broker)


def test_pipelined_requests_answered_in_order(broker):
    with connect(broker) as c:
        body = kw.Writer(True).string("e2e").string("1").tags().getvalue()
        c.send_raw(b"".join(c.frame(kw.API_VERSIONS, 3, body, corr, True) for corr in (11, 12, 13)))
        got = [struct.unpack(">i", c.recv_frame()[:4])[0] for _ in range(3)]
    assert got == [11, 12, 13]


# ---------------------------------------------------------------------------
# Error codes inside well-formed responses
# ---------------------------------------------------------------------------

def make_topic(c, name, partitions=1):
    res = c.create_topics([(name, partitions, 1)])
    assert res[name][0] == kw.NONE, f"CreateTopics {name}: {res[name]}"


def test_produce_valid_then_bad_crc(broker, topic_name):
    with connect(broker) as c:
        make_topic(c, topic_name)
        ok = c.produce(topic_name, 0, kw.encode_record_batch([b"one", b"two"]))
        assert ok["error_code"] == kw.NONE and ok["base_offset"] == 0

        bad = kw.corrupt_crc(kw.encode_record_batch([b"three"]))
        res = c.produce(topic_name, 0, bad)
        assert res["error_code"] == kw.CORRUPT_MESSAGE, res

        # The corrupt batch was not appended; the next good one gets offset 2.
        ok = c.produce(topic_name, 0, kw.encode_record_batch([b"four"]))
        assert ok["error_code"] == kw.NONE and ok["base_offset"] == 2, ok
    assert_serving(broker)


def test_produce_batch_larger_than_message_max_bytes(strait_factory, topic_name):
    srv = strait_factory({"message.max.bytes": "10000"})
    with connect(srv) as c:
        make_topic(c, topic_name)
        res = c.produce(topic_name, 0, kw.encode_record_batch([b"x" * 20000]))
        assert res["error_code"] == kw.MESSAGE_TOO_LARGE, res
        ok = c.produce(topic_name, 0, kw.encode_record_batch([b"y" * 5000]))
        assert ok["error_code"] == kw.NONE and ok["base_offset"] == 0, ok
    assert_serving(srv)


def test_produce_to_unknown_partition(broker, topic_name):
    with connect(broker) as c:
        make_topic(c, topic_name, partitions=1)
        res = c.produce(topic_name, 5, kw.encode_record_batch([b"x"]))
        assert res["error_code"] == 3, res  # UNKNOWN_TOPIC_OR_PARTITION


@pytest.mark.parametrize("name", ["bad/name", "..", ".", "a" * 250, "", "spaces are bad",
                                  "ünïcödé"])
def test_create_topic_invalid_name(broker, name):
    with connect(broker) as c:
        res = c.create_topics([(name, 1, 1)])
        assert res[name][0] == kw.INVALID_TOPIC_EXCEPTION, res
        meta = c.metadata(None)
    assert name not in meta


def test_create_topic_max_length_name_is_valid(broker):
    name = "b" * 249
    with connect(broker) as c:
        res = c.create_topics([(name, 1, 1)])
        assert res[name][0] == kw.NONE, res
        res = c.create_topics([(name, 1, 1)])
        assert res[name][0] == kw.TOPIC_ALREADY_EXISTS, res


def test_create_topic_invalid_partitions_and_rf(broker, topic_name):
    with connect(broker) as c:
        res = c.create_topics([(topic_name + "-p", 0, 1), (topic_name + "-rf", 1, 3)])
        assert res[topic_name + "-p"][0] == 37, res    # INVALID_PARTITIONS
        assert res[topic_name + "-rf"][0] == 38, res   # INVALID_REPLICATION_FACTOR


ELECT_LEADERS = 43


@pytest.mark.parametrize("version", [0, 1, 2])
def test_unserved_api_is_answered_at_every_version(broker, version):
    """ElectLeaders is not served: every version gets its own response with
    UNSUPPORTED_VERSION (v0 has no top-level error code, so each requested
    partition carries it), and the connection stays open. v0 used to close it."""
    flexible = version >= 2
    w = kw.Writer(flexible=flexible)
    if version >= 1:
        w.int8(0)  # election_type: preferred
    w.array([("t", [0, 1])], lambda w2, tp: (
        w2.string(tp[0]), w2.array(tp[1], lambda w3, p: w3.int32(p)),
        w2.tags() if flexible else None))
    w.int32(5000)
    if flexible:
        w.tags()
    with connect(broker) as c:
        r = c.request(ELECT_LEADERS, version, w.getvalue(), flexible=flexible)
        assert r.int32() == 0  # throttle_time_ms
        if version >= 1:
            assert r.int16() == kw.UNSUPPORTED_VERSION

        def partition(r2):
            pid, code = r2.int32(), r2.int16()
            r2.string()
            r2.tags()
            return pid, code

        results = r.topics(partition)
        assert results == [("t", [(0, kw.UNSUPPORTED_VERSION), (1, kw.UNSUPPORTED_VERSION)])]
        # The same connection goes on serving.
        assert c.api_versions().error_code == kw.NONE
    assert_serving(broker)
