"""The daemon in-process: READY after start-up, relays open before shutdown, failures exit 70."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cpagent.config import Config, load_config
from cpagent.daemon.bench_app import BenchApplication
from cpagent.daemon.client import request
from cpagent.daemon.context import AppContext
from cpagent.daemon.events import ShutdownRequested
from cpagent.daemon.runner import run_daemon

from .conftest import wait_until
from .test_notify import FakeManager


class ProbeApp(BenchApplication):
    """The bench application plus test commands: close a relay, kill a worker, crash."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx)
        self.ctx = ctx
        self.relays_at_shutdown: list[bool] | None = None
        self.reason = ""

    def command(self, request: dict[str, Any]) -> dict[str, Any]:
        if request["cmd"] == "energise":
            self.ctx.hardware.connector(request["connector"]).relay.energise()
            return {}
        if request["cmd"] == "kill-worker":
            threading.Thread(target=_fail, name="doomed-worker").start()
            return {}
        if request["cmd"] == "crash":
            raise RuntimeError("application bug")
        return super().command(request)

    def shutdown(self, reason: str) -> None:
        self.relays_at_shutdown = [c.relay.energised for c in self.ctx.hardware.connectors]
        self.reason = reason


def _fail() -> None:
    raise OSError("serial port vanished")


@dataclass
class Running:
    config: Config
    manager: FakeManager
    apps: list[ProbeApp] = field(default_factory=list)
    result: list[int] = field(default_factory=list)
    thread: threading.Thread | None = None

    @property
    def app(self) -> ProbeApp:
        return self.apps[0]

    def ask(self, **message: Any) -> dict[str, Any]:
        return request(self.config.control.socket, message)

    def wait_exit(self) -> int:
        assert self.thread is not None
        self.thread.join(20.0)
        assert not self.thread.is_alive(), "daemon did not stop"
        return self.result[0]


@pytest.fixture
def daemon(bench_config: Path, tmp_path: Path) -> Iterator[Running]:
    """run_daemon on a thread (no signal handlers there) with a fake NOTIFY_SOCKET."""
    manager = FakeManager(str(tmp_path / "notify.sock"))
    running = Running(load_config(bench_config), manager)

    def build(ctx: AppContext) -> ProbeApp:
        running.apps.append(ProbeApp(ctx))
        return running.apps[-1]

    env = {"NOTIFY_SOCKET": str(tmp_path / "notify.sock")}
    running.thread = threading.Thread(
        target=lambda: running.result.append(run_daemon(running.config, env=env, build_app=build))
    )
    running.thread.start()
    yield running
    if running.thread.is_alive() and running.apps:
        running.app.ctx.post(ShutdownRequested("test teardown"))
    running.thread.join(20.0)
    manager.close()


def test_ready_then_relays_open_before_the_application_shuts_down(daemon: Running) -> None:
    assert daemon.manager.receive_until("READY=1")[-1].startswith("READY=1")
    daemon.ask(cmd="energise", connector=1)
    status = daemon.ask(cmd="status")
    assert [c["relay"] for c in status["connectors"]] == [True, False]
    assert daemon.app.ctx.hardware.pin_factory.pin(17).state  # the GPIO really is high

    daemon.app.ctx.post(ShutdownRequested("test"))
    assert daemon.wait_exit() == 0
    assert daemon.app.relays_at_shutdown == [False, False]
    assert daemon.app.reason == "test"
    assert not daemon.app.ctx.hardware.pin_factory.pin(17).state
    assert daemon.manager.receive_until("STOPPING=1")
    assert not daemon.config.control.socket.exists()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_worker_thread_stops_the_daemon_non_zero(daemon: Running) -> None:
    daemon.manager.receive_until("READY=1")
    daemon.ask(cmd="energise", connector=2)
    daemon.ask(cmd="kill-worker")
    assert daemon.wait_exit() == 70
    assert daemon.app.reason == "worker doomed-worker died"
    assert daemon.app.relays_at_shutdown == [False, False]


def test_an_application_crash_stops_the_daemon_non_zero(daemon: Running) -> None:
    daemon.manager.receive_until("READY=1")
    answer = daemon.ask(cmd="crash")
    assert answer == {"ok": False, "error": "internal error: application bug"}
    assert daemon.wait_exit() == 70


