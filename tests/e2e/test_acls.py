"""ACL authorization: a broker with `authorizer.class.name` set enforces
Kafka's ACL semantics over SASL_PLAINTEXT (PLAIN users `admin`, a super
user, and `alice`), ACLs are managed with `kafka-acls` (Kafka's flags and
output texts) and with librdkafka's admin API, DENY wins over ALLOW,
removing an ACL restores the default, unauthorized topics are hidden from
metadata, and a user without ALTER on the cluster gets `Cluster
authorization failed.` from `kafka-cluster-links --create`.

A PLAINTEXT broker with `allow.everyone.if.no.acl.found=true` checks the
same rules for `User:ANONYMOUS`; a broker without an authorizer answers the
ACL APIs with SECURITY_DISABLED and allows everything.  Every wait is
bounded."""

from __future__ import annotations

import re
import time

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")

from confluent_kafka import KafkaError  # noqa: E402
from confluent_kafka.admin import (  # noqa: E402
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient,
    ResourcePatternType, ResourceType)

import kafka_helpers as kh  # noqa: E402
import kafka_wire as kw  # noqa: E402
import strait_harness as h  # noqa: E402

AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
USERS = {"admin": "admin-acl-secret", "alice": "alice-acl-secret", "bob": "bob-acl-secret"}
T = 20  # seconds: bound for client operations

TOPIC_AUTHORIZATION_FAILED = 29
GROUP_AUTHORIZATION_FAILED = 30


def plain_jaas(user: str) -> str:
    return ("org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{user}" password="{USERS[user]}";')


def server_jaas() -> str:
    opts = " ".join(f'user_{u}="{p}"' for u, p in USERS.items())
    return ("org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="admin" password="{USERS["admin"]}" {opts};')


class AclBroker:
    """A broker with PLAINTEXT (harness checks) and SASL_PLAINTEXT listeners."""

    def __init__(self, srv, sasl_port: int, workdir):
        self.srv = srv
        self.sasl = f"127.0.0.1:{sasl_port}"
        self.workdir = workdir

    def conf(self, user: str) -> dict:
        """librdkafka settings for `user`."""
        return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                "sasl.username": user, "sasl.password": USERS[user]}

    def command_config(self, user: str) -> str:
        """A --command-config file for `user`."""
        path = self.workdir / f"{user}.properties"
        if not path.exists():
            path.write_text("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
                            f"sasl.jaas.config={plain_jaas(user)}\n")
        return str(path)

    def acls(self, user: str, *args, input: str | None = None) -> h.CliResult:
        return h.run_cli("kafka-acls", "--bootstrap-server", self.sasl,
                         "--command-config", self.command_config(user), *args, input=input)

    def admin(self, user: str) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.sasl, **kh.COMMON, **self.conf(user)})


@pytest.fixture
def acl_broker(strait_factory, tmp_path) -> AclBroker:
    srv = strait_factory(start=False)
    sasl_port = h.free_port()
    listeners = f"PLAINTEXT://127.0.0.1:{srv.port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}"
    srv.overrides.update({
        "listeners": listeners,
        "advertised.listeners": listeners,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": server_jaas(),
        "authorizer.class.name": AUTHORIZER,
        "super.users": "User:admin",
    })
    srv.start()
    b = AclBroker(srv, sasl_port, tmp_path)
    yield b
    srv.check_alive()


def create_topics(b: AclBroker, *names: str):
    a = b.admin("admin")
    for name in names:
        kh.create_topic(a, name)


def produce_error(bootstrap: str, topic: str, conf: dict, timeout: float = T):
    """Produce one record; None on success, else the delivery error code."""
    p = kh.producer(bootstrap, **conf, **{"message.timeout.ms": int(timeout * 1000)})
    out = []
    p.produce(topic, value=b"v", on_delivery=lambda err, msg: out.append(err))
    p.flush(timeout + 5)
    assert out, f"no delivery report for {topic} within {timeout}s"
    return None if out[0] is None else out[0].code()


