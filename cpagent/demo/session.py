"""The charging session the demo plays: each step acts, then waits (bounded) on a condition."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cpagent.csms.errors import BadCall, CallErrorReceived, CallTimedOut, NotConnected
from cpagent.csms.server import CentralSystem
from cpagent.demo.agent import AgentProcess, DemoError
from cpagent.demo.timeline import Timeline

JsonObject = dict[str, Any]
POLL_S = 0.05  # how often agent-side conditions are re-checked
MONITOR_S = 0.1  # how often the hardware monitor samples the agent's status

STEPS = (
    "start the central system",
    "start the chargepoint agent (BootNotification)",
    "CSMS sets MeterValueSampleInterval",
    "simulated EV asks for {load:g} W",
    "plug a cable into connector {connector}",
    "card tap {id_tag}",
    "charging: meter values rise",
    "CSMS sends RemoteStopTransaction",
    "unplug the cable",
    "stop the agent; relays open",
)


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """What the session uses; every wait is bounded by `step_timeout_s`."""

    chargepoint_id: str
    connector: int = 1
    id_tag: str = "04A1B2C3D4"
    load_w: float = 7360.0  # 32 A x 230 V: all the built-in demo connector allows
    sample_interval_s: int = 1
    meter_values: int = 2  # MeterValues with rising energy before the remote stop
    step_timeout_s: float = 10.0


class HardwareMonitor:
    """Samples the agent's status and puts relay, plug and power changes on the timeline."""

    def __init__(self, agent: AgentProcess, timeline: Timeline, connector: int) -> None:
        self._agent, self._timeline, self._connector = agent, timeline, connector
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-monitor", daemon=True)
        self._last: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        self._started = True
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10.0)

    def _run(self) -> None:
        while not self._stop.wait(MONITOR_S):
            status = self._agent.status()
            if status is not None:
                self.observe(status)

    def observe(self, status: JsonObject) -> None:
        """Report what changed since the last status seen (also called by the session's waits,
        so a change it waited for is on the timeline before the next step starts)."""
        conn = _connector(status, self._connector)
        if conn is None or not self._started:
            return
        with self._lock:
            self._compare(conn)

    def _compare(self, conn: JsonObject) -> None:
        relay = bool(conn.get("relay"))
        if self._last.get("relay", False) != relay:
            self._timeline.hardware(
                f"relay {'closed' if relay else 'open'} on connector {self._connector}", relay=relay
            )
        meter = conn.get("meter") or {}
        power = round(float(meter.get("power_w", 0.0)))
        if self._last.get("power_w", 0) != power:
            energy = float(meter.get("energy_wh", 0.0))
            self._timeline.hardware(
                f"meter reads {power} W, {energy:.1f} Wh", power_w=power, energy_wh=round(energy, 3)
            )
        self._last = {"relay": relay, "power_w": power}


