"""The daemon's state in Prometheus text exposition format 0.0.4, for fleet scraping.

Names follow the Prometheus conventions (`cpagent_` prefix, unit suffix, `_total` for
counters) with one deliberate exception: energy is in watt-hours, the meter's own unit and
OCPP's (Energy.Active.Import.Register, OCPP 1.6 §7.31 UnitOfMeasure Wh), so the scraped
value matches the billing register exactly instead of being multiplied into joules.
Connector status is a state set: one sample per OCPP 1.6 §7.7 ChargePointStatus value,
1 for the current one. A daemon that does not answer gives `cpagent_daemon_up 0` only.
"""

from __future__ import annotations

import math
from typing import Any

from cpagent.web.data import connector_view, number

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# OCPP 1.6 §7.7 ChargePointStatus, in the spec's order.
CONNECTOR_STATUSES = (
    "Available",
    "Preparing",
    "Charging",
    "SuspendedEVSE",
    "SuspendedEV",
    "Finishing",
    "Reserved",
    "Unavailable",
    "Faulted",
)
REGISTRATIONS = ("Accepted", "Pending", "Rejected")  # OCPP 1.6 §7.38 RegistrationStatus

Labels = dict[str, str]


class Exposition:
    """Collects metric families and writes them out, each with its HELP and TYPE lines."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(
        self, name: str, kind: str, help_text: str, samples: list[tuple[Labels, float | None]]
    ) -> None:
        self._lines.append(f"# HELP {name} {_escape_help(help_text)}")
        self._lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            if value is None:
                continue  # unknown right now: no sample rather than a made-up value
            self._lines.append(f"{name}{_labels(labels)} {_value(value)}")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def metrics_text(status: dict[str, Any] | None) -> str:
    """The exposition for one `status` answer (None: the daemon did not answer)."""
    out = Exposition()
    out.family(
        "cpagent_daemon_up",
        "gauge",
        "1 if the daemon answered the status request for this scrape, else 0.",
        [({}, 0.0 if status is None else 1.0)],
    )
    if status is None:
        return out.text()
    connected = status.get("connection") == "connected"
    out.family(
        "cpagent_csms_connected",
        "gauge",
        "1 while the link to the central system is up, else 0.",
        [({}, float(connected))],
    )
    registration = status.get("registration")
    if registration is not None or status.get("application") == "chargepoint":
        out.family(
            "cpagent_registration_status",
            "gauge",
            "BootNotification registration with the central system (1 = current).",
            [({"status": s}, float(registration == s)) for s in REGISTRATIONS],
        )
    views = [connector_view(c) for c in status.get("connectors", []) if isinstance(c, dict)]
    per: list[tuple[str, str, str, str]] = [
        (
            "cpagent_connector_power_watts",
            "power_w",
            "gauge",
            "Active power on the connector's meter (W).",
        ),
        (
            "cpagent_connector_energy_register_watt_hours",
            "energy_wh",
            "gauge",
            "Energy import register of the connector's meter (Wh, as billed).",
        ),
        (
            "cpagent_connector_offered_current_amperes",
            "offered_current_a",
            "gauge",
            "Current offered to the vehicle on the control pilot (A).",
        ),
        (
            "cpagent_connector_limit_amperes",
            "limit_a",
            "gauge",
            "Charging current limit in force on the connector (A).",
        ),
    ]
    for name, key, kind, help_text in per:
        out.family(name, kind, help_text, [(_conn(v), v[key]) for v in views])
    out.family(
        "cpagent_connector_relay_closed",
        "gauge",
        "1 while the connector's contactor is closed (energised), else 0.",
        [(_conn(v), None if v["relay"] is None else float(v["relay"])) for v in views],
    )
    out.family(
        "cpagent_connector_status",
        "gauge",
        "Connector status (OCPP 1.6 ChargePointStatus; 1 = current).",
        [
            ({**_conn(v), "status": s}, float(v["status"] == s))
            for v in views
            for s in CONNECTOR_STATUSES
        ],
    )
    out.family(
        "cpagent_queued_messages",
        "gauge",
        "Transaction messages stored and waiting for the central system.",
        [({}, number(status.get("queued_messages")))],
    )
    out.family(
        "cpagent_oldest_queued_message_age_seconds",
        "gauge",
        "Age of the oldest transaction message still waiting for the central system (s).",
        [({}, number(status.get("oldest_queued_s")))],
    )
    out.family(
        "cpagent_inbox_events",
        "gauge",
        "Events waiting in the daemon's owner-thread inbox.",
        [({}, number(status.get("queue_depth")))],
    )
    store = status.get("store")
    if isinstance(store, dict):
        out.family(
            "cpagent_store_ok",
            "gauge",
            "1 while the state database accepts writes, else 0.",
            [({}, float(bool(store.get("ok"))))],
        )
    out.family(
        "cpagent_reconnects_total",
        "counter",
        "Connections to the central system re-established since the daemon started.",
        [({}, number(status.get("reconnects")))],
    )
    out.family(
        "cpagent_errors_total",
        "counter",
        "Error conditions raised since the daemon started (central-system link failures, "
        "device faults, state store write failures).",
        [({}, number(status.get("errors")))],
    )
    active = status.get("errors_active")
    out.family(
        "cpagent_errors_active",
        "gauge",
        "Error conditions that still hold (0 when all is well).",
        [({}, float(len(active)) if isinstance(active, list) else None)],
    )
    return out.text()


def _conn(view: dict[str, Any]) -> Labels:
    return {"connector": str(view["id"])}


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    body = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
    return "{" + body + "}"


def _escape_label(value: str) -> str:
    # exposition format 0.0.4: label values escape backslash, double quote and line feed
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value == int(value) and abs(value) < 2**53 else repr(value)
