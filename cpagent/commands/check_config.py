"""`cpagent check-config FILE`: validate a configuration file without starting anything."""

from __future__ import annotations

import argparse
import functools
from typing import Any

from cpagent.commands.common import EX_OK, load_or_report, run_guarded
from cpagent.config import endpoint_url
from cpagent.redact import redact_text

EPILOG = """\
Prints one line per problem, naming the key path (e.g. connector[1].meter.driver), and
exits 78 (EX_CONFIG) if there is any error; warnings alone exit 0.

With --hardware, also what only the target can tell (run it on the Pi): each device path
exists and the service user (`cpagent`, else you) can read and write it, the pin factory
imports, pins are on the 40-pin header and clash with nothing (a pin used twice, GPIO14/15
while /dev/serial0 is used, GPIO7-11 while an MCP3008 is on SPI), TLS files load as
certificates and keys. One line per finding saying what to change.

examples:
  cpagent check-config /etc/cpagent/cpagent.toml
  cpagent check-config --hardware /etc/cpagent/cpagent.toml
  cpagent check-config config/bench.toml && echo ok
  cpagent check-config --reference > docs/config.md   (every key, its default and rule)
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check-config",
        help="validate a config file",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", nargs="?", help="the TOML configuration file")
    parser.add_argument(
        "--hardware",
        action="store_true",
        help="also check this machine: device paths and their access for the "
        "cpagent user, the pin factory, header pins and clashes, TLS files",
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="print the key reference (Markdown, docs/config.md) and exit",
    )
    parser.set_defaults(func=functools.partial(run_guarded, _check), parser=parser)


def _check(args: argparse.Namespace) -> int:
    if args.reference:
        from cpagent.config.reference import render

        print(render(), end="")
        return EX_OK
    if args.file is None:
        args.parser.error("FILE is required (or --reference)")
    config = load_or_report(args.file)
    if config.csms.url is not None:
        where = redact_text(endpoint_url(config.csms.url, config.chargepoint.id))
    else:
        assert config.mqtt is not None  # the config guarantees [mqtt] for transport mqtt
        where = f"mqtt://{config.mqtt.host}:{config.mqtt.port}/{config.mqtt.topic_prefix}"
    if args.hardware:
        from cpagent.commands.hardware_check import report_hardware

        code = report_hardware(args.file, config)
        if code != EX_OK:
            return code
    web = config.web
    page = ""
    if web is not None:
        page = f", web page on {web.listen}{' (password)' if web.password else ''}"
    print(
        f"{args.file}: ok: chargepoint {config.chargepoint.id}, "
        f"{len(config.connectors)} connector(s), CSMS {where} over {config.csms.transport}{page}"
    )
    return EX_OK
