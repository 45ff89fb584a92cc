"""The DIY PWM pilot: Annex A arithmetic, and the real driver on gpiozero mock PWM + mock SPI."""

from __future__ import annotations

import pytest
from gpiozero import MCP3008, Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from hw.events import EvseFault, PilotState
from hw.evse.pilot import PilotClassifier, current_for_duty, duty_for_current, state_for_level
from hw.evse.pilot_sim import MockPilotAdc, SimClock
from hw.evse.pwm import PwmPilot


@pytest.mark.parametrize(
    ("amps", "duty"),
    [
        (0, 1.0),  # +12 V constant: not offering
        (6, 0.10),  # IEC 61851-1 Table A.8: I / 0.6 %
        (10, 10 / 0.6 / 100),
        (16, 16 / 0.6 / 100),
        (32, 32 / 0.6 / 100),
        (51, 0.85),
        (63, (63 / 2.5 + 64) / 100),  # above 51 A: I / 2.5 + 64 %
        (80, 0.96),
    ],
)
def test_duty_follows_annex_a(amps, duty):
    assert duty_for_current(amps) == pytest.approx(duty)
    if amps:
        assert current_for_duty(duty) == pytest.approx(amps)


@pytest.mark.parametrize(
    ("duty", "amps"),
    [
        # IEC 61851-1 Table A.7, what the EV reads from the duty: 8 % <= D < 10 % is 6 A and
        # 96 % < D <= 97 % is 80 A (a PWM that rounds 10 % down still offers 6 A), below 8 %
        # (5 %: digital communication) and above 97 % nothing.
        (0.02, 0.0),
        (0.05, 0.0),
        (0.0799, 0.0),
        (0.08, 6.0),
        (0.0999, 6.0),
        (0.10, 6.0),
        (0.85, 51.0),
        (0.96, 80.0),
        (0.965, 80.0),
        (0.97, 80.0),
        (0.975, 0.0),
        (1.0, 0.0),
    ],
)
def test_the_ev_reads_the_duty_as_table_a7_says(duty, amps):
    assert current_for_duty(duty) == pytest.approx(amps)


@pytest.mark.parametrize("amps", [5.9, 80.5, -1])
def test_a_current_the_pwm_cannot_say_is_refused(amps):
    with pytest.raises(ValueError):
        duty_for_current(amps)


@pytest.mark.parametrize(
    ("volts", "state"),
    [
        (12.0, PilotState.A),
        (9.0, PilotState.B),
        (6.0, PilotState.C),
        (3.0, PilotState.D),
        (0.0, PilotState.E),
        (-12.0, PilotState.F),
        (10.6, PilotState.A),
        (10.4, PilotState.B),
    ],
)
def test_levels_map_to_the_nominal_states(volts, state):
    assert state_for_level(volts) is state


def test_a_level_near_a_boundary_keeps_the_previous_state():
    classifier = PilotClassifier(hysteresis_v=0.5)
    readings = [9.0, 10.3, 10.7, 10.9, 11.1, 10.7, 10.2, 9.9]
    states = [classifier.feed(v).value for v in readings]
    # 10.5 V is the A/B boundary: between 10.0 and 11.0 V nothing changes.
    assert states == ["B", "B", "B", "B", "A", "A", "A", "B"]


class Rig:
    """A PwmPilot on mock pins: PWM on GPIO18, MCP3008 channel 0 on the mock SPI bus.

    With `clock` (a SimClock) the ADC reads the 1 kHz waveform the PWM pin makes, at 20 us
    per conversion on that clock, and the driver times its burst with it."""

    def __init__(self, level_v: float = 12.0, clock: SimClock | None = None) -> None:
        self.level_v = level_v
        self.factory = MockFactory()
        # gpiozero 2.0's software SPI (what a mock factory gets) builds its clock/data pins
        # on the default factory, whatever factory the ADC was given.
        self._saved, Device.pin_factory = Device.pin_factory, self.factory
        self.adc_slave = MockPilotAdc(
            lambda: self.level_v,
            pin_factory=self.factory,
            duty=None if clock is None else lambda: float(self.pwm.state),
            clock=clock,
        )
        self.adc = MCP3008(channel=0, pin_factory=self.factory)
        self.factory.pin_class = MockPWMPin  # the PWM pin needs a PWM-capable mock
        extra = {} if clock is None else {"clock": clock}
        self.pilot = PwmPilot(
            18, max_current_a=16.0, adc=self.adc, samples=4, pin_factory=self.factory, **extra
        )

    @property
    def pwm(self) -> MockPWMPin:
        return self.factory.pin(18)

    def close(self) -> None:
        self.pilot.close()
        self.adc.close()
        self.adc_slave.close()
        self.factory.reset()
        Device.pin_factory = self._saved


@pytest.fixture
def rig():
    built = Rig()
    yield built
    built.close()


def test_a_short_high_phase_is_not_missed():
    # At 6 A the 1 kHz pilot is high for 100 us of every 1 ms (10 %). Four samples 20 us
    # apart, starting in the low phase, saw only -12 V: state F, a PilotFault, charging
    # stopped. The burst has to span a whole period.
    clock = SimClock(start_s=0.0005)  # half-way through a period: in the -12 V phase
    rig = Rig(level_v=6.0, clock=clock)  # an EV in state C
    try:
        rig.pilot.set_current_a(6)
        assert rig.pwm.state == pytest.approx(0.10)
        status = rig.pilot.read_status()
        assert (status.pilot, status.faults) == (PilotState.C, set())
        assert rig.pilot.offered_current_a == 6
        assert rig.adc_slave.conversions >= 1.0e-3 / rig.adc_slave.conversion_s
    finally:
        rig.close()


def test_the_pilot_offers_nothing_from_the_start_at_1_khz(rig):
    assert rig.pwm.frequency == 1000
    assert rig.pwm.state == 1.0  # +12 V constant
    assert rig.pilot.offered_current_a == 0


def test_the_duty_follows_the_offered_current_and_the_state_follows_the_level(rig):
    assert rig.pilot.read_status().pilot is PilotState.A
    rig.level_v = 9.0  # EV connected
    assert rig.pilot.read_status().pilot is PilotState.B
    rig.pilot.set_current_a(10)
    assert rig.pwm.state == pytest.approx(10 / 60)
    rig.level_v = 6.0  # EV closed S2
    status = rig.pilot.read_status()
    assert (status.pilot, status.offered_current_a) == (PilotState.C, pytest.approx(10))
    rig.pilot.set_current_a(32)  # capped at the connector's 16 A
    assert rig.pwm.state == pytest.approx(16 / 60)
    assert rig.adc_slave.conversions >= 12  # 4 samples per read


@pytest.mark.parametrize(
    ("volts", "fault"), [(0.0, EvseFault.PILOT_SHORT), (-12.0, EvseFault.PILOT_FAULT)]
)
def test_state_e_or_f_latches_zero_amps(rig, volts, fault):
    rig.pilot.set_current_a(16)
    rig.level_v = volts
    status = rig.pilot.read_status()
    assert status.faults == {fault}
    assert rig.pwm.state == 1.0 and rig.pilot.offered_current_a == 0


def test_close_stops_offering_and_releases_the_pin(rig):
    rig.pilot.set_current_a(16)
    rig.pilot.close()
    rig.pilot.close()  # idempotent
    assert rig.pilot.offered_current_a == 0
