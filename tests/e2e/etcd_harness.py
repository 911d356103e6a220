"""Start, crash and restart a real single-member etcd (Debian's etcd-server)
on free loopback ports with its own data dir, for tests of Strait with its
metadata on etcd.  Every wait is bounded; the process is addressed by PID."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import strait_harness as h

ETCD_BIN = os.environ.get("STRAIT_ETCD_BIN", "/usr/bin/etcd")
# Debian's etcd-client package.
ETCDCTL_BIN = os.environ.get("STRAIT_ETCDCTL_BIN", "/usr/bin/etcdctl")
START_TIMEOUT = 20.0


def available() -> bool:
    return os.access(ETCD_BIN, os.X_OK)


def etcdctl_available() -> bool:
    return os.access(ETCDCTL_BIN, os.X_OK)


class EtcdServer:
    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.client_port = h.free_port()
        self.peer_port = h.free_port()
        self.data_dir = self.workdir / "data"
        self.log_path = self.workdir / "etcd.log"
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    def start(self) -> "EtcdServer":
        client = self.endpoint
        peer = f"http://127.0.0.1:{self.peer_port}"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [ETCD_BIN, "--name", "e2e", "--data-dir", str(self.data_dir),
                 "--listen-client-urls", client, "--advertise-client-urls", client,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", f"e2e={peer}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        h.wait_until(lambda: self.proc.poll() is None and h.port_open(self.client_port),
                     timeout=START_TIMEOUT, what=f"etcd on {client} ({self.log_path})")
        return self

    def kill9(self):
        """Crash etcd: SIGKILL by PID, and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def restart(self) -> "EtcdServer":
        self.kill9()
        return self.start()

    def etcdctl(self, *args) -> h.CliResult:
        env = {**os.environ, "ETCDCTL_API": "3"}
        return h.run([ETCDCTL_BIN, "--endpoints", self.endpoint, *args], timeout=20,
                     env=env).check()

    def revoke_all_leases(self) -> int:
        """Revokes every lease (as an operator or a lease expiry would); returns how many."""
        # "found 1 leases" then one hex id per line.
        ids = self.etcdctl("lease", "list").stdout.split()[3:]
        for lease in ids:
            self.etcdctl("lease", "revoke", lease)
        return len(ids)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()

