"""The OCPP 1.6 adapter: boot, heartbeat, clock, status reports, dispatch to the model."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cpagent.chargepoint import handlers, messages16
from cpagent.chargepoint.clock import WallClock, from_wire
from cpagent.chargepoint.commands import Command, FirmwareJob
from cpagent.chargepoint.firmware import FirmwareManagement
from cpagent.chargepoint.firmware_events import FirmwareEvent
from cpagent.chargepoint.model import ChargerModel
from cpagent.chargepoint.outbox import Direct, Item, OnAnswer, Outbox
from cpagent.chargepoint.settings import FeatureProfile, Settings
from cpagent.chargepoint.smart_charging import Electrical
from cpagent.chargepoint.store import QueuedMessage, Store
from cpagent.chargepoint.tx_queue import TX_ACTIONS, RetryPolicy
from cpagent.core import (
    BadFrame,
    CallAnswered,
    CallErrored,
    CallFailed,
    CallReceived,
    InternalError,
    OcppError,
    Session,
    UnexpectedResponse,
)

PROFILES = frozenset(
    {
        FeatureProfile.CORE,
        FeatureProfile.LOCAL_AUTH_LIST_MANAGEMENT,
        FeatureProfile.RESERVATION,
        FeatureProfile.SMART_CHARGING,
        FeatureProfile.REMOTE_TRIGGER,
    }
)
"""What this module implements; SupportedFeatureProfiles is derived from it."""

_log = logging.getLogger(__name__)
# §4.2: Pending/Rejected are retried after BootNotification.conf's interval; when it is 0 (or
# the call failed) the charge point picks a delay "that avoids flooding": this one.
BOOT_RETRY_S = 60.0


class ChargePoint(messages16.Notifications16):
    """One OCPP 1.6J charge point: the protocol adapter around the charger model
    (`model.ChargerModel`, `self.charging`), driven by one owner thread.

    Inputs: `connected` / `disconnected` (transport up/down), `receive` (a text frame),
    `hw_event` (hw.events), `tick` (at `next_deadline()`); every input carries `now`, a
    monotonic time in seconds. Outputs: `drain_frames()` (texts to send, in order) and
    `drain_commands()` (relay and current-limit commands, and a restart request).
    Incoming requests go through the handler tables (`handlers.HANDLERS`, `AFTER_ANSWER`) to
    the model's intents; the model reaches back only through the `ports.Host` methods here.

    Theory of operation (OCPP 1.6 §4.2, §4.6, §3.7 "Transaction-related messages"):
    nothing but BootNotification goes out until one is Accepted (Pending/Rejected retry at
    the interval given). One CALL at a time: the durable queue of transaction messages
    (Start/Stop/MeterValues, in order, with their original timestamps) goes first, then
    other calls, then a Heartbeat once nothing has been sent for HeartbeatInterval. The order
    and the one CALL in flight: `Outbox`; what an answer, an error, a timeout or a lost link
    means for a queued message: `TxQueue`.
    """

    def __init__(
        self,
        *,
        store: Store,
        boot_payload: Mapping[str, Any],
        connector_ids: Iterable[int],
        boot_id: str,
        new_id: Callable[[], str],
        now: float,
        sources: Mapping[str, int] | None = None,
        electrical: Electrical | None = None,
        call_timeout: float = 30.0,
        firmware_management: bool = False,
    ) -> None:
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
        self.firmware_management = firmware_management
        profiles = (
            PROFILES | {FeatureProfile.FIRMWARE_MANAGEMENT} if firmware_management else (PROFILES)
        )
        self.settings = Settings(profiles, len(ids), store.load_config())
        self.clock = WallClock()
        self.session = Session(
            "ocpp1.6", call_timeout=call_timeout, unvalidated_actions=TX_ACTIONS
        )  # answers checked by TxQueue
        self.registration = "None"  # RegistrationStatus once a BootNotification is answered
        self._commands: list[Command] = []
        self._frames: list[str] = []
        self.outbox = Outbox(
            store,
            self._retry_policy,
            self._queued_answered,
            ready=lambda: self.clock.is_set,
            held=lambda: self.charging.readings.holds_queue(),
        )
        self._boot_at = now
        self._started_at = now
        self._last_sent = now
        # opens relays, stops PowerLoss transactions
        self.charging = ChargerModel(
            self,
            store,
            ids,
            now,
            sources=sources,
            electrical=electrical,
            reserve_connector_zero=(self.settings.get_bool("ReserveConnectorZeroSupported")),
        )
        self.firmware = FirmwareManagement(
            self, store, self.charging, boot_id=boot_id, boot_payload=self.boot_payload
        )
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
        self.outbox.disconnected(now)
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
        times = [
            self.session.next_deadline(),
            self.charging.next_deadline(),
            self.firmware.next_deadline(),
        ]
        if self.session.is_connected and not self.outbox.busy:
            if self.registration != "Accepted":
                times.append(self._boot_at)
            else:
                times.append(self.outbox.deadline())
                interval = self.settings.get_int("HeartbeatInterval")
                if interval > 0:
                    times.append(self._last_sent + interval)
        return min((t for t in times if t is not None), default=None)

    # -- the model's Host (ports.Host) and the handlers' Adapter ---------------------------------
    @property
    def online(self) -> bool:
        """Connected and accepted: requests to the central system can be answered now."""
        return self.session.is_connected and self.registration == "Accepted"

    @property
    def clock_offset_s(self) -> float | None:
        return self.clock.offset_s

    @property
    def next_boot_at(self) -> float:
        """Monotonic time of the next BootNotification while not Accepted (§4.2)."""
        return self._boot_at

    def command(self, cmd: Command) -> None:
        self._commands.append(cmd)

    def request(
        self,
        action: str,
        payload: dict[str, Any],
        on_answer: OnAnswer | None = None,
        *,
        triggered: bool = False,
    ) -> None:
        """Send a CALL that is not a transaction message, after the queue (dropped offline).

        `triggered`: requested by TriggerMessage, so it is sent at once even while the
        registration is Pending (§4.2 "unless ... instructed ... with a TriggerMessage.req")."""
        self.outbox.request(action, payload, on_answer, triggered=triggered)

    def trigger_boot(self, now: float) -> None:
        """TriggerMessage(BootNotification) while not Accepted: send it now (§4.2)."""
        self._boot_at = now

    def heartbeat_answered(self) -> OnAnswer:
        """What a Heartbeat's answer does: its currentTime sets the clock (§4.6)."""
        return self._set_clock

    def save_settings(self) -> None:
        self.store.save_config(self.settings.writable_values())

    def wall(self, mono: float | None) -> float | None:
        """Wall seconds for monotonic `mono` (None: the latest known), or None if unknown."""
        if not self.clock.is_set:
            return None
        return self.clock.wall(mono if mono is not None else self._last_now)

    # -- the pump -----------------------------------------------------------------------------
    def _after(self, now: float) -> None:
        self._last_now = now
        events = self.session.drain_events()
        bad = [e for e in events if isinstance(e, BadFrame)]
        for event in events:
            messages16.log_refused(event)
            if isinstance(event, CallReceived):
                self._incoming(event, now)
            elif isinstance(event, CallAnswered | CallErrored | CallFailed):
                self._answered(event, now, bad)
            elif isinstance(event, UnexpectedResponse):
                self.outbox.late(event, now)
        self.charging.tick(now)
        self.firmware.tick(now)
        self._report_statuses(now)
        self.clock.settle(in_transaction=self.charging.in_transaction())  # a held step, if any
        self._pump(now)
        self._frames += [o.text for o in self.session.drain_frames()]

    def _incoming(self, event: CallReceived, now: float) -> None:
        if self.registration == "Rejected":
            # §4.2: "While Rejected, the Charge Point SHALL NOT respond to any Central System
            # initiated message" (until the retry interval has passed and a new boot is due).
            _log.info(
                "%s from the central system left unanswered: registration Rejected (OCPP 1.6 §4.2)",
                event.action,
            )
            return
        try:
            payload = handlers.handle(self, event.action, event.payload, now)
        except OcppError as exc:
            self.session.answer_error(event.message_id, exc, now)
            return
        except Exception as exc:  # a bug of ours must not take the charge point down
            _log.exception("handler for %s failed", event.action)
            self.session.answer_error(
                event.message_id, InternalError(f"{event.action} failed: {type(exc).__name__}"), now
            )
            return
        self.session.answer(event.message_id, payload, now)
        handlers.after_answer(self, event.action, event.payload, payload, now)

    def _send(self, item: Item, now: float) -> None:
        mid = self._new_id()
        self.outbox.sent(mid, item)
        self._last_sent = now
        self.session.call(mid, item.action, item.payload, now)

    def _pump(self, now: float) -> None:
        while self.session.is_connected and not self.outbox.busy:
            if self.registration != "Accepted":
                if now >= self._boot_at:
                    self._send(Direct("BootNotification", self.boot_payload, self._booted), now)
                    continue
                triggered = (
                    self.outbox.take_triggered() if (self.registration == "Pending") else None
                )
                if triggered is not None:  # §4.2: sent at once while Pending
                    self._send(triggered, now)
                    self._after_send(now)
                    continue
                return
            item = self.outbox.next(now)
            if item is not None:
                self._send(item, now)
            elif (interval := self.settings.get_int("HeartbeatInterval")) > 0 and (
                now >= self._last_sent + interval
            ):
                self._send(Direct("Heartbeat", {}, self._set_clock), now)
            else:
                return
            self._after_send(now)

    def _after_send(self, now: float) -> None:
        for event in self.session.drain_events():  # an invalid payload fails at once
            messages16.log_refused(event)
            if isinstance(event, CallFailed):
                self._answered(event, now, [])

    def _answered(
        self, event: CallAnswered | CallErrored | CallFailed, now: float, bad: list[BadFrame]
    ) -> None:
        self.outbox.answered(event, now, bad)

    def _retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            self.settings.get_int("TransactionMessageAttempts"),
            self.settings.get_int("TransactionMessageRetryInterval"),
        )

    def _queued_answered(
        self,
        item: QueuedMessage,
        answer: dict[str, Any] | None,
        now: float,
        transaction_id: int | None,
    ) -> None:
        self.charging.transaction_answered(
            item.local_tx,
            item.action == "StartTransaction",
            transaction_id,
            item.payload.get("idTag"),
            messages16.id_tag_info(answer),
            item.payload.get("meterStart"),
            now,
        )

    def _booted(self, answer: dict[str, Any] | None, now: float) -> None:
        if answer is None:
            self._boot_at = now + BOOT_RETRY_S
            _log.info("BootNotification got no answer; retrying in %.0f s", BOOT_RETRY_S)
            return
        self._set_clock(answer, now)
        self.registration = answer["status"]
        interval = int(answer["interval"])
        if self.registration == "Accepted":
            if interval > 0:
                self.settings.change("HeartbeatInterval", str(interval))
            self._last_sent = now
            _log.info(
                "BootNotification Accepted (interval %d): heartbeat every %d s",
                interval,
                self.settings.get_int("HeartbeatInterval"),
            )
            self.charging.registered(now)
        else:
            retry = interval if interval > 0 else BOOT_RETRY_S  # §4.2: 0 = our choice
            self._boot_at = now + retry
            _log.info(
                "BootNotification %s (interval %d): next BootNotification in %.0f s; "
                "nothing else is sent until Accepted (OCPP 1.6 §4.2)",
                self.registration,
                interval,
                retry,
            )

    def _set_clock(self, answer: dict[str, Any] | None, now: float) -> None:
        if answer is None or "currentTime" not in answer:
            return
        first = not self.clock.is_set
        # WallClock: a step is held while a transaction is open (time only moves forward
        # within a transaction; OCPP 1.6 §4.2/§4.6 only recommend synchronising)
        self.clock.set(
            from_wire(answer["currentTime"]), now, in_transaction=self.charging.in_transaction()
        )
        if first and self.clock.offset_s is not None:
            # earlier boots' monotonic clocks are gone: stamp their messages when this run
            # began, no later than anything this run queued (its PowerLoss stops included)
            self.store.backdate(
                self.boot_id, self.clock.offset_s, others_at=self.clock.wall(self._started_at)
            )

    def _report_statuses(self, now: float) -> None:
        """Due StatusNotifications go out only while accepted, or triggered while Pending
        (§4.2); MinimumStatusDuration holds back short-lived states (§9.1)."""
        pending = self.session.is_connected and self.registration == "Pending"
        if not self.online and not pending:
            return
        minimum = self.settings.get_int("MinimumStatusDuration")
        for report in self.charging.status_reports(now, minimum, requested_only=pending):
            payload = messages16.status_notification(report, self.wall(report.since))
            self.request("StatusNotification", payload, triggered=pending)
