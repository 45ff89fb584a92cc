"""Framing: compact encode, strict decode, and the answer each bad frame deserves per version."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpagent.core import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    FrameError,
    MessageType,
    Send,
    decode,
    encode,
)

from .payloads import FORMAT_CODE, RPC_CODE, VERSIONS

GOOD = [
    ('[2,"1","Heartbeat",{}]', Call("1", "Heartbeat", {})),
    ('[3,"1",{"currentTime":"x"}]', CallResult("1", {"currentTime": "x"})),
    ('[4,"1","NotSupported","no",{"a":[1]}]', CallError("1", "NotSupported", "no", {"a": [1]})),
    ('[2,"ü","Ä",{"k":"€"}]', Call("ü", "Ä", {"k": "€"})),
]
GOOD_21 = [
    ('[5,"1","FormatViolation","bad",{}]', CallResultError("1", "FormatViolation", "bad", {})),
    ('[6,"9","NotifyCustomerInformation",{}]', Send("9", "NotifyCustomerInformation", {})),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("text", "frame"), GOOD)
def test_good_frames_decode_and_encode_compactly(version: str, text: str, frame: Any) -> None:
    assert decode(text, version) == frame
    assert encode(frame) == text  # compact separators, UTF-8 kept as is


@pytest.mark.parametrize(("text", "frame"), GOOD_21)
def test_ocpp21_types_5_and_6(text: str, frame: Any) -> None:
    assert decode(text, "ocpp2.1") == frame
    assert encode(frame) == text


def test_message_type_numbers() -> None:
    assert [int(t) for t in MessageType] == [2, 3, 4, 5, 6]


def test_bytes_input_is_utf8() -> None:
    assert decode('[2,"1","Ä",{}]'.encode(), "ocpp1.6") == Call("1", "Ä", {})


def test_encode_refuses_non_frames_and_non_json() -> None:
    with pytest.raises(TypeError):
        encode("[2]")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        encode(CallResult("1", {"x": float("nan")}))
    with pytest.raises(TypeError):
        encode(CallResult("1", {"x": object()}))
    circular: dict[str, Any] = {}
    circular["me"] = circular
    with pytest.raises(ValueError, match="too deeply or circular"):
        encode(CallResult("1", circular))


@pytest.mark.parametrize("text", [' [2,"1","A",{}]', '[2,"1","A",{}]\n', '\t[3,"1",{}] '])
def test_surrounding_whitespace_is_allowed(text: str) -> None:
    assert decode(text, "ocpp1.6").message_id == "1"


LONG = "a" * 37
# (text, message id the answer must carry or None, code per version: "rpc"/"format"/...)
BAD = [
    ("not json", None, None),
    ("", None, None),
    ("{}", None, None),
    ('"text"', None, None),
    ("[]", None, "rpc"),
    ('[2,"x","A",{"a":NaN}]', None, None),
    ('[2,"x","A",{"a":Infinity}]', None, None),
    ("[" * 100_000, None, None),
    ('["2","x","A",{}]', "x", "rpc"),
    ('[true,"x","A",{}]', "x", "rpc"),
    ('[2.0,"x","A",{}]', "x", "rpc"),
    ('[null,"x"]', "x", "rpc"),
    ('[2,1,"A",{}]', None, None),
    ("[2]", None, None),
    ('[2,"x","A",[]]', "x", "format"),
    ('[2,"x","A",null]', "x", "format"),
    ('[2,"x",5,{}]', "x", "rpc"),
    ('[2,"x","A"]', "x", "rpc"),
    ('[2,"x","A",{},1]', "x", "rpc"),
    (f'[2,"{LONG}","A",{{}}]', LONG, "rpc"),
    ('[2,"","A",{}]', "", "rpc"),
    ('[3,"x"]', "x", None),
    ('[3,"x",[]]', "x", None),
    ('[4,"x","c","d"]', "x", None),
    ('[4,"x","c",1,{}]', "x", None),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("text", "mid", "kind"), BAD)
def test_bad_frames_raise_frame_error_with_the_right_answer(
    version: str, text: str, mid: str | None, kind: str | None
) -> None:
    with pytest.raises(FrameError) as info:
        decode(text, version)
    exc = info.value
    assert exc.message_id == mid
    expected = {"rpc": RPC_CODE, "format": FORMAT_CODE}[kind][version] if kind else None
    assert (exc.error.code if exc.error else None) == expected
    assert exc.reason


@pytest.mark.parametrize(
    ("version", "text", "code"),
    [
        # OCPP-J 1.6 §4.1.3: unknown message types are ignored, so no answer exists.
        ("ocpp1.6", '[7,"x",{}]', None),
        ("ocpp1.6", '[5,"x","c","d",{}]', None),
        ("ocpp1.6", '[6,"x","A",{}]', None),
        ("ocpp2.0.1", '[7,"x",{}]', "MessageTypeNotSupported"),
        ("ocpp2.0.1", '[5,"x","c","d",{}]', "MessageTypeNotSupported"),
        ("ocpp2.0.1", '[6,"x","A",{}]', "MessageTypeNotSupported"),
        ("ocpp2.1", '[7,"x",{}]', "MessageTypeNotSupported"),
        ("ocpp2.1", '[0,"x",{}]', "MessageTypeNotSupported"),
    ],
)
def test_unknown_message_types_per_version(version: str, text: str, code: str | None) -> None:
    with pytest.raises(FrameError) as info:
        decode(text, version)
    assert info.value.message_id == "x"
    assert (info.value.error.code if info.value.error else None) == code


@pytest.mark.parametrize(
    "text",
    ['[5,"x","c","d"]', '[6,"x","A",[]]', '[6,"x",1,{}]'],
)
def test_malformed_21_frames(text: str) -> None:
    with pytest.raises(FrameError):
        decode(text, "ocpp2.1")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
objects = st.dictionaries(st.text(), json_values, max_size=5)
ids = st.text(min_size=1, max_size=36)
frames = st.one_of(
    st.builds(Call, ids, st.text(min_size=0), objects),
    st.builds(CallResult, ids, objects),
    st.builds(CallError, ids, st.text(), st.text(), objects),
    st.builds(CallResultError, ids, st.text(), st.text(), objects),
    st.builds(Send, ids, st.text(), objects),
)


@settings(max_examples=400, deadline=None)
@given(frames)
def test_encode_decode_round_trip(frame: Any) -> None:
    text = encode(frame)
    assert decode(text, "ocpp2.1") == frame
    assert (
        json.loads(text)[0]
        == {Call: 2, CallResult: 3, CallError: 4, CallResultError: 5, Send: 6}[type(frame)]
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_a_lone_surrogate_id_is_answered_in_text_utf8_can_carry(version: str) -> None:
    with pytest.raises(FrameError) as info:
        decode('[2,"a\\ud800","A",[]]', version)
    assert info.value.message_id == "a\ud800"
    text = encode(CallError("a\ud800", "FormatViolation", "x", {"k": "ü"}))
    text.encode("utf-8")  # must not raise
    assert decode(text, version) == CallError("a\ud800", "FormatViolation", "x", {"k": "ü"})
    assert encode(CallResult("ü", {})) == '[3,"ü",{}]'  # valid UTF-8 stays unescaped


@pytest.mark.parametrize(
    ("text", "mid", "mtype", "code"),
    [
        ('[2,"a","X",{"v":1e999}]', "a", 2, "PropertyConstraintViolation"),
        ('[2,"a","X",{"v":[-1e999]}]', "a", 2, "PropertyConstraintViolation"),
        ('[3,"a",{"v":1e999}]', "a", 3, None),
        ('["2","a","X",{"v":1e999}]', "a", None, None),
        ('[2,"a","X",{"v":1e999}', None, None, None),  # also broken JSON
        ('{"v":1e999}', None, None, None),
        ("1e999", None, None, None),
    ],
)
def test_numbers_beyond_float_range_never_reach_the_application(
    text: str, mid: str | None, mtype: int | None, code: str | None
) -> None:
    with pytest.raises(FrameError) as info:
        decode(text, "ocpp2.0.1")
    exc = info.value
    assert (exc.message_id, exc.message_type) == (mid, mtype)
    assert (exc.error.code if exc.error else None) == code
    assert decode('[3,"a",{"v":1.5e3,"w":-0.25}]', "ocpp1.6") == CallResult(
        "a", {"v": 1500.0, "w": -0.25}
    )
