"""The read-only routes: each turns a request path and query into (status, type, body)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from cpagent.redact import mask_tag_fields
from cpagent.web.data import SessionsSource, StatusSource
from cpagent.web.metrics import CONTENT_TYPE as METRICS_TYPE
from cpagent.web.metrics import metrics_text
from cpagent.web.pages import live_page, sessions_page
from cpagent.web.timefmt import parse_utc

log = logging.getLogger(__name__)

HTML = "text/html; charset=utf-8"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
MAX_API_LIMIT = 500
ROUTES = ("/", "/sessions", "/api/status", "/api/sessions", "/metrics")

Reply = tuple[int, str, bytes]


class BadRequest(ValueError):
    """A query parameter that cannot be used; the message is shown to the client."""


@dataclass(frozen=True, slots=True)
class Routes:
    """The page's routes over the two data sources the daemon provides."""

    status: StatusSource
    sessions: SessionsSource
    page_size: int = 50
    refresh_s: int = 5

    def reply(self, path: str, query: str) -> Reply:
        params = parse_qs(query, keep_blank_values=True)
        try:
            if path == "/metrics":
                return 200, METRICS_TYPE, metrics_text(self._status_or_none()).encode()
            if path == "/":
                return 200, HTML, live_page(self._status(), self.refresh_s).encode()
            if path == "/api/status":
                return 200, JSON, _json(self._status())
            if path == "/sessions":
                return self._sessions_page(params)
            if path == "/api/sessions":
                return self._sessions_api(params)
        except BadRequest as exc:
            return 400, TEXT, f"bad request: {exc}\n".encode()
        except Unavailable as exc:
            return 503, TEXT, f"{exc}\n".encode()
        except Exception:  # a bug or an answer of a shape we never saw: say so, keep serving
            log.exception("web: %s failed", path)
            return 500, TEXT, b"internal error; see the daemon's log\n"
        return 404, TEXT, f"no such page; try {', '.join(ROUTES)}\n".encode()

    def _status(self) -> dict[str, Any]:
        try:
            answer = self.status()
        except Exception as exc:  # the daemon's source failed or timed out: say so, not 500
            log.warning("web: status source failed: %s", exc)
            raise Unavailable(f"the daemon did not answer: {exc or type(exc).__name__}") from exc
        if not isinstance(answer, dict) or answer.get("ok") is False:
            # the control path's refusal ({"ok": false, "error": ...}) is no status to show
            error = answer.get("error") if isinstance(answer, dict) else None
            raise Unavailable(f"the daemon did not answer: {error or 'no status answer'}")
        return mask_tag_fields(answer)

    def _status_or_none(self) -> dict[str, Any] | None:
        try:
            return self._status()
        except Unavailable:
            return None

    def _fetch(self, offset: int, limit: int, since: str | None) -> tuple[int, list[Any]]:
        when = None
        if since:
            try:
                when = parse_utc(since)
            except ValueError:
                raise BadRequest(f"since={since!r} is not an ISO 8601 date or time") from None
        try:
            total, rows = self.sessions(offset, limit, when)
        except Exception as exc:
            log.warning("web: sessions source failed: %s", exc)
            raise Unavailable(
                f"the session history cannot be read: {exc or type(exc).__name__}"
            ) from exc
        return int(total), mask_tag_fields(list(rows))

    def _sessions_page(self, params: dict[str, list[str]]) -> Reply:
        page = _int(params, "page", 1, 1, 10**9)
        since = _one(params, "since")
        total, rows = self._fetch((page - 1) * self.page_size, self.page_size, since)
        body = sessions_page(total, page, self.page_size, rows, since)
        return 200, HTML, body.encode()

    def _sessions_api(self, params: dict[str, list[str]]) -> Reply:
        offset = _int(params, "offset", 0, 0, 10**12)
        limit = _int(params, "limit", self.page_size, 1, MAX_API_LIMIT)
        total, rows = self._fetch(offset, limit, _one(params, "since"))
        return (
            200,
            JSON,
            _json({"total": total, "offset": offset, "limit": limit, "sessions": rows}),
        )


class Unavailable(RuntimeError):
    """A data source raised or timed out."""


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _int(params: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    text = _one(params, name)
    if text is None or text == "":
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise BadRequest(f"{name}={text!r}: expected a whole number from {low} to {high}")
    return int(text)


def _json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, default=str) + "\n").encode()
