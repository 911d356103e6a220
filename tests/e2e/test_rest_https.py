"""REST v3 over `https://` listeners of `confluent.http.server.listeners`
(issue 11): the broker's `ssl.*` key store and trust store (or
`confluent.http.server.ssl.*` ones), client certificates as principals
(`User:<subject DN>`, as on a Kafka SSL listener) under the ACL authorizer,
HTTP Basic winning over a certificate, and bad input: an untrusted or
missing client certificate, plain HTTP on the TLS port, a listener without a
key store. Spoken with Python `requests`; certificates come from the
listener-security tests' PKI. Every wait is bounded."""

from __future__ import annotations

import socket
import ssl

import pytest

requests = pytest.importorskip("requests")
pytest.importorskip("cryptography")

import strait_harness as h  # noqa: E402
from test_rest_v3 import USERS, Rest, error, secured_overrides  # noqa: E402
from test_security_listeners import Pki  # noqa: E402

T = 20
# The client certificate's subject, as Kafka's principal builder writes it.
CLIENT_DN = "User:CN=client-app,OU=eng,O=Strait,C=US"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


class HttpsRest(Rest):
    """Rest over TLS: the test CA verifies the broker; `cert` is the
    client's (certificate, key) or None."""

    def __init__(self, srv, port: int, pki: Pki, cert=None):
        self.pki = pki
        self.cert = cert
        super().__init__(srv, port)

    def _scheme_url(self) -> None:
        self.url = self.url.replace("http://", "https://", 1)
        self.base = self.base.replace("http://", "https://", 1)

    def _up(self) -> bool:
        self._scheme_url()
        try:
            return requests.get(f"{self.base}/clusters", timeout=2, verify=self.pki.path("ca.pem"),
                                cert=self.cert).status_code in (200, 401, 403)
        except requests.RequestException:
            return False

    def call(self, method: str, path: str, **kw):
        self._scheme_url()
        kw.setdefault("verify", self.pki.path("ca.pem"))
        kw.setdefault("cert", self.cert)
        return super().call(method, path, **kw)


def client_cert(pki: Pki, stem: str = "client"):
    return (pki.path(f"{stem}.crt"), pki.path(f"{stem}.key"))


def start_https(strait_factory, pki: Pki, extra: dict) -> tuple:
    """A broker with an https:// and an http:// listener; (srv, https port, http port)."""
    https_port, http_port = h.free_port(), h.free_port()
    srv = strait_factory({
        "confluent.http.server.listeners":
            f"https://127.0.0.1:{https_port},http://127.0.0.1:{http_port}",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": pki.path("server.pem"),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": pki.path("ca.pem"),
        **extra,
    })
    return srv, https_port, http_port


