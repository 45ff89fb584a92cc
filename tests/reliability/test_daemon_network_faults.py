"""Network faults against the running daemon while it charges: it stays up, relays stay safe."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from cpagent.chargepoint.store import DATABASE_FILE
from tests.reliability.campaign import (
    CHARGEPOINT_ID,
    Daemon,
    GatedCentralSystem,
    audit,
    boot,
)
from tests.support.net import wait_until
from tests.support.proxy import LinkMode, TcpProxy

TAG = "NETFAULT-1"
FAST_KEYS = {"MeterValueSampleInterval": "1", "TransactionMessageRetryInterval": "1"}
PING_INTERVAL_S = 0.5  # [csms] ping_interval_s
PONG_TIMEOUT_S = 1.0  # [csms] pong_timeout_s
AT_ONCE_S = 2.0  # a relay opens "at once": well inside any call or pong timeout
DETECT_S = 10.0  # ping interval + pong timeout + slack on a loaded 2-core box


class Fault(StrEnum):
    """What happens to the link while the daemon charges."""

    HALF_OPEN = "half-open"  # TCP stays up, nothing passes either way
    CUT = "cut"  # every connection reset; reconnecting works at once
    DOWN = "down"  # every connection reset; no new one gets through until healed
    SLOW = "slow"  # the StopTransaction answer comes later than call_timeout_s


class Stop(StrEnum):
    """How the user ends the session."""

    TAP = "tap"
    UNPLUG = "unplug"


@dataclass(frozen=True, slots=True)
class Case:
    """One fault; `during` stops the session while the fault lasts, else after the heal."""

    fault: Fault
    stop: Stop
    during: bool
    call_timeout_s: float = 10.0
    retry_interval_s: int = 1  # TransactionMessageRetryInterval


CASES = [
    Case(Fault.HALF_OPEN, Stop.TAP, during=False),
    Case(Fault.HALF_OPEN, Stop.TAP, during=True),
    Case(Fault.CUT, Stop.TAP, during=False),
    Case(Fault.DOWN, Stop.TAP, during=True),
    Case(Fault.DOWN, Stop.UNPLUG, during=True),
    # the resend would wait 3 s, so the held answer is let go between timeout and resend
    Case(Fault.SLOW, Stop.TAP, during=True, call_timeout_s=1.0, retry_interval_s=3),
]


@dataclass(frozen=True, slots=True)
class Rig:
    """The daemon, the central system behind a faulty link, and the link."""

    daemon: Daemon
    central: GatedCentralSystem
    link: TcpProxy


@pytest.fixture
def rig_for(tmp_path: Path) -> Iterator[Callable[[Case], Rig]]:
    """rig_for(case): a booted daemon reaching the central system through a TcpProxy."""
    made: list[tuple[Daemon, GatedCentralSystem, TcpProxy, Path]] = []

    def make(case: Case) -> Rig:
        central = GatedCentralSystem(heartbeat_interval=300)
        central.start()
        link = TcpProxy(central.port)
        sock_dir = Path(tempfile.mkdtemp(prefix="cpnet-"))  # sun_path is 107 bytes at most
        daemon = Daemon(tmp_path, sock_dir / "ctl.sock", f"ws://127.0.0.1:{link.port}")
        made.append((daemon, central, link, sock_dir))
        config = daemon.config_path.read_text()
        config = config.replace(
            "ping_interval_s = 30.0",
            f"ping_interval_s = {PING_INTERVAL_S}\npong_timeout_s = {PONG_TIMEOUT_S}",
        )
        config = config.replace("call_timeout_s = 10.0", f"call_timeout_s = {case.call_timeout_s}")
        daemon.config_path.write_text(config)
        boot(
            daemon,
            central,
            **{**FAST_KEYS, "TransactionMessageRetryInterval": str(case.retry_interval_s)},
        )
        return Rig(daemon, central, link)

    yield make
    for daemon, central, link, sock_dir in made:
        daemon.stop()
        central.release()
        link.close()
        central.close()
        shutil.rmtree(sock_dir, ignore_errors=True)


def _alive(daemon: Daemon) -> None:
    assert daemon.process is not None and daemon.process.poll() is None, (
        f"daemon exited\n{daemon.log_tail()}"
    )


def _relay(status: dict[str, Any]) -> bool:
    relay: bool = status["connectors"][0]["relay"]
    return relay


def _boots(central: GatedCentralSystem) -> int:
    return len(central.calls("BootNotification"))


def _watch(
    daemon: Daemon,
    until: Callable[[dict[str, Any]], object],
    relay: bool,
    timeout: float,
    what: str,
) -> dict[str, Any]:
    """Wait for `until(status)`; at every status seen on the way the daemon is alive and the
    relay is `relay` (Daemon.wait fails if the process exits)."""

    def check(status: dict[str, Any]) -> object:
        assert _relay(status) is relay, f"relay {_relay(status)} while waiting for {what}"
        return until(status)

    return daemon.wait(check, timeout, what)


def _charge(rig: Rig) -> int:
    """Plug, tap, Start acknowledged, relay closed; the transaction id."""
    rig.daemon.do("plug", connector=1)
    rig.daemon.do("tap", id_tag=TAG)
    connector = rig.daemon.wait_connector(
        lambda c: c["relay"] is True and c["transaction"] and c["transaction"]["id"] is not None,
        what="charging with an acknowledged Start",
    )
    tid: int = connector["transaction"]["id"]
    return tid


def _stop(rig: Rig, how: Stop) -> None:
    """The user ends the session; the relay is open at once, whatever the link does."""
    if how is Stop.TAP:
        rig.daemon.do("tap", id_tag=TAG)
    else:
        rig.daemon.do("unplug", connector=1)
    rig.daemon.wait_connector(
        lambda c: c["relay"] is False and c["transaction"] is None,
        AT_ONCE_S,
        f"relay open at once after {how}",
    )


def _fault(rig: Rig, case: Case) -> None:
    """Apply the fault; return once the daemon is in it (charging goes on throughout)."""
    daemon, link = rig.daemon, rig.link
    if case.fault is Fault.HALF_OPEN:
        link.mode = LinkMode.BLACKHOLE
        if case.during:  # the daemon does not know yet: the Stop goes into the void
            _stop(rig, case.stop)
        _watch(
            daemon,
            lambda s: s["connection"] != "connected",
            not case.during,
            DETECT_S,
            "the half-open link detected (no pong)",
        )
    elif case.fault is Fault.CUT:
        link.cut()
    elif case.fault is Fault.DOWN:
        link.mode = LinkMode.DOWN
        link.cut()
        _watch(daemon, lambda s: s["connection"] != "connected", True, 10.0, "link down")
        _watch(
            daemon,
            lambda s: s["queued_messages"] >= 1,
            True,
            10.0,
            "MeterValues queued while offline",
        )
        status = daemon.do("status")
        assert status["connectors"][0]["transaction"] is not None, (
            "a lost link alone does not stop a transaction (OCPP 1.6 §4.8)"
        )
        _stop(rig, case.stop)
    elif case.fault is Fault.SLOW:
        rig.central.hold("StopTransaction")
        _stop(rig, case.stop)
        assert not [c for c in rig.central.calls("StopTransaction") if c.answer is not None], (
            "the relay opened before any Stop was acknowledged"
        )
        wait_until(
            lambda: "not answered in time" in rig.daemon.log_path.read_text(),
            10.0,
            "the Stop timed out on the live link (logged at INFO)",
        )
        assert _stop_attempts(rig.daemon) == 0, "a timeout is not a failed attempt (§3.7)"
        rig.central.release()  # the late answer goes out before the resend is due


def _stop_attempts(daemon: Daemon) -> int:
    """Failed attempts the daemon recorded for its queued StopTransaction (0 if none)."""
    path = daemon.workdir / "state" / DATABASE_FILE
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        row = db.execute(
            "SELECT max(attempts) FROM outbox WHERE action = 'StopTransaction'"
        ).fetchone()
    return int(row[0] or 0)


def _heal(rig: Rig, case: Case) -> None:
    if case.fault in (Fault.HALF_OPEN, Fault.DOWN):
        rig.link.mode = LinkMode.PASS
        rig.link.cut()  # a reconnect attempt stuck in the blackhole would wait out its timeout


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "case", CASES, ids=lambda c: f"{c.fault}-{c.stop}-{'during' if c.during else 'after'}"
)
def test_daemon_survives_network_fault_while_charging(
    rig_for: Callable[[Case], Rig], case: Case
) -> None:
    rig = rig_for(case)
    daemon, central = rig.daemon, rig.central
    tid = _charge(rig)
    boots = _boots(central)

    _fault(rig, case)
    _alive(daemon)
    _heal(rig, case)

    stopped = case.during
    if case.fault is not Fault.SLOW:
        _watch(
            daemon,
            lambda _s: _boots(central) > boots,
            not stopped,
            DETECT_S,
            "a BootNotification on the new connection (§4.2)",
        )
    settled = _watch(
        daemon,
        lambda s: (
            s["connection"] == "connected"
            and s["registration"] == "Accepted"
            and s["queued_messages"] == 0
        ),
        not stopped,
        DETECT_S,
        "reconnected, Accepted, queue delivered",
    )
    if case.fault is Fault.SLOW:
        assert _boots(central) == boots, "a late answer does not cost the link"
    if not stopped:
        connector = settled["connectors"][0]
        assert connector["transaction"]["id"] == tid, "the same transaction charged through"
        _stop(rig, case.stop)
        daemon.wait_settled()

    stops = central.calls("StopTransaction")
    assert len(stops) == 1 and stops[0].answer is not None, stops
    if case.fault is Fault.SLOW:
        _late_answer_completes_the_stop(rig)
    assert {c.payload["transactionId"] for c in stops} == {tid}, stops
    starts = [c for c in central.calls("StartTransaction") if c.answer is not None]
    assert [c.answer["transactionId"] for c in starts if c.answer] == [tid]
    found = audit(central, {TAG})
    assert found.sessions == 1 and found.lost_starts == found.lost_stops == (), found
    assert found.stray_stops == () and found.meter_violations == (), found
    assert found.duplicates["StartTransaction"] == 0, found
    assert found.duplicates["StopTransaction"] == 0, "the Stop reached the CSMS once"
    assert found.duplicates["MeterValues"] <= 1, "at most the sample in flight at the fault"
    _alive(daemon)
    assert _relay(daemon.do("status")) is False


def _late_answer_completes_the_stop(rig: Rig) -> None:
    """SLOW: the Stop timed out on a live link and its answer came after the call timeout.
    A timeout is not a failed attempt and a late CALLRESULT still counts (OCPP 1.6 §3.7,
    OCPP-J 1.6 §4.1.1): the Stop is delivered by that answer and never resent, the link kept."""
    from ocpp.v16 import call

    # A round trip after the late answer: the daemon has read it and is still serving.
    answer = rig.central.call(CHARGEPOINT_ID, call.GetConfiguration(key=["HeartbeatInterval"]))
    assert answer.configuration_key, answer
    assert len(rig.central.calls("StopTransaction")) == 1, "no Stop after the answered one"
    assert rig.daemon.do("status")["queued_messages"] == 0
