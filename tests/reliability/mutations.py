"""Hostile OCPP-J 1.6 frames: structure-aware mutations of valid frames and exotic texts."""

from __future__ import annotations

import json
import random
from typing import Any

# Valid OCPP 1.6 CALLs a central system sends to a chargepoint (OCPP 1.6 §5), with the
# answer a well-behaved chargepoint gives. The mutations below start from these.
CSMS_CALLS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "RemoteStartTransaction": ({"connectorId": 1, "idTag": "04A1B2C3D4"}, {"status": "Accepted"}),
    "RemoteStopTransaction": ({"transactionId": 42}, {"status": "Accepted"}),
    "ChangeConfiguration": ({"key": "HeartbeatInterval", "value": "300"}, {"status": "Accepted"}),
    "GetConfiguration": ({"key": ["HeartbeatInterval"]}, {"configurationKey": []}),
    "Reset": ({"type": "Soft"}, {"status": "Accepted"}),
    "UnlockConnector": ({"connectorId": 1}, {"status": "Unlocked"}),
    "ChangeAvailability": ({"connectorId": 0, "type": "Inoperative"}, {"status": "Accepted"}),
    "TriggerMessage": (
        {"requestedMessage": "StatusNotification", "connectorId": 1},
        {"status": "Accepted"},
    ),
    "DataTransfer": (
        {"vendorId": "cpagent", "messageId": "x", "data": "y"},
        {"status": "Accepted"},
    ),
    "SetChargingProfile": (
        {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 7,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "startSchedule": "2026-11-30T00:00:00Z",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
                },
            },
        },
        {"status": "Accepted"},
    ),
    "ReserveNow": (
        {
            "connectorId": 1,
            "expiryDate": "2026-11-30T01:00:00Z",
            "idTag": "04A1B2C3D4",
            "reservationId": 3,
        },
        {"status": "Accepted"},
    ),
    "SendLocalList": (
        {
            "listVersion": 2,
            "updateType": "Full",
            "localAuthorizationList": [
                {"idTag": "04A1B2C3D4", "idTagInfo": {"status": "Accepted"}}
            ],
        },
        {"status": "Accepted"},
    ),
}
# Chargepoint -> central system (OCPP 1.6 §4), answered by the central system side.
CP_CALLS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "Heartbeat": ({}, {"currentTime": "2026-11-30T00:00:00Z"}),
    "Authorize": ({"idTag": "04A1B2C3D4"}, {"idTagInfo": {"status": "Accepted"}}),
    "StatusNotification": ({"connectorId": 1, "errorCode": "NoError", "status": "Available"}, {}),
}

# Replacement values that break types, ranges and parsers in different ways.
_HOSTILE_VALUES: tuple[Any, ...] = (
    None,
    True,
    -1,
    0,
    2**31,
    10**30,
    -(10**30),
    1e308,
    -0.0,
    3.5,
    "",
    "x" * 5000,
    "\x00",
    "ü" * 36,
    "\ud800",
    "\udfff",
    [],
    {},
    [[[[[]]]]],
    {"": {"": {}}},
    "2026-13-45T99:99:99Z",
)
# Ids around the 36-character limit (OCPP-J 1.6 §4.1.4), multi-byte, control and surrogates.
_HOSTILE_IDS: tuple[Any, ...] = (
    "",
    "i" * 35,
    "i" * 36,
    "i" * 37,
    "ü" * 36,
    "ü" * 37,
    "\x00",
    " ",
    "\u2028",
    "\ud800",
    "a\udc00b",
    7,
    7.5,
    None,
    [],
    {},
    True,
    "é" * 36,
)
_LITERALS = (
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "1" * 5000,
    "1" * 4300,
    "0.0000000000000000000000000000001",
    "-0",
    "1E+400",
    "1.5e-400",
)
_SPICE = ("\ufeff", "\x00", "\ud800", "\udc00", "\u2028", "\\", '"', ",", "]", "}", " ")


def frame(message_id: Any, action: str, payload: Any) -> list[Any]:
    return [2, message_id, action, payload]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside `node` (dict keys and list indexes)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, prefix + (index,))
    return found


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replace(node[path[0]], path[1:], value)
    return copy


def _delete(node: Any, path: tuple[Any, ...]) -> Any:
    if len(path) == 1:
        copy = dict(node) if isinstance(node, dict) else list(node)
        del copy[path[0]]
        return copy
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _delete(node[path[0]], path[1:])
    return copy


