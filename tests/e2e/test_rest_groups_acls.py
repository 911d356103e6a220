"""Kafka REST v3 consumer groups and ACLs (issue 11), spoken with Python
`requests`: a real classic group with committed offsets and known lag is
listed and described (consumers, assignments, lags, lag summary) and its
lags compared with what `kafka-consumer-groups --describe` prints; a
simple (offsets-only) group and a KIP-848 group are described too; an
unknown group is a 404. ACLs are created, searched and deleted over REST
on a broker with an authorizer (super user `admin`, PLAIN user `alice`),
checked against `kafka-acls --list`, refused (403) to a user without
permission on the cluster, and groups a caller may not describe stay
hidden. Bad enums: 400 in a body, 404 in a query, as Confluent answers;
without an authorizer the ACL calls are a 400 (SECURITY_DISABLED).

Every wait is bounded."""

from __future__ import annotations

from urllib.parse import quote

import pytest

requests = pytest.importorskip("requests")
pytest.importorskip("confluent_kafka")

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

import kafka_helpers as kh  # noqa: E402
import strait_harness as h  # noqa: E402
from test_groups import parse_table  # noqa: E402
from test_rest_v3 import USERS, Rest, error, secured_overrides, start_rest  # noqa: E402

pytestmark = pytest.mark.groups

T = 30.0


def group_consumer(bootstrap, group, **conf):
    base = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 500,
        "log_level": 3,
    }
    base.update(conf)
    return Consumer(base)


def commit_only(bootstrap, group, offsets, **conf):
    """Commits `offsets` [(topic, partition, offset)] for `group` without
    joining it: a simple group."""
    c = group_consumer(bootstrap, group, **conf)
    try:
        c.commit(offsets=[TopicPartition(t, p, o) for t, p, o in offsets], asynchronous=False)
    finally:
        c.close()


def assigned(c) -> list[int]:
    return sorted(tp.partition for tp in c.assignment())


# -- consumer groups -------------------------------------------------------------


