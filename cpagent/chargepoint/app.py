"""The daemon's Application for OCPP 1.6J: feeds ChargePoint, sends its frames, drives hardware."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpagent.chargepoint.chargepoint import ChargePoint
from cpagent.chargepoint.commands import (
    Command,
    DeEnergiseRelay,
    EnergiseRelay,
    RestartRequested,
    SetCurrentLimit,
)
from cpagent.chargepoint.smart_charging import Electrical
from cpagent.chargepoint.store import Store
from cpagent.transports.events import FrameReceived, TransportDown, TransportUp

if TYPE_CHECKING:
    from cpagent.daemon.context import AppContext

log = logging.getLogger(__name__)

DB_NAME = "cpagent.db"
EX_TEMPFAIL = 75  # sysexits.h: exit so that systemd (Restart=on-failure) starts us again
READER_SOURCE = "rfid"  # the daemon's card reader serves the whole charge point (connector 0)


def boot_payload(ctx: AppContext) -> dict[str, Any]:
    """BootNotification.req from `[chargepoint]` (OCPP 1.6 §4.2)."""
    cp = ctx.config.chargepoint
    payload: dict[str, Any] = {"chargePointVendor": cp.vendor, "chargePointModel": cp.model}
    if cp.serial_number:
        payload["chargePointSerialNumber"] = cp.serial_number
    if cp.firmware_version:
        payload["firmwareVersion"] = cp.firmware_version
    return payload


class OcppApplication:
    """An `Application` (cpagent.daemon.loop) running the OCPP 1.6J charge point.

    Every method runs on the owner thread. After each input the charge point's frames go to
    the transport and its commands to the hardware, in the order produced.
    """

    def __init__(self, ctx: AppContext, now: float | None = None) -> None:
        self._ctx = ctx
        now = time.monotonic() if now is None else now
        state = Path(ctx.config.state.dir)
        state.mkdir(parents=True, exist_ok=True)
        self.store = Store.open(state / DB_NAME)
        connectors = ctx.hardware.connectors
        sources = {c.source: c.id for c in connectors} | {READER_SOURCE: 0}
        max_a = max((c.config.max_current_a for c in connectors), default=16.0)
        self.cp = ChargePoint(
            store=self.store, boot_payload=boot_payload(ctx),
            connector_ids=[c.id for c in connectors], boot_id=uuid.uuid4().hex,
            new_id=lambda: uuid.uuid4().hex, now=now, sources=sources,
            electrical=Electrical(max_current_a=max_a), call_timeout=ctx.config.csms.call_timeout_s,
        )
        self._connection = "disconnected"
        self._flush()

    # -- Application protocol -----------------------------------------------------------------
    def on_event(self, event: object, now: float) -> None:
        if isinstance(event, TransportUp):
            self._connection = "connected"
            self.cp.connected(now, event.subprotocol)
        elif isinstance(event, TransportDown):
            if self._connection == "connected":
                self._connection = "disconnected"
                self.cp.disconnected(now)
        elif isinstance(event, FrameReceived):
            if self._connection == "connected":
                self.cp.receive(event.text, now)
        else:
            self.cp.hw_event(event, now)
        self._flush()

    def next_deadline(self) -> float | None:
        return self.cp.next_deadline()

    def on_deadline(self, now: float) -> None:
        self.cp.tick(now)
        self._flush()

    def command(self, request: dict[str, Any]) -> dict[str, Any]:
        from cpagent.daemon.bench import BenchControls

        return BenchControls(self._ctx.hardware).handle(request)

    def status(self) -> dict[str, Any]:
        points = self.cp.charging.points
        connectors = []
        for conn in self._ctx.hardware.connectors:
            p = points[conn.id]
            connectors.append({
                "id": conn.id, "status": str(p.connector.status),
                "error_code": str(p.connector.error_code), "relay": conn.relay.energised,
                "plugged": p.plugged, "limit_a": p.limit_a,
                "meter": None if p.sample is None else {"energy_wh": p.sample.energy_wh,
                                                         "power_w": p.sample.power_w},
                "transaction": None if p.tx is None else {
                    "id_tag": p.tx.id_tag, "transaction_id": p.tx.transaction_id},
            })
        return {
            "application": "ocpp1.6",
            "chargepoint": self._ctx.config.chargepoint.id,
            "connection": self._connection,
            "registration": self.cp.registration,
            "clock_set": self.cp.clock.is_set,
            "queued_messages": len(self.store.outbox()),
            "connectors": connectors,
        }

    def shutdown(self, reason: str) -> None:
        """Stop every transaction (reason Reboot: we are going away, §7.39); the Stop is
        queued durably and goes out after the restart if it cannot go now."""
        now = time.monotonic()
        for p in self.cp.charging.points.values():
            self.cp.charging.stop(p, "Reboot", now)
        self._flush(apply_restart=False)
        self.store.close()

    # -- outputs --------------------------------------------------------------------------------
    def _flush(self, apply_restart: bool = True) -> None:
        for text in self.cp.drain_frames():
            if not self._ctx.transport.send(text):
                log.debug("frame not sent, link down: %s", text)
        for command in self.cp.drain_commands():
            self._apply(command, apply_restart)

    def _apply(self, command: Command, apply_restart: bool) -> None:
        if isinstance(command, RestartRequested):
            if apply_restart:
                from cpagent.daemon.events import ShutdownRequested

                log.warning("Reset.req (%s): restarting", command.kind)
                self._ctx.post(ShutdownRequested(f"OCPP {command.kind} reset", EX_TEMPFAIL))
            return
        try:
            conn = self._ctx.hardware.connector(command.connector_id)
        except (KeyError, LookupError):
            log.error("command for unknown connector: %r", command)
            return
        if isinstance(command, EnergiseRelay):
            conn.relay.energise()
        elif isinstance(command, DeEnergiseRelay):
            conn.relay.de_energise()
        elif isinstance(command, SetCurrentLimit):
            if conn.limiter is not None:
                conn.limiter.set_limit_a(command.amps)
            else:
                log.info("connector %d: limit %s A (no current limiter fitted)",
                         conn.id, command.amps)


def build(ctx: AppContext) -> OcppApplication:
    """The factory for `cpagent.daemon.wiring.build_application`."""
    return OcppApplication(ctx)
