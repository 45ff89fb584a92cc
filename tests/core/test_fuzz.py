"""Fuzz: random and mutated frames never escape, and every readable CALL gets one answer."""

from __future__ import annotations

import itertools
import json
import random
import re
from typing import Any

import pytest

from cpagent.core import AlreadyAnswered, InvalidPayload, Responder, TaskManager

from .payloads import BOOT_REQUEST, BOOT_RESPONSE, HEARTBEAT_RESPONSE, VERSIONS

FRAMES = 100_000  # per run, spread over the three versions (--long: ten times more)
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")
ALPHABET = '[]{}",:0123456789-.eEtrufalsn \\/ü' + "\x00"


def _reject(name: str) -> Any:
    raise ValueError(name)


def oracle(text: str) -> tuple[Any, str | None]:
    """(message type, readable id) of a text, judged independently of the decoder."""
    try:
        msg = json.loads(text, parse_constant=_reject)
    except (ValueError, RecursionError):
        return None, None
    if type(msg) is not list or len(msg) < 2 or type(msg[1]) is not str:
        return None, None
    return msg[0], msg[1]


def seeds(version: str) -> list[str]:
    boot = json.dumps(BOOT_REQUEST[version])
    return [
        '[2,"{id}","Heartbeat",{{}}]',
        '[2,"{id}","BootNotification",' + boot.replace("{", "{{").replace("}", "}}") + "]",
        '[2,"{id}","Authorize",{{"idTag":"ABC"}}]',
        '[2,"{id}","DataTransfer",{{"vendorId":"v"}}]',
        '[2,"{id}","Reset",{{"type":"Soft"}}]',
        '[2,"{id}","SetChargingProfile",{{"connectorId":1,"csChargingProfiles":{{'
        '"chargingProfileId":7,"stackLevel":0,"chargingProfilePurpose":"TxDefaultProfile",'
        '"chargingProfileKind":"Absolute","chargingSchedule":{{"chargingRateUnit":"A",'
        '"chargingSchedulePeriod":[{{"startPeriod":0,"limit":6.0}}]}}}}}}]',
        '[2,"{id}","valueOf",{{}}]',
        '[2,"{id}","__class__",{{}}]',
        '[3,"{id}",{{"currentTime":"2026-11-30T00:00:00Z"}}]',
        '[4,"{id}","InternalError","x",{{}}]',
        '[5,"{id}","FormatViolation","x",{{}}]',
        '[6,"{id}","NotifyCustomerInformation",{{"data":"d","seqNo":0,'
        '"generatedAt":"2026-11-30T00:00:00Z","requestId":1}}]',
    ]


def random_json(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(9 if depth < 3 else 6)
    if pick == 0:
        return None
    if pick == 1:
        return rng.random() < 0.5
    if pick == 2:
        return rng.randrange(-3, 9)
    if pick == 3:
        return rng.random() * 10
    if pick == 4:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 40)))
    if pick == 5:
        return "x" * rng.choice((0, 1, 36, 37, 100))
    if pick == 6:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(0, 6))]
    return {str(rng.randrange(5)): random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def mutate(rng: random.Random, text: str) -> str:
    choice = rng.randrange(10)
    if choice < 4:  # character-level damage
        chars = list(text)
        for _ in range(rng.randrange(1, 4)):
            pos = rng.randrange(len(chars) + 1)
            op = rng.randrange(3)
            if op == 0 and chars:
                del chars[min(pos, len(chars) - 1)]
            elif op == 1:
                chars.insert(pos, rng.choice(ALPHABET))
            elif chars:
                chars[min(pos, len(chars) - 1)] = rng.choice(ALPHABET)
        return "".join(chars)
    if choice == 4:
        numbers = list(NUMBER.finditer(text))
        if numbers and rng.random() < 0.5:  # out-of-range numbers: inf, or past the int limit
            hit = rng.choice(numbers)
            huge = rng.choice(["1e999", "-1e999", "9" * 5000])
            return text[: hit.start()] + huge + text[hit.end() :]
        return text[: rng.randrange(len(text) + 1)]
    if choice < 9:  # structural damage to a well-formed frame
        msg = json.loads(text)
        op = rng.randrange(5)
        index = rng.randrange(len(msg))
        if op == 0:
            msg[index] = random_json(rng)
        elif op == 1:
            msg.append(random_json(rng))
        elif op == 2:
            del msg[index]
        elif op == 3:
            msg[0] = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 99, -1, True, "2", 2.0, None])
        else:
            msg[1] = rng.choice(["", "i" * 36, "i" * 37, 7, None, ["a"], "ü", "a\ud800"])
        return json.dumps(msg)
    return json.dumps(random_json(rng)) if rng.random() < 0.7 else str(random_json(rng))


def handlers() -> dict[str, Any]:
    def heartbeat(_p: dict[str, Any], r: Responder) -> None:
        r.call_result(HEARTBEAT_RESPONSE)

    def boot(_p: dict[str, Any], r: Responder) -> None:
        r.call_result(BOOT_RESPONSE)

    def crash(_p: dict[str, Any], _r: Responder) -> None:
        raise RuntimeError("handler bug")

    def invalid(_p: dict[str, Any], r: Responder) -> None:
        r.call_result({"status": 12})

    def twice(_p: dict[str, Any], r: Responder) -> None:
        r.call_result({"status": "Accepted"})
        r.call_result({"status": "Accepted"})

    return {
        "Heartbeat": heartbeat,
        "BootNotification": boot,
        "Authorize": crash,
        "DataTransfer": invalid,
        "Reset": twice,
    }


def run(version: str, frames: int, seed: int) -> int:
    rng = random.Random(seed)
    sent: list[str] = []
    errors: list[BaseException] = []
    ids = itertools.count()
    manager = TaskManager(
        lambda text, _v: sent.append(text),
        handlers(),
        clock=lambda: 0.0,
        new_id=lambda: f"own{next(ids)}",
        on_error=errors.append,
    )
    manager.connected(version)
    templates = seeds(version)
    calls = 0
    for n in range(frames):
        if n % 997 == 0:  # keep a CALL of our own in flight so responses can match it
            manager.send_call("Heartbeat", {})
        text = rng.choice(templates).format(id=f"f{n}")
        if rng.random() < 0.8:
            text = mutate(rng, text)
        sent.clear()
        manager.received(text)  # must never raise
        for out in sent:
            out.encode("utf-8")  # every frame must be sendable on a UTF-8 text channel
        mtype, mid = oracle(text)
        answers = [json.loads(s) for s in sent if json.loads(s)[0] in (3, 4)]
        others = [json.loads(s)[0] for s in sent if json.loads(s)[0] not in (3, 4)]
        assert all(kind == 2 or (kind == 5 and version == "ocpp2.1") for kind in others), text
        if mtype == 2 and type(mtype) is int:
            calls += 1
            assert [a[1] for a in answers] == [mid], text
        elif type(mtype) is int and mtype in (3, 4, 5, 6):
            assert answers == [] or (mtype in (5, 6) and version != "ocpp2.1"), text
        else:
            assert [a[1] for a in answers] in ([], [mid]), text
    assert {type(e) for e in errors} <= {RuntimeError, InvalidPayload, AlreadyAnswered}
    return calls


@pytest.mark.parametrize("version", VERSIONS)
def test_fuzzed_frames_never_escape_and_calls_get_one_answer(version: str, long_form: bool) -> None:
    frames = FRAMES * (10 if long_form else 1) // len(VERSIONS) + 1
    calls = run(version, frames, seed=VERSIONS.index(version))
    assert calls > frames // 5  # the mix really contains many readable CALLs
