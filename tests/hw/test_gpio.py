"""GpioRelay, GpioPlug and the pin-factory helper on gpiozero MockFactory pins."""

from __future__ import annotations

import pytest

from hw.errors import ConfigurationError, RelayError
from hw.events import DeviceFaulted, DeviceRecovered, PlugChanged
from hw.pins import drive_mock_pin, make_pin_factory, mock_pin_state
from hw.plug import GpioPlug
from hw.relay import GpioRelay


@pytest.mark.parametrize(
    ("active_high", "level_off", "level_on"), [(True, False, True), (False, True, False)]
)
def test_relay_starts_de_energised_and_switches_idempotently(
    factory, active_high, level_off, level_on
):
    relay = GpioRelay(17, active_high=active_high, pin_factory=factory)
    assert relay.energised is False
    assert mock_pin_state(factory, 17) is level_off
    relay.energise()
    relay.energise()
    assert relay.energised is True
    assert mock_pin_state(factory, 17) is level_on
    relay.de_energise()
    relay.de_energise()
    assert relay.energised is False
    assert mock_pin_state(factory, 17) is level_off
    # Only real changes reach the pin: (mock's idle low,) the off level, on, off.
    levels = [s.state for s in factory.pin(17).states]
    assert levels[-3:] == [level_off, level_on, level_off]
    assert levels[:-3] in ([], [False])
    relay.close()


def test_relay_close_de_energises_first_and_is_idempotent(factory):
    relay = GpioRelay(17, pin_factory=factory)
    relay.energise()
    relay.close()
    relay.close()
    assert relay.energised is False
    assert factory.pin(17).states[-1].state is False
    with pytest.raises(RelayError):
        relay.energise()


def test_feedback_agreeing_raises_no_fault(factory, events, clock):
    relay = GpioRelay(
        17,
        pin_factory=factory,
        post=events.post,
        source="c1",
        feedback_pin=27,
        settle_s=0.5,
        clock=clock,
    )
    relay.energise()
    drive_mock_pin(factory, 27, True)
    clock.advance(1)
    assert relay.check() is True
    relay.de_energise()
    drive_mock_pin(factory, 27, False)
    clock.advance(1)
    assert relay.check() is True
    relay.close()
    assert events.of(DeviceFaulted) == []


def test_feedback_mismatch_faults_once_after_settle_then_recovers(factory, events, clock):
    relay = GpioRelay(
        17,
        pin_factory=factory,
        post=events.post,
        source="c1",
        feedback_pin=27,
        settle_s=0.5,
        clock=clock,
    )
    relay.energise()
    assert relay.check() is True  # within the settle time: not judged yet
    clock.advance(0.6)
    assert relay.check() is False
    assert relay.check() is False
    assert events.of(DeviceFaulted) == [
        DeviceFaulted(
            "c1", "PowerSwitchFailure", "contactor feedback disagrees: relay commanded closed"
        )
    ]
    drive_mock_pin(factory, 27, True)  # contact finally closes: the edge re-checks
    assert events.of(DeviceRecovered) == [DeviceRecovered("c1")]
    relay.close()


def test_welded_contact_is_caught_by_the_settle_timer_without_an_edge(factory, events):
    relay = GpioRelay(
        17, pin_factory=factory, post=events.post, source="c2", feedback_pin=27, settle_s=0.05
    )
    relay.energise()
    drive_mock_pin(factory, 27, True)
    relay.de_energise()  # feedback stays high: welded contact, no edge ever comes
    assert events.wait_for(lambda seen: any(isinstance(e, DeviceFaulted) for e in seen))
    fault = events.of(DeviceFaulted)[0]
    assert (fault.source, fault.code) == ("c2", "PowerSwitchFailure")
    assert relay.faulted is True
    relay.close()


def test_relay_on_a_pin_in_use_raises_relay_error(factory):
    first = GpioRelay(17, pin_factory=factory)
    with pytest.raises(RelayError):
        GpioRelay(17, pin_factory=factory)
    first.close()


def test_plug_posts_changes_only(factory, events):
    plug = GpioPlug(22, post=events.post, source="c1", pin_factory=factory, bounce_time=None)
    assert plug.plugged is False
    drive_mock_pin(factory, 22, True)
    drive_mock_pin(factory, 22, True)
    drive_mock_pin(factory, 22, False)
    assert plug.plugged is False
    assert events.of(PlugChanged) == [PlugChanged("c1", True), PlugChanged("c1", False)]
    plug.close()


def test_plug_active_low_with_pull_up(factory, events):
    factory.pin(22).drive_high()  # pulled up: nothing plugged
    plug = GpioPlug(
        22,
        post=events.post,
        source="c1",
        pin_factory=factory,
        pull="up",
        active_low=True,
        bounce_time=None,
    )
    assert plug.plugged is False
    drive_mock_pin(factory, 22, False)
    assert events.of(PlugChanged) == [PlugChanged("c1", True)]
    plug.close()


def test_make_pin_factory_mock_and_unknown_name():
    mock = make_pin_factory("mock")
    assert type(mock).__name__ == "MockFactory"
    mock.close()
    with pytest.raises(ConfigurationError, match="unknown gpio pin_factory 'gpio9'.*lgpio"):
        make_pin_factory("gpio9")


def test_drive_mock_pin_refuses_non_mock_factories():
    class NotMock:
        def pin(self, _n):
            return object()

    with pytest.raises(ConfigurationError):
        drive_mock_pin(NotMock(), 5, True)


@pytest.mark.parametrize(
    ("pull", "active_low", "idle_high"),
    [
        ("up", True, True),  # contact to GND, pull-up: the docs' wiring
        ("up", False, True),  # an inverting sensor on a pulled-up line
        ("down", False, False),
        ("down", True, False),
        ("none", True, True),
        ("none", False, False),
    ],
)
def test_plug_polarity_and_pull(factory, events, pull, active_low, idle_high):
    factory.pin(22).drive_high() if idle_high else factory.pin(22).drive_low()
    plug = GpioPlug(
        22,
        post=events.post,
        source="c1",
        pin_factory=factory,
        pull=pull,
        active_low=active_low,
        bounce_time=None,
    )
    active_at_idle = idle_high != active_low
    assert plug.plugged is active_at_idle
    drive_mock_pin(factory, 22, not idle_high)
    assert plug.plugged is not active_at_idle
    assert events.of(PlugChanged) == [PlugChanged("c1", not active_at_idle)]
    if pull != "none":
        assert factory.pin(22).pull == pull
    plug.close()


def test_an_unknown_pull_is_a_configuration_error(factory, events):
    with pytest.raises(ConfigurationError, match="pull must be one of"):
        GpioPlug(22, post=events.post, pin_factory=factory, pull="sideways")


def test_feedback_wired_to_gnd_with_pull_up_reads_closed_when_low(factory, events, clock):
    """The documented wiring: auxiliary contact from the input to GND, internal pull-up."""
    relay = GpioRelay(
        17,
        pin_factory=factory,
        post=events.post,
        source="c1",
        feedback_pin=27,
        feedback_active_low=True,
        feedback_pull="up",
        settle_s=0.5,
        clock=clock,
    )
    assert factory.pin(27).pull == "up"
    assert relay.feedback_closed is False  # pulled high: contact open
    relay.energise()
    drive_mock_pin(factory, 27, False)  # the contact closes to GND
    clock.advance(1)
    assert relay.feedback_closed is True
    assert relay.check() is True
    relay.de_energise()
    drive_mock_pin(factory, 27, True)
    clock.advance(1)
    assert relay.check() is True
    relay.close()
    assert events.of(DeviceFaulted) == []
