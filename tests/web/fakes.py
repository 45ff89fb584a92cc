"""Fake daemon answers for the web tests: a status like the control socket's, sessions in a list."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from cpagent.web import WebServer

START = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
TAG = "04A1B2C3D4"


def status(**over: Any) -> dict[str, Any]:
    """A chargepoint `status` answer with two connectors, one charging (shape of ocpp_app's,
    docs/operations.md)."""
    answer: dict[str, Any] = {
        "ok": True,
        "application": "chargepoint",
        "chargepoint": "CP-TEST-1",
        "version": "0.9.0",
        "started_at": "2026-11-28T06:00:00Z",
        "uptime_s": 216_000.0,
        "connection": "connected",
        "subprotocol": "ocpp1.6",
        "link": {
            "state": "connected",
            "since": "2026-11-30T17:55:00Z",
            "subprotocol": "ocpp1.6",
            "reason": None,
            "cause": None,
            "http_status": None,
            "hint": None,
            "next_retry": None,
            "last_sent": "2026-11-30T18:19:58Z",
            "last_received": "2026-11-30T18:19:59Z",
        },
        "reconnects": 2,
        "registration": "Accepted",
        "registration_retry_at": None,
        "status": "Available",
        "connectors": [
            {
                "id": 1,
                "status": "Charging",
                "relay": True,
                "plugged": True,
                "fault": None,
                "meter": {
                    "energy_wh": 123456.0,
                    "power_w": 7360.0,
                    "voltage_v": [230.0],
                    "current_a": [32.0],
                },
                "limit_a": 32.0,
                "offered_current_a": 16.0,
                "pilot": "C",
                "transaction": {
                    "id": 42,
                    "id_tag": TAG,
                    "local_id": 1,
                    "started_at": "2026-11-30T17:56:00Z",
                    "meter_start_wh": 119135.0,
                    "energy_wh": 4321.0,
                },
            },
            {
                "id": 2,
                "status": "Available",
                "relay": False,
                "plugged": False,
                "fault": None,
                "meter": None,
                "limit_a": None,
                "transaction": None,
            },
        ],
        "queued_messages": 3,
        "oldest_queued_s": 125.0,
        "store": {"ok": True, "error": None},
        "last_card": TAG,
        "last_error": None,
        "errors": 1,
        "errors_active": [],
        "queue_depth": 0,
    }
    answer.update(over)
    return answer


def session(n: int, samples: int = 13) -> dict[str, Any]:
    """Finished session number n: 2 hours of samples every 10 minutes at ~7 kW."""
    start = START + timedelta(days=n)
    meter_start = 1000.0 * n
    rows = []
    for i in range(samples):
        power = 7000.0 if 0 < i < samples - 1 else 0.0
        rows.append(
            (
                (start + timedelta(minutes=10 * i)).isoformat().replace("+00:00", "Z"),
                power,
                meter_start + 1166.0 * i,
            )
        )
    stop = start + timedelta(minutes=10 * max(samples - 1, 0))
    energy = rows[-1][2] - meter_start if rows else 0.0
    return {
        "id": n,
        "local_id": n,
        "connector": 1,
        "id_tag": f"CARD{n:08d}",
        "start": start.isoformat(),
        "stop": stop.isoformat(),
        "meter_start_wh": meter_start,
        "meter_stop_wh": meter_start + energy,
        "energy_wh": energy,
        "stop_reason": "EVDisconnected",
        "acknowledged": True,
        "samples": rows,
    }


class FakeHistory:
    """`sessions(offset, limit, since)` over a list of sessions, newest first; records calls."""

    def __init__(self, sessions: list[dict[str, Any]]) -> None:
        self.rows = sorted(sessions, key=lambda s: s["start"], reverse=True)
        self.calls: list[tuple[int, int, datetime | None]] = []

    def __call__(
        self, offset: int, limit: int, since: datetime | None
    ) -> tuple[int, list[dict[str, Any]]]:
        self.calls.append((offset, limit, since))
        rows = (
            self.rows
            if since is None
            else [s for s in self.rows if datetime.fromisoformat(s["start"]) >= since]
        )
        return len(rows), rows[offset : offset + limit]


@contextmanager
def serving(**kwargs: Any) -> Iterator[WebServer]:
    """A started WebServer on 127.0.0.1 with an ephemeral port; stopped on exit."""
    kwargs.setdefault("status", status)
    kwargs.setdefault("sessions", FakeHistory([session(1)]))
    listen = kwargs.pop("listen", "127.0.0.1:0")
    server = WebServer(listen, kwargs.pop("status"), kwargs.pop("sessions"), **kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()
