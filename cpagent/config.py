"""Load the TOML configuration into frozen dataclasses, reporting every problem by key path."""

from __future__ import annotations

import dataclasses
import difflib
import os
import stat
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Union
from urllib.parse import quote, urlsplit, urlunsplit

METER_DRIVERS = ("sdm630", "sdm120", "sdm72", "sim")
RFID_DRIVERS = ("rdm6300", "pn532", "sim", "none")
PROTOCOLS = ("ocpp1.6",)
TRANSPORTS = ("websocket", "mqtt")
PIN_FACTORIES = ("lgpio", "rpigpio", "pigpio", "native", "mock")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
MAX_SOCKET_PATH = 107  # sockaddr_un.sun_path is 108 bytes including the NUL
MIN_FRAME_BYTES = 64 * 1024  # [csms] max_frame_bytes: below this, ordinary messages are refused
CHARGEPOINT_ID_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:"
)


def _choices(*values: object) -> dict[str, Any]:
    return {"choices": values}


@dataclass(frozen=True, slots=True)
class ChargepointConfig:
    """`[chargepoint]`: identity sent in BootNotification (OCPP 1.6 §4.2) and in the URL."""

    id: str
    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None


@dataclass(frozen=True, slots=True)
class CsmsConfig:
    """`[csms]`: where the central system is and how to reach it (url: WebSocket only)."""

    url: str | None = None
    protocol: str = field(default="ocpp1.6", metadata=_choices(*PROTOCOLS))
    transport: str = field(default="websocket", metadata=_choices(*TRANSPORTS))
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    call_timeout_s: float = 30.0
    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0
    ping_interval_s: float = 30.0
    pong_timeout_s: float = 10.0
    max_frame_bytes: int = 8 * 1024 * 1024  # = transports.frame_cap.MAX_FRAME_BYTES


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """`[mqtt]`: the broker, used when `csms.transport = "mqtt"`. The username should be the
    chargepoint id: the broker ACL in README ("Security") confines each user to its topics."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    topic_prefix: str = "ocpp"
    tls: bool = False
    ca_file: Path | None = None  # else csms.ca_file, else the system's CAs
    cert_file: Path | None = None  # TLS client certificate (else csms.cert_file)
    key_file: Path | None = None


@dataclass(frozen=True, slots=True)
class StateConfig:
    """`[state]`: where the SQLite state database lives."""

    dir: Path = Path("/var/lib/cpagent")


@dataclass(frozen=True, slots=True)
class ControlConfig:
    """`[control]`: the local control socket used by `cpagent status` and `cpagent ctl`.

    Whoever can open the socket (mode 0660: the daemon's user and group) may read `status`;
    `ctl` actions need the daemon's own user, root, or membership of `ctl_group`. They act on
    simulated devices only, and those that could close a real relay or change billed energy
    (tap, clear-fault, ev-load) only with simulated GPIO, unless `allow_ctl_with_real_relays`."""

    socket: Path = Path("/run/cpagent/control.sock")
    ctl_group: str | None = None
    allow_ctl_with_real_relays: bool = False


@dataclass(frozen=True, slots=True)
class GpioConfig:
    """`[gpio]`: gpiozero pin factory name; None lets gpiozero choose."""

    pin_factory: str | None = field(default=None, metadata=_choices(*PIN_FACTORIES))


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """`[connector.meter]`: the connector's energy meter (Modbus RTU, or simulated)."""

    driver: str = field(default="sim", metadata=_choices(*METER_DRIVERS))
    port: str | None = None
    unit: int = 1
    baudrate: int = field(default=9600, metadata=_choices(*BAUDRATES))
    poll_interval_s: float = 5.0


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    """`[[connector]]`: one outlet; connector ids are 1-based in file order (OCPP 1.6 §3.4)."""

    relay_pin: int
    relay_active_high: bool = True
    plug_pin: int | None = None
    max_current_a: float = 16.0
    relay_feedback_pin: int | None = None
    plug_active_low: bool = False
    plug_pull: str = field(default="down", metadata=_choices("up", "down", "none"))
    relay_feedback_active_low: bool = False
    relay_feedback_pull: str = field(default="none", metadata=_choices("up", "down", "none"))
    meter: MeterConfig = MeterConfig()


@dataclass(frozen=True, slots=True)
class RfidConfig:
    """`[rfid]`: the card reader."""

    driver: str = field(default="none", metadata=_choices(*RFID_DRIVERS))
    port: str | None = None
    baudrate: int | None = field(default=None, metadata=_choices(*BAUDRATES))  # pn532: 115200


@dataclass(frozen=True, slots=True)
class LogConfig:
    """`[log]`: log level (the CLI's -v/--log-level overrides it)."""

    level: str = field(default="INFO", metadata=_choices(*LOG_LEVELS))


@dataclass(frozen=True, slots=True)
class FirmwareConfig:
    """`[firmware]`: UpdateFirmware (OCPP 1.6 §5.19). An empty `install_command` turns the
    Firmware Management profile off; `{file}` in it is replaced by the downloaded image."""

    install_command: tuple[str, ...] = ()
    download_dir: Path | None = None
    timeout_s: float = 600.0
    max_download_mb: int = 512
    transfer_deadline_s: float = 3600.0
    reserve_mb: int = 64


@dataclass(frozen=True, slots=True)
class DiagnosticsConfig:
    """`[diagnostics]`: what GetDiagnostics (OCPP 1.6 §5.8) bundles and uploads."""

    paths: tuple[Path, ...] = ()
    journal_unit: str | None = None


class Severity(StrEnum):
    """How bad a configuration problem is: errors stop the daemon, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One configuration problem; `path` is the key path, e.g. `connector[1].meter.driver`."""

    path: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        return f"{prefix}{_printable(self.path)}: {_printable(self.message)}"


def _printable(text: str) -> str:
    """Escape control characters (a quoted TOML key may hold a newline): one problem, one line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class ConfigError(Exception):
    """The configuration has at least one error; `problems` lists all of them (and warnings)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration; `path` is the file it was loaded from (absolute)."""

    chargepoint: ChargepointConfig
    csms: CsmsConfig
    connectors: tuple[ConnectorConfig, ...]
    mqtt: MqttConfig | None = None
    state: StateConfig = StateConfig()
    control: ControlConfig = ControlConfig()
    gpio: GpioConfig = GpioConfig()
    rfid: RfidConfig = RfidConfig()
    log: LogConfig = LogConfig()
    firmware: FirmwareConfig = FirmwareConfig()
    diagnostics: DiagnosticsConfig = DiagnosticsConfig()
    path: Path | None = None
    warnings: tuple[Problem, ...] = ()


SECTIONS: dict[str, type] = {
    "chargepoint": ChargepointConfig,
    "csms": CsmsConfig,
    "mqtt": MqttConfig,
    "state": StateConfig,
    "control": ControlConfig,
    "gpio": GpioConfig,
    "rfid": RfidConfig,
    "log": LogConfig,
    "firmware": FirmwareConfig,
    "diagnostics": DiagnosticsConfig,
}
REQUIRED_SECTIONS = ("chargepoint", "csms", "connector")


def endpoint_url(url: str, chargepoint_id: str) -> str:
    """The CSMS url with the chargepoint id appended as the last path segment (OCPP-J 1.6 §3.1)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/") + "/" + quote(chargepoint_id, safe="")
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate `path`; raise ConfigError listing every problem found."""
    file = Path(path).absolute()
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError([Problem(str(path), f"cannot read: {exc.strerror or exc}")]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(str(path), f"not UTF-8 text: {exc.reason}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([Problem(str(path), f"invalid TOML: {exc}")]) from None
    except RecursionError:  # tomllib recurses once per level of nested arrays / inline tables
        raise ConfigError([Problem(str(path), "invalid TOML: values nested too deeply")]) from None
    return parse_config(data, base_dir=file.parent, path=file, mode=file.stat().st_mode)


def parse_config(
    data: Mapping[str, Any], *, base_dir: Path, path: Path | None = None, mode: int = 0o600
) -> Config:
    """Validate a parsed TOML document; relative paths are taken relative to `base_dir`."""
    problems: list[Problem] = []
    for key in data:
        if key not in SECTIONS and key != "connector":
            close = difflib.get_close_matches(key, [*SECTIONS, "connector"], n=1)
            hint = f" (did you mean [{close[0]}]?)" if close else ""
            problems.append(Problem(key, f"unknown section{hint}"))
    for key in REQUIRED_SECTIONS:
        if key not in data:
            what = "[[connector]] table (at least one)" if key == "connector" else f"[{key}] table"
            problems.append(Problem(key, f"missing required {what}"))
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        if name in data:
            sections[name] = _build(cls, data[name], name, base_dir, problems)
    connectors = _connectors(data.get("connector"), base_dir, problems)
    _cross_checks(data, sections, connectors, problems)
    _secret_checks(data, mode, problems)
    if not any(p.severity is Severity.ERROR for p in problems):
        from cpagent.config_checks import security_warnings  # it imports Problem from here

        problems += security_warnings(sections, path, mode)
    if any(p.severity is Severity.ERROR for p in problems):
        raise ConfigError(problems)
    return Config(
        connectors=tuple(connectors),
        path=path,
        warnings=tuple(problems),
        **{k: v for k, v in sections.items() if v is not None},
    )


def _connectors(value: Any, base_dir: Path, problems: list[Problem]) -> list[ConnectorConfig]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(Problem("connector", "must be an array of tables: write [[connector]]"))
        return []
    built = []
    for index, item in enumerate(value, start=1):
        one = _build(ConnectorConfig, item, f"connector[{index}]", base_dir, problems)
        if one is not None:
            built.append(one)
    return built


def _build(cls: type, value: Any, where: str, base_dir: Path, problems: list[Problem]) -> Any:
    """Build dataclass `cls` from table `value`, appending a Problem for each bad key."""
    if not isinstance(value, dict):
        problems.append(Problem(where, f"must be a table, not {_type_name(value)}"))
        return None
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in value:
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(fields)}"
            problems.append(Problem(f"{where}.{key}", f"unknown key ({hint})"))
    kwargs: dict[str, Any] = {}
    ok = True
    for name, f in fields.items():
        key_path = f"{where}.{name}"
        if name not in value:
            if f.default is dataclasses.MISSING:
                problems.append(Problem(key_path, "missing required key"))
                ok = False
            continue
        converted = _convert(hints[name], value[name], key_path, base_dir, problems)
        if converted is _BAD:
            ok = False
            continue
        choices = f.metadata.get("choices")
        if choices and converted is not None and converted not in choices:
            listed = ", ".join(str(c) for c in choices)
            problems.append(Problem(key_path, f"must be one of {listed}, not {converted!r}"))
            ok = False
            continue
        kwargs[name] = converted
    return cls(**kwargs) if ok else None


_BAD = object()


def _convert(hint: Any, value: Any, key_path: str, base_dir: Path, problems: list[Problem]) -> Any:
    """Check `value` against type `hint`; return the converted value or _BAD."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = inner[0]
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, list):
            problems.append(Problem(key_path, f"must be an array, not {_type_name(value)}"))
            return _BAD
        item_hint = typing.get_args(hint)[0]
        items = [_convert(item_hint, item, f"{key_path}[{index}]", base_dir, problems)
                 for index, item in enumerate(value, start=1)]
        return _BAD if any(item is _BAD for item in items) else tuple(items)
    if dataclasses.is_dataclass(hint):
        built = _build(typing.cast(type, hint), value, key_path, base_dir, problems)
        return _BAD if built is None else built
    expected = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
                Path: "a path string"}[hint]
    good = (
        (hint is bool and isinstance(value, bool))
        or (hint is int and isinstance(value, int) and not isinstance(value, bool))
        or (hint is float and isinstance(value, int | float) and not isinstance(value, bool))
        or (hint in (str, Path) and isinstance(value, str))
    )
    if not good:
        problems.append(Problem(key_path, f"must be {expected}, not {_type_name(value)}"))
        return _BAD
    if hint in (str, Path) and not value.strip():
        problems.append(Problem(key_path, "must not be empty"))
        return _BAD
    if hint in (str, Path) and "\0" in value:
        problems.append(Problem(key_path, "must not contain a NUL character"))
        return _BAD
    if hint is Path:
        try:
            return (base_dir / Path(value).expanduser()).resolve()
        except (OSError, RuntimeError, ValueError) as exc:  # e.g. "~nosuchuser", a symlink loop
            problems.append(Problem(key_path, f"not a usable path: {exc}"))
            return _BAD
    return float(value) if hint is float else value


