"""The real daemon as a subprocess: temp config, control-socket client, waits with deadlines."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CHARGEPOINT_ID = "E2E-1"
RESTART_EXIT = 75  # docs/foundation.md: the CSMS's Reset was accepted (systemd restarts it)

CONFIG = """\
[chargepoint]
id = "{cp_id}"
vendor = "cpagent"
model = "e2e"
serial_number = "e2e-0001"
firmware_version = "0.1.0"

[csms]
url = "{url}"
call_timeout_s = 5.0
backoff_min_s = 0.1
backoff_max_s = 0.5
ping_interval_s = 30.0
{csms_extra}

[state]
dir = "{state}"

[control]
socket = "{socket}"

[gpio]
pin_factory = "mock"

[log]
level = "DEBUG"

{connectors}
[rfid]
driver = "sim"
{extra}"""
CONNECTOR = """\
[[connector]]
relay_pin = {relay}
plug_pin = {plug}
max_current_a = {amps}
[connector.meter]
driver = "sim"
poll_interval_s = 0.2
"""
PINS = ((17, 27, 16.0), (22, 23, 32.0))  # (relay, plug, max A) of connectors 1 and 2


class Daemon:
    """`python3 -m cpagent run --config FILE` with mock GPIO, a sim meter and a sim reader.

    The state dir persists across `start()`s (restart after kill -9 or Reset); the log of
    every run is appended to `log_path` and quoted when a wait times out.
    """

    def __init__(self, workdir: Path, socket_path: Path, csms_url: str,
                 csms_extra: str = "", extra: str = "", connectors: int = 1) -> None:
        """`csms_extra`: more `[csms]` lines (password, TLS files); `extra`: more sections."""
        self.workdir = workdir
        self.socket_path = socket_path
        self.config_path = workdir / "cpagent.toml"
        self.log_path = workdir / "daemon.log"
        self.config_path.write_text(CONFIG.format(
            cp_id=CHARGEPOINT_ID, url=csms_url, state=workdir / "state", socket=socket_path,
            csms_extra=csms_extra, extra=extra, connectors="\n".join(
                CONNECTOR.format(relay=r, plug=p, amps=a) for r, p, a in PINS[:connectors])))
        self.config_path.chmod(0o600)
        self.process: subprocess.Popen[bytes] | None = None

    # -- process ---------------------------------------------------------------------------
    def start(self) -> Daemon:
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            log.write(b"==== start ====\n")
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cpagent", "run", "--config", str(self.config_path)],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.wait(lambda s: True, what="the control socket to answer")
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill9(self) -> None:
        """SIGKILL: no relay guard, no shutdown code runs (a power cut, as far as we can)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def wait_exit(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"daemon still running after {timeout} s\n{self.log_tail()}") from None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not go; safe to call twice (teardown)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "---- daemon log (tail) ----\n" + "\n".join(text.splitlines()[-lines:])

    # -- control socket (one JSON line each way, docs/foundation.md) ------------------------
    def ask(self, **request: Any) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(self.socket_path))
            sock.sendall((json.dumps(request) + "\n").encode())
            with sock.makefile("rb") as reader:
                answer: dict[str, Any] = json.loads(reader.readline())
        return answer

    def do(self, cmd: str, **args: Any) -> dict[str, Any]:
        answer = self.ask(cmd=cmd, **args)
        assert answer.get("ok") is True, f"{cmd} {args} refused: {answer}\n{self.log_tail()}"
        return answer

    def status(self) -> dict[str, Any]:
        return self.do("status")

    def connector(self, connector_id: int = 1) -> dict[str, Any]:
        found: dict[str, Any] = self.status()["connectors"][connector_id - 1]
        return found

    def wait(self, predicate: Callable[[dict[str, Any]], object], timeout: float = 10.0,
             what: str = "") -> dict[str, Any]:
        """Poll `status` until `predicate(status)` holds; the status that satisfied it."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | str = "(no answer)"
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"daemon exited ({self.process.returncode}) while waiting "
                                     f"for {what}\n{self.log_tail()}")
            try:
                status = self.ask(cmd="status")
            except (OSError, ValueError) as exc:
                last = repr(exc)
            else:
                last = status
                if status.get("ok") and predicate(status):
                    return status
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; "
                                     f"last status {last}\n{self.log_tail()}")
            time.sleep(0.02)

    def wait_connector(self, predicate: Callable[[dict[str, Any]], object],
                       connector_id: int = 1, timeout: float = 10.0,
                       what: str = "") -> dict[str, Any]:
        status = self.wait(lambda s: predicate(s["connectors"][connector_id - 1]), timeout, what)
        found: dict[str, Any] = status["connectors"][connector_id - 1]
        return found


def cli(*args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    """Run `python3 -m cpagent ARGS...` from the checkout; its completed process."""
    return subprocess.run([sys.executable, "-m", "cpagent", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, check=False)
