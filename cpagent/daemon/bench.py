"""Bench commands (`cpagent ctl ...`) acting on simulated hardware; refused on real hardware.

Rule (README, "Security"): a command acts only on a device that is simulated (plug/unplug:
mock GPIO or the simulated EVSE; tap: the simulated reader; fault, clear-fault, ev-load: the
simulated meter; ev: the simulated EV and EVSE of `[connector.evse] driver = "sim"`).
Those that can lead to closing a relay or change the energy billed - tap, clear-fault,
ev-load - also need the relays to be simulated (mock GPIO), unless `[control]
allow_ctl_with_real_relays = true` says this is a bench rig wired to real contactors.
`fault` only ever opens a relay, so a simulated meter is enough for it."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from cpagent.daemon.hardware import ConnectorHardware, Hardware
from cpagent.daemon.loop import CommandError
from hw.events import EvseFault, FaultCode
from hw.interfaces import FaultInjectable

if TYPE_CHECKING:
    from hw.evse.pilot_sim import SimPilotCircuit
    from hw.evse.sim import SimEvse

COMMANDS = ("plug", "unplug", "tap", "fault", "clear-fault", "ev-load", "ev")
FAULT_CODES = tuple(code.value for code in FaultCode)
EVSE_FAULTS = tuple(fault.value for fault in EvseFault)
EV_ACTIONS = ("charge", "stop", "fault", "clear")


class BenchControls:
    """Carries out bench commands; any application can delegate `command()` to it.

    Requests are the control-socket objects: `{"cmd": "plug", "connector": 1}`,
    `{"cmd": "tap", "id_tag": "04A1B2C3D4"}`, `{"cmd": "fault", "connector": 1,
    "code": "PowerMeterFailure"}`, `{"cmd": "ev-load", "connector": 1, "watts": 7400}`.
    """

    def __init__(self, hardware: Hardware) -> None:
        self._hw = hardware

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd = request.get("cmd")
        if cmd == "tap":
            return self._tap(request.get("id_tag"))
        if cmd not in COMMANDS:
            raise CommandError(f"unknown command {cmd!r}; known: status, {', '.join(COMMANDS)}")
        conn = self._connector(request.get("connector"))
        if cmd == "ev":
            return self._ev(conn, request.get("what"), request.get("code"))
        if cmd in ("plug", "unplug"):
            if _sim_evse(conn) is not None:
                return self._ev(conn, cmd, None)
            return self._plug(conn, cmd == "plug")
        injectable = conn.meter
        if not isinstance(injectable, FaultInjectable):
            raise CommandError(
                f"connector {conn.id}: meter is a real {conn.config.meter.driver}; "
                'faults and loads apply to driver = "sim" only'
            )
        if cmd != "fault":
            self._real_relays_guard(cmd)
        if cmd == "fault":
            code = request.get("code")
            if code not in FAULT_CODES:
                raise CommandError(f"code must be one of {', '.join(FAULT_CODES)}, not {code!r}")
            injectable.inject_fault(code)
            return {"connector": conn.id, "fault": code}
        if cmd == "clear-fault":
            injectable.clear_fault()
            return {"connector": conn.id, "fault": None}
        watts = request.get("watts")
        if (
            isinstance(watts, bool)
            or not isinstance(watts, int | float)
            or not math.isfinite(watts)
            or watts < 0
        ):  # JSON lines may carry NaN/Infinity
            raise CommandError(f"watts must be a number >= 0, not {watts!r}")
        injectable.set_load_w(float(watts))
        return {"connector": conn.id, "ev_load_w": float(watts)}

    def _real_relays_guard(self, cmd: str) -> None:
        if not self._hw.simulated and not self._hw.ctl_on_real_relays:
            raise CommandError(
                f"{cmd} refused: the relays are real GPIO, and a simulated {cmd} could close "
                "one or change the energy billed; on a bench rig set [control] "
                "allow_ctl_with_real_relays = true"
            )

    def _connector(self, value: Any) -> ConnectorHardware:
        if isinstance(value, bool) or not isinstance(value, int):
            raise CommandError(f"connector must be a connector number, not {value!r}")
        try:
            return self._hw.connector(value)
        except KeyError:
            count = len(self._hw.connectors)
            raise CommandError(f"no connector {value} (this chargepoint has 1-{count})") from None

    def _plug(self, conn: ConnectorHardware, plugged: bool) -> dict[str, Any]:
        from hw.pins import drive_mock_pin

        if conn.config.plug_pin is None:
            raise CommandError(f"connector {conn.id} has no plug_pin configured")
        if not self._hw.simulated:
            raise CommandError(
                f"connector {conn.id}: plug input is real GPIO; "
                'plug/unplug work with [gpio] pin_factory = "mock" only'
            )
        drive_mock_pin(self._hw.pin_factory, conn.config.plug_pin, plugged)
        return {"connector": conn.id, "plugged": plugged}

    def _ev(self, conn: ConnectorHardware, what: Any, code: Any) -> dict[str, Any]:
        """The simulated EV and EVSE (`[connector.evse] driver = "sim"`, or `"pwm"` on mock
        pins): plug, charge (S2 closed: state C once >= 6 A is offered), stop (state B),
        fault CODE, clear."""
        evse = _sim_evse(conn)
        if evse is None:
            raise CommandError(
                f'connector {conn.id}: ev needs [connector.evse] driver = "sim" '
                '(or "pwm" with [gpio] pin_factory = "mock")'
            )
        if what == "plug":
            evse.plug()
        elif what == "unplug":
            evse.unplug()
        elif what == "charge" or what == "stop":
            if what == "charge" and conn.config.relay_pin is not None:
                self._real_relays_guard("ev charge")  # state C may follow a closed relay
            evse.request_charge(what == "charge")
        elif what == "fault":
            if code not in EVSE_FAULTS:
                raise CommandError(f"code must be one of {', '.join(EVSE_FAULTS)}, not {code!r}")
            try:
                evse.inject_fault(code)
            except ValueError as exc:  # a pwm pilot circuit shows pilot faults only
                raise CommandError(f"connector {conn.id}: {exc}") from None
        elif what == "clear":
            evse.clear_fault()
        else:
            raise CommandError(f"ev action must be one of {', '.join(EV_ACTIONS)}, not {what!r}")
        if conn.evse_poller is not None:
            conn.evse_poller.poke()  # the owner hears of it at once, not at the next poll
        return {"connector": conn.id, "ev": what, "pilot": evse.vehicle.pilot.value}

    def _tap(self, id_tag: Any) -> dict[str, Any]:
        if not isinstance(id_tag, str) or not 1 <= len(id_tag) <= 20:
            # OCPP 1.6 §7.28 IdToken is CiString20Type
            raise CommandError(f"id_tag must be a string of 1-20 characters, not {id_tag!r}")
        reader = self._hw.reader
        if reader is None:
            raise CommandError("no card reader running (see [rfid] and the start-up log)")
        tap = getattr(reader, "tap", None)
        if tap is None:
            raise CommandError('the card reader is real; tap needs [rfid] driver = "sim"')
        self._real_relays_guard("tap")
        if tap(id_tag) is False:
            raise CommandError("the simulated card reader is faulted or stopped")
        return {"id_tag": id_tag}


def _sim_evse(conn: ConnectorHardware) -> SimEvse | SimPilotCircuit | None:
    """The simulated EV of a connector: a sim EVSE's, or a mock-pin pwm pilot's."""
    from hw.evse.sim import SimEvse

    return conn.evse if isinstance(conn.evse, SimEvse) else conn.pilot_circuit