def wait_produce(b: AclBroker, topic: str, user: str, expected, timeout: float = T):
    """Poll until producing as `user` gives `expected` (None = success)."""
    last = []

    def attempt():
        last.append(produce_error(b.sasl, topic, b.conf(user), timeout=5))
        return last[-1] == expected
    try:
        h.wait_until(attempt, timeout=timeout, what=f"produce to {topic} as {user} -> {expected}")
    except AssertionError:
        raise AssertionError(f"produce to {topic} as {user}: {last[-3:]}, wanted {expected}")


def block(verb: str, resource: str, *entries: str) -> str:
    """Kafka's AclCommand text for one resource."""
    lines = "\n".join(f"\t{e}" for e in entries)
    return f"{verb} ACLs for resource `{resource}`: \n {lines} \n\n"


def topic_pattern(name: str, pattern: str = "LITERAL") -> str:
    return f"ResourcePattern(resourceType=TOPIC, name={name}, patternType={pattern})"


def entry(principal: str, op: str, permission: str = "ALLOW", host: str = "*") -> str:
    return f"(principal={principal}, host={host}, operation={op}, permissionType={permission})"


def one_line_error(res: h.CliResult, text: str):
    assert res.rc == 1, f"expected failure:\n{res}"
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert lines == [text], f"expected exactly {text!r} on stderr:\n{res}"


# ---------------------------------------------------------------------------
# kafka-acls
# ---------------------------------------------------------------------------

def first_value_or_error(b, group: str, topics, **conf):
    """Subscribes as alice in `group` and returns the first record's value,
    or the error code of the first error the consumer reports."""
    c = kh.consumer(b.sasl, **b.conf("alice"), **{"group.id": group,
                                                   "enable.partition.eof": False, **conf})
    try:
        c.subscribe(topics)
        deadline = time.monotonic() + T
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                return m.error().code()
            return m.value()
        raise AssertionError(f"nothing consumed with group {group} in {T}s")
    finally:
        c.close()


def test_kafka_acls_add_list_remove_round_trip(acl_broker):
    b = acl_broker
    res = b.acls("admin", "--add", "--allow-principal", "User:alice", "--operation", "Read",
                 "--topic", "orders").check()
    assert res.stdout == block("Adding", topic_pattern("orders"), entry("User:alice", "READ"))

    res = b.acls("admin", "--list", "--topic", "orders").check()
    assert res.stdout == block("Current", topic_pattern("orders"), entry("User:alice", "READ"))

    # Prefixed patterns, several operations and a deny with a host.
    b.acls("admin", "--add", "--allow-principal", "User:bob", "--operation", "Write",
           "--operation", "Describe", "--topic", "app-", "--resource-pattern-type",
           "prefixed").check()
    b.acls("admin", "--add", "--deny-principal", "User:bob", "--deny-host", "10.1.2.3",
           "--operation", "Write", "--topic", "app-", "--resource-pattern-type",
           "PREFIXED").check()
    res = b.acls("admin", "--list", "--topic", "app-", "--resource-pattern-type",
                 "prefixed").check()
    assert res.stdout.startswith(f"Current ACLs for resource `{topic_pattern('app-', 'PREFIXED')}`: \n")
    for e in [entry("User:bob", "WRITE"), entry("User:bob", "DESCRIBE"),
              entry("User:bob", "WRITE", "DENY", "10.1.2.3")]:
        assert f"\t{e}" in res.stdout, res
    # --resource-pattern-type match lists every ACL that applies to a name.
    res = b.acls("admin", "--list", "--topic", "app-orders", "--resource-pattern-type",
                 "match").check()
    assert "name=app-, patternType=PREFIXED" in res.stdout, res
    assert "name=orders" not in res.stdout, res
    # Listing everything, and by principal.
    res = b.acls("admin", "--list").check()
    assert res.stdout.count("Current ACLs for resource") == 2, res
    res = b.acls("admin", "--list", "--principal", "User:alice").check()
    assert res.stdout == ("ACLs for principal `User:alice`\n" +
                          block("Current", topic_pattern("orders"), entry("User:alice", "READ")))

    # --remove asks first; anything but y keeps the ACLs.
    res = b.acls("admin", "--remove", "--allow-principal", "User:alice", "--operation", "Read",
                 "--topic", "orders", input="n\n").check()
    assert res.stdout == (
        "Are you sure you want to remove ACLs: \n "
        f"\t{entry('User:alice', 'READ')} \n"
        f" from resource filter `{topic_pattern('orders')}`? (y/n)\n")
    assert "User:alice" in b.acls("admin", "--list", "--topic", "orders").check().stdout
    b.acls("admin", "--remove", "--allow-principal", "User:alice", "--operation", "Read",
           "--topic", "orders", input="y\n").check()
    assert b.acls("admin", "--list", "--topic", "orders").check().stdout == ""

    # Without entries, --remove deletes every ACL of the resource (--force: no prompt).
    res = b.acls("admin", "--remove", "--topic", "app-", "--resource-pattern-type", "prefixed",
                 "--force").check()
    assert res.stdout == ""
    assert b.acls("admin", "--list").check().stdout == ""


