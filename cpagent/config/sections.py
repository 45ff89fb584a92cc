"""The configuration's sections as frozen dataclasses; each field states its key's whole rule."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cpagent.config.connector_sections import BAUDRATES, POSITIVE, ConnectorConfig
from cpagent.config.rules import Problem, key

RFID_DRIVERS = ("rdm6300", "pn532", "sim", "none")
PROTOCOLS = ("ocpp1.6",)
TRANSPORTS = ("websocket", "mqtt")
PIN_FACTORIES = ("lgpio", "rpigpio", "pigpio", "native", "mock")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MAX_SOCKET_PATH = 107  # sockaddr_un.sun_path is 108 bytes including the NUL
CHARGEPOINT_ID_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:"
)
MIN_FRAME_BYTES = 64 * 1024  # [csms] max_frame_bytes: below this, ordinary messages are refused


@dataclass(frozen=True, slots=True)
class ChargepointConfig:
    """`[chargepoint]`: identity sent in BootNotification (OCPP 1.6 §4.2) and in the URL."""

    id: str = key(
        doc="the chargepoint identity; appended to `csms.url` as the last path "
        "segment (OCPP-J 1.6 §3.1)",
        chars=CHARGEPOINT_ID_CHARS,
        max_length=48,
        shape="1-48 of A-Z a-z 0-9 - _ . : (it goes in a URL)",
    )
    vendor: str = key(doc="BootNotification `chargePointVendor`")
    model: str = key(doc="BootNotification `chargePointModel`")
    serial_number: str | None = key(
        None, "BootNotification `chargePointSerialNumber` (not sent when unset)"
    )
    firmware_version: str | None = key(
        None, "BootNotification `firmwareVersion` (not sent when unset)"
    )


@dataclass(frozen=True, slots=True)
class CsmsConfig:
    """`[csms]`: where the central system is and how to reach it (url: WebSocket only)."""

    url: str | None = key(
        None,
        "`ws://` or `wss://` endpoint; required for transport "
        "`websocket`; `wss://` needs `password` or `cert_file` + `key_file`",
        default_doc="required for websocket",
    )
    protocol: str = key("ocpp1.6", "the WebSocket subprotocol offered", choices=PROTOCOLS)
    transport: str = key("websocket", "`mqtt` requires `[mqtt]`", choices=TRANSPORTS)
    password: str | None = key(
        None, "HTTP Basic password (security profile 1 on ws://, 2 on wss://)"
    )
    ca_file: Path | None = key(
        None,
        "CA bundle for wss:// (and MQTT TLS); must exist",
        default_doc="the system trust store",
    )
    cert_file: Path | None = key(
        None, "TLS client certificate (security profile 3; give `key_file` too); must exist"
    )
    key_file: Path | None = key(None, "the client certificate's private key; must exist")
    call_timeout_s: float = key(30.0, "a CALL without answer fails after this", **POSITIVE)
    backoff_min_s: float = key(1.0, "first reconnect delay (doubles, full jitter)", **POSITIVE)
    backoff_max_s: float = key(
        60.0, "longest reconnect delay; not less than `backoff_min_s`", **POSITIVE
    )
    ping_interval_s: float = key(
        30.0,
        "WebSocket ping interval / MQTT keepalive; a "
        "`WebSocketPingInterval` set by the central system replaces "
        "it at the next start",
        **POSITIVE,
    )
    pong_timeout_s: float = key(
        10.0,
        "no pong (or frame) this long after a ping: the connection is half-open and is replaced",
        **POSITIVE,
    )
    max_frame_bytes: int = key(
        8 * 1024 * 1024,
        "largest message taken from the central system (WebSocket close 1009 beyond; MQTT "
        "Maximum Packet Size); the default is about twice the largest OCPP 2.0.1 message",
        minimum=MIN_FRAME_BYTES,
    )


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """`[mqtt]`: the broker, used when `csms.transport = "mqtt"`. The username should be the
    chargepoint id: the broker ACL in README ("Security") confines each user to its topics."""

    host: str = key(doc="the broker's host name or address")
    port: int = key(1883, "the broker's port", minimum=1, maximum=65535)
    username: str | None = key(
        None, "broker user; should be the chargepoint id (ACL `%u`; a warning otherwise)"
    )
    password: str | None = key(None, "broker password; needs `username`")
    topic_prefix: str = key("ocpp", "topics are `<prefix>/<chargepoint id>/...`")
    tls: bool = key(False, "TLS >= 1.2 with the broker certificate checked")
    ca_file: Path | None = key(
        None,
        "the broker's CA bundle; must exist",
        default_doc="`csms.ca_file`, else the system trust store",
    )
    cert_file: Path | None = key(
        None,
        "TLS client certificate (with `key_file`, needs `tls`); must exist",
        default_doc="`csms.cert_file`",
    )
    key_file: Path | None = key(
        None, "its private key (mode 0600 or 0640); must exist", default_doc="`csms.key_file`"
    )


@dataclass(frozen=True, slots=True)
class StateConfig:
    """`[state]`: where the SQLite state database lives."""

    dir: Path = key(
        Path("/var/lib/cpagent"),
        "holds `cpagent.db`, its backup and `cpagent.lock`; created, must be writable before READY",
    )
    history_days: int = key(
        365,
        "finished sessions (`cpagent sessions`) are kept this many days, counted back from "
        "the newest session's end; older ones and their meter samples are deleted",
        minimum=1,
        maximum=36500,
    )
    history_max_sessions: int = key(
        10000,
        "at most this many finished sessions are kept (the oldest go first); each keeps at "
        "most 1000 meter samples (thinned evenly), about 30 bytes each on disk",
        minimum=1,
        maximum=100000,
    )


@dataclass(frozen=True, slots=True)
class ControlConfig:
    """`[control]`: the local control socket used by `cpagent status` and `cpagent ctl`.

    Whoever can open the socket (mode 0660: the daemon's user and group) may read `status`;
    `ctl` actions need the daemon's own user, root, or membership of `ctl_group`. They act on
    simulated devices only, and those that could close a real relay or change billed energy
    (tap, clear-fault, ev-load) only with simulated GPIO, unless `allow_ctl_with_real_relays`."""

    socket: Path = key(
        Path("/run/cpagent/control.sock"),
        "mode 0660: whoever can open it may read `status`",
        max_bytes=MAX_SOCKET_PATH,
        range_name="Unix socket limit",
    )
    ctl_group: str | None = key(
        None,
        "a group whose members may run `ctl` actions, besides "
        "the daemon's user and root (checked with SO_PEERCRED)",
    )
    allow_ctl_with_real_relays: bool = key(
        False,
        "`ctl tap`, `clear-fault`, `ev-load` act on "
        "simulated devices even when the relays are real "
        "GPIO (a bench rig only)",
    )


@dataclass(frozen=True, slots=True)
class GpioConfig:
    """`[gpio]`: gpiozero pin factory name; None lets gpiozero choose."""

    pin_factory: str | None = key(
        None, "the gpiozero pin factory", choices=PIN_FACTORIES, default_doc="gpiozero chooses"
    )


@dataclass(frozen=True, slots=True)
class RfidConfig:
    """`[rfid]`: the card reader."""

    driver: str = key(
        "none",
        "rdm6300: 125 kHz tags; pn532: 13.56 MHz MIFARE / ISO 14443A "
        "over UART (idTag = the UID as upper-case hex)",
        choices=RFID_DRIVERS,
    )
    port: str | None = key(
        None, "serial device; not a meter's or an EVSE's port", required_for=("rdm6300", "pn532")
    )
    baudrate: int | None = key(
        None,
        "the PN532's HSU speed (the RDM6300 runs at 9600 only)",
        choices=BAUDRATES,
        only_for=("pn532",),
        default_doc="115200",
    )


@dataclass(frozen=True, slots=True)
class LogConfig:
    """`[log]`: log level (the CLI's -v/--log-level overrides it)."""

    level: str = key(
        "INFO", "`-v`/`--log-level` override it; DEBUG logs frames", choices=LOG_LEVELS
    )


@dataclass(frozen=True, slots=True)
class FirmwareConfig:
    """`[firmware]`: UpdateFirmware (OCPP 1.6 §5.19). An empty `install_command` turns the
    Firmware Management profile off; `{file}` in it is replaced by the downloaded image."""

    install_command: tuple[str, ...] = key(
        (),
        "argv run on a downloaded image, `{file}` "
        "replaced by its path; never through a shell; "
        "exit 0 = Installed; `[]` turns the profile off",
    )
    download_dir: Path | None = key(
        None, "where images are downloaded", default_doc="`<state.dir>/firmware`"
    )
    timeout_s: float = key(
        600.0, "each transfer's socket timeout and the install time limit", **POSITIVE
    )
    max_download_mb: int = key(512, "largest image accepted", minimum=1)
    transfer_deadline_s: float = key(
        3600.0, "total time one download or upload attempt may take", **POSITIVE
    )
    reserve_mb: int = key(
        64, "free space a download must leave on the download file system", minimum=0
    )


@dataclass(frozen=True, slots=True)
class DiagnosticsConfig:
    """`[diagnostics]`: what GetDiagnostics (OCPP 1.6 §5.8) bundles and uploads."""

    paths: tuple[Path, ...] = key(
        (), "files/directories bundled for GetDiagnostics (last 4 MiB of each)"
    )
    journal_unit: str | None = key(
        None, "include this systemd unit's journal for the requested window"
    )


@dataclass(frozen=True, slots=True)
class WebConfig:
    """`[web]`: the local read-only web page (docs/web.md); off when the section is absent.
    Beyond loopback it needs `password`, asked for with HTTP Basic on every page but
    /metrics."""

    listen: str = key(
        "127.0.0.1:8080",
        "where the page listens; `[::1]:8080` for IPv6; an address other than loopback "
        "(a LAN address, `0.0.0.0`, `::`, a host name) puts it on the network and needs "
        "`password`",
        shape="host:port",
    )
    password: str | None = key(
        None,
        "HTTP Basic password (any user name) for every page but /metrics; required beyond "
        "loopback, asked for on loopback too when set; sent unencrypted: a trusted LAN or a "
        "TLS reverse proxy",
    )


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
    web: WebConfig | None = None
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
    "web": WebConfig,
}
REQUIRED_SECTIONS = ("chargepoint", "csms", "connector")
