"""OCPP 1.6 connector status machine and MinimumStatusDuration-aware status reporting."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ConnectorStatus(StrEnum):
    """ChargePointStatus wire strings (OCPP 1.6 §7.7)."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class ChargePointErrorCode(StrEnum):
    """ChargePointErrorCode wire strings (OCPP 1.6 §7.6)."""

    CONNECTOR_LOCK_FAILURE = "ConnectorLockFailure"
    EV_COMMUNICATION_ERROR = "EVCommunicationError"
    GROUND_FAILURE = "GroundFailure"
    HIGH_TEMPERATURE = "HighTemperature"
    INTERNAL_ERROR = "InternalError"
    LOCAL_LIST_CONFLICT = "LocalListConflict"
    NO_ERROR = "NoError"
    OTHER_ERROR = "OtherError"
    OVER_CURRENT_FAILURE = "OverCurrentFailure"
    OVER_VOLTAGE = "OverVoltage"
    POWER_METER_FAILURE = "PowerMeterFailure"
    POWER_SWITCH_FAILURE = "PowerSwitchFailure"
    READER_FAILURE = "ReaderFailure"
    RESET_FAILURE = "ResetFailure"
    UNDER_VOLTAGE = "UnderVoltage"
    WEAK_SIGNAL = "WeakSignal"


class Trigger(StrEnum):
    """What happened to a connector, named after the rows of the OCPP 1.6 §4.9 table."""

    USAGE_INITIATED = "usage initiated"  # plug in, idTag, RemoteStart, reserved idTag (A2 F2 G2)
    CHARGING = "charging"  # energy offered and drawn (A3 B3 D3 E3)
    SUSPENDED_BY_EV = "suspended by EV"  # EV does not draw (A4 B4 C4 E4)
    SUSPENDED_BY_EVSE = "suspended by EVSE"  # relay open: smart charging 0 A, invalid id (A5..D5)
    STOPPED_AWAITING_USER = "stopped, awaiting user"  # tx ended, cable still in (B6 C6 D6 E6)
    SESSION_ENDED = "session ended"  # nothing left to do (B1 C1 D1 E1 F1)
    RESERVED = "reserved"  # ReserveNow accepted (A7)
    RESERVATION_ENDED = "reservation ended"  # expired or CancelReservation (G1)
    BECOME_UNAVAILABLE = "become unavailable"  # ChangeAvailability, now or when tx ends (A8 C8..G8)
    BECOME_AVAILABLE = "become available"  # ChangeAvailability Operative (H1)
    FAULT = "fault"  # a fault prevents charging (X9)
    FAULT_CLEARED = "fault cleared"  # back to the state before the fault (I1..I8)


S = ConnectorStatus
T = Trigger

