"""TaskManager: the seed's API over a Session, driven through an in-process pair."""

from __future__ import annotations

import gc
import itertools
import json
import threading
import time
import uuid
from concurrent.futures import Future
from typing import Any

import pytest

from cpagent.core import (
    AlreadyAnswered,
    BadFrame,
    CallTimeout,
    ConnectionLost,
    DuplicateMessageId,
    InternalError,
    InvalidPayload,
    NotConnected,
    NotSupported,
    OcppError,
    Outcome,
    Responder,
    SendFailed,
    Stage,
    TaskManager,
    UnsupportedVersion,
    Version,
)

from .payloads import BOOT_REQUEST, BOOT_RESPONSE, HEARTBEAT_RESPONSE

WAIT = 5.0  # deadline for cross-thread waits (never a sleep)


class Clock:
    """An injected monotonic clock that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ids(prefix: str) -> Any:
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter)}"


class Wire:
    """Records every frame a manager sends and optionally delivers it to a peer."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, Version]] = []
        self.peer: TaskManager | None = None
        self.fail: BaseException | None = None
        self.refuse = False

    def __call__(self, text: str, version: Version) -> bool:
        self.frames.append((text, version))
        if self.fail is not None:
            raise self.fail
        if self.refuse:
            return False
        if self.peer is not None:
            self.peer.received(text)
        return True

    def parsed(self) -> list[list[Any]]:
        return [json.loads(text) for text, _ in self.frames]


def pair(
    handlers: dict[str, Any], version: str = "ocpp1.6", **options: Any
) -> tuple[TaskManager, TaskManager, Wire, Wire, Clock]:
    clock = Clock()
    to_cs, to_cp = Wire(), Wire()
    cp = TaskManager(to_cs, clock=clock, new_id=ids("cp"), **options)
    cs = TaskManager(to_cp, handlers, clock=clock, new_id=ids("cs"), **options)
    to_cs.peer, to_cp.peer = cs, cp
    cp.connected(version)
    cs.connected(version)
    return cp, cs, to_cs, to_cp, clock


def boot(_payload: dict[str, Any], responder: Responder) -> None:
    responder.call_result(BOOT_RESPONSE)


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
def test_synchronous_handler_answers_the_call(version: str) -> None:
    cp, _, to_cs, _, _ = pair({"BootNotification": boot}, version)
    future = cp.send_call("BootNotification", BOOT_REQUEST[version])
    assert future.result(WAIT) == Outcome(True, BOOT_RESPONSE)
    assert to_cs.frames[0][1] == version


def test_handler_may_answer_later_from_another_thread() -> None:
    threads: list[threading.Thread] = []

    def later(_payload: dict[str, Any], responder: Responder) -> None:
        thread = threading.Thread(target=responder.call_result, args=(HEARTBEAT_RESPONSE,))
        threads.append(thread)
        thread.start()

    cp, _, _, _, _ = pair({"Heartbeat": later})
    futures = [cp.send_call("Heartbeat", {}) for _ in range(20)]
    assert [f.result(WAIT).payload for f in futures] == [HEARTBEAT_RESPONSE] * 20
    for thread in threads:
        thread.join(WAIT)


