"""The real daemon as a subprocess: its config file, log, control-socket client and waits."""

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

Predicate = Callable[[dict[str, Any]], object]


class DaemonProcess:
    """`python3 -m cpagent run --config FILE` with the given config text.

    The state dir the config names persists across launches (restart after kill -9 or
    Reset); every run's output is appended to `log_path` after a `==== start ====` line and
    quoted when a wait times out. Waits poll the control socket until a condition holds.
    """

    wait_timeout_s = 10.0  # default deadline of `wait` and `wait_connector`

    def __init__(self, workdir: Path, socket_path: Path, config_text: str) -> None:
        self.workdir = workdir
        self.socket_path = socket_path
        self.config_path = workdir / "cpagent.toml"
        self.log_path = workdir / "daemon.log"
        self.config_path.write_text(config_text)
        self.config_path.chmod(0o600)
        self.process: subprocess.Popen[bytes] | None = None

    # -- process ---------------------------------------------------------------------------
    def launch(self) -> dict[str, Any]:
        """Start the process; the first `status` answer it gives."""
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            log.write(b"==== start ====\n")
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cpagent", "run", "--config", str(self.config_path)],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return self.wait(lambda _s: True, what="the control socket to answer")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill9(self) -> None:
        """SIGKILL: no relay guard, no shutdown code runs (a power cut, as far as we can)."""
        assert self.process is not None and self.process.poll() is None, "not running"
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def wait_exit(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"daemon still running after {timeout} s\n{self.log_tail()}"
            ) from None

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

    def last_run_log(self) -> str:
        return self.log_path.read_text(errors="replace").split("==== start ====")[-1]

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

    def wait(
        self, predicate: Predicate, timeout: float | None = None, what: str = ""
    ) -> dict[str, Any]:
        """Poll `status` until `predicate(status)` holds; the status that satisfied it."""
        timeout = self.wait_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + timeout
        last: object = "(no answer)"
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"daemon exited ({self.process.returncode}) while waiting "
                    f"for {what}\n{self.log_tail()}"
                )
            try:
                status = self.ask(cmd="status")
            except (OSError, ValueError) as exc:
                last = repr(exc)
            else:
                last = status
                if status.get("ok") and predicate(status):
                    return status
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what}; "
                    f"last status {last}\n{self.log_tail()}"
                )
            time.sleep(0.02)  # poll interval of a condition wait, not a wait in itself

    def wait_connector(
        self,
        predicate: Predicate,
        timeout: float | None = None,
        what: str = "",
        *,
        connector_id: int = 1,
    ) -> dict[str, Any]:
        status = self.wait(lambda s: predicate(s["connectors"][connector_id - 1]), timeout, what)
        found: dict[str, Any] = status["connectors"][connector_id - 1]
        return found
