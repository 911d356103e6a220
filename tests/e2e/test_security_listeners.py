"""Listener security: SSL, SASL_PLAINTEXT and SASL_SSL listeners side by side,
PLAIN and SCRAM-SHA-256/512 (users made with kafka-configs), mutual TLS,
re-authentication (KIP-368), and bad input: wrong passwords, untrusted or
expired certificates, plaintext clients on TLS ports, requests before
authentication.  The broker must keep serving everyone else and never write
a secret to its log.

Certificates are generated per module with the `cryptography` package.
Every wait is bounded.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import ssl
import struct
import time
from pathlib import Path

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")
x509 = pytest.importorskip("cryptography.x509")

from confluent_kafka import KafkaError  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

import kafka_helpers as kh  # noqa: E402
import kafka_wire as kw  # noqa: E402
from strait_harness import binary, free_port, run, wait_until  # noqa: E402

PLAIN_USERS = {"alice": "alice-Pl4in-secret", "admin": "admin-Pl4in-secret"}
SCRAM_PASSWORD = "carol-Scr4m-secret"
WRONG_PASSWORD = "Wr0ng-guess-secret"
SECRETS = [*PLAIN_USERS.values(), SCRAM_PASSWORD, WRONG_PASSWORD]

SASL_HANDSHAKE = 17
SASL_AUTHENTICATE = 36
ILLEGAL_SASL_STATE = 34
SASL_AUTHENTICATION_FAILED = 58
T = 20  # seconds: bound for client operations


# ---------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------

def _name(cn: str, org: str = "Strait", ou: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _cert(subject, key, issuer_name, issuer_key, *, ca=False, server=False,
          not_before=None, not_after=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder()
         .subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(not_before or now - datetime.timedelta(hours=1))
         .not_valid_after(not_after or now + datetime.timedelta(days=2))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        usage = x509.ExtendedKeyUsageOID.SERVER_AUTH if server else \
            x509.ExtendedKeyUsageOID.CLIENT_AUTH
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        b = b.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_cert(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class Pki:
    """Files: ca.pem, server.pem (key + chain), client/rogue/expired .crt + .key."""

    def __init__(self, d: Path):
        self.dir = d
        ca_key, rogue_ca_key = _key(), _key()
        ca_name, rogue_name = _name("Strait Test CA"), _name("Rogue CA", org="Rogue")
        ca = _cert(ca_name, ca_key, ca_name, ca_key, ca=True)
        rogue_ca = _cert(rogue_name, rogue_ca_key, rogue_name, rogue_ca_key, ca=True)
        (d / "ca.pem").write_bytes(_pem_cert(ca))
        (d / "rogue-ca.pem").write_bytes(_pem_cert(rogue_ca))

        server_key = _key()
        server = _cert(_name("localhost"), server_key, ca_name, ca_key, server=True)
        (d / "server.pem").write_bytes(_pem_key(server_key) + _pem_cert(server) + _pem_cert(ca))
        self.server_cert = _pem_cert(server).decode()
        self.server_key = _pem_key(server_key).decode()

        rogue_server_key = _key()
        rogue_server = _cert(_name("localhost", org="Rogue"), rogue_server_key, rogue_name,
                             rogue_ca_key, server=True)
        (d / "rogue-server.pem").write_bytes(_pem_key(rogue_server_key) + _pem_cert(rogue_server))

        now = datetime.datetime.now(datetime.timezone.utc)
        for stem, issuer, issuer_key, extra in [
            ("client", ca_name, ca_key, {}),
            ("rogue", rogue_name, rogue_ca_key, {}),
            ("expired", ca_name, ca_key, {
                "not_before": now - datetime.timedelta(days=10),
                "not_after": now - datetime.timedelta(days=1)}),
        ]:
            k = _key()
            c = _cert(_name(f"{stem}-app", ou="eng"), k, issuer, issuer_key, **extra)
            (d / f"{stem}.key").write_bytes(_pem_key(k))
            (d / f"{stem}.crt").write_bytes(_pem_cert(c))

    def path(self, name: str) -> str:
        return str(self.dir / name)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


# ---------------------------------------------------------------------------
# Broker with every kind of listener
# ---------------------------------------------------------------------------

def plain_jaas(users: dict) -> str:
    opts = " ".join(f'user_{u}="{p}"' for u, p in users.items())
    return ("org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="admin" password="{users["admin"]}" {opts};')


class SecureBroker:
    def __init__(self, srv, ports: dict):
        self.srv = srv
        self.ports = ports

    def addr(self, listener: str) -> str:
        return f"127.0.0.1:{self.ports[listener]}"


def start_secure_broker(strait_factory, pki: Pki, extra: dict | None = None) -> SecureBroker:
    srv = strait_factory(start=False)
    ports = {"PLAINTEXT": srv.port, "SSL": free_port(), "SASL_PLAINTEXT": free_port(),
             "SASL_SSL": free_port(), "MTLS": free_port()}
    listeners = ",".join(f"{n}://127.0.0.1:{p}" for n, p in ports.items())
    jaas = plain_jaas(PLAIN_USERS)
    srv.overrides.update({
        "listeners": listeners,
        "advertised.listeners": listeners,
        "listener.security.protocol.map":
            "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,"
            "MTLS:SSL",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": pki.path("server.pem"),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": pki.path("ca.pem"),
        "listener.name.mtls.ssl.client.auth": "required",
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
        "listener.name.sasl_ssl.plain.sasl.jaas.config": jaas,
        "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config":
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "super.users": "User:admin",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
    })
    srv.overrides.update(extra or {})
    srv.start()
    return SecureBroker(srv, ports)


@pytest.fixture
def secure(strait_factory, pki) -> SecureBroker:
    return start_secure_broker(strait_factory, pki)


def conf_for(listener: str, pki: Pki, mechanism: str | None = None, user: str | None = None,
             password: str | None = None, **extra) -> dict:
    protocol = {"MTLS": "SSL"}.get(listener, listener)
    conf = {"security.protocol": protocol}
    if "SSL" in protocol:
        conf["ssl.ca.location"] = pki.path("ca.pem")
    if mechanism:
        conf.update({"sasl.mechanism": mechanism, "sasl.username": user,
                     "sasl.password": password})
    conf.update(extra)
    return conf


def roundtrip(b: SecureBroker, listener: str, topic: str, conf: dict, n: int = 20):
    """Create `topic` over PLAINTEXT, produce and consume it over `listener`."""
    kh.create_topic(b.addr("PLAINTEXT"), topic, partitions=1)
    values = [f"{listener}-{i}".encode() for i in range(n)]
    kh.produce_all(b.addr(listener), topic, values, partition=0, timeout=T, **conf)
    got = kh.consume_partition(b.addr(listener), topic, 0, count=n, timeout=T, **conf)
    assert [m.value() for m in got] == values


def auth_errors(bootstrap: str, conf: dict, wait: float = 10.0) -> list:
    """Errors librdkafka reports while trying to fetch metadata with `conf`."""
    errors = []
    a = AdminClient({"bootstrap.servers": bootstrap, **kh.COMMON, **conf,
                     "error_cb": errors.append, "reconnect.backoff.ms": 500})
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and not errors:
        try:
            a.list_topics(timeout=1)
        except Exception:  # noqa: BLE001 - the failure is what we look at
            pass
        a.poll(0.1)  # serves error_cb
    return errors


def assert_no_secrets_logged(srv):
    text = Path(srv.log_path).read_text(errors="replace")
    for secret in SECRETS:
        assert secret not in text, f"secret {secret!r} appears in the server log"
    assert "PlainLoginModule" not in text, "a JAAS config appears in the server log"


def kafka_configs(b: SecureBroker, *args):
    return run([binary("kafka-configs"), "--bootstrap-server", b.addr("PLAINTEXT"), *args])


def add_scram_user(b: SecureBroker, user: str, password: str):
    res = kafka_configs(b, "--alter", "--add-config",
                        f"SCRAM-SHA-256=[iterations=8192,password={password}],"
                        f"SCRAM-SHA-512=[password={password}]",
                        "--entity-type", "users", "--entity-name", user)
    assert res.rc == 0, str(res)
    assert res.stdout.strip() == f"Completed updating config for user {user}.", str(res)
    assert password not in res.stdout + res.stderr


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

def test_ssl_listener_produce_consume(secure, pki, topic_name):
    roundtrip(secure, "SSL", topic_name, conf_for("SSL", pki))
    # The broker advertises the listener the client came in on.
    a = AdminClient({"bootstrap.servers": secure.addr("SSL"), **kh.COMMON,
                     **conf_for("SSL", pki)})
    md = a.list_topics(timeout=T)
    assert md.brokers[1].port == secure.ports["SSL"]
    secure.srv.check_alive()


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")
@pytest.mark.parametrize("listener", ["SSL", "SASL_SSL"])
def test_kcat_over_tls(secure, pki, topic_name, listener):
    kh.create_topic(secure.addr("PLAINTEXT"), topic_name, partitions=1)
    x = ["-X", f"security.protocol={listener}", "-X", f"ssl.ca.location={pki.path('ca.pem')}"]
    if listener == "SASL_SSL":
        x += ["-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=alice",
              "-X", f"sasl.password={PLAIN_USERS['alice']}"]
    res = run(["kcat", "-P", "-b", secure.addr(listener), "-t", topic_name, "-p", "0", *x],
              input="".join(f"m{i}\n" for i in range(10)), timeout=T * 2)
    assert res.rc == 0 and "ERROR" not in res.stderr, str(res)
    res = run(["kcat", "-C", "-b", secure.addr(listener), "-t", topic_name, "-p", "0",
               "-o", "beginning", "-e", "-f", "%s\n", *x], timeout=T * 2)
    assert res.rc == 0, str(res)
    assert res.stdout.splitlines() == [f"m{i}" for i in range(10)]


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_kcat_scram(secure, pki, topic_name, mechanism):
    """Debian's kcat (librdkafka 2.0) repeats its client nonce in the SCRAM
    client-final message; Kafka accepts that, and so must Strait."""
    add_scram_user(secure, "carol", SCRAM_PASSWORD)
    kh.create_topic(secure.addr("PLAINTEXT"), topic_name, partitions=1)
    x = ["-X", "security.protocol=SASL_PLAINTEXT", "-X", f"sasl.mechanisms={mechanism}",
         "-X", "sasl.username=carol", "-X", f"sasl.password={SCRAM_PASSWORD}"]
    res = run(["kcat", "-P", "-b", secure.addr("SASL_PLAINTEXT"), "-t", topic_name, "-p", "0",
               *x], input="".join(f"s{i}\n" for i in range(5)), timeout=T * 2)
    assert res.rc == 0 and "ERROR" not in res.stderr, str(res)
    res = run(["kcat", "-C", "-b", secure.addr("SASL_PLAINTEXT"), "-t", topic_name, "-p", "0",
               "-o", "beginning", "-e", "-f", "%s\n", *x], timeout=T * 2)
    assert res.rc == 0 and "ERROR" not in res.stderr, str(res)
    assert res.stdout.splitlines() == [f"s{i}" for i in range(5)]
    # A wrong password is still refused.
    bad = [a.replace(SCRAM_PASSWORD, WRONG_PASSWORD) for a in x]
    res = run(["kcat", "-L", "-b", secure.addr("SASL_PLAINTEXT"), *bad], timeout=T * 2)
    assert res.rc != 0, str(res)
    assert_no_secrets_logged(secure.srv)


@pytest.mark.parametrize("listener", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_plain(secure, pki, topic_name, listener):
    conf = conf_for(listener, pki, "PLAIN", "alice", PLAIN_USERS["alice"])
    roundtrip(secure, listener, topic_name, conf)
    assert_no_secrets_logged(secure.srv)


def test_scram_users_with_kafka_configs(secure, pki, topic_name):
    add_scram_user(secure, "carol", SCRAM_PASSWORD)
    res = kafka_configs(secure, "--describe", "--entity-type", "users", "--entity-name", "carol")
    assert res.rc == 0, str(res)
    assert res.stdout.strip() == ("SCRAM credential configs for user-principal 'carol' are "
                                  "SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096")
    res = kafka_configs(secure, "--describe", "--entity-type", "users")
    assert "user-principal 'carol'" in res.stdout, str(res)

    kh.create_topic(secure.addr("PLAINTEXT"), topic_name, partitions=1)
    n = 0
    for listener in ["SASL_PLAINTEXT", "SASL_SSL"]:
        for mech in ["SCRAM-SHA-256", "SCRAM-SHA-512"]:
            conf = conf_for(listener, pki, mech, "carol", SCRAM_PASSWORD)
            kh.produce_all(secure.addr(listener), topic_name, [f"{listener}/{mech}".encode()],
                           partition=0, timeout=T, **conf)
            n += 1
            got = kh.consume_partition(secure.addr(listener), topic_name, 0, count=n,
                                       timeout=T, **conf)
            assert got[-1].value() == f"{listener}/{mech}".encode()

    # Deleting the SHA-256 credential leaves SHA-512 working.
    res = kafka_configs(secure, "--alter", "--delete-config", "SCRAM-SHA-256",
                        "--entity-type", "users", "--entity-name", "carol")
    assert res.rc == 0, str(res)
    res = kafka_configs(secure, "--describe", "--entity-type", "users", "--entity-name", "carol")
    assert res.stdout.strip().endswith("are SCRAM-SHA-512=iterations=4096"), str(res)
    errors = auth_errors(secure.addr("SASL_PLAINTEXT"),
                         conf_for("SASL_PLAINTEXT", pki, "SCRAM-SHA-256", "carol", SCRAM_PASSWORD))
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
    conf = conf_for("SASL_PLAINTEXT", pki, "SCRAM-SHA-512", "carol", SCRAM_PASSWORD)
    kh.produce_all(secure.addr("SASL_PLAINTEXT"), topic_name, [b"still"], partition=0,
                   timeout=T, **conf)
    # Deleting it again: Kafka's error.
    res = kafka_configs(secure, "--alter", "--delete-config", "SCRAM-SHA-256",
                        "--entity-type", "users", "--entity-name", "carol")
    assert res.rc != 0
    assert "Attempt to delete a user credential that does not exist" in res.stderr, str(res)
    # Too few iterations are refused by the tool.
    res = kafka_configs(secure, "--alter", "--add-config", "SCRAM-SHA-256=[iterations=100,password=x]",
                        "--entity-type", "users", "--entity-name", "dave")
    assert res.rc != 0 and "less than the minimum 4096" in res.stderr, str(res)
    assert_no_secrets_logged(secure.srv)


def test_scram_credentials_via_admin_client(secure, pki):
    from confluent_kafka.admin import (ScramCredentialInfo, ScramMechanism,
                                       UserScramCredentialUpsertion)
    a = kh.admin(secure.addr("PLAINTEXT"))
    up = UserScramCredentialUpsertion(
        "erin", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 10000), b"erin-pw-secret")
    a.alter_user_scram_credentials([up])["erin"].result(timeout=T)
    desc = a.describe_user_scram_credentials(["erin"])["erin"].result(timeout=T)
    infos = [(i.mechanism, i.iterations) for i in desc.scram_credential_infos]
    assert infos == [(ScramMechanism.SCRAM_SHA_512, 10000)]
    conf = conf_for("SASL_SSL", pki, "SCRAM-SHA-512", "erin", "erin-pw-secret")
    kh.create_topic(secure.addr("PLAINTEXT"), "erin-topic", partitions=1)
    kh.produce_all(secure.addr("SASL_SSL"), "erin-topic", [b"hi"], partition=0, timeout=T, **conf)


@pytest.mark.parametrize("mechanism,user,message", [
    ("PLAIN", "alice", "Authentication failed: Invalid username or password"),
    ("SCRAM-SHA-256", "carol", "Authentication failed during authentication due to invalid "
                               "credentials with SASL mechanism SCRAM-SHA-256"),
])
def test_wrong_password_fails_cleanly_and_others_are_served(secure, pki, topic_name,
                                                             mechanism, user, message):
    add_scram_user(secure, "carol", SCRAM_PASSWORD)
    bad = conf_for("SASL_SSL", pki, mechanism, user, WRONG_PASSWORD)
    errors = auth_errors(secure.addr("SASL_SSL"), bad)
    auth = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
    assert auth, errors
    assert message in auth[0].str(), auth[0].str()
    # Everyone else keeps working, on every listener.
    roundtrip(secure, "SASL_SSL", topic_name,
              conf_for("SASL_SSL", pki, "PLAIN", "alice", PLAIN_USERS["alice"]))
    kh.produce_all(secure.addr("PLAINTEXT"), topic_name, [b"plain"], partition=0, timeout=T)
    secure.srv.check_alive()
    assert_no_secrets_logged(secure.srv)


def test_unknown_mechanism_and_requests_before_authentication(secure):
    host, port = "127.0.0.1", secure.ports["SASL_PLAINTEXT"]
    # A Metadata request before authenticating closes the connection.
    with kw.KafkaConnection(host, port) as c:
        c.send_raw(c.frame(kw.METADATA, 1, struct.pack(">i", -1), correlation_id=1,
                           flexible_header=False))
        assert c.wait_closed(timeout=10) == b""
    # ApiVersions is allowed; an unknown mechanism gets the enabled list.
    with kw.KafkaConnection(host, port) as c:
        assert c.api_versions(version=3).error_code == 0
        r = c.request(SASL_HANDSHAKE, 1, kw.Writer().string("GSSAPI").getvalue())
        assert r.int16() == 33  # UNSUPPORTED_SASL_MECHANISM
        mechs = r.array(lambda rr: rr.string())
        assert mechs == ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
        c.wait_closed(timeout=10)
    # SaslHandshake on a listener without SASL: ILLEGAL_SASL_STATE.
    with kw.KafkaConnection("127.0.0.1", secure.ports["PLAINTEXT"]) as c:
        r = c.request(SASL_HANDSHAKE, 1, kw.Writer().string("PLAIN").getvalue())
        assert r.int16() == ILLEGAL_SASL_STATE
    secure.srv.check_alive()


def _authenticate_v1(c, token: bytes):
    r = c.request(SASL_AUTHENTICATE, 1, kw.Writer().bytes_(token).getvalue())
    return r.int16(), r.string(), r.bytes_(), r.int64()


def test_handshake_v0_raw_tokens_and_reauthentication(strait_factory, pki):
    b = start_secure_broker(strait_factory, pki, {"connections.max.reauth.ms": "1500"})
    host, port = "127.0.0.1", b.ports["SASL_PLAINTEXT"]
    token = b"\0alice\0" + PLAIN_USERS["alice"].encode()
    # SaslHandshake v0: the token goes as a raw size-prefixed frame.
    with kw.KafkaConnection(host, port) as c:
        r = c.request(SASL_HANDSHAKE, 0, kw.Writer().string("PLAIN").getvalue())
        assert r.int16() == 0
        c.send_raw(struct.pack(">i", len(token)) + token)
        assert c.recv_frame() == b""
        assert c.api_versions(version=3).error_code == 0
    # v1 with SaslAuthenticate: session lifetime, re-authentication, expiry.
    with kw.KafkaConnection(host, port) as c:
        assert c.request(SASL_HANDSHAKE, 1, kw.Writer().string("PLAIN").getvalue()).int16() == 0
        code, msg, _, lifetime = _authenticate_v1(c, token)
        assert (code, lifetime) == (0, 1500), msg
        time.sleep(1.0)
        assert c.request(SASL_HANDSHAKE, 1, kw.Writer().string("PLAIN").getvalue()).int16() == 0
        code, msg, _, lifetime = _authenticate_v1(c, token)
        assert (code, lifetime) == (0, 1500), msg
        time.sleep(1.0)  # 2.0s after the first authentication, 1.0s after the second
        assert c.api_versions(version=3).error_code == 0
        time.sleep(0.8)  # now past the second session
        c.send_raw(kw.api_versions_frame(3, correlation_id=99))
        assert c.wait_closed(timeout=10) == b""
    # A wrong password: SASL_AUTHENTICATION_FAILED with Kafka's message, then close.
    with kw.KafkaConnection(host, port) as c:
        assert c.request(SASL_HANDSHAKE, 1, kw.Writer().string("PLAIN").getvalue()).int16() == 0
        code, msg, _, _ = _authenticate_v1(c, b"\0alice\0" + WRONG_PASSWORD.encode())
        assert code == SASL_AUTHENTICATION_FAILED
        assert msg == "Authentication failed: Invalid username or password"
        assert c.wait_closed(timeout=10) == b""
    # librdkafka re-authenticates on its own and keeps producing.
    topic = "reauth-topic"
    kh.create_topic(b.addr("PLAINTEXT"), topic, partitions=1)
    conf = conf_for("SASL_PLAINTEXT", pki, "PLAIN", "alice", PLAIN_USERS["alice"])
    errors = []
    p = kh.producer(b.addr("SASL_PLAINTEXT"), error_cb=errors.append, **conf)
    delivered = []
    deadline = time.monotonic() + 4
    i = 0
    while time.monotonic() < deadline:
        p.produce(topic, value=f"v{i}".encode(), partition=0,
                  on_delivery=lambda err, m: delivered.append(err))
        i += 1
        p.poll(0.2)
    assert p.flush(T) == 0
    assert delivered and all(e is None for e in delivered), delivered[:5]
    assert not [e for e in errors if e.code() == KafkaError._AUTHENTICATION], errors
    # Only the raw connection above outlived its session; librdkafka re-authenticated.
    log = Path(b.srv.log_path).read_text()
    assert log.count("its SASL session expired") == 1, log[-3000:]
    b.srv.check_alive()
    assert_no_secrets_logged(b.srv)


def test_plaintext_client_on_tls_port_fails_cleanly(secure, pki, topic_name):
    # A raw Kafka request sent in the clear to the TLS port gets no Kafka answer.
    with socket.create_connection(("127.0.0.1", secure.ports["SSL"]), timeout=10) as s:
        s.settimeout(10)
        s.sendall(kw.api_versions_frame(3, correlation_id=7))
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        assert not data.startswith(struct.pack(">i", len(data) - 4) + struct.pack(">i", 7))
    errors = auth_errors(secure.addr("SSL"), {"security.protocol": "PLAINTEXT"}, wait=4)
    assert errors, "a plaintext client on a TLS port must see an error"
    wait_until(lambda: "SSL handshake failed" in Path(secure.srv.log_path).read_text(), 10,
               what="the failed handshake in the server log")
    roundtrip(secure, "SSL", topic_name, conf_for("SSL", pki))
    secure.srv.check_alive()


def test_untrusted_server_certificate_fails(strait_factory, pki):
    srv = strait_factory(start=False)
    port = free_port()
    listeners = f"PLAINTEXT://127.0.0.1:{srv.port},SSL://127.0.0.1:{port}"
    srv.overrides.update({"listeners": listeners, "advertised.listeners": listeners,
                          "ssl.keystore.location": pki.path("rogue-server.pem")})
    srv.start()
    errors = auth_errors(f"127.0.0.1:{port}", {"security.protocol": "SSL",
                                                "ssl.ca.location": pki.path("ca.pem")}, wait=5)
    assert any(e.code() in (KafkaError._SSL, KafkaError._TRANSPORT) for e in errors), errors
    srv.check_alive()


def tls_api_versions(port: int, pki: Pki, cert: str | None = None, key: str | None = None):
    """ApiVersions over TLS with Python's ssl module; the 4-byte size of the answer."""
    ctx = ssl.create_default_context(cafile=pki.path("ca.pem"))
    if cert:
        ctx.load_cert_chain(cert, key)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(kw.api_versions_frame(3, correlation_id=5))
            return s.recv(4)


