"""The current a connector is offered (IEC 61851-1 Table A.8; OCPP 1.6 §3.13), as a table."""

from __future__ import annotations

import pytest

from cpagent.chargepoint.pilot_offer import current_to_offer


@pytest.mark.parametrize(
    ("rating_a", "limit_a", "refused", "offered_a"),
    [
        (16.0, None, False, 16.0),  # no profile: the connector's rating
        (16.0, 32.0, False, 16.0),  # a profile above the rating: the rating
        (32.0, 10.0, False, 10.0),  # a profile below it: the profile
        (32.0, 6.0, False, 6.0),  # the least a pilot can offer
        (32.0, 5.9, False, 0.0),  # below 6 A: no PWM at all (SuspendedEVSE)
        (32.0, 0.0, False, 0.0),  # a 0 A profile suspends
        (32.0, None, True, 0.0),  # an idTag refused by StartTransaction.conf (§3.5.4)
    ],
)
def test_the_offer_is_the_least_of_rating_and_limit_and_0_below_6_a(
    rating_a: float, limit_a: float | None, refused: bool, offered_a: float
) -> None:
    assert current_to_offer(rating_a, limit_a, refused) == offered_a
