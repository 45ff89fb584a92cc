"""Bench: time from a card entering the PN532 twin's field to the driver's CardPresented."""

from __future__ import annotations

import argparse
import queue
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hw.events import CardPresented  # noqa: E402
from hw.rfid.pn532 import Pn532Reader  # noqa: E402
from hw.rfid.pn532_twin import Pn532Twin  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=30, help="cards presented (default 30)")
    parser.add_argument("--poll", type=float, default=0.2, help="poll interval, s (default 0.2)")
    args = parser.parse_args(argv)
    events: queue.Queue[object] = queue.Queue()
    with tempfile.TemporaryDirectory(prefix="cpagent-pn532-") as tmp:
        twin = Pn532Twin(Path(tmp) / "ttyNFC").start()
        reader = Pn532Reader(twin.port, post=events.put, poll_interval_s=args.poll)
        reader.start()
        if not reader.ready.wait(10):
            print("the reader did not start", file=sys.stderr)
            return 1
        latencies = []
        for n in range(args.taps):
            uid = f"04{n:012X}"  # a new 7-byte UID each time: every tap is a presentation
            start = time.monotonic()
            twin.place(uid)
            while True:
                event = events.get(timeout=10)
                if isinstance(event, CardPresented) and event.id_tag == uid:
                    break
            latencies.append(time.monotonic() - start)
            twin.remove()
            time.sleep(random.uniform(0, args.poll))  # the next card comes at any phase of a poll
        reader.stop(timeout=5)
        twin.close()
    ms = sorted(1000 * t for t in latencies)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(
        f"PN532 twin on a pty, poll every {args.poll:g} s, {args.taps} taps: card in field -> "
        f"CardPresented median {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, "
        f"max {ms[-1]:.0f} ms; {reader.polls} polls, {reader.failures} failed, "
        f"{reader.parser.frames_bad} bad frames"
    )
    print(
        "(a pty has no baud-rate timing and the twin no RF time: on a real line add a few ms "
        "per poll, ~37 bytes at 115200 baud, plus the card's activation)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
