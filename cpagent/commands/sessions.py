"""`cpagent sessions [--since DATE] [--csv | --json | --json-lines] [--samples] [--show-tags]`:
the session history."""

from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from cpagent.commands.common import EX_OK, CliError, add_config_option, load_or_report, run_guarded

EX_USAGE = 64  # sysexits.h: a bad --since
EX_NOINPUT = 66  # sysexits.h: no state database, or one without history
EX_TEMPFAIL = 75  # sysexits.h: the database changed under the reader; run it again

CSV_COLUMNS = (
    "local_id",
    "transaction_id",
    "connector",
    "id_tag",
    "start",
    "stop",
    "meter_start_wh",
    "meter_stop_wh",
    "energy_kwh",
    "stop_reason",
    "acknowledged",
)
TABLE = "{:>6} {:>10} {:>4}  {:<12} {:<19}  {:<19}  {:>9}  {:<16} {}"

EPILOG = """\
Every finished transaction the daemon recorded (the state database in [state] dir), oldest
first, streamed: it works while the daemon runs, and without it. Sessions are kept for
[state] history_days and at most [state] history_max_sessions.

  (default)  a table for people; card ids masked to their last 4 characters
             (--show-tags shows them whole)
  --csv      CSV for spreadsheets and billing (UTF-8, RFC 4180, a header row; times ISO 8601
             UTC, energy in kWh with 3 decimals, meter registers in Wh); full card ids
  --json     JSON for scripts: one array of session objects, streamed; full card ids
  --json-lines
             the same objects as JSON Lines, one a line (for line-by-line tools)
  --samples  with --json or --json-lines: each session's meter samples as "samples":
             [time, power_w, energy register Wh] (up to 1000 a session: large, slower)

id is the central system's transactionId (-1: its StartTransaction was never delivered, so
the central system knows the session by its Stop only); acknowledged: the central system
answered its StopTransaction. --since takes a date or a date-time in UTC
(2026-11-01, 2026-11-01T08:00); a session counts from its start.

exit status: 0 done, 64 bad --since, 66 no state database (or one without history),
75 the database changed while it was read (a daemon started): run it again, 78 bad config

examples:
  cpagent sessions --config /etc/cpagent/cpagent.toml
  cpagent sessions --since 2026-11-01 --csv --config /etc/cpagent/cpagent.toml > nov.csv
  cpagent sessions --json --config /etc/cpagent/cpagent.toml | jq 'map(.energy_wh) | add'
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sessions",
        help="list or export the finished charging sessions (table, CSV, JSON)",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--since",
        metavar="DATE",
        help="only sessions started at or after DATE (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], UTC)",
    )
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="CSV with a header row")
    form.add_argument("--json", action="store_true", help="one JSON array of sessions")
    form.add_argument(
        "--json-lines", action="store_true", help="JSON Lines: one session object a line"
    )
    parser.add_argument(
        "--samples", action="store_true", help="with --json(-lines): each session's samples too"
    )
    parser.add_argument("--show-tags", action="store_true", help="show card ids whole in the table")
    add_config_option(parser)
    parser.set_defaults(func=functools.partial(run_guarded, run))


def parse_since(text: str) -> datetime:
    """A date or date-time, UTC unless it carries an offset; raises CliError (64)."""
    value = text.strip()
    try:
        if value.endswith(("Z", "z")):
            value = value[:-1] + "+00:00"
        when = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(
            f"--since {text!r}: not a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM, UTC)",
            EX_USAGE,
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from cpagent.chargepoint.store import DATABASE_FILE
    from cpagent.history import HistoryUnavailable, SessionHistory

    since = parse_since(args.since) if args.since is not None else None
    as_json = args.json or args.json_lines
    if args.samples and not as_json:
        raise CliError("--samples goes with --json or --json-lines", EX_USAGE)
    config = load_or_report(args.config)
    try:
        history = SessionHistory(config.state.dir / DATABASE_FILE)
    except HistoryUnavailable as exc:
        raise CliError(str(exc), EX_NOINPUT) from None
    if out is None:
        out = sys.stdout
        if (args.csv or as_json) and isinstance(out, io.TextIOWrapper):
            out.reconfigure(encoding="utf-8")  # whatever the locale says (RFC 4180 leaves it)
    try:
        with history:
            if args.csv:
                write_csv(history.iterate(since, samples=False), out)
            elif as_json:
                rows = history.iterate(since, samples=args.samples)
                write_json(rows, out, samples=args.samples, lines=args.json_lines)
            else:
                write_table(history.iterate(since, samples=False), out, args.show_tags, since)
            out.flush()
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
    except sqlite3.DatabaseError as exc:  # read as immutable, and a daemon started meanwhile
        raise CliError(
            f"{history.path}: changed while it was read ({exc}); run it again", EX_TEMPFAIL
        ) from None
    return EX_OK


def _csv_time(stamp: str | None) -> str:
    """`2026-12-01T10:00:00Z` (whole seconds: spreadsheets read it; billing needs no more)."""
    return "" if stamp is None else stamp[:19] + "Z"


def write_csv(sessions: Iterable[dict[str, Any]], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 line ends and quoting
    writer.writerow(CSV_COLUMNS)
    for s in sessions:
        writer.writerow(
            (
                s["local_id"],
                "" if s["id"] is None else s["id"],
                s["connector"],
                s["id_tag"],
                _csv_time(s["start"]),
                _csv_time(s["stop"]),
                f"{s['meter_start_wh']:.0f}",
                f"{s['meter_stop_wh']:.0f}",
                f"{s['energy_wh'] / 1000:.3f}",
                s["stop_reason"],
                "true" if s["acknowledged"] else "false",
            )
        )


def write_json(sessions: Iterable[dict[str, Any]], out: TextIO, samples: bool, lines: bool) -> None:
    """One JSON array (RFC 8259), written a session at a time so 10,000 sessions stream; or
    JSON Lines (`lines`): the same objects, one a line."""
    first = True
    if not lines:
        out.write("[")
    for s in sessions:
        if not samples:
            del s["samples"]  # not read: left out rather than shown empty
        text = json.dumps(s, ensure_ascii=False, separators=(",", ":"))
        if lines:
            out.write(text + "\n")
        else:
            out.write(("\n" if first else ",\n") + text)
        first = False
    if not lines:
        out.write("\n]\n")


def _shown(stamp: str | None) -> str:
    return "-" if stamp is None else stamp[:19].replace("T", " ")


def write_table(
    sessions: Iterator[dict[str, Any]], out: TextIO, show_tags: bool, since: datetime | None
) -> None:
    from cpagent.redact import mask_id_tag

    count, total_wh = 0, 0.0
    for s in sessions:
        if not count:
            out.write(
                TABLE.format(
                    "local",
                    "id",
                    "conn",
                    "card",
                    "start (UTC)",
                    "stop (UTC)",
                    "kWh",
                    "reason",
                    "acknowledged",
                ).rstrip()
                + "\n"
            )
        count += 1
        total_wh += s["energy_wh"]
        line = TABLE.format(
            s["local_id"],
            "-" if s["id"] is None else s["id"],
            s["connector"],
            s["id_tag"] if show_tags else mask_id_tag(s["id_tag"]),
            _shown(s["start"]),
            _shown(s["stop"]),
            f"{s['energy_wh'] / 1000:.3f}",
            s["stop_reason"],
            "yes" if s["acknowledged"] else "no",
        )
        out.write(line.rstrip() + "\n")
    after = f" since {since:%Y-%m-%d %H:%M:%S} UTC" if since is not None else ""
    noun = "session" if count == 1 else "sessions"
    out.write(
        f"{count} {noun}{after}, {total_wh / 1000:.3f} kWh\n" if count else f"no sessions{after}\n"
    )
