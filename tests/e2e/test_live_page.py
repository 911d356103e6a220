"""The live link page at `/` on the HTTP listener (issue 11), in headless
Chromium: Debian's /usr/bin/chromium driven by playwright-core from npm
(tests/e2e/js/live_page.js; scripts/test-all installs both). The page is
loaded once on a destination with no link (its empty state), then a link
and a mirror are created and show up without a reload; the mirror is paused,
records are produced to the source, and the lag shown changes, still
without a reload. Screenshots go to the test's tmp_path.

Also, with `requests`: what `/live/status.json` holds (per-partition lag
in records and seconds, the lag history kept on the server, `since`),
the content types and the Content-Security-Policy, and HTTP Basic with
DESCRIBE on the cluster when an authorizer is configured.

No Chromium or no playwright-core is a failure, not a skip. Every wait is
bounded."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

import kafka_helpers as kh
import strait_harness as h
from test_rest_v3 import USERS, Rest, error, start_rest, wait_lag_zero

requests = pytest.importorskip("requests")

T = 20.0
JS = Path(__file__).resolve().parent / "js"
CHROMIUM = os.environ.get("STRAIT_CHROMIUM", "/usr/bin/chromium")


class LivePage:
    """The page open in headless Chromium: one JSON command per line to
    live_page.js, one JSON answer per line back."""

    def __init__(self, url: str):
        assert Path(CHROMIUM).is_file(), (
            f"{CHROMIUM} is missing: scripts/test-all installs Debian's chromium package")
        node = shutil.which("node")
        assert node, "node is missing: scripts/test-all installs nodejs"
        assert (JS / "node_modules" / "playwright-core").is_dir(), (
            "playwright-core is missing: scripts/test-all runs npm ci in tests/e2e/js")
        self.proc = subprocess.Popen(
            [node, str(JS / "live_page.js"), url], cwd=JS, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.loaded = self._answer(60)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _answer(self, timeout: float) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"live_page.js gave no answer in {timeout}s") from None
        if line is None:
            self.proc.wait(timeout=10)
            raise AssertionError(f"live_page.js ended: {self.proc.stderr.read()}")
        answer = json.loads(line)
        assert answer["ok"], answer
        # Never reloaded, never a remote request or a script error.
        assert answer["navigations"] == 1 and answer["load_mark"] == "first-load", answer
        assert answer["problems"] == [], answer["problems"]
        return answer

    def do(self, cmd: str, **args) -> dict:
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        return self._answer(60)

    def close(self):
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=10)


def status(rest: Rest, **kw) -> dict:
    r = requests.get(f"{rest.url}/live/status.json", timeout=T, auth=rest.auth, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_page_shows_links_and_mirrors_live(strait_factory, topic_name, tmp_path):
    src = strait_factory()
    rest = start_rest(strait_factory)
    c = rest.cluster
    topic = f"{topic_name}-live"
    kh.create_topic(src.bootstrap, topic, partitions=2)
    for p in (0, 1):
        kh.produce_all(src.bootstrap, topic, [b"a", b"b", b"c"], partition=p)
    src_admin = kh.admin(src.bootstrap)
    source_id = src_admin.describe_cluster().result(timeout=T).cluster_id

    page = LivePage(f"{rest.url}/")
    try:
        loaded = page.loaded["loaded"]
        assert loaded["status"] == 200 and loaded["content_type"].startswith("text/html"), loaded
        assert "default-src 'none'" in loaded["csp"], loaded
        empty = page.do("wait_empty")
        assert "No cluster links" in empty["links_text"], empty
        page.do("screenshot", path=str(tmp_path / "live-empty.png"))

        # A link and a mirror appear without a reload.
        r = rest.post(f"{c}/links", params={"link_name": "page-link"}, json={
            "source_cluster_id": source_id, "configs": [
                {"name": "bootstrap.servers", "value": src.bootstrap},
                {"name": "metadata.max.age.ms", "value": "500"}]})
        assert r.status_code == 204, r.text
        r = rest.post(f"{c}/links/page-link/mirrors", json={"source_topic_name": topic})
        assert r.status_code == 204, r.text
        wait_lag_zero(rest, "page-link", topic, [3, 3])
        shown = page.do("wait_mirror", link="page-link", topic=topic, lag="0")
        assert shown["link_state"] == "ACTIVE", shown
        assert shown["source_cluster_id"] == source_id, shown
        assert shown["bootstrap_servers"] == src.bootstrap, shown
        assert shown["mirror_state"] == "ACTIVE" and shown["partitions"] == 2, shown

        # Paused, the mirror falls behind as the source grows; the page follows.
        r = rest.post(f"{c}/links/page-link/mirrors:pause", json={"mirror_topic_names": [topic]})
        assert r.json()["data"][0]["error_code"] is None, r.text
        kh.produce_all(src.bootstrap, topic, [b"x%d" % i for i in range(25)], partition=1)
        changed = page.do("wait_lag", topic=topic, lag="25")
        assert changed["mirror_state"] == "PAUSED", changed
        assert changed["partition_lags"] == ["0", "25"], changed
        assert changed["max_lag_seconds"] != "0 s", changed
        assert changed["chart_points"] and changed["chart_points"][0] >= 1, changed
        shot = tmp_path / "live-lagging.png"
        page.do("screenshot", path=str(shot))
        assert shot.stat().st_size > 10_000
    finally:
        page.close()


def test_status_json_history_and_headers(strait_factory, topic_name):
    src = strait_factory()
    rest = start_rest(strait_factory)
    c = rest.cluster
    # Zero links: an empty status, not an error.
    empty = status(rest)
    assert (empty["links"], empty["mirrors"], empty["cluster_id"]) == ([], [], rest.cluster_id)
    assert (empty["sample_interval_ms"], empty["history_window_ms"]) == (5000, 900_000)

    topic = f"{topic_name}-hist"
    kh.create_topic(src.bootstrap, topic, partitions=1)
    kh.produce_all(src.bootstrap, topic, [b"a"], partition=0)
    r = rest.post(f"{c}/links", params={"link_name": "hist-link"}, json={"configs": [
        {"name": "bootstrap.servers", "value": src.bootstrap},
        {"name": "metadata.max.age.ms", "value": "500"}]})
    assert r.status_code == 204, r.text
    assert rest.post(f"{c}/links/hist-link/mirrors",
                     json={"source_topic_name": topic}).status_code == 204
    wait_lag_zero(rest, "hist-link", topic, [1])

    (link,) = status(rest)["links"]
    assert (link["link_name"], link["link_state"], link["bootstrap_servers"],
            link["mirror_count"]) == ("hist-link", "ACTIVE", src.bootstrap, 1), link
    assert link["source_cluster_id"], link
    assert all({"task_name", "state", "last_error_ms", "last_error_message"} <= set(t)
               for t in link["tasks"]), link

    # The sampler keeps a history on the server: a page opened now gets it.
    h.wait_until(lambda: len(status(rest)["mirrors"][0]["history"]) >= 2, 20, interval=0.5,
                 what="two lag samples")
    (m,) = status(rest)["mirrors"]
    assert (m["link_name"], m["mirror_topic_name"], m["source_topic_name"],
            m["mirror_status"]) == ("hist-link", topic, topic, "ACTIVE"), m
    assert m["partitions"] == [{"partition": 0, "lag_records": 0, "lag_seconds": 0.0}], m
    times = [p["time_ms"] for p in m["history"]]
    assert times == sorted(times) and times[-1] - times[0] >= 4000, times
    # ?since= answers only the newer samples.
    newer = status(rest, params={"since": times[-2]})["mirrors"][0]["history"]
    assert [p["time_ms"] for p in newer][:1] == [times[-1]], newer
    assert status(rest, params={"since": times[-1] + 10_000_000})["mirrors"][0]["history"] == []
    error(requests.get(f"{rest.url}/live/status.json", params={"since": "soon"}, timeout=T),
          400, 40002)

    # What serves the page: its types, and no origin but this one.
    for path, ctype in [("/", "text/html"), ("/live/app.js", "text/javascript"),
                        ("/live/style.css", "text/css"), ("/live/favicon.svg", "image/svg+xml"),
                        ("/live/status.json", "application/json")]:
        r = requests.get(f"{rest.url}{path}", timeout=T)
        assert r.status_code == 200 and r.headers["content-type"].startswith(ctype), (path, r)
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp, csp
        assert "http" not in csp, csp
        assert r.headers["x-content-type-options"] == "nosniff"
    page = requests.get(f"{rest.url}/", timeout=T).text
    assert "<script src=\"/live/app.js\"" in page and "//" not in page.split("<body>")[0]
    assert "innerHTML" not in requests.get(f"{rest.url}/live/app.js", timeout=T).text
    # Not REST v3: not in its document.
    doc = rest.get("/openapi.json").json()
    assert not any(p.startswith("/live") or p == "/" for p in doc["paths"])


def test_the_page_needs_describe_on_the_cluster(strait_factory):
    sasl_port = h.free_port()
    http_port = h.free_port()
    srv = strait_factory(start=False)
    listeners = f"PLAINTEXT://127.0.0.1:{srv.port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}"
    users = " ".join(f'user_{u}="{p}"' for u, p in USERS.items())
    srv.overrides.update({
        "listeners": listeners,
        "advertised.listeners": listeners,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config":
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="admin" password="{USERS["admin"]}" {users};',
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin",
        "confluent.http.server.listeners": f"http://127.0.0.1:{http_port}",
    })
    srv.start()
    rest = Rest(srv, http_port)
    for path in ("/", "/live/status.json"):
        url = f"{rest.url}{path}"
        # No credentials: a Basic challenge, so a browser asks for them.
        r = requests.get(url, timeout=T)
        error(r, 401, 40101)
        assert r.headers["www-authenticate"].startswith("Basic realm="), r.headers
        r = requests.get(url, timeout=T, auth=("alice", "wrong"))
        error(r, 401, 40101)
        assert "www-authenticate" in r.headers
        # alice has no DESCRIBE on the cluster.
        error(requests.get(url, timeout=T, auth=("alice", USERS["alice"])), 403, 40301)
        assert requests.get(url, timeout=T, auth=("admin", USERS["admin"])).status_code == 200
    # The assets hold no data and load without credentials.
    assert requests.get(f"{rest.url}/live/app.js", timeout=T).status_code == 200
    rest.auth = ("admin", USERS["admin"])
    assert status(rest)["links"] == []
