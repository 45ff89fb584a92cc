"""The demo's chargepoint agent: a temp bench config and `cpagent run` as a child process."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import cpagent
from cpagent.config import Config, ConfigError, load_config
from cpagent.daemon.client import DaemonUnavailable, request

# SIGTERM, then SIGKILL after this long: as systemd's TimeoutStopSec in the unit, since the
# agent's own stop may take its StopTransaction bound (5 s) plus its closes
STOP_GRACE_S = 20.0
LOG_TAIL_LINES = 5
LOOPBACK_HOSTS = "127.0.0.1,localhost,::1"
SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes on Linux; leave room

DEFAULT_CONFIG: dict[str, Any] = {
    "chargepoint": {
        "id": "DEMO-1",
        "vendor": "cpagent",
        "model": "demo",
        "serial_number": "demo-0001",
        "firmware_version": cpagent.__version__,
    },
    "gpio": {"pin_factory": "mock"},
    "log": {"level": "INFO"},
    "connector": [
        {
            "relay_pin": 17,
            "plug_pin": 27,
            "max_current_a": 32.0,
            "meter": {"driver": "sim", "poll_interval_s": 0.5},
        }
    ],
    "rfid": {"driver": "sim"},
}


class DemoError(Exception):
    """The demo cannot go on; the message is one line for people."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def demo_config(base: dict[str, Any], csms_url: str, workdir: Path) -> dict[str, Any]:
    """`base` (raw TOML tables) pointed at our CSMS, with state and socket in `workdir`."""
    data = {key: value for key, value in base.items() if key not in ("csms", "mqtt")}
    data["csms"] = {
        "url": csms_url,
        "protocol": "ocpp1.6",
        "transport": "websocket",
        "call_timeout_s": 10.0,
        "backoff_min_s": 0.2,
        "backoff_max_s": 1.0,
    }
    data["state"] = {"dir": str(workdir / "state")}
    data["control"] = {"socket": str(workdir / "control.sock")}
    return data


def read_base(path: str) -> dict[str, Any]:
    """A user's bench config as raw tables, checked to be fully simulated (exit 78 if not)."""
    config = _load(path)
    problems = simulation_problems(config)
    if problems:
        raise DemoError(f"{path}: the demo needs simulated hardware: {'; '.join(problems)}", 78)
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def simulation_problems(config: Config) -> list[str]:
    """Why `config` cannot play the demo (real hardware would be driven), or []."""
    problems = []
    if config.gpio.pin_factory != "mock":
        problems.append(f'gpio.pin_factory is {config.gpio.pin_factory!r}, not "mock"')
    if not config.connectors:
        problems.append("no [[connector]]")
    for index, conn in enumerate(config.connectors, start=1):
        if conn.meter.driver != "sim":
            problems.append(f'connector[{index}].meter.driver is {conn.meter.driver!r}, not "sim"')
        if conn.evse is not None and conn.evse.driver != "sim":
            problems.append(f'connector[{index}].evse.driver is {conn.evse.driver!r}, not "sim"')
    if config.rfid.driver != "sim":
        problems.append(f'rfid.driver is {config.rfid.driver!r}, not "sim"')
    return problems


def _load(path: str) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        first = str(next((p for p in exc.problems if p.severity == "error"), exc))
        raise DemoError(first if first.startswith(path) else f"{path}: {first}", 78) from None


def to_toml(data: dict[str, Any]) -> str:
    """Serialise the subset of TOML a cpagent config uses: tables, arrays of tables, scalars."""
    lines: list[str] = []
    _table(lines, [], data)
    return "\n".join(lines) + "\n"


def _table(lines: list[str], path: list[str], table: dict[str, Any]) -> None:
    nested = []
    for key, value in table.items():
        if isinstance(value, dict) or (
            isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        ):
            nested.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in nested:
        name = ".".join(_key(k) for k in [*path, key])
        for item in value if isinstance(value, list) else [value]:
            lines.append("")
            lines.append(f"[[{name}]]" if isinstance(value, list) else f"[{name}]")
            _table(lines, [*path, key], item)


def _key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if bare else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            repr(value)
            if math.isfinite(value)
            else ("nan" if value != value else ("inf" if value > 0 else "-inf"))
        )
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


class AgentProcess:
    """`python -m cpagent run --config FILE` in our process group; always stopped by `stop()`.

    Its stderr (the daemon log) goes to `log_path`, shown in part when something fails.
    """

    def __init__(self, config_path: Path, log_path: Path, socket_path: Path) -> None:
        self.config_path, self.log_path, self.socket_path = config_path, log_path, socket_path
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ)
        # The child must import this very cpagent (and its sibling `hw`), installed or not.
        root = str(Path(cpagent.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        env.pop("NOTIFY_SOCKET", None)  # never talk to systemd on behalf of the demo
        env.pop("JOURNAL_STREAM", None)
        # websocket-client honours http_proxy & co. even for 127.0.0.1 unless no_proxy says
        # otherwise; a CI runner's proxy must not swallow the demo's loopback connection.
        for name in ("no_proxy", "NO_PROXY"):
            env[name] = ",".join(p for p in (LOOPBACK_HOSTS, env.get(name)) if p)
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "cpagent", "run", "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def exit_code(self) -> int | None:
        """None while running."""
        return None if self._proc is None else self._proc.poll()

    def require_running(self) -> None:
        code = self.exit_code()
        if code is not None:
            raise DemoError(f"the chargepoint agent exited with code {code}: {self.last_line()}")

    def status(self) -> dict[str, Any] | None:
        """The daemon's status answer, or None while its socket does not answer yet."""
        try:
            answer = request(self.socket_path, {"cmd": "status"}, timeout=5.0)
        except DaemonUnavailable:
            return None
        return answer if answer.get("ok") else None

    def ctl(self, message: dict[str, Any]) -> dict[str, Any]:
        """A bench command (`cpagent ctl`); a refusal or no answer raises DemoError."""
        self.require_running()
        try:
            answer = request(self.socket_path, message, timeout=5.0)
        except DaemonUnavailable as exc:
            raise DemoError(f"{message['cmd']}: {exc}") from None
        if not answer.get("ok"):
            raise DemoError(f"{message['cmd']}: the agent refused: {answer.get('error')}")
        return answer

    def stop(self) -> int | None:
        """SIGTERM, wait (bounded), then SIGKILL; returns the exit code. Idempotent."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL now (a second Ctrl-C while stopping); idempotent."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()

    def last_line(self) -> str:
        tail = self.log_tail(1)
        return tail[-1] if tail else "(no output)"

    def log_tail(self, count: int = LOG_TAIL_LINES) -> list[str]:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if line.strip()][-count:]
