"""`cpagent ctl`: every bench command documented with examples, clear errors, real hw refused."""

from __future__ import annotations

import os
import pty
from collections.abc import Iterator

import pytest

from cpagent.cli import main

from .conftest import Daemon, run_cli, start_daemon, stop, write_bench

ACTIONS = ("plug", "unplug", "tap", "fault", "clear-fault", "ev-load")


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_has_help_with_an_example(
    action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["ctl", action, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"cpagent ctl --config config/bench.toml {action} " in out


def test_ctl_help_lists_every_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["ctl", "--help"])
    out = capsys.readouterr().out
    assert all(f"    {action} " in out for action in ACTIONS), out


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["plug", "abc"], "argument connector: not a connector number: 'abc'"),
        (["unplug", "0"], "argument connector: connector numbers start at 1"),
        (["ev-load", "1", "nan"], "argument watts: watts must be a finite number >= 0"),
        (["ev-load", "1", "-5"], "argument watts: watts must be a finite number >= 0"),
        (["ev-load", "1", "lots"], "argument watts: not a number of watts: 'lots'"),
        (["tap", ""], "argument id_tag: an idTag is 1-20 printable characters"),
        (["tap", "X" * 21], "argument id_tag: an idTag is 1-20 printable characters"),
        (["fault", "1", "Melted"], "argument code: 'Melted' is not one of PowerMeterFailure"),
        (["clear-fault"], "the following arguments are required: connector"),
        (["ev", "1", "fly"], "argument what: 'fly' is not one of charge"),
        (["ev", "1", "fault", "Melted"], "argument code: 'Melted' is not one of ResidualCurrent"),
        (["launch"], "invalid choice: 'launch'"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["ctl", "--socket", "/nonexistent.sock", *argv])
    assert exit_info.value.code == 2
    assert error in capsys.readouterr().err


def test_no_daemon_exits_69() -> None:
    result = run_cli("ctl", "--socket", "/nonexistent/ctl.sock", "plug", "1")
    assert result.returncode == 69
    assert result.stderr == (
        "cpagent: cpagent is not running (no control socket at /nonexistent/ctl.sock)\n"
    )


@pytest.fixture(scope="module")
def real_devices(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A daemon whose connector 1 meter is a real SDM630 and whose reader a real RDM6300,
    each on a pseudo-terminal (nothing answers; they only have to open)."""
    fds = [fd for _ in range(2) for fd in pty.openpty()]
    meter_tty, reader_tty = os.ttyname(fds[1]), os.ttyname(fds[3])

    def edit(text: str) -> str:
        text = text.replace(
            '[connector.meter]\ndriver = "sim"',
            f'[connector.meter]\ndriver = "sdm630"\nport = "{meter_tty}"',
            1,
        )
        text = text.replace("plug_pin = 23\n", "")
        return text.replace(
            '[rfid]\ndriver = "sim"', f'[rfid]\ndriver = "rdm6300"\nport = "{reader_tty}"'
        )

    running = start_daemon(write_bench(tmp_path_factory.mktemp("real"), edit=edit))
    try:
        yield running
    finally:
        stop(running.proc)
        for fd in fds:
            os.close(fd)


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (
            ["ev-load", "1", "100"],
            'connector 1: meter is a real sdm630; faults and loads apply to driver = "sim" only',
        ),
        (["fault", "1", "PowerMeterFailure"], "connector 1: meter is a real sdm630"),
        (["clear-fault", "1"], "connector 1: meter is a real sdm630"),
        (["tap", "04A1B2C3D4"], 'the card reader is real; tap needs [rfid] driver = "sim"'),
        (["plug", "2"], "connector 2 has no plug_pin configured"),
        (["plug", "3"], "no connector 3 (this chargepoint has 1-2)"),
        (["ev", "1", "charge"], 'connector 1: ev needs [connector.evse] driver = "sim"'),
    ],
)
def test_real_or_missing_hardware_is_refused_in_one_line(
    real_devices: Daemon, argv: list[str], error: str
) -> None:
    result = run_cli("ctl", "--socket", str(real_devices.socket), *argv)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"cpagent: cpagent refused: {error}"), line


def test_simulated_hardware_obeys(daemon: Daemon) -> None:
    for argv, answer in [
        (["plug", "1"], '{"connector": 1, "plugged": true}'),
        (["ev-load", "1", "3680"], '{"connector": 1, "ev_load_w": 3680.0}'),
        (["fault", "2", "PowerMeterFailure"], '{"connector": 2, "fault": "PowerMeterFailure"}'),
        (["clear-fault", "2"], '{"connector": 2, "fault": null}'),
        (["tap", "04A1B2C3D4"], '{"id_tag": "04A1B2C3D4"}'),
        (["unplug", "1"], '{"connector": 1, "plugged": false}'),
    ]:
        result = run_cli("ctl", "--config", str(daemon.config), *argv)
        assert (result.returncode, result.stdout.strip()) == (0, answer), result.stderr
