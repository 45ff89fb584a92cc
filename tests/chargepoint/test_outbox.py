"""The outbox on its own, over a real store: order, one CALL in flight, retries, lost links."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpagent.chargepoint.outbox import Direct, Outbox
from cpagent.chargepoint.store import QueuedMessage, Store
from cpagent.chargepoint.tx_queue import RetryPolicy
from cpagent.core import CallAnswered, CallErrored, CallFailed, ConnectionLost, GenericError


class Delivered:
    """Records what the outbox says was done with each queued message."""

    def __init__(self) -> None:
        self.done: list[tuple[str, dict[str, Any] | None, int | None]] = []

    def __call__(
        self,
        item: QueuedMessage,
        answer: dict[str, Any] | None,
        now: float,
        transaction_id: int | None,
    ) -> None:
        self.done.append((item.action, answer, transaction_id))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "state.db")
    yield s
    s.close()


def make(store: Store, delivered: Delivered, *, ready: bool = True) -> Outbox:
    return Outbox(
        store,
        lambda: RetryPolicy(attempts=2, interval_s=10),
        delivered,
        ready=lambda: ready,
        held=lambda: False,
    )


def start(store: Store) -> int:
    payload = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "x"}
    return store.begin_transaction(1, "T", 0.0, payload)


def test_the_queue_head_goes_before_plain_calls_one_at_a_time(store: Store) -> None:
    delivered = Delivered()
    box = make(store, delivered)
    box.request("Heartbeat", {})
    start(store)
    first = box.next(0.0)
    assert isinstance(first, QueuedMessage) and first.action == "StartTransaction"
    box.sent("m1", first)
    assert box.busy
    box.answered(
        CallAnswered(
            "m1", "StartTransaction", {"transactionId": 7, "idTagInfo": {"status": "Accepted"}}
        ),
        0.0,
        [],
    )
    assert not box.busy and store.queue_depth() == 0
    assert delivered.done == [
        ("StartTransaction", {"transactionId": 7, "idTagInfo": {"status": "Accepted"}}, 7)
    ]
    second = box.next(0.0)
    assert isinstance(second, Direct) and second.action == "Heartbeat"


def test_a_callerror_is_an_attempt_and_the_last_one_gives_up_with_minus_one(store: Store) -> None:
    delivered = Delivered()
    box = make(store, delivered)
    start(store)
    for n, now in enumerate((0.0, 10.0)):
        item = box.next(now)
        assert isinstance(item, QueuedMessage), n
        box.sent(f"m{n}", item)
        box.answered(CallErrored(f"m{n}", "StartTransaction", GenericError("no")), now, [])
        if n == 0:
            assert box.next(5.0) is None and box.deadline() == 10.0  # interval x attempts
    assert store.queue_depth() == 0
    assert delivered.done == [("StartTransaction", None, -1)]  # errata 3.18


def test_a_lost_link_keeps_queued_messages_and_answers_plain_calls_none(store: Store) -> None:
    delivered = Delivered()
    box = make(store, delivered)
    answers: list[dict[str, Any] | None] = []
    start(store)
    box.request("Authorize", {"idTag": "T"}, lambda answer, now: answers.append(answer))
    item = box.next(0.0)
    assert isinstance(item, QueuedMessage)
    box.sent("m1", item)
    box.answered(CallFailed("m1", "StartTransaction", ConnectionLost("down")), 0.0, [])
    box.disconnected(0.0)
    assert answers == [None] and delivered.done == [] and store.queue_depth() == 1
    again = box.next(0.0)
    assert isinstance(again, QueuedMessage) and again.seq == item.seq  # first on the next link


def test_nothing_queued_goes_before_the_clock_is_known(store: Store) -> None:
    box = make(store, Delivered(), ready=False)
    start(store)
    box.request("StatusNotification", {"connectorId": 1})
    item = box.next(0.0)
    assert isinstance(item, Direct) and item.action == "StatusNotification"
    assert box.next(0.0) is None and box.deadline() is None
