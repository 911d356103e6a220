"""Cluster links to a secured source (issue 6): the source serves SASL_SSL only
to the link (SCRAM-SHA-256 and PLAIN users, a private CA); the destination
creates links from `--config-file`s that carry Kafka's client settings
(`security.protocol`, `sasl.mechanism`, `sasl.jaas.config` in
ScramLoginModule and PlainLoginModule syntax, `ssl.truststore.location` with
`ssl.truststore.type=PEM`, or the PEM text in `ssl.truststore.certificates`,
`ssl.endpoint.identification.algorithm`). Mirrors copy the records; a wrong
password or an untrusted CA refuses creation with one line and creates
nothing; the CLI tools reach a SASL_SSL broker through `--command-config`; no
password is ever printed or logged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("confluent_kafka")
pytest.importorskip("cryptography.x509")

import kafka_helpers as kh  # noqa: E402
import strait_harness as h  # noqa: E402
from test_security_listeners import (  # noqa: E402
    PLAIN_USERS, Pki, add_scram_user, start_secure_broker)

LINK_USER, LINK_PASSWORD = "linker", "l1nk-Scr4m-secret"


@pytest.fixture(scope="module")
def link_pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("link-pki"))


def scram_jaas(user: str, password: str) -> str:
    return ("org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{user}" password="{password}";')


def plain_jaas(user: str, password: str) -> str:
    return ("org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{user}" password="{password}";')


def write_config(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def scram_link_lines(src, pki: Pki) -> list[str]:
    """A link's client settings for the source's SASL_SSL listener as LINK_USER."""
    return [
        f"bootstrap.servers={src.addr('SASL_SSL')}",
        "security.protocol=SASL_SSL",
        "sasl.mechanism=SCRAM-SHA-256",
        f"sasl.jaas.config={scram_jaas(LINK_USER, LINK_PASSWORD)}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={pki.path('ca.pem')}",
    ]


def links(dst, *args):
    return h.run_cli("kafka-cluster-links", "--bootstrap-server", dst.bootstrap, *args)


def wait_mirrored(dst, topic, values):
    def done():
        got = kh.consume_partition(dst.bootstrap, topic, 0, count=len(values), timeout=5)
        return [m.value() for m in got] == values

    h.wait_until(done, 40, interval=0.5, what=f"{topic} mirrored")


def test_links_over_sasl_ssl_with_scram_and_plain(strait_factory, link_pki, tmp_path):
    src = start_secure_broker(strait_factory, link_pki)
    add_scram_user(src, LINK_USER, LINK_PASSWORD)
    dst = strait_factory()
    topic = "secured"
    kh.create_topic(src.addr("PLAINTEXT"), topic, 1)
    values = [f"s{i}".encode() for i in range(100)]
    kh.produce_all(src.addr("PLAINTEXT"), topic, values, partition=0)

    # SCRAM-SHA-256 over TLS, the CA from a PEM file, host name checked.
    scram = write_config(tmp_path / "scram-link.config", scram_link_lines(src, link_pki) + [
        "ssl.endpoint.identification.algorithm=https",
        "metadata.max.age.ms=500",
    ])
    res = links(dst, "--create", "--link", "scram-link", "--config-file", scram).check()
    assert res.stdout == "Cluster link 'scram-link' creation successfully completed.\n"
    h.run_cli("kafka-mirrors", "--create", "--mirror-topic", topic, "--link", "scram-link",
              "--bootstrap-server", dst.bootstrap).check()
    wait_mirrored(dst, topic, values)

    # PLAIN, the CA inline as PEM text (a continued properties value).
    ca_lines = Path(link_pki.path("ca.pem")).read_text().strip().splitlines()
    inline = "\\n\\\n".join(ca_lines)
    admin_password = PLAIN_USERS["admin"]
    plain = write_config(tmp_path / "plain-link.config", [
        f"bootstrap.servers={src.addr('SASL_SSL')}",
        "security.protocol=SASL_SSL",
        "sasl.mechanism=PLAIN",
        f"sasl.jaas.config={plain_jaas('admin', admin_password)}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.certificates={inline}",
    ])
    links(dst, "--create", "--link", "plain-link", "--config-file", plain).check()
    other = "secured.two"
    kh.create_topic(src.addr("PLAINTEXT"), other, 1)
    kh.produce_all(src.addr("PLAINTEXT"), other, values[:10], partition=0)
    h.run_cli("kafka-mirrors", "--create", "--mirror-topic", other, "--link", "plain-link",
              "--bootstrap-server", dst.bootstrap).check()
    wait_mirrored(dst, other, values[:10])

    # Describe shows the secrets as sensitive, never their values.
    res = dst.cli("kafka-configs", "--describe", "--cluster-link", "scram-link").check()
    assert "sasl.jaas.config=null sensitive=true" in res.stdout, res
    assert "security.protocol=SASL_SSL sensitive=false" in res.stdout, res
    listed = links(dst, "--list").check().stdout
    for secret in (LINK_PASSWORD, admin_password):
        assert secret not in res.stdout + listed
        assert secret not in Path(dst.log_path).read_text(errors="replace")

    # Bad credentials or an untrusted CA: one line, non-zero exit, nothing created.
    wrong = write_config(tmp_path / "wrong.config", [
        f"bootstrap.servers={src.addr('SASL_SSL')}",
        "security.protocol=SASL_SSL",
        "sasl.mechanism=SCRAM-SHA-256",
        f"sasl.jaas.config={scram_jaas(LINK_USER, 'not-the-password')}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={link_pki.path('ca.pem')}",
    ])
    rogue = write_config(tmp_path / "rogue.config", [
        f"bootstrap.servers={src.addr('SASL_SSL')}",
        "security.protocol=SASL_SSL",
        "sasl.mechanism=SCRAM-SHA-256",
        f"sasl.jaas.config={scram_jaas(LINK_USER, LINK_PASSWORD)}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={link_pki.path('rogue-ca.pem')}",
    ])
    for name, config in [("wrong-link", wrong), ("rogue-link", rogue)]:
        res = links(dst, "--create", "--link", name, "--config-file", config)
        assert res.rc != 0, res
        assert len(res.stderr.strip().splitlines()) == 1, res
        assert "not-the-password" not in res.stdout + res.stderr
        assert name not in links(dst, "--list").check().stdout

    # --command-config carries the same client settings for the tools.
    cmd = write_config(tmp_path / "client.properties", [
        "security.protocol=SASL_SSL",
        "sasl.mechanism=SCRAM-SHA-256",
        f"sasl.jaas.config={scram_jaas(LINK_USER, LINK_PASSWORD)}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={link_pki.path('ca.pem')}",
    ])
    res = h.run_cli("kafka-topics", "--bootstrap-server", src.addr("SASL_SSL"),
                    "--command-config", cmd, "--list").check()
    assert topic in res.stdout.split()


def test_password_encoder_secret_rotation_keeps_links_working(strait_factory, link_pki,
                                                              tmp_path):
    src = start_secure_broker(strait_factory, link_pki)
    add_scram_user(src, LINK_USER, LINK_PASSWORD)
    dst = strait_factory({"password.encoder.secret": "first-encoder-secret"})
    topic = "rotated"
    kh.create_topic(src.addr("PLAINTEXT"), topic, 1)
    values = [f"r{i}".encode() for i in range(30)]
    kh.produce_all(src.addr("PLAINTEXT"), topic, values[:10], partition=0)
    config = write_config(tmp_path / "link.config",
                          scram_link_lines(src, link_pki) + ["metadata.max.age.ms=500"])
    links(dst, "--create", "--link", "l", "--config-file", config).check()
    h.run_cli("kafka-mirrors", "--create", "--mirror-topic", topic, "--link", "l",
              "--bootstrap-server", dst.bootstrap).check()
    wait_mirrored(dst, topic, values[:10])

    # Rotate: the new secret, with the old one to open what it sealed.
    dst.stop()
    dst.overrides.update({"password.encoder.secret": "second-encoder-secret",
                          "password.encoder.old.secret": "first-encoder-secret"})
    dst.start()
    kh.produce_all(src.addr("PLAINTEXT"), topic, values[10:20], partition=0)
    wait_mirrored(dst, topic, values[:20])

    # The old secret is no longer needed: the values were sealed again.
    dst.stop()
    del dst.overrides["password.encoder.old.secret"]
    dst.start()
    kh.produce_all(src.addr("PLAINTEXT"), topic, values[20:], partition=0)
    wait_mirrored(dst, topic, values)
    log = Path(dst.log_path).read_text(errors="replace")
    for secret in (LINK_PASSWORD, "first-encoder-secret", "second-encoder-secret"):
        assert secret not in log
