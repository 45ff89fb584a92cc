"""Offline sessions: queued transaction messages replayed once, in order, with their own times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.e2e.conftest import boot
from tests.e2e.csms import Frame, StrictCentralSystem
from tests.e2e.daemon import Daemon
from tests.support.net import wait_until

TRANSACTION_MESSAGES = ("StartTransaction", "StopTransaction", "MeterValues")


def _time(payload: dict[str, object]) -> datetime:
    stamp = (
        payload["timestamp"] if "timestamp" in payload else (payload["meterValue"][0]["timestamp"])
    )  # type: ignore[index]
    return datetime.fromisoformat(str(stamp))


def _calls_after_last_boot(csms: StrictCentralSystem) -> list[Frame]:
    frames = [f for f in csms.decoded() if f.action is not None]
    last_boot = max(i for i, f in enumerate(frames) if f.action == "BootNotification")
    return frames[last_boot + 1 :]


def test_an_offline_session_is_replayed_in_order(daemon: Daemon, csms: StrictCentralSystem) -> None:
    boot(daemon, csms)
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-O")  # online: Authorize, and the answer is cached
    daemon.wait_connector(
        lambda c: c["transaction"] and c["transaction"]["id"] == 1,
        what="transaction 1 acknowledged",
    )

    csms.stop()  # the central system goes away in the middle of the session
    offline_from = datetime.now(UTC)
    daemon.wait(lambda s: s["connection"] == "disconnected", what="link down")
    daemon.wait(lambda s: s["queued_messages"] >= 2, what="MeterValues queued offline")
    daemon.do("tap", id_tag="CARD-O")  # stop while offline: same card, no Authorize needed
    daemon.wait_connector(
        lambda c: c["relay"] is False and c["transaction"] is None,
        what="transaction 1 stopped offline",
    )
    stop_tap = datetime.now(UTC)
    daemon.do("unplug", connector=1)
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-O")  # start offline: LocalAuthorizeOffline + the cache
    connector = daemon.wait_connector(lambda c: c["relay"] is True, what="offline start")
    assert connector["transaction"]["id"] is None  # no transactionId until the CSMS answers
    queued = daemon.status()["queued_messages"]
    daemon.wait(lambda s: s["queued_messages"] >= queued + 1, what="offline MeterValues")
    daemon.do("tap", id_tag="CARD-O")
    daemon.wait_connector(lambda c: c["relay"] is False, what="offline stop")
    # the StopTransaction is released once meterStop is read, just after the relay opened
    wait_until(
        lambda: daemon.log_path.read_text().count(" stopped (Local)") >= 2,
        5,
        "the second StopTransaction queued",
    )
    queued = daemon.status()["queued_messages"]
    offline_until = datetime.now(UTC)

    csms.start()  # back on the same port
    daemon.wait(
        lambda s: s["queued_messages"] == 0 and s["registration"] == "Accepted",
        timeout=20,
        what="queue replayed",
    )
    replay = _calls_after_last_boot(csms)[:queued]
    assert [f.action in TRANSACTION_MESSAGES for f in replay] == [True] * queued, (
        f"queued messages go first: {[f.action for f in replay]}"
    )
    actions = [f.action for f in replay]
    assert actions[0] == "MeterValues" and actions[-1] == "StopTransaction"
    assert actions.count("StartTransaction") == 1 and actions.count("StopTransaction") == 2
    times = [_time(f.payload) for f in replay]
    assert times == sorted(times), "replayed in the order they happened"
    assert all(offline_from <= t <= offline_until for t in times), "original timestamps"

    stop_1 = next(f.payload for f in replay if f.action == "StopTransaction")
    assert (stop_1["transactionId"], stop_1["reason"]) == (1, "Local")
    assert _time(stop_1) <= stop_tap
    start_2 = next(f.payload for f in replay if f.action == "StartTransaction")
    assert start_2["idTag"] == "CARD-O" and start_2["meterStart"] >= stop_1["meterStop"]
    later = replay[actions.index("StartTransaction") + 1 :]
    assert [f.payload["transactionId"] for f in later] == [2] * len(later), (
        "messages of the offline transaction carry the id the CSMS gave its StartTransaction"
    )
    assert later[-1].payload["meterStop"] >= start_2["meterStart"]

    # each queued message arrived exactly once in the whole run
    assert len(csms.calls("StartTransaction")) == 2
    assert len(csms.calls("StopTransaction")) == 2
    unique = {
        (f.action, str(f.payload)) for f in csms.decoded() if f.action in TRANSACTION_MESSAGES
    }
    assert len(unique) == len([f for f in csms.decoded() if f.action in TRANSACTION_MESSAGES])
    assert len(csms.calls("Authorize")) == 1
    wait_until(lambda: daemon.connector()["status"] == "Finishing", 5, "Finishing")


def test_a_transaction_started_before_the_clock_is_known_is_back_dated(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms, AllowOfflineTxForUnknownId="true")
    csms.stop()
    daemon.kill9()
    daemon.start()  # no central system: the wall clock is unknown in this run
    daemon.do("plug", connector=1)
    before_tap = datetime.now(UTC)
    daemon.do("tap", id_tag="CARD-U")
    daemon.wait_connector(lambda c: c["relay"] is True, what="offline start, clock unknown")
    after_tap = datetime.now(UTC)
    daemon.do("tap", id_tag="CARD-U")
    daemon.wait_connector(lambda c: c["relay"] is False, what="offline stop")
    csms.start()
    daemon.wait(
        lambda s: s["queued_messages"] == 0 and s["registration"] == "Accepted",
        timeout=20,
        what="queue replayed",
    )
    start = csms.calls("StartTransaction")[0]
    slack = timedelta(milliseconds=5)  # the wire format keeps milliseconds
    assert before_tap - slack <= _time(start) <= after_tap + slack, (
        "stamped when it happened, learnt from the monotonic clock once the time was known"
    )
    stop = csms.calls("StopTransaction")[0]
    assert _time(start) <= _time(stop) and stop["transactionId"] == 1