# Theory of operation: the table below is OCPP 1.6 §4.9 "Status transitions" read row by row;
# each entry cites the cell (A2 = from Available to Preparing). A connector moves only along
# these entries; anything else is a bug in the caller and raises IllegalTransition naming
# the state and the trigger. The application decides which trigger a hardware or protocol
# event means (plug in -> USAGE_INITIATED, relay closed and current drawn -> CHARGING ...).
# Omitted on purpose: H2..H5 (leaving Unavailable straight into a session) are reached as
# BECOME_AVAILABLE followed by the session's own trigger, and Faulted recovery (I1..I8)
# returns to the state held before the fault, which is remembered by Connector.
# Connector 0 (the charge point as a whole) only knows Available, Unavailable and Faulted
# (§4.9 "connectorId 0").
TRANSITIONS: dict[tuple[ConnectorStatus, Trigger], ConnectorStatus] = {
    (S.AVAILABLE, T.USAGE_INITIATED): S.PREPARING,  # A2
    (S.AVAILABLE, T.CHARGING): S.CHARGING,  # A3 (free vend)
    (S.AVAILABLE, T.SUSPENDED_BY_EV): S.SUSPENDED_EV,  # A4
    (S.AVAILABLE, T.SUSPENDED_BY_EVSE): S.SUSPENDED_EVSE,  # A5
    (S.AVAILABLE, T.RESERVED): S.RESERVED,  # A7
    (S.AVAILABLE, T.BECOME_UNAVAILABLE): S.UNAVAILABLE,  # A8
    (S.PREPARING, T.SESSION_ENDED): S.AVAILABLE,  # B1 (unplug, 2nd tap, ConnectionTimeOut)
    (S.PREPARING, T.CHARGING): S.CHARGING,  # B3
    (S.PREPARING, T.SUSPENDED_BY_EV): S.SUSPENDED_EV,  # B4
    (S.PREPARING, T.SUSPENDED_BY_EVSE): S.SUSPENDED_EVSE,  # B5
    (S.PREPARING, T.STOPPED_AWAITING_USER): S.FINISHING,  # B6
    (S.CHARGING, T.SESSION_ENDED): S.AVAILABLE,  # C1
    (S.CHARGING, T.SUSPENDED_BY_EV): S.SUSPENDED_EV,  # C4
    (S.CHARGING, T.SUSPENDED_BY_EVSE): S.SUSPENDED_EVSE,  # C5
    (S.CHARGING, T.STOPPED_AWAITING_USER): S.FINISHING,  # C6
    (S.CHARGING, T.BECOME_UNAVAILABLE): S.UNAVAILABLE,  # C8 (scheduled, as session ends)
    (S.SUSPENDED_EV, T.SESSION_ENDED): S.AVAILABLE,  # D1
    (S.SUSPENDED_EV, T.CHARGING): S.CHARGING,  # D3
    (S.SUSPENDED_EV, T.SUSPENDED_BY_EVSE): S.SUSPENDED_EVSE,  # D5
    (S.SUSPENDED_EV, T.STOPPED_AWAITING_USER): S.FINISHING,  # D6
    (S.SUSPENDED_EV, T.BECOME_UNAVAILABLE): S.UNAVAILABLE,  # D8
    (S.SUSPENDED_EVSE, T.SESSION_ENDED): S.AVAILABLE,  # E1
    (S.SUSPENDED_EVSE, T.CHARGING): S.CHARGING,  # E3
    (S.SUSPENDED_EVSE, T.SUSPENDED_BY_EV): S.SUSPENDED_EV,  # E4
    (S.SUSPENDED_EVSE, T.STOPPED_AWAITING_USER): S.FINISHING,  # E6
    (S.SUSPENDED_EVSE, T.BECOME_UNAVAILABLE): S.UNAVAILABLE,  # E8
    (S.FINISHING, T.SESSION_ENDED): S.AVAILABLE,  # F1 (cable removed)
    (S.FINISHING, T.USAGE_INITIATED): S.PREPARING,  # F2 (new idTag, new transaction)
    (S.FINISHING, T.BECOME_UNAVAILABLE): S.UNAVAILABLE,  # F8
    (S.RESERVED, T.RESERVATION_ENDED): S.AVAILABLE,  # G1
    (S.RESERVED, T.USAGE_INITIATED): S.PREPARING,  # G2
    (S.RESERVED, T.BECOME_UNAVAILABLE): S.UNAVAILABLE,  # G8
    (S.UNAVAILABLE, T.BECOME_AVAILABLE): S.AVAILABLE,  # H1
    **{(state, T.FAULT): S.FAULTED for state in S},  # A9..H9; Faulted->Faulted: new code
}

DESTINATION: dict[Trigger, ConnectorStatus] = {t: s for (_, t), s in TRANSITIONS.items()}
"""Where each trigger leads (one state per trigger; FAULT_CLEARED: back to before the fault)."""

CONNECTOR_ZERO_STATES = frozenset({S.AVAILABLE, S.UNAVAILABLE, S.FAULTED})

OCCUPIED = frozenset({S.PREPARING, S.CHARGING, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.FINISHING})
"""States in which a connector is in use (ReserveNow answers Occupied, §5.13)."""


