"""Shared rig of the kill -9, outage and soak campaigns: the real daemon, a gated CSMS, an audit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ocpp import messages as ocpp_messages
from websockets.asyncio.server import ServerConnection

from tests.support.central_system import CentralSystem, RecordingChargePoint
from tests.support.daemon import DaemonProcess
from tests.support.net import wait_until
from tests.support.sim_config import SimConnector, sim_config

CHARGEPOINT_ID = "CAMPAIGN-1"
CALL, CALLRESULT = 2, 3
TRANSACTION_MESSAGES = ("StartTransaction", "MeterValues", "StopTransaction")
CONNECTOR = SimConnector(17, 27, 16.0, 0.2)  # the campaigns' one connector: 16 A, 1 phase


# -- the central system ---------------------------------------------------------------------
class GatedChargePoint(RecordingChargePoint):
    """Holds a CALL of a held action until released or the link closes; records answers."""

    def __init__(
        self, cp_id: str, connection: ServerConnection, central: GatedCentralSystem
    ) -> None:
        super().__init__(cp_id, connection, central)
        self._gated = central

    async def before_call(self, message: ocpp_messages.Call) -> None:
        gate = self._gated.take_hold(message.action)
        if gate is not None:  # the answer is late: the window for a kill is open
            closed = asyncio.ensure_future(self.link.wait_closed())
            opened = asyncio.ensure_future(gate.wait())
            await asyncio.wait({closed, opened}, return_when=asyncio.FIRST_COMPLETED)
            closed.cancel()
            opened.cancel()

    def sent(self, text: str) -> None:
        self._gated.note_sent(text)  # only frames whose write succeeded


class GatedCentralSystem(CentralSystem):
    """`tests.support.CentralSystem` that can delay its answer to the next CALL of an action
    (`hold`) and keeps every answer it managed to write (`answer_to`), so a campaign can tell
    a message the chargepoint saw acknowledged from one whose answer was cut by a kill."""

    chargepoint_class = GatedChargePoint

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._gate_lock = threading.Lock()
        self._holds: dict[str, int] = {}
        self._gates: list[asyncio.Event] = []
        self._answers: dict[str, Any] = {}

    # -- gating ------------------------------------------------------------------------------
    def hold(self, action: str) -> None:
        """Delay the answer to the next CALL of `action` until `release()` or a closed link."""
        with self._gate_lock:
            self._holds[action] = self._holds.get(action, 0) + 1

    def release(self) -> None:
        """Forget pending holds and let every held CALL be answered (if its link lives)."""
        with self._gate_lock:
            self._holds.clear()
            gates, self._gates = self._gates, []
        for gate in gates:
            self.call_soon(gate.set)

    def take_hold(self, action: str) -> asyncio.Event | None:
        with self._gate_lock:
            if not self._holds.get(action):
                return None
            self._holds[action] -= 1
            gate = asyncio.Event()
            self._gates.append(gate)
            return gate

    def note_sent(self, text: str) -> None:
        message = json.loads(text)
        if message[0] == CALLRESULT:
            with self._gate_lock:
                self._answers[message[1]] = message[2]

    # -- what arrived --------------------------------------------------------------------------
    def calls(self, action: str | None = None) -> list[Call]:
        """CALLs received (of one action), in order, each with the answer written, if any."""
        with self._gate_lock:
            answers = dict(self._answers)
        out = []
        for text in self.frames():
            message = json.loads(text)
            if message[0] == CALL and (action is None or message[2] == action):
                out.append(Call(message[1], message[2], message[3], answers.get(message[1])))
        return out

    def wait_call(
        self,
        action: str,
        predicate: Callable[[dict[str, Any]], object],
        timeout: float = 10.0,
        what: str = "",
    ) -> Call:
        """Wait until a CALL of `action` whose payload matches arrived; the first such."""

        def found() -> Call | None:
            return next((c for c in self.calls(action) if predicate(c.payload)), None)

        wait_until(
            lambda: found() is not None,
            timeout,
            what or f"{action} (last calls {[c.action for c in self.calls()][-8:]})",
        )
        call = found()
        assert call is not None
        return call


@dataclass(frozen=True, slots=True)
class Call:
    """A CALL the central system received; `answer` is the CALLRESULT it wrote, or None."""

    unique_id: str
    action: str
    payload: dict[str, Any]
    answer: dict[str, Any] | None


# -- the daemon -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ProcSample:
    """What /proc says about a process at one moment."""

    rss_kb: int
    threads: int
    fds: int


class Daemon(DaemonProcess):
    """`python3 -m cpagent run` on simulated hardware; the state dir survives restarts."""

    wait_timeout_s = 15.0

    def __init__(
        self,
        workdir: Path,
        socket_path: Path,
        csms_url: str,
        log_level: str = "INFO",
        connector: SimConnector = CONNECTOR,
    ) -> None:
        super().__init__(
            workdir,
            socket_path,
            sim_config(
                cp_id=CHARGEPOINT_ID,
                url=csms_url,
                model="campaign",
                identity={"serial_number": "campaign-0001", "firmware_version": "0.1.0"},
                csms={
                    "call_timeout_s": 10.0,
                    "backoff_min_s": 0.05,
                    "backoff_max_s": 0.3,
                    "ping_interval_s": 30.0,
                },
                state=workdir / "state",
                socket=socket_path,
                log_level=log_level,
                connectors=[connector],
            ),
        )
        self.starts = 0

    def start(self) -> dict[str, Any]:
        """Start and return the first `status` answer the daemon gives."""
        self.starts += 1
        return self.launch()

    def proc(self) -> ProcSample:
        """RSS, threads and open fds of the daemon from /proc."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        fds = len(os.listdir(f"/proc/{self.pid}/fd"))
        return ProcSample(int(fields["VmRSS"].split()[0]), int(fields["Threads"]), fds)

    def wait_samples(self, count: int, timeout: float = 15.0) -> None:
        """Wait until the meter has been sampled `count` more times (events, not time)."""
        seen: list[object] = []

        def sampled(connector: dict[str, Any]) -> bool:
            stamp = (connector["meter"] or {}).get("energy_wh")
            if not seen or seen[-1] != stamp:
                seen.append(stamp)
            return len(seen) > count

        self.wait_connector(sampled, timeout, f"{count} meter samples")

    def wait_settled(self, timeout: float = 20.0) -> dict[str, Any]:
        """Connected, Accepted, nothing queued: every transaction message acknowledged."""
        return self.wait(
            lambda s: (
                s["connection"] == "connected"
                and s["registration"] == "Accepted"
                and s["queued_messages"] == 0
            ),
            timeout,
            "registration Accepted and the queue drained",
        )


