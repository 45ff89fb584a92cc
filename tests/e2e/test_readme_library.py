"""README's "Using the core as a library" example, run as written against a real central system."""

# The code is taken from README.md at test time, so the documented example cannot drift from
# what works: the seed's (ocpp-task-manager) chargepoint simulator on cpagent.core, over
# websocket-client, against the public `ocpp` package's central system on loopback.

from __future__ import annotations

import re
import socket
import threading
from pathlib import Path
from typing import Any

from ocpp.v16 import call

from tests.support.central_system import CentralSystem
from tests.support.net import wait_until

README = Path(__file__).resolve().parents[2] / "README.md"
PLACEHOLDER = "ws://127.0.0.1:9000/ocpp/CP001"
WAIT = 10.0


def readme_example() -> str:
    """The first python block of README's "Using the core as a library" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Using the core as a library\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "README lost its library example"
    return match.group(1)


def test_the_readme_example_registers_heartbeats_and_answers_reset() -> None:
    code = readme_example()
    assert code.count(PLACEHOLDER) == 1
    with CentralSystem(heartbeat_interval=1) as csms:
        namespace: dict[str, Any] = {"__name__": "readme_example"}
        source = code.replace(PLACEHOLDER, f"{csms.url}/CP001")
        runner = threading.Thread(
            target=exec, args=(compile(source, "README", "exec"), namespace), daemon=True
        )
        runner.start()
        try:
            csms.wait_connected("CP001", WAIT)
            # BootNotification.conf Accepted with interval 1: the example's loop heartbeats
            wait_until(
                lambda: csms.actions("CP001").count("Heartbeat") >= 2,
                WAIT,
                "two Heartbeats after an accepted BootNotification",
            )
            assert csms.actions("CP001")[0] == "BootNotification"
            assert csms.call("CP001", call.Reset(type="Hard")).status == "Accepted"
            assert csms.call("CP001", call.Reset(type="Soft")).status == "Rejected"
            # the link drops (a shutdown wakes run_forever's select, a close from this
            # thread may not): on_close runs, run_forever returns, the heartbeats stop
            namespace["ws"].sock.sock.shutdown(socket.SHUT_RDWR)
            runner.join(WAIT)
        finally:
            if runner.is_alive():
                namespace["ws"].close()
                runner.join(WAIT)
        assert not runner.is_alive()
        assert namespace["stopped"].is_set()
        namespace["device"].close()
