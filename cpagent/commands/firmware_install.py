"""`cpagent firmware-install request|apply`: the privileged firmware step, the systemd way."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cpagent.commands import arguments
from cpagent.firmware.handoff import SPOOL, apply_request, request_install

EX_OK, EX_FAILED, EX_USAGE = 0, 1, 2

EPILOG = f"""\
The daemon runs with NoNewPrivileges=true, so it cannot use sudo. Instead:
  [firmware] install_command = ["/usr/local/bin/cpagent", "firmware-install", "request", "{{file}}"]
hands the image to cpagent-firmware-install.path / .service (systemd/), which run
`apply` as root with the installer named in their ExecStart=. Spool: {SPOOL}.

examples:
  cpagent firmware-install request /var/lib/cpagent/firmware/image.bin
  cpagent firmware-install apply --work-dir /run/cpagent-firmware-install -- \\
      /usr/local/sbin/cpagent-install
"""


_seconds = arguments.number(low=0, low_open=True, out_of_range="must be a number of seconds > 0")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "firmware-install",
        help="hand a firmware image to the root install unit",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    steps = parser.add_subparsers(dest="step", metavar="STEP", required=True)
    request = steps.add_parser(
        "request",
        help="(daemon side) stage FILE, ask for the install, wait for the verdict",
        description="Exit 0 when the installer succeeded, 1 otherwise (the reason on stderr).",
    )
    request.add_argument("file", metavar="FILE", help="the downloaded image (moved away)")
    request.add_argument("--spool", type=Path, default=SPOOL, help=f"default {SPOOL}")
    request.add_argument(
        "--timeout",
        type=_seconds,
        default=540.0,
        metavar="S",
        help="give up after S seconds without a verdict (default 540; keep it below "
        "[firmware] timeout_s, after which the daemon kills this command)",
    )
    request.set_defaults(func=_request)
    apply = steps.add_parser(
        "apply",
        help="(root, from cpagent-firmware-install.service) install the pending image",
        description="Takes the pending request, copies its image into --work-dir, runs "
        "INSTALLER ... IMAGE (no shell) and writes the result for the daemon.",
    )
    apply.add_argument("--spool", type=Path, default=SPOOL, help=f"default {SPOOL}")
    apply.add_argument(
        "--work-dir",
        type=Path,
        required=True,
        help="a directory only root can write (the unit's RuntimeDirectory=)",
    )
    apply.add_argument(
        "--timeout",
        type=_seconds,
        default=600.0,
        metavar="S",
        help="kill the installer after S seconds (default 600)",
    )
    apply.add_argument(
        "installer",
        nargs="+",
        metavar="INSTALLER",
        help="argv of the installer; the image path is appended (or replaces {file})",
    )
    apply.set_defaults(func=_apply)


def _request(args: argparse.Namespace) -> int:
    ok, detail = request_install(args.file, spool=args.spool, timeout_s=args.timeout)
    print(detail, file=sys.stdout if ok else sys.stderr)
    return EX_OK if ok else EX_FAILED


def _apply(args: argparse.Namespace) -> int:
    outcome = apply_request(
        args.installer, spool=args.spool, work_dir=args.work_dir, timeout_s=args.timeout
    )
    if outcome is None:
        print("no pending firmware install request")
        return EX_OK
    ok, detail = outcome
    print(("installed: " if ok else "not installed: ") + detail)
    return EX_OK if ok else EX_FAILED
