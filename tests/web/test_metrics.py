"""/metrics: Prometheus text format 0.0.4 that Prometheus's own parser reads back exactly."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from cpagent.web.metrics import CONNECTOR_STATUSES, metrics_text
from tests.web.fakes import TAG, serving, status


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _families(text: str) -> dict[str, tuple[str, str]]:
    return {f.name: (f.type, f.documentation) for f in text_string_to_metric_families(text)}


def test_connection_power_energy_status_and_queue_are_exposed() -> None:
    active = [{"source": "connector1:meter", "error": "no answer", "since": "2026-11-30T18:00:00Z"}]
    text = metrics_text(status(reconnects=2, errors=5, errors_active=active))
    got = _samples(text)
    c1 = (("connector", "1"),)
    assert got[("cpagent_daemon_up", ())] == 1
    assert got[("cpagent_csms_connected", ())] == 1
    assert got[("cpagent_connector_power_watts", c1)] == 7360
    assert got[("cpagent_connector_energy_register_watt_hours", c1)] == 123456
    assert got[("cpagent_connector_offered_current_amperes", c1)] == 16
    assert got[("cpagent_connector_relay_closed", c1)] == 1
    assert got[("cpagent_connector_relay_closed", (("connector", "2"),))] == 0
    assert got[("cpagent_queued_messages", ())] == 3
    assert got[("cpagent_reconnects_total", ())] == 2
    assert got[("cpagent_errors_total", ())] == 5
    assert got[("cpagent_registration_status", (("status", "Accepted"),))] == 1
    assert got[("cpagent_registration_status", (("status", "Pending"),))] == 0
    assert got[("cpagent_oldest_queued_message_age_seconds", ())] == 125
    assert got[("cpagent_errors_active", ())] == 1


def test_connector_status_is_a_state_set_with_one_current_value() -> None:
    got = _samples(metrics_text(status()))
    states = {
        s: got[("cpagent_connector_status", (("connector", "1"), ("status", s)))]
        for s in CONNECTOR_STATUSES
    }
    assert states["Charging"] == 1
    assert sum(states.values()) == 1


def test_every_family_has_help_and_type_and_counters_are_counters() -> None:
    text = metrics_text(status(reconnects=0, errors=0))
    families = _families(text)
    assert all(name.startswith("cpagent_") for name in families)
    assert all(doc for _, doc in families.values())
    assert families["cpagent_reconnects"][0] == "counter"  # the parser strips _total
    assert families["cpagent_connector_power_watts"][0] == "gauge"
    for line in text.splitlines():
        if line.startswith("#"):
            assert line.split()[1] in ("HELP", "TYPE"), line
    assert text.endswith("\n")


def test_unknown_values_have_no_sample_rather_than_a_made_up_one() -> None:
    answer = status()
    del answer["reconnects"]  # an older daemon's answer
    got = _samples(metrics_text(answer))
    assert ("cpagent_connector_power_watts", (("connector", "2"),)) not in got  # no meter
    assert ("cpagent_reconnects_total", ()) not in got


def test_a_daemon_that_does_not_answer_is_daemon_up_0() -> None:
    text = metrics_text(None)
    assert _samples(text) == {("cpagent_daemon_up", ()): 0}


def test_label_values_are_escaped() -> None:
    odd = status(connectors=[{"id": 'a"b\\c\nd', "status": "Available", "meter": None}])
    got = _samples(metrics_text(odd))
    assert (
        got[("cpagent_connector_status", (("connector", 'a"b\\c\nd'), ("status", "Available")))]
        == 1
    )


def test_metrics_route_serves_format_0_0_4_without_card_ids() -> None:
    with serving() as web, urllib.request.urlopen(web.url + "metrics") as reply:
        kind = reply.headers["Content-Type"]
        text = reply.read().decode()
    assert kind == "text/plain; version=0.0.4; charset=utf-8"
    assert _samples(text)[("cpagent_daemon_up", ())] == 1
    assert TAG not in text and TAG[-4:] not in text


def test_metrics_route_reports_a_failing_daemon_as_down() -> None:
    def broken() -> dict[str, object]:
        raise TimeoutError("owner thread busy")

    with serving(status=broken) as web, urllib.request.urlopen(web.url + "metrics") as reply:
        assert reply.status == 200
        assert _samples(reply.read().decode()) == {("cpagent_daemon_up", ()): 0}
