"""The ChargePoint application: boot, heartbeat, clock, the transaction queue, and dispatch."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cpagent.chargepoint import handlers
from cpagent.chargepoint.authorization import (
    AuthorizationCache,
    IdTagInfo,
    LocalList,
    id_tag_key,
)
from cpagent.chargepoint.charging import Charging
from cpagent.chargepoint.clock import WallClock, from_wire
from cpagent.chargepoint.commands import Command, FirmwareJob
from cpagent.chargepoint.firmware import FirmwareManagement
from cpagent.chargepoint.firmware_events import FirmwareEvent
from cpagent.chargepoint.reservations import Reservations
from cpagent.chargepoint.settings import FeatureProfile, Settings
from cpagent.chargepoint.smart_charging import ChargingProfiles, Electrical, Profile
from cpagent.chargepoint.store import QueuedMessage, Store
from cpagent.core import (
    CallAnswered,
    CallErrored,
    CallFailed,
    CallReceived,
    CallRejected,
    ConnectionLost,
    Event,
    InternalError,
    InvalidPayload,
    InvalidResponse,
    OcppError,
    Session,
)

PROFILES = frozenset({FeatureProfile.CORE, FeatureProfile.LOCAL_AUTH_LIST_MANAGEMENT,
                      FeatureProfile.RESERVATION, FeatureProfile.SMART_CHARGING,
                      FeatureProfile.REMOTE_TRIGGER})
"""What this module implements; SupportedFeatureProfiles is derived from it."""

_log = logging.getLogger(__name__)
BOOT_RETRY_S = 60.0  # when BootNotification.conf gives interval 0 or the call fails
OnAnswer = Callable[[dict[str, Any] | None, float], None]


def _log_refused(event: Event) -> None:
    """A message refused by a schema check is never silent (operators must see why)."""
    if isinstance(event, CallFailed) and isinstance(event.error, InvalidResponse):
        err = event.error.error  # OCPP-J 1.6 §4.2.3: the central system's answer is invalid
        _log.warning("%s answer from the central system refused: %s %s; the %s counts as "
                     "not answered", event.action, err.code, err.description, event.action)
    elif isinstance(event, CallFailed) and isinstance(event.error, InvalidPayload):
        _log.error("%s not sent: our payload fails its schema: %s", event.action, event.error)
    elif isinstance(event, CallRejected):  # INFO: a peer's flood must not flood the journal
        _log.info("%s from the central system refused with %s: %s", event.action,
                  event.error.code, event.error.description)


@dataclass(frozen=True, slots=True)
class _Direct:
    """A CALL that is not a queued transaction message; `on_answer` gets None on failure."""

    action: str
    payload: dict[str, Any]
    on_answer: OnAnswer | None


class ChargePoint:
    """One OCPP 1.6J charge point's application state, driven by one owner thread.

    Inputs: `connected` / `disconnected` (transport up/down), `receive` (a text frame),
    `hw_event` (hw.events), `tick` (at `next_deadline()`); every input carries `now`, a
    monotonic time in seconds. Outputs: `drain_frames()` (texts to send, in order) and
    `drain_commands()` (relay and current-limit commands, and a restart request).

    Theory of operation (OCPP 1.6 §4.2, §4.6, §4.7, §3.16 "Transaction-related messages"):
    nothing but BootNotification goes out until one is Accepted (Pending/Rejected retry at
    the interval given). One CALL at a time: the durable queue of transaction messages
    (Start/Stop/MeterValues, in order, with their original timestamps) goes first, then
    other calls, then a Heartbeat once nothing has been sent for HeartbeatInterval. A queued
    message that gets a CALLERROR or no answer is retried after RetryInterval x attempts,
    and dropped after TransactionMessageAttempts; one acknowledged is deleted in the same
    commit that records its transactionId, so it is never sent again.
    """

    def __init__(self, *, store: Store, boot_payload: Mapping[str, Any],
                 connector_ids: Iterable[int], boot_id: str, new_id: Callable[[], str],
                 now: float, sources: Mapping[str, int] | None = None,
                 electrical: Electrical | None = None, call_timeout: float = 30.0,
                 firmware_management: bool = False) -> None:
        """`sources` maps each hw event source label to its connector (0: the whole charge
        point, e.g. one RFID reader); by default "1", "2" ... name the connectors.
        `firmware_management`: a worker (cpagent.firmware) runs `drain_jobs()` and posts its
        events to `firmware_event`; only then is the profile offered (§3 profiles)."""
        self._last_now = now
        self.store = store
        self.boot_payload = dict(boot_payload)
        self.boot_id = boot_id
        self._new_id = new_id
        ids = sorted(set(connector_ids))
        self.sources = dict(sources) if sources is not None else {str(i): i for i in ids}
        self.firmware_management = firmware_management
        profiles = PROFILES | {FeatureProfile.FIRMWARE_MANAGEMENT} if firmware_management else (
            PROFILES)
        self.settings = Settings(profiles, len(ids), store.load_config())
        self.clock = WallClock()
        self.session = Session("ocpp1.6", call_timeout=call_timeout)
        version, entries = store.load_local_list()
        self.local_list = LocalList(version, entries)
        self.cache = AuthorizationCache(entries=store.load_cache())
        self.reservations = Reservations(ids, self.settings.get_bool(
            "ReserveConnectorZeroSupported"), store.load_reservations())
        self.profiles = ChargingProfiles(ids, electrical or Electrical(), [
            Profile.parse(c, p) for c, p in store.load_profiles()])
        self.registration = "None"  # RegistrationStatus once a BootNotification is answered
        self._commands: list[Command] = []
        self._frames: list[str] = []
        self._direct: deque[_Direct] = deque()
        self._inflight: tuple[str, QueuedMessage | _Direct] | None = None
        self._retry_at: dict[int, float] = {}
        self._boot_at = now
        self._started_at = now
        self._last_sent = now
        self.firmware = FirmwareManagement(self)
        self.charging = Charging(self, ids, now)  # opens relays, stops PowerLoss transactions
        self.firmware.started(now)

    # -- inputs ---------------------------------------------------------------------------
    def connected(self, now: float, subprotocol: str = "ocpp1.6") -> None:
        self.session.connected(now, subprotocol)
        self.registration = "None"  # §4.2: a BootNotification on every new connection
        self._boot_at = now
        self._after(now)

    def disconnected(self, now: float) -> None:
        self.session.disconnected(now)
        self._after(now)
        pending, self._direct = self._direct, deque()
        for item in pending:  # stale once offline (Authorize is then decided locally)
            if item.on_answer is not None:
                item.on_answer(None, now)
        self._after(now)

    def receive(self, text: str, now: float) -> None:
        self.session.receive(text, now)
        self._after(now)

    def hw_event(self, event: object, now: float) -> None:
        self.charging.hw_event(event, now)
        self._after(now)

    def firmware_event(self, event: FirmwareEvent, now: float) -> None:
        """A result from the firmware worker (cpagent.chargepoint.firmware_events)."""
        self.firmware.event(event, now)
        self._after(now)

    def tick(self, now: float) -> None:
        self.session.tick(now)
        self._after(now)

    # -- outputs --------------------------------------------------------------------------
    def drain_frames(self) -> list[str]:
        out, self._frames = self._frames, []
        return out

    def drain_commands(self) -> list[Command]:
        out, self._commands = self._commands, []
        return out

    def drain_jobs(self) -> list[FirmwareJob]:
        """Firmware Management jobs for the worker (only with `firmware_management`)."""
        return self.firmware.drain_jobs()

    def next_deadline(self) -> float | None:
        times = [self.session.next_deadline(), self.charging.next_deadline(),
                 self.firmware.next_deadline()]
        if self.session.is_connected and self._inflight is None:
            if self.registration != "Accepted":
                times.append(self._boot_at)
            else:
                head = self.store.head() if self.clock.is_set else None
                if head is not None:
                    times.append(self._retry_at.get(head.seq, 0.0))
                interval = self.settings.get_int("HeartbeatInterval")
                if interval > 0:
                    times.append(self._last_sent + interval)
        return min((t for t in times if t is not None), default=None)

    # -- services for Charging and the handlers -----------------------------------------------
    @property
    def online(self) -> bool:
        """Connected and accepted: requests to the central system can be answered now."""
        return self.session.is_connected and self.registration == "Accepted"

    def command(self, cmd: Command) -> None:
        self._commands.append(cmd)

    def request(self, action: str, payload: dict[str, Any], on_answer: OnAnswer | None = None
                ) -> None:
        """Send a CALL that is not a transaction message, after the queue (dropped offline)."""
        self._direct.append(_Direct(action, payload, on_answer))

    def save_settings(self) -> None:
        self.store.save_config(self.settings.writable_values())

    def remember_id_tag(self, id_tag: str, info: IdTagInfo) -> None:
        """Authorize/Start/Stop.conf idTagInfo goes into the cache (§3.5.2)."""
        if self.settings.get_bool("AuthorizationCacheEnabled"):
            evicted = self.cache.put(id_tag, info, self.wall(None))
            self.store.put_cache(id_tag_key(id_tag), info, evicted)

    def wall(self, mono: float | None) -> float | None:
        """Wall seconds for monotonic `mono` (None: the latest known), or None if unknown."""
        if not self.clock.is_set:
            return None
        return self.clock.wall(mono if mono is not None else self._last_now)

    # -- the pump -----------------------------------------------------------------------------
    def _after(self, now: float) -> None:
        self._last_now = now
        for event in self.session.drain_events():
            _log_refused(event)
            if isinstance(event, CallReceived):
                self._incoming(event, now)
            elif isinstance(event, CallAnswered | CallErrored | CallFailed):
                self._answered(event, now)
        self.charging.tick(now)
        self.firmware.tick(now)
        self.charging.poll(now)
        self.clock.settle(in_transaction=self._in_transaction())  # a held step, if any
        self._pump(now)
        self._frames += [o.text for o in self.session.drain_frames()]

    def _incoming(self, event: CallReceived, now: float) -> None:
        try:
            payload = handlers.handle(self, event.action, event.payload, now)
        except OcppError as exc:
            self.session.answer_error(event.message_id, exc, now)
            return
        except Exception as exc:  # a bug of ours must not take the charge point down
            _log.exception("handler for %s failed", event.action)
            self.session.answer_error(event.message_id, InternalError(
                f"{event.action} failed: {type(exc).__name__}"), now)
            return
        self.session.answer(event.message_id, payload, now)
        handlers.after_answer(self, event.action, event.payload, payload, now)

    def _send(self, item: QueuedMessage | _Direct, now: float) -> None:
        mid = self._new_id()
        self._inflight = (mid, item)
        self._last_sent = now
        self.session.call(mid, item.action, item.payload, now)

    def _pump(self, now: float) -> None:
        while self.session.is_connected and self._inflight is None:
            if self.registration != "Accepted":
                if now >= self._boot_at:
                    self._send(_Direct("BootNotification", self.boot_payload, self._booted), now)
                    continue
                return
            head = self.store.head() if self.clock.is_set else None
            if head is not None and self._retry_at.get(head.seq, 0.0) <= now:
                if "transactionId" not in head.payload and head.action == "StopTransaction":
                    self.store.ack(head.seq)  # its Start was never acknowledged: unsendable
                    continue
                self._send(head, now)
            elif self._direct:
                self._send(self._direct.popleft(), now)
            elif (interval := self.settings.get_int("HeartbeatInterval")) > 0 and (
                    now >= self._last_sent + interval):
                self._send(_Direct("Heartbeat", {}, self._set_clock), now)
            else:
                return
            self._after_send(now)

    def _after_send(self, now: float) -> None:
        for event in self.session.drain_events():  # an invalid payload fails at once
            _log_refused(event)
            if isinstance(event, CallFailed):
                self._answered(event, now)

    def _answered(self, event: CallAnswered | CallErrored | CallFailed, now: float) -> None:
        if self._inflight is None or self._inflight[0] != event.message_id:
            return
        _, item = self._inflight
        self._inflight = None
        if isinstance(item, _Direct):
            answer = event.payload if isinstance(event, CallAnswered) else None
            if item.on_answer is not None:
                item.on_answer(answer, now)
            return
        if isinstance(event, CallAnswered):
            tx_id = event.payload.get("transactionId")
            self.store.ack(item.seq, tx_id if item.action == "StartTransaction" else None)
            self._retry_at.pop(item.seq, None)
            self.charging.queued_answered(item, event.payload, now)
        elif isinstance(event, CallFailed) and isinstance(event.error, ConnectionLost):
            return  # not an attempt: resent first on the next connection
        else:
            attempts = item.attempts + 1
            error = getattr(event, "error", None)  # CallErrored / CallFailed carry one
            failure = f"{type(error).__name__}: {error}" if error is not None else "no answer"
            if attempts >= self.settings.get_int("TransactionMessageAttempts"):
                _log.warning("%s (queued #%d) dropped after %d attempts, the last: %s "
                             "(OCPP 1.6 §4.7, TransactionMessageAttempts)",
                             item.action, item.seq, attempts, failure)
                self.store.ack(item.seq)  # §4.7: give up on this message
                self.charging.queued_answered(item, None, now)
            else:
                _log.info("%s (queued #%d) attempt %d failed: %s; retrying", item.action,
                          item.seq, attempts, failure)
                retry = now + self.settings.get_int("TransactionMessageRetryInterval") * attempts
                self.store.mark_attempt(item.seq, retry)
                self._retry_at[item.seq] = retry

    def _booted(self, answer: dict[str, Any] | None, now: float) -> None:
        if answer is None:
            self._boot_at = now + BOOT_RETRY_S
            return
        self._set_clock(answer, now)
        self.registration = answer["status"]
        interval = int(answer["interval"])
        if self.registration == "Accepted":
            if interval > 0:
                self.settings.change("HeartbeatInterval", str(interval))
            self._last_sent = now
            self.charging.registered(now)
        else:
            self._boot_at = now + (interval if interval > 0 else BOOT_RETRY_S)

    def _set_clock(self, answer: dict[str, Any] | None, now: float) -> None:
        if answer is None or "currentTime" not in answer:
            return
        first = not self.clock.is_set
        # WallClock: a step is held while a transaction is open (time only moves forward
        # within a transaction; OCPP 1.6 §4.2/§4.6 only recommend synchronising)
        self.clock.set(from_wire(answer["currentTime"]), now,
                       in_transaction=self._in_transaction())
        if first and self.clock.offset_s is not None:
            # earlier boots' monotonic clocks are gone: stamp their messages when this run
            # began, no later than anything this run queued (its PowerLoss stops included)
            self.store.backdate(self.boot_id, self.clock.offset_s,
                                others_at=self.clock.wall(self._started_at))

    def _in_transaction(self) -> bool:
        """Any transaction open (the wall clock's offset stays frozen until none is)."""
        return any(p.tx is not None for p in self.charging.points.values())