def test_kafka_acls_producer_and_consumer_conveniences(acl_broker):
    b = acl_broker
    res = b.acls("admin", "--add", "--allow-principal", "User:alice", "--producer",
                 "--idempotent", "--topic", "t1", "--transactional-id", "tx").check()
    assert block("Adding", topic_pattern("t1"), entry("User:alice", "WRITE"),
                 entry("User:alice", "DESCRIBE"), entry("User:alice", "CREATE")) in res.stdout, res
    assert ("Adding ACLs for resource `ResourcePattern(resourceType=TRANSACTIONAL_ID, name=tx, "
            "patternType=LITERAL)`") in res.stdout, res
    assert ("Adding ACLs for resource `ResourcePattern(resourceType=CLUSTER, name=kafka-cluster, "
            "patternType=LITERAL)`: \n \t" + entry("User:alice", "IDEMPOTENT_WRITE")) in res.stdout
    b.acls("admin", "--add", "--allow-principal", "User:alice", "--consumer", "--topic", "t1",
           "--group", "g1").check()
    listed = b.acls("admin", "--list").check().stdout
    for needle in ["name=t1", "name=g1", "name=tx", "name=kafka-cluster", "operation=READ",
                   "operation=IDEMPOTENT_WRITE"]:
        assert needle in listed, listed


def test_kafka_acls_argument_errors_are_one_line(acl_broker):
    b = acl_broker
    one_line_error(b.acls("admin", "--add", "--list"),
                   "Command must include exactly one action: --list, --add, --remove.")
    one_line_error(b.acls("admin", "--add", "--allow-principal", "User:alice"),
                   "You must provide at least one resource: --topic <topic> or --cluster or "
                   "--group <group> or --delegation-token <Delegation Token ID>")
    one_line_error(b.acls("admin", "--add", "--topic", "t", "--resource-pattern-type", "any",
                          "--allow-principal", "User:alice"),
                   "A '--resource-pattern-type' value of 'ANY' is not valid when adding acls.")
    one_line_error(b.acls("admin", "--add", "--topic", "t", "--operation", "Read"),
                   "You must specify one of: --allow-principal, --deny-principal when trying "
                   "to add ACLs.")
    one_line_error(b.acls("admin", "--add", "--topic", "t", "--allow-principal", "alice"),
                   "Error while executing ACL command: expected a string in format "
                   "principalType:principalName but got alice")


def test_acl_apis_need_cluster_permissions(acl_broker):
    b = acl_broker
    one_line_error(b.acls("alice", "--add", "--allow-principal", "User:alice", "--topic", "t"),
                   "Error while executing ACL command: Cluster authorization failed.")
    one_line_error(b.acls("alice", "--list"),
                   "Error while executing ACL command: Cluster authorization failed.")
    b.acls("admin", "--add", "--allow-principal", "User:alice", "--operation", "Describe",
           "--cluster").check()
    res = b.acls("alice", "--list").check()
    assert "resourceType=CLUSTER, name=kafka-cluster" in res.stdout, res
    one_line_error(b.acls("alice", "--remove", "--cluster", "--force"),
                   "Error while executing ACL command: Cluster authorization failed.")


