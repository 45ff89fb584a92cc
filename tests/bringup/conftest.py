"""Fixtures for the bring-up commands: run the CLI in-process, configs, ptys, lock holders."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import threading
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cpagent.cli import main

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _no_system_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine's own /etc/cpagent/cpagent.toml must not leak into these tests."""
    monkeypatch.setattr("cpagent.commands.devices.DEFAULT_CONFIG", str(tmp_path / "absent.toml"))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    def run(*argv: str) -> Result:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """A config file with [chargepoint], [csms] and a state dir, plus the given TOML."""

    def write(extra: str) -> Path:
        (tmp_path / "state").mkdir(exist_ok=True)
        path = tmp_path / "cpagent.toml"
        path.write_text(
            textwrap.dedent("""\
            [chargepoint]
            id = "CP-1"
            vendor = "test"
            model = "bring-up"
            [csms]
            url = "ws://127.0.0.1:9/ocpp"
            [state]
            dir = "state"
            """)
            + textwrap.dedent(extra)
        )
        os.chmod(path, 0o600)
        return path

    return write


class SilentPty:
    """A serial port with nothing on the other end (an adapter with no device wired)."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.heard = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def reply(self, request: bytes) -> bytes:
        return b""

    def _drain(self) -> None:
        import select

        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                with contextlib.suppress(OSError):
                    data = os.read(self.master, 256)
                    self.heard += data
                    answer = self.reply(data)
                    if answer:
                        os.write(self.master, answer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class GarblingPty(SilentPty):
    """Answers every request with what a device at another baud rate looks like: framing
    noise, never a valid Modbus frame."""

    def reply(self, request: bytes) -> bytes:
        return bytes([0xFF, 0x00, 0xF8, 0x80, 0x00, 0xFE, 0x1C, 0xE0, 0x00])


@pytest.fixture
def silent_pty() -> Iterator[SilentPty]:
    pty = SilentPty()
    yield pty
    pty.close()


@pytest.fixture
def garbling_pty() -> Iterator[GarblingPty]:
    pty = GarblingPty()
    yield pty
    pty.close()


@pytest.fixture
def lock_holder() -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    """Start a process that holds the daemon's state-dir lock as `cpagent run` does."""
    started: list[subprocess.Popen[str]] = []

    def start(state_dir: Path) -> subprocess.Popen[str]:
        code = (
            "import sys, time; from pathlib import Path;"
            "from cpagent.daemon.statelock import StateLock;"
            f"lock = StateLock(Path({str(state_dir)!r})); lock.acquire();"
            "print('held', flush=True); time.sleep(60)"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        started.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait(5)


@pytest.fixture
def port_user() -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    """Start another process that keeps a serial port open (as a stray minicom would)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(port: str) -> subprocess.Popen[bytes]:
        with open(port, "rb", buffering=0) as handle:
            proc = subprocess.Popen(["sleep", "60"], stdin=handle)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait(5)
