"""Confluent's REST v3 produce endpoint, `POST /topics/{t}/records`
(issue 11): BINARY, JSON and STRING keys and values, headers (a name may
repeat), partitions chosen as a Java producer chooses them, timestamps, a
body of several records answered line by line, a chunked body answered
record by record while it is still being sent, and Confluent's statuses
for bad records. What was produced is read back with confluent-kafka, a
client nobody here wrote. Every wait is bounded."""

from __future__ import annotations

import base64
import json
import socket

import pytest

requests = pytest.importorskip("requests")

import kafka_helpers as kh  # noqa: E402
import strait_harness as h  # noqa: E402
from test_rest_v3 import Rest, error, start_rest  # noqa: E402

T = 20.0


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def rest(strait_factory) -> Rest:
    return start_rest(strait_factory)


def records_path(rest: Rest, topic: str) -> str:
    return f"{rest.cluster}/topics/{topic}/records"


def test_one_record_of_each_format_is_produced_as_sent(rest, topic_name):
    kh.create_topic(rest.srv.bootstrap, topic_name, partitions=2)
    path = records_path(rest, topic_name)
    sent = [
        ({"partition_id": 1, "key": {"type": "BINARY", "data": b64(b"\x00\x01k")},
          "value": {"type": "BINARY", "data": b64(b"\xffbinary")},
          "headers": [{"name": "h", "value": b64(b"one")}, {"name": "h", "value": b64(b"two")},
                      {"name": "empty", "value": None}],
          "timestamp": "2021-02-05T19:14:42.123Z"},
         b"\x00\x01k", b"\xffbinary"),
        ({"partition_id": 1, "value": {"type": "JSON", "data": {"a": [1, "x"], "b": None}}},
         None, b'{"a":[1,"x"],"b":null}'),
        ({"partition_id": 1, "key": {"type": "STRING", "data": "clé"},
          "value": {"type": "STRING", "data": "välue"}},
         "clé".encode(), "välue".encode()),
        ({"partition_id": 1, "value": {"type": "BINARY", "data": None}}, None, None),
    ]
    answers = []
    for body, _, _ in sent:
        resp = rest.post(path, json=body)
        assert resp.status_code == 200, resp.text
        answers.append(resp.json())
    first = answers[0]
    assert first["error_code"] == 200
    assert (first["cluster_id"], first["topic_name"], first["partition_id"], first["offset"]) == (
        rest.cluster_id, topic_name, 1, 0)
    assert first["timestamp"] == "2021-02-05T19:14:42.123Z"
    assert first["key"] == {"type": "BINARY", "size": 3}
    assert first["value"] == {"type": "BINARY", "size": 7}
    assert [a["offset"] for a in answers] == [0, 1, 2, 3]
    assert "key" not in answers[1] and answers[1]["value"]["type"] == "JSON"
    assert answers[3]["value"] == {"type": "BINARY", "size": -1}

    got = kh.consume_partition(rest.srv.bootstrap, topic_name, partition=1, count=4)
    for m, (_, key, value) in zip(got, sent):
        assert (m.key(), m.value()) == (key, value)
    # Both copies of a repeated header name are kept, in order.
    assert got[0].headers() == [("h", b"one"), ("h", b"two"), ("empty", None)]
    assert got[0].timestamp()[1] == 1612552482123
    # A record without a timestamp gets the time of the call.
    assert got[1].timestamp()[1] > 1612552482123


def test_keys_land_where_a_java_producer_puts_them(rest, topic_name):
    # kafka-python's own murmur2, as its default partitioner uses it.
    from kafka.partitioner.default import murmur2

    kh.create_topic(rest.srv.bootstrap, topic_name, partitions=5)
    for i in range(20):
        key = f"key-{i}".encode()
        resp = rest.post(records_path(rest, topic_name), json={
            "key": {"type": "BINARY", "data": b64(key)},
            "value": {"type": "STRING", "data": "v"}})
        assert resp.status_code == 200, resp.text
        assert resp.json()["partition_id"] == (murmur2(key) & 0x7FFFFFFF) % 5, key
    # Records with neither key nor partition are spread over partitions.
    seen = {rest.post(records_path(rest, topic_name),
                      json={"value": {"type": "STRING", "data": "v"}}).json()["partition_id"]
            for _ in range(10)}
    assert len(seen) > 1, seen


