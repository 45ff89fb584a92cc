"""The local web page in the daemon: started only when `[web]` is set, fed via the owner inbox.

Theory of operation: the page's handler threads never touch chargepoint state. Its status
source posts a `status` ControlRequest to the owner thread's inbox - the path the control
socket's `status` takes - and waits for the answer with a deadline (STATUS_TIMEOUT_S; then
the page says 503 and /metrics `cpagent_daemon_up 0`), so serving a page never blocks the
owner loop. Its sessions source opens the state database read-only (`cpagent.history`, its
own SQLite connection per request, safe beside the owner's writes under WAL).

`cpagent.web` (its HTTP server and h11) is imported only when `[web]` is configured: the
page's code is not in the daemon's memory otherwise. The page is optional and charging
must not depend on it, so an address that cannot be bound (port in use, no permission) is
logged as an ERROR and the daemon runs on without the page; a restart retries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from cpagent.config import Config
from cpagent.daemon.events import ControlRequest, WebPageState

log = logging.getLogger(__name__)

STATUS_TIMEOUT_S = 2.0  # a page or a scrape waits this long for the owner thread


class Page(Protocol):
    """What the runner keeps of a started page: something to stop."""

    def stop(self) -> None: ...


class OwnerStatus:
    """The page's status source: the owner thread's `status` answer, via its inbox."""

    def __init__(self, post: Callable[[object], None], timeout_s: float = STATUS_TIMEOUT_S) -> None:
        self._post, self._timeout_s = post, timeout_s

    def __call__(self) -> dict[str, Any]:
        request = ControlRequest({"cmd": "status"})
        self._post(request)
        try:
            return request.reply.result(timeout=self._timeout_s)
        except FutureTimeout:
            if not request.reply.cancel():  # answered just now, after all
                return request.reply.result(0)
            raise TimeoutError(
                f"no status answer within {self._timeout_s:g} s (daemon busy or stopping)"
            ) from None


def history_sessions(
    db_path: Path,
) -> Callable[[int, int, datetime | None], tuple[int, list[dict[str, Any]]]]:
    """The page's sessions source: one page of finished sessions from the state database,
    read through its own read-only connection (opened per request: nothing held while idle)."""

    def sessions(
        offset: int, limit: int, since: datetime | None
    ) -> tuple[int, list[dict[str, Any]]]:
        from cpagent.history import SessionHistory

        with SessionHistory(db_path) as history:
            return history.page(offset, limit, since)

    return sessions


def start_web(config: Config, post: Callable[[object], None]) -> Page | None:
    """Start the page when `[web]` is set; None when it is not, or could not be bound.

    Either way with `[web]` set, the owner thread is told (WebPageState) where the page
    listens or why it could not, so `cpagent status` and /api/status say so."""
    settings = config.web
    if settings is None:
        return None
    from cpagent.chargepoint.store import DATABASE_FILE
    from cpagent.web import WebConfigError, WebServer

    server = WebServer(
        settings.listen,
        OwnerStatus(post),
        history_sessions(config.state.dir / DATABASE_FILE),
        password=settings.password,
    )  # the listen value and the password rule were checked with the config
    try:
        server.start()
    except (WebConfigError, OSError) as exc:  # OSError: e.g. no fd left for its wake-up pair
        log.error("%s; the web page is off, charging goes on (restart cpagent to retry)", exc)
        post(WebPageState(settings.listen, None, str(exc)))
        return None
    post(WebPageState(settings.listen, server.url, None))
    return server
