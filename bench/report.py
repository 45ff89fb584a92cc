"""Run every bench script, each as a bounded subprocess, and print all figures as one table.

Each script prints its figures last; this keeps the final block of its output (the lines after
its last blank line, at most --lines). A script that is missing, fails or runs past --timeout-s
gets a row that says so, and the others still run. Scripts run one after another, so they do
not compete for the 2 cores. Usage: python3 -m bench.report [--timeout-s 300] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# The benchmarks issue 8 asks for; listed even when a script does not exist (yet).
EXPECTED = ("core_rpc", "e2e_latency", "footprint", "offline_replay", "transport_rtt", "meter_poll")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One script's run: `status` is ok / failed (exit N) / timed out / missing."""

    script: str
    status: str
    seconds: float
    figures: tuple[str, ...]


def scripts(only: list[str]) -> list[str]:
    """Expected scripts first, then any other bench/*.py (not this one, not _helpers)."""
    if only:
        return only
    found = sorted(
        p.stem for p in BENCH.glob("*.py") if p.stem != "report" and not p.stem.startswith("_")
    )
    return list(EXPECTED) + [name for name in found if name not in EXPECTED]


def last_block(text: str, lines: int) -> tuple[str, ...]:
    """The lines after the last blank line (the figures), at most `lines` of them."""
    block: list[str] = []
    for line in reversed(text.rstrip().splitlines()):
        if not line.strip():
            break
        block.append(line.rstrip())
    return tuple(reversed(block[:lines]))


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


def run(script: str, timeout_s: float, lines: int) -> Outcome:
    """Run `python3 -m bench.<script>`; never raises for anything the script does."""
    if not (BENCH / f"{script}.py").is_file():
        return Outcome(script, "missing", 0.0, ())
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", f"bench.{script}"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        partial = last_block(_text(exc.stdout), lines)
        return Outcome(
            script, f"timed out after {timeout_s:g} s", time.monotonic() - start, partial
        )
    except OSError as exc:
        return Outcome(script, f"could not start: {exc}", time.monotonic() - start, ())
    seconds = time.monotonic() - start
    if done.returncode != 0:
        why = last_block(done.stderr, 1) or ("(no output)",)
        return Outcome(script, f"failed (exit {done.returncode})", seconds, why)
    return Outcome(script, "ok", seconds, last_block(done.stdout, lines))


def table(outcomes: list[Outcome]) -> str:
    """A Markdown table: one row per figure line, the script named on its first row."""
    rows = ["| script | status | s | figures |", "|---|---|---:|---|"]
    for outcome in outcomes:
        figures = outcome.figures or ("",)
        for n, figure in enumerate(figures):
            cells = (
                (outcome.script, outcome.status, f"{outcome.seconds:.0f}")
                if n == 0
                else ("", "", "")
            )
            cell = "`" + figure.replace("|", "\\|").replace("`", "'") + "`" if figure else ""
            rows.append(f"| {' | '.join(cells)} | {cell} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--timeout-s", type=float, default=300.0, help="bound per script (default 300)"
    )
    parser.add_argument(
        "--lines",
        type=int,
        default=12,
        help="keep at most this many figure lines per script (default 12)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=[],
        metavar="NAME",
        help="run only these scripts (names without .py)",
    )
    args = parser.parse_args(argv)
    outcomes = []
    for script in scripts(args.only):
        print(f"running bench.{script} ...", file=sys.stderr, flush=True)
        outcomes.append(run(script, args.timeout_s, args.lines))
    print(
        f"cpagent benchmarks, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"python {sys.version.split()[0]}"
    )
    print()
    print(table(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
