"""Session: a chargepoint/central-system pair over an in-memory link, with an injected clock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cpagent.core import (
    BadFrame,
    CallAnswered,
    CallError,
    CallErrored,
    CallFailed,
    CallReceived,
    CallRejected,
    CallResult,
    CallTimeout,
    ConnectionLost,
    DuplicateMessageId,
    FormationViolation,
    FormatViolation,
    GenericError,
    InternalError,
    InvalidPayload,
    InvalidResponse,
    LocalError,
    NotConnected,
    ResultErrorReceived,
    SendFailed,
    SendReceived,
    Session,
    UnexpectedResponse,
    UnknownMessageId,
    UnsupportedVersion,
)

from .payloads import (
    BOOT_REQUEST,
    BOOT_RESPONSE,
    FORMAT_CODE,
    HEARTBEAT_RESPONSE,
    OCCURRENCE_CODE,
    RPC_CODE,
    VERSIONS,
)


class Pair:
    """A chargepoint Session and a central-system Session joined by an in-memory link."""

    def __init__(self, version: str, **options: Any) -> None:
        self.now = 0.0
        self.cp = Session(version, **options)
        self.cs = Session(version, **options)
        self.cp.connected(self.now)
        self.cs.connected(self.now)
        self.wire: list[str] = []  # every text that crossed the link, in order

    def flush(self) -> tuple[list[Any], list[Any]]:
        """Carry frames both ways until quiet; return (chargepoint events, central events)."""
        cp_events: list[Any] = []
        cs_events: list[Any] = []
        while True:
            moved = False
            for src, dst in ((self.cp, self.cs), (self.cs, self.cp)):
                for out in src.drain_frames():
                    self.wire.append(out.text)
                    dst.receive(out.text, self.now)
                    moved = True
            cp_events += self.cp.drain_events()
            cs_events += self.cs.drain_events()
            if not moved:
                return cp_events, cs_events


def sent(session: Session) -> list[list[Any]]:
    return [json.loads(out.text) for out in session.drain_frames()]


def connected(version: str = "ocpp1.6", **options: Any) -> Session:
    session = Session(version, **options)
    session.connected(0.0)
    return session


@pytest.mark.parametrize("version", VERSIONS)
def test_round_trip_through_a_pair(version: str) -> None:
    pair = Pair(version)
    pair.cp.call("m1", "BootNotification", BOOT_REQUEST[version], pair.now)
    _, cs_events = pair.flush()
    assert cs_events == [CallReceived("m1", "BootNotification", BOOT_REQUEST[version])]
    pair.cs.answer("m1", BOOT_RESPONSE, pair.now)
    cp_events, _ = pair.flush()
    assert cp_events == [CallAnswered("m1", "BootNotification", BOOT_RESPONSE)]
    assert pair.cp.next_deadline() is None


def test_roles_are_symmetric_central_system_calls_chargepoint() -> None:
    pair = Pair("ocpp1.6")
    pair.cs.call("c1", "Reset", {"type": "Soft"}, pair.now)
    cp_events, _ = pair.flush()
    assert cp_events == [CallReceived("c1", "Reset", {"type": "Soft"})]
    pair.cp.answer("c1", {"status": "Accepted"}, pair.now)
    _, cs_events = pair.flush()
    assert cs_events == [CallAnswered("c1", "Reset", {"status": "Accepted"})]


def test_one_call_in_flight_others_queue_in_order() -> None:
    s = connected()
    for i in range(3):
        s.call(f"m{i}", "Heartbeat", {}, 0.0)
    assert sent(s) == [[2, "m0", "Heartbeat", {}]]
    s.receive(json.dumps([3, "m0", HEARTBEAT_RESPONSE]), 1.0)
    assert sent(s) == [[2, "m1", "Heartbeat", {}]]
    s.receive(json.dumps([4, "m1", "InternalError", "boom", {}]), 2.0)
    assert sent(s) == [[2, "m2", "Heartbeat", {}]]
    events = s.drain_events()
    assert events == [
        CallAnswered("m0", "Heartbeat", HEARTBEAT_RESPONSE),
        CallErrored("m1", "Heartbeat", InternalError("boom")),
    ]


def test_call_timeout_fails_the_call_and_moves_the_queue() -> None:
    s = connected(call_timeout=30.0)
    s.call("a", "Heartbeat", {}, 100.0)
    s.call("b", "Heartbeat", {}, 101.0)
    assert s.next_deadline() == 130.0
    s.tick(129.9)
    assert s.drain_events() == []
    s.tick(130.0)
    events = s.drain_events()
    assert len(events) == 1 and isinstance(events[0], CallFailed)
    assert events[0].message_id == "a" and isinstance(events[0].error, CallTimeout)
    assert sent(s) == [[2, "a", "Heartbeat", {}], [2, "b", "Heartbeat", {}]]
    assert s.next_deadline() == 160.0
    # The late answer to "a" is reported, never matched to "b".
    s.receive(json.dumps([3, "a", HEARTBEAT_RESPONSE]), 131.0)
    assert s.drain_events() == [UnexpectedResponse(CallResult("a", HEARTBEAT_RESPONSE))]


def test_every_input_fires_a_due_timeout_first() -> None:
    s = connected(call_timeout=5.0)
    s.call("a", "Heartbeat", {}, 0.0)
    s.receive(json.dumps([3, "a", HEARTBEAT_RESPONSE]), 5.0)  # answer arrives too late
    kinds = [type(e) for e in s.drain_events()]
    assert kinds == [CallFailed, UnexpectedResponse]


def test_calls_made_offline_go_out_after_connected() -> None:
    s = Session(None)
    s.call("a", "Heartbeat", {}, 0.0)
    s.call("b", "Heartbeat", {}, 0.0)
    assert s.drain_frames() == [] and s.next_deadline() is None and not s.is_connected
    s.connected(10.0, "ocpp2.0.1")
    assert s.version == "ocpp2.0.1" and s.is_connected
    assert sent(s) == [[2, "a", "Heartbeat", {}]]
    assert s.next_deadline() == 40.0


def test_disconnect_fails_the_call_in_flight_and_holds_the_queue() -> None:
    s = connected()
    s.call("a", "Heartbeat", {}, 0.0)
    s.call("b", "Heartbeat", {}, 0.0)
    s.drain_frames()
    s.disconnected(1.0)
    s.disconnected(1.5)  # a second loss report is harmless
    (event,) = s.drain_events()
    assert isinstance(event, CallFailed) and isinstance(event.error, ConnectionLost)
    assert s.next_deadline() is None and s.drain_frames() == []
    s.connected(2.0)
    assert sent(s) == [[2, "b", "Heartbeat", {}]]


def test_answers_for_calls_from_a_lost_connection_are_dropped() -> None:
    s = connected()
    s.receive('[2,"in1","Heartbeat",{}]', 0.0)
    s.receive('[2,"in2","Heartbeat",{}]', 0.0)
    s.disconnected(1.0)
    s.connected(2.0)
    s.answer("in1", HEARTBEAT_RESPONSE, 3.0)  # dropped, not sent on the new connection
    s.answer_error("in2", InternalError(), 3.0)
    assert s.drain_frames() == []
    with pytest.raises(UnknownMessageId):
        s.answer("in1", HEARTBEAT_RESPONSE, 3.0)


def test_a_second_answer_is_a_clear_local_error() -> None:
    s = connected()
    s.receive('[2,"in1","Heartbeat",{}]', 0.0)
    s.answer("in1", HEARTBEAT_RESPONSE, 0.0)
    with pytest.raises(UnknownMessageId, match="already answered or never received"):
        s.answer("in1", HEARTBEAT_RESPONSE, 0.0)
    with pytest.raises(UnknownMessageId):
        s.answer_error("in1", InternalError(), 0.0)
    assert sent(s) == [[3, "in1", HEARTBEAT_RESPONSE]]


@pytest.mark.parametrize(
    ("version", "code"),
    [
        ("ocpp1.6", "ProtocolError"),
        ("ocpp2.0.1", "RpcFrameworkError"),
        ("ocpp2.1", "RpcFrameworkError"),
    ],
)
def test_reused_incoming_id_while_in_progress(version: str, code: str) -> None:
    s = connected(version)
    s.receive('[2,"dup","Heartbeat",{}]', 0.0)
    s.receive('[2,"dup","Heartbeat",{}]', 0.0)
    frames = sent(s)
    assert frames == [[4, "dup", code, "message id reused while in progress", {}]]
    events = s.drain_events()
    assert isinstance(events[1], CallRejected) and events[1].error.code == code
    s.answer("dup", HEARTBEAT_RESPONSE, 0.0)  # the first CALL is still answerable
    assert sent(s) == [[3, "dup", HEARTBEAT_RESPONSE]]
    s.receive('[2,"dup","Heartbeat",{}]', 0.0)  # reuse after completion is fine
    assert isinstance(s.drain_events()[-1], CallReceived)


def test_outgoing_id_reuse_and_bad_arguments_raise() -> None:
    s = connected()
    s.call("a", "Heartbeat", {}, 0.0)
    s.call("b", "Heartbeat", {}, 0.0)
    for mid in ("a", "b"):
        with pytest.raises(DuplicateMessageId):
            s.call(mid, "Heartbeat", {}, 0.0)
    with pytest.raises(ValueError, match="1..36"):
        s.call("x" * 37, "Heartbeat", {}, 0.0)
    with pytest.raises(ValueError, match="1..36"):
        s.call("", "Heartbeat", {}, 0.0)
    with pytest.raises(ValueError, match="action"):
        s.call("c", "", {}, 0.0)
    with pytest.raises(TypeError):
        s.call("c", "Heartbeat", [], 0.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidPayload, match="not JSON"):
        s.call("c", "Heartbeat", {"x": object()}, 0.0)
    with pytest.raises(ValueError):
        Session("ocpp1.6", call_timeout=0)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("garbage", None),
        ('{"a":1}', None),
        ("[]", None),
        ('[2,7,"Heartbeat",{}]', None),
        ('["2","x","Heartbeat",{}]', "rpc"),
        ('[2,"x","Heartbeat",[]]', "format"),
        ('[2,"x","Heartbeat"]', "rpc"),
        ('[2,"' + "i" * 37 + '","Heartbeat",{}]', "rpc"),
        ('[3,"x",1]', None),
        ('[4,"x"]', None),
    ],
)
def test_bad_input_is_answered_or_reported_never_raised(
    version: str, text: str, answer: str | None
) -> None:
    s = connected(version)
    s.receive(text, 0.0)
    (event,) = s.drain_events()
    assert isinstance(event, BadFrame) and event.text == text
    assert event.answered is (answer is not None)
    frames = sent(s)
    if answer is None:
        assert frames == []
    else:
        code = {"rpc": RPC_CODE, "format": FORMAT_CODE}[answer][version]
        assert [(f[0], f[2]) for f in frames] == [(4, code)]
        assert frames[0][1] == json.loads(text)[1]


@pytest.mark.parametrize(
    ("version", "answered"),
    [
        ("ocpp1.6", False),
        ("ocpp2.0.1", True),
        ("ocpp2.1", True),
    ],
)
def test_unknown_message_type(version: str, answered: bool) -> None:
    s = connected(version)
    s.receive('[9,"x","Heartbeat",{}]', 0.0)
    frames = sent(s)
    assert frames == (
        [[4, "x", "MessageTypeNotSupported", "message type 9 is not supported in " + version, {}]]
        if answered
        else []
    )


def _station(**fields: Any) -> dict[str, Any]:
    return {"reason": "PowerUp", "chargingStation": {"model": "m", "vendorName": "v", **fields}}


SCHEMA_FAULTS = [
    (
        {"chargePointVendor": 5, "chargePointModel": "m"},
        _station(vendorName=5),
        "TypeConstraintViolation",
    ),
    (
        {"chargePointVendor": "v"},
        {"chargingStation": {"model": "m", "vendorName": "v"}},
        "occurrence",
    ),
    (
        {"chargePointVendor": "v" * 21, "chargePointModel": "m"},
        _station(vendorName="v" * 51),
        "PropertyConstraintViolation",
    ),
    (
        {"chargePointVendor": "v", "chargePointModel": "m", "extra": 1},
        {**_station(), "extra": 1},
        "format",
    ),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("payload16", "payload2", "kind"), SCHEMA_FAULTS)
def test_schema_failures_get_the_matching_error_code(
    version: str, payload16: dict[str, Any], payload2: dict[str, Any], kind: str
) -> None:
    payload = payload16 if version == "ocpp1.6" else payload2
    s = connected(version)
    s.receive(json.dumps([2, "b1", "BootNotification", payload]), 0.0)
    code = {"occurrence": OCCURRENCE_CODE[version], "format": FORMAT_CODE[version]}.get(kind, kind)
    (frame,) = sent(s)
    assert frame[:3] == [4, "b1", code]
    (event,) = s.drain_events()
    assert isinstance(event, CallRejected) and event.error.code == code


@pytest.mark.parametrize(
    "action",
    ["valueOf", "__class__", "__proto__", "constructor", "../../etc/passwd", "toString", ""],
)
def test_odd_action_names_are_just_unknown_actions(action: str) -> None:
    s = connected()
    s.receive(json.dumps([2, "q", action, {}]), 0.0)
    assert s.drain_events() == [CallReceived("q", action, {})]


def test_validation_can_be_off_or_skipped_per_action() -> None:
    bad = {"chargePointVendor": 5}
    for s in (connected(validate=False), connected(unvalidated_actions=["BootNotification"])):
        s.receive(json.dumps([2, "b", "BootNotification", bad]), 0.0)
        assert s.drain_events() == [CallReceived("b", "BootNotification", bad)]
        s.answer("b", {"anything": True}, 0.0)
        assert sent(s) == [[3, "b", {"anything": True}]]


def test_invalid_outgoing_call_fails_and_the_queue_moves_on() -> None:
    s = connected()
    s.call("bad", "BootNotification", {"chargePointVendor": 1}, 0.0)
    s.call("ok", "Heartbeat", {}, 0.0)
    (event,) = s.drain_events()
    assert isinstance(event, CallFailed) and isinstance(event.error, InvalidPayload)
    assert event.error.error is not None
    assert event.error.error.code == "OccurenceConstraintViolation"
    assert sent(s) == [[2, "ok", "Heartbeat", {}]]


def test_invalid_answer_raises_and_leaves_the_call_answerable() -> None:
    s = connected()
    s.receive('[2,"h","Heartbeat",{}]', 0.0)
    with pytest.raises(InvalidPayload, match="schema"):
        s.answer("h", {"currentTime": 5}, 0.0)
    unchecked = connected(validate=False)
    unchecked.receive('[2,"h","Heartbeat",{}]', 0.0)
    with pytest.raises(InvalidPayload, match="not JSON"):
        unchecked.answer("h", {"x": object()}, 0.0)
    with pytest.raises(TypeError):
        s.answer("h", None, 0.0)  # type: ignore[arg-type]
    assert s.drain_frames() == []
    s.answer_error("h", InternalError("sorry", {"k": 1}), 0.0)
    assert sent(s) == [[4, "h", "InternalError", "sorry", {"k": 1}]]


@pytest.mark.parametrize(
    ("version", "error"),
    [
        ("ocpp1.6", FormatViolation("x")),
        ("ocpp2.0.1", FormationViolation("x")),
        ("ocpp2.1", ValueError("not an OCPP error")),
    ],
)
def test_answer_error_refuses_codes_foreign_to_the_version(version: str, error: Any) -> None:
    s = connected(version)
    s.receive('[2,"h","Heartbeat",{}]', 0.0)
    with pytest.raises(ValueError, match="not an OCPP error code"):
        s.answer_error("h", error, 0.0)


def test_received_callerror_is_typed_and_unknown_codes_become_generic() -> None:
    s = connected()
    s.call("a", "Heartbeat", {}, 0.0)
    s.receive('[4,"a","Weird","text",{"d":1}]', 0.0)
    (event,) = s.drain_events()
    assert isinstance(event, CallErrored) and event.error == GenericError("Weird: text", {"d": 1})
    s.receive('[4,"zzz","InternalError","",{}]', 0.0)
    assert s.drain_events() == [UnexpectedResponse(CallError("zzz", "InternalError", "", {}))]


@pytest.mark.parametrize(
    ("version", "tells_peer"),
    [
        ("ocpp1.6", False),
        ("ocpp2.0.1", False),
        ("ocpp2.1", True),
    ],
)
def test_invalid_callresult_fails_the_call(version: str, tells_peer: bool) -> None:
    s = connected(version)
    s.call("a", "Heartbeat", {}, 0.0)
    s.drain_frames()
    s.receive('[3,"a",{"currentTime":42}]', 0.0)
    (event,) = s.drain_events()
    assert isinstance(event, CallFailed) and isinstance(event.error, InvalidResponse)
    assert event.error.error is not None
    assert event.error.error.code == "TypeConstraintViolation"
    frames = sent(s)
    assert frames == (
        [[5, "a", "TypeConstraintViolation", "data.currentTime: type", {}]] if tells_peer else []
    )


@pytest.mark.parametrize(("text", "result_error"), [('[3,"a",[]]', True), ('[4,"a"]', False)])
def test_malformed_answer_ends_the_call_now(text: str, result_error: bool) -> None:
    s = connected("ocpp2.1")
    s.call("a", "Heartbeat", {}, 0.0)
    s.call("b", "Heartbeat", {}, 0.0)
    s.drain_frames()
    s.receive(text, 1.0)
    kinds = [type(e) for e in s.drain_events()]
    assert kinds == [CallFailed, BadFrame]
    frames = sent(s)
    assert [f[0] for f in frames] == ([5, 2] if result_error else [2])
    assert frames[-1][1] == "b"


def test_ocpp21_send_both_ways() -> None:
    pair = Pair("ocpp2.1")
    payload = {"requestId": 1, "tbc": False, "seqNo": 0, "generatedAt": "2026-11-30T00:00:00Z"}
    pair.cp.send("s1", "NotifyCustomerInformation", {**payload, "data": "x"}, pair.now)
    _, cs_events = pair.flush()
    assert cs_events == [SendReceived("s1", "NotifyCustomerInformation", {**payload, "data": "x"})]
    assert pair.wire == [
        '[6,"s1","NotifyCustomerInformation",'
        + json.dumps({**payload, "data": "x"}, separators=(",", ":"))
        + "]"
    ]
    with pytest.raises(InvalidPayload):
        pair.cp.send("s2", "NotifyCustomerInformation", {}, pair.now)
    # An invalid SEND from the peer is reported but never answered (OCPP-J 2.1 §4.2.5).
    pair.cs.receive('[6,"s3","NotifyCustomerInformation",{}]', pair.now)
    (event,) = pair.cs.drain_events()
    assert isinstance(event, BadFrame) and not event.answered
    assert pair.cs.drain_frames() == []


def test_send_needs_21_and_a_connection() -> None:
    with pytest.raises(LocalError, match="only in OCPP 2.1"):
        connected("ocpp2.0.1").send("s", "X", {}, 0.0)
    s = Session("ocpp2.1")
    with pytest.raises(NotConnected):
        s.send("s", "X", {}, 0.0)


def test_callresulterror_from_peer_is_reported() -> None:
    s = connected("ocpp2.1")
    s.receive('[5,"r","FormatViolation","bad",{}]', 0.0)
    (event,) = s.drain_events()
    assert isinstance(event, ResultErrorReceived) and event.frame.code == "FormatViolation"


def test_version_rules() -> None:
    with pytest.raises(UnsupportedVersion):
        Session("ocpp1.6j")
    with pytest.raises(UnsupportedVersion, match="no OCPP version"):
        Session(None).connected(0.0)
    s = connected("ocpp1.6")
    with pytest.raises(LocalError, match="cannot switch version"):
        s.connected(0.0, "ocpp2.0.1")
    with pytest.raises(LocalError, match="illegal transition"):
        s.connected(0.0)
    s.disconnected(0.0)
    s.connected(0.0, "ocpp2.1")  # a reconnect may negotiate another subprotocol
    assert s.version == "ocpp2.1"


def test_receive_while_disconnected_is_local_misuse() -> None:
    with pytest.raises(NotConnected):
        Session("ocpp1.6").receive('[2,"a","Heartbeat",{}]', 0.0)


def test_fail_call_ends_only_the_call_in_flight() -> None:
    s = connected()
    s.call("a", "Heartbeat", {}, 0.0)
    s.call("b", "Heartbeat", {}, 0.0)
    s.drain_frames()
    assert s.fail_call("b", SendFailed("x"), 0.0) is False
    assert s.fail_call("a", SendFailed("x"), 0.0) is True
    (event,) = s.drain_events()
    assert isinstance(event, CallFailed) and isinstance(event.error, SendFailed)
    assert sent(s) == [[2, "b", "Heartbeat", {}]]


def test_hostile_numbers_and_ids_are_answered_never_raised() -> None:
    s = connected()
    s.receive(
        '[2,"p1","SetChargingProfile",{"connectorId":1,"csChargingProfiles":{'
        '"chargingProfileId":7,"stackLevel":0,"chargingProfilePurpose":"TxDefaultProfile",'
        '"chargingProfileKind":"Absolute","chargingSchedule":{"chargingRateUnit":"A",'
        '"chargingSchedulePeriod":[{"startPeriod":0,"limit":1e999}]}}}]',
        0.0,
    )
    s.receive('[2,"a\\ud800","Reset",{"type":"Soft"}]', 0.0)
    s.answer("a\ud800", {"status": "Accepted"}, 0.0)
    first, second = s.drain_frames()
    assert json.loads(first.text)[:3] == [4, "p1", "PropertyConstraintViolation"]
    second.text.encode("utf-8")
    assert json.loads(second.text) == [3, "a\ud800", {"status": "Accepted"}]
