"""The outbox: one CALL in flight, durable transaction messages before other calls (§3.7)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cpagent.chargepoint.store import QueuedMessage
from cpagent.chargepoint.tx_queue import Delivered, QueueStore, RetryPolicy, TxQueue
from cpagent.core import BadFrame, CallAnswered, CallErrored, CallFailed, UnexpectedResponse

OnAnswer = Callable[[dict[str, Any] | None, float], None]
"""What a plain call's sender does with the answer's payload (None: no answer, or offline)."""


@dataclass(frozen=True, slots=True)
class Direct:
    """A CALL that is not a queued transaction message; `on_answer` gets None on failure."""

    action: str
    payload: dict[str, Any]
    on_answer: OnAnswer | None
    triggered: bool = False  # asked for by TriggerMessage: may go while Pending (§4.2)


Item = QueuedMessage | Direct


class Outbox:
    """Everything the charge point sends, in order, one CALL at a time.

    Theory of operation (OCPP 1.6 §3.7; EVerest libocpp's MessageQueue is the model):
    the durable queue of transaction messages (the store's outbox table: Start/Stop/MeterValues
    with their original timestamps) goes first, then plain calls in the order asked, which are
    never persisted and are dropped (answered None) when the link goes. What an answer, an
    error, a timeout or a lost link means for a queued message is `TxQueue`'s business. The
    protocol adapter decides when sending is allowed at all (boot, heartbeat): it asks `next`,
    puts the item on the wire, says `sent`, and passes the outcome to `answered`.
    """

    def __init__(
        self,
        store: QueueStore,
        policy: Callable[[], RetryPolicy],
        delivered: Delivered,
        *,
        ready: Callable[[], bool],
        held: Callable[[], bool],
    ) -> None:
        self.queue = TxQueue(store, policy, delivered, ready=ready, held=held)
        self._direct: deque[Direct] = deque()
        self._inflight: tuple[str, Item] | None = None

    # -- what goes out ------------------------------------------------------------------------
    def request(
        self,
        action: str,
        payload: dict[str, Any],
        on_answer: OnAnswer | None = None,
        *,
        triggered: bool = False,
    ) -> None:
        """A plain CALL, sent after the queue; dropped (on_answer(None)) when offline."""
        self._direct.append(Direct(action, payload, on_answer, triggered))

    @property
    def busy(self) -> bool:
        """A CALL is in flight: nothing else may go (OCPP-J 1.6 §4.1.1)."""
        return self._inflight is not None

    def next(self, now: float) -> Item | None:
        """The next item to send now: the queue head if due, else the oldest plain call."""
        head = self.queue.due(now)
        if head is not None:
            return head
        return self._direct.popleft() if self._direct else None

    def take_triggered(self) -> Direct | None:
        """The oldest triggered call (§4.2: these may go while the registration is Pending)."""
        found = next((d for d in self._direct if d.triggered), None)
        if found is not None:
            self._direct.remove(found)
        return found

    def deadline(self) -> float | None:
        """When the queue head may be sent (None: nothing queued, or parked)."""
        return self.queue.deadline()

    def sent(self, message_id: str, item: Item) -> None:
        """`item` went on the wire as `message_id`."""
        self._inflight = (message_id, item)
        if isinstance(item, QueuedMessage):
            self.queue.inflight_seq = item.seq
            self.queue.sending(item)

    # -- what comes back ----------------------------------------------------------------------
    def answered(
        self,
        event: CallAnswered | CallErrored | CallFailed,
        now: float,
        bad: list[BadFrame],
    ) -> None:
        """The CALL in flight ended (`bad`: frames the session refused in the same batch)."""
        if self._inflight is None or self._inflight[0] != event.message_id:
            return
        mid, item = self._inflight
        self._inflight = None
        self.queue.inflight_seq = None
        if isinstance(item, Direct):
            answer = event.payload if isinstance(event, CallAnswered) else None
            if item.on_answer is not None:
                item.on_answer(answer, now)
            return
        self.queue.outcome(item, mid, event, now, bad)

    def late(self, event: UnexpectedResponse, now: float) -> None:
        """An answer to no CALL in flight (a timed-out copy's, maybe)."""
        self.queue.late(event, now)

    def disconnected(self, now: float) -> None:
        """The link is gone: queued messages go first on the next one; plain calls are stale
        (Authorize is then decided locally), so each is answered None."""
        self.queue.disconnected()
        pending, self._direct = self._direct, deque()
        for item in pending:
            if item.on_answer is not None:
                item.on_answer(None, now)
