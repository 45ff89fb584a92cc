"""Shared by the bring-up commands: the config to read, the daemon's lock, serial port checks."""

from __future__ import annotations

import argparse
import contextlib
import errno
import grp
import os
import signal
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from cpagent.commands.common import EX_CONFIG, CliError, load_or_report
from cpagent.config import Config
from cpagent.daemon.statelock import StateDirBusy, StateLock

DEFAULT_CONFIG = "/etc/cpagent/cpagent.toml"
EX_FAILED = 1  # the device did not answer as it should
EX_UNAVAILABLE = 69  # sysexits.h: the device cannot be reached (missing, busy, denied)
EX_NOPERM = 77  # sysexits.h: permission denied
EX_TEMPFAIL = 75  # sysexits.h: `cpagent run` holds the devices; try again once it stopped

_GROUP_HINT = "sudo usermod -aG {group} $USER, then log in again"


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help=f"read pins and ports from this file (default: {DEFAULT_CONFIG} if it exists; "
        "options on the command line win)",
    )


def optional_config(args: argparse.Namespace, *, required: bool = False) -> Config | None:
    """--config FILE (must load), else the default file if it exists, else None."""
    path = getattr(args, "config", None)
    if path is None:
        if not Path(DEFAULT_CONFIG).exists():
            if required:
                raise CliError(
                    f"no config file: {DEFAULT_CONFIG} does not exist; give --config "
                    "FILE or the pins/ports on the command line",
                    EX_CONFIG,
                )
            return None
        path = DEFAULT_CONFIG
        if not os.access(path, os.R_OK) and not required:
            # 0640 root:cpagent: a builder's own user may not read it; the options still work.
            print(
                f"cpagent: note: cannot read {path} (not in group cpagent?): using the "
                "command line only; a running daemon is noticed by its open port only",
                file=sys.stderr,
            )
            return None
    return load_or_report(path)


@contextlib.contextmanager
def devices_held(config: Config | None) -> Iterator[None]:
    """Hold the daemon's state-dir lock for the command's life, so `cpagent run` neither
    runs now nor starts meanwhile; refuse (exit 75) naming the daemon's pid if it runs."""
    if config is None:
        yield
        return
    lock = StateLock(config.state.dir)
    try:
        lock.acquire()
    except StateDirBusy as exc:
        who = f"pid {exc.pid}" if exc.pid else "a process that wrote no pid"
        raise CliError(
            f"`cpagent run` ({who}) holds the devices (lock {exc.path}); stop it first "
            "(sudo systemctl stop cpagent) and start it again when done",
            EX_TEMPFAIL,
        ) from None
    except FileNotFoundError:
        yield  # no state dir: the daemon never ran with this config
        return
    except OSError as exc:
        # Not our state dir to read (run as another user): the port check still names holders.
        print(
            f"cpagent: note: cannot check the daemon's lock {lock.path}: "
            f"{exc.strerror or exc}; run as root or the cpagent user to be sure",
            file=sys.stderr,
        )
        yield
        return
    try:
        yield
    finally:
        lock.release()


def port_holders(port: str) -> list[tuple[int, str]]:
    """(pid, command name) of every other process with `port` open (like fuser, via /proc)."""
    try:
        target = os.stat(port)
    except OSError:
        return []
    found: list[tuple[int, str]] = []
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        with contextlib.suppress(OSError):
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                with contextlib.suppress(OSError):
                    st = os.stat(fd.path)
                    if (st.st_rdev, st.st_ino) == (target.st_rdev, target.st_ino):
                        name = Path(f"/proc/{entry.name}/comm").read_text().strip()
                        found.append((int(entry.name), name))
                        break
    return found


def check_port(port: str) -> None:
    """Raise CliError with what to change if `port` is missing, not ours to open, or busy."""
    path = Path(port)
    if not path.exists():
        hint = "is the adapter plugged in? `ls -l /dev/serial/by-id/` lists USB serial ports"
        if port.startswith(("/dev/serial0", "/dev/ttyAMA", "/dev/ttyS")):
            hint = (
                "enable the UART: raspi-config -> Interface -> Serial: login shell no, "
                "hardware yes (enable_uart=1), then reboot"
            )
        raise CliError(f"{port} does not exist: {hint}", EX_UNAVAILABLE)
    if not os.access(port, os.R_OK | os.W_OK):
        raise CliError(f"permission denied on {port}: {permission_hint(port)}", EX_NOPERM)
    holders = port_holders(port)
    if holders:
        named = ", ".join(f"pid {pid} ({name})" for pid, name in holders)
        raise CliError(
            f"{port} is in use by {named}: stop it first (a second reader on one "
            "serial line garbles both)",
            EX_UNAVAILABLE,
        )


def permission_hint(port: str) -> str:
    """What to do when `port` cannot be opened for read and write."""
    try:
        st = os.stat(port)
    except OSError:
        return "the device vanished"
    group = _group_name(st.st_gid)
    if st.st_mode & (stat.S_IRGRP | stat.S_IWGRP) == (stat.S_IRGRP | stat.S_IWGRP) and group:
        return f"join group {group} ({_GROUP_HINT.format(group=group)})"
    mode = stat.filemode(st.st_mode)
    return (
        f"mode {mode} lets nobody in your groups read and write it; fix its udev rule "
        f"or run as root (group {group or st.st_gid})"
    )


def open_error(port: str, exc: BaseException) -> CliError:
    """A CliError for an open(2) failure that passed check_port (a race, TIOCEXCL, EBUSY)."""
    code = getattr(exc, "errno", None)
    if code in (errno.EACCES, errno.EPERM):
        return CliError(f"permission denied on {port}: {permission_hint(port)}", EX_NOPERM)
    if code == errno.EBUSY:
        return CliError(
            f"{port} is busy: another process opened it exclusively (TIOCEXCL)", EX_UNAVAILABLE
        )
    if code == errno.ENOENT:
        return CliError(f"{port} does not exist (unplugged?)", EX_UNAVAILABLE)
    return CliError(f"cannot open {port}: {exc}", EX_UNAVAILABLE)


def _group_name(gid: int) -> str | None:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt, so `finally:` makes the device safe."""

    import threading

    def interrupt(_signum: int, _frame: FrameType | None) -> Any:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (commands run there; some tests don't)
        return

    old = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def connector_config(config: Config | None, number: int) -> Any:
    """[[connector]] number `number` (1-based) of the config, None without a config."""
    if config is None:
        return None
    if not 1 <= number <= len(config.connectors):
        raise CliError(
            f"connector {number}: the config has {len(config.connectors)} connector(s)", EX_CONFIG
        )
    return config.connectors[number - 1]


def quiet_vendor_logs(args: argparse.Namespace) -> None:
    """pymodbus logs every silent unit at ERROR: the probe says it better, once."""
    import logging

    if getattr(args, "log_level", None) != "DEBUG":
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