def test_https_with_client_certificates_as_principals(strait_factory, pki, topic_name):
    sasl_port = h.free_port()
    srv = strait_factory(start=False)
    https_port, http_port = h.free_port(), h.free_port()
    srv.overrides.update(secured_overrides(
        srv, sasl_port, f"https://127.0.0.1:{https_port},http://127.0.0.1:{http_port}",
        super_users=f"User:admin;{CLIENT_DN}"))
    srv.overrides.update({
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": pki.path("server.pem"),
        "ssl.truststore.location": pki.path("ca.pem"),
        "confluent.http.server.ssl.client.authentication": "REQUESTED",
    })
    srv.start()

    admin = HttpsRest(srv, https_port, pki, cert=client_cert(pki))
    c = admin.cluster
    # Links point back over https, where the call came in.
    listed = admin.get("/clusters").json()
    assert listed["data"][0]["metadata"]["self"].startswith(f"https://127.0.0.1:{https_port}/")

    # The certificate's subject is a super user: it may create a topic.
    r = admin.post(f"{c}/topics", json={"topic_name": topic_name, "partitions_count": 2})
    assert r.status_code == 201, r.text
    assert admin.get(f"{c}/topics/{topic_name}").json()["partitions_count"] == 2

    # No certificate (allowed: REQUESTED) is ANONYMOUS, whom no ACL allows.
    anonymous = HttpsRest(srv, https_port, pki)
    error(anonymous.post(f"{c}/topics", json={"topic_name": f"{topic_name}-x"}), 403, 40301)
    # Credentials win over the certificate: alice has no ACL; a wrong
    # password is 401 whatever the certificate says.
    error(admin.post(f"{c}/topics", json={"topic_name": f"{topic_name}-y"},
                     auth=("alice", USERS["alice"])), 403, 40301)
    error(admin.get(f"{c}/topics", auth=("alice", "Wr0ng-guess-secret")), 401, 40101)
    # Basic over TLS without a certificate works as on http://.
    r = anonymous.get(f"{c}/topics/{topic_name}", auth=("admin", USERS["admin"]))
    assert r.status_code == 200, r.text

    # The plain listener beside it still serves, without any certificate.
    plain = Rest(srv, http_port)
    assert plain.get("/clusters").json()["data"][0]["metadata"]["self"].startswith("http://")

    # A certificate of an untrusted CA: the handshake is refused.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{admin.base}/clusters", verify=pki.path("ca.pem"),
                     cert=client_cert(pki, "rogue"), timeout=T)
    # A client that does not trust the broker's CA gets no answer either.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{admin.base}/clusters", verify=pki.path("rogue-ca.pem"), timeout=T)
    # Plain HTTP on the TLS port, and a peer that never finishes its
    # handshake: refused, and the listener serves the next caller.
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{https_port}/kafka/v3/clusters", timeout=T)
    with socket.create_connection(("127.0.0.1", https_port), timeout=T) as idle:
        idle.sendall(b"\x16\x03\x01")  # a TLS record header, then nothing
        assert admin.get("/clusters").status_code == 200
    srv.check_alive()


def test_https_requiring_client_certificates(strait_factory, pki):
    srv, https_port, _ = start_https(strait_factory, pki, {
        "confluent.http.server.ssl.client.auth": "true"})
    rest = HttpsRest(srv, https_port, pki, cert=client_cert(pki))
    assert rest.get("/clusters").status_code == 200
    # No certificate, or an expired one: the handshake fails.
    ctx = ssl.create_default_context(cafile=pki.path("ca.pem"))
    for cert in [None, client_cert(pki, "expired")]:
        with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
            requests.get(f"{rest.base}/clusters", verify=pki.path("ca.pem"), cert=cert,
                         timeout=T)
    with socket.create_connection(("127.0.0.1", https_port), timeout=T) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            # TLS 1.3 reports the missing certificate on the first read.
            s.sendall(b"GET /kafka/v3/clusters HTTP/1.1\r\nHost: x\r\n\r\n")
            with pytest.raises((ssl.SSLError, ConnectionError)):
                if not s.recv(100):
                    raise ConnectionError("closed")
    assert rest.get("/clusters").status_code == 200
    srv.check_alive()


@pytest.mark.parametrize("props,expected", [
    ({"confluent.http.server.listeners": "https://127.0.0.1:{port}"}, "no key store"),
    ({"confluent.http.server.listeners": "https://127.0.0.1:{port}",
      "confluent.http.server.ssl.keystore.location": "/nonexistent/k.pem"},
     "ssl.keystore.location"),
    ({"confluent.http.server.listeners": "https://127.0.0.1:{port}",
      "ssl.keystore.location": "{pki}/server.pem",
      "confluent.http.server.ssl.client.authentication": "REQUIRED"},
     "needs a trust store"),
    ({"confluent.http.server.listeners": "https://127.0.0.1:{port}",
      "ssl.keystore.location": "{pki}/server.pem",
      "confluent.http.server.ssl.client.authentication": "SOMETIMES"},
     "confluent.http.server.ssl.client.authentication"),
])
def test_bad_https_settings_refuse_to_start(strait_factory, pki, props, expected):
    srv = strait_factory(start=False)
    srv.overrides.update({k: v.format(port=h.free_port(), pki=pki.dir) for k, v in props.items()})
    srv.write_config()
    res = h.run([h.binary("strait"), "server", "--config", srv.config_path], timeout=30)
    assert res.rc != 0, str(res)
    errors = [line for line in res.stderr.splitlines() if line.startswith("strait:")]
    assert len(errors) == 1 and expected in errors[0], str(res)