def test_groups_consumers_assignments_and_lags(strait_factory, topic_name):
    rest = start_rest(strait_factory)
    srv = rest.srv
    c = rest.cluster
    kh.create_topic(srv.bootstrap, topic_name, partitions=3)
    for p, n in ((0, 10), (1, 20), (2, 5)):
        kh.produce_all(srv.bootstrap, topic_name, [f"p{p}-{i}".encode() for i in range(n)],
                       partition=p)
    group = f"rest-group-{topic_name}"
    member = group_consumer(srv.bootstrap, group, **{"client.id": "rest-client"})
    try:
        member.subscribe([topic_name])
        kh.poll_until([member], lambda _: assigned(member) == [0, 1, 2], T,
                      "the member to hold all three partitions")
        member.commit(offsets=[TopicPartition(topic_name, 0, 4), TopicPartition(topic_name, 1, 15),
                               TopicPartition(topic_name, 2, 5)], asynchronous=False)

        listed = rest.get(f"{c}/consumer-groups")
        assert listed.status_code == 200, listed.text
        body = listed.json()
        assert body["kind"] == "KafkaConsumerGroupList"
        assert body["metadata"]["self"] == f"{rest.base}{c}/consumer-groups"
        (g,) = [x for x in body["data"] if x["consumer_group_id"] == group]
        assert g == rest.get(f"{c}/consumer-groups/{group}").json()
        assert g["kind"] == "KafkaConsumerGroup"
        assert g["metadata"] == {"self": f"{rest.base}{c}/consumer-groups/{group}",
                                 "resource_name": f"crn:///kafka={rest.cluster_id}"
                                                  f"/consumer-group={group}"}
        assert (g["state"], g["type"], g["is_simple"], g["is_mixed_consumer_group"]) == \
            ("STABLE", "CLASSIC", False, False)
        assert g["partition_assignor"] == "range", g
        assert g["coordinator"]["related"] == f"{rest.base}{c}/brokers/1"
        assert g["consumers"]["related"] == f"{rest.base}{c}/consumer-groups/{group}/consumers"
        assert g["lag_summary"]["related"].endswith(f"/consumer-groups/{group}/lag-summary")

        consumers = rest.get(f"{c}/consumer-groups/{group}/consumers").json()
        assert consumers["kind"] == "KafkaConsumerList"
        (cons,) = consumers["data"]
        cid = cons["consumer_id"]
        assert cid.startswith("rest-client-"), cons
        assert (cons["kind"], cons["client_id"], cons["instance_id"]) == \
            ("KafkaConsumer", "rest-client", None)
        assert cons == rest.get(f"{c}/consumer-groups/{group}/consumers/{cid}").json()
        error(rest.get(f"{c}/consumer-groups/{group}/consumers/nobody"), 404, 404)

        assignments = rest.get(cons["assignments"]["related"][len(rest.base):]).json()
        assert assignments["kind"] == "KafkaConsumerAssignmentList"
        assert [(a["topic_name"], a["partition_id"]) for a in assignments["data"]] == \
            [(topic_name, 0), (topic_name, 1), (topic_name, 2)]
        one = rest.get(f"{c}/consumer-groups/{group}/consumers/{cid}/assignments/"
                       f"{topic_name}/partitions/1").json()
        assert one == assignments["data"][1]
        assert one["kind"] == "KafkaConsumerAssignment"
        assert one["partition"]["related"] == f"{rest.base}{c}/topics/{topic_name}/partitions/1"
        assert one["lag"]["related"] == \
            f"{rest.base}{c}/consumer-groups/{group}/lags/{topic_name}/partitions/1"
        error(rest.get(f"{c}/consumer-groups/{group}/consumers/{cid}/assignments/"
                       f"{topic_name}/partitions/7"), 404, 404)
        error(rest.get(f"{c}/consumer-groups/{group}/consumers/nobody/assignments"), 404, 404)

        # Lags as kafka-consumer-groups --describe shows them.
        res = srv.cli("kafka-consumer-groups", "--describe", "--group", group).check()
        _, rows = parse_table(res.stdout)
        described = {int(r["PARTITION"]): r for r in rows}
        lags = rest.get(f"{c}/consumer-groups/{group}/lags").json()
        assert lags["kind"] == "KafkaConsumerLagList"
        # The most lagging first.
        assert [(x["partition_id"], x["lag"]) for x in lags["data"]] == [(0, 6), (1, 5), (2, 0)]
        for x in lags["data"]:
            row = described[x["partition_id"]]
            assert (str(x["current_offset"]), str(x["log_end_offset"]), str(x["lag"])) == \
                (row["CURRENT-OFFSET"], row["LOG-END-OFFSET"], row["LAG"]), (x, row)
            assert (x["consumer_id"], x["client_id"]) == (row["CONSUMER-ID"], row["CLIENT-ID"])
            assert x["kind"] == "KafkaConsumerLag" and x["topic_name"] == topic_name
        p1 = rest.get(f"{c}/consumer-groups/{group}/lags/{topic_name}/partitions/1").json()
        assert p1 == lags["data"][1]
        error(rest.get(f"{c}/consumer-groups/{group}/lags/{topic_name}/partitions/9"), 404, 404)
        error(rest.get(f"{c}/consumer-groups/{group}/lags/{topic_name}/partitions/x"), 400, 40002)

        summary = rest.get(f"{c}/consumer-groups/{group}/lag-summary").json()
        assert summary["kind"] == "KafkaConsumerGroupLagSummary"
        assert (summary["max_lag"], summary["total_lag"]) == (6, 11)
        assert (summary["max_lag_topic_name"], summary["max_lag_partition_id"]) == (topic_name, 0)
        assert (summary["max_lag_consumer_id"], summary["max_lag_client_id"],
                summary["max_lag_instance_id"]) == (cid, "rest-client", None)
        assert summary["max_lag_consumer"]["related"] == \
            f"{rest.base}{c}/consumer-groups/{group}/consumers/{cid}"
        assert summary["max_lag_partition"]["related"] == \
            f"{rest.base}{c}/topics/{topic_name}/partitions/0"
        assert summary["metadata"]["resource_name"] == \
            f"crn:///kafka={rest.cluster_id}/consumer-group={group}/lag-summary"
    finally:
        member.close()

    # The member has left: the group is empty, its offsets and lags stay.
    h.wait_until(lambda: rest.get(f"{c}/consumer-groups/{group}").json()["state"] == "EMPTY",
                 T, what="the group to be empty")
    assert rest.get(f"{c}/consumer-groups/{group}/consumers").json()["data"] == []
    lags = rest.get(f"{c}/consumer-groups/{group}/lags").json()["data"]
    assert [(x["lag"], x["consumer_id"], x["client_id"]) for x in lags] == \
        [(6, "", ""), (5, "", ""), (0, "", "")]

    # A group that only committed offsets is simple.
    simple = f"rest-simple-{topic_name}"
    commit_only(srv.bootstrap, simple, [(topic_name, 1, 12)])
    g = rest.get(f"{c}/consumer-groups/{simple}").json()
    assert (g["is_simple"], g["state"], g["partition_assignor"]) == (True, "EMPTY", ""), g
    summary = rest.get(f"{c}/consumer-groups/{simple}/lag-summary").json()
    assert (summary["max_lag"], summary["total_lag"], summary["max_lag_consumer_id"]) == \
        (8, 8, "")

    # Unknown groups, as Confluent answers them.
    assert error(rest.get(f"{c}/consumer-groups/ghost"), 404, 404) == "HTTP 404 Not Found"
    assert "ghost" in error(rest.get(f"{c}/consumer-groups/ghost/consumers"), 404, 404)
    assert "ghost" in error(rest.get(f"{c}/consumer-groups/ghost/lags"), 404, 404)
    assert "ghost" in error(rest.get(f"{c}/consumer-groups/ghost/lag-summary"), 404, 404)
    error(rest.get("/clusters/not-this-one/consumer-groups"), 404, 404)

    # Without an authorizer the ACL calls are refused as Confluent refuses them.
    error(rest.get(f"{c}/acls"), 400, 40002)
    error(rest.post(f"{c}/acls", json={
        "resource_type": "TOPIC", "resource_name": topic_name, "pattern_type": "LITERAL",
        "principal": "User:alice", "host": "*", "operation": "READ", "permission": "ALLOW"}),
        400, 40002)
    srv.check_alive()


