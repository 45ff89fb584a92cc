"""Checks that span keys: pins and serial ports used twice, csms/mqtt combinations, secrets."""

from __future__ import annotations

import dataclasses
import stat
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from cpagent.config.connector_sections import (
    EVSE_DEFAULT_BAUD,
    ConnectorConfig,
    EvseConfig,
    MeterConfig,
)
from cpagent.config.listen import ListenError, exposure_problem, parse_listen
from cpagent.config.rules import Problem, Severity, rule_of
from cpagent.config.sections import ChargepointConfig, CsmsConfig, MqttConfig, RfidConfig, WebConfig

Add = Callable[[Problem], None]
PIN_KEYS = ("relay_pin", "plug_pin", "relay_feedback_pin")
SHARED_BUS_DRIVERS = ("sdm630", "sdm120", "sdm72", "evse-din")  # Modbus RTU: one bus, units


def cross_checks(
    data: Mapping[str, Any], sections: dict[str, Any], problems: list[Problem]
) -> None:
    """Problems between keys; pins and ports are read from the raw tables, so they are
    checked even where other keys of the same table are bad."""
    add = problems.append
    cp: ChargepointConfig | None = sections.get("chargepoint")
    csms: CsmsConfig | None = sections.get("csms")
    if csms is not None:
        _check_csms(csms, cp, sections, add)
    mqtt: MqttConfig | None = sections.get("mqtt")
    if mqtt is not None:
        _check_mqtt(mqtt, cp, add)
    ports = _check_connectors(data.get("connector"), add)
    rfid: RfidConfig | None = sections.get("rfid")
    if rfid is not None and rfid.port is not None and rfid.port in ports:
        add(Problem("rfid.port", f"port {rfid.port} already used by {ports[rfid.port]}"))
    web: WebConfig | None = sections.get("web")
    if web is not None:
        _check_web(web, add)


def _check_web(web: WebConfig, add: Add) -> None:
    """`[web] listen` is a usable host:port, and beyond loopback only with a password."""
    try:
        where = parse_listen(web.listen)
    except ListenError as exc:
        add(Problem("web.listen", str(exc)))
        return
    problem = exposure_problem(where, web.password)
    if problem is not None:
        add(Problem("web.listen", problem))


def _check_connectors(value: Any, add: Add) -> dict[str, str]:
    """Each GPIO pin used once; each serial port by one device, or by Modbus devices with
    different units (meters and EVSE-DIN controllers may share an RS-485 bus)."""
    if not isinstance(value, list):
        return {}
    pins: dict[int, str] = {}
    ports: dict[str, str] = {}
    for index, table in enumerate(value, start=1):
        if not isinstance(table, dict):
            continue
        where = f"connector[{index}]"
        evse = table.get("evse")
        evse = evse if isinstance(evse, dict) else {}
        found = [(f"{where}.{name}", _valid(ConnectorConfig, table, name)) for name in PIN_KEYS]
        found.append((f"{where}.evse.pwm_pin", _valid(EvseConfig, evse, "pwm_pin")))
        for key_path, pin in found:
            if pin is None:
                continue
            if pin in pins:
                add(Problem(key_path, f"pin {pin} already used by {pins[pin]}"))
            else:
                pins[pin] = key_path
        for name, cls in (("meter", MeterConfig), ("evse", EvseConfig)):
            device = table.get(name)
            if isinstance(device, dict):
                _claim_port(cls, device, f"{where}.{name}", ports, add)
        _check_heartbeat(evse, f"{where}.evse", add)
    return ports


def _check_heartbeat(evse: dict[str, Any], where: str, add: Add) -> None:
    """The board's heartbeat supervision is pulsed at every read: an interval under two
    reads would fall back to 6 A between reads."""
    beat = _valid(EvseConfig, evse, "heartbeat_s")
    poll = evse.get("poll_interval_s", _default(EvseConfig, "poll_interval_s"))
    if not beat or isinstance(poll, bool) or not isinstance(poll, int | float) or poll <= 0:
        return
    if beat < 2 * poll:
        add(
            Problem(
                f"{where}.heartbeat_s",
                f"{beat} s is less than twice poll_interval_s ({poll:g} s): the board would "
                "fall back to 6 A between two reads",
            )
        )