def test_mutual_tls(secure, pki, topic_name):
    good = conf_for("MTLS", pki, **{"ssl.certificate.location": pki.path("client.crt"),
                                    "ssl.key.location": pki.path("client.key")})
    roundtrip(secure, "MTLS", topic_name, good)
    for name, extra in [
        ("no client certificate", {}),
        ("untrusted client certificate", {"ssl.certificate.location": pki.path("rogue.crt"),
                                          "ssl.key.location": pki.path("rogue.key")}),
        ("expired client certificate", {"ssl.certificate.location": pki.path("expired.crt"),
                                        "ssl.key.location": pki.path("expired.key")}),
    ]:
        errors = auth_errors(secure.addr("MTLS"), conf_for("MTLS", pki, **extra), wait=5)
        assert errors, f"{name}: the handshake must fail"
    port = secure.ports["MTLS"]
    assert len(tls_api_versions(port, pki, pki.path("client.crt"), pki.path("client.key"))) == 4
    for stem in ["rogue", "expired"]:
        try:
            answer = tls_api_versions(port, pki, pki.path(f"{stem}.crt"), pki.path(f"{stem}.key"))
        except (ssl.SSLError, ConnectionError):
            answer = b""
        assert answer == b"", f"{stem} certificate accepted"
    log = Path(secure.srv.log_path).read_text()
    assert "UnknownIssuer" in log and "certificate expired" in log, log[-3000:]
    # The plain SSL listener does not ask for certificates.
    kh.produce_all(secure.addr("SSL"), topic_name, [b"x"], partition=0, timeout=T,
                   **conf_for("SSL", pki))
    secure.srv.check_alive()


