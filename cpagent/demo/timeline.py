"""The demo's timeline: steps, OCPP frames and hardware actions, for people or as JSON lines."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO

# OCPP-J 1.6 §4.2: message type ids.
CALL, CALLRESULT, CALLERROR = 2, 3, 4
SUMMARY_LIMIT = 100


class Kind(StrEnum):
    """What a timeline line is about (the `kind` of a --json line)."""

    STEP = "step"
    FRAME = "frame"
    HARDWARE = "hardware"
    INFO = "info"
    RESULT = "result"


class Style(StrEnum):
    """ANSI SGR codes used on a terminal."""

    STEP = "1"  # bold
    UP = "36"  # cyan: chargepoint -> central system
    DOWN = "35"  # magenta: central system -> chargepoint
    HARDWARE = "33"  # yellow
    OK = "32"  # green
    FAIL = "31"  # red
    DIM = "2"


@dataclass(frozen=True, slots=True)
class Arrows:
    """Direction labels; ASCII when the output cannot encode the arrow."""

    up: str
    down: str

    @classmethod
    def for_stream(cls, stream: TextIO) -> Arrows:
        encoding = getattr(stream, "encoding", None)  # None: an in-memory text stream
        try:
            "→".encode(encoding or "utf-8")
        except (UnicodeEncodeError, LookupError):
            return cls("CP->CSMS", "CSMS->CP")
        return cls("CP→CSMS", "CSMS→CP")


def wants_colour(stream: TextIO, choice: str, environ: dict[str, str]) -> bool:
    """`--color auto` colours a terminal only, and never with NO_COLOR set (no-color.org)."""
    if choice != "auto":
        return choice == "always"
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in environ and environ.get("TERM") != "dumb"


class Timeline:
    """Prints what happens, with the time since the demo started; safe from any thread.

    `mode` is "text" (people), "json" (one JSON object per line) or "quiet" (nothing but
    `result`). Frames come from the central system's observer thread, hardware changes from
    the status monitor, steps from the main thread: one lock keeps lines whole.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        mode: str = "text",
        colour: bool = False,
        steps: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._out = stream or sys.stdout
        self._mode = mode
        self._colour = colour
        self._steps = steps
        self._clock = clock
        self._start = clock()
        self._lock = threading.Lock()
        self._arrows = Arrows.for_stream(self._out)
        self._pad = max(len(self._arrows.up), len(self._arrows.down)) + 2
        self._calls: dict[tuple[str, str], str] = {}  # (sender, message id) -> action
        self._closed = False

    @property
    def mode(self) -> str:
        return self._mode

    def elapsed(self) -> float:
        return self._clock() - self._start

    def step(self, number: int, title: str) -> None:
        self._emit(
            Kind.STEP,
            f"[{number}/{self._steps}] {title}",
            Style.STEP,
            {"step": number, "of": self._steps, "title": title},
            indent=False,
        )

    def hardware(self, text: str, **fields: Any) -> None:
        self._emit(
            Kind.HARDWARE, f"{'hw':<{self._pad}}{text}", Style.HARDWARE, {"text": text, **fields}
        )

    def info(self, text: str) -> None:
        self._emit(Kind.INFO, f"{'':<{self._pad}}{text}", Style.DIM, {"text": text})

    def frame(self, from_chargepoint: bool, text: str) -> None:
        """One OCPP-J frame as the central system saw it pass; never raises (it runs on the
        central system's owner thread, which an exception would stop)."""
        try:
            self._frame(from_chargepoint, text)
        except Exception:  # noqa: BLE001 - a display problem must not break the CSMS
            self._closed = True

    def _frame(self, from_chargepoint: bool, text: str) -> None:
        sender = "cp" if from_chargepoint else "csms"
        receiver = "csms" if from_chargepoint else "cp"
        action, summary = self._describe(sender, receiver, text)
        arrow = self._arrows.up if from_chargepoint else self._arrows.down
        style = Style.UP if from_chargepoint else Style.DOWN
        line = f"{arrow:<{self._pad}}{action}" + (f"  {summary}" if summary else "")
        self._emit(
            Kind.FRAME,
            line,
            style,
            {
                "direction": "CP->CSMS" if from_chargepoint else "CSMS->CP",
                "action": action,
                "summary": summary,
                "frame": text,
            },
        )

    def result(self, ok: bool, text: str) -> None:
        with self._lock:
            if self._mode == "json":
                self._write(
                    json.dumps(
                        {
                            "t": round(self.elapsed(), 3),
                            "kind": str(Kind.RESULT),
                            "ok": ok,
                            "text": text,
                        }
                    )
                )
            else:
                self._write(self._paint(text, Style.OK if ok else Style.FAIL))

    # -- helpers ----------------------------------------------------------------------------
    def _emit(
        self, kind: Kind, line: str, style: Style, fields: dict[str, Any], indent: bool = True
    ) -> None:
        with self._lock:
            elapsed = self.elapsed()
            if self._mode == "quiet":
                return
            if self._mode == "json":
                record = {"t": round(elapsed, 3), "kind": str(kind), **fields}
                self._write(json.dumps(record, ensure_ascii=False))
                return
            stamp = self._paint(f"+{elapsed:6.2f}s", Style.DIM)
            if not indent:
                self._write(f"{stamp} {self._paint(line, style)}")
            else:
                self._write(f"{stamp}   {self._paint(line, style)}")

    def _paint(self, text: str, style: Style) -> str:
        return f"\x1b[{style}m{text}\x1b[0m" if self._colour else text

    def _write(self, line: str) -> None:
        """Print one line; a reader that went away (`| head`) silences the rest, not the demo."""
        if self._closed:
            return
        try:
            try:
                print(line, file=self._out, flush=True)
            except UnicodeEncodeError:
                print(line.encode("ascii", "replace").decode(), file=self._out, flush=True)
        except OSError:  # BrokenPipeError, EIO on a closed terminal
            self._closed = True
            with contextlib.suppress(OSError, ValueError, AttributeError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self._out.fileno())  # so the flush at exit cannot fail
                os.close(devnull)

    def _describe(self, sender: str, receiver: str, text: str) -> tuple[str, str]:
        """(action, key fields) of a frame; answers are named after the CALL they answer."""
        try:
            message = json.loads(text)
            kind, message_id = message[0], str(message[1])
        except (ValueError, IndexError, KeyError, TypeError):
            return "(not OCPP-J)", _clip(text)
        if kind == CALL and len(message) >= 4:
            self._calls[(sender, message_id)] = str(message[2])
            return str(message[2]), summarise(str(message[2]), message[3])
        action = self._calls.pop((receiver, message_id), "?")
        if kind == CALLRESULT and len(message) >= 3:
            return f"{action}.conf", summarise(f"{action}.conf", message[2])
        if kind == CALLERROR and len(message) >= 4:
            return f"{action} CALLERROR", f"{message[2]}: {message[3]}"
        return "(unknown message type)", _clip(text)