@contextlib.contextmanager
def running_pair(
    workdir: Path,
    log_level: str = "INFO",
    connector: SimConnector = CONNECTOR,
) -> Iterator[tuple[Daemon, GatedCentralSystem]]:
    """A started gated central system and a daemon (not started, its one `connector`)
    pointed at it; both are torn down (the daemon SIGTERM then SIGKILL) whatever happened."""
    central = GatedCentralSystem(heartbeat_interval=300)
    central.start()
    sock_dir = Path(tempfile.mkdtemp(prefix="cpcamp-"))  # sun_path is 107 bytes at most
    daemon = Daemon(workdir, sock_dir / "ctl.sock", central.url, log_level, connector)
    try:
        yield daemon, central
    finally:
        daemon.stop()
        central.release()
        central.close()
        shutil.rmtree(sock_dir, ignore_errors=True)


def boot(daemon: Daemon, central: GatedCentralSystem, **keys: str) -> None:
    """Start the daemon, wait until accepted, then set configuration `keys`."""
    from ocpp.v16 import call

    daemon.start()
    daemon.wait_settled()
    for key, value in keys.items():
        answer = central.call(CHARGEPOINT_ID, call.ChangeConfiguration(key=key, value=value))
        assert answer.status == "Accepted", f"ChangeConfiguration {key}={value}: {answer}"


def send_local_list(central: GatedCentralSystem, id_tags: list[str]) -> None:
    """A Full local authorization list holding `id_tags`, all Accepted (§5.15)."""
    from ocpp.v16 import call

    answer = central.call(
        CHARGEPOINT_ID,
        call.SendLocalList(
            list_version=1,
            update_type="Full",
            local_authorization_list=[
                {"idTag": tag, "idTagInfo": {"status": "Accepted"}} for tag in id_tags
            ],
        ),
    )
    assert answer.status == "Accepted", f"SendLocalList: {answer}"


# -- the audit, from the central system's record alone ------------------------------------------
@dataclass(frozen=True, slots=True)
class Audit:
    """What the central system's record says about the sessions of a campaign."""

    sessions: int  # sessions with an acknowledged StartTransaction
    lost_starts: tuple[str, ...]  # charged locally, no StartTransaction acknowledged
    lost_stops: tuple[str, ...]  # acknowledged Start, no acknowledged Stop for its id
    duplicates: dict[str, int]  # per action: identical CALL payloads beyond the first
    meter_violations: tuple[str, ...]  # meterStop < meterStart, or < a sampled register
    stray_stops: tuple[int, ...]  # Stops for an id no acknowledged Start was given
    time_violations: tuple[str, ...]  # a sample or Stop stamped before its Start, a Stop
    # before a sample of its transaction