@pytest.mark.parametrize("props,expected", [
    ({"listeners": "SASL_PLAINTEXT://127.0.0.1:{port}", "sasl.enabled.mechanisms": "GSSAPI"},
     "SASL mechanism GSSAPI is not supported"),
    ({"listeners": "SSL://127.0.0.1:{port}"}, "has no key store"),
    ({"listeners": "CLIENT://127.0.0.1:{port}"}, "No security protocol defined for listener CLIENT"),
    ({"listeners": "SASL_PLAINTEXT://127.0.0.1:{port}",
      "listener.name.sasl_plaintext.plain.sasl.jaas.config":
          f'org.apache.kafka.common.security.plain.PlainLoginModule required user_a="{WRONG_PASSWORD}"'},
     "not terminated by semi-colon"),
    ({"listeners": "SSL://127.0.0.1:{port}", "ssl.keystore.location": "/nonexistent/k.pem"},
     "ssl.keystore.location"),
])
def test_invalid_security_config_refuses_to_start(strait_factory, props, expected):
    srv = strait_factory(start=False)
    props = {k: v.format(port=srv.port) for k, v in props.items()}
    props.setdefault("advertised.listeners", props["listeners"])
    srv.overrides.update(props)
    srv.write_config()
    res = run([binary("strait"), "server", "--config",
               srv.config_path], timeout=30)
    assert res.rc != 0, str(res)
    errors = [line for line in res.stderr.splitlines() if line.startswith("strait:")]
    assert len(errors) == 1 and expected in errors[0], str(res)
    assert WRONG_PASSWORD not in res.stdout + res.stderr


