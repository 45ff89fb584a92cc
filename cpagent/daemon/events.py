"""Events the daemon itself posts to the owner thread (transports and hw define their own)."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """A control-socket request; the owner thread answers by completing `reply`."""

    request: dict[str, Any]
    reply: Future[dict[str, Any]] = field(default_factory=Future, compare=False)


@dataclass(frozen=True, slots=True)
class ShutdownRequested:
    """Stop the daemon (a signal, or the application asked); `exit_code` is the process's."""

    reason: str
    exit_code: int = 0


@dataclass(frozen=True, slots=True)
class StopRequested:
    """SIGTERM/SIGINT: stop, letting the application end its transactions first (bounded);
    a second one stops at once."""

    reason: str


@dataclass(frozen=True, slots=True)
class WorkerDied:
    """A worker thread ended with an exception; the daemon exits non-zero rather than limp."""

    thread: str
    error: str


@dataclass(frozen=True, slots=True)
class WebPageState:
    """Where the local web page listens (`[web] listen`), its address once bound, or why it
    could not bind; the owner loop reports it as `web` in every status answer."""

    listen: str
    url: str | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"listen": self.listen, "url": self.url, "error": self.error}