def test_librdkafka_admin_acl_calls(acl_broker):
    """The ACL APIs as librdkafka speaks them, checked against kafka-acls."""
    b = acl_broker
    a = b.admin("admin")
    binding = AclBinding(ResourceType.GROUP, "rd-", ResourcePatternType.PREFIXED, "User:bob", "*",
                         AclOperation.READ, AclPermissionType.ALLOW)
    for f in a.create_acls([binding], request_timeout=T).values():
        assert f.result(timeout=T) is None
    listed = b.acls("admin", "--list", "--group", "rd-", "--resource-pattern-type",
                    "prefixed").check().stdout
    assert listed == block("Current",
                           "ResourcePattern(resourceType=GROUP, name=rd-, patternType=PREFIXED)",
                           entry("User:bob", "READ")), listed
    any_filter = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                                  AclOperation.ANY, AclPermissionType.ANY)
    found = a.describe_acls(any_filter, request_timeout=T).result(timeout=T)
    assert [(x.restype, x.name, x.principal, x.operation) for x in found] == [
        (ResourceType.GROUP, "rd-", "User:bob", AclOperation.READ)]
    deleted = a.delete_acls([any_filter], request_timeout=T)[any_filter].result(timeout=T)
    assert len(deleted) == 1
    assert b.acls("admin", "--list").check().stdout == ""
    # Refused as Kafka refuses it: the cluster resource has one name.
    bad = AclBinding(ResourceType.BROKER, "other", ResourcePatternType.LITERAL, "User:bob", "*",
                     AclOperation.ALTER, AclPermissionType.ALLOW)
    with pytest.raises(Exception) as e:
        for f in a.create_acls([bad], request_timeout=T).values():
            f.result(timeout=T)
    assert "kafka-cluster" in str(e.value)


# ---------------------------------------------------------------------------
# enforcement
# ---------------------------------------------------------------------------

def test_produce_write_acls_deny_wins_and_removal_restores(acl_broker):
    b = acl_broker
    create_topics(b, "allowed", "denied")
    assert produce_error(b.sasl, "allowed", b.conf("alice")) == TOPIC_AUTHORIZATION_FAILED
    b.acls("admin", "--add", "--allow-principal", "User:alice", "--operation", "Write",
           "--topic", "allowed").check()
    wait_produce(b, "allowed", "alice", None)
    assert produce_error(b.sasl, "denied", b.conf("alice")) == TOPIC_AUTHORIZATION_FAILED
    # An idempotent producer needs IDEMPOTENT_WRITE, implied by WRITE on a topic.
    assert produce_error(b.sasl, "allowed", {**b.conf("alice"), "enable.idempotence": True}) \
        is None

    # DENY wins over the literal ALLOW, even through a wildcard ALLOW and for User:*.
    b.acls("admin", "--add", "--allow-principal", "User:*", "--operation", "All",
           "--topic", "*").check()
    b.acls("admin", "--add", "--deny-principal", "User:alice", "--operation", "Write",
           "--topic", "allow", "--resource-pattern-type", "prefixed").check()
    wait_produce(b, "allowed", "alice", TOPIC_AUTHORIZATION_FAILED)
    wait_produce(b, "denied", "alice", None)  # the wildcard ALLOW
    wait_produce(b, "allowed", "bob", None)   # the DENY names alice only
    # The super user is never denied.
    wait_produce(b, "allowed", "admin", None)

    b.acls("admin", "--remove", "--deny-principal", "User:alice", "--operation", "Write",
           "--topic", "allow", "--resource-pattern-type", "prefixed", "--force").check()
    wait_produce(b, "allowed", "alice", None)
    b.acls("admin", "--remove", "--topic", "*", "--force").check()
    wait_produce(b, "denied", "alice", TOPIC_AUTHORIZATION_FAILED)
    wait_produce(b, "allowed", "alice", None)


