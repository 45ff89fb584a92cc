"""The relay set: every contactor relay, de-energised at start, on shutdown and on every exit."""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass

from cpagent.config import Config
from cpagent.daemon.hardware import pin_factory
from cpagent.daemon.statelock import StateDirBusy, StateLock
from hw.errors import HardwareError
from hw.interfaces import RelayOutput
from hw.relay import GpioRelay

log = logging.getLogger(__name__)


class RelayGuard:
    """Holds every relay so one call opens all contactors, whatever else has failed.

    `de_energise_all` is safe from any thread and never raises: a relay that fails is logged
    and the others are still opened. `install_atexit` makes interpreter exit open them too.
    """

    def __init__(self) -> None:
        self._relays: list[tuple[str, RelayOutput]] = []
        self._lock = threading.RLock()  # re-entrant: the SIGABRT handler may interrupt a holder
        self._atexit = False

    def add(self, name: str, relay: RelayOutput) -> None:
        with self._lock:
            self._relays.append((name, relay))

    def de_energise_all(self) -> list[str]:
        """Open every relay; return the names of relays that could not be opened."""
        failed = []
        with self._lock:
            relays = list(self._relays)
        for name, relay in relays:
            try:
                if relay.energised:
                    log.warning("%s: opening contactor (stopping)", name)
                relay.de_energise()
            except Exception as exc:  # a closed relay is already open; anything else is loud
                if "closed" not in str(exc):
                    log.critical("%s: could not de-energise relay: %s", name, exc)
                    failed.append(name)
        return failed

    def close_all(self) -> None:
        """Close (de-energise and release) every relay; idempotent."""
        with self._lock:
            relays = list(self._relays)
        for name, relay in relays:
            try:
                relay.close()
            except Exception as exc:
                log.critical("%s: could not close relay: %s", name, exc)

    def install_atexit(self) -> None:
        if not self._atexit:
            atexit.register(self.de_energise_all)
            self._atexit = True

    def uninstall_atexit(self) -> None:
        if self._atexit:
            atexit.unregister(self.de_energise_all)
            self._atexit = False


# -- cpagent safe-off: the guard for deaths that run no code of ours ----------------------------
DAEMON_STOP_WAIT_S = 15.0  # a live daemon asked to stop: how long it may take (grace is 10 s)


@dataclass(frozen=True, slots=True)
class SafeOffReport:
    """What `safe_off` did: one line per device, and the devices it could not make safe."""

    lines: tuple[str, ...]
    failed: tuple[str, ...]


def safe_off(config: Config, *, daemon_wait_s: float = DAEMON_STOP_WAIT_S) -> SafeOffReport:
    """De-energise every configured relay (and zero every EVSE controller), from a process
    of its own: systemd runs it after the daemon died however it died (ExecStopPost=).

    A daemon still holding the state dir is asked to stop first (SIGTERM: it opens its
    relays and ends its transactions), because only it can drive the lines it holds and it
    would close them again for the next session. Never raises for a device.
    """
    lines: list[str] = []
    lines += _stop_live_daemon(config, daemon_wait_s)
    failed: list[str] = []
    try:
        factory = pin_factory(config)
    except HardwareError as exc:
        return SafeOffReport((*lines, f"gpio: {exc}"), ("gpio",))
    for index, conn in enumerate(config.connectors, start=1):
        if conn.relay_pin is None:
            continue  # the EVSE controller switches the contactor
        where = (
            f"connector{index} relay (GPIO{conn.relay_pin}, "
            f"{'active-high' if conn.relay_active_high else 'active-low'})"
        )
        try:
            # gpiozero drives the line inactive when the device is made (initial_value=False)
            relay = GpioRelay(
                conn.relay_pin,
                active_high=conn.relay_active_high,
                pin_factory=factory,
                source=f"connector{index}",
            )
            relay.close()
        except (HardwareError, OSError) as exc:
            lines.append(f"{where}: NOT de-energised: {exc}")
            failed.append(f"connector{index}")
        else:
            lines.append(f"{where}: de-energised")
    evse_lines, evse_failed = _zero_evse_controllers(config)
    return SafeOffReport((*lines, *evse_lines), (*failed, *evse_failed))


def _zero_evse_controllers(config: Config) -> tuple[list[str], list[str]]:
    """Offer 0 A on every EVSE controller (IEC 61851-1: no PWM, the car stops drawing and the
    controller opens its contactor): EVSE-DIN / EVSE-WB holding register 1000 = 0, OpenEVSE
    RAPI sleep, the PWM pilot off. Neither board is known to fall back to 0 A on its own
    when the host stops talking (OpenEVSE only with `$SY` heartbeat supervision armed), so
    this is the guard after a death that ran no code of ours. Never raises for a device."""
    from cpagent.daemon.evse_wiring import build_evse
    from hw.modbus_bus import BusRegistry

    lines: list[str] = []
    failed: list[str] = []
    wanted = [(i, c) for i, c in enumerate(config.connectors, start=1) if c.evse is not None]
    if not wanted:
        return lines, failed
    buses = BusRegistry()
    try:
        factory = pin_factory(config)
        for index, conn in wanted:
            assert conn.evse is not None
            where = f"connector{index} EVSE controller ({conn.evse.driver})"
            if conn.evse.driver == "sim":
                lines.append(f"{where}: simulated, nothing to zero")
                continue
            try:
                evse = build_evse(conn, buses, factory)
                try:
                    evse.set_current_a(0.0)
                finally:
                    evse.close()
            except (HardwareError, OSError, ValueError) as exc:
                lines.append(f"{where}: NOT set to 0 A: {exc}")
                failed.append(f"connector{index}.evse")
            else:
                lines.append(f"{where}: 0 A offered")
    except HardwareError as exc:
        lines.append(f"EVSE controllers: {exc}")
        failed.append("evse")
    finally:
        buses.close()
    return lines, failed


def _stop_live_daemon(config: Config, wait_s: float) -> list[str]:
    """If a daemon holds the state dir, ask it to stop and wait (bounded) until it has."""
    lock = StateLock(config.state.dir)
    deadline = time.monotonic() + wait_s
    asked: int | None = None
    while True:
        try:
            lock.acquire()
        except StateDirBusy as exc:
            if asked is None and exc.pid is not None:
                try:
                    os.kill(exc.pid, signal.SIGTERM)
                    asked = exc.pid
                except OSError as kill_exc:
                    return [
                        f"{exc}; could not ask it to stop: {kill_exc.strerror}; "
                        "de-energising anyway"
                    ]
            if time.monotonic() > deadline:
                return [f"{exc}; it did not stop within {wait_s:.0f} s; de-energising anyway"]
            time.sleep(0.05)  # poll interval of a bounded wait for the other process
            continue
        except FileNotFoundError:
            return []  # no state dir (never started here): nothing holds it
        except OSError as exc:
            return [
                f"state lock {lock.path}: {exc.strerror or exc}; cannot tell whether a "
                "daemon runs; de-energising anyway"
            ]
        lock.release()
        if asked is not None:
            return [
                f"cpagent pid {asked} was running on {config.state.dir}: asked it to stop "
                "(SIGTERM) first; it has"
            ]
        return []