def test_a_kip848_group_over_rest(strait_factory, topic_name):
    rest = start_rest(strait_factory, {"group.consumer.heartbeat.interval.ms": "500"})
    srv = rest.srv
    c = rest.cluster
    kh.create_topic(srv.bootstrap, topic_name, partitions=2)
    kh.produce_all(srv.bootstrap, topic_name, [b"x"] * 6, partition=0)
    # A group id that must be escaped in a URL, as librdkafka's member ids
    # (standard base64) sometimes must be: both come back whole via `related`.
    group = f"rest modern/+{topic_name}"
    g_path = f"{c}/consumer-groups/{quote(group, safe='')}"
    member = Consumer({"bootstrap.servers": srv.bootstrap, "group.id": group,
                       "group.protocol": "consumer", "client.id": "modern-client",
                       "auto.offset.reset": "earliest", "enable.auto.commit": False,
                       "log_level": 3})
    try:
        member.subscribe([topic_name])
        kh.poll_until([member], lambda _: assigned(member) == [0, 1], T,
                      "the member to hold both partitions")
        member.commit(offsets=[TopicPartition(topic_name, 0, 2)], asynchronous=False)
        g = rest.get(g_path).json()
        assert g["metadata"]["self"] == rest.base + g_path, g
        assert (g["type"], g["is_simple"], g["is_mixed_consumer_group"]) == \
            ("CONSUMER", False, False), g
        assert g["state"] in ("STABLE", "RECONCILING", "ASSIGNING"), g
        assert g["partition_assignor"], g
        assert group in [x["consumer_group_id"]
                         for x in rest.get(f"{c}/consumer-groups").json()["data"]]
        (cons,) = rest.get(f"{g_path}/consumers").json()["data"]
        assert cons["client_id"] == "modern-client"
        held = rest.get(cons["assignments"]["related"][len(rest.base):]).json()["data"]
        assert [a["partition_id"] for a in held] == [0, 1]
        (lag,) = rest.get(f"{g_path}/lags").json()["data"]
        assert (lag["partition_id"], lag["current_offset"], lag["log_end_offset"], lag["lag"],
                lag["consumer_id"]) == (0, 2, 6, 4, cons["consumer_id"])
    finally:
        member.close()