def test_metadata_hides_topics_the_user_may_not_describe(acl_broker):
    b = acl_broker
    create_topics(b, "visible-1", "hidden-1")
    b.acls("admin", "--add", "--allow-principal", "User:alice", "--operation", "Read",
           "--topic", "visible-", "--resource-pattern-type", "prefixed").check()
    md = b.admin("alice").list_topics(timeout=T)
    assert "visible-1" in md.topics and "hidden-1" not in md.topics, sorted(md.topics)
    named = b.admin("alice").list_topics(topic="hidden-1", timeout=T)
    assert named.topics["hidden-1"].error.code() == TOPIC_AUTHORIZATION_FAILED
    assert set(b.admin("admin").list_topics(timeout=T).topics) >= {"visible-1", "hidden-1"}
    # Without CREATE, alice's metadata requests never create topics.
    named = b.admin("alice").list_topics(topic="visible-new", timeout=T)
    assert named.topics["visible-new"].error.code() in (TOPIC_AUTHORIZATION_FAILED, 3)
    assert "visible-new" not in b.admin("admin").list_topics(timeout=T).topics


def test_describe_topic_partitions_pages_only_over_what_the_user_may_see(acl_broker):
    """DescribeTopicPartitions (kafka-python 3): hidden topics are left out
    of "every topic" and never counted in a page or named by a cursor;
    named ones are refused with TOPIC_AUTHORIZATION_FAILED and no id."""
    kafka = pytest.importorskip("kafka")
    b = acl_broker
    create_topics(b, "dtp-a-seen", "dtp-b-hidden", "dtp-c-seen")
    b.acls("admin", "--add", "--allow-principal", "User:alice", "--operation", "Describe",
           "--topic", "dtp-a-seen").check()
    b.acls("admin", "--add", "--allow-principal", "User:alice", "--operation", "Read",
           "--topic", "dtp-c-seen").check()
    a = kafka.KafkaAdminClient(bootstrap_servers=b.sasl, security_protocol="SASL_PLAINTEXT",
                               sasl_mechanism="PLAIN", sasl_plain_username="alice",
                               sasl_plain_password=USERS["alice"], request_timeout_ms=20000)
    try:
        first = a.describe_topic_partitions([], response_partition_limit=1)
        assert [t["name"] for t in first["topics"]] == ["dtp-a-seen"]
        assert first["next_cursor"] == {"topic_name": "dtp-c-seen", "partition_index": 0}
        (t,) = first["topics"]
        describe, read = 1 << 8, 1 << 3
        assert t["topic_authorized_operations"] == describe
        second = a.describe_topic_partitions([], cursor=first["next_cursor"])
        assert [t["name"] for t in second["topics"]] == ["dtp-c-seen"]
        assert second["topics"][0]["topic_authorized_operations"] == describe | read
        assert second["next_cursor"] is None

        named = a.describe_topic_partitions(["dtp-b-hidden", "dtp-a-seen"])
        assert [(t["name"], t["error_code"]) for t in named["topics"]] == [
            ("dtp-a-seen", 0), ("dtp-b-hidden", TOPIC_AUTHORIZATION_FAILED)]
        assert named["topics"][1]["topic_id"] is None  # kafka-python reads the zero id as None
        only_hidden = a.describe_topic_partitions(["dtp-b-hidden"])
        assert [(t["name"], t["error_code"]) for t in only_hidden["topics"]] == [
            ("dtp-b-hidden", TOPIC_AUTHORIZATION_FAILED)]
    finally:
        a.close()


def test_consumer_needs_read_on_topic_and_group(acl_broker):
    b = acl_broker
    create_topics(b, "events")
    kh.produce_all(b.sasl, "events", [b"a", b"b"], **b.conf("admin"))
    b.acls("admin", "--add", "--allow-principal", "User:alice", "--operation", "Read",
           "--topic", "events").check()

    def consume(group: str):
        return first_value_or_error(b, group, ["events"])

    assert consume("g-denied") == KafkaError.GROUP_AUTHORIZATION_FAILED
    b.acls("admin", "--add", "--allow-principal", "User:alice", "--operation", "Read",
           "--group", "g-ok").check()
    assert consume("g-ok") == b"a"


