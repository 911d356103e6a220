"""Start, stop and crash real `strait server` processes for end-to-end tests.

Everything here is bounded in time: no call waits forever.  Processes are
always addressed by their own PID.
"""

from __future__ import annotations

import glob
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

START_TIMEOUT = float(os.environ.get("STRAIT_E2E_START_TIMEOUT", "30"))
STOP_TIMEOUT = float(os.environ.get("STRAIT_E2E_STOP_TIMEOUT", "15"))
CLI_TIMEOUT = float(os.environ.get("STRAIT_E2E_CLI_TIMEOUT", "60"))

CLI_TOOLS = ("kafka-topics", "kafka-configs", "kafka-cluster", "kafka-consumer-groups")


def bin_dir() -> Path:
    d = os.environ.get("STRAIT_BIN_DIR")
    return Path(d) if d else REPO_ROOT / "target" / "release"


class HarnessError(Exception):
    """A broker process could not be started or stopped as expected."""


def binary(name: str) -> Path:
    """Path of a built binary; raises HarnessError with a build hint if absent."""
    p = bin_dir() / name
    if not (p.is_file() and os.access(p, os.X_OK)):
        raise HarnessError(
            f"binary {name!r} not found at {p}. Build it with "
            f"`cargo build --release --workspace --bins` or point STRAIT_BIN_DIR "
            f"at the directory holding it.")
    return p


def free_port() -> int:
    """An ephemeral TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value; AssertionError after `timeout`s."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # keep polling, but remember why it failed
            last_exc = e
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_exc!r})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still "exists"; check its state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _tail(path: Path, max_bytes: int = 8000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            return f.read().decode("utf-8", "replace")
    except OSError as e:
        return f"<no log: {e}>"


def write_properties(path: Path, props: dict):
    with open(path, "w") as f:
        for k, v in props.items():
            f.write(f"{k}={v}\n")


@dataclass
class CliResult:
    rc: int
    stdout: str
    stderr: str
    argv: list

    def __str__(self):
        return (f"$ {' '.join(map(str, self.argv))}\nrc={self.rc}\n"
                f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}")

    def check(self) -> "CliResult":
        assert self.rc == 0, f"command failed:\n{self}"
        return self


def run(argv, timeout: float = CLI_TIMEOUT, input: str | None = None, env=None) -> CliResult:
    """Run a command with a hard timeout, capturing stdout/stderr as text."""
    argv = [str(a) for a in argv]
    try:
        p = subprocess.run(argv, input=input, capture_output=True, text=True,
                           timeout=timeout, env=env,
                           stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise AssertionError(
            f"command timed out after {timeout}s: {' '.join(argv)}\n"
            f"--- stdout ---\n{out}--- stderr ---\n{err}") from None
    return CliResult(p.returncode, p.stdout, p.stderr, argv)


def run_cli(tool: str, *args, timeout: float = CLI_TIMEOUT, input: str | None = None) -> CliResult:
    """Run one of Strait's CLI tools (kafka-topics, ...) from STRAIT_BIN_DIR."""
    return run([binary(tool), *args], timeout=timeout, input=input)


