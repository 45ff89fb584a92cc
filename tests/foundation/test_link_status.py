"""The daemon's link facts: hints per failure, "down since" across retries, errors that clear."""

from __future__ import annotations

import pytest

from cpagent.daemon.link_status import LinkStatus, Problems, hint, rfc3339
from cpagent.transports.events import LinkCause, TransportDown

T0 = 1_796_000_000.0  # 2026-11-30T00:53:20Z


@pytest.mark.parametrize(
    ("down", "words"),
    [
        (
            TransportDown("HTTP 401", LinkCause.AUTH, 401),
            "check [chargepoint] id and [csms] password",
        ),
        (
            TransportDown("HTTP 403", LinkCause.AUTH, 403),
            "check [chargepoint] id and [csms] password",
        ),
        (
            TransportDown(
                "server certificate rejected: unable to get local issuer certificate",
                LinkCause.TLS,
            ),
            "set [csms] ca_file",
        ),
        (
            TransportDown("server certificate rejected: self-signed certificate", LinkCause.TLS),
            "set [csms] ca_file",
        ),
        (
            TransportDown("server certificate rejected: certificate has expired", LinkCause.TLS),
            "clock",
        ),
        (
            TransportDown("server certificate rejected: Hostname mismatch", LinkCause.TLS),
            "names another host",
        ),
        (
            TransportDown("TLS set-up failed: [Errno 2] No such file", LinkCause.TLS),
            "ca_file, cert_file and key_file",
        ),
        (TransportDown("HTTP 404", LinkCause.HTTP, 404), "check the path in [csms] url"),
        (TransportDown("HTTP 500", LinkCause.HTTP, 500), "answered HTTP 500"),
        (
            TransportDown("selected no subprotocol", LinkCause.SUBPROTOCOL),
            "the central system doesn't speak ocpp1.6 at that URL",
        ),
        (TransportDown("refused", LinkCause.REFUSED), "nothing listens"),
        (TransportDown("host not found", LinkCause.DNS), "does not resolve"),
        (TransportDown("timed out", LinkCause.TIMEOUT), "cannot be reached"),
    ],
)
def test_each_failure_gets_a_hint_naming_what_to_check(down: TransportDown, words: str) -> None:
    assert words in hint(down)


def test_the_hint_names_the_subprotocol_offered() -> None:
    down = TransportDown("selected no subprotocol", LinkCause.SUBPROTOCOL)
    assert "doesn't speak ocpp2.0.1 at that URL" in hint(down, subprotocol="ocpp2.0.1")


@pytest.mark.parametrize("cause", [LinkCause.LOST, LinkCause.CLOSED, LinkCause.OTHER])
def test_a_broken_link_that_reconnects_by_itself_has_no_hint(cause: LinkCause) -> None:
    assert hint(TransportDown("connection lost", cause)) == ""


def test_mqtt_hints_name_the_mqtt_keys() -> None:
    down = TransportDown("broker refused the connection: Not authorized", LinkCause.AUTH)
    assert "[mqtt] username and password" in hint(down, transport="mqtt")


def test_down_since_is_when_the_link_went_down_not_the_last_retry() -> None:
    link = LinkStatus()
    link.up("ocpp1.6", T0)
    link.went_down(TransportDown("closed", LinkCause.CLOSED, retry_in_s=2.0), T0 + 10)
    link.went_down(TransportDown("refused", LinkCause.REFUSED, retry_in_s=4.0), T0 + 12)
    facts = link.as_dict()
    assert facts["state"] == "disconnected"
    assert facts["since"] == rfc3339(T0 + 10)
    assert facts["reason"] == "refused" and facts["cause"] == "refused"
    assert facts["next_retry"] == rfc3339(T0 + 16)
    assert "nothing listens" in facts["hint"]
    link.up("ocpp1.6", T0 + 16)
    facts = link.as_dict()
    assert facts["since"] == rfc3339(T0 + 16)
    assert facts["reason"] is None and facts["hint"] is None and facts["next_retry"] is None
    assert link.reconnects == 1


def test_times_are_rfc3339_utc_with_z() -> None:
    assert rfc3339(T0) == "2026-11-30T00:53:20Z"
    assert rfc3339(None) is None


def test_an_error_clears_when_its_condition_is_gone_and_the_older_one_shows_again() -> None:
    problems = Problems()
    problems.raise_("connector1", "connector1: PowerMeterFailure: timeout", T0)
    problems.raise_("csms", "CSMS link: refused", T0 + 1)
    assert problems.last == "CSMS link: refused"
    problems.clear("csms")  # the link is back
    assert problems.last == "connector1: PowerMeterFailure: timeout"
    problems.clear("connector1")  # the meter recovered
    assert problems.last is None and problems.as_list() == []
    assert problems.count == 2


def test_a_repeated_error_keeps_its_first_since_and_its_latest_words() -> None:
    problems = Problems()
    problems.raise_("csms", "CSMS link: refused", T0)
    problems.raise_("csms", "CSMS link: HTTP 404", T0 + 30)
    assert problems.as_list() == [
        {"source": "csms", "error": "CSMS link: HTTP 404", "since": rfc3339(T0)}
    ]


def test_a_condition_raised_again_keeps_its_place_behind_a_newer_one() -> None:
    # the link retries every few seconds; a meter fault raised between two retries stays
    # `last_error` instead of flipping back to the link error at every attempt
    problems = Problems()
    problems.raise_("csms", "CSMS link: refused", T0)
    problems.raise_("connector1:meter", "connector1:meter: PowerMeterFailure", T0 + 1)
    problems.raise_("csms", "CSMS link: refused", T0 + 2)
    assert problems.last == "connector1:meter: PowerMeterFailure"
    assert [e["source"] for e in problems.as_list()] == ["csms", "connector1:meter"]


def test_a_link_never_up_is_down_since_the_start() -> None:
    link = LinkStatus(since=T0)
    link.went_down(TransportDown("refused", LinkCause.REFUSED, retry_in_s=1.0), T0 + 3)
    assert link.as_dict()["since"] == rfc3339(T0)
    assert link.reconnects == 0
