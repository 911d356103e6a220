"""ACL sync over a cluster link, and link secrets at rest (issue 6), between
two real Strait brokers.

The source has an ACL authorizer and a SASL_PLAINTEXT listener; the link
authenticates there as `linkuser` with a `sasl.jaas.config` password. The
destination has an authorizer too (super user `User:ANONYMOUS` on its
PLAINTEXT listener). The link syncs the source's TOPIC ACLs and alice's
GROUP ACLs every 500 ms:

- while the source refuses DescribeAcls to the link, the AclSync task shows
  Confluent's error;
- once allowed, the destination gets exactly the filtered source ACLs, a
  destination ACL inside the filters but not on the source is deleted, and
  one outside the filters is untouched;
- an ACL deleted at the source disappears at the destination (also after a
  destination restart, which proves the stored password still decrypts);
- the link's password is in neither the destination's metadata file, nor its
  log, nor `kafka-configs --describe --cluster-link` output.

A destination without an authorizer reports "No Authorizer is configured"
on the task. Every wait is bounded."""

from __future__ import annotations

import json
import os
import stat

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")

from confluent_kafka.admin import (  # noqa: E402
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient,
    ResourcePatternType, ResourceType)

import kafka_helpers as kh  # noqa: E402
import strait_harness as h  # noqa: E402

AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
LINK_PASSWORD = "l1nk-Pa55word-never-in-clear"
USERS = {"admin": "admin-secret", "linkuser": LINK_PASSWORD}
T = 20  # seconds: bound for client operations and sync waits

ANY = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                       AclOperation.ANY, AclPermissionType.ANY)
# Every TOPIC ACL, and alice's GROUP ACLs.
FILTERS = {"aclFilters": [
    {"resourceFilter": {"resourceType": "topic", "patternType": "any"},
     "accessFilter": {"operation": "any", "permissionType": "any"}},
    {"resourceFilter": {"resourceType": "group", "patternType": "any"},
     "accessFilter": {"principal": "User:alice", "operation": "any", "permissionType": "any"}},
]}