class StraitServer:
    """One `strait server` process with its own port, config file and data dir."""

    def __init__(self, workdir: Path, port: int | None = None, node_id: int = 1,
                 overrides: dict | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.node_id = node_id
        self.data_dir = self.workdir / "data"
        self.config_path = self.workdir / "server.properties"
        self.log_path = self.workdir / "server.log"
        self.overrides = dict(overrides or {})
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self._expect_exit = True  # not running yet
        self.unexpected_exit: str | None = None
        # Runs in the child before exec (e.g. to lower resource limits).
        self.preexec_fn = None

    # -- configuration -----------------------------------------------------

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def properties(self) -> dict:
        props = {
            "node.id": self.node_id,
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "log.dirs": self.data_dir,
            "num.partitions": 1,
            "default.replication.factor": 1,
            "auto.create.topics.enable": "true",
        }
        props.update(self.overrides)
        return props

    def write_config(self):
        write_properties(self.config_path, self.properties())

    # -- lifecycle ---------------------------------------------------------

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> "StraitServer":
        """Start (or restart) on the same port and data dir; wait until it accepts connections."""
        if self.is_running():
            raise HarnessError(f"strait already running with pid {self.pid}")
        self.write_config()
        exe = binary("strait")
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts}: {exe} server --config "
                      f"{self.config_path} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [str(exe), "server", "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.workdir, start_new_session=True, preexec_fn=self.preexec_fn)
        self._expect_exit = False
        self.unexpected_exit = None
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self._expect_exit = True
                raise HarnessError(
                    f"strait server exited with code {rc} during startup "
                    f"(port {self.port}, config {self.config_path}).\n"
                    f"--- server log tail ---\n{self.log_tail()}")
            if port_open(self.port):
                return self
            if time.monotonic() >= deadline:
                self._hard_kill()
                raise HarnessError(
                    f"strait server (pid {self.proc.pid}) did not accept connections on "
                    f"{self.bootstrap} within {timeout}s.\n"
                    f"--- server log tail ---\n{self.log_tail()}")
            time.sleep(0.05)

    def _hard_kill(self):
        if self.proc is None:
            return
        self._expect_exit = True
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"pid {self.proc.pid} survived SIGKILL for {STOP_TIMEOUT}s")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM by PID, wait up to `timeout`, then SIGKILL. Returns the exit code."""
        if self.proc is None:
            return None
        self._note_unexpected_exit()
        self._expect_exit = True
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with open(self.log_path, "ab") as log:
                    log.write(f"\n===== harness: no exit {timeout}s after SIGTERM, "
                              f"sending SIGKILL =====\n".encode())
                self._hard_kill()
        return self.proc.returncode

    def flip_stored_byte(self, topic: str, partition: int = 0,
                         min_segments: int = 2) -> tuple[str, bytes]:
        """With the broker stopped, flips one byte of the first batch's last
        record in the oldest segment of `topic`-`partition`: a byte the
        batch CRC covers, as disk rot would change it. Returns that file and
        its bytes before the flip."""
        assert not self.is_running(), "stop the broker before changing its files"
        segments = sorted(glob.glob(os.path.join(self.workdir, "**", f"{topic}-{partition}",
                                                 "*.log"), recursive=True))
        assert len(segments) >= min_segments, segments
        victim = segments[0]
        original = open(victim, "rb").read()
        at = 12 + int.from_bytes(original[8:12], "big") - 5
        with open(victim, "r+b") as f:
            f.seek(at)
            f.write(bytes([original[at] ^ 0x01]))
        return victim, original

    def kill9(self):
        """Crash the broker: SIGKILL by PID and reap it."""
        if self.proc is None:
            raise HarnessError("strait was never started")
        self._note_unexpected_exit()
        self._hard_kill()

    def restart(self, timeout: float = START_TIMEOUT) -> "StraitServer":
        self.stop()
        return self.start(timeout=timeout)

    def _note_unexpected_exit(self):
        if self.proc is not None and not self._expect_exit and self.proc.poll() is not None:
            self.unexpected_exit = (
                f"strait server pid {self.proc.pid} exited on its own with code "
                f"{self.proc.returncode}")

    def check_alive(self):
        """Assert the broker process has not died (e.g. panicked) under the test."""
        assert self.is_running(), (
            f"strait server (pid {self.pid}) is no longer running "
            f"(exit code {self.proc.returncode if self.proc else None}).\n"
            f"--- server log tail ---\n{self.log_tail()}")

    def log_tail(self, max_bytes: int = 8000) -> str:
        return _tail(self.log_path, max_bytes)

    # -- convenience -------------------------------------------------------

    def cli(self, tool: str, *args, timeout: float = CLI_TIMEOUT) -> CliResult:
        """Run a CLI tool with --bootstrap-server pointing at this broker."""
        return run_cli(tool, "--bootstrap-server", self.bootstrap, *args, timeout=timeout)

    def __repr__(self):
        return f"<StraitServer {self.bootstrap} pid={self.pid} dir={self.workdir}>"