def _encrypted_pem_key(plain_pem: bytes, password: bytes) -> bytes:
    """The key as `ENCRYPTED PRIVATE KEY` (PKCS#8 with PBES2, as `openssl pkcs8 -topk8`)."""
    key = serialization.load_pem_private_key(plain_pem, password=None)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(password))


def test_encrypted_private_keys_with_ssl_key_password(strait_factory, pki, tmp_path, topic_name):
    password = "K3y-encryption-secret"
    # Broker: an SSL listener and a mutual-TLS listener whose key store holds an encrypted key.
    server_pem = Path(pki.path("server.pem")).read_text()
    key_end = server_pem.index("-----END PRIVATE KEY-----") + len("-----END PRIVATE KEY-----")
    encrypted_store = tmp_path / "server-encrypted.pem"
    encrypted_store.write_bytes(_encrypted_pem_key(server_pem[:key_end].encode(),
                                                   password.encode())
                                + server_pem[key_end:].lstrip().encode())
    srv = strait_factory(start=False)
    ssl_port, mtls_port = free_port(), free_port()
    listeners = (f"PLAINTEXT://127.0.0.1:{srv.port},SSL://127.0.0.1:{ssl_port},"
                 f"MTLS://127.0.0.1:{mtls_port}")
    srv.overrides.update({
        "listeners": listeners, "advertised.listeners": listeners,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL",
        "ssl.keystore.type": "PEM", "ssl.keystore.location": str(encrypted_store),
        "ssl.key.password": password,
        "ssl.truststore.type": "PEM", "ssl.truststore.location": pki.path("ca.pem"),
        "listener.name.mtls.ssl.client.auth": "required",
    })
    srv.start()
    b = SecureBroker(srv, {"PLAINTEXT": srv.port, "SSL": ssl_port, "MTLS": mtls_port})
    roundtrip(b, "SSL", topic_name, conf_for("SSL", pki))

    # Client: a Strait tool authenticates with an encrypted client key.
    client_key = tmp_path / "client-encrypted.key"
    client_key.write_bytes(_encrypted_pem_key(Path(pki.path("client.key")).read_bytes(),
                                              password.encode()))
    props = tmp_path / "client.properties"
    props.write_text("security.protocol=SSL\nssl.truststore.type=PEM\n"
                     f"ssl.truststore.location={pki.path('ca.pem')}\n"
                     f"ssl.certificate.location={pki.path('client.crt')}\n"
                     f"ssl.key.location={client_key}\nssl.key.password={password}\n")
    res = run([binary("kafka-topics"), "--bootstrap-server", b.addr("MTLS"),
               "--command-config", str(props), "--list"])
    assert res.rc == 0 and topic_name in res.stdout.split(), str(res)
    props.write_text(props.read_text().replace(password, "wrong-password"))
    res = run([binary("kafka-topics"), "--bootstrap-server", b.addr("MTLS"),
               "--command-config", str(props), "--list"])
    assert res.rc != 0 and len(res.stderr.strip().splitlines()) == 1, str(res)
    assert "ssl.key.password" in res.stderr and "wrong-password" not in res.stderr, str(res)
    log = Path(srv.log_path).read_text(errors="replace")
    assert password not in log

    # A broker with the wrong key password refuses to start, in one line.
    srv.stop()
    srv.overrides["ssl.key.password"] = "wrong-password"
    srv.write_config()
    res = run([binary("strait"), "server", "--config", srv.config_path], timeout=30)
    errors = [line for line in res.stderr.splitlines() if line.startswith("strait:")]
    assert res.rc != 0 and len(errors) == 1 and "cannot be decrypted" in errors[0], str(res)
    assert "wrong-password" not in res.stderr
