"""An in-process rig: a ChargePoint wired to a scripted central system (a second core Session)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cpagent.chargepoint.chargepoint import ChargePoint
from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.commands import Command, FirmwareJob, ReadMeter
from cpagent.chargepoint.firmware_events import FirmwareEvent
from cpagent.chargepoint.smart_charging import Electrical
from cpagent.chargepoint.store import Store
from cpagent.core import CallAnswered, CallErrored, CallReceived, OcppError, Session
from hw.events import MeterSample, MeterSampled

from .schemas import validate

WALL0 = 1_764_460_800.0  # the central system's wall clock at monotonic 0
Answer = Callable[[dict[str, Any]], dict[str, Any] | OcppError | None]  # None: never answer
BOOT = {"chargePointVendor": "cpagent", "chargePointModel": "test-rig"}


class Rig:
    """Time, frames and hardware events moved by hand; the CSMS answers from a script."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        config: dict[str, str] | None = None,
        boot_id: str = "boot-1",
        connectors: tuple[int, ...] = (1,),
        now: float = 1000.0,
        firmware_management: bool = False,
        electrical: Electrical | None = None,
        sources: dict[str, int] | None = None,
    ) -> None:
        self.tmp_path = tmp_path
        self.electrical = electrical
        self.sources = sources  # hw event labels -> connector (None: "1" -> 1, ...)
        self.now = now
        self.boot_id = boot_id
        self.connectors = connectors
        self.firmware_management = firmware_management
        self.ids = (f"m{n}" for n in itertools.count())
        self.tx_ids = itertools.count(100)
        self.store = Store.open(tmp_path / "state.db")
        if config:
            self.store.save_config(config)
        self.script: dict[str, Answer] = {
            "BootNotification": lambda p: {
                "status": "Accepted",
                "currentTime": self.wall_text(),
                "interval": 300,
            },
            "Heartbeat": lambda p: {"currentTime": self.wall_text()},
            "StatusNotification": lambda p: {},
            "Authorize": lambda p: {"idTagInfo": {"status": "Accepted"}},
            "StartTransaction": lambda p: {
                "transactionId": next(self.tx_ids),
                "idTagInfo": {"status": "Accepted"},
            },
            "StopTransaction": lambda p: {"idTagInfo": {"status": "Accepted"}},
            "MeterValues": lambda p: {},
            "DiagnosticsStatusNotification": lambda p: {},
            "FirmwareStatusNotification": lambda p: {},
        }
        self.received: list[tuple[str, dict[str, Any], float]] = []
        self.unanswered: list[tuple[str, str]] = []  # (message id, action) left unanswered
        self.registers = {c: 0.0 for c in connectors}  # each connector's meter register, Wh
        self.powers = {c: 0.0 for c in connectors}  # and its power, W
        self.answer_reads = True  # ReadMeter commands answered at once from `registers`
        self.commands: list[Command] = []
        self.jobs: list[FirmwareJob] = []
        self.csms = Session("ocpp1.6")
        self.cp = self._make_cp()

    def _make_cp(self) -> ChargePoint:
        cp = ChargePoint(
            store=self.store,
            boot_payload=BOOT,
            connector_ids=self.connectors,
            boot_id=self.boot_id,
            new_id=lambda: next(self.ids),
            now=self.now,
            firmware_management=self.firmware_management,
            electrical=self.electrical,
            sources=self.sources,
        )
        self.cp = cp
        self._drain_commands()
        return cp

    def restart(self, boot_id: str) -> None:
        """Simulate a crash: the process state is gone, the database stays."""
        self.store.close()
        self.store = Store.open(self.tmp_path / "state.db")
        self.boot_id = boot_id
        self.csms = Session("ocpp1.6")
        self.cp = self._make_cp()

    def wall_text(self) -> str:
        return to_wire(WALL0 + self.now)

    # -- moving things ------------------------------------------------------------------------
    def connect(self) -> None:
        self.csms.connected(self.now)
        self.cp.connected(self.now)
        self.pump()

    def disconnect(self) -> None:
        self.cp.disconnected(self.now)
        self.csms.disconnected(self.now)
        self.pump()

    def _drain_commands(self) -> None:
        new = self.cp.drain_commands()
        self.commands += new
        for cmd in new:
            if isinstance(cmd, ReadMeter) and self.answer_reads:
                self.cp.hw_event(
                    MeterSampled(
                        str(cmd.connector_id),
                        MeterSample(
                            self.now,
                            self.registers[cmd.connector_id],
                            self.powers[cmd.connector_id],
                            (230.0,),
                            (self.powers[cmd.connector_id] / 230.0,),
                        ),
                        cmd.request,
                    ),
                    self.now,
                )

    def pump(self) -> None:
        for _ in range(1000):
            self._drain_commands()
            self.jobs += self.cp.drain_jobs()
            frames = self.cp.drain_frames()
            if self.csms.is_connected:
                for text in frames:
                    self.csms.receive(text, self.now)
            self._serve()
            back = [o.text for o in self.csms.drain_frames()]
            if self.cp.session.is_connected:
                for text in back:
                    self.cp.receive(text, self.now)
            if not frames and not back:
                self._drain_commands()
                self.jobs += self.cp.drain_jobs()
                return
        raise AssertionError("frames never settled")

    def _serve(self) -> None:
        for ev in self.csms.drain_events():
            if isinstance(ev, CallReceived):
                validate(ev.action, ev.payload)  # the official 1.6 schema, independent of core
                self.received.append((ev.action, ev.payload, self.now))
                answer = self.script[ev.action](ev.payload)
                if answer is None:
                    self.unanswered.append((ev.message_id, ev.action))
                    continue
                if isinstance(answer, OcppError):
                    self.csms.answer_error(ev.message_id, answer, self.now)
                else:
                    validate(ev.action, answer, response=True)
                    self.csms.answer(ev.message_id, answer, self.now)
            elif isinstance(ev, CallAnswered | CallErrored):
                self.last_answer = ev

    def advance(self, seconds: float) -> None:
        """Let time pass, visiting every deadline the charge point asks for."""
        target = self.now + seconds
        for _ in range(10000):
            deadline = self.cp.next_deadline()
            if deadline is None or deadline > target:
                break
            self.now = max(self.now, deadline)
            self.cp.tick(self.now)
            self.pump()
        self.now = target
        self.cp.tick(self.now)
        self.pump()

    def raw_answer(self, message_id: str, text: str) -> None:
        """The central system sends `text` (any frame, unchecked) for CALL `message_id`."""
        self.cp.receive(text.replace("{id}", message_id), self.now)
        self.pump()

    def event(self, ev: object) -> None:
        self.cp.hw_event(ev, self.now)
        self.pump()

    def meter(self, energy_wh: float, connector: str = "1", power_w: float = 7000.0) -> None:
        """The meter's register is `energy_wh` now; a periodic sample reports it."""
        self.registers[int(connector)] = energy_wh
        self.powers[int(connector)] = power_w
        self.event(
            MeterSampled(connector, MeterSample(self.now, energy_wh, power_w, (230.0,), (30.0,)))
        )

    def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | OcppError:
        """The central system calls the charge point; returns the answer payload or error."""
        validate(action, payload)
        self.csms.call(next(self.ids) + "c", action, payload, self.now)
        self.pump()
        ev = self.last_answer
        if isinstance(ev, CallErrored):
            return ev.error
        validate(action, ev.payload, response=True)
        return ev.payload

    def answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Like `call`, for requests that must get a CALLRESULT."""
        result = self.call(action, payload)
        assert not isinstance(result, OcppError), result
        return result

    # -- looking ------------------------------------------------------------------------------
    def hw_commands(self) -> list[Command]:
        """Commands to relays and limiters, without the meter reads asked for."""
        return [c for c in self.commands if not isinstance(c, ReadMeter)]

    def actions(self) -> list[str]:
        return [a for a, _, _ in self.received]

    def sent(self, action: str) -> list[dict[str, Any]]:
        return [p for a, p, _ in self.received if a == action]

    def statuses(self, connector: int = 1) -> list[str]:
        return [
            p["status"] for p in self.sent("StatusNotification") if p["connectorId"] == connector
        ]

    def sampled_on_trigger(self, measurand: str, energy_wh: float = 100.0) -> float:
        """Sample only `measurand`, then read connector 1's value once (TriggerMessage
        MeterValues, OCPP 1.6 §5.17) at a meter reading of `energy_wh`."""
        self.answer("ChangeConfiguration", {"key": "MeterValuesSampledData", "value": measurand})
        self.clear()
        self.meter(energy_wh, connector="1")
        self.answer("TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 1})
        [values] = self.sent("MeterValues")
        [sampled] = values["meterValue"][0]["sampledValue"]
        assert sampled["measurand"] == measurand
        return float(sampled["value"])

    def firmware(self, ev: FirmwareEvent) -> None:
        """The firmware worker reports a result."""
        self.cp.firmware_event(ev, self.now)
        self.pump()

    def clear(self) -> None:
        self.received.clear()
        self.commands.clear()
        self.jobs.clear()
