"""The one builder of the daemon configs tests and bench scripts run: mock GPIO, sim devices.

Standard library only (bench/_common.py imports it and keeps its footprint small). The text
keeps one layout - `[section]` headers, one `key = value` a line, a blank line between
tables - so tests may still edit it with `str.replace` (e.g. `'[rfid]\\ndriver = "sim"\\n'`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SimConnector:
    """One `[[connector]]` on mock pins with a simulated meter (of `phases`); `evse` adds a
    `[connector.evse]` with that driver (then the pins may be None: left out)."""

    relay_pin: int | None
    plug_pin: int | None
    max_current_a: float | None = None  # None: the key is left out (the default, 16.0)
    poll_interval_s: float = 0.1
    evse: str | None = None
    phases: int | None = None  # the sim meter's `phases` (None: the key is left out, 1)


TWO_CONNECTORS = (SimConnector(17, 27), SimConnector(22, 23))


def sim_config(
    *,
    cp_id: str,
    url: str,
    model: str = "test",
    identity: Mapping[str, str] | None = None,
    csms: Mapping[str, object] | None = None,
    csms_extra: str = "",
    state: str | Path = "state",
    socket: str | Path = "ctl.sock",
    log_level: str | None = None,
    connectors: Sequence[SimConnector] = TWO_CONNECTORS,
    extra: str = "",
) -> str:
    """A whole config: `[chargepoint]` (vendor "cpagent", `identity`: serial_number and
    firmware_version), `[csms]` with `url` then `csms` keys in order (`csms_extra`: raw
    lines), state dir and control socket (relative: to the file), mock GPIO, `[log]` when
    `log_level` is given, the connectors, a simulated card reader, then `extra` (raw TOML)."""
    parts = [
        _table(
            "chargepoint", {"id": cp_id, "vendor": "cpagent", "model": model, **(identity or {})}
        ),
        _table("csms", {"url": url, **(csms or {})}) + (f"{csms_extra}\n" if csms_extra else ""),
        _table("state", {"dir": str(state)}),
        _table("control", {"socket": str(socket)}),
        _table("gpio", {"pin_factory": "mock"}),
    ]
    if log_level is not None:
        parts.append(_table("log", {"level": log_level}))
    parts += [_connector(c) for c in connectors]
    return "\n".join(parts) + "\n" + _table("rfid", {"driver": "sim"}) + extra


def _connector(conn: SimConnector) -> str:
    pins = {"relay_pin": conn.relay_pin, "plug_pin": conn.plug_pin}
    keys: dict[str, object] = {k: v for k, v in pins.items() if v is not None}
    if conn.max_current_a is not None:
        keys["max_current_a"] = conn.max_current_a
    evse = _table("connector.evse", {"driver": conn.evse}) if conn.evse is not None else ""
    meter: dict[str, object] = {"driver": "sim", "poll_interval_s": conn.poll_interval_s}
    if conn.phases is not None:
        meter["phases"] = conn.phases
    return _table("[connector]", keys) + _table("connector.meter", meter) + evse


def _table(name: str, keys: Mapping[str, object]) -> str:
    return f"[{name}]\n" + "".join(f"{key} = {_value(value)}\n" for key, value in keys.items())


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))
