"""`cpagent safe-off --config FILE`: de-energise every configured relay, from its own process."""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any

from cpagent.commands.common import EX_OK, add_config_option, load_or_report, run_guarded

EPILOG = """\
systemd runs this after the daemon has gone, however it went (ExecStopPost= in
systemd/cpagent.service): a SIGKILL, the OOM killer or a watchdog abort run no code of the
daemon, and a released GPIO line may keep its last level. Every relay of the config is
driven to its de-energised level; a device that is missing or busy is reported and the
others are still done. Exit 0 whatever the devices did (so the unit's stop never fails on
it); 78 if the config cannot be read (nothing is known about the relays).

Run by hand while `cpagent run` holds the state dir, it first asks that daemon to stop
(SIGTERM: it opens its relays and ends its transactions, as on `systemctl stop`), says so,
and then drives the lines itself.

examples:
  cpagent safe-off --config /etc/cpagent/cpagent.toml
  cpagent safe-off --config config/bench.toml
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "safe-off",
        help="de-energise every relay (systemd ExecStopPost=)",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(parser)
    parser.set_defaults(func=functools.partial(run_guarded, _safe_off))


def _safe_off(args: argparse.Namespace) -> int:
    from cpagent.daemon.safety import safe_off

    config = load_or_report(args.config)
    report = safe_off(config)
    for line in report.lines:
        print(f"cpagent safe-off: {line}", file=sys.stderr if report.failed else sys.stdout)
    if report.failed:
        print(
            f"cpagent safe-off: {len(report.failed)} device(s) not made safe: "
            f"{', '.join(report.failed)}",
            file=sys.stderr,
        )
    return EX_OK