def mutate_payload(rng: random.Random, payload: dict[str, Any]) -> Any:
    """A structure-aware change to one node of a valid payload."""
    paths = _paths(payload)
    path = rng.choice(paths)
    op = rng.randrange(5)
    if op == 0 or not path:
        return _replace(payload, path, rng.choice(_HOSTILE_VALUES))
    if op == 1:
        return _delete(payload, path)
    if op == 2:  # an unknown sibling key (additionalProperties: false in every 1.6 schema)
        parent = _paths(payload)[0] if len(path) == 1 else path[:-1]
        target = payload
        for step in parent:
            target = target[step]
        if isinstance(target, dict):
            return _replace(payload, parent, {**target, "vendorExtra": rng.choice(_HOSTILE_VALUES)})
        return _delete(payload, path)
    if op == 3:  # wrong nesting: wrap the value in a list or an object
        value = payload
        for step in path:
            value = value[step]
        return _replace(payload, path, [value] if rng.random() < 0.5 else {"v": value})
    deep: Any = "bottom"
    for _ in range(rng.choice((10, 100, 500))):
        deep = [deep] if rng.random() < 0.5 else {"d": deep}
    return _replace(payload, path, deep)


def textual(rng: random.Random, text: str) -> str:
    """Damage the JSON text itself: literals JSON forbids, duplicate keys, BOMs, surrogates."""
    op = rng.randrange(7)
    if op == 0:  # a number literal JSON does not have, or one too big for the parser
        spot = text.rfind(":")
        if spot < 0:
            return text + rng.choice(_LITERALS)
        end = spot + 1
        while end < len(text) and text[end] not in ",}]":
            end += 1
        return text[: spot + 1] + rng.choice(_LITERALS) + text[end:]
    if op == 1:  # duplicate key: the first object gets one of its keys twice
        brace = text.find("{", 3)
        close = text.find("}", brace)
        if brace < 0 or close < 0 or close == brace + 1:
            return text.replace("{}", '{"a":1,"a":2}', 1)
        members = text[brace + 1 : close]
        return text[: brace + 1] + members + "," + members.split(",")[0] + text[close:]
    if op == 2:
        return "\ufeff" + text
    if op == 3:  # a lone surrogate, raw or as a JSON escape, inside a string
        quote = text.find('"', rng.randrange(len(text)))
        if quote < 0:
            quote = text.find('"')
        surrogate = rng.choice(("\ud800", "\udfff", "\\ud800", "\\udc00x", "\\uZZZZ"))
        return text[: quote + 1] + surrogate + text[quote + 1 :]
    if op == 4:  # trailing or leading junk
        return rng.choice(("", " ", "\n")) + text + rng.choice((" ", "\n", ",", "]", "\x00", "x"))
    if op == 5:  # deep nesting around the frame, beyond any sane depth
        depth = rng.choice((50, 1000, 100_000))
        return "[" * depth + text + "]" * rng.choice((depth, depth - 1))
    pos = rng.randrange(len(text) + 1)
    return text[:pos] + rng.choice(_SPICE) + text[pos:]


def hostile_text(rng: random.Random, message_id: str, action: str, payload: dict[str, Any]) -> str:
    """One hostile variant of the valid CALL ``[2, message_id, action, payload]``."""
    kind = rng.randrange(10)
    if kind < 4:
        body = json.dumps(frame(message_id, action, mutate_payload(rng, payload)))
    elif kind == 4:
        body = json.dumps(frame(rng.choice(_HOSTILE_IDS), action, payload))
    elif kind == 5:
        body = json.dumps(
            frame(
                message_id,
                rng.choice(
                    (
                        "",
                        "valueOf",
                        "__proto__",
                        "constructor",
                        "__class__",
                        "x" * 1000,
                        "\ud800",
                        action.lower(),
                        action + " ",
                    )
                ),
                payload,
            )
        )
    elif kind == 6:  # wrong message type or arity
        msg: list[Any] = frame(message_id, action, payload)
        msg[0] = rng.choice((0, 1, 3, 4, 5, 6, 7, -2, 2**64, 2.0, "2", None, True))
        if rng.random() < 0.5:
            msg = msg[: rng.randrange(4)] if rng.random() < 0.5 else msg + [{}]
        body = json.dumps(msg)
    else:
        body = textual(rng, json.dumps(frame(message_id, action, payload)))
    return body if rng.random() < 0.7 else textual(rng, body)