def test_bench_commands_drive_the_simulated_hardware(daemon: Running) -> None:
    daemon.manager.receive_until("READY=1")
    assert daemon.ask(cmd="plug", connector=2) == {"ok": True, "connector": 2, "plugged": True}
    wait_until(lambda: daemon.ask(cmd="status")["connectors"][1]["plugged"], what="plug seen")
    daemon.ask(cmd="tap", id_tag="04a1b2c3d4")
    wait_until(lambda: daemon.ask(cmd="status")["last_card"] == "04A1B2C3D4", what="card seen")
    daemon.ask(cmd="fault", connector=1, code="PowerMeterFailure")
    wait_until(
        lambda: daemon.ask(cmd="status")["connectors"][0]["status"] == "Faulted",
        what="meter fault seen",
    )
    daemon.ask(cmd="clear-fault", connector=1)
    wait_until(
        lambda: daemon.ask(cmd="status")["connectors"][0]["fault"] is None, what="meter recovered"
    )
    assert daemon.ask(cmd="ev-load", connector=1, watts=3680)["ev_load_w"] == 3680.0


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"cmd": "plug", "connector": 3}, "no connector 3 (this chargepoint has 1-2)"),
        ({"cmd": "plug", "connector": "1"}, "connector must be a connector number, not '1'"),
        ({"cmd": "fault", "connector": 1, "code": "Melted"}, "code must be one of"),
        ({"cmd": "ev-load", "connector": 1, "watts": -5}, "watts must be a number >= 0"),
        ({"cmd": "tap", "id_tag": "X" * 21}, "id_tag must be a string of 1-20 characters"),
        ({"cmd": "launch"}, "unknown command 'launch'"),
    ],
)
def test_bad_bench_commands_are_refused(
    daemon: Running, message: dict[str, Any], error: str
) -> None:
    daemon.manager.receive_until("READY=1")
    answer = daemon.ask(**message)
    assert answer["ok"] is False and answer["error"].startswith(error), answer


def _break_state_dir(config: Path) -> None:
    (config.parent / "state").write_text("a file where the state dir should be")


def _block_socket(config: Path) -> None:
    (config.parent / "ctl.sock").write_text("not a socket")


def _real_gpio(config: Path) -> None:
    from hw.errors import ConfigurationError
    from hw.pins import make_pin_factory

    try:
        make_pin_factory("native").close()
    except ConfigurationError:
        pass  # as on any machine that is not a Raspberry Pi: the case below applies
    else:
        pytest.skip("the native pin factory works here (a Raspberry Pi)")
    config.write_text(config.read_text().replace('pin_factory = "mock"', 'pin_factory = "native"'))


@pytest.mark.parametrize(
    ("breakage", "exit_code"), [(_break_state_dir, 73), (_block_socket, 69), (_real_gpio, 78)]
)
def test_start_up_failures_exit_with_their_code_and_never_signal_ready(
    bench_config: Path, tmp_path: Path, breakage: Any, exit_code: int
) -> None:
    breakage(bench_config)
    manager = FakeManager(str(tmp_path / "n.sock"))
    try:
        env = {"NOTIFY_SOCKET": str(tmp_path / "n.sock")}
        assert run_daemon(load_config(bench_config), env=env) == exit_code
        manager.sock.settimeout(0.1)
        messages = []
        try:
            while True:
                messages.append(manager.receive())
        except TimeoutError:
            pass
    finally:
        manager.close()
    assert not any(m.startswith("READY=1") for m in messages)


def test_the_bench_application_clears_a_fault_from_last_error_on_recovery(
    daemon: Running,
) -> None:
    daemon.manager.receive_until("READY=1")
    daemon.ask(cmd="fault", connector=1, code="PowerMeterFailure")
    wait_until(
        lambda: "PowerMeterFailure" in (daemon.ask(cmd="status")["last_error"] or ""),
        what="the fault as last error",
    )
    daemon.ask(cmd="clear-fault", connector=1)
    wait_until(
        lambda: "PowerMeterFailure" not in (daemon.ask(cmd="status")["last_error"] or ""),
        what="the fault gone from last error",
    )
    status = daemon.ask(cmd="status")
    assert status["version"] and status["uptime_s"] >= 0 and status["link"]["state"]