class IllegalTransition(ValueError):
    """A trigger was applied in a state whose row in §4.9 has no such cell."""

    def __init__(self, connector_id: int, state: ConnectorStatus, trigger: Trigger) -> None:
        super().__init__(f"connector {connector_id}: no transition from {state} on {trigger}")
        self.connector_id = connector_id
        self.state = state
        self.trigger = trigger


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What a StatusNotification.req carries; `since` is the monotonic time the status began."""

    connector_id: int
    status: ConnectorStatus
    error_code: ChargePointErrorCode
    since: float
    info: str | None = None
    vendor_error_code: str | None = None

    def same_state(self, other: StatusReport | None) -> bool:
        """True when both describe the same status, code and texts (times may differ)."""
        return other is not None and (
            self.status,
            self.error_code,
            self.info,
            self.vendor_error_code,
        ) == (other.status, other.error_code, other.info, other.vendor_error_code)


@dataclass(slots=True)
class Connector:
    """One connector's status, its error code, and what to report when (MinimumStatusDuration).

    A change is reported only once it has been stable for `min_status_duration_s` seconds
    (OCPP 1.6 §9.1.19 MinimumStatusDuration); a change that flips back before then is never
    reported. `due(now)` hands out the reports to send; `next_deadline()` says when to ask.
    """

    connector_id: int
    status: ConnectorStatus = S.UNAVAILABLE
    error_code: ChargePointErrorCode = ChargePointErrorCode.NO_ERROR
    info: str | None = None
    vendor_error_code: str | None = None
    before_fault: ConnectorStatus | None = None
    since: float = 0.0
    reported: StatusReport | None = None
    _pending: StatusReport | None = field(default=None, repr=False)
    _forced: bool = field(default=False, repr=False)

    def can_apply(self, trigger: Trigger) -> bool:
        """Whether `trigger` is legal now."""
        return self._target(trigger) is not None

    def stays(self, trigger: Trigger) -> bool:
        """`trigger` leads where the connector already is: §4.9's diagonal (A1, B2, C3, D4,
        E5, F6, G7, H8) is empty, so it is no transition and nothing is reported."""
        return DESTINATION.get(trigger) is self.status and trigger is not T.FAULT

    def apply(
        self,
        trigger: Trigger,
        now: float,
        error_code: ChargePointErrorCode = ChargePointErrorCode.NO_ERROR,
        info: str | None = None,
        vendor_error_code: str | None = None,
    ) -> ConnectorStatus:
        """Move along the table at time `now`; raises IllegalTransition if there is no cell."""
        target = self._target(trigger)
        if target is None:
            raise IllegalTransition(self.connector_id, self.status, trigger)
        if trigger is T.FAULT:
            if error_code is ChargePointErrorCode.NO_ERROR:
                raise ValueError("a fault needs an error code other than NoError")
            if self.status is not S.FAULTED:
                self.before_fault = self.status
        elif trigger is T.FAULT_CLEARED:
            self.before_fault = None
        self.status = target
        self.error_code = error_code
        self.info = info
        self.vendor_error_code = vendor_error_code
        self.since = now
        self._pending = self._current(now)
        return target

    def warn(self, error_code: ChargePointErrorCode, now: float, info: str | None = None) -> None:
        """Report an error code without a status change (a warning, §4.9 errorCode note)."""
        self.error_code = error_code
        self.info = info
        self._pending = self._current(now)

    def _target(self, trigger: Trigger) -> ConnectorStatus | None:
        if trigger is T.FAULT_CLEARED:
            return self.before_fault if self.status is S.FAULTED else None
        target = TRANSITIONS.get((self.status, trigger))
        if self.connector_id == 0 and target not in CONNECTOR_ZERO_STATES:
            return None
        return target

    def _current(self, now: float) -> StatusReport:
        return StatusReport(
            self.connector_id, self.status, self.error_code, now, self.info, self.vendor_error_code
        )

    def request_report(self) -> None:
        """Report the current status at the next `due`, even if unchanged or not yet stable.

        For TriggerMessage StatusNotification and after every accepted boot (§4.2, §5.17).
        """
        self.reported = None
        self._pending = self._current(self.since)
        self._forced = True

    @property
    def report_requested(self) -> bool:
        """A report was asked for (`request_report`) and has not been handed out yet."""
        return self._forced

    def due(self, now: float, min_status_duration_s: float) -> StatusReport | None:
        """The StatusNotification to send now, if any (marks it reported)."""
        pending = self._pending
        if pending is None:
            return None
        if pending.same_state(self.reported):
            self._pending = None
            return None
        if not self._forced and now - pending.since < min_status_duration_s:
            return None
        self._pending = None
        self._forced = False
        self.reported = pending
        return pending

    def next_deadline(self, min_status_duration_s: float) -> float | None:
        """When `due` will next have something to hand out, or None."""
        pending = self._pending
        if pending is None or pending.same_state(self.reported):
            return None
        return pending.since if self._forced else pending.since + min_status_duration_s
