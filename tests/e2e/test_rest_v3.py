"""Kafka REST v3 on `confluent.http.server.listeners` (issue 11), spoken with
Python `requests`: the cluster, brokers, topics, configs and partitions;
the cluster-link workflow of the command reference done over REST alone
(create a link, mirror, wait for lag 0, pause and resume, promote, fail
over after the source is killed) with the results compared with what
`kafka-mirrors --describe` prints; Confluent's statuses for errors (400,
401, 403, 404, 409); and schemathesis against the OpenAPI document.

Every wait is bounded."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

requests = pytest.importorskip("requests")

import kafka_helpers as kh  # noqa: E402
import strait_harness as h  # noqa: E402
from test_cluster_links_cli import describe_mirrors  # noqa: E402

T = 20.0
USERS = {"admin": "admin-rest-secret", "alice": "alice-rest-secret"}


class Rest:
    """A broker with an HTTP listener, and calls against its REST v3 API."""

    def __init__(self, srv, port: int):
        self.srv = srv
        self.url = f"http://127.0.0.1:{port}"
        self.base = f"{self.url}/kafka/v3"
        self.auth = None
        h.wait_until(self._up, T, what="the HTTP listener to answer")
        self.cluster_id = self.get("/clusters").json()["data"][0]["cluster_id"]
        self.cluster = f"/clusters/{self.cluster_id}"

    def _up(self) -> bool:
        try:
            return requests.get(f"{self.base}/clusters", timeout=2).status_code in (200, 401)
        except requests.RequestException:
            return False

    def call(self, method: str, path: str, **kw):
        kw.setdefault("timeout", T)
        kw.setdefault("auth", self.auth)
        return requests.request(method, f"{self.base}{path}", **kw)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, **kw):
        return self.call("POST", path, **kw)

    def put(self, path, **kw):
        return self.call("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


def start_rest(strait_factory, overrides: dict | None = None) -> Rest:
    port = h.free_port()
    srv = strait_factory({"confluent.http.server.listeners": f"http://127.0.0.1:{port}",
                          **(overrides or {})})
    return Rest(srv, port)


@pytest.fixture
def rest(strait_factory) -> Rest:
    return start_rest(strait_factory)


def error(resp, status: int, code: int):
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    return body["message"]


# -- cluster, brokers, topics --------------------------------------------------


def test_cluster_and_brokers(rest):
    listed = rest.get("/clusters").json()
    assert listed["kind"] == "KafkaClusterList"
    (cluster,) = listed["data"]
    assert cluster["metadata"]["self"] == f"{rest.base}{rest.cluster}"
    assert cluster["metadata"]["resource_name"] == f"crn:///kafka={rest.cluster_id}"
    assert cluster["controller"]["related"].endswith(f"{rest.cluster}/brokers/1")
    # /v3 serves the same API, with links under /v3.
    v3 = requests.get(f"{rest.url}/v3{rest.cluster}", timeout=T).json()
    assert v3["metadata"]["self"] == f"{rest.url}/v3{rest.cluster}"

    brokers = rest.get(f"{rest.cluster}/brokers").json()
    assert [(b["broker_id"], b["host"], b["port"]) for b in brokers["data"]] == [
        (1, "127.0.0.1", rest.srv.port)]
    assert rest.get(f"{rest.cluster}/brokers/1").json()["kind"] == "KafkaBroker"
    configs = rest.get(f"{rest.cluster}/brokers/1/configs").json()["data"]
    assert any(c["name"] == "num.partitions" for c in configs)

    error(rest.get("/clusters/no-such-cluster"), 404, 404)
    error(rest.get(f"{rest.cluster}/brokers/7"), 404, 404)
    error(rest.get("/no/such/path"), 404, 404)


def test_topics_configs_and_partitions(rest, topic_name):
    c = rest.cluster
    resp = rest.post(f"{c}/topics", json={
        "topic_name": topic_name, "partitions_count": 3,
        "configs": [{"name": "cleanup.policy", "value": "compact"}]})
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert (created["kind"], created["partitions_count"], created["replication_factor"]) == (
        "KafkaTopic", 3, 1)

    got = rest.get(f"{c}/topics/{topic_name}").json()
    assert (got["topic_name"], got["partitions_count"], got["is_internal"]) == (
        topic_name, 3, False)
    assert "DESCRIBE" in got["authorized_operations"]
    assert topic_name in [t["topic_name"] for t in rest.get(f"{c}/topics").json()["data"]]
    parts = rest.get(f"{c}/topics/{topic_name}/partitions").json()["data"]
    assert [p["partition_id"] for p in parts] == [0, 1, 2]
    assert rest.get(f"{c}/topics/{topic_name}/partitions/2").json()["partition_id"] == 2
    error(rest.get(f"{c}/topics/{topic_name}/partitions/3"), 404, 40403)

    cfg = rest.get(f"{c}/topics/{topic_name}/configs/cleanup.policy").json()
    assert (cfg["value"], cfg["source"], cfg["is_default"]) == (
        "compact", "DYNAMIC_TOPIC_CONFIG", False)
    assert rest.put(f"{c}/topics/{topic_name}/configs/retention.ms",
                    json={"value": "60000"}).status_code == 204
    assert rest.post(f"{c}/topics/{topic_name}/configs:alter", json={"data": [
        {"name": "cleanup.policy", "operation": "DELETE"},
        {"name": "segment.ms", "value": "3600000"}]}).status_code == 204
    by_name = {x["name"]: x for x in rest.get(f"{c}/topics/{topic_name}/configs").json()["data"]}
    assert by_name["retention.ms"]["value"] == "60000"
    assert by_name["segment.ms"]["value"] == "3600000"
    assert by_name["cleanup.policy"]["is_default"] is True
    # What kafka-configs shows agrees.
    res = rest.srv.cli("kafka-configs", "--describe", "--entity-type", "topics",
                       "--entity-name", topic_name).check()
    assert "retention.ms=60000" in res.stdout and "segment.ms=3600000" in res.stdout
    assert rest.delete(f"{c}/topics/{topic_name}/configs/retention.ms").status_code == 204
    assert rest.get(f"{c}/topics/{topic_name}/configs/retention.ms").json()["is_default"]

    # Errors: an existing topic, bad bodies, a bad config, unknown things.
    error(rest.post(f"{c}/topics", json={"topic_name": topic_name}), 400, 40002)
    error(rest.post(f"{c}/topics", data="{not json", headers={
        "content-type": "application/json"}), 400, 40002)
    error(rest.post(f"{c}/topics", json={"partitions_count": 1}), 400, 40002)
    error(rest.put(f"{c}/topics/{topic_name}/configs/retention.ms",
                   json={"value": "soon"}), 400, 40002)
    error(rest.get(f"{c}/topics/{topic_name}/configs/no.such.config"), 404, 40403)
    error(rest.get(f"{c}/topics/{topic_name}-missing"), 404, 40403)
    error(rest.get(f"{c}/topics/{topic_name}-missing/configs"), 404, 40403)

    assert rest.delete(f"{c}/topics/{topic_name}").status_code == 204
    h.wait_until(lambda: rest.get(f"{c}/topics/{topic_name}").status_code == 404, T,
                 what="the deleted topic to be gone")
    error(rest.delete(f"{c}/topics/{topic_name}"), 404, 40403)


# -- links and mirrors ---------------------------------------------------------


def mirror_lags(rest, link, topic):
    r = rest.get(f"{rest.cluster}/links/{link}/mirrors/{topic}")
    assert r.status_code == 200, r.text
    return r.json()


def wait_lag_zero(rest, link, topic, want_offsets):
    def ok():
        m = mirror_lags(rest, link, topic)
        return (m["mirror_status"] == "ACTIVE"
                and [x["lag"] for x in m["mirror_lags"]] == [0] * len(want_offsets)
                and [x["last_source_fetch_offset"] for x in m["mirror_lags"]] == want_offsets)
    h.wait_until(ok, 30, interval=0.2, what=f"mirror {topic} to reach lag 0 over REST")


def test_the_reference_workflow_over_rest_alone(strait_factory, topic_name):
    src = strait_factory()
    rest = start_rest(strait_factory)
    c = rest.cluster
    t1, t2 = f"{topic_name}-1", f"{topic_name}-2"
    for t in (t1, t2):
        kh.create_topic(src.bootstrap, t, partitions=2)
        for p in (0, 1):
            kh.produce_all(src.bootstrap, t, [b"a", b"b", b"c"], partition=p)
    src_admin = kh.admin(src.bootstrap)
    source_id = src_admin.describe_cluster().result(timeout=T).cluster_id

    link_body = {"source_cluster_id": source_id, "configs": [
        {"name": "bootstrap.servers", "value": src.bootstrap},
        {"name": "metadata.max.age.ms", "value": "500"}]}
    r = rest.post(f"{c}/links", params={"link_name": "rest-link"}, json=link_body)
    assert r.status_code == 204, r.text
    error(rest.post(f"{c}/links", params={"link_name": "rest-link"}, json=link_body), 409, 40901)
    error(rest.post(f"{c}/links", json=link_body), 400, 40002)  # no link_name

    link = rest.get(f"{c}/links/rest-link", params={"include_tasks": "true"}).json()
    assert (link["kind"], link["link_name"], link["source_cluster_id"]) == (
        "KafkaLinkData", "rest-link", source_id)
    assert isinstance(link["tasks"], list) and link["link_state"] == "ACTIVE"
    assert [x["link_name"] for x in rest.get(f"{c}/links").json()["data"]] == ["rest-link"]
    # The same link kafka-cluster-links lists, with the same id.
    listed = rest.srv.cli("kafka-cluster-links", "--list").check().stdout
    assert f"Link name: 'rest-link', link ID: '{link['cluster_link_id']}'" in listed, listed
    assert len(link["link_id"]) == 36  # the deprecated dashed form

    # Link configs.
    assert rest.put(f"{c}/links/rest-link/configs/consumer.offset.sync.ms",
                    json={"value": "1500"}).status_code == 204
    cfg = rest.get(f"{c}/links/rest-link/configs/consumer.offset.sync.ms").json()
    assert (cfg["value"], cfg["source"]) == ("1500", "DYNAMIC_CLUSTER_LINK_CONFIG")
    assert rest.put(f"{c}/links/rest-link/configs:alter", json={"data": [
        {"name": "consumer.offset.sync.ms", "operation": "DELETE"}]}).status_code == 204
    cfg = rest.get(f"{c}/links/rest-link/configs/consumer.offset.sync.ms").json()
    assert cfg["default"] is True
    names = [x["name"] for x in rest.get(f"{c}/links/rest-link/configs").json()["data"]]
    assert "bootstrap.servers" in names

    # Mirrors, caught up, as the CLI describes them.
    for t in (t1, t2):
        r = rest.post(f"{c}/links/rest-link/mirrors", json={"source_topic_name": t})
        assert r.status_code == 204, r.text
    for t in (t1, t2):
        wait_lag_zero(rest, "rest-link", t, [3, 3])
    described = describe_mirrors(rest.srv, "--topics", t1)[t1]
    over_rest = mirror_lags(rest, "rest-link", t1)
    assert described[0]["state"] == over_rest["mirror_status"]
    assert [p["lag"] for p in described[1]] == [x["lag"] for x in over_rest["mirror_lags"]]
    assert [p["hw"] for p in described[1]] == [
        x["last_source_fetch_offset"] for x in over_rest["mirror_lags"]]
    assert over_rest["num_partitions"] == 2 and over_rest["source_topic_name"] == t1

    listed = rest.get(f"{c}/links/rest-link/mirrors").json()["data"]
    assert sorted(m["mirror_topic_name"] for m in listed) == [t1, t2]
    everywhere = rest.get(f"{c}/links/-/mirrors", params={"mirror_status": "ACTIVE"}).json()
    assert sorted(m["mirror_topic_name"] for m in everywhere["data"]) == [t1, t2]
    assert rest.get(f"{c}/links/-/mirrors", params={"mirror_status": "PAUSED"}).json()[
        "data"] == []
    error(rest.get(f"{c}/links/-/mirrors", params={"mirror_status": "SLEEPY"}), 400, 40002)

    # Pause and resume, validate_only first.
    r = rest.post(f"{c}/links/rest-link/mirrors:pause", params={"validate_only": "true"},
                  json={"mirror_topic_names": [t2]})
    assert r.status_code == 200 and r.json()["data"][0]["error_code"] is None, r.text
    assert mirror_lags(rest, "rest-link", t2)["mirror_status"] == "ACTIVE"
    r = rest.post(f"{c}/links/rest-link/mirrors:pause", json={"mirror_topic_names": [t2]})
    assert r.json()["data"][0]["error_code"] is None, r.text
    assert mirror_lags(rest, "rest-link", t2)["mirror_status"] == "PAUSED"
    assert describe_mirrors(rest.srv, "--topics", t2)[t2][0]["state"] == "PAUSED"
    r = rest.post(f"{c}/links/rest-link/mirrors:resume", json={"mirror_topic_names": [t2]})
    assert r.json()["data"][0]["error_code"] is None, r.text
    assert mirror_lags(rest, "rest-link", t2)["mirror_status"] == "ACTIVE"

    # Promote t1; a mixed request is HTTP 200 with per-item errors.
    r = rest.post(f"{c}/links/rest-link/mirrors:promote", json={"mirror_topic_names": [t1]})
    assert r.status_code == 200, r.text
    (item,) = r.json()["data"]
    assert (item["mirror_topic_name"], item["error_code"]) == (t1, None), item
    h.wait_until(lambda: mirror_lags(rest, "rest-link", t1)["mirror_status"] == "STOPPED", T,
                 what=f"{t1} to be STOPPED")
    kh.produce_all(f"127.0.0.1:{rest.srv.port}", t1, [b"written-after-promote"], partition=0)
    r = rest.post(f"{c}/links/rest-link/mirrors:promote",
                  json={"mirror_topic_names": [t1, f"{topic_name}-nope"]})
    assert r.status_code == 200, r.text
    errors = {i["mirror_topic_name"]: i["error_code"] for i in r.json()["data"]}
    assert errors[t1] == 400 and errors[f"{topic_name}-nope"] == 404, errors

    # The source dies; t2 is failed over.
    del src_admin
    src.kill9()
    r = rest.post(f"{c}/links/rest-link/mirrors:failover", json={"mirror_topic_names": [t2]})
    assert r.status_code == 200 and r.json()["data"][0]["error_code"] is None, r.text
    h.wait_until(lambda: mirror_lags(rest, "rest-link", t2)["mirror_status"] == "STOPPED", T,
                 what=f"{t2} to be STOPPED")
    assert describe_mirrors(rest.srv, "--topics", t2, "--include-stopped")[t2][0][
        "state"] == "STOPPED"

    # Unknown links.
    error(rest.get(f"{c}/links/nope"), 404, 40404)
    error(rest.get(f"{c}/links/nope/mirrors"), 404, 40404)
    error(rest.post(f"{c}/links/nope/mirrors:promote", json={"mirror_topic_names": [t1]}),
          404, 40404)
    error(rest.post(f"{c}/links/rest-link/mirrors:promote", json={}), 400, 40002)
    # Delete the link.
    assert rest.delete(f"{c}/links/rest-link", params={"validate_only": "true"}).status_code == 200
    assert rest.get(f"{c}/links/rest-link").status_code == 200
    assert rest.delete(f"{c}/links/rest-link").status_code == 200
    error(rest.get(f"{c}/links/rest-link"), 404, 40404)


# -- authentication and authorization -----------------------------------------


def secured_overrides(srv, sasl_port: int, http_listeners: str,
                      super_users: str = "User:admin") -> dict:
    """Overrides for a broker with a SASL_PLAINTEXT listener of the PLAIN
    `USERS`, the ACL authorizer, `super_users` and `http_listeners`."""
    listeners = f"PLAINTEXT://127.0.0.1:{srv.port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}"
    users = " ".join(f'user_{u}="{p}"' for u, p in USERS.items())
    return {
        "listeners": listeners,
        "advertised.listeners": listeners,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config":
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="admin" password="{USERS["admin"]}" {users};',
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": super_users,
        "confluent.http.server.listeners": http_listeners,
    }


def test_basic_auth_and_acls(strait_factory, tmp_path):
    sasl_port = h.free_port()
    http_port = h.free_port()
    srv = strait_factory(start=False)
    srv.overrides.update(secured_overrides(srv, sasl_port, f"http://127.0.0.1:{http_port}"))
    srv.start()
    rest = Rest(srv, http_port)
    c = rest.cluster
    admin_config = tmp_path / "admin.properties"
    admin_config.write_text(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="admin" password="{USERS["admin"]}";\n')

    def as_admin(tool, *args):
        return h.run_cli(tool, "--bootstrap-server", f"127.0.0.1:{sasl_port}",
                         "--command-config", str(admin_config), *args).check()

    link_body = {"configs": [{"name": "bootstrap.servers", "value": "127.0.0.1:1"}]}

    error(rest.get(f"{c}/topics", auth=("alice", "wrong")), 401, 40101)
    error(rest.get(f"{c}/topics", auth=("nobody", "x")), 401, 40101)
    # alice may not ALTER the cluster: no link for her.
    error(rest.post(f"{c}/links", auth=("alice", USERS["alice"]),
                    params={"link_name": "l", "validate_link": "false"}, json=link_body),
          403, 40301)
    error(rest.post(f"{c}/topics", auth=("alice", USERS["alice"]),
                    json={"topic_name": "alice-topic"}), 403, 40301)
    # The super user may; validate_only changes nothing.
    r = rest.post(f"{c}/links", auth=("admin", USERS["admin"]), json=link_body,
                  params={"link_name": "l", "validate_link": "false", "validate_only": "true"})
    assert r.status_code == 204, r.text
    assert rest.get(f"{c}/links", auth=("admin", USERS["admin"])).json()["data"] == []

    # Topics are shown as the authorizer allows, as on the Kafka port.
    assert rest.post(f"{c}/topics", auth=("admin", USERS["admin"]),
                     json={"topic_name": "visible"}).status_code == 201
    assert rest.post(f"{c}/topics", auth=("admin", USERS["admin"]),
                     json={"topic_name": "hidden"}).status_code == 201
    as_admin("kafka-acls", "--add", "--allow-principal", "User:alice", "--operation", "Describe",
             "--topic", "visible")
    seen = [t["topic_name"] for t in rest.get(f"{c}/topics", auth=("alice", USERS["alice"]))
            .json()["data"]]
    assert seen == ["visible"], seen
    error(rest.get(f"{c}/topics/hidden", auth=("alice", USERS["alice"])), 403, 40301)
    # No credentials: User:ANONYMOUS, who sees nothing here.
    assert rest.get(f"{c}/topics").json()["data"] == []

    # A SCRAM user signs in with its password.
    res = as_admin("kafka-configs", "--alter", "--add-config",
                   "SCRAM-SHA-512=[password=carol-secret]", "--entity-type", "users",
                   "--entity-name", "carol")
    assert "carol-secret" not in res.stdout
    assert rest.get(f"{c}/topics", auth=("carol", "carol-secret")).status_code == 200
    error(rest.get(f"{c}/topics", auth=("carol", "carol-wrong")), 401, 40101)


# -- the OpenAPI document --------------------------------------------------------


def test_openapi_document_lists_what_is_served(rest):
    doc = requests.get(f"{rest.base}/openapi.json", timeout=T).json()
    paths = doc["paths"]
    for p in ("/clusters", "/clusters/{cluster_id}/topics",
              "/clusters/{cluster_id}/links/{link_name}/mirrors:promote",
              "/clusters/{cluster_id}/links/{link_name}/configs:alter",
              "/clusters/{cluster_id}/consumer-groups/{consumer_group_id}/lag-summary",
              "/clusters/{cluster_id}/acls:batch"):
        assert p in paths, sorted(paths)
    states = doc["components"]["schemas"]["MirrorTopicStatus"]["enum"]
    assert set(states) >= {"ACTIVE", "PAUSED", "STOPPED", "PENDING_STOPPED", "FAILED",
                           "SOURCE_UNAVAILABLE", "LINK_FAILED", "LINK_PAUSED",
                           "PENDING_MIRROR", "PENDING_SYNCHRONIZE",
                           "PENDING_SETUP_FOR_RESTORE", "PENDING_RESTORE"}


def test_schemathesis_finds_no_server_error(rest, tmp_path):
    pytest.importorskip("schemathesis")
    examples = os.environ.get("STRAIT_SCHEMATHESIS_EXAMPLES", "8")
    # The cluster id is given, so that generated calls reach the handlers
    # instead of stopping at an unknown cluster.
    (tmp_path / "schemathesis.toml").write_text(
        f'[parameters]\n"path.cluster_id" = "{rest.cluster_id}"\n')
    cmd = [sys.executable, "-m", "schemathesis.cli", "run", f"{rest.base}/openapi.json",
           "--url", rest.base,
           "--checks", "not_a_server_error,response_schema_conformance",
           "--max-examples", examples, "--request-timeout", "10",
           "--phases", "examples,coverage,fuzzing", "--no-color"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    rest.srv.check_alive()
