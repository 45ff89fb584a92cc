"""`cpagent probe evse` and `cpagent test pilot` against the EVSE-DIN and OpenEVSE twins."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from cpagent.commands.evse_access import evse_target
from hw.evse.evse_din_sim import EvseDinTwin
from hw.evse.openevse_sim import OpenEvseTwin
from hw.evse.sim import SimVehicle
from hw.meters.rtu_sim import SdmTwin
from hw.rtu_twin import RtuBusSimulator


@pytest.fixture
def vehicle() -> SimVehicle:
    return SimVehicle()


@pytest.fixture
def board(vehicle: SimVehicle) -> Iterator[tuple[RtuBusSimulator, EvseDinTwin]]:
    """An EVSE-DIN board at unit 2 sharing its bus with an SDM630 at unit 1 (openWB's layout)."""
    twin = EvseDinTwin(unit=2, vehicle=vehicle)
    with RtuBusSimulator([SdmTwin("SDM630", unit=1), twin]) as bus:
        yield bus, twin


@pytest.fixture
def openevse(vehicle: SimVehicle) -> Iterator[OpenEvseTwin]:
    with OpenEvseTwin(vehicle=vehicle) as twin:
        yield twin


def test_evse_din_identity_pilot_state_and_current(cli, board, vehicle):
    bus, twin = board
    vehicle.plug()
    result = cli("probe", "evse", "--driver", "evse-din", "--port", bus.port, "--unit", "2")
    assert result.code == 0, result.err
    assert (
        f"EVSE-DIN unit 2 on {bus.port} at 9600 baud: firmware 18, minimum current 6 A"
        in result.out
    )
    assert "pilot state B: vehicle connected, not ready to charge (+9 V)" in result.out
    assert "offered current 0 A" in result.out and "faults: none" in result.out
    assert twin.configured_a == 0  # the board booted offering 32 A; probing leaves 0 A


def test_evse_din_fault_is_shown(cli, board):
    bus, twin = board
    twin.inject_fault(1 << 5)  # register 1007 bit 5: the RCD tripped
    result = cli("probe", "evse", "--driver", "evse-din", "--port", bus.port, "--unit", "2")
    assert result.code == 0, result.err
    assert "faults: ResidualCurrent" in result.out
    assert "pilot state F: controller not available" in result.out


def test_evse_din_at_the_meter_s_address_says_so_in_words(cli, board):
    bus, _ = board
    result = cli("probe", "evse", "--driver", "evse-din", "--port", bus.port, "--unit", "1")
    assert result.code == 1
    assert "unit 1 answered function 03 with exception 02: illegal data address" in result.err
    assert "is unit 1 an EVSE-DIN board" in result.err


def test_evse_din_wrong_unit_names_the_units_that_answer(cli, board):
    bus, _ = board
    result = cli("probe", "evse", "--driver", "evse-din", "--port", bus.port, "--unit", "9")
    assert result.code == 1
    assert "no answer at unit 9, but unit(s) 1, 2 answer: wrong unit id" in result.err


def test_openevse_identity_and_pilot(cli, openevse, vehicle):
    vehicle.plug()
    result = cli("probe", "evse", "--driver", "openevse", "--port", openevse.port)
    assert result.code == 0, result.err
    assert f"OpenEVSE on {openevse.port} at 115200 baud: firmware/RAPI 8.2.2 5.1.0" in result.out
    assert "pilot state B: vehicle connected" in result.out
    assert "offered current 0 A" in result.out
    assert "FS" in openevse.commands  # asleep: no PWM


def test_openevse_silent_board_gets_the_wiring_hint(cli, openevse):
    openevse.silent = True
    result = cli("probe", "evse", "--driver", "openevse", "--port", openevse.port)
    assert result.code == 1
    assert "no answer - check TX/RX crossed and GND joined" in result.err


def test_probe_evse_needs_driver_and_port(cli):
    result = cli("probe", "evse", "--port", "/dev/null")
    assert result.code == 2
    assert "give --driver evse-din|openevse and --port PORT" in result.err


def test_test_pilot_offers_the_current_then_zero(cli, board, vehicle):
    bus, twin = board
    vehicle.plug()
    result = cli(
        "test",
        "pilot",
        "1",
        "10",
        "--driver",
        "evse-din",
        "--port",
        bus.port,
        "--unit",
        "2",
        "--hold",
        "0",
    )
    assert result.code == 0, result.err
    assert "connector 1: offering 10 A" in result.out
    assert (
        "pilot state C: vehicle connected and charging (+6 V); offered current 10 A" in result.out
    )
    assert "back to 0 A: pilot state B" in result.out
    assert 10 in twin.writes and twin.writes[-1] == 0 and twin.configured_a == 0


def test_test_pilot_refuses_more_than_the_connector_allows(cli, board, write_config):
    bus, twin = board
    config = write_config("""
        [gpio]
        pin_factory = "mock"
        [[connector]]
        relay_pin = 17
        max_current_a = 16.0
    """)
    result = cli(
        "test",
        "pilot",
        "1",
        "20",
        "--driver",
        "evse-din",
        "--port",
        bus.port,
        "--unit",
        "2",
        "--config",
        str(config),
    )
    assert result.code == 2
    assert "AMPS must be 0 or 6-16 A" in result.err
    assert twin.writes == []


def test_test_pilot_takes_the_controller_from_a_connector_evse_table(board):
    bus, _ = board
    # A config with [connector.evse] (as the config loader will offer it): options win.
    connector = SimpleNamespace(
        evse=SimpleNamespace(driver="evse-din", port=bus.port, unit=2, baudrate=19200)
    )
    args = SimpleNamespace(driver=None, port=None, unit=None, baudrate=None)
    target = evse_target(args, connector)
    assert (target.driver, target.port, target.unit, target.baudrate) == (
        "evse-din",
        bus.port,
        2,
        19200,
    )
    args.unit = 5
    assert evse_target(args, connector).unit == 5


def test_test_pilot_refuses_while_the_daemon_runs(cli, board, write_config, tmp_path, lock_holder):
    bus, twin = board
    config = write_config("""
        [[connector]]
        relay_pin = 17
    """)
    daemon = lock_holder(tmp_path / "state")
    result = cli(
        "test",
        "pilot",
        "1",
        "6",
        "--driver",
        "evse-din",
        "--port",
        bus.port,
        "--unit",
        "2",
        "--config",
        str(config),
    )
    assert result.code == 75
    assert f"(pid {daemon.pid}) holds the devices" in result.err
    assert twin.writes == []


def test_test_pilot_reads_the_controller_from_the_config(cli, board, vehicle, write_config):
    bus, _ = board
    vehicle.plug()
    config = write_config(f"""
        [[connector]]
        max_current_a = 16.0
        [connector.evse]
        driver = "evse-din"
        port = "{bus.port}"
        unit = 2
    """)
    result = cli("test", "pilot", "1", "10", "--config", str(config), "--hold", "0")
    assert result.code == 0, result.err
    assert "connector 1: offering 10 A" in result.out
    assert "back to 0 A" in result.out


@pytest.mark.parametrize(
    ("driver", "words"),
    [
        ("sim", "cpagent ctl ev 1"),
        ("pwm", "an oscilloscope"),
    ],
)
def test_a_connector_whose_controller_these_commands_cannot_reach_is_named(
    driver: str, words: str
) -> None:
    """config/bench.toml's `sim` controller, or a DIY `pwm` pilot: say so, not "give
    --driver": the connector's controller is configured, just not one these commands speak."""
    from cpagent.commands.common import CliError

    connector = SimpleNamespace(evse=SimpleNamespace(driver=driver, port=None))
    args = SimpleNamespace(driver=None, port=None, unit=None, baudrate=None, connector=1)
    with pytest.raises(CliError) as info:
        evse_target(args, connector)
    message = str(info.value)
    assert f'connector 1\'s [connector.evse] driver is "{driver}"' in message
    assert "evse-din and openevse" in message and words in message
    assert "give --driver" not in message