def test_many_threads_calling_at_once_all_get_their_answers() -> None:
    cp, _, _, _, _ = pair({"Heartbeat": lambda _p, r: r.call_result(HEARTBEAT_RESPONSE)})
    results: list[Future[Outcome]] = []
    lock = threading.Lock()

    def caller() -> None:
        for _ in range(50):
            future = cp.send_call("Heartbeat", {})
            with lock:
                results.append(future)

    workers = [threading.Thread(target=caller) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(WAIT)
    assert len(results) == 200
    assert all(f.result(WAIT).ok for f in results)


@pytest.mark.parametrize(
    ("action", "code"),
    [
        ("Heartbeat", "NotSupported"),  # a 1.6 action nobody handles
        ("FlyToTheMoon", "NotImplemented"),
        ("valueOf", "NotImplemented"),
        ("__class__", "NotImplemented"),
        ("__init__", "NotImplemented"),
    ],
)
def test_unhandled_actions(action: str, code: str) -> None:
    cp, _, _, _, _ = pair({}, validate=False)
    outcome = cp.send_call(action, {}).result(WAIT)
    assert not outcome.ok
    assert outcome.payload["code"] == code
    assert outcome.error is not None and outcome.error.code == code


def test_handler_exception_becomes_internal_error_without_its_text() -> None:
    seen: list[BaseException] = []

    def crash(_payload: dict[str, Any], _responder: Responder) -> None:
        raise RuntimeError("secret path /etc/shadow")

    cp, _, _, to_cp, _ = pair({"Heartbeat": crash}, on_error=seen.append)
    outcome = cp.send_call("Heartbeat", {}).result(WAIT)
    assert outcome == Outcome(
        False,
        {"code": "InternalError", "description": "handler failed", "details": {}},
        InternalError("handler failed"),
    )
    assert "secret" not in to_cp.frames[0][0]
    assert [str(e) for e in seen] == ["secret path /etc/shadow"]


def test_a_second_answer_raises_and_only_one_goes_out() -> None:
    refusals: list[BaseException] = []

    def twice(_payload: dict[str, Any], responder: Responder) -> None:
        responder.call_result(HEARTBEAT_RESPONSE)
        try:
            responder.call_error("InternalError")
        except AlreadyAnswered as exc:
            refusals.append(exc)
        raise ValueError("after answering")

    errors: list[BaseException] = []
    cp, _, _, to_cp, _ = pair({"Heartbeat": twice}, on_error=errors.append)
    assert cp.send_call("Heartbeat", {}).result(WAIT).ok
    assert len(to_cp.frames) == 1
    assert len(refusals) == 1 and "already answered" in str(refusals[0])
    assert [type(e) for e in errors] == [ValueError]


def test_invalid_answer_raises_in_the_handler_then_internal_error_goes_out() -> None:
    def bad(_payload: dict[str, Any], responder: Responder) -> None:
        responder.call_result({"currentTime": 1})

    errors: list[BaseException] = []
    cp, _, _, _, _ = pair({"Heartbeat": bad}, on_error=errors.append)
    outcome = cp.send_call("Heartbeat", {}).result(WAIT)
    assert outcome.payload["code"] == "InternalError"
    assert [type(e) for e in errors] == [InvalidPayload]


@pytest.mark.parametrize("code", ["SecurityError", NotSupported, NotSupported("why", {"a": 1})])
def test_call_error_accepts_a_code_a_class_or_an_instance(code: Any) -> None:
    def refuse(_payload: dict[str, Any], responder: Responder) -> None:
        responder.call_error(code, "why", {"a": 1})

    cp, _, _, _, _ = pair({"Heartbeat": refuse})
    outcome = cp.send_call("Heartbeat", {}).result(WAIT)
    expected = code if isinstance(code, str) else "NotSupported"
    assert outcome.payload == {"code": expected, "description": "why", "details": {"a": 1}}
    assert isinstance(outcome.error, OcppError)


def test_call_error_with_a_code_foreign_to_the_version_is_refused() -> None:
    problems: list[BaseException] = []

    def refuse(_payload: dict[str, Any], responder: Responder) -> None:
        try:
            responder.call_error("FormatViolation")  # 2.0.1 spelling on a 1.6 link
        except ValueError as exc:
            problems.append(exc)
            responder.call_error("FormationViolation")

    cp, _, _, _, _ = pair({"Heartbeat": refuse})
    assert cp.send_call("Heartbeat", {}).result(WAIT).payload["code"] == "FormationViolation"
    assert len(problems) == 1


def test_timeout_with_an_injected_clock() -> None:
    cp, _, to_cs, _, clock = pair({})
    to_cs.peer = None  # the central system never sees it: the answer is lost
    first = cp.send_call("Heartbeat", {})
    second = cp.send_call("Heartbeat", {})
    assert cp.next_deadline() == clock.now + 30.0
    clock.now += 29.0
    cp.tick()
    assert not first.done()
    clock.now += 1.0
    cp.tick()
    with pytest.raises(CallTimeout):
        first.result(0)
    assert not second.done() and len(to_cs.frames) == 2  # the queue moved on
    assert cp.next_deadline() == clock.now + 30.0


def test_calls_before_connected_go_out_after_it() -> None:
    clock, wire = Clock(), Wire()
    cp = TaskManager(wire, clock=clock, new_id=ids("x"))
    future = cp.send_call("Heartbeat", {})
    assert wire.frames == [] and cp.next_deadline() is None
    cp.connected("ocpp2.0.1")
    assert wire.frames == [('[2,"x1","Heartbeat",{}]', Version.OCPP201)]
    cp.received(json.dumps([3, "x1", HEARTBEAT_RESPONSE]))
    assert future.result(0).ok


def test_disconnect_fails_the_call_in_flight() -> None:
    cp, _, to_cs, _, _ = pair({})
    to_cs.peer = None
    future = cp.send_call("Heartbeat", {})
    cp.disconnected()
    with pytest.raises(ConnectionLost):
        future.result(0)


@pytest.mark.parametrize("failure", ["raise", "refuse"])
def test_failing_sender_fails_the_call_once_and_never_resends(failure: str) -> None:
    cp, _, to_cs, _, _ = pair({"Heartbeat": lambda _p, r: r.call_result(HEARTBEAT_RESPONSE)})
    if failure == "raise":
        to_cs.fail = OSError("link down")
    else:
        to_cs.refuse = True
    first = cp.send_call("Heartbeat", {})
    second = cp.send_call("Heartbeat", {})
    for future in (first, second):
        with pytest.raises(SendFailed) as info:
            future.result(0)
        if failure == "raise":
            assert isinstance(info.value.__cause__, OSError)
    assert [f[0][1] for f in ((json.loads(t),) for t, _ in to_cs.frames)] == ["cp1", "cp2"]


def test_failing_sender_for_an_answer_is_reported() -> None:
    errors: list[BaseException] = []
    cp, cs, _, to_cp, _ = pair(
        {"Heartbeat": lambda _p, r: r.call_result(HEARTBEAT_RESPONSE)}, on_error=errors.append
    )
    to_cp.fail = OSError("gone")
    future = cp.send_call("Heartbeat", {})
    assert not future.done()
    assert [type(e) for e in errors] == [SendFailed]


def test_hooks_run_before_and_after_every_stage() -> None:
    log: list[tuple[str, str, str]] = []
    cp, cs, _, _, _ = pair(
        {
            "Heartbeat": lambda _p, r: r.call_result(HEARTBEAT_RESPONSE),
            "Reset": lambda _p, r: r.call_error("NotSupported"),
        }
    )
    for stage in Stage:
        cs.before(stage, lambda st, subj: log.append(("before", st, type(subj).__name__)))
        cs.after(stage, lambda st, subj: log.append(("after", st, type(subj).__name__)))
    cp.send_call("Heartbeat", {}).result(WAIT)
    cp.send_call("Reset", {"type": "Hard"}).result(WAIT)
    cs.send_call("Heartbeat", {}).result(WAIT)
    expected_per_call = [
        ("before", "message_received", "str"),
        ("after", "message_received", "str"),
        ("before", "handler_run", "CallReceived"),
        ("after", "handler_run", "CallReceived"),
    ]
    assert log[:4] == expected_per_call
    assert log[4:6] == [("before", "result_sent", "Outgoing"), ("after", "result_sent", "Outgoing")]
    assert log[10:12] == [("before", "error_sent", "Outgoing"), ("after", "error_sent", "Outgoing")]
    # The in-process peer answers inside the sender, so the answer is received in between.
    assert log[12:] == [
        ("before", "call_sent", "Outgoing"),
        ("before", "message_received", "str"),
        ("after", "message_received", "str"),
        ("after", "call_sent", "Outgoing"),
    ]


def test_a_failing_hook_is_reported_and_changes_nothing() -> None:
    errors: list[BaseException] = []
    cp, cs, _, _, _ = pair(
        {"Heartbeat": lambda _p, r: r.call_result(HEARTBEAT_RESPONSE)}, on_error=errors.append
    )

    def broken(_stage: Stage, _subject: object) -> None:
        raise KeyError("hook bug")

    for stage in Stage:
        cs.before(stage, broken)
    assert cp.send_call("Heartbeat", {}).result(WAIT).ok
    assert len(errors) == 3 and all(isinstance(e, KeyError) for e in errors)


def test_on_event_sees_bad_frames_and_a_broken_error_reporter_is_contained() -> None:
    events: list[Any] = []

    def bad_reporter(_exc: BaseException) -> None:
        raise RuntimeError("reporter bug")

    clock, wire = Clock(), Wire()
    cs = TaskManager(
        wire,
        {"Heartbeat": lambda _p, _r: 1 / 0},
        clock=clock,
        new_id=ids("x"),
        on_event=events.append,
        on_error=bad_reporter,
    )
    cs.connected("ocpp2.0.1")
    cs.received("not json")
    cs.received('[2,"h","Heartbeat",{}]')
    assert isinstance(events[0], BadFrame) and not events[0].answered
    assert wire.parsed() == [[4, "h", "InternalError", "handler failed", {}]]


def test_local_misuse_raises() -> None:
    clock, wire = Clock(), Wire()
    tm = TaskManager(wire, clock=clock, new_id=lambda: "same")
    with pytest.raises(UnsupportedVersion):
        tm.connected("ocpp1.6j")
    with pytest.raises(NotConnected):
        tm.received('[2,"a","Heartbeat",{}]')
    tm.send_call("Heartbeat", {})
    with pytest.raises(DuplicateMessageId):
        tm.send_call("Heartbeat", {})  # the id factory repeated itself
    with pytest.raises(TypeError):
        tm.send_call("Heartbeat", "nope")  # type: ignore[arg-type]


def test_ocpp21_send_messages_both_ways() -> None:
    received: list[dict[str, Any]] = []
    clock, to_cs, to_cp = Clock(), Wire(), Wire()
    cp = TaskManager(to_cs, clock=clock, new_id=ids("cp"), validate=False)
    cs = TaskManager(
        to_cp,
        clock=clock,
        new_id=ids("cs"),
        validate=False,
        send_handlers={"Ping": received.append, "Crash": lambda _p: 1 / 0},
    )
    to_cs.peer, to_cp.peer = cs, cp
    cp.connected("ocpp2.1")
    cs.connected("ocpp2.1")
    cp.send_message("Ping", {"n": 1})
    cp.send_message("Crash", {})
    cp.send_message("Unknown", {})
    assert received == [{"n": 1}]
    assert to_cp.frames == []  # a SEND is never answered


def test_a_cancelled_future_does_not_disturb_the_manager() -> None:
    cp, _, to_cs, _, _ = pair({})
    to_cs.peer = None
    future = cp.send_call("Heartbeat", {})
    assert future.cancel()
    cp.received(json.dumps([3, "cp1", HEARTBEAT_RESPONSE]))
    nxt = cp.send_call("Heartbeat", {})
    cp.received(json.dumps([3, "cp2", HEARTBEAT_RESPONSE]))
    assert nxt.result(0).ok


def test_late_answer_after_timeout_goes_to_on_event_not_a_future() -> None:
    events: list[Any] = []
    clock, wire = Clock(), Wire()
    cp = TaskManager(wire, clock=clock, new_id=ids("x"), on_event=events.append, call_timeout=1)
    cp.connected("ocpp1.6")
    future = cp.send_call("Heartbeat", {})
    clock.now += 2
    cp.received(json.dumps([3, "x1", HEARTBEAT_RESPONSE]))
    with pytest.raises(CallTimeout):
        future.result(0)
    assert [type(e).__name__ for e in events] == ["CallFailed", "UnexpectedResponse"]


def test_a_sender_raising_base_exception_releases_the_drain() -> None:
    clock, wire = Clock(), Wire()
    tm = TaskManager(wire, clock=clock, new_id=ids("x"))
    tm.connected("ocpp1.6")
    wire.fail = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        tm.send_call("Heartbeat", {})
    wire.fail = None
    tm.disconnected()
    tm.connected("ocpp1.6")
    tm.send_call("Heartbeat", {})
    assert len(wire.frames) == 2  # draining resumed


def test_an_answer_after_the_connection_dropped_is_discarded_quietly() -> None:
    kept: list[Responder] = []
    cp, cs, _, to_cp, _ = pair(
        {"Heartbeat": lambda _p, r: kept.append(r), "Reset": lambda _p, r: kept.append(r)}
    )
    first = cp.send_call("Heartbeat", {})
    cs.disconnected()
    cp.disconnected()
    with pytest.raises(ConnectionLost):
        first.result(0)
    kept[0].call_result(HEARTBEAT_RESPONSE)  # belongs to the lost connection: dropped
    assert to_cp.frames == []
    cs.connected("ocpp1.6")
    cp.connected("ocpp1.6")
    second = cp.send_call("Reset", {"type": "Soft"})
    kept[1].call_error("NotSupported")
    assert second.result(WAIT).payload["code"] == "NotSupported"
    assert len(to_cp.frames) == 1


# -- the seed's API out of the box: TaskManager(sender=..., call_handlers=...) and nothing else --
def seed_pair(handlers: dict[str, Any], **options: Any) -> tuple[TaskManager, TaskManager, Wire]:
    """Two managers built as the seed's OCPPTaskManager({sender, callHandlers}) is."""
    to_cs, to_cp = Wire(), Wire()
    cp = TaskManager(sender=to_cs, **options)
    cs = TaskManager(sender=to_cp, call_handlers=handlers)
    to_cs.peer, to_cp.peer = cs, cp
    cp.connected("ocpp1.6")
    cs.connected("ocpp1.6")
    return cp, cs, to_cs


def test_defaults_give_monotonic_time_uuid_ids_and_a_30_s_timeout() -> None:
    cp, _, to_cs = seed_pair({"BootNotification": boot})
    before = time.monotonic()
    outcome = cp.send_call("BootNotification", BOOT_REQUEST["ocpp1.6"]).result(WAIT)
    assert outcome == Outcome(True, BOOT_RESPONSE)
    held: list[Responder] = []
    cp3, _, wire3 = seed_pair({"Heartbeat": lambda _p, r: held.append(r)})
    future = cp3.send_call("Heartbeat")  # no payload: {} as in the seed's sendCall('Heartbeat')
    deadline = cp3.next_deadline()
    assert deadline is not None and before + 30.0 <= deadline <= time.monotonic() + 30.0
    assert not future.done()
    held[0].call_result(HEARTBEAT_RESPONSE)
    assert future.result(WAIT).ok
    ids_sent = [frame[1] for frame in to_cs.parsed()] + [frame[1] for frame in wire3.parsed()]
    assert all(len(i) == 36 and str(uuid.UUID(i)) == i for i in ids_sent)
    assert wire3.parsed()[0][3] == {}
    for tm in (cp, cp3):
        tm.close()


def test_an_unanswered_call_times_out_by_itself_without_tick() -> None:
    held: list[Responder] = []
    cp, _, _ = seed_pair({"Heartbeat": lambda _p, r: held.append(r)}, call_timeout=0.2)
    first = cp.send_call("Heartbeat")
    second = cp.send_call("Heartbeat")  # queued behind the first, goes out at its timeout
    with pytest.raises(CallTimeout):
        first.result(WAIT)  # nobody calls tick(): the facade's timer does
    with pytest.raises(CallTimeout):
        second.result(WAIT)
    assert len(held) == 2
    cp.close()


def test_the_timer_thread_ends_on_close_and_with_an_abandoned_manager() -> None:
    def timer_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "ocpp-call-timer"]

    before = set(timer_threads())
    cp, cs, _ = seed_pair({"Heartbeat": lambda _p, _r: None})
    cp.send_call("Heartbeat")
    (thread,) = set(timer_threads()) - before
    cp.close()
    thread.join(WAIT)
    assert not thread.is_alive()
    cp2, cs2, wire2 = seed_pair({"Heartbeat": lambda _p, _r: None})
    cp2.send_call("Heartbeat")
    (thread2,) = set(timer_threads()) - before
    del cp2, cs2, wire2  # nobody holds the manager any more
    gc.collect()
    thread2.join(WAIT)
    assert not thread2.is_alive()


