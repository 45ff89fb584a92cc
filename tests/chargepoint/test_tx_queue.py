"""The transaction-message queue: what a CALLRESULT, a CALLERROR, a timeout and a lost link
mean for a queued Start/Stop/MeterValues (OCPP 1.6 §3.7, OCPP-J 1.6 §4.1.1 / §4.2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.core import GenericError
from hw.events import CardPresented, PlugChanged

from .rig import Rig

ODD_START = (
    '[3, "{id}", {"transactionId": 41, "idTagInfo": {"status": "Accepted",'
    ' "expiryDate": "2026-12-01T10:00:00"}, "vendorExtra": 1}]'
)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(
        tmp_path, config={"TransactionMessageRetryInterval": "5", "MeterValueSampleInterval": "0"}
    )
    r.connect()
    r.clear()
    yield r
    r.store.close()


def _charge(rig: Rig) -> None:
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))


@pytest.mark.parametrize(
    "frame",
    [
        ODD_START,  # fails the schema: no offset, an unknown property
        '[3, "{id}", {"transactionId": 41}]',  # idTagInfo (required) missing
        '[3, "{id}", []]',  # not even an object: a malformed CALLRESULT frame
    ],
    ids=["schema-invalid", "field-missing", "malformed"],
)
def test_a_callresult_is_never_answered_by_a_resend(rig: Rig, frame: str) -> None:
    """OCPP-J 1.6 §4.2.2: a CALLRESULT says the central system processed the CALL. Whatever
    its payload, StartTransaction is delivered: sent once, never again (OCPP 1.6 §3.7)."""
    rig.script["StartTransaction"] = lambda p: None
    _charge(rig)
    [(mid, action)] = rig.unanswered
    rig.raw_answer(mid, frame)
    rig.advance(600)
    assert len(rig.sent("StartTransaction")) == 1
    assert rig.store.queue_depth() == 0
    tx = rig.cp.charging.points[1].tx
    assert tx is not None
    assert tx.transaction_id == (41 if "41" in frame else -1)  # errata 3.18: no id -> -1
    rig.event(CardPresented("1", "CAFE01"))
    [stop] = rig.sent("StopTransaction")
    assert stop["transactionId"] == tx.transaction_id


def test_a_late_answer_completes_the_message_and_nothing_is_resent(rig: Rig) -> None:
    """A timeout on a live link is not a failed attempt: the central system may be slow. Its
    late CALLRESULT completes the message; the resend is not sent (no duplicate Stop)."""
    _charge(rig)
    rig.script["StopTransaction"] = lambda p: None
    rig.event(CardPresented("1", "CAFE01"))
    [(mid, _)] = rig.unanswered
    rig.advance(31)  # past the call timeout (30 s); the resend waits RetryInterval (5 s)
    rig.raw_answer(mid, '[3, "{id}", {"idTagInfo": {"status": "Accepted"}}]')
    rig.advance(600)
    assert len(rig.sent("StopTransaction")) == 1
    assert rig.store.queue_depth() == 0


def test_an_unanswered_stop_is_kept_until_delivered(rig: Rig) -> None:
    """A central system that never answers on a live link: the Stop is never dropped (billing
    data), at most TransactionMessageAttempts copies go out per connection, and it goes out
    first on the next connection, where its answer completes it."""
    rig.cp.settings.change("TransactionMessageAttempts", "3")
    _charge(rig)
    rig.script["StopTransaction"] = lambda p: None
    rig.event(CardPresented("1", "CAFE01"))
    rig.advance(24 * 3600)
    stops = rig.sent("StopTransaction")
    assert len(stops) == 3 and rig.store.queue_depth() == 1
    assert rig.cp.next_deadline() is None or rig.cp.next_deadline() > rig.now  # no busy loop
    rig.disconnect()
    rig.script["StopTransaction"] = lambda p: {"idTagInfo": {"status": "Accepted"}}
    rig.clear()
    rig.connect()
    assert rig.sent("StopTransaction") == stops[:1]  # the same payload, once
    assert rig.store.queue_depth() == 0


def test_a_start_given_up_still_sends_its_meter_values_and_stop_with_minus_one(rig: Rig) -> None:
    """OCPP 1.6 errata v4 3.18 / §4.8: StartTransaction not delivered after
    TransactionMessageAttempts; the transaction's MeterValues and StopTransaction are still
    sent, with transactionId -1, never deleted."""
    rig.cp.settings.change("TransactionMessageAttempts", "2")
    rig.cp.settings.change("MeterValueSampleInterval", "10")
    rig.script["StartTransaction"] = lambda p: GenericError("cannot")
    rig.meter(100.0)
    _charge(rig)
    rig.advance(12)  # a MeterValues sample queued behind the Start; 2nd attempt fails at 5 s
    rig.advance(20)
    assert len(rig.sent("StartTransaction")) == 2
    rig.meter(150.0)
    rig.event(CardPresented("1", "CAFE01"))
    mvs = rig.sent("MeterValues")
    [stop] = rig.sent("StopTransaction")
    assert mvs and {m["transactionId"] for m in mvs} == {-1}
    assert stop["transactionId"] == -1 and stop["meterStop"] == 150
    assert rig.store.queue_depth() == 0


def test_a_late_answer_to_the_first_copy_while_the_resend_flies(rig: Rig) -> None:
    """Either copy's CALLRESULT delivers the message; the other answer (or its timeout) sends
    nothing more."""
    _charge(rig)
    rig.script["StopTransaction"] = lambda p: None
    rig.event(CardPresented("1", "CAFE01"))
    rig.advance(36)  # timeout at 30 s, resend at 35 s, itself unanswered so far
    assert len(rig.sent("StopTransaction")) == 2
    (first, _), (second, _) = rig.unanswered
    rig.raw_answer(first, '[3, "{id}", {}]')
    assert rig.store.queue_depth() == 0
    rig.advance(600)  # the resend times out: nothing follows
    rig.raw_answer(second, '[3, "{id}", {}]')  # or is answered late: ignored
    assert len(rig.sent("StopTransaction")) == 2 and rig.store.queue_depth() == 0
    assert rig.call("GetLocalListVersion", {}) == {"listVersion": 0}  # still serving
