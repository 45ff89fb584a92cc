"""`cpagent test relay` on gpiozero mock pins: switching, feedback read-back, always off."""

from __future__ import annotations

import io
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockConnectedPin, MockFactory

from cpagent.commands.hwtest import RelayWiring, relay_test
from hw.mock_board import BOARD_FILE, read_board
from tests.bringup.conftest import REPO


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    pins = MockFactory()
    yield pins
    pins.reset()


@pytest.fixture
def relay_config(write_config):
    return write_config("""
        [gpio]
        pin_factory = "mock"
        [[connector]]
        relay_pin = 17
        [[connector]]
        relay_pin = 5
        relay_active_high = false
        relay_feedback_pin = 6
    """)


def _levels(config) -> dict[str, bool]:
    return read_board(config.parent / "state" / BOARD_FILE)


def test_on_energises_then_leaves_the_relay_off(cli, relay_config):
    result = cli("test", "relay", "1", "on", "--hold", "0", "--config", str(relay_config))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "connector 1 relay: ON (energised), GPIO17 high"
    assert "connector 1 relay: OFF (de-energised), GPIO17 low" in lines
    assert "no feedback pin configured: listen for the contactor" in result.out
    assert _levels(relay_config) == {"GPIO17": False}  # what the line was left at


def test_active_low_relay_is_driven_low_to_energise(cli, relay_config):
    result = cli("test", "relay", "2", "on", "--hold", "0", "--config", str(relay_config))
    assert "connector 2 relay: ON (energised), GPIO5 low" in result.out
    assert _levels(relay_config)["GPIO5"] is True  # inactive level of an active-low board


def test_unwired_feedback_disagrees_and_exits_1(cli, relay_config):
    result = cli("test", "relay", "2", "on", "--hold", "0", "--config", str(relay_config))
    assert result.code == 1
    assert "feedback GPIO6: contact open - DISAGREES: the contactor did not close" in result.out


def test_off_with_the_pin_on_the_command_line(cli, relay_config):
    result = cli("test", "relay", "1", "off", "--pin", "26", "--config", str(relay_config))
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "connector 1 relay: OFF (de-energised), GPIO26 low",
        "connector 1 relay: no feedback pin configured: listen for the contactor",
    ]


def test_feedback_that_follows_the_contactor_agrees(factory):
    # The relay output wired to the feedback input, as a working contactor's aux contact is.
    feedback = factory.pin(22)
    factory.pin(17, pin_class=MockConnectedPin, input_pin=feedback)
    out = io.StringIO()
    ok = relay_test(
        RelayWiring(17, feedback_pin=22),
        factory,
        on=True,
        hold_s=0,
        name="connector 1 relay",
        out=out,
        settle_s=0.01,
    )
    assert ok, out.getvalue()
    assert "feedback GPIO22: contact closed - agrees" in out.getvalue()
    assert "feedback GPIO22: contact open - agrees" in out.getvalue()
    assert factory.pin(17).state is False


def test_welded_contactor_is_reported_after_off(factory):
    factory.pin(22).drive_high()  # the aux contact stays closed: welded main contacts
    out = io.StringIO()
    ok = relay_test(
        RelayWiring(17, feedback_pin=22),
        factory,
        on=False,
        hold_s=0,
        name="connector 1 relay",
        out=out,
        settle_s=0.01,
    )
    assert not ok
    assert (
        "contact closed - DISAGREES: the contact is still closed: welded contactor"
        in out.getvalue()
    )


def test_refuses_while_the_daemon_runs(cli, relay_config, tmp_path, lock_holder):
    daemon = lock_holder(tmp_path / "state")
    result = cli("test", "relay", "1", "on", "--config", str(relay_config))
    assert result.code == 75
    assert f"`cpagent run` (pid {daemon.pid}) holds the devices" in result.err
    assert _levels(relay_config) == {}  # no line was touched


def test_needs_a_config_or_a_pin(cli):
    result = cli("test", "relay", "1", "on")
    assert result.code == 78
    assert "give --config FILE or the pins/ports on the command line" in result.err


def test_unknown_connector(cli, relay_config):
    result = cli("test", "relay", "3", "off", "--config", str(relay_config))
    assert result.code == 78
    assert "connector 3: the config has 2 connector(s)" in result.err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_hold_leaves_the_relay_off(relay_config, signum):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cpagent",
            "test",
            "relay",
            "1",
            "on",
            "--hold",
            "60",
            "--config",
            str(relay_config),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        seen = b""
        while b"holding for 60 s" not in seen:
            assert time.monotonic() < deadline, seen
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                seen += os.read(proc.stdout.fileno(), 4096)
        assert _levels(relay_config) == {"GPIO17": True}  # energised while it holds
        proc.send_signal(signum)
        rest, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    out = (seen + rest).decode()
    assert proc.returncode == 0, err
    assert "connector 1 relay: interrupted: de-energised (GPIO17 low)" in out
    assert _levels(relay_config) == {"GPIO17": False}
