"""`cpagent probe meter` against SDM twins on a simulated RS-485 bus (a pty), and its hints."""

from __future__ import annotations

import grp
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from cpagent.commands.modbus_hints import crc16, exception_words, read_request, valid_reply
from hw.evse.evse_din_sim import EvseDinTwin
from hw.meters.rtu_sim import SdmTwin
from hw.rtu_twin import RtuBusSimulator
from tests.bringup.conftest import REPO


@pytest.fixture
def bus() -> Iterator[RtuBusSimulator]:
    """An SDM630 at unit 1, an SDM120 at unit 4 and an EVSE-DIN board at unit 2 on one bus."""
    meter = SdmTwin("SDM630", unit=1)
    meter.set(energy_wh=1_234_567.0, power_w=3450.0, current_a=15.0, voltage_v=230.0)
    small = SdmTwin("SDM120", unit=4)
    with RtuBusSimulator([meter, small, EvseDinTwin(unit=2)]) as simulator:
        yield simulator


def test_one_reading_shows_every_measurand_with_units(cli, bus):
    result = cli("probe", "meter", "--port", bus.port, "--unit", "1")
    assert result.code == 0, result.err
    assert f"SDM630 unit 1 on {bus.port} at 9600 baud" in result.out
    assert "energy import       1234.567 kWh" in result.out
    assert "active power          3450.0 W" in result.out
    for line in (
        "voltage L1             230.0 V",
        "voltage L3             231.0 V",
        "current L2             15.50 A",
        "frequency              50.00 Hz",
    ):
        assert line in result.out


def test_the_model_comes_from_the_config_meter(cli, bus, write_config):
    config = write_config(f"""
        [gpio]
        pin_factory = "mock"
        [[connector]]
        relay_pin = 17
        [connector.meter]
        driver = "sdm120"
        port = "{bus.port}"
        unit = 4
    """)
    result = cli("probe", "meter", "--config", str(config))
    assert result.code == 0, result.err
    assert "SDM120 unit 4" in result.out
    assert "voltage L1" not in result.out and "voltage" in result.out


def test_scan_lists_every_unit_that_answers_with_progress(cli, bus):
    result = cli(
        "probe", "meter", "--port", bus.port, "--scan", "--units", "1-6", "--timeout", "0.1"
    )
    assert result.code == 0, result.err
    assert "unit 1: answers: input register 0 (L1 voltage on an SDM) = 230.0" in result.out
    assert "unit 2: answers: unit 2 answered function 04 with exception 02" in result.out
    assert "unit 4: answers" in result.out
    assert result.out.rstrip().endswith("3 unit(s) answer: 1, 2, 4")
    assert "scanning units 1-6" in result.err and "(at most 1 s)" in result.err


def test_wrong_unit_id_names_the_units_that_answer(cli, bus):
    result = cli("probe", "meter", "--port", bus.port, "--unit", "7", "--timeout", "0.2")
    assert result.code == 1
    assert (
        "no answer at unit 7, but unit(s) 1, 2, 4 answer: wrong unit id (use --unit 1" in result.err
    )


def test_exception_reply_is_said_in_words(cli, bus):
    result = cli("probe", "meter", "--port", bus.port, "--unit", "2")
    assert result.code == 1
    assert "unit 2 answered function 04 with exception 02: illegal data address" in result.err
    assert "ExceptionResponse" not in result.err


def test_no_answer_at_all_points_at_wiring(cli, silent_pty):
    result = cli("probe", "meter", "--port", silent_pty.port, "--timeout", "0.2")
    assert result.code == 1
    assert "no answer at all: check the wiring (A to A, B to B" in result.err
    assert read_request(1, 0, 2) in bytes(silent_pty.heard)  # the raw listen asked unit 1


