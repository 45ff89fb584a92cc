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
# modules without `register` (e.g. one that exists but offers no subcommand yet).
COMMAND_MODULES = (
    "cpagent.commands.run",
    "cpagent.commands.check_config",
    "cpagent.commands.status",
    "cpagent.commands.ctl",
    "cpagent.bridge",
    "cpagent.csms.cli",
    "cpagent.demo",
)

EPILOG = """\
examples:
  cpagent check-config /etc/cpagent/cpagent.toml
  cpagent run --config config/bench.toml
  cpagent status --config config/bench.toml
  cpagent ctl --config config/bench.toml plug 1
  cpagent <command> --help     (help on one command)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cpagent",
        description="Chargepoint agent: OCPP-J to a central system, acting on charger hardware.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cpagent {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log at DEBUG level (same as --log-level DEBUG)")
    parser.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        type=str.upper, help="log level (default: [log] level for run, "
                        "else WARNING)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
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


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (default: sys.argv[1:]), run the command, return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.log_level = "DEBUG" if args.verbose else args.log_level
    setup_logging(args.log_level or "WARNING")
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