def test_an_injected_clock_means_the_caller_drives_tick() -> None:
    cp, _, _, _, clock = pair({"Heartbeat": lambda _p, _r: None})
    future = cp.send_call("Heartbeat")
    clock.now += 31
    assert not future.done()  # no thread of ours moves an injected clock's deadlines
    cp.tick()
    with pytest.raises(CallTimeout):
        future.result(0)


def test_the_catch_all_handler_serves_every_action_without_its_own() -> None:
    def catch_all(payload: dict[str, Any], responder: Responder) -> None:
        responder.call_error("NotImplemented", f"{responder.action} isn't supported yet")

    cp, _, _ = seed_pair({"*": catch_all, "BootNotification": boot})
    assert cp.send_call("BootNotification", BOOT_REQUEST["ocpp1.6"]).result(WAIT).ok
    outcome = cp.send_call("Heartbeat").result(WAIT)
    assert (outcome.ok, outcome.payload["code"], outcome.payload["description"]) == (
        False,
        "NotImplemented",
        "Heartbeat isn't supported yet",
    )
    cp.close()


def test_hooks_as_the_seed_spells_them() -> None:
    seen: list[Stage] = []
    cp, _, _ = seed_pair({"Heartbeat": lambda _p, r: r.call_result(HEARTBEAT_RESPONSE)})
    cp.hooks.before(Stage.CALL_SENT, lambda stage, _s: seen.append(stage))
    cp.hooks.after(Stage.MESSAGE_RECEIVED, lambda stage, _s: seen.append(stage))
    assert cp.send_call("Heartbeat").result(WAIT).ok
    assert seen == [Stage.CALL_SENT, Stage.MESSAGE_RECEIVED]
    cp.close()


def test_timeouts_fire_by_themselves_while_threads_call_and_some_get_answers() -> None:
    answered = itertools.count()

    def sometimes(_payload: dict[str, Any], responder: Responder) -> None:
        if next(answered) % 2:
            responder.call_result(HEARTBEAT_RESPONSE)  # every other one: never answered

    cp, _, _ = seed_pair({"Heartbeat": sometimes}, call_timeout=0.05)
    futures: list[Future[Outcome]] = []
    lock = threading.Lock()

    def caller() -> None:
        for _ in range(5):
            future = cp.send_call("Heartbeat")
            with lock:
                futures.append(future)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    outcomes = []
    for future in futures:
        try:
            outcomes.append(future.result(WAIT).ok)
        except CallTimeout:
            outcomes.append(False)
    assert len(outcomes) == 20 and outcomes.count(True) == 10
    cp.close()
