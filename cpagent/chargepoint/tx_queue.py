"""Delivery of the durable transaction-message queue: answers, retries, late answers (§3.7)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cpagent.chargepoint.store import QueuedMessage
from cpagent.core import (
    BadFrame,
    CallAnswered,
    CallErrored,
    CallFailed,
    CallResult,
    CallTimeout,
    ConnectionLost,
    InvalidResponse,
    UnexpectedResponse,
    schemas,
)

_log = logging.getLogger(__name__)

TX_ACTIONS = frozenset({"StartTransaction", "StopTransaction", "MeterValues"})
"""Transaction-related messages (OCPP 1.6 §3.7). The Session does not schema-check
their answers: a CALLRESULT is the central system saying it processed the message, whatever
the payload looks like, and the TxQueue checks the payloads itself."""

NO_TRANSACTION_ID = -1
"""transactionId of the Stop and MeterValues of a transaction whose StartTransaction could not
be delivered (OCPP 1.6 errata v4 3.18, §4.8), or whose answer carried no usable id."""


class QueueStore(Protocol):
    """The store's outbox table, as far as delivery needs it (cpagent.chargepoint.store)."""

    def head(self) -> QueuedMessage | None: ...
    def ack(self, seq: int, transaction_id: int | None = None, delivered: bool = True) -> None: ...
    def mark_attempt(self, seq: int, next_attempt: float) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """TransactionMessageAttempts / TransactionMessageRetryInterval (OCPP 1.6 §9.1)."""

    attempts: int
    interval_s: int


Delivered = Callable[[QueuedMessage, "dict[str, Any] | None", float, "int | None"], None]
"""Called once a queued message is done: its answer's payload (None: given up), the time, and
for a StartTransaction the transactionId its transaction is known by from now on."""


