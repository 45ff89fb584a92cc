"""Reconnect backoff: exponential with full jitter, fast first retry, reset after a stable link."""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Pure policy: how long to wait before the next connection attempt.

    Theory of operation: attempt n (0 = first retry after a failure) waits a uniformly random
    time in [0, min(max_s, initial_s * multiplier**n)] ("full jitter", so a fleet of chargers
    that lost the same central system does not reconnect in lock-step). A link that stayed up
    for `stable_after_s` resets the count, so the next retry is fast again. An authentication
    refusal (HTTP 401/403) waits `auth_failure_s` times a factor in [0.5, 1]: long, and never
    zero, because retrying a wrong password cannot succeed and only loads the server.
    """

    initial_s: float = 1.0
    max_s: float = 60.0
    multiplier: float = 2.0
    stable_after_s: float = 30.0
    auth_failure_s: float = 300.0

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError(f"need 0 < initial_s <= max_s, got {self.initial_s}, {self.max_s}")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier}")
        if self.stable_after_s < 0 or self.auth_failure_s <= 0:
            raise ValueError("stable_after_s must be >= 0 and auth_failure_s > 0")

    def ceiling_s(self, attempt: int) -> float:
        """Upper bound of the wait before retry number `attempt` (0-based)."""
        if attempt < 0:
            raise ValueError(f"attempt must be >= 0, got {attempt}")
        # Cap the exponent so huge attempt counts cannot overflow a float.
        exponent = min(attempt, 64)
        return min(self.max_s, self.initial_s * self.multiplier**exponent)

    def delay_s(self, attempt: int, fraction: float) -> float:
        """Wait before retry `attempt`, for a random `fraction` in [0, 1)."""
        return _check_fraction(fraction) * self.ceiling_s(attempt)

    def auth_delay_s(self, fraction: float) -> float:
        """Wait after the server refused our credentials, for a random `fraction` in [0, 1)."""
        return self.auth_failure_s * (0.5 + 0.5 * _check_fraction(fraction))

    def is_stable(self, connected_for_s: float) -> bool:
        """True when a link that lasted `connected_for_s` should reset the attempt count."""
        return connected_for_s >= self.stable_after_s


def _check_fraction(fraction: float) -> float:
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    return fraction


class Backoff:
    """Attempt counter over a `BackoffPolicy`; `random` is injected for tests."""

    def __init__(self, policy: BackoffPolicy, random: Callable[[], float] = _random.random) -> None:
        self.policy = policy
        self._random = random
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """Number of consecutive failures since the last reset."""
        return self._attempt

    def link_ended(self, connected_for_s: float) -> None:
        """Record that a link which was up for `connected_for_s` ended."""
        if self.policy.is_stable(connected_for_s):
            self._attempt = 0

    def next_delay_s(self) -> float:
        """Wait before the next attempt after an ordinary failure; counts the failure."""
        delay = self.policy.delay_s(self._attempt, self._random())
        self._attempt += 1
        return delay

    def next_auth_delay_s(self) -> float:
        """Wait before the next attempt after a 401/403; counts the failure."""
        self._attempt += 1
        return self.policy.auth_delay_s(self._random())
