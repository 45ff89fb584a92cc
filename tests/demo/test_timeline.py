"""The demo's timeline: frame summaries, answers named after their CALL, output modes."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from cpagent.demo.timeline import Timeline, summarise, wants_colour


@pytest.mark.parametrize(
    ("action", "payload", "summary"),
    [
        ("BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}, "v/m"),
        (
            "BootNotification.conf",
            {"status": "Accepted", "interval": 300, "currentTime": "2026-11-30T00:00:00Z"},
            "Accepted interval=300",
        ),
        (
            "StatusNotification",
            {"connectorId": 1, "status": "Preparing", "errorCode": "NoError"},
            "connector 1 Preparing",
        ),
        (
            "StatusNotification",
            {"connectorId": 2, "status": "Faulted", "errorCode": "PowerMeterFailure"},
            "connector 2 Faulted errorCode=PowerMeterFailure",
        ),
        ("Authorize", {"idTag": "ABC"}, "idTag=ABC"),
        ("Authorize.conf", {"idTagInfo": {"status": "Invalid"}}, "Invalid"),
        (
            "StartTransaction.conf",
            {"transactionId": 7, "idTagInfo": {"status": "Accepted"}},
            "transactionId=7 Accepted",
        ),
        (
            "StopTransaction",
            {"transactionId": 7, "meterStop": 12, "reason": "Remote", "timestamp": "t"},
            "transactionId=7 meterStop=12 Remote",
        ),
        ("StopTransaction.conf", {}, ""),
        (
            "ChangeConfiguration",
            {"key": "MeterValueSampleInterval", "value": "1"},
            "key=MeterValueSampleInterval value=1",
        ),
        (
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": 3,
                "meterValue": [
                    {
                        "timestamp": "t",
                        "sampledValue": [
                            {
                                "value": "12.5",
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            },
                            {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
                        ],
                    }
                ],
            },
            "connector 1 tx 3 energy 12.5 Wh power 7400 W",
        ),
        ("Heartbeat", {}, ""),
        ("DataTransfer", {"vendorId": "x"}, '{"vendorId": "x"}'),
    ],
)
def test_summaries_show_the_fields_people_look_for(
    action: str, payload: dict[str, Any], summary: str
) -> None:
    assert summarise(action, payload) == summary


def _timeline(
    mode: str = "text", stream: io.StringIO | None = None, colour: bool = False
) -> tuple[Timeline, io.StringIO]:
    out = stream or io.StringIO()
    ticks = iter(float(i) for i in range(1000))
    return Timeline(out, mode=mode, colour=colour, steps=3, clock=lambda: next(ticks)), out


def test_answers_are_named_after_the_call_they_answer() -> None:
    timeline, out = _timeline()
    timeline.frame(True, '[2,"a1","Authorize",{"idTag":"T"}]')
    timeline.frame(False, '[2,"a1","RemoteStopTransaction",{"transactionId":1}]')  # same id
    timeline.frame(False, '[3,"a1",{"idTagInfo":{"status":"Accepted"}}]')
    timeline.frame(True, '[4,"a1","NotImplemented","no",{}]')
    timeline.frame(True, "garbage")
    lines = out.getvalue().splitlines()
    assert lines[2].endswith("CSMS→CP  Authorize.conf  Accepted")
    assert lines[3].endswith("CP→CSMS  RemoteStopTransaction CALLERROR  NotImplemented: no")
    assert lines[4].endswith("CP→CSMS  (not OCPP-J)  garbage")


def test_json_mode_writes_one_object_per_line() -> None:
    timeline, out = _timeline("json")
    timeline.step(1, "first")
    timeline.frame(True, '[2,"x","Heartbeat",{}]')
    timeline.hardware("relay closed", relay=True)
    timeline.result(True, "done")
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["kind"] for r in records] == ["step", "frame", "hardware", "result"]
    assert records[0]["step"] == 1 and records[0]["of"] == 3
    assert records[1]["direction"] == "CP->CSMS" and records[1]["action"] == "Heartbeat"
    assert records[2]["relay"] is True and records[3]["ok"] is True


def test_quiet_mode_prints_only_the_result() -> None:
    timeline, out = _timeline("quiet")
    timeline.step(1, "first")
    timeline.frame(True, '[2,"x","Heartbeat",{}]')
    timeline.result(False, "broken")
    assert out.getvalue() == "broken\n"


def test_ascii_output_gets_ascii_arrows() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    timeline, _ = _timeline(stream=stream)  # type: ignore[arg-type]
    timeline.frame(True, '[2,"x","Heartbeat",{}]')
    stream.flush()
    assert b"CP->CSMS  Heartbeat" in raw.getvalue()


def test_colour_wraps_lines_in_ansi_codes() -> None:
    timeline, out = _timeline(colour=True)
    timeline.step(2, "second")
    assert "\x1b[1m[2/3] second\x1b[0m" in out.getvalue()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "choice", "environ", "expected"),
    [
        (_Tty(), "auto", {}, True),
        (_Tty(), "auto", {"NO_COLOR": ""}, False),
        (_Tty(), "auto", {"TERM": "dumb"}, False),
        (io.StringIO(), "auto", {}, False),
        (io.StringIO(), "always", {}, True),
        (_Tty(), "never", {}, False),
    ],
)
def test_colour_only_on_a_terminal_unless_asked(
    stream: io.StringIO, choice: str, environ: dict[str, str], expected: bool
) -> None:
    assert wants_colour(stream, choice, environ) is expected


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_reader_going_away_silences_the_timeline_without_raising() -> None:
    timeline, _ = _timeline(stream=_ClosedPipe())
    timeline.frame(True, '[2,"x","Heartbeat",{}]')  # runs on the CSMS owner thread: no raise
    timeline.step(1, "first")
    timeline.result(True, "done")