class TxQueue:
    """Sends the store's queue head, one at a time, and decides what each outcome means.

    Theory of operation (OCPP 1.6 §3.7, OCPP-J 1.6 §4.1.1 / §4.2):
    - A CALLRESULT (on time, late, or with a payload that fails its schema) means delivered:
      the message is deleted in the same commit that records the transactionId. It is never
      resent. An odd payload is logged at WARNING.
    - A CALLERROR is a failed attempt: resent after TransactionMessageRetryInterval x attempts,
      given up after TransactionMessageAttempts (the spec permits skipping a message the
      central system keeps refusing). A StartTransaction given up leaves its transaction with
      transactionId -1, and its Stop and MeterValues are still sent, carrying -1 (errata 3.18).
    - A lost link is not an attempt: the message goes first on the next connection.
    - A timeout on a live link is not a failed attempt either: the central system may only be
      slow. The message is never dropped for it. Its message id is remembered, so a late
      CALLRESULT still completes it; a copy is resent on the same link only after
      RetryInterval x copies, and at most TransactionMessageAttempts copies go out per
      connection - then it waits for the answer or the next connection. A slow central system
      (answering within the retry interval) therefore never sees a duplicate, and one that
      never answers sees at most TransactionMessageAttempts copies per connection.
    - A held message (a StopTransaction waiting for its final meter reading, <= 1 s) is not
      sent, nor anything behind it (§3.7: in order); what was queued before it still goes.
    - A payload of ours that fails its schema is a bug of ours: logged at ERROR and sent all
      the same (billing data first; a strict central system answers CALLERROR and the
      attempts rule applies, a lenient one keeps the data).
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
        """`ready`: the queue may be sent (the wall clock is known, so every message has its
        time); `held`: wait a moment (a PowerLoss stop's meterStop is being read, <= 1 s)."""
        self._store, self._policy, self._delivered_to = store, policy, delivered
        self._ready, self._held = ready, held
        self.inflight_seq: int | None = None  # the seq of the copy on the wire, if any
        self._retry_at: dict[int, float] = {}  # seq -> when it may be sent again
        self._copies: dict[int, int] = {}  # seq -> copies sent on this connection
        self._late: dict[str, int] = {}  # message id of a timed-out copy -> seq
        self._parked: set[int] = set()  # seqs waiting for an answer or a new connection
        self._timed_out: set[int] = set()  # seqs whose retry time comes from a timeout
        self._done: set[int] = set()  # seqs completed by a late answer while a copy flies

    # -- what to send -------------------------------------------------------------------------
    def head(self) -> QueuedMessage | None:
        """The queue head with a transactionId wherever one belongs (-1 if none is known)."""
        head = self._store.head() if self._ready() else None
        if (
            head is not None
            and head.local_tx is not None
            and head.action != "StartTransaction"
            and "transactionId" not in head.payload
        ):
            # Only reachable when the Start was given up before it had an id recorded:
            # deliver the billing data anyway, with the errata 3.18 id.
            head.payload["transactionId"] = NO_TRANSACTION_ID
        return head

    def due(self, now: float) -> QueuedMessage | None:
        if self._held():
            return None  # a PowerLoss stop's meterStop is being read (<= 1 s)
        head = self.head()
        if head is None or head.held or head.seq in self._parked:
            return None  # held: a Stop waiting for its final reading (<= 1 s), then released
        return None if self._retry_at.get(head.seq, 0.0) > now else head

    def deadline(self) -> float | None:
        head = self._store.head() if self._ready() else None
        if head is None or head.held or head.seq in self._parked or self._held():
            return None  # a held head is released by an input (its reading), not by time
        return self._retry_at.get(head.seq, 0.0)

    def sending(self, item: QueuedMessage) -> None:
        """A copy of `item` goes out now; a payload of ours failing its schema is our bug."""
        self._copies[item.seq] = self._copies.get(item.seq, 0) + 1
        error = schemas.check_payload("ocpp1.6", item.action, schemas.REQUEST, item.payload)
        if error is not None:
            _log.error(
                "%s (queued #%d) payload fails its schema (%s): %s",
                item.action,
                item.seq,
                error,
                json.dumps(item.payload),
            )

    # -- connection ---------------------------------------------------------------------------
    def disconnected(self) -> None:
        """Answers to copies sent on the gone link can no longer come: resend first."""
        self._late.clear()
        self._copies.clear()
        self._parked.clear()
        for seq in self._timed_out:
            self._retry_at.pop(seq, None)
        self._timed_out.clear()

    # -- outcomes -----------------------------------------------------------------------------
    def outcome(
        self,
        item: QueuedMessage,
        mid: str,
        event: CallAnswered | CallErrored | CallFailed,
        now: float,
        bad: list[BadFrame],
    ) -> None:
        """The copy `mid` of `item` ended with `event` (`bad`: frames the session refused)."""
        if item.seq in self._done:  # a late answer to an earlier copy completed it
            self._done.discard(item.seq)
            return
        if isinstance(event, CallAnswered):
            self._delivered(item, event.payload, now)
        elif isinstance(event, CallErrored):
            self._failed(item, f"{type(event.error).__name__}: {event.error}", now)
        elif isinstance(event.error, ConnectionLost):
            return  # not an attempt: resent first on the next connection
        elif isinstance(event.error, CallTimeout):
            self._timeout(item, mid, now)
        elif isinstance(event.error, InvalidResponse) and (
            (payload := _result_payload(mid, bad)) is not None
        ):
            self._delivered(item, payload, now)  # a malformed CALLRESULT is still a CALLRESULT
        else:
            self._failed(item, f"{type(event.error).__name__}: {event.error}", now)

    def late(self, event: UnexpectedResponse, now: float) -> bool:
        """An answer to no CALL in flight; True if it completed a timed-out copy."""
        frame = event.frame
        seq = self._late.pop(frame.message_id, None)
        if seq is None:
            return False
        head = self._store.head()
        if head is None or head.seq != seq:
            return False  # already completed by another copy's answer
        if not isinstance(frame, CallResult):  # a late CALLERROR: that attempt failed
            if self.inflight_seq != seq:
                self._failed(head, f"late CALLERROR {frame}", now)
            return False
        _log.info(
            "%s (queued #%d) answered late, after the call timeout: delivered", head.action, seq
        )
        if self.inflight_seq == seq:
            self._done.add(seq)
        payload = frame.payload if isinstance(frame.payload, dict) else {}
        self._delivered(self.head() or head, payload, now)
        return True

    def _forget(self, seq: int) -> None:
        self._retry_at.pop(seq, None)
        self._copies.pop(seq, None)
        self._parked.discard(seq)
        self._timed_out.discard(seq)
        for mid in [m for m, s in self._late.items() if s == seq]:
            del self._late[mid]

    def _delivered(self, item: QueuedMessage, payload: dict[str, Any], now: float) -> None:
        error = schemas.check_payload("ocpp1.6", item.action, schemas.RESPONSE, payload)
        tx_id: int | None = None
        if item.action == "StartTransaction":
            raw = payload.get("transactionId")
            tx_id = (
                raw if isinstance(raw, int) and not isinstance(raw, bool) else (NO_TRANSACTION_ID)
            )
        if error is not None:
            _log.warning(
                "%s (queued #%d) answered with a payload that fails its schema (%s);"
                " taken as delivered (a CALLRESULT, OCPP-J 1.6 §4.2.2): %s",
                item.action,
                item.seq,
                error,
                json.dumps(payload)[:300],
            )
        self._store.ack(item.seq, tx_id)
        self._forget(item.seq)
        self._delivered_to(item, payload, now, tx_id)

    def _failed(self, item: QueuedMessage, failure: str, now: float) -> None:
        attempts = item.attempts + 1
        if attempts >= self._policy().attempts:
            _log.warning(
                "%s (queued #%d) dropped after %d attempts, the last: %s "
                "(OCPP 1.6 §3.7, TransactionMessageAttempts): %s",
                item.action,
                item.seq,
                attempts,
                failure,
                json.dumps(item.payload),
            )
            # §3.7: give up on it; a Start given up leaves transactionId -1 (errata 3.18)
            give_up_id = NO_TRANSACTION_ID if item.action == "StartTransaction" else None
            self._store.ack(item.seq, give_up_id, delivered=False)  # not acknowledged
            self._forget(item.seq)
            self._delivered_to(item, None, now, give_up_id)
            return
        _log.info(
            "%s (queued #%d) attempt %d failed: %s; retrying",
            item.action,
            item.seq,
            attempts,
            failure,
        )
        retry = now + self._policy().interval_s * attempts
        self._store.mark_attempt(item.seq, retry)
        self._retry_at[item.seq] = retry
        self._timed_out.discard(item.seq)

    def _timeout(self, item: QueuedMessage, mid: str, now: float) -> None:
        self._late[mid] = item.seq
        copies = self._copies.get(item.seq, 1)
        if copies >= self._policy().attempts:
            self._parked.add(item.seq)
            _log.warning(
                "%s (queued #%d) unanswered after %d copies on this connection; kept,"
                " waiting for an answer or the next connection",
                item.action,
                item.seq,
                copies,
            )
            return
        retry = now + self._policy().interval_s * copies
        _log.info(
            "%s (queued #%d) not answered in time; a late answer still counts, "
            "resent in %.0f s if none comes",
            item.action,
            item.seq,
            retry - now,
        )
        self._retry_at[item.seq] = retry
        self._timed_out.add(item.seq)


def _result_payload(mid: str, bad: list[BadFrame]) -> dict[str, Any] | None:
    """The payload of a malformed CALLRESULT frame for `mid` ({} if unreadable), or None if
    the refused frame was not a CALLRESULT."""
    for frame in bad:
        try:
            message = json.loads(frame.text)
        except ValueError:
            continue
        if (
            isinstance(message, list)
            and len(message) >= 2
            and message[0] == 3
            and (message[1] == mid)
        ):
            payload = message[2] if len(message) > 2 else None
            return payload if isinstance(payload, dict) else {}
    return None