def _type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "an array", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _cross_checks(
    data: Mapping[str, Any],
    sections: dict[str, Any],
    connectors: list[ConnectorConfig],
    problems: list[Problem],
) -> None:
    """Checks that span keys: value ranges, pins and ports used twice, mqtt when needed."""
    add = problems.append
    cp: ChargepointConfig | None = sections.get("chargepoint")
    raw_cp = data.get("chargepoint")
    cp_id = raw_cp.get("id") if isinstance(raw_cp, dict) else None
    if isinstance(cp_id, str) and (len(cp_id) > 48 or not set(cp_id) <= CHARGEPOINT_ID_CHARS):
        add(Problem("chargepoint.id", "must be 1-48 of A-Z a-z 0-9 - _ . : (it goes in a URL)"))
    csms: CsmsConfig | None = sections.get("csms")
    if csms is not None:
        _check_csms(csms, cp, sections, add)
    mqtt: MqttConfig | None = sections.get("mqtt")
    if mqtt is not None:
        _check_mqtt(mqtt, cp, add)
    control: ControlConfig | None = sections.get("control")
    if control is not None and len(os.fsencode(control.socket)) > MAX_SOCKET_PATH:
        add(Problem("control.socket", f"longer than {MAX_SOCKET_PATH} bytes (Unix socket limit)"))
    firmware: FirmwareConfig | None = sections.get("firmware")
    if firmware is not None:
        if firmware.timeout_s <= 0:
            add(Problem("firmware.timeout_s", "must be greater than 0"))
        if firmware.max_download_mb < 1:
            add(Problem("firmware.max_download_mb", "must be at least 1"))
        if firmware.transfer_deadline_s <= 0:
            add(Problem("firmware.transfer_deadline_s", "must be greater than 0"))
        if firmware.reserve_mb < 0:
            add(Problem("firmware.reserve_mb", "must be 0 or more"))
    ports = _check_connectors(data.get("connector"), add)
    rfid: RfidConfig | None = sections.get("rfid")
    if rfid is not None and rfid.driver in ("rdm6300", "pn532"):
        if rfid.port is None:
            add(Problem("rfid.port", f"required for driver {rfid.driver}"))
        elif rfid.port in ports:
            add(Problem("rfid.port", f"port {rfid.port} already used by {ports[rfid.port]}"))
    if rfid is not None and rfid.baudrate is not None and rfid.driver != "pn532":
        add(Problem("rfid.baudrate", "only for driver pn532 (the RDM6300 runs at 9600 only)"))


