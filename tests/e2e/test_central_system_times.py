"""Times from the central system: ISO 8601 without an offset is UTC, never a refused answer."""

# OCPP 1.6 §3.15 asks for ISO 8601 and §3.14 recommends, not requires, UTC; many central
# systems answer with `datetime.utcnow().isoformat()` (no offset). Such an answer must register
# the chargepoint and acknowledge a StartTransaction exactly once (§3.7: a processed message is
# never resent).

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, RegistrationStatus

from tests.e2e.conftest import boot
from tests.e2e.csms import StrictCentralSystem, StrictChargePoint
from tests.e2e.daemon import CHARGEPOINT_ID, Daemon
from tests.support.net import wait_until


def _naive(delta_s: float = 0.0) -> str:
    """What `datetime.utcnow().isoformat()` gives: UTC, microseconds, no offset."""
    return (datetime.now(UTC) + timedelta(seconds=delta_s)).replace(tzinfo=None).isoformat()


class OffsetLessChargePoint(StrictChargePoint):
    """Answers with date-times that carry no offset (the central system's `time_text`)."""

    _times: OffsetLessCentralSystem

    def __init__(self, cp_id: str, connection: Any, central: StrictCentralSystem) -> None:
        super().__init__(cp_id, connection, central)
        assert isinstance(central, OffsetLessCentralSystem)
        self._times = central

    @on(Action.boot_notification)
    def on_boot(self, **_: Any) -> call_result.BootNotification:
        return call_result.BootNotification(
            current_time=self._times.time_text(), interval=300, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=self._times.time_text())

    @on(Action.start_transaction)
    def on_start(self, id_tag: str, **_: Any) -> call_result.StartTransaction:
        self._times.last_transaction_id += 1
        return call_result.StartTransaction(
            transaction_id=self._times.last_transaction_id,
            id_tag_info={"status": "Accepted", "expiryDate": _naive(86400)},
        )


class OffsetLessCentralSystem(StrictCentralSystem):
    """The strict `ocpp` central system, answering with offset-less (or broken) times."""

    chargepoint_class = OffsetLessChargePoint

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.broken_time: str | None = None  # set: send this instead of a real time

    def time_text(self) -> str:
        return self.broken_time if self.broken_time is not None else _naive(self.clock_offset_s)


@pytest.fixture
def csms() -> Iterator[OffsetLessCentralSystem]:
    central = OffsetLessCentralSystem(heartbeat_interval=300)
    central.start()
    try:
        yield central
    finally:
        central.close()
    assert not central.violations, f"the central system refused frames: {central.violations}"


def test_offset_less_times_register_and_start_transaction_is_sent_once(
    daemon: Daemon, csms: OffsetLessCentralSystem
) -> None:
    boot(daemon, csms, MeterValueSampleInterval="0")  # registered: BootNotification.conf read
    assert csms.calls("BootNotification") == [csms.calls("BootNotification")[0]]
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-T")
    daemon.wait_connector(
        lambda c: c["transaction"] and c["transaction"]["id"] == 1,
        timeout=15,
        what="StartTransaction.conf (offset-less expiryDate) read",
    )
    daemon.do("tap", id_tag="CARD-T")
    stop = csms.wait_call("StopTransaction")  # queued behind the Start: the Start was done
    assert stop["transactionId"] == 1
    assert len(csms.calls("StartTransaction")) == 1
    # what we send stays strict: UTC with Z
    for payload in (csms.calls("StartTransaction")[0], stop):
        assert payload["timestamp"].endswith("Z"), payload
    assert "refused" not in daemon.last_run_log()


def test_a_malformed_current_time_is_refused_loudly(
    daemon: Daemon, csms: OffsetLessCentralSystem
) -> None:
    csms.broken_time = "yesterday at ten"
    daemon.start()
    csms.wait_call("BootNotification")

    def warned() -> bool:
        return any(
            "WARNING" in line and "BootNotification" in line and "currentTime" in line
            for line in daemon.last_run_log().splitlines()
        )

    wait_until(warned, 10, "a WARNING naming BootNotification and currentTime")
    assert daemon.status()["registration"] != "Accepted"


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_central_system_clock_step_mid_transaction_waits_for_its_end(
    daemon: Daemon, csms: OffsetLessCentralSystem
) -> None:
    boot(daemon, csms)  # MeterValueSampleInterval 1 s
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-S")
    daemon.wait_connector(
        lambda c: c["transaction"] and c["transaction"]["id"] == 1,
        timeout=15,
        what="transaction 1 started",
    )
    beats = len(csms.calls("Heartbeat"))
    csms.clock_offset_s = 86400.0  # the central system's clock steps a day ahead
    answer = csms.call(CHARGEPOINT_ID, call.TriggerMessage(requested_message="Heartbeat"))
    assert answer.status == "Accepted"
    csms.wait_call("Heartbeat", count=beats + 1)
    samples = len(csms.calls("MeterValues"))
    csms.wait_call("MeterValues", count=samples + 2)  # sampled after the Heartbeat answer
    daemon.do("tap", id_tag="CARD-S")
    stop = csms.wait_call("StopTransaction")
    start = csms.calls("StartTransaction")[0]
    began, ended = _when(start["timestamp"]), _when(stop["timestamp"])
    assert timedelta(0) < ended - began < timedelta(minutes=1)  # seconds, not a day
    stamps = [
        _when(v["timestamp"])
        for mv in csms.calls("MeterValues")
        if mv.get("transactionId") == 1
        for v in mv["meterValue"]
    ]
    assert stamps and all(began <= t <= ended for t in stamps)
    # the transaction is over: the step applies to what comes next
    daemon.do("unplug", connector=1)
    csms.wait_status(1, "Available")
    available = [p for p in csms.calls("StatusNotification") if p["status"] == "Available"][-1]
    assert _when(available["timestamp"]) - ended > timedelta(hours=23)
    assert daemon.last_run_log().count("during a transaction") == 1
