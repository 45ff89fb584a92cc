"""Fixtures for the demo tests: the CLI as a process, a real daemon on a temp bench config."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cpagent.daemon.client import DaemonUnavailable, request
from tests.support.sim_config import sim_config

ROOT = Path(__file__).resolve().parents[2]


def cli_env() -> dict[str, str]:
    """The environment for `python -m cpagent` children: this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("NOTIFY_SOCKET", None)
    env["NO_COLOR"] = "1"
    return env


def run_cli(
    *args: str, timeout: float = 60.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m cpagent ARGS` as a user runs it (`env`: extra variables); text output."""
    return subprocess.run(
        [sys.executable, "-m", "cpagent", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**cli_env(), **(env or {})},
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )


def start_cli(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """`python -m cpagent ARGS` in the background, stdout as a text pipe."""
    options: dict[str, Any] = {
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "text": True,
        "env": cli_env(),
        "cwd": ROOT,
        "stdin": subprocess.DEVNULL,
    }
    options.update(kwargs)
    return subprocess.Popen([sys.executable, "-m", "cpagent", *args], **options)


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    """Poll `predicate` until true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or predicate}")
        pause.wait(0.02)


def pid_gone(pid: int) -> bool:
    """True when no process `pid` exists any more (a zombie still counts as there)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def stop(proc: subprocess.Popen[Any], timeout: float = 10.0) -> int:
    """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return proc.returncode


class LineReader:
    """Reads a child's stdout on a thread, so a test can wait for a line with a deadline."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, needle: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no line with {needle!r} in {timeout} s; got {self.lines[-5:]}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail(f"output ended before a line with {needle!r}; got {self.lines[-5:]}")
            self.lines.append(line)
            if needle in line:
                return line


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Daemon:
    """A real `cpagent run` child on a temp bench config."""

    proc: subprocess.Popen[str]
    config: Path
    socket: Path

    def status(self) -> dict[str, Any] | None:
        try:
            return request(self.socket, {"cmd": "status"}, timeout=5.0)
        except DaemonUnavailable:
            return None


def write_bench(
    tmp_path: Path,
    url: str | None = None,
    cp_id: str = "TEST-1",
    edit: Callable[[str], str] | None = None,
) -> Path:
    text = sim_config(
        cp_id=cp_id,
        url=url or f"ws://127.0.0.1:{closed_port()}/ocpp",
        csms={"backoff_min_s": 0.1, "backoff_max_s": 0.5},
    )
    path = tmp_path / "bench.toml"
    path.write_text(edit(text) if edit else text)
    path.chmod(0o600)
    return path


def start_daemon(config: Path) -> Daemon:
    """Start `cpagent run --config CONFIG`; return once its control socket answers."""
    with open(config.parent / "daemon.log", "w") as log:  # a file: a pipe could fill up
        proc = subprocess.Popen(
            [sys.executable, "-m", "cpagent", "run", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=cli_env(),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
        )
    daemon = Daemon(proc, config, config.parent / "ctl.sock")
    deadline = time.monotonic() + 15.0
    pause = threading.Event()
    while daemon.status() is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            pytest.fail(f"daemon did not start (exit {proc.returncode})")
        pause.wait(0.05)
    return daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A running daemon with no CSMS (its URL points at a closed loopback port)."""
    running = start_daemon(write_bench(tmp_path))
    try:
        yield running
    finally:
        stop(running.proc)