class ChargingSession:
    """Plays the ten steps against a started `CentralSystem` and a not yet started agent."""

    def __init__(
        self,
        csms: CentralSystem,
        agent: AgentProcess,
        timeline: Timeline,
        settings: SessionSettings,
        monitor: HardwareMonitor,
    ) -> None:
        self._csms, self._agent, self._tl, self._s = csms, agent, timeline, settings
        self._monitor = monitor
        self._step = 0

    @property
    def step(self) -> int:
        """The step being played (1-based; 0 before the first)."""
        return self._step

    def titles(self) -> list[str]:
        s = self._s
        return [t.format(load=s.load_w, connector=s.connector, id_tag=s.id_tag) for t in STEPS]

    def next_step(self) -> None:
        self._step += 1
        self._tl.step(self._step, self.titles()[self._step - 1])

    def play(self) -> JsonObject:
        """Steps 2-9 (step 1 is the caller's); returns the finished transaction as seen."""
        s, cp = self._s, self._s.chargepoint_id
        self.next_step()
        self._agent.start()
        self._tl.info(f"agent pid {self._agent.pid}, log {self._agent.log_path}")
        self._wait_csms("the BootNotification", lambda v: _booted(v, cp))
        status = self._wait_agent(
            "registration Accepted", lambda st: st.get("registration") == "Accepted"
        )
        self._monitor.start()
        self._tl.info(
            f"agent reports CSMS {status.get('connection')}, "
            f"registration {status.get('registration')}"
        )

        self.next_step()
        answer = self._call(
            "ChangeConfiguration",
            {"key": "MeterValueSampleInterval", "value": str(s.sample_interval_s)},
        )
        if answer.get("status") != "Accepted":
            raise DemoError(f"ChangeConfiguration answered {answer.get('status')}")

        self.next_step()
        self._agent.ctl({"cmd": "ev-load", "connector": s.connector, "watts": s.load_w})
        self._tl.hardware(f"ev-load {s.load_w:g} W on connector {s.connector}")

        self.next_step()
        self._agent.ctl({"cmd": "plug", "connector": s.connector})
        self._tl.hardware(f"plug connector {s.connector}")
        self._wait_csms(
            "StatusNotification Preparing",
            lambda v: _connector_status(v, cp, s.connector) == "Preparing",
        )

        self.next_step()
        self._agent.ctl({"cmd": "tap", "id_tag": s.id_tag})
        self._tl.hardware(f"card tap {s.id_tag}")
        view = self._wait_csms("StartTransaction", lambda v: _active(v, cp) is not None)
        tx = _active(view, cp)
        assert tx is not None
        self._wait_agent("the relay to close", lambda st: _relay(st, s.connector) is True)

        self.next_step()
        self._wait_csms(
            f"{s.meter_values} MeterValues with rising energy",
            lambda v: _rising(v, tx["transactionId"], s.meter_values),
        )

        self.next_step()
        answer = self._call("RemoteStopTransaction", {"transactionId": tx["transactionId"]})
        if answer.get("status") != "Accepted":
            raise DemoError(f"RemoteStopTransaction answered {answer.get('status')}")
        view = self._wait_csms("StopTransaction", lambda v: _stopped(v, tx["transactionId"]))
        self._wait_agent(
            "the relay open and the meter at 0 W",
            lambda st: _relay(st, s.connector) is False and _power(st, s.connector) == 0,
        )

        self.next_step()
        self._agent.ctl({"cmd": "unplug", "connector": s.connector})
        self._tl.hardware(f"unplug connector {s.connector}")
        self._wait_csms(
            "StatusNotification Available",
            lambda v: _connector_status(v, cp, s.connector) == "Available",
        )
        self._wait_agent("every relay open, cable out", _all_open_unplugged)
        return next(t for t in view["transactions"] if t["transactionId"] == tx["transactionId"])

    # -- waits ------------------------------------------------------------------------------
    def _call(self, action: str, payload: JsonObject) -> JsonObject:
        self._agent.require_running()
        try:
            return self._csms.call(
                self._s.chargepoint_id, action, payload, timeout=self._s.step_timeout_s
            )
        except (NotConnected, CallTimedOut, CallErrorReceived, BadCall) as exc:
            raise DemoError(f"{action}: {type(exc).__name__}: {exc}") from None

    def _wait_csms(self, what: str, predicate: Callable[[JsonObject], bool]) -> JsonObject:
        """Wait (bounded) until the central system's view satisfies `predicate`."""
        deadline = time.monotonic() + self._s.step_timeout_s
        matched: list[JsonObject] = []

        def check(view: JsonObject) -> bool:
            if predicate(view):
                matched.append(view)
                return True
            return False

        while True:
            self._agent.require_running()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DemoError(f"gave up after {self._s.step_timeout_s:g} s waiting for {what}")
            if self._csms.wait_for(check, min(remaining, 0.5)):
                return matched[-1]

    def _wait_agent(self, what: str, predicate: Callable[[JsonObject], bool]) -> JsonObject:
        """Poll the agent's status (bounded) until `predicate` holds."""
        deadline = time.monotonic() + self._s.step_timeout_s
        pause = threading.Event()
        while True:
            self._agent.require_running()
            status = self._agent.status()
            if status is not None:
                self._monitor.observe(status)
                if predicate(status):
                    return status
            if time.monotonic() >= deadline:
                raise DemoError(
                    f"gave up after {self._s.step_timeout_s:g} s waiting for the "
                    f"agent to report {what}"
                )
            pause.wait(POLL_S)


# -- predicates over the central system's snapshot and the agent's status -------------------
def _chargepoint(view: JsonObject, cp: str) -> JsonObject | None:
    return next((c for c in view["chargepoints"] if c["id"] == cp), None)


def _booted(view: JsonObject, cp: str) -> bool:
    record = _chargepoint(view, cp)
    return record is not None and record["connected"] and record["boot"] is not None


def _connector_status(view: JsonObject, cp: str, connector: int) -> str | None:
    record = _chargepoint(view, cp)
    state = None if record is None else record["connectors"].get(str(connector))
    return None if state is None else str(state["status"])


def _active(view: JsonObject, cp: str) -> JsonObject | None:
    return next(
        (t for t in view["transactions"] if t["chargepointId"] == cp and t["status"] == "Active"),
        None,
    )


def _stopped(view: JsonObject, transaction_id: int) -> bool:
    return any(
        t["transactionId"] == transaction_id and t["status"] == "Stopped"
        for t in view["transactions"]
    )


def energy_readings_wh(transaction: JsonObject) -> list[float]:
    """Energy.Active.Import.Register values (in Wh) of a transaction's MeterValues."""
    readings = []
    for value in transaction.get("meterValues", []):
        for sampled in value.get("sampledValue", []):
            measurand = sampled.get("measurand", "Energy.Active.Import.Register")
            if measurand != "Energy.Active.Import.Register":
                continue
            try:
                wh = float(sampled["value"])
            except (KeyError, TypeError, ValueError):
                continue
            readings.append(wh * 1000 if sampled.get("unit") == "kWh" else wh)
    return readings


def _rising(view: JsonObject, transaction_id: int, count: int) -> bool:
    tx = next((t for t in view["transactions"] if t["transactionId"] == transaction_id), None)
    if tx is None:
        return False
    readings = energy_readings_wh(tx)
    return len(readings) >= count and readings[-1] > readings[0]


def _connector(status: JsonObject, connector: int) -> JsonObject | None:
    return next((c for c in status.get("connectors", []) if c.get("id") == connector), None)


def _relay(status: JsonObject, connector: int) -> bool | None:
    conn = _connector(status, connector)
    return None if conn is None else bool(conn.get("relay"))


def _power(status: JsonObject, connector: int) -> float | None:
    conn = _connector(status, connector)
    meter = None if conn is None else conn.get("meter")
    return None if not meter else float(meter.get("power_w", 0.0))


def _all_open_unplugged(status: JsonObject) -> bool:
    return all(not c.get("relay") and not c.get("plugged") for c in status.get("connectors", []))
