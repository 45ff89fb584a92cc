"""`check-config --hardware`: what only the target can tell - devices, pins, pin factory, TLS."""

from __future__ import annotations

import dataclasses
import importlib
import os
import pwd
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpagent.config import Config

SERVICE_USER = "cpagent"
HEADER_PINS = range(0, 28)  # BCM GPIO 0-27 are the ones on the 40-pin header
UART_PINS = {14: "UART TXD", 15: "UART RXD"}
SPI_PINS = {7: "SPI0 CE1", 8: "SPI0 CE0", 9: "SPI0 MISO", 10: "SPI0 MOSI", 11: "SPI0 SCLK"}
I2C_EEPROM_PINS = {0: "ID_SD (HAT EEPROM)", 1: "ID_SC (HAT EEPROM)"}
PRIMARY_UARTS = ("/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0")
PI_MODEL = Path("/proc/device-tree/model")


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing to change: the key path, what is wrong and what to do; error or warning."""

    path: str
    message: str
    error: bool = True

    def __str__(self) -> str:
        return f"{'error' if self.error else 'warning'}: {self.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class ServiceUser:
    """Whose access is checked: the `cpagent` user when it exists, else the caller."""

    name: str
    uid: int
    groups: frozenset[int]

    @classmethod
    def find(cls, name: str = SERVICE_USER) -> ServiceUser:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            entry = pwd.getpwuid(os.getuid())
        return cls(
            entry.pw_name, entry.pw_uid, frozenset(os.getgrouplist(entry.pw_name, entry.pw_gid))
        )

    def can_read_write(self, st: os.stat_result) -> bool:
        if self.uid == 0:
            return True
        if st.st_uid == self.uid:
            need = stat.S_IRUSR | stat.S_IWUSR
        elif st.st_gid in self.groups:
            need = stat.S_IRGRP | stat.S_IWGRP
        else:
            need = stat.S_IROTH | stat.S_IWOTH
        return st.st_mode & need == need

    def can_read(self, st: os.stat_result) -> bool:
        if self.uid == 0:
            return True
        if st.st_uid == self.uid:
            return bool(st.st_mode & stat.S_IRUSR)
        if st.st_gid in self.groups:
            return bool(st.st_mode & stat.S_IRGRP)
        return bool(st.st_mode & stat.S_IROTH)


def check_hardware(config: Config, user: ServiceUser | None = None) -> list[Finding]:
    """Every finding, in config order; an empty list means the target looks right."""
    user = user or ServiceUser.find()
    findings: list[Finding] = []
    if user.name != SERVICE_USER:
        findings.append(
            Finding(
                "service user",
                f"no user {SERVICE_USER!r}: access checked for "
                f"{user.name!r}; create it as README's install steps say",
                error=False,
            )
        )
    ports = _ports(config)
    for path, port in ports:
        findings += _device(path, port, user)
    findings += _pin_factory(config)
    findings += _gpio_devices(config, user)
    findings += _pins(config, [port for _, port in ports])
    findings += _tls(config, user)
    return findings


def _evse(conn: Any) -> Any:
    return getattr(conn, "evse", None)  # [connector.evse], where the config has it


def _ports(config: Config) -> list[tuple[str, str]]:
    ports: list[tuple[str, str]] = []
    for index, conn in enumerate(config.connectors, start=1):
        if conn.meter.driver != "sim" and conn.meter.port:
            ports.append((f"connector[{index}].meter.port", conn.meter.port))
        evse = _evse(conn)
        if getattr(evse, "port", None):
            ports.append((f"connector[{index}].evse.port", evse.port))
    if config.rfid.driver in ("rdm6300", "pn532") and config.rfid.port:
        ports.append(("rfid.port", config.rfid.port))
    return ports


def _device(path: str, port: str, user: ServiceUser) -> list[Finding]:
    try:
        st = os.stat(port)
    except FileNotFoundError:
        hint = "plug in the adapter, or use its name from `ls -l /dev/serial/by-id/`"
        if port in PRIMARY_UARTS:
            hint = (
                "enable the UART: raspi-config -> Interface -> Serial: login shell no, "
                "hardware yes, then reboot"
            )
        return [Finding(path, f"{port} does not exist: {hint}")]
    except OSError as exc:
        return [Finding(path, f"{port}: {exc.strerror}")]
    if not stat.S_ISCHR(st.st_mode):
        return [Finding(path, f"{port} is not a character device (a serial port is)")]
    if not user.can_read_write(st):
        try:
            import grp

            group = grp.getgrgid(st.st_gid).gr_name
        except KeyError:
            group = str(st.st_gid)
        return [
            Finding(
                path,
                f"{port} ({stat.filemode(st.st_mode)}, group {group}) is not "
                f"readable and writable by user {user.name}: usermod -aG {group} "
                f"{user.name}",
            )
        ]
    return []


def _pin_factory(config: Config) -> list[Finding]:
    from hw.pins import FACTORIES

    name = config.gpio.pin_factory
    pi5 = _pi_model().startswith("Raspberry Pi 5")
    if name is None:
        return [
            Finding(
                "gpio.pin_factory",
                "not set: gpiozero guesses; set it explicitly "
                f"({'lgpio on a Pi 5' if pi5 else 'lgpio on Bookworm'})",
                error=False,
            )
        ]
    if name == "mock":
        return [
            Finding(
                "gpio.pin_factory", '"mock": no real pin is driven (a bench config)', error=False
            )
        ]
    found: list[Finding] = []
    if pi5 and name in ("rpigpio", "pigpio", "native"):
        found.append(
            Finding(
                "gpio.pin_factory",
                f"{name!r} does not drive a Pi 5's RP1 GPIO; "
                'use "lgpio" (apt install python3-lgpio)',
            )
        )
    module_name = FACTORIES[name].partition(":")[0]
    try:
        importlib.import_module(module_name)  # imports the vendor library (e.g. lgpio) too
    except Exception as exc:
        package = {
            "lgpio": "python3-lgpio",
            "rpigpio": "python3-rpi.gpio",
            "pigpio": "python3-pigpio",
        }.get(name, "its library")
        found.append(
            Finding(
                "gpio.pin_factory",
                f"{name!r} does not import here ({exc}): "
                f"apt install {package}, or choose another factory",
            )
        )
    return found


GPIO_CHIP = "/dev/gpiochip0"  # the header's GPIO lines (also on a Pi 5 with a current kernel)
SPI_DEVICE = "/dev/spidev0.0"  # SPI0 CE0: the DIY pilot's MCP3008


def _gpio_devices(config: Config, user: ServiceUser) -> list[Finding]:
    """The character devices a real pin factory and the MCP3008 open, for the service user."""
    if config.gpio.pin_factory in (None, "mock"):
        return []
    found: list[Finding] = []
    devices = [("gpio.pin_factory", GPIO_CHIP, "gpio")]
    if any(getattr(_evse(c), "driver", None) == "pwm" for c in config.connectors):
        devices.append(("connector.evse.driver", SPI_DEVICE, "spi"))
    for path, device, group in devices:
        try:
            st = os.stat(device)
        except OSError:
            what = (
                "enable SPI: raspi-config -> Interface -> SPI"
                if group == "spi"
                else "no GPIO character device: is this the Pi?"
            )
            found.append(Finding(path, f"{device} does not exist: {what}"))
            continue
        if not user.can_read_write(st):
            found.append(
                Finding(
                    path,
                    f"{device} is not readable and writable by user "
                    f"{user.name}: usermod -aG {group} {user.name}",
                )
            )
    return found


def _pi_model() -> str:
    try:
        return PI_MODEL.read_text(errors="replace").rstrip("\x00")
    except OSError:
        return ""


def _pins(config: Config, ports: list[str]) -> list[Finding]:
    used: dict[int, str] = {}
    found: list[Finding] = []
    uart = any(
        os.path.realpath(p) in {os.path.realpath(u) for u in PRIMARY_UARTS} or p in PRIMARY_UARTS
        for p in ports
    )
    spi = any(getattr(_evse(c), "driver", None) == "pwm" for c in config.connectors)
    reserved = {**(UART_PINS if uart else {}), **(SPI_PINS if spi else {}), **I2C_EEPROM_PINS}
    for index, conn in enumerate(config.connectors, start=1):
        pins = [
            (f"connector[{index}].{n}", getattr(conn, n))
            for n in ("relay_pin", "plug_pin", "relay_feedback_pin")
        ]
        evse = _evse(conn)
        if dataclasses.is_dataclass(evse):
            pins += [
                (f"connector[{index}].evse.{f.name}", getattr(evse, f.name))
                for f in dataclasses.fields(evse)
                if f.name.endswith("_pin")
            ]
        for path, pin in pins:
            if pin is None:
                continue
            if pin not in HEADER_PINS:
                found.append(Finding(path, f"GPIO{pin} is not on the 40-pin header (BCM 0-27)"))
            elif pin in used:
                found.append(Finding(path, f"GPIO{pin} is already {used[pin]}; pick a free pin"))
            elif pin in reserved:
                why = {14: "the UART in use", 15: "the UART in use"}.get(pin, "")
                why = why or ("SPI for the MCP3008" if pin in SPI_PINS else "the HAT EEPROM bus")
                found.append(
                    Finding(
                        path,
                        f"GPIO{pin} is {reserved[pin]}, taken by {why}; "
                        "pick a free pin (e.g. 5, 6, 12, 13, 16, 17, 22-27)",
                        error=pin not in I2C_EEPROM_PINS,
                    )
                )
            used.setdefault(pin, path)
    return found


def _tls(config: Config, user: ServiceUser) -> list[Finding]:
    found: list[Finding] = []
    pairs = [("csms", config.csms.ca_file, config.csms.cert_file, config.csms.key_file)]
    if config.mqtt is not None:
        pairs.append(("mqtt", config.mqtt.ca_file, config.mqtt.cert_file, config.mqtt.key_file))
    for section, ca_file, cert_file, key_file in pairs:
        for name, file in (("ca_file", ca_file), ("cert_file", cert_file), ("key_file", key_file)):
            if file is not None and file.is_file() and not user.can_read(file.stat()):
                found.append(
                    Finding(
                        f"{section}.{name}",
                        f"{file} is not readable by user "
                        f"{user.name}: chgrp {user.name} {file}; chmod g+r {file}",
                    )
                )
        if ca_file is not None and ca_file.is_file():
            try:
                ssl.create_default_context(cafile=str(ca_file))
            except (ssl.SSLError, OSError, ValueError) as exc:
                found.append(
                    Finding(
                        f"{section}.ca_file",
                        f"{ca_file} does not load as PEM CA "
                        f"certificates ({exc}); export the CA as PEM",
                    )
                )
        if (
            cert_file is not None
            and key_file is not None
            and cert_file.is_file()
            and key_file.is_file()
        ):
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            try:
                context.load_cert_chain(str(cert_file), str(key_file))
            except (ssl.SSLError, OSError) as exc:
                found.append(
                    Finding(
                        f"{section}.cert_file",
                        f"{cert_file} with {key_file} does "
                        f"not load as a certificate and its key ({exc}); both PEM, "
                        "the key unencrypted and belonging to the certificate",
                    )
                )
    return found


def report_hardware(path: str, config: Config) -> int:
    """Print each finding as `FILE: hardware: ...`; 78 (EX_CONFIG) if any is an error."""
    import sys

    findings = check_hardware(config)
    for finding in findings:
        print(f"{path}: hardware: {finding}", file=sys.stderr)
    errors = sum(1 for f in findings if f.error)
    if errors:
        print(f"{path}: {errors} hardware error(s)", file=sys.stderr)
        return 78
    return 0