def test_modern_consumer_needs_read_on_group_and_describe_on_topics(acl_broker):
    """group.protocol=consumer: ConsumerGroupHeartbeat needs READ on the
    group and DESCRIBE on every subscribed topic, as in Kafka."""
    b = acl_broker
    create_topics(b, "modern-events", "modern-secret")
    kh.produce_all(b.sasl, "modern-events", [b"a", b"b"], **b.conf("admin"))
    b.acls("admin", "--add", "--allow-principal", "User:alice", "--operation", "Read",
           "--topic", "modern-events").check()

    def consume(group: str, topics):
        return first_value_or_error(b, group, topics, **{"group.protocol": "consumer"})

    assert consume("mg-denied", ["modern-events"]) == KafkaError.GROUP_AUTHORIZATION_FAILED
    b.acls("admin", "--add", "--allow-principal", "User:alice", "--operation", "Read",
           "--group", "mg-ok").check()
    assert consume("mg-ok", ["modern-events", "modern-secret"]) == \
        KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert consume("mg-ok", ["modern-events"]) == b"a"

    # ConsumerGroupDescribe hides a group whose members hold topics the
    # caller may not describe.
    watched = kh.consumer(b.sasl, **b.conf("admin"), **{"group.id": "mg-watch",
                                                         "group.protocol": "consumer"})
    try:
        watched.subscribe(["modern-secret"])
        deadline = time.monotonic() + T
        while not watched.assignment():
            assert time.monotonic() < deadline, "admin's consumer got no assignment"
            watched.poll(0.2)
        b.acls("admin", "--add", "--allow-principal", "User:alice", "--operation", "Describe",
               "--group", "mg-watch").check()

        alice = b.admin("alice")

        def describe():
            fut = alice.describe_consumer_groups(["mg-watch"], request_timeout=15)
            try:
                return fut["mg-watch"].result(timeout=T)
            except confluent_kafka.KafkaException as e:
                return e.args[0].code(), str(e.args[0])

        refused = describe()
        assert isinstance(refused, tuple) and \
            refused[0] == KafkaError.TOPIC_AUTHORIZATION_FAILED, refused
        b.acls("admin", "--add", "--allow-principal", "User:alice", "--operation", "Describe",
               "--topic", "modern-secret").check()
        desc = describe()
        assert not isinstance(desc, tuple), desc
        assert len(desc.members) == 1
    finally:
        watched.close()


def test_cluster_link_commands_need_cluster_permissions(acl_broker, strait_factory):
    b = acl_broker
    try:
        h.binary("kafka-cluster-links")
    except h.HarnessError as e:
        pytest.skip(f"kafka-cluster-links is not built here: {e}")
    source = strait_factory()

    def links(user: str, *args):
        return h.run_cli("kafka-cluster-links", "--bootstrap-server", b.sasl,
                         "--command-config", b.command_config(user), *args)

    create = ["--create", "--link", "l1", "--config",
              f"bootstrap.servers={source.bootstrap}"]
    one_line_error(links("alice", *create),
                   "Error while executing cluster link command: Cluster authorization failed.")
    one_line_error(links("alice", "--list"),
                   "Error while executing cluster link command: Cluster authorization failed.")
    b.acls("admin", "--add", "--allow-principal", "User:alice", "--operation", "Describe",
           "--cluster").check()
    assert links("alice", "--list").check().stdout == "No cluster links found.\n"
    one_line_error(links("alice", *create),
                   "Error while executing cluster link command: Cluster authorization failed.")
    b.acls("admin", "--add", "--allow-principal", "User:alice", "--operation", "Alter",
           "--cluster").check()
    links("alice", *create).check()
    assert "Link name: 'l1'" in links("alice", "--list").check().stdout


def test_acls_survive_a_restart(acl_broker):
    b = acl_broker
    b.acls("admin", "--add", "--allow-principal", "User:alice", "--operation", "Read",
           "--group", "kept").check()
    before = b.acls("admin", "--list").check().stdout
    b.srv.restart()
    assert b.acls("admin", "--list").check().stdout == before
    assert "name=kept" in before


# ---------------------------------------------------------------------------
# PLAINTEXT and no authorizer
# ---------------------------------------------------------------------------

