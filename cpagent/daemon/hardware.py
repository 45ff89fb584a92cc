"""The drivers a daemon runs on: one `ConnectorHardware` per outlet, gathered in `Hardware`."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cpagent.chargepoint.smart_charging import Electrical
from cpagent.config import Config, ConnectorConfig
from hw.interfaces import (
    CardReader,
    CurrentLimiter,
    EnergyMeter,
    EvseController,
    PlugInput,
    RelayOutput,
)
from hw.meters.registers import register_map

if TYPE_CHECKING:
    from gpiozero.pins import Factory

    from cpagent.daemon.evse_writer import EvseWriter
    from hw.evse.pilot_sim import SimPilotCircuit
    from hw.evse.poller import EvsePoller
    from hw.meters.poller import MeterPoller
    from hw.modbus_bus import BusRegistry

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ConnectorHardware:
    """The drivers of one connector; `id` is the OCPP connector id (1-based)."""

    id: int
    config: ConnectorConfig
    relay: RelayOutput
    plug: PlugInput | None = None
    meter: EnergyMeter | None = None
    poller: MeterPoller | None = None
    limiter: CurrentLimiter | None = None  # None: nothing can offer the EV a current limit
    evse: EvseController | None = None  # [connector.evse]: the control pilot's controller
    evse_poller: EvsePoller | None = None
    evse_writer: EvseWriter | None = None  # writes the offered current off the owner thread
    pilot_circuit: SimPilotCircuit | None = None  # a pwm pilot's simulated EV (mock pins)

    @property
    def source(self) -> str:
        """The `source` label of this connector's plug events, and its name in log lines."""
        return f"connector{self.id}"

    # Each device that can fault has its own label, so one device recovering never clears
    # another's fault (OCPP 1.6 §4.9: Faulted while any fault is in force).
    @property
    def relay_source(self) -> str:
        """The relay's label (its feedback faults: PowerSwitchFailure)."""
        return device_source(self.id, "relay")

    @property
    def meter_source(self) -> str:
        """The meter's label (its readings, read failures and faults)."""
        return device_source(self.id, "meter")

    @property
    def evse_source(self) -> str:
        """The EVSE controller's label (pilot changes and its faults)."""
        return device_source(self.id, "evse")

    @property
    def sources(self) -> tuple[str, ...]:
        """Every label this connector's devices put in their events."""
        return (self.source, self.relay_source, self.meter_source, self.evse_source)


@dataclass(slots=True)
class Hardware:
    """Every driver built from the config; `simulated` is True when GPIO uses mock pins.

    `pin_factory` is the gpiozero pin factory the relays and inputs use (None: gpiozero's
    default)."""

    pin_factory: Factory | None
    simulated: bool
    connectors: list[ConnectorHardware] = field(default_factory=list)
    reader: CardReader | None = None
    # [control] allow_ctl_with_real_relays: simulated inputs may drive real relays (a bench)
    ctl_on_real_relays: bool = False
    buses: BusRegistry | None = None  # one Modbus client per serial port (meters and EVSEs)

    def connector(self, connector_id: int) -> ConnectorHardware:
        for conn in self.connectors:
            if conn.id == connector_id:
                return conn
        raise KeyError(connector_id)

    def start(self) -> None:
        """Start the threads that post events (meter pollers, card reader)."""
        for conn in self.connectors:
            if conn.poller is not None:
                conn.poller.start()
            if conn.evse_writer is not None:
                conn.evse_writer.start()
            if conn.evse_poller is not None:
                conn.evse_poller.start()
        if self.reader is not None:
            self.reader.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop threads and release devices; relays are closed (de-energised) first."""
        for conn in self.connectors:
            writer = conn.evse_writer
            if writer is not None:
                _quietly(functools.partial(writer.stop, timeout), f"{conn.source} EVSE writer")
            _quietly(conn.relay.close, f"{conn.source} relay")
            if conn.evse is not None:  # 0 A: the EV stops drawing, the controller opens
                _quietly(conn.evse.close, f"{conn.source} EVSE controller")
        reader = self.reader
        if reader is not None:
            _quietly(lambda: reader.stop(timeout), "card reader")
        for conn in self.connectors:
            poller = conn.poller
            if poller is not None:
                _quietly(functools.partial(poller.stop, timeout), f"{conn.source} meter poller")
            if conn.meter is not None:
                _quietly(conn.meter.close, f"{conn.source} meter")
            if conn.plug is not None:
                _quietly(conn.plug.close, f"{conn.source} plug input")
            evse_poller = conn.evse_poller
            if evse_poller is not None:
                _quietly(functools.partial(evse_poller.stop, timeout), f"{conn.source} EVSE poller")
        buses = self.buses
        if buses is not None:
            _quietly(buses.close, "Modbus buses")


class ControllerContactor:
    """The RelayOutput of a connector whose EVSE controller switches the contactor itself.

    The controller closes it while it offers a current and the EV is in state C/D (IEC
    61851-1 Annex A), so `energise` only records the wish; `de_energise` offers 0 A, which
    makes the EV stop drawing and the controller open. The exit paths (RelayGuard) call it.
    """

    def __init__(self, evse: EvseController, writer: EvseWriter | None = None) -> None:
        self._evse = evse
        self._writer = writer
        self._energised = False

    @property
    def energised(self) -> bool:
        return self._energised

    def energise(self) -> None:
        self._energised = True

    def de_energise(self) -> None:
        self._energised = False
        if self._writer is not None:
            self._writer.zero_now()  # drops a pending offer: 0 A is the last word
        else:
            self._evse.set_current_a(0.0)

    def close(self) -> None:
        self._energised = False
        self._evse.close()


def device_source(connector_id: int, device: str) -> str:
    """The `source` label of one device of a connector: `connector1:meter`."""
    return f"connector{connector_id}:{device}"


def pin_factory(config: Config) -> Factory | None:
    """The configured gpiozero pin factory (None: gpiozero's default). Mock pins keep their
    output levels in the state dir, so `cpagent safe-off` sees what a killed daemon left."""
    from hw.mock_board import BOARD_FILE
    from hw.pins import make_pin_factory

    name = config.gpio.pin_factory
    if name is None:
        return None
    factory: Factory = make_pin_factory(name, board_file=config.state.dir / BOARD_FILE)
    return factory


def _quietly(action: Callable[[], object], what: str) -> None:
    try:
        action()
    except Exception as exc:
        log.error("closing %s failed: %s", what, exc)


def connector_electrical(connectors: list[ConnectorHardware]) -> Electrical:
    """Phases wired (a real meter's model says, a simulated one its `phases`) and each
    connector's rating, `max_current_a`: the most the model offers it (IEC 61851-1)."""
    phases = [
        c.config.meter.phases
        if c.config.meter.driver == "sim"
        else register_map(c.config.meter.driver).phases
        for c in connectors
    ]
    ratings = {c.id: c.config.max_current_a for c in connectors}
    return Electrical(
        phases=max(phases, default=1),
        max_current_a=max(ratings.values(), default=16.0),
        ratings=ratings,
    )
