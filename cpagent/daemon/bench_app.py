"""The bench application: hardware and link status, bench commands; relays stay open.

It stands in until the OCPP 1.6 chargepoint logic (issue 6) replaces it through
`wiring.build_application`. It never energises a relay: nothing has authorised charging.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from cpagent.chargepoint.faults import Faults
from cpagent.daemon.bench import BenchControls
from cpagent.daemon.context import AppContext
from cpagent.daemon.link_status import LinkStatus, Problems, Started, note_link
from cpagent.transports.events import FrameReceived, TransportDown, TransportUp
from hw.events import CardPresented, DeviceFaulted, DeviceRecovered, MeterSampled, PlugChanged

log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class _ConnectorView:
    plugged: bool | None = None
    faults: Faults = dataclasses.field(default_factory=Faults)  # by device, as the model's
    meter: dict[str, Any] | None = None

    @property
    def fault(self) -> str | None:
        """The newest fault in force: one device recovering leaves the others' faults."""
        fault = self.faults.in_force()
        return None if fault is None else fault.code


class BenchApplication:
    """An `Application` (cpagent.daemon.loop) that reports and simulates, but never charges."""

    def __init__(self, ctx: AppContext) -> None:
        self._started = Started(time.time(), time.monotonic())
        self._ctx = ctx
        self._bench = BenchControls(ctx.hardware)
        self._link = LinkStatus(
            ctx.config.csms.transport, ctx.config.csms.protocol, since=time.time()
        )
        self._problems = Problems()  # `last_error`: the latest to begin whose cause still holds
        self._last_card: str | None = None
        self._frames_received = 0
        self._views = {c.id: _ConnectorView() for c in ctx.hardware.connectors}
        for conn in ctx.hardware.connectors:
            if conn.plug is not None:
                self._views[conn.id].plugged = conn.plug.plugged
        self._sources = {s: c.id for c in ctx.hardware.connectors for s in c.sources}

    def on_event(self, event: object, now: float) -> None:
        if isinstance(event, TransportUp):
            note_link(self._link, self._problems, event, time.time())
            log.info("connected to CSMS (%s)", event.subprotocol)
        elif isinstance(event, TransportDown):
            if self._link.connected:  # the transport logs each failed attempt
                log.warning("CSMS link down: %s", event.reason)
            note_link(self._link, self._problems, event, time.time())
        elif isinstance(event, FrameReceived):
            self._frames_received += 1
            self._link.last_received = time.time()
            log.debug("frame received (not handled by the bench application): %s", event.text)
        elif isinstance(event, CardPresented):
            self._last_card = event.id_tag
            log.info("card presented: %s", event.id_tag)
        elif isinstance(event, PlugChanged | MeterSampled | DeviceFaulted | DeviceRecovered):
            self._hardware_event(event)
        else:
            log.debug("ignored event %r", event)

    def _hardware_event(
        self, event: PlugChanged | MeterSampled | DeviceFaulted | DeviceRecovered
    ) -> None:
        view = self._views.get(self._sources.get(event.source, -1))
        if view is None:
            if isinstance(event, DeviceFaulted):
                self._fault(event)
                log.error("%s faulted: %s (%s)", event.source, event.code, event.detail)
            return
        if isinstance(event, PlugChanged):
            view.plugged = event.plugged
            log.info("%s: %s", event.source, "plugged" if event.plugged else "unplugged")
        elif isinstance(event, MeterSampled):
            view.meter = dataclasses.asdict(event.sample)
        elif isinstance(event, DeviceFaulted):
            view.faults.add(event)
            self._fault(event)
            log.error("%s faulted: %s (%s)", event.source, event.code, event.detail)
        else:
            view.faults.discard(event.source)
            self._problems.clear(event.source)
            log.info("%s recovered", event.source)

    def _fault(self, event: DeviceFaulted) -> None:
        message = f"{event.source}: {event.code}: {event.detail}"
        self._problems.raise_(event.source, message, time.time())

    def next_deadline(self) -> float | None:
        return None

    def on_deadline(self, now: float) -> None:
        return None

    def command(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._bench.handle(request)

    def status(self) -> dict[str, Any]:
        connectors = []
        for conn in self._ctx.hardware.connectors:
            view = self._views[conn.id]
            derived = "Faulted" if view.fault else "Preparing" if view.plugged else "Available"
            connectors.append(
                {
                    "id": conn.id,
                    "status": derived,  # derived locally: OCPP 1.6 §4.9 names, no CSMS involved
                    "relay": conn.relay.energised,
                    "plugged": view.plugged,
                    "fault": view.fault,
                    "meter": view.meter,
                    "transaction": None,
                }
            )
        return {
            "application": "bench",
            **self._started.facts(time.monotonic()),
            "chargepoint": self._ctx.config.chargepoint.id,
            **self._link.facts(),
            "connectors": connectors,
            "last_card": self._last_card,
            **self._problems.facts(),
            "frames_received": self._frames_received,
        }

    def begin_stop(self, reason: str, now: float) -> bool:
        return False  # nothing to wind down: no OCPP transactions here

    def shutdown(self, reason: str) -> None:
        log.info("bench application stopping: %s", reason)
