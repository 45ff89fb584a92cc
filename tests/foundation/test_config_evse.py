"""`[connector.evse]` and `max_current_a`: the EVSE controller's config contract and checks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cpagent.config import Config, ConfigError, load_config
from cpagent.daemon.wiring import build_hardware

HEAD = """\
[chargepoint]
id = "CP1"
vendor = "v"
model = "m"
[csms]
url = "ws://127.0.0.1:9000/ocpp"
[gpio]
pin_factory = "mock"
[state]
dir = "state"
"""


def load(tmp_path: Path, connectors: str, extra: str = "") -> Config:
    path = tmp_path / "c.toml"
    path.write_text(HEAD + extra + textwrap.dedent(connectors))
    path.chmod(0o600)
    return load_config(path)


def problems(tmp_path: Path, connectors: str, extra: str = "") -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, connectors, extra)
    return [str(p) for p in info.value.problems]


def test_an_evse_din_on_the_meters_bus_needs_no_relay_or_plug_pin(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """\
        [[connector]]
        max_current_a = 32.0
        [connector.evse]
        driver = "evse-din"
        port = "/dev/ttyUSB0"
        unit = 2
        [connector.meter]
        driver = "sdm630"
        port = "/dev/ttyUSB0"
        unit = 1
        """,
    )
    conn = config.connectors[0]
    assert conn.relay_pin is None and conn.plug_pin is None and conn.max_current_a == 32.0
    assert conn.evse is not None
    assert (conn.evse.driver, conn.evse.port, conn.evse.unit) == ("evse-din", "/dev/ttyUSB0", 2)
    assert conn.evse.baudrate is None  # the driver's own default (evse-din 9600)


def test_without_evse_todays_wiring_is_unchanged(tmp_path: Path) -> None:
    conn = load(tmp_path, "[[connector]]\nrelay_pin = 17\n").connectors[0]
    assert conn.evse is None and conn.relay_pin == 17 and conn.max_current_a == 16.0


def test_a_pwm_pilot_reads_its_pin_and_adc_channel(tmp_path: Path) -> None:
    conn = load(
        tmp_path,
        """\
        [[connector]]
        relay_pin = 17
        [connector.evse]
        driver = "pwm"
        pwm_pin = 12
        adc_channel = 3
        """,
    ).connectors[0]
    assert conn.evse is not None and (conn.evse.pwm_pin, conn.evse.adc_channel) == (12, 3)


EVSE = "[[connector]]\nrelay_pin = 17\n[connector.evse]\n"
CASES = [
    (
        "no driver",
        EVSE + 'port = "/dev/ttyUSB0"\n',
        "connector[1].evse.driver: missing required key",
    ),
    (
        "bad driver",
        EVSE + 'driver = "simpleevse"\n',
        "connector[1].evse.driver: must be one of evse-din, openevse, pwm, sim, not 'simpleevse'",
    ),
    (
        "evse-din port",
        EVSE + 'driver = "evse-din"\n',
        "connector[1].evse.port: required for driver evse-din",
    ),
    (
        "openevse port",
        EVSE + 'driver = "openevse"\n',
        "connector[1].evse.port: required for driver openevse",
    ),
    ("pwm pin", EVSE + 'driver = "pwm"\n', "connector[1].evse.pwm_pin: required for driver pwm"),
    (
        "pwm pin range",
        EVSE + 'driver = "pwm"\npwm_pin = 60\n',
        "connector[1].evse.pwm_pin: must be a BCM GPIO number 0-53, not 60",
    ),
    (
        "pwm pin twice",
        EVSE + 'driver = "pwm"\npwm_pin = 17\n',
        "connector[1].evse.pwm_pin: pin 17 already used by connector[1].relay_pin",
    ),
    (
        "adc channel",
        EVSE + 'driver = "pwm"\npwm_pin = 12\nadc_channel = 8\n',
        "connector[1].evse.adc_channel: must be 0-7, not 8",
    ),
    (
        "unit for openevse",
        EVSE + 'driver = "openevse"\nport = "/dev/ttyACM0"\nunit = 2\n',
        "connector[1].evse.unit: only for driver evse-din",
    ),
    (
        "unit range",
        EVSE + 'driver = "evse-din"\nport = "/dev/ttyUSB0"\nunit = 0\n',
        "connector[1].evse.unit: must be a Modbus address 1-247, not 0",
    ),
    (
        "baudrate",
        EVSE + 'driver = "evse-din"\nport = "/dev/ttyUSB0"\nbaudrate = 9601\n',
        "connector[1].evse.baudrate: must be one of",
    ),
    (
        "one bus address",
        EVSE + 'driver = "evse-din"\nport = "/dev/ttyUSB0"\n'
        '[connector.meter]\ndriver = "sdm630"\nport = "/dev/ttyUSB0"\n',
        "connector[1].evse.unit: unit 1 on /dev/ttyUSB0 already used by connector[1].meter",
    ),
    (
        "one bus, one baud rate",
        EVSE + 'driver = "evse-din"\nport = "/dev/ttyUSB0"\nunit = 2\nbaudrate = 19200\n'
        '[connector.meter]\ndriver = "sdm630"\nport = "/dev/ttyUSB0"\n',
        "connector[1].evse.baudrate: 19200 on /dev/ttyUSB0, but connector[1].meter "
        "uses 9600 there: devices on one RS-485 bus need one baud rate",
    ),
    (
        "openevse shares no port",
        EVSE + 'driver = "openevse"\nport = "/dev/ttyUSB0"\n'
        '[connector.meter]\ndriver = "sdm630"\nport = "/dev/ttyUSB0"\n',
        "connector[1].evse.port: port /dev/ttyUSB0 already used by connector[1].meter",
    ),
    (
        "relay pin without evse",
        "[[connector]]\nplug_pin = 27\n",
        "connector[1].relay_pin: missing required key",
    ),
    (
        "max current",
        "[[connector]]\nrelay_pin = 17\nmax_current_a = 0\n",
        "connector[1].max_current_a: must be greater than 0",
    ),
    (
        "evse poll interval",
        EVSE + 'driver = "sim"\npoll_interval_s = 0\n',
        "connector[1].evse.poll_interval_s: must be greater than 0",
    ),
    (
        "heartbeat within two reads",
        EVSE + 'driver = "openevse"\nport = "/dev/ttyACM0"\npoll_interval_s = 10\n'
        "heartbeat_s = 15\n",
        "connector[1].evse.heartbeat_s: 15 s is less than twice poll_interval_s (10 s): the "
        "board would fall back to 6 A between two reads",
    ),
    (
        "heartbeat of another controller",
        EVSE + 'driver = "evse-din"\nport = "/dev/ttyUSB0"\nheartbeat_s = 30\n',
        "connector[1].evse.heartbeat_s: only for driver openevse",
    ),
    (
        "heartbeat beyond the firmware's range",
        EVSE + 'driver = "openevse"\nport = "/dev/ttyACM0"\nheartbeat_s = 65536\n',
        "connector[1].evse.heartbeat_s: must be",
    ),
    (
        # HsExpirationCheck compares with `m_HsInterval * 1000`, 16-bit arithmetic on the
        # board's ATmega328P: 66 s would time out after 464 ms
        "heartbeat beyond the board's 16-bit milliseconds",
        EVSE + 'driver = "openevse"\nport = "/dev/ttyACM0"\nheartbeat_s = 66\n',
        "connector[1].evse.heartbeat_s: must be",
    ),
    (
        "sim meter phases",
        '[[connector]]\nrelay_pin = 17\n[connector.meter]\ndriver = "sim"\nphases = 2\n',
        "connector[1].meter.phases: must be one of 1, 3, not 2",
    ),
    (
        "phases of a real meter",
        '[[connector]]\nrelay_pin = 17\n[connector.meter]\ndriver = "sdm630"\n'
        'port = "/dev/ttyUSB0"\nphases = 3\n',
        "connector[1].meter.phases: only for driver sim",
    ),
]


@pytest.mark.parametrize(("what", "connectors", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_evse_problem_is_named_by_key_path(
    tmp_path: Path, what: str, connectors: str, expected: str
) -> None:
    found = problems(tmp_path, connectors)
    assert any(p.startswith(expected) for p in found), found


def test_the_card_reader_cannot_take_the_evse_port(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        EVSE + 'driver = "openevse"\nport = "/dev/ttyACM0"\n',
        extra='[rfid]\ndriver = "rdm6300"\nport = "/dev/ttyACM0"\n',
    )
    assert found == ["rfid.port: port /dev/ttyACM0 already used by connector[1].evse"]


def test_an_evse_connector_needs_no_relay_pin_and_its_sim_ev_draws_only_what_is_offered(
    tmp_path: Path,
) -> None:
    config = load(
        tmp_path, '[[connector]]\nmax_current_a = 16.0\n[connector.evse]\ndriver = "sim"\n'
    )
    hardware = build_hardware(config, lambda event: None)
    try:
        conn = hardware.connector(1)
        assert conn.evse is not None and conn.evse_poller is not None and conn.plug is None
        assert conn.meter is not None
        conn.evse.plug()  # type: ignore[attr-defined]  # the SimEvse's handle on its EV
        assert conn.meter.read().power_w == 0.0  # nothing offered: state B, no draw
        conn.evse.set_current_a(16.0)
        assert conn.meter.read().current_a == (16.0,)  # the EV wants 32 A, 16 A is offered
        conn.relay.de_energise()  # the exit paths: the controller offers 0 A
        assert conn.evse.offered_current_a == 0.0
        assert conn.meter.read().power_w == 0.0
    finally:
        hardware.close()


@pytest.mark.parametrize(("line", "expected"), [("", 1.0), ("poll_interval_s = 0.25\n", 0.25)])
def test_the_evse_is_read_every_poll_interval_s(tmp_path: Path, line: str, expected: float) -> None:
    config = load(tmp_path, '[[connector]]\n[connector.evse]\ndriver = "sim"\n' + line)
    hardware = build_hardware(config, lambda event: None)
    try:
        poller = hardware.connector(1).evse_poller
        assert poller is not None and poller.interval_s == expected
    finally:
        hardware.close()


def test_the_openevse_board_is_supervised_with_heartbeat_s(tmp_path: Path) -> None:
    from hw.evse.openevse_sim import OpenEvseTwin

    with OpenEvseTwin() as board:
        config = load(
            tmp_path,
            f'[[connector]]\n[connector.evse]\ndriver = "openevse"\nport = "{board.port}"\n'
            "heartbeat_s = 30\n",
        )
        hardware = build_hardware(config, lambda event: None)
        try:
            evse = hardware.connector(1).evse
            assert evse is not None
            evse.read_status()  # what the EVSE poller does every poll_interval_s
            assert board.heartbeat == (30, 0)  # armed: `$SY 30 0`
            assert "SY" in board.commands  # and pulsed
        finally:
            hardware.close()


def test_a_three_phase_sim_connector_draws_up_to_its_rating_on_each_phase(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[[connector]]\nrelay_pin = 17\nmax_current_a = 32.0\n[connector.meter]\ndriver = "sim"\n'
        "phases = 3\n",
    )
    hardware = build_hardware(config, lambda event: None)
    try:
        conn = hardware.connector(1)
        conn.meter.set_load_w(30000.0)  # type: ignore[attr-defined]  # SimMeter's handle
        conn.relay.energise()
        sample = conn.meter.read()
        assert sample.current_a == (32.0, 32.0, 32.0)
        assert sample.power_w == 32.0 * 230.0 * 3
    finally:
        hardware.close()


def test_safe_off_zeroes_an_evse_din_board_left_offering_current(tmp_path: Path) -> None:
    from cpagent.daemon.safety import safe_off
    from hw.evse.evse_din_sim import EvseDinTwin
    from hw.rtu_twin import RtuBusSimulator

    board = EvseDinTwin(unit=2)  # powered up with register 2000's factory 32 A in 1000
    with RtuBusSimulator([board]) as bus:
        config = load(
            tmp_path,
            f'[[connector]]\n[connector.evse]\ndriver = "evse-din"\nport = "{bus.port}"\n'
            "unit = 2\n",
        )
        assert board.configured_a == 32
        report = safe_off(config, daemon_wait_s=0.0)
        assert board.configured_a == 0
    assert report.failed == ()
    assert "connector1 EVSE controller (evse-din): 0 A offered" in report.lines


def test_safe_off_names_an_evse_board_it_cannot_reach(tmp_path: Path) -> None:
    from cpagent.daemon.safety import safe_off

    config = load(
        tmp_path,
        '[[connector]]\n[connector.evse]\ndriver = "evse-din"\nport = "/dev/cpagent-none"\n',
    )
    report = safe_off(config, daemon_wait_s=0.0)
    assert report.failed == ("connector1.evse",)
    assert any(
        line.startswith("connector1 EVSE controller (evse-din): NOT") for line in report.lines
    )


def test_safe_off_stops_a_pwm_pilot_on_the_mock_board(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bench board (mock pins) builds the pwm pilot too, so safe-off reaches it: 100 %
    (nothing offered), then the pin released."""
    from gpiozero import Device

    from cpagent.daemon.safety import safe_off

    monkeypatch.setattr(Device, "pin_factory", None)  # a daemon's process: none chosen yet
    config = load(
        tmp_path,
        '[[connector]]\nrelay_pin = 17\n[connector.evse]\ndriver = "pwm"\npwm_pin = 18\n',
    )
    report = safe_off(config, daemon_wait_s=0.0)
    assert report.failed == ()
    assert "connector1 EVSE controller (pwm): 0 A offered" in report.lines