def _claim_port(
    cls: type, device: dict[str, Any], where: str, ports: dict[str, str], add: Add
) -> None:
    driver, port = device.get("driver", _default(cls, "driver")), device.get("port")
    if not isinstance(port, str) or driver in ("sim", "pwm"):
        return
    if driver not in SHARED_BUS_DRIVERS:  # a point-to-point link (OpenEVSE RAPI)
        if port in ports:
            add(Problem(f"{where}.port", f"port {port} already used by {ports[port]}"))
        ports[port] = where
        ports[f"{port}#exclusive"] = where
        return
    if f"{port}#exclusive" in ports:
        add(Problem(f"{where}.port", f"port {port} already used by {ports[port]}"))
        return
    unit = _valid(cls, device, "unit")
    if unit is None:
        return
    bus_key = f"{port}#{unit}"  # devices may share one RS-485 bus, but not one bus address
    if bus_key in ports:
        add(Problem(f"{where}.unit", f"unit {unit} on {port} already used by {ports[bus_key]}"))
    ports[bus_key] = where
    ports.setdefault(port, where)
    # One Modbus client per port, so one line speed: the daemon would refuse it at start.
    # no `baudrate`: the default, 9600 for meters and evse-din alike; a bad one: its own problem
    baud = _valid(cls, device, "baudrate") or EVSE_DEFAULT_BAUD["evse-din"]
    first = ports.setdefault(f"{port}#baud", f"{baud} {where}")
    first_baud, first_where = first.split(" ", 1)
    if first_baud != str(baud):
        add(
            Problem(
                f"{where}.baudrate",
                f"{baud} on {port}, but {first_where} uses {first_baud} there: devices on one "
                "RS-485 bus need one baud rate",
            )
        )


def _valid(cls: type, table: dict[str, Any], name: str) -> int | None:
    """The table's integer `name` (else the field's default) if its Rule accepts it."""
    value = table.get(name, _default(cls, name))
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return value if rule_of(f).refusal(value) is None else None


def _default(cls: type, name: str) -> Any:
    default = next(f.default for f in dataclasses.fields(cls) if f.name == name)
    return None if default is dataclasses.MISSING else default


def _check_csms(
    csms: CsmsConfig, cp: ChargepointConfig | None, sections: dict[str, Any], add: Add
) -> None:
    if csms.url is None:
        if csms.transport == "websocket":
            add(Problem("csms.url", 'missing required key (csms.transport = "websocket")'))
        scheme, path = "", ""
    else:
        scheme, path = urlsplit(csms.url).scheme, urlsplit(csms.url).path
    if csms.transport == "websocket" and csms.url is not None and scheme not in ("ws", "wss"):
        add(Problem("csms.url", f"must start with ws:// or wss://, not {csms.url!r}"))
    if scheme == "wss" and csms.password is None and csms.cert_file is None:
        add(
            Problem(
                "csms.url",
                "wss:// needs csms.password or cert_file and key_file "
                "(OCPP 1.6 security profile 2 or 3)",
            )
        )
    if cp is not None and path.rstrip("/").endswith("/" + cp.id):
        add(
            Problem(
                "csms.url",
                "ends with the chargepoint id, which is appended again; remove it",
                Severity.WARNING,
            )
        )
    _check_tls_files("csms", csms, add)
    if csms.backoff_max_s < csms.backoff_min_s:
        add(Problem("csms.backoff_max_s", "must not be less than csms.backoff_min_s"))
    if csms.transport == "mqtt" and "mqtt" not in sections:
        add(Problem("mqtt", 'missing required [mqtt] table (csms.transport = "mqtt")'))


def _check_mqtt(mqtt: MqttConfig, cp: ChargepointConfig | None, add: Add) -> None:
    _check_tls_files("mqtt", mqtt, add)
    if mqtt.cert_file is not None and not mqtt.tls:
        add(Problem("mqtt.cert_file", "a client certificate needs mqtt.tls = true"))
    if mqtt.password is not None and mqtt.username is None:
        add(Problem("mqtt.username", "missing: mqtt.password is set"))
    if cp is not None and mqtt.username is not None and mqtt.username != cp.id:
        add(
            Problem(
                "mqtt.username",
                f"is not the chargepoint id {cp.id!r}: a broker ACL with "
                "%u (README, Security) will not let it use its own topics",
                Severity.WARNING,
            )
        )


def _check_tls_files(section: str, table: CsmsConfig | MqttConfig, add: Add) -> None:
    for name in ("ca_file", "cert_file", "key_file"):
        file = getattr(table, name)
        if file is not None and not file.is_file():
            add(Problem(f"{section}.{name}", f"no such file: {file}"))
    if (table.cert_file is None) != (table.key_file is None):
        add(Problem(f"{section}.cert_file", "cert_file and key_file must be given together"))


def secret_checks(data: Mapping[str, Any], mode: int, problems: list[Problem]) -> None:
    """Warn when a password sits in a file other users can read.

    Group-readable is expected (root:cpagent 0640 under systemd), so only world-readable warns.
    """
    if not mode & stat.S_IROTH:
        return
    for section in ("csms", "mqtt", "web"):
        table = data.get(section)
        if isinstance(table, dict) and table.get("password"):
            problems.append(
                Problem(
                    f"{section}.password",
                    "secret in a world-readable file (chmod o-r)",
                    Severity.WARNING,
                )
            )
