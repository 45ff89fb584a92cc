"""Tests for the reconnect backoff policy."""

from __future__ import annotations

import pytest

from cpagent.transports.backoff import Backoff, BackoffPolicy

POLICY = BackoffPolicy(
    initial_s=1.0, max_s=60.0, multiplier=2.0, stable_after_s=30.0, auth_failure_s=300.0
)


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(0, 1.0), (1, 2.0), (2, 4.0), (5, 32.0), (6, 60.0), (1000, 60.0)],
)
def test_ceiling_grows_exponentially_and_is_bounded(attempt: int, ceiling: float) -> None:
    assert POLICY.ceiling_s(attempt) == ceiling


@pytest.mark.parametrize(("fraction", "delay"), [(0.0, 0.0), (0.5, 4.0), (1.0, 8.0)])
def test_full_jitter_spans_zero_to_ceiling(fraction: float, delay: float) -> None:
    assert POLICY.delay_s(3, fraction) == delay


def test_first_retry_is_fast() -> None:
    assert Backoff(POLICY, random=lambda: 0.999).next_delay_s() < 1.0


def test_auth_failure_waits_long_even_with_zero_jitter() -> None:
    assert POLICY.auth_delay_s(0.0) == 150.0
    assert POLICY.auth_delay_s(1.0) == 300.0


def test_consecutive_failures_grow_then_a_stable_link_resets() -> None:
    backoff = Backoff(POLICY, random=lambda: 1.0)
    assert [backoff.next_delay_s() for _ in range(4)] == [1.0, 2.0, 4.0, 8.0]
    backoff.link_ended(connected_for_s=5.0)  # short-lived link: keep growing
    assert backoff.next_delay_s() == 16.0
    backoff.link_ended(connected_for_s=30.0)
    assert backoff.attempt == 0
    assert backoff.next_delay_s() == 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_s": 0.0},
        {"initial_s": 10.0, "max_s": 5.0},
        {"multiplier": 0.5},
        {"auth_failure_s": 0.0},
        {"stable_after_s": -1.0},
    ],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(**kwargs)


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_random_fraction_out_of_range_is_a_local_error(fraction: float) -> None:
    with pytest.raises(ValueError):
        POLICY.delay_s(0, fraction)
