"""The faults in force on one connector, one per device (source), newest last."""

from __future__ import annotations

from collections.abc import Iterator

from cpagent.chargepoint.connector import ChargePointErrorCode, Connector, Trigger
from hw.events import DeviceFaulted


class Faults:
    """Each device of a connector (relay feedback, meter, EVSE controller, state store)
    faults and recovers under its own source, so one recovering never clears another's
    fault: the connector stays Faulted while any is in force (OCPP 1.6 §4.9, I-row).

    Where several are in force, the newest is the one reported (§7.6: the StatusNotification
    carries one errorCode); when it recovers, the newest of the rest is reported again.
    Iterating gives the sources (for status output)."""

    __slots__ = ("_by_source",)

    def __init__(self) -> None:
        self._by_source: dict[str, DeviceFaulted] = {}

    def add(self, fault: DeviceFaulted) -> None:
        self._by_source.pop(fault.source, None)  # a new code from the same device: newest
        self._by_source[fault.source] = fault

    def discard(self, source: str) -> bool:
        """Forget `source`'s fault; True if it had one."""
        return self._by_source.pop(source, None) is not None

    def in_force(self) -> DeviceFaulted | None:
        """The fault to report: the newest one still in force (None: none)."""
        return next(reversed(self._by_source.values()), None)

    def __bool__(self) -> bool:
        return bool(self._by_source)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_source)

    def __contains__(self, source: object) -> bool:
        return source in self._by_source


def report_fault(
    c: Connector, fault: DeviceFaulted, now: float, *, unless_reported: bool = False
) -> None:
    """Move `c` to Faulted with `fault`'s errorCode, info and vendorErrorCode (§4.9 X9,
    Faulted -> Faulted for a new code); `unless_reported`: not if that is what it reports."""
    code = ChargePointErrorCode(fault.code)
    info, vendor = fault.detail[:50] or None, fault.vendor_code[:50] or None
    if unless_reported and (c.error_code, c.info, c.vendor_error_code) == (code, info, vendor):
        return
    c.apply(Trigger.FAULT, now, code, info=info, vendor_error_code=vendor)