def jaas(user: str) -> str:
    return ("org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{user}" password="{USERS[user]}";')


def server_jaas() -> str:
    opts = " ".join(f'user_{u}="{p}"' for u, p in USERS.items())
    return ("org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="admin" password="{USERS["admin"]}" {opts};')


def acl(restype, name, principal, op, pattern=ResourcePatternType.LITERAL,
        permission=AclPermissionType.ALLOW) -> AclBinding:
    return AclBinding(restype, name, pattern, principal, "*", op, permission)


def key(b) -> tuple:
    return (b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation,
            b.permission_type)


def create_acls(admin: AdminClient, bindings):
    for f in admin.create_acls(bindings, request_timeout=T).values():
        assert f.result(timeout=T) is None


def delete_acl(admin: AdminClient, b: AclBinding):
    exact = AclBindingFilter(b.restype, b.name, b.resource_pattern_type, b.principal, b.host,
                             b.operation, b.permission_type)
    deleted = admin.delete_acls([exact], request_timeout=T)[exact].result(timeout=T)
    assert len(deleted) == 1, deleted


def acls_of(admin: AdminClient) -> set:
    return {key(b) for b in admin.describe_acls(ANY, request_timeout=T).result(timeout=T)}


def link_tasks(dst, link: str) -> list[str]:
    res = dst.cli("kafka-cluster-links", "--describe", "--link", link, "--include-tasks").check()
    return [line for line in res.stdout.splitlines() if line.startswith("  Task: ")]


def acl_task(dst, link: str) -> str:
    return next((t for t in link_tasks(dst, link) if "'AclSync'" in t), "")


@pytest.fixture
def source(strait_factory):
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
    srv.sasl = f"127.0.0.1:{sasl_port}"
    srv.admin = AdminClient({"bootstrap.servers": srv.sasl, **kh.COMMON,
                             "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                             "sasl.username": "admin", "sasl.password": USERS["admin"]})
    yield srv
    srv.check_alive()


def create_link(dst, src, link: str, tmp_path):
    """kafka-cluster-links --create with a config file and --acl-filters-json-file."""
    config = tmp_path / f"{link}.properties"
    config.write_text("\n".join([
        f"bootstrap.servers={src.sasl}",
        "security.protocol=SASL_PLAINTEXT",
        "sasl.mechanism=PLAIN",
        f"sasl.jaas.config={jaas('linkuser')}",
        "acl.sync.enable=true",
        "acl.sync.ms=500",
        "metadata.max.age.ms=500",
    ]) + "\n")
    filters = tmp_path / f"{link}-acl-filters.json"
    filters.write_text(json.dumps(FILTERS))
    res = dst.cli("kafka-cluster-links", "--create", "--link", link, "--config-file",
                  str(config), "--acl-filters-json-file", str(filters)).check()
    assert res.stdout == f"Cluster link '{link}' creation successfully completed.\n", res


def test_acls_follow_the_source_and_the_link_password_stays_secret(source, strait_factory,
                                                                     tmp_path):
    src = source
    dst = strait_factory({"authorizer.class.name": AUTHORIZER, "super.users": "User:ANONYMOUS"})
    dst_admin = AdminClient({"bootstrap.servers": dst.bootstrap, **kh.COMMON})

    orders = acl(ResourceType.TOPIC, "orders", "User:alice", AclOperation.READ)
    app = acl(ResourceType.TOPIC, "app-", "User:bob", AclOperation.WRITE,
              pattern=ResourcePatternType.PREFIXED)
    denied = acl(ResourceType.TOPIC, "orders", "User:mallory", AclOperation.READ,
                 permission=AclPermissionType.DENY)
    alice_group = acl(ResourceType.GROUP, "g1", "User:alice", AclOperation.READ)
    bob_group = acl(ResourceType.GROUP, "g2", "User:bob", AclOperation.READ)  # outside filters
    create_acls(src.admin, [orders, app, denied, alice_group, bob_group])

    # On the destination: one ACL inside the filters that the source does not
    # have (sync deletes it) and one outside them (sync leaves it alone).
    stale = acl(ResourceType.TOPIC, "stale", "User:dave", AclOperation.READ)
    local = acl(ResourceType.GROUP, "local-group", "User:carol", AclOperation.READ)
    create_acls(dst_admin, [stale, local])

    create_link(dst, src, "acl-link", tmp_path)

    # linkuser may not DescribeAcls on the source yet.
    expected_error = ("ACL sync was requested, but link credentials don't have DESCRIBE "
                      "access for the source cluster")
    h.wait_until(lambda: "'IN_ERROR'" in acl_task(dst, "acl-link")
                 and expected_error in acl_task(dst, "acl-link"),
                 timeout=T, what="AclSync to report the missing DESCRIBE access")
    assert key(stale) in acls_of(dst_admin), "nothing changes while the source is unreadable"

    create_acls(src.admin, [acl(ResourceType.BROKER, "kafka-cluster", "User:linkuser",
                                AclOperation.DESCRIBE)])
    wanted = {key(b) for b in (orders, app, denied, alice_group, local)}
    h.wait_until(lambda: acls_of(dst_admin) == wanted, timeout=T,
                 what="the destination's ACLs to follow the source's filtered ACLs")
    task = acl_task(dst, "acl-link")
    assert task.startswith("  Task: 'AclSync', state: 'ACTIVE', last success time: '"), task
    assert "last success time: 'null'" not in task, task

    # Deleting at the source deletes at the destination.
    delete_acl(src.admin, orders)
    wanted.discard(key(orders))
    h.wait_until(lambda: acls_of(dst_admin) == wanted, timeout=T,
                 what="the ACL deleted at the source to disappear at the destination")

    # After a restart the link still authenticates: the stored password
    # decrypts with the persisted key.
    dst.restart()
    dst_admin = AdminClient({"bootstrap.servers": dst.bootstrap, **kh.COMMON})
    delete_acl(src.admin, app)
    wanted.discard(key(app))
    h.wait_until(lambda: acls_of(dst_admin) == wanted, timeout=T,
                 what="ACL sync to go on after a destination restart")
    assert key(local) in acls_of(dst_admin)

    # Pausing the link stops the task; the status says so.
    dst.cli("kafka-configs", "--alter", "--cluster-link", "acl-link", "--add-config",
            "cluster.link.paused=true").check()
    h.wait_until(lambda: "'LINK_PAUSED'" in acl_task(dst, "acl-link"), timeout=T,
                 what="AclSync to show LINK_PAUSED")
    create_acls(src.admin, [orders])
    dst.cli("kafka-configs", "--alter", "--cluster-link", "acl-link", "--add-config",
            "cluster.link.paused=false").check()
    wanted.add(key(orders))
    h.wait_until(lambda: acls_of(dst_admin) == wanted, timeout=T,
                 what="ACL sync to resume after unpausing")

    # --- secrets at rest ---------------------------------------------------
    described = dst.cli("kafka-configs", "--describe", "--cluster-link", "acl-link").check()
    assert "  sasl.jaas.config=null sensitive=true synonyms={}" in described.stdout.splitlines()
    assert LINK_PASSWORD not in described.stdout + described.stderr
    links = dst.cli("kafka-cluster-links", "--describe", "--link", "acl-link").check()
    assert "sasl.jaas.config=null" in links.stdout and LINK_PASSWORD not in links.stdout
    metadata = dst.data_dir / "strait-metadata.redb"
    assert metadata.exists()
    for path in dst.data_dir.rglob("*"):
        if path.is_file():
            assert LINK_PASSWORD.encode() not in path.read_bytes(), f"{path} holds the password"
    assert LINK_PASSWORD not in dst.log_path.read_text(errors="replace")
    key_file = dst.data_dir / "link-secret.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_acl_sync_needs_an_authorizer_on_the_destination(source, strait_factory, tmp_path):
    src = source
    create_acls(src.admin, [
        acl(ResourceType.BROKER, "kafka-cluster", "User:linkuser", AclOperation.DESCRIBE),
        acl(ResourceType.TOPIC, "orders", "User:alice", AclOperation.READ)])
    dst = strait_factory()
    create_link(dst, src, "no-authz", tmp_path)
    h.wait_until(lambda: "No Authorizer is configured" in acl_task(dst, "no-authz"),
                 timeout=T, what="AclSync to report the missing authorizer")
    assert "'IN_ERROR'" in acl_task(dst, "no-authz")


def test_acl_sync_config_conflicts_are_refused(source, strait_factory, tmp_path):
    src = source
    dst = strait_factory()
    res = dst.cli("kafka-cluster-links", "--create", "--link", "l", "--config",
                  f"bootstrap.servers={src.bootstrap},acl.sync.enable=true")
    assert res.rc == 1, res
    assert ("ACL migration is enabled but acl.filters is not set. Please set acl.filters to "
            "proceed with ACL migration.") in res.stderr, res
    filters = tmp_path / "filters.json"
    filters.write_text(json.dumps(FILTERS))
    res = dst.cli("kafka-cluster-links", "--create", "--link", "l", "--config",
                  f"bootstrap.servers={src.bootstrap},acl.sync.enable=true,"
                  "cluster.link.prefix=west.", "--acl-filters-json-file", str(filters))
    assert res.rc == 1 and "cluster.link.prefix" in res.stderr, res
    dst.cli("kafka-cluster-links", "--create", "--link", "l", "--config",
            f"bootstrap.servers={src.bootstrap},cluster.link.prefix=west.").check()
    res = dst.cli("kafka-configs", "--alter", "--cluster-link", "l", "--add-config-file",
                  str(_properties(tmp_path, {"acl.sync.enable": "true",
                                             "acl.filters": json.dumps(FILTERS)})))
    assert res.rc == 1 and "cluster.link.prefix" in res.stderr, res


def _properties(tmp_path, props: dict):
    path = tmp_path / "alter.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    return path