def test_several_records_in_one_body_get_a_line_each(rest, topic_name):
    kh.create_topic(rest.srv.bootstrap, topic_name, partitions=1)
    lines = [
        {"value": {"type": "STRING", "data": "a"}},
        {"value": {"type": "STRING", "data": "b"}},
        {"value": {"data": "needs a schema"}},
        {"partition_id": 9, "value": {"type": "STRING", "data": "no such partition"}},
        {"value": {"type": "STRING", "data": "c"}},
    ]
    body = "\n".join(json.dumps(x) for x in lines)
    resp = rest.post(records_path(rest, topic_name), data=body.encode(),
                     headers={"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    answers = [json.loads(x) for x in resp.text.splitlines() if x.strip()]
    assert [a["error_code"] for a in answers] == [200, 200, 42206, 40403, 200]
    assert [a.get("offset") for a in answers] == [0, 1, None, None, 2]
    got = kh.consume_partition(rest.srv.bootstrap, topic_name, count=3)
    assert [m.value() for m in got] == [b"a", b"b", b"c"]


def test_a_chunked_body_is_answered_while_it_is_sent(rest, topic_name):
    """Each record's answer arrives before the next record is sent: the
    stream is produced record by record, as Confluent streams it."""
    kh.create_topic(rest.srv.bootstrap, topic_name, partitions=1)
    port = int(rest.url.rsplit(":", 1)[1])
    s = socket.create_connection(("127.0.0.1", port), timeout=T)
    s.sendall((f"POST /v3{records_path(rest, topic_name)} HTTP/1.1\r\n"
               f"Host: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
               "Transfer-Encoding: chunked\r\n\r\n").encode())
    reader = s.makefile("rb")

    def chunk(data: bytes):
        s.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    status = reader.readline()
    assert b" 200 " in status, status
    while reader.readline() not in (b"\r\n", b""):
        pass  # response headers

    def next_answer() -> dict:
        while True:
            size_line = reader.readline()
            assert size_line, "the stream ended early"
            size = int(size_line.strip(), 16)
            data = reader.read(size)
            reader.readline()
            for line in data.splitlines():
                if line.strip():
                    return json.loads(line)

    for i in range(3):
        record = json.dumps({"value": {"type": "STRING", "data": f"r{i}"}}).encode()
        # Half a record waits for the rest; nothing is answered for it yet.
        chunk(record[:10])
        chunk(record[10:] + b"\n")
        answer = next_answer()
        assert (answer["error_code"], answer["offset"]) == (200, i), answer
    chunk(b"{ not json")
    assert next_answer()["error_code"] == 40002
    s.sendall(b"0\r\n\r\n")
    s.close()
    got = kh.consume_partition(rest.srv.bootstrap, topic_name, count=3)
    assert [m.value() for m in got] == [b"r0", b"r1", b"r2"]


def test_bad_records_get_confluents_statuses(rest, topic_name):
    kh.create_topic(rest.srv.bootstrap, topic_name, partitions=1)
    path = records_path(rest, topic_name)
    error(rest.post(f"{rest.cluster}/topics/no-such-topic/records",
                    json={"value": {"type": "STRING", "data": "x"}}), 404, 40403)
    error(rest.post("/clusters/nope/topics/t/records", json={}), 404, 404)
    error(rest.post(path, json={"partition_id": 3, "value": {"type": "STRING", "data": "x"}}),
          404, 40403)
    error(rest.post(path, json={"value": {"data": "x"}}), 422, 42206)
    error(rest.post(path, json={"value": {"type": "AVRO", "data": "x"}}), 422, 42206)
    error(rest.post(path, json={"value": {"type": "BINARY", "data": "*not base64*"}}), 400, 40002)
    error(rest.post(path, json={"value": {"type": "STRING", "data": 12}}), 400, 40002)
    error(rest.post(path, json={"value": {"type": "XML", "data": "x"}}), 400, 40002)
    error(rest.post(path, json={"timestamp": "yesterday"}), 400, 40002)
    error(rest.post(path, data=b"{ nope", headers={"Content-Type": "application/json"}),
          400, 40002)
    error(rest.post(path, data=b"", headers={"Content-Type": "application/json"}), 400, 40002)
    error(rest.post(path, data=b"{}", headers={"Content-Type": "text/plain"}), 415, 415)
    # None of it reached the log.
    assert kh.consume_partition(rest.srv.bootstrap, topic_name) == []


def test_produce_is_authorized_as_on_the_kafka_port(strait_factory, topic_name):
    sasl_port = h.free_port()
    http_port = h.free_port()
    srv = strait_factory(start=False)
    listeners = f"PLAINTEXT://127.0.0.1:{srv.port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}"
    srv.overrides.update({
        "listeners": listeners,
        "advertised.listeners": listeners,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config":
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            'username="admin" password="pw" user_admin="pw" user_alice="alice-pw";',
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin",
        "confluent.http.server.listeners": f"http://127.0.0.1:{http_port}",
    })
    srv.start()
    rest = Rest(srv, http_port)
    admin = ("admin", "pw")
    assert rest.post(f"{rest.cluster}/topics", auth=admin,
                     json={"topic_name": topic_name}).status_code == 201
    path = records_path(rest, topic_name)
    record = {"value": {"type": "STRING", "data": "x"}}
    error(rest.post(path, json=record), 403, 40301)
    error(rest.post(path, json=record, auth=("alice", "alice-pw")), 403, 40301)
    error(rest.post(path, json=record, auth=("alice", "wrong")), 401, 40101)
    resp = rest.post(path, json=record, auth=admin)
    assert (resp.status_code, resp.json()["offset"]) == (200, 0), resp.text
