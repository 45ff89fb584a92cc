"""Benchmark: CALL->CALLRESULT round trips/s through cpagent.core vs the public ocpp package.

Runs a bounded workload (a time budget per measurement), stops by itself and prints the
figures last. Usage: python3 -m bench.core_rpc [--seconds 1.5]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

from cpagent.core import Session, TaskManager, Version

REQUEST = {"chargePointVendor": "cpagent", "chargePointModel": "bench-1"}
RESPONSE = {"status": "Accepted", "currentTime": "2026-11-30T00:00:00Z", "interval": 300}


def _timed(batch: Callable[[int], None], seconds: float, size: int = 500) -> float:
    """Round trips per second: median of 5 samples of ``seconds / 5`` each.

    The median of short samples is steadier than one long average on a shared 2-core machine.
    """
    batch(200)  # warm up: compile validators, fill caches
    rates = []
    for _ in range(5):
        done = 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 5:
            batch(size)
            done += size
        rates.append(done / elapsed)
    return statistics.median(rates)


def session_pair(validate: bool, seconds: float) -> float:
    """Two Sessions (chargepoint, central system) wired back to back in one thread."""
    cp = Session(Version.OCPP16, validate=validate)
    cs = Session(Version.OCPP16, validate=validate)
    clock = time.monotonic
    cp.connected(clock())
    cs.connected(clock())
    ids = itertools.count()

    def batch(n: int) -> None:
        for _ in range(n):
            now = clock()
            cp.call(str(next(ids)), "BootNotification", REQUEST, now)
            for out in cp.drain_frames():
                cs.receive(out.text, now)
            for event in cs.drain_events():
                cs.answer(event.message_id, RESPONSE, now)  # type: ignore[union-attr]
            for out in cs.drain_frames():
                cp.receive(out.text, now)
            events = cp.drain_events()
            assert len(events) == 1 and type(events[0]).__name__ == "CallAnswered", events

    return _timed(batch, seconds)


def task_manager_pair(validate: bool, seconds: float, defaults: bool = False) -> float:
    """Two TaskManagers whose senders call each other's ``received`` directly.

    ``defaults``: built as the seed's ``OCPPTaskManager({sender, callHandlers})`` is, with
    nothing else (monotonic clock, uuid ids, the timer thread; validation on).
    """
    ids = itertools.count()
    peer: dict[str, TaskManager] = {}

    def new_id() -> str:
        return str(next(ids))

    def boot(_payload: dict[str, Any], responder: Any) -> None:
        responder.call_result(RESPONSE)

    if defaults:
        cp = TaskManager(sender=lambda text, _v: peer["cs"].received(text))
        cs = TaskManager(
            sender=lambda text, _v: peer["cp"].received(text),
            call_handlers={"BootNotification": boot},
        )
    else:
        cp = TaskManager(
            lambda text, _v: peer["cs"].received(text),
            clock=time.monotonic,
            new_id=new_id,
            validate=validate,
        )
        cs = TaskManager(
            lambda text, _v: peer["cp"].received(text),
            {"BootNotification": boot},
            clock=time.monotonic,
            new_id=new_id,
            validate=validate,
        )
    peer.update(cp=cp, cs=cs)
    cp.connected("ocpp1.6")
    cs.connected("ocpp1.6")

    def batch(n: int) -> None:
        for _ in range(n):
            assert cp.send_call("BootNotification", REQUEST).result(0).ok

    return _timed(batch, seconds)


def ocpp_package_pair(seconds: float) -> float:
    """The public ``ocpp`` package: v16 ChargePoint pair over in-memory asyncio queues."""
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint, call, call_result
    from ocpp.v16.enums import Action, RegistrationStatus

    logging.getLogger("ocpp").setLevel(logging.WARNING)

    class Link:
        def __init__(self, inbox: asyncio.Queue[str], outbox: asyncio.Queue[str]) -> None:
            self.inbox, self.outbox = inbox, outbox

        async def recv(self) -> str:
            return await self.inbox.get()

        async def send(self, text: str) -> None:
            await self.outbox.put(text)

    class CentralSystem(ChargePoint):  # type: ignore[misc]
        @on(Action.boot_notification)  # type: ignore[misc]
        def on_boot(self, **_: Any) -> Any:
            return call_result.BootNotification(
                current_time=RESPONSE["currentTime"],
                interval=300,
                status=RegistrationStatus.accepted,
            )

    async def run() -> float:
        a: asyncio.Queue[str] = asyncio.Queue()
        b: asyncio.Queue[str] = asyncio.Queue()
        cp = ChargePoint("cp1", Link(a, b))
        cs = CentralSystem("cp1", Link(b, a))
        tasks = [asyncio.create_task(cp.start()), asyncio.create_task(cs.start())]
        req = call.BootNotification(charge_point_model="bench-1", charge_point_vendor="cpagent")
        for _ in range(100):
            await cp.call(req)
        rates = []
        for _ in range(5):
            done = 0
            start = time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds / 5:
                for _ in range(50):
                    await cp.call(req)
                done += 50
            rates.append(done / elapsed)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return statistics.median(rates)

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.5, help="time budget per figure")
    args = parser.parse_args()
    s = args.seconds
    figures = {
        "Session pair, validation off": session_pair(False, s),
        "Session pair, validation on": session_pair(True, s),
        "TaskManager pair, validation off": task_manager_pair(False, s),
        "TaskManager pair, validation on": task_manager_pair(True, s),
        "TaskManager pair, seed defaults (timer, uuid)": task_manager_pair(True, s, True),
        "ocpp package ChargePoint pair (validation on)": ocpp_package_pair(s),
    }
    ref = figures["ocpp package ChargePoint pair (validation on)"]
    print("CALL->CALLRESULT round trips per second (OCPP 1.6 BootNotification, one process,")
    print(f"median of 5 samples over {s:g} s per figure)")
    for name, rate in figures.items():
        print(f"  {name:<46} {rate:>10,.0f} /s")
    for name in ("Session pair, validation on", "TaskManager pair, validation on"):
        label = f"ratio {name} / ocpp"
        print(f"  {label:<46} {figures[name] / ref:>10.1f} x")


if __name__ == "__main__":
    main()
