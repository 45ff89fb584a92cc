"""The embedded central system drives the real agent: remote start closes the relay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.csms.handlers import HandlerSettings
from cpagent.csms.server import CentralSystem

from .conftest import Daemon, run_cli, start_daemon, stop, wait_until, write_bench


@pytest.fixture
def csms() -> Iterator[CentralSystem]:
    with CentralSystem(
        port=0, settings=HandlerSettings.with_id_tags(["ABC123"]), call_timeout=10.0
    ) as central:
        yield central


@pytest.fixture
def agent(tmp_path: Path, csms: CentralSystem) -> Iterator[Daemon]:
    running = start_daemon(write_bench(tmp_path, url=f"{csms.url}/ocpp", cp_id="CP-E2E"))
    try:
        yield running
    finally:
        assert stop(running.proc) == 0


def _relay(agent: Daemon, connector: int) -> bool:
    """The relay as `cpagent status --json` reports it (a user's view)."""
    result = run_cli("status", "--json", "--socket", str(agent.socket))
    assert result.returncode == 0, result.stderr
    return bool(json.loads(result.stdout)["connectors"][connector - 1]["relay"])


def _agent_relay(agent: Daemon, connector: int) -> bool:
    status = agent.status()
    return bool(status and status["connectors"][connector - 1]["relay"])


def test_remote_start_from_the_central_system_closes_the_relay(
    csms: CentralSystem, agent: Daemon
) -> None:
    assert csms.wait_for(
        lambda v: any(c["id"] == "CP-E2E" and c["boot"] for c in v["chargepoints"]), 15
    )
    assert run_cli("ctl", "--socket", str(agent.socket), "plug", "1").returncode == 0
    answer = csms.call("CP-E2E", "RemoteStartTransaction", {"idTag": "ABC123", "connectorId": 1})
    assert answer == {"status": "Accepted"}
    wait_until(lambda: _agent_relay(agent, 1), what="relay 1 to close")
    assert _relay(agent, 1) is True and _relay(agent, 2) is False
    assert csms.wait_for(lambda v: any(t["status"] == "Active" for t in v["transactions"]), 10)

    [tx] = csms.snapshot("CP-E2E")["transactions"]
    answer = csms.call("CP-E2E", "RemoteStopTransaction", {"transactionId": tx["transactionId"]})
    assert answer == {"status": "Accepted"}
    wait_until(lambda: not _agent_relay(agent, 1), what="relay 1 to open")
    assert _relay(agent, 1) is False
    assert csms.wait_for(lambda v: v["transactions"][0]["stopReason"] == "Remote", 10)


def test_remote_start_for_an_unknown_card_leaves_the_relay_open(
    csms: CentralSystem, agent: Daemon
) -> None:
    assert csms.wait_for(
        lambda v: any(c["id"] == "CP-E2E" and c["boot"] for c in v["chargepoints"]), 15
    )
    assert run_cli("ctl", "--socket", str(agent.socket), "plug", "1").returncode == 0
    answer = csms.call("CP-E2E", "RemoteStartTransaction", {"idTag": "NOPE", "connectorId": 1})
    assert answer == {"status": "Accepted"}  # §5.11: accepted, then Authorize says Invalid
    assert csms.wait_for(
        lambda v: any(
            json.loads(f["text"])[2:3] == ["Authorize"]
            for f in v["frames"]
            if f["direction"] == "received"
        ),
        10,
    )
    assert csms.wait_for(
        lambda v: any(
            json.loads(f["text"])[0] == 3 and "Invalid" in f["text"] for f in v["frames"]
        ),
        10,
    )
    assert _relay(agent, 1) is False
    assert csms.snapshot("CP-E2E")["transactions"] == []
