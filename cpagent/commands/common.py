"""Helpers shared by subcommands: exit codes, loading config for the CLI, finding the socket."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from cpagent.config import Config, ConfigError, load_config
from cpagent.daemon.client import DEFAULT_SOCKET, DaemonUnavailable, request

EX_OK = 0
EX_FAILED = 1  # the daemon answered with {"ok": false}
EX_UNAVAILABLE = 69  # sysexits.h: no daemon to talk to
EX_CONFIG = 78  # sysexits.h: bad configuration (RestartPreventExitStatus=78)


class CliError(Exception):
    """One line for stderr and the exit code to return."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def load_or_report(path: str) -> Config:
    """Load the config, printing warnings; on errors print each and raise CliError(78)."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            # a problem of the file itself (unreadable, not TOML) is already named by its path
            where = "" if problem.path == str(path) else f"{path}: "
            print(f"{where}{problem}", file=sys.stderr)
        count = sum(1 for p in exc.problems if p.severity == "error")
        raise CliError(f"{path}: {count} error(s){_bench_hint(path)}", EX_CONFIG) from None
    for problem in config.warnings:
        print(f"{path}: {problem}", file=sys.stderr)
    return config


DEFAULT_CONFIG = "/etc/cpagent/cpagent.toml"
BENCH_CONFIG = Path("config") / "bench.toml"  # in a checkout


def _bench_hint(path: str) -> str:
    """No installed config, but a checkout's config/bench.toml here or above: name it."""
    if str(path) != DEFAULT_CONFIG or Path(path).exists():
        return ""
    found = find_near(Path.cwd(), BENCH_CONFIG)
    return "" if found is None else f"; on the bench: --config {os.path.relpath(found)}"


def find_near(start: Path, relative: Path) -> Path | None:
    """`relative` in `start` or the nearest of its parents that has it (a bench checkout's
    config or socket), if there is one."""
    for folder in (start, *start.parents):
        if (folder / relative).exists():
            return folder / relative
    return None


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """--config FILE, defaulting to the installed configuration."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=DEFAULT_CONFIG,
        help=f"configuration file (default: {DEFAULT_CONFIG})",
    )


def add_socket_options(parser: argparse.ArgumentParser) -> None:
    """--socket / --config, accepted before or after a sub-subcommand (defaults suppressed)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--socket",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=f"control socket of the daemon (default: {DEFAULT_SOCKET})",
    )
    group.add_argument(
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="take the socket from [control] socket in this config file",
    )


def socket_path(args: argparse.Namespace) -> Path:
    """--socket, else [control] socket of --config, else the default."""
    if getattr(args, "socket", None):
        return Path(args.socket)
    if getattr(args, "config", None):
        return load_or_report(args.config).control.socket
    return DEFAULT_SOCKET


def ask(args: argparse.Namespace, message: dict[str, Any]) -> dict[str, Any]:
    """Send one request to the daemon; raise CliError on no daemon or a refusal."""
    path = socket_path(args)
    try:
        answer = request(path, message)
    except DaemonUnavailable as exc:
        raise CliError(str(exc), EX_UNAVAILABLE) from None
    if not answer.get("ok"):
        raise CliError(f"cpagent refused: {answer.get('error', 'no reason given')}", EX_FAILED)
    return answer


def run_guarded(func: Any, args: argparse.Namespace) -> int:
    """Call func(args); turn CliError into its one line on stderr and its exit code."""
    try:
        code: int = func(args)
    except CliError as exc:
        print(f"cpagent: {exc}", file=sys.stderr)
        return exc.exit_code
    return code
