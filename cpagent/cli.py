"""The `cpagent` command line: global options, then dispatch to one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from cpagent import __version__
from cpagent.daemon.logs import setup_logging

# Each module has `register(subparsers)`: it adds its parser(s) and sets `func`, a callable
# taking the parsed Namespace and returning the exit code. Modules that are not written yet
# are skipped (a missing module only; an import error inside a module is raised), and so are
# modules without `register`. Only the module of the command being run is imported (all of
# them for top-level help), so `cpagent run` does not pay for the bench CSMS's imports.
COMMAND_MODULES = {
    "run": "cpagent.commands.run",
    "check-config": "cpagent.commands.check_config",
    "probe": "cpagent.commands.probe",
    "test": "cpagent.commands.hwtest",
    "status": "cpagent.commands.status",
    "ctl": "cpagent.commands.ctl",
    "safe-off": "cpagent.commands.safe_off",
    "store": "cpagent.commands.store",
    "sessions": "cpagent.commands.sessions",
    "bridge": "cpagent.commands.bridge",
    "firmware-install": "cpagent.commands.firmware_install",
    "csms": "cpagent.csms.cli",
    "demo": "cpagent.demo",
}

EPILOG = """\
examples:
  cpagent check-config /etc/cpagent/cpagent.toml
  cpagent run --config config/bench.toml
  cpagent status --config config/bench.toml
  cpagent ctl --config config/bench.toml plug 1
  cpagent <command> --help     (help on one command)
"""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command`, only that subcommand's module is imported and registered."""
    parser = argparse.ArgumentParser(
        prog="cpagent",
        description="Chargepoint agent: OCPP-J to a central system, acting on charger hardware.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cpagent {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log at DEBUG level (same as --log-level DEBUG)",
    )
    parser.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        type=str.upper,
        help="log level (default: [log] level for run, else WARNING)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = (
        [COMMAND_MODULES[command]] if command in COMMAND_MODULES else [*COMMAND_MODULES.values()]
    )
    for name in modules:
        register = getattr(_import_optional(name), "register", None)
        if register is not None:
            register(subparsers)
    return parser


def _import_optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            return None
        raise


def _command_name(argv: list[str]) -> str | None:
    """The subcommand in `argv`: the first word that is not an option or an option's value."""
    words = iter(argv)
    for word in words:
        if word == "--log-level":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (default: sys.argv[1:]), run the command, return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_name(argv))
    args = parser.parse_args(argv)
    args.log_level = "DEBUG" if args.verbose else args.log_level
    setup_logging(args.log_level or "WARNING")
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