def test_garbage_on_the_line_points_at_baud_rate_or_swapped_wires(cli, garbling_pty):
    result = cli("probe", "meter", "--port", garbling_pty.port, "--timeout", "0.2")
    assert result.code == 1
    assert "bytes came back but no valid Modbus frame (ff 00 f8" in result.err
    assert "wrong baud rate" in result.err and "A and B swapped" in result.err


def test_scan_of_a_silent_bus_fails_with_the_wiring_hint(cli, silent_pty):
    result = cli(
        "probe", "meter", "--port", silent_pty.port, "--scan", "--units", "1-3", "--timeout", "0.05"
    )
    assert result.code == 1
    assert "no unit in 1-3 answers" in result.err and "no answer at all" in result.err


def test_missing_port(cli, tmp_path):
    result = cli("probe", "meter", "--port", str(tmp_path / "ttyUSB9"))
    assert result.code == 69
    assert "ttyUSB9 does not exist: is the adapter plugged in?" in result.err


def test_port_open_in_another_process_is_named(cli, bus, port_user):
    other = port_user(bus.port)
    result = cli("probe", "meter", "--port", bus.port)
    assert result.code == 69
    assert f"is in use by pid {other.pid} (sleep)" in result.err


def test_refuses_while_the_daemon_holds_the_devices(cli, bus, write_config, tmp_path, lock_holder):
    config = write_config(f"""
        [[connector]]
        relay_pin = 17
        [connector.meter]
        driver = "sdm630"
        port = "{bus.port}"
    """)
    daemon = lock_holder(tmp_path / "state")
    result = cli("probe", "meter", "--config", str(config))
    assert result.code == 75
    assert f"`cpagent run` (pid {daemon.pid}) holds the devices" in result.err
    assert bus.twins[0].requests == 0  # nothing was sent on its bus


NO_DAC_OVERRIDE = [
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
]


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"),
    reason="needs root and setpriv to take the file-access override away",
)
@pytest.mark.parametrize(
    "mode, hint",
    [
        (0o660, "join group {group} (sudo usermod -aG {group} $USER, then log in again)"),
        (0o000, "mode c--------- lets nobody in your groups read and write it"),
    ],
    ids=["group-only", "chmod-000"],
)
def test_permission_denied_says_what_to_do(silent_pty, mode, hint):
    # The port belongs to another user and group dialout; the probe runs as a root without
    # CAP_DAC_OVERRIDE and not in dialout: what a user outside dialout sees.
    os.chown(silent_pty.port, 65534, 20)
    os.chmod(silent_pty.port, mode)
    code = (
        f"import sys; from cpagent.cli import main; sys.exit(main(['probe', 'meter', "
        f"'--port', {silent_pty.port!r}]))"
    )
    proc = subprocess.run(
        [*NO_DAC_OVERRIDE, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 77, proc.stderr
    expected = hint.format(group=grp.getgrgid(20).gr_name)
    assert f"permission denied on {silent_pty.port}: {expected}" in proc.stderr


def test_modbus_exception_codes_in_words():
    text = "exception reply ExceptionResponse(dev_id=1, function_code=132, exception_code=4)"
    assert exception_words(text) == (
        "unit 1 answered function 04 with exception 04: server device failure (the device "
        "failed while answering)"
    )
    gateway = "ExceptionResponse(dev_id=9, function_code=131, exception_code=11)"
    assert "exception 11: gateway target device failed to respond" in str(exception_words(gateway))
    assert exception_words("No response received after 2 retries") is None


def test_raw_frames_carry_a_modbus_crc():
    # Modbus over Serial Line V1.02 §6.2.2 example: 01 04 00 00 00 02 -> CRC 71 CB.
    assert read_request(1, 0, 2) == bytes.fromhex("010400000002 71cb")
    reply = bytes.fromhex("01 04 04 43 66 00 00")
    crc = crc16(reply)
    assert valid_reply(reply + bytes([crc & 0xFF, crc >> 8]), 1)
    assert not valid_reply(reply + b"\x00\x00", 1)