def _key(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True)


def audit(central: GatedCentralSystem, charged_tags: set[str]) -> Audit:
    """Match every session to its Start and Stop as the CSMS saw them. A session is one
    StartTransaction payload (idTag, meterStart, timestamp): a resent copy is the same."""
    starts = {}  # transactionId -> Start payload, for acknowledged Starts
    final: dict[str, tuple[str, int]] = {}  # session -> (idTag, its last acknowledged id)
    for start in central.calls("StartTransaction"):
        if start.answer is not None:
            starts[start.answer["transactionId"]] = start.payload
            final[_key(start.payload)] = (start.payload["idTag"], start.answer["transactionId"])
    stops = central.calls("StopTransaction")
    acked_stops: dict[int, int] = {}
    for stop in stops:
        if stop.answer is not None:
            tid = stop.payload["transactionId"]
            acked_stops[tid] = acked_stops.get(tid, 0) + 1
    duplicates = {}
    for action in TRANSACTION_MESSAGES:
        payloads = [_key(c.payload) for c in central.calls(action)]
        duplicates[action] = len(payloads) - len(set(payloads))
    sampled = _energy_sampled(central.calls("MeterValues"))
    violations = []
    for s in stops:
        tid, stop = s.payload.get("transactionId", -1), s.payload["meterStop"]
        if tid not in starts:
            continue
        if stop < starts[tid]["meterStart"]:
            violations.append(
                f"transaction {tid}: meterStop {stop} < meterStart {starts[tid]['meterStart']}"
            )
        if stop < sampled.get(tid, 0.0) - 0.5:  # meterStop is in whole Wh
            violations.append(
                f"transaction {tid}: meterStop {stop} < sampled register {sampled[tid]}"
            )
    return Audit(
        sessions=len(final),
        time_violations=_time_violations(starts, central.calls("MeterValues"), stops),
        lost_starts=tuple(sorted(charged_tags - {tag for tag, _ in final.values()})),
        lost_stops=tuple(sorted(tag for tag, tid in final.values() if not acked_stops.get(tid))),
        duplicates=duplicates,
        meter_violations=tuple(violations),
        stray_stops=tuple(
            sorted({s.payload.get("transactionId", -1) for s in stops} - set(starts))
        ),
    )


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _time_violations(
    starts: dict[int, dict[str, Any]], samples: list[Call], stops: list[Call]
) -> tuple[str, ...]:
    """Within each transaction: Start <= every sample <= Stop, by their own timestamps."""
    latest: dict[int, datetime] = {}
    out = []
    for c in samples:
        tid = c.payload.get("transactionId", -1)
        for value in c.payload.get("meterValue", []):
            when = _stamp(value["timestamp"])
            latest[tid] = max(latest.get(tid, when), when)
            if tid in starts and when < _stamp(starts[tid]["timestamp"]):
                out.append(f"transaction {tid}: sample at {when} before its Start")
    for c in stops:
        tid = c.payload.get("transactionId", -1)
        if tid not in starts:
            continue
        when = _stamp(c.payload["timestamp"])
        if when < max(_stamp(starts[tid]["timestamp"]), latest.get(tid, when)):
            out.append(f"transaction {tid}: Stop at {when} before its Start or a sample")
    return tuple(out)


def _energy_sampled(calls: list[Call]) -> dict[int, float]:
    """The highest Energy.Active.Import.Register (Wh) sampled per transactionId."""
    out: dict[int, float] = {}
    for c in calls:
        for value in c.payload.get("meterValue", []):
            for sv in value["sampledValue"]:
                if sv.get("measurand", "Energy.Active.Import.Register") == (
                    "Energy.Active.Import.Register"
                ):
                    wh = float(sv["value"]) * (1000.0 if sv.get("unit") == "kWh" else 1.0)
                    tid = c.payload.get("transactionId", -1)
                    out[tid] = max(out.get(tid, 0.0), wh)
    return out


def table(rows: list[tuple[str, object]]) -> str:
    """A two-column Markdown table (what the campaigns print last)."""
    width = max(len(name) for name, _ in rows)
    lines = [f"| {'figure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
    return "\n".join(lines)
