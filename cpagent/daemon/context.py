"""What an application gets to build itself from: config, drivers, transport, post, state dir."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cpagent.config import Config
from cpagent.daemon.hardware import Hardware
from cpagent.transports.base import Transport

APPLICATIONS = ("chargepoint", "bench")  # what `cpagent run --app` may start


@dataclass(frozen=True, slots=True)
class AppContext:
    """Everything `wiring.build_application` hands an application factory.

    `post` queues an event for the owner thread (e.g. from a timer thread). The runner
    starts `hardware` and `transport` after the application is built and closes both after
    `Application.shutdown`; the application only uses them.
    """

    config: Config
    hardware: Hardware
    transport: Transport
    post: Callable[[object], None]
