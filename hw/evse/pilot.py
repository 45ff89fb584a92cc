"""IEC 61851-1 Annex A pilot arithmetic: PWM duty for a current, state for a voltage; pure."""

from __future__ import annotations

import math

from hw.events import PilotState
from hw.evse.base import MAX_CURRENT_A, MIN_CURRENT_A

# Table A.8: 6 A <= I <= 51 A: duty % = I / 0.6;  51 A < I <= 80 A: duty % = I / 2.5 + 64.
# A constant +12 V (100 %) offers nothing (state x1: "EVSE not ready to supply energy").
NOT_OFFERING_DUTY = 1.0
# Constant -12 V (0 %): state F, "EVSE not available" - what a dead Pi should leave behind.
UNAVAILABLE_DUTY = 0.0


def duty_for_current(amps: float) -> float:
    """Duty cycle (0..1) of the 1 kHz pilot offering `amps`; 0 A -> 1.0 (not offering)."""
    if amps == 0:
        return NOT_OFFERING_DUTY
    if not MIN_CURRENT_A <= amps <= MAX_CURRENT_A:
        raise ValueError(f"a PWM pilot offers 0 or 6-80 A, not {amps}")
    if amps <= 51.0:
        return amps / 0.6 / 100.0
    return (amps / 2.5 + 64.0) / 100.0


def current_for_duty(duty: float) -> float:
    """The current a duty cycle offers as the EV reads it (Table A.7): 8 % <= D < 10 % is
    6 A, 10-85 % D x 0.6, 85-96 % (D - 64) x 2.5, 96 % < D <= 97 % 80 A; anything else
    (5 %: digital communication only, < 8 %, > 97 %) allows no charging: 0."""
    percent = duty * 100.0
    if 8.0 <= percent < 10.0:
        return MIN_CURRENT_A
    if 10.0 <= percent <= 85.0:
        return round(percent * 0.6, 2)
    if 85.0 < percent <= 96.0:
        return round((percent - 64.0) * 2.5, 2)
    if 96.0 < percent <= 97.0:
        return MAX_CURRENT_A
    return 0.0


# Table A.4 (EVSE side): nominal positive pilot levels A 12 V, B 9 V, C 6 V, D 3 V, E 0 V,
# F -12 V. The state boundaries are the midpoints between nominals; within HYSTERESIS_V of a
# boundary the previous state is kept, so a level sitting on a boundary (or noise around
# it) does not make the state chatter.
BOUNDARIES_V: tuple[tuple[float, PilotState], ...] = (
    (10.5, PilotState.A),
    (7.5, PilotState.B),
    (4.5, PilotState.C),
    (1.5, PilotState.D),
    (-6.0, PilotState.E),
)
HYSTERESIS_V = 0.5


def state_for_level(volts: float) -> PilotState:
    """The state of a positive pilot level without hysteresis (midpoint boundaries)."""
    if math.isnan(volts):
        return PilotState.F
    for boundary, state in BOUNDARIES_V:
        if volts >= boundary:
            return state
    return PilotState.F


class PilotClassifier:
    """Pilot level -> state with hysteresis: a new state only once the level is more than
    `hysteresis_v` away from every boundary of it (a dead band around each boundary)."""

    def __init__(self, hysteresis_v: float = HYSTERESIS_V) -> None:
        self.hysteresis_v = hysteresis_v
        self.state: PilotState | None = None

    def feed(self, volts: float) -> PilotState:
        low = state_for_level(volts - self.hysteresis_v)
        high = state_for_level(volts + self.hysteresis_v)
        if self.state is None or low == high:
            self.state = state_for_level(volts) if self.state is None else low
        return self.state
