"""The relay guard opens every contactor on every way out of the process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from cpagent.daemon.safety import RelayGuard
from hw.errors import RelayError
from hw.relay import GpioRelay

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """\
import atexit, os, sys
from gpiozero.pins.mock import MockFactory
from hw.relay import GpioRelay
from cpagent.daemon.safety import RelayGuard

factory = MockFactory()
relay = GpioRelay(17, pin_factory=factory)
# atexit runs last-registered first: this report runs after the guard's handler.
atexit.register(lambda: print("at exit pin 17 =", factory.pin(17).state, flush=True))
guard = RelayGuard()
guard.add("connector1", relay)
guard.install_atexit()
relay.energise()
print("energised pin 17 =", factory.pin(17).state, flush=True)
{ending}
"""


@pytest.mark.parametrize(
    ("ending", "exit_code"),
    [("pass", 0), ("sys.exit(3)", 3), ("raise RuntimeError('bug')", 1)],
    ids=["normal end", "sys.exit", "uncaught exception"],
)
def test_atexit_opens_the_relay(ending: str, exit_code: int) -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT.format(ending=ending))],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == exit_code, result.stderr
    assert result.stdout.splitlines() == ["energised pin 17 = True", "at exit pin 17 = False"]


class StuckRelay:
    """A relay whose driver fails (nothing real fails on demand)."""

    energised = True

    def energise(self) -> None:
        return None

    def de_energise(self) -> None:
        raise RelayError("connector1: output stuck")

    def close(self) -> None:
        raise RelayError("connector1: output stuck")


def test_one_failing_relay_does_not_keep_the_others_closed() -> None:
    factory = MockFactory()
    good = GpioRelay(22, pin_factory=factory)
    good.energise()
    guard = RelayGuard()
    guard.add("connector1", StuckRelay())
    guard.add("connector2", good)
    assert guard.de_energise_all() == ["connector1"]
    assert not factory.pin(22).state
    guard.close_all()  # logs, does not raise


def test_closed_relays_count_as_open() -> None:
    relay = GpioRelay(5, pin_factory=MockFactory())
    relay.close()
    guard = RelayGuard()
    guard.add("connector1", relay)
    assert guard.de_energise_all() == []
