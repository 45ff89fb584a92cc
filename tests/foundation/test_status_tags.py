"""`cpagent status` shows card ids as ****1234 unless --show-tags (text, --json and --watch)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpagent.cli import main
from cpagent.daemon.control import ControlServer
from cpagent.daemon.events import ControlRequest

STATUS: dict[str, Any] = {
    "ok": True,
    "chargepoint": "CP1",
    "application": "chargepoint",
    "connection": "connected",
    "queue_depth": 0,
    "last_card": "04A1B2C3D4",
    "connectors": [
        {
            "id": 1,
            "status": "Charging",
            "relay": True,
            "plugged": True,
            "fault": None,
            "meter": {"energy_wh": 10.0, "power_w": 7000.0},
            "transaction": {"id": 17, "id_tag": "AABBCCDDEE", "local_id": 1},
        },
        {
            "id": 2,
            "status": "Available",
            "relay": False,
            "plugged": False,
            "fault": None,
            "meter": None,
            "transaction": None,
        },
    ],
}


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[Path]:
    def answer(event: object) -> None:
        assert isinstance(event, ControlRequest)
        event.reply.set_result(STATUS)

    path = tmp_path / "ctl.sock"
    server = ControlServer(path, answer)
    server.start()
    yield path
    server.stop()


@pytest.mark.parametrize("extra", [[], ["--json"], ["--watch", "--count", "1"]])
def test_status_masks_card_ids(
    socket_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    assert main(["status", "--socket", str(socket_path), *extra]) == 0
    out = capsys.readouterr().out
    assert "AABBCCDDEE" not in out and "04A1B2C3D4" not in out
    assert "****DDEE" in out
    if extra != []:  # the one-line view shows no last card
        assert "****C3D4" in out


def test_show_tags_shows_them_in_full(
    socket_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--socket", str(socket_path), "--json", "--show-tags"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["connectors"][0]["transaction"]["id_tag"] == "AABBCCDDEE"
    assert answer["last_card"] == "04A1B2C3D4"