def summarise(action: str, payload: Any) -> str:
    """The fields a person wants to see in one line, e.g. `connector 1 Preparing`."""
    if not isinstance(payload, dict):
        return _clip(json.dumps(payload))
    if action == "MeterValues":
        return _meter_values(payload)
    if action == "BootNotification":
        return f"{payload.get('chargePointVendor')}/{payload.get('chargePointModel')}"
    parts: list[str] = []
    if "connectorId" in payload:
        parts.append(f"connector {payload['connectorId']}")
    for key in (
        "status",
        "errorCode",
        "idTag",
        "transactionId",
        "meterStart",
        "meterStop",
        "reason",
        "key",
        "value",
        "interval",
        "type",
    ):
        if key in payload and not (key == "errorCode" and payload[key] == "NoError"):
            value = payload[key]
            parts.append(str(value) if key in ("status", "reason") else f"{key}={value}")
    info = payload.get("idTagInfo")
    if isinstance(info, dict) and "status" in info:
        parts.append(str(info["status"]))
    if action == "StopTransaction.conf" and not parts:
        return ""
    return " ".join(parts) if parts else (_clip(json.dumps(payload)) if payload else "")


def _meter_values(payload: dict[str, Any]) -> str:
    parts = [f"connector {payload.get('connectorId')}"]
    if "transactionId" in payload:
        parts.append(f"tx {payload['transactionId']}")
    for value in payload.get("meterValue", [])[-1:]:
        for sampled in value.get("sampledValue", []) if isinstance(value, dict) else []:
            if not isinstance(sampled, dict):
                continue
            measurand = sampled.get("measurand", "Energy.Active.Import.Register")
            label = {"Energy.Active.Import.Register": "energy", "Power.Active.Import": "power"}.get(
                measurand, measurand
            )
            parts.append(f"{label} {sampled.get('value')} {sampled.get('unit', 'Wh')}")
    return " ".join(parts)


def _clip(text: str) -> str:
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"