def test_plaintext_anonymous_with_allow_everyone_if_no_acl_found(strait_factory):
    srv = strait_factory({"authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
                          "allow.everyone.if.no.acl.found": "true"})
    kh.create_topic(srv.bootstrap, "open-topic")
    kh.create_topic(srv.bootstrap, "closed-topic")
    assert produce_error(srv.bootstrap, "closed-topic", {}) is None

    def acls(*args):
        return srv.cli("kafka-acls", *args)

    acls("--add", "--deny-principal", "User:ANONYMOUS", "--operation", "Write",
         "--topic", "closed-topic").check()
    h.wait_until(lambda: produce_error(srv.bootstrap, "closed-topic", {}, timeout=5)
                 == TOPIC_AUTHORIZATION_FAILED, timeout=T, what="write denied")
    assert produce_error(srv.bootstrap, "open-topic", {}) is None
    # An ALLOW for someone else also takes the "no ACL found" default away.
    acls("--add", "--allow-principal", "User:bob", "--operation", "Read",
         "--topic", "open-topic").check()
    h.wait_until(lambda: produce_error(srv.bootstrap, "open-topic", {}, timeout=5)
                 == TOPIC_AUTHORIZATION_FAILED, timeout=T, what="default gone")
    acls("--remove", "--topic", "closed-topic", "--force").check()
    acls("--remove", "--topic", "open-topic", "--force").check()
    for topic in ("closed-topic", "open-topic"):
        h.wait_until(lambda: produce_error(srv.bootstrap, topic, {}, timeout=5) is None,
                     timeout=T, what=f"write to {topic} allowed again")

    # Auto-creation by Metadata (v1 always asks for it) needs CREATE on the
    # cluster or the topic; DESCRIBE alone is answered TOPIC_AUTHORIZATION_FAILED.
    # A cluster ACL takes the default away from the cluster: ANONYMOUS keeps
    # ALTER (to manage ACLs) but not CREATE.
    acls("--add", "--allow-principal", "User:ANONYMOUS", "--operation", "Alter",
         "--cluster").check()
    acls("--add", "--allow-principal", "User:ANONYMOUS", "--operation", "Describe",
         "--topic", "fresh-", "--resource-pattern-type", "prefixed").check()
    with kw.KafkaConnection.to(srv.bootstrap) as conn:
        assert conn.metadata(["fresh-1"], version=1)["fresh-1"][0] == TOPIC_AUTHORIZATION_FAILED
        assert "fresh-1" not in conn.metadata(None, version=1)
    acls("--add", "--allow-principal", "User:ANONYMOUS", "--operation", "Create",
         "--topic", "fresh-", "--resource-pattern-type", "prefixed").check()
    with kw.KafkaConnection.to(srv.bootstrap) as conn:
        h.wait_until(lambda: conn.metadata(["fresh-1"], version=1)["fresh-1"] == (0, 1),
                     timeout=T, what="fresh-1 auto-created")
        # Listing all topics leaves out those ANONYMOUS may not describe.
        acls("--add", "--allow-principal", "User:bob", "--operation", "Read",
             "--topic", "open-topic").check()
        listed = conn.metadata(None, version=1)
        assert "fresh-1" in listed and "open-topic" not in listed, listed


def test_no_authorizer_allows_everything_and_disables_acl_apis(broker, topic_name):
    res = broker.cli("kafka-acls", "--list")
    one_line_error(res, "Error while executing ACL command: No Authorizer is configured on "
                        "the broker")
    res = broker.cli("kafka-acls", "--add", "--allow-principal", "User:alice", "--topic", "t")
    assert res.rc == 1 and re.search(r"No Authorizer is configured", res.stderr), res
    kh.create_topic(broker.bootstrap, topic_name)
    assert produce_error(broker.bootstrap, topic_name, {}) is None


def test_unknown_authorizer_class_is_refused_at_startup(strait_factory):
    srv = strait_factory({"authorizer.class.name": "com.example.MyAuthorizer"}, start=False)
    with pytest.raises(h.HarnessError) as e:
        srv.start(timeout=15)
    assert "authorizer.class.name" in str(e.value)
