"""Benchmark: Heartbeat round trips over real loopback transports, one CALL in flight.

Chargepoint on cpagent.core (TaskManager) over WebSocketTransport, and over MqttTransport ->
mosquitto -> bridge; reference: a chargepoint on the public `ocpp` package over `websockets`.
The central system is the independent `ocpp` one from tests/support in every case. Bounded
(a time budget per path), stops by itself, figures printed last.
Usage: python3 -m bench.transport_rtt [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ocpp.v16 import ChargePoint, call
from websockets.asyncio.client import connect

from cpagent.bridge import Bridge
from cpagent.core import TaskManager, Version
from cpagent.transports.base import Transport
from cpagent.transports.events import FrameReceived, TransportDown, TransportUp
from cpagent.transports.mqtt import MqttTransport
from cpagent.transports.websocket import WebSocketTransport
from tests.support.central_system import CentralSystem
from tests.support.mosquitto import Mosquitto

Result = tuple[str, int, float, list[float]]  # name, round trips, seconds, latencies (s)


def _core_over(
    make: Callable[[Callable[[object], None]], Transport], seconds: float, name: str
) -> Result:
    """Heartbeats from a cpagent TaskManager over a transport made by `make(post)`."""
    up = threading.Event()
    ids = (f"b{n}" for n in itertools.count())
    holder: list[Transport] = []

    def sender(text: str, _version: Version) -> None:
        if not holder[0].send(text):
            raise ConnectionError("transport not connected")

    manager = TaskManager(sender, clock=time.monotonic, new_id=lambda: next(ids))

    def post(event: object) -> None:
        if isinstance(event, TransportUp):
            manager.connected(event.subprotocol)
            up.set()
        elif isinstance(event, TransportDown):
            manager.disconnected()
        elif isinstance(event, FrameReceived):
            manager.received(event.text)

    transport = make(post)
    holder.append(transport)
    transport.start()
    try:
        if not up.wait(10):
            raise RuntimeError(f"{name}: link did not come up")
        for _ in range(50):  # warm up
            manager.send_call("Heartbeat", {}).result(5)
        latencies: list[float] = []
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            sent = time.perf_counter()
            outcome = manager.send_call("Heartbeat", {}).result(5)
            latencies.append(time.perf_counter() - sent)
            if not outcome.ok:
                raise RuntimeError(f"{name}: Heartbeat refused: {outcome}")
        return name, len(latencies), time.perf_counter() - start, latencies
    finally:
        transport.stop(2.0)


def _reference(url: str, seconds: float) -> Result:
    """Heartbeats from a chargepoint on the public `ocpp` package over `websockets`."""

    async def run() -> Result:
        async with connect(f"{url}/REF001", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            cp = ChargePoint("REF001", ws)
            reader = asyncio.create_task(cp.start())
            for _ in range(50):
                await cp.call(call.Heartbeat())
            latencies: list[float] = []
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                sent = time.perf_counter()
                await cp.call(call.Heartbeat())
                latencies.append(time.perf_counter() - sent)
            reader.cancel()
            return (
                "ocpp package + websockets (reference)",
                len(latencies),
                time.perf_counter() - start,
                latencies,
            )

    return asyncio.run(run())


def _line(result: Result) -> str:
    name, count, elapsed, latencies = result
    cuts = statistics.quantiles(latencies, n=100)
    return (
        f"{name:<44} {count / elapsed:8.0f} rt/s   p50 {cuts[49] * 1e3:6.2f} ms   "
        f"p99 {cuts[98] * 1e3:6.2f} ms   (n={count})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time budget per path")
    seconds = parser.parse_args().seconds
    results: list[Result] = []
    with CentralSystem() as central, tempfile.TemporaryDirectory() as tmp:
        results.append(
            _core_over(
                lambda post: WebSocketTransport(central.url, "WS001", post, ping_interval_s=0),
                seconds,
                "cpagent core + WebSocketTransport",
            )
        )
        broker = Mosquitto(Path(tmp) / "mosquitto")
        broker.start()
        bridge = Bridge(
            broker.host, broker.port, central.url, ping_interval_s=0, allow_unknown=True
        )
        bridge.start()
        try:
            results.append(
                _core_over(
                    lambda post: MqttTransport(broker.host, broker.port, "MQ001", post),
                    seconds,
                    "cpagent core + MqttTransport via bridge",
                )
            )
        finally:
            bridge.stop()
            broker.stop()
        results.append(_reference(central.url, seconds))
    print(f"Heartbeat round trips, one CALL in flight, loopback, {seconds:g} s per path")
    for result in results:
        print(_line(result))


if __name__ == "__main__":
    main()
