"""pytest fixtures for Strait's end-to-end tests.

Fixtures
--------
strait_factory  call it (optionally with server.properties overrides) to get a
                started StraitServer; every server it made is stopped by PID at
                teardown.  Pass start=False to get an unstarted one.
broker          one started broker with default settings.
topic_name      a unique, valid topic name for the current test.
cli             run a CLI tool from STRAIT_BIN_DIR: cli("kafka-topics", ...).

Binaries are taken from $STRAIT_BIN_DIR (default <repo>/target/release).
"""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import strait_harness as h  # noqa: E402

_counter = itertools.count()



def pytest_report_header(config):
    d = h.bin_dir()
    present = [n for n in ("strait",) + h.CLI_TOOLS if (d / n).exists()]
    return [f"strait binaries: {d} (found: {', '.join(present) or 'none'})"]


@pytest.fixture(scope="session")
def strait_bin():
    try:
        return h.binary("strait")
    except h.HarnessError as e:
        msg = str(e)
    pytest.fail(msg, pytrace=False)


@pytest.fixture
def strait_factory(request, tmp_path, strait_bin):
    servers: list[h.StraitServer] = []
    request.node._strait_servers = servers

    def make(overrides: dict | None = None, start: bool = True, port: int | None = None,
             node_id: int = 1) -> h.StraitServer:
        srv = h.StraitServer(tmp_path / f"broker{len(servers)}", port=port,
                             node_id=node_id, overrides=overrides)
        servers.append(srv)
        if start:
            try:
                srv.start()
                return srv
            except h.HarnessError as e:
                msg = str(e)
            pytest.fail(msg, pytrace=False)
        return srv

    yield make

    problems = []
    for srv in servers:
        try:
            srv.stop()
        except Exception as e:  # keep stopping the others
            problems.append(f"{srv!r}: stop failed: {e}")
        if srv.unexpected_exit:
            problems.append(f"{srv.unexpected_exit}\n--- server log tail ---\n{srv.log_tail()}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def broker(strait_factory) -> h.StraitServer:
    return strait_factory()


@pytest.fixture
def topic_name(request) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name)[:150].strip("-.")
    return f"{base}-{next(_counter)}"


@pytest.fixture
def cli():
    return h.run_cli


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for srv in getattr(item, "_strait_servers", []):
            report.sections.append(
                (f"strait server log ({srv.bootstrap}, {srv.log_path})", srv.log_tail(6000)))