def _check_connectors(value: Any, add: Any) -> dict[str, str]:
    """Pin and port checks on the raw tables, so they run even where other keys are bad."""
    if not isinstance(value, list):
        return {}
    pins: dict[int, str] = {}
    ports: dict[str, str] = {}
    for index, table in enumerate(value, start=1):
        if not isinstance(table, dict):
            continue
        where = f"connector[{index}]"
        for name in ("relay_pin", "plug_pin", "relay_feedback_pin"):
            pin = _number(table.get(name), int)
            if pin is None:
                continue
            if not 0 <= pin <= 53:
                add(Problem(f"{where}.{name}", f"must be a BCM GPIO number 0-53, not {pin}"))
            elif pin in pins:
                add(Problem(f"{where}.{name}", f"pin {pin} already used by {pins[pin]}"))
            else:
                pins[pin] = f"{where}.{name}"
        current = _number(table.get("max_current_a"), float)
        if current is not None and current <= 0:
            add(Problem(f"{where}.max_current_a", "must be greater than 0"))
        meter = table.get("meter")
        if isinstance(meter, dict):
            _check_meter(meter, f"{where}.meter", ports, add)
    return ports


def _check_meter(meter: dict[str, Any], where: str, ports: dict[str, str], add: Any) -> None:
    interval = _number(meter.get("poll_interval_s"), float)
    if interval is not None and interval <= 0:
        add(Problem(f"{where}.poll_interval_s", "must be greater than 0"))
    unit = _number(meter.get("unit", 1), int)
    if unit is not None and not 1 <= unit <= 247:
        add(Problem(f"{where}.unit", f"must be a Modbus address 1-247, not {unit}"))
    driver, port = meter.get("driver", "sim"), meter.get("port")
    if driver == "sim" or driver not in METER_DRIVERS:
        return
    if port is None:
        add(Problem(f"{where}.port", f"required for driver {driver}"))
    elif isinstance(port, str):
        # Meters may share one RS-485 bus, but not one bus address.
        bus_key = f"{port}#{unit}"
        if bus_key in ports:
            add(Problem(f"{where}.unit", f"unit {unit} on {port} already used by {ports[bus_key]}"))
        ports[bus_key] = where
        ports.setdefault(port, where)