# -- ACLs -------------------------------------------------------------------------


def secured_rest(strait_factory, tmp_path):
    """A broker with an authorizer, SASL PLAIN users and an HTTP listener;
    returns (rest, sasl bootstrap, admin --command-config path)."""
    sasl_port = h.free_port()
    http_port = h.free_port()
    srv = strait_factory(start=False)
    srv.overrides.update(secured_overrides(srv, sasl_port, f"http://127.0.0.1:{http_port}"))
    srv.start()
    config = tmp_path / "admin.properties"
    config.write_text(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="admin" password="{USERS["admin"]}";\n')
    return Rest(srv, http_port), f"127.0.0.1:{sasl_port}", str(config)


def sasl(user: str) -> dict:
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
            "sasl.username": user, "sasl.password": USERS[user]}


def acl(resource_type, name, pattern, operation, permission, principal="User:alice",
        host="*") -> dict:
    return {"resource_type": resource_type, "resource_name": name, "pattern_type": pattern,
            "principal": principal, "host": host, "operation": operation,
            "permission": permission}


def test_acls_round_trip_and_permissions(strait_factory, tmp_path, topic_name):
    rest, bootstrap, admin_config = secured_rest(strait_factory, tmp_path)
    c = rest.cluster
    admin = ("admin", USERS["admin"])
    alice = ("alice", USERS["alice"])

    def kafka_acls(*args):
        return h.run_cli("kafka-acls", "--bootstrap-server", bootstrap,
                         "--command-config", admin_config, *args).check()

    # Create one, then two at once.
    first = acl("TOPIC", topic_name, "LITERAL", "READ", "ALLOW")
    r = rest.post(f"{c}/acls", auth=admin, json=first)
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == (
        f"{rest.base}{c}/acls?resource_type=TOPIC&resource_name={topic_name}"
        "&pattern_type=LITERAL&principal=User%3Aalice&host=*&operation=READ&permission=ALLOW")
    batch = [acl("GROUP", "rest-", "PREFIXED", "DESCRIBE", "ALLOW"),
             acl("TOPIC", topic_name, "LITERAL", "WRITE", "DENY")]
    r = rest.post(f"{c}/acls:batch", auth=admin, json={"data": batch})
    assert r.status_code == 204, r.text

    listed = rest.get(f"{c}/acls", auth=admin, params={"principal": "User:alice"})
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["kind"] == "KafkaAclList"
    assert body["metadata"]["self"] == (
        f"{rest.base}{c}/acls?resource_type=ANY&resource_name=&pattern_type=ANY"
        "&principal=User%3Aalice&host=&operation=ANY&permission=ANY")
    fields = [{k: v for k, v in a.items() if k not in ("kind", "metadata", "cluster_id")}
              for a in body["data"]]
    # Confluent's order: resource type, name, pattern, principal, host, operation, permission.
    assert fields == [first, batch[1], batch[0]], fields
    for a in body["data"]:
        assert a["kind"] == "KafkaAcl" and a["cluster_id"] == rest.cluster_id
        assert set(a["metadata"]) == {"self"}
    # kafka-acls sees the same ACLs.
    out = kafka_acls("--list", "--principal", "User:alice").stdout
    for a in [first, *batch]:
        assert (f"(principal=User:alice, host=*, operation={a['operation']}, "
                f"permissionType={a['permission']})") in out, out
    # Enum names in a query ignore case; MATCH finds the literal ACLs of a topic.
    matched = rest.get(f"{c}/acls", auth=admin, params={
        "resource_type": "topic", "resource_name": topic_name, "pattern_type": "match"}).json()
    assert sorted(a["operation"] for a in matched["data"]) == ["READ", "WRITE"]

    # alice may not describe or alter the cluster's ACLs.
    error(rest.get(f"{c}/acls", auth=alice), 403, 40301)
    error(rest.post(f"{c}/acls", auth=alice,
                    json=acl("TOPIC", "mine", "LITERAL", "ALL", "ALLOW")), 403, 40301)
    error(rest.delete(f"{c}/acls", auth=alice, params={
        "resource_type": "ANY", "pattern_type": "ANY", "operation": "ANY",
        "permission": "ANY"}), 403, 40301)
    error(rest.get(f"{c}/acls"), 403, 40301)

    # Bad input, as Confluent answers it.
    error(rest.post(f"{c}/acls", auth=admin, json={**first, "resource_type": "TEAPOT"}), 400,
          40002)
    error(rest.post(f"{c}/acls", auth=admin, json={**first, "operation": "read"}), 400, 40002)
    assert error(rest.post(f"{c}/acls", auth=admin, json={**first, "pattern_type": "MATCH"}),
                 400, 400) == "pattern_type cannot be MATCH"
    assert error(rest.post(f"{c}/acls:batch", auth=admin,
                           json={"data": [first, {**first, "permission": "ANY"}]}),
                 400, 400) == "permission cannot be ANY"
    assert error(rest.get(f"{c}/acls", auth=admin, params={"resource_type": "teapot"}),
                 404, 404) == "The valid values for ResourceType do not include 'teapot'"
    assert error(rest.get(f"{c}/acls", auth=admin, params={"operation": "UNKNOWN"}),
                 400, 400) == "operation cannot be UNKNOWN"
    # An empty delete never deletes everything.
    assert error(rest.delete(f"{c}/acls", auth=admin), 400, 400) == \
        "resource_type cannot be unspecified or UNKNOWN"
    assert len(rest.get(f"{c}/acls", auth=admin).json()["data"]) == 3

    # Groups alice may not describe are not there for her.
    a = AdminClient({"bootstrap.servers": bootstrap, **kh.COMMON, **sasl("admin")})
    kh.create_topic(a, topic_name)
    commit_only(bootstrap, "rest-visible", [(topic_name, 0, 1)], **sasl("admin"))
    commit_only(bootstrap, "hidden-group", [(topic_name, 0, 1)], **sasl("admin"))
    seen = sorted(g["consumer_group_id"]
                  for g in rest.get(f"{c}/consumer-groups", auth=admin).json()["data"])
    assert seen == ["hidden-group", "rest-visible"], seen
    seen = [g["consumer_group_id"]
            for g in rest.get(f"{c}/consumer-groups", auth=alice).json()["data"]]
    assert seen == ["rest-visible"], seen
    error(rest.get(f"{c}/consumer-groups/hidden-group", auth=alice), 404, 404)
    error(rest.get(f"{c}/consumer-groups/hidden-group/lags", auth=alice), 404, 404)
    # alice may read the topic, so she sees the visible group's lag.
    (lag,) = rest.get(f"{c}/consumer-groups/rest-visible/lags", auth=alice).json()["data"]
    assert (lag["topic_name"], lag["current_offset"]) == (topic_name, 1)

    # Delete the topic's ACLs of alice: the deleted ones come back.
    r = rest.delete(f"{c}/acls", auth=admin, params={
        "resource_type": "TOPIC", "pattern_type": "LITERAL", "principal": "User:alice",
        "operation": "any", "permission": "ANY"})
    assert r.status_code == 200, r.text
    deleted = r.json()
    assert set(deleted) == {"data"}
    assert [(x["operation"], x["permission"]) for x in deleted["data"]] == \
        [("READ", "ALLOW"), ("WRITE", "DENY")]
    left = rest.get(f"{c}/acls", auth=admin).json()["data"]
    assert [(x["resource_type"], x["resource_name"]) for x in left] == [("GROUP", "rest-")]
    assert "operation=READ" not in kafka_acls("--list", "--topic", topic_name).stdout
    rest.srv.check_alive()
