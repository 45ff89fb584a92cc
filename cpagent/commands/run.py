"""`cpagent run --config FILE`: the daemon, in the foreground (systemd runs it this way)."""

from __future__ import annotations

import argparse
import functools
from typing import TYPE_CHECKING, Any

from cpagent.commands.common import add_config_option, load_or_report, run_guarded
from cpagent.daemon.context import APPLICATIONS
from cpagent.daemon.logs import setup_logging

if TYPE_CHECKING:
    from cpagent.config import Config

EPILOG = """\
Stops cleanly on SIGTERM or SIGINT (Ctrl-C): every relay is de-energised first. SIGHUP stops
the same way and exits 75 (systemd starts it again with the edited config); other stray
signals stop it and exit 128 + N. Only one daemon runs per state dir.
Exit codes: 0 stopped by a signal; 78 bad configuration (nothing started);
65 state store refused (not this chargepoint's, corrupt, truncated, locked: see
`cpagent store --help`); 71 another cpagent holds the state dir;
69 hardware or control socket unavailable; 73 state dir not writable;
74 state store not writable at start; 70 a worker thread or the application failed;
75 the CSMS asked for a Reset, or SIGHUP (systemd restarts the service).

examples:
  cpagent run --config config/bench.toml           (laptop: mock GPIO, simulated devices)
  cpagent run --config config/bench.toml --app bench  (no CSMS logic, relays stay open)
  cpagent -v run --config /etc/cpagent/cpagent.toml (log frames at DEBUG)
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the daemon in the foreground",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(parser)
    parser.add_argument(
        "--app",
        choices=APPLICATIONS,
        default="chargepoint",
        help="chargepoint: the OCPP 1.6 chargepoint (default); bench: report "
        "hardware and link only, never close a relay (hardware bring-up)",
    )
    parser.set_defaults(func=functools.partial(run_guarded, _run))


def _run(args: argparse.Namespace) -> int:
    from cpagent.daemon.runner import run_daemon

    config = load_or_report(args.config)
    setup_logging(args.log_level or config.log.level, secrets=log_secrets(config))
    return run_daemon(config, app=args.app)


def log_secrets(config: Config) -> list[str]:
    """The passwords in the config, redacted from every log line wherever they appear."""
    found = (config.csms.password, config.mqtt and config.mqtt.password)
    return [s for s in (*found, config.web and config.web.password) if s]