def _number(value: Any, kind: type) -> Any:
    """`value` if it is a number of `kind` (int excludes bool; float accepts int), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if kind is int and not isinstance(value, int):
        return None
    return value


def _check_csms(
    csms: CsmsConfig, cp: ChargepointConfig | None, sections: dict[str, Any], add: Any
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
        add(Problem("csms.url", "wss:// needs csms.password or cert_file and key_file "
                    "(OCPP 1.6 security profile 2 or 3)"))
    if cp is not None and path.rstrip("/").endswith("/" + cp.id):
        add(Problem("csms.url", "ends with the chargepoint id, which is appended again; "
                    "remove it", Severity.WARNING))
    for name in ("ca_file", "cert_file", "key_file"):
        file = getattr(csms, name)
        if file is not None and not file.is_file():
            add(Problem(f"csms.{name}", f"no such file: {file}"))
    if (csms.cert_file is None) != (csms.key_file is None):
        add(Problem("csms.cert_file", "cert_file and key_file must be given together"))
    for name in ("call_timeout_s", "backoff_min_s", "backoff_max_s", "ping_interval_s",
                 "pong_timeout_s"):
        if getattr(csms, name) <= 0:
            add(Problem(f"csms.{name}", "must be greater than 0"))
    if csms.max_frame_bytes < MIN_FRAME_BYTES:
        add(Problem("csms.max_frame_bytes", f"must be at least {MIN_FRAME_BYTES} (64 KiB)"))
    if csms.backoff_max_s < csms.backoff_min_s:
        add(Problem("csms.backoff_max_s", "must not be less than csms.backoff_min_s"))
    if csms.transport == "mqtt" and "mqtt" not in sections:
        add(Problem("mqtt", 'missing required [mqtt] table (csms.transport = "mqtt")'))


def _check_mqtt(mqtt: MqttConfig, cp: ChargepointConfig | None, add: Any) -> None:
    if not 1 <= mqtt.port <= 65535:
        add(Problem("mqtt.port", f"must be 1-65535, not {mqtt.port}"))
    for name in ("ca_file", "cert_file", "key_file"):
        file = getattr(mqtt, name)
        if file is not None and not file.is_file():
            add(Problem(f"mqtt.{name}", f"no such file: {file}"))
    if (mqtt.cert_file is None) != (mqtt.key_file is None):
        add(Problem("mqtt.cert_file", "cert_file and key_file must be given together"))
    if mqtt.cert_file is not None and not mqtt.tls:
        add(Problem("mqtt.cert_file", "a client certificate needs mqtt.tls = true"))
    if mqtt.password is not None and mqtt.username is None:
        add(Problem("mqtt.username", "missing: mqtt.password is set"))
    if cp is not None and mqtt.username is not None and mqtt.username != cp.id:
        add(Problem("mqtt.username", f"is not the chargepoint id {cp.id!r}: a broker ACL with "
                    "%u (README, Security) will not let it use its own topics", Severity.WARNING))


def _secret_checks(data: Mapping[str, Any], mode: int, problems: list[Problem]) -> None:
    """Warn when a password sits in a file other users can read.

    Group-readable is expected (root:cpagent 0640 under systemd), so only world-readable warns.
    """
    if not mode & stat.S_IROTH:
        return
    for section in ("csms", "mqtt"):
        table = data.get(section)
        if isinstance(table, dict) and table.get("password"):
            problems.append(Problem(f"{section}.password", "secret in a world-readable file "
                                    "(chmod o-r)", Severity.WARNING))
