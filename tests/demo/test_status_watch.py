"""`cpagent status --watch` against a real daemon, on a pipe and on a terminal, and without one."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from cpagent.commands.status import render_watch

from .conftest import ROOT, Daemon, LineReader, cli_env, run_cli, start_cli, stop, wait_until

CLEAR_HOME = "\x1b[H\x1b[2J"


def test_watch_into_a_pipe_prints_one_block_per_refresh(daemon: Daemon) -> None:
    result = run_cli(
        "status", "--watch", "--interval", "0.1", "--count", "2", "--socket", str(daemon.socket)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("cpagent TEST-1 (chargepoint)") == 2, result.stdout
    assert "\nlast error: CSMS link" in result.stdout and "\n\ncpagent TEST-1" in result.stdout
    assert CLEAR_HOME not in result.stdout
    for needle in (
        "CSMS: disconnected",
        "conn status",
        "transaction messages waiting",
        "last error: CSMS link",
    ):
        assert needle in result.stdout, result.stdout
    rows = [line for line in result.stdout.splitlines() if line[:2] in ("1 ", "2 ")]
    assert len(rows) == 4 and all("open" in row and "out" in row for row in rows), rows


def test_watch_shows_what_changes_between_refreshes(daemon: Daemon) -> None:
    watch = start_cli("status", "--watch", "--interval", "0.1", "--config", str(daemon.config))
    try:
        reader = LineReader(watch.stdout)
        reader.wait_for("conn status")
        assert run_cli("ctl", "--socket", str(daemon.socket), "plug", "2").returncode == 0
        row = reader.wait_for("2    Preparing")
        assert " in " in row
    finally:
        watch.send_signal(signal.SIGINT)  # Ctrl-C
        assert watch.wait(10) == 0
        stop(watch)


def test_watch_on_a_terminal_clears_and_redraws(daemon: Daemon) -> None:
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cpagent",
                "status",
                "--watch",
                "--interval",
                "0.1",
                "--count",
                "2",
                "--socket",
                str(daemon.socket),
            ],
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=subprocess.PIPE,
            env=cli_env(),
            cwd=ROOT,
        )
        os.close(slave)
        slave = -1
        output = b""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert proc.wait(10) == 0
        assert proc.stderr is not None
        proc.stderr.close()
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    text = output.decode()
    assert text.count(CLEAR_HOME) == 2 and text.count("cpagent TEST-1") == 2, text


def test_watch_without_a_daemon_exits_69_with_one_line(tmp_path: object) -> None:
    result = run_cli("status", "--watch", "--socket", "/nonexistent/ctl.sock")
    assert result.returncode == 69
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "cpagent: cpagent is not running (no control socket at /nonexistent/ctl.sock)"
    ]


def test_a_daemon_going_away_is_shown_and_the_view_keeps_trying(daemon: Daemon) -> None:
    watch = start_cli("status", "--watch", "--interval", "0.1", "--socket", str(daemon.socket))
    try:
        reader = LineReader(watch.stdout)
        reader.wait_for("conn status")
        assert stop(daemon.proc) == 0
        notice = reader.wait_for("is not running")
        assert "retrying every 0.1 s" in notice
        assert watch.poll() is None  # still watching
        watch.send_signal(signal.SIGINT)
        wait_until(lambda: watch.poll() is not None, what="watch to end on Ctrl-C")
        assert watch.returncode == 0
    finally:
        stop(watch)


CHARGING = {
    "ok": True,
    "application": "chargepoint",
    "chargepoint": "CP-9",
    "connection": "connected",
    "subprotocol": "ocpp1.6",
    "registration": "Accepted",
    "queue_depth": 0,
    "queued_messages": 2,
    "last_card": "ABC",
    "last_error": None,
    "connectors": [
        {
            "id": 1,
            "status": "Charging",
            "relay": True,
            "plugged": True,
            "fault": None,
            "limit_a": 10.0,
            "transaction": {"id": 42, "id_tag": "ABC", "local_id": "x"},
            "meter": {"energy_wh": 1234.56, "power_w": 2300.4},
        },
        {
            "id": 2,
            "status": "Faulted",
            "relay": False,
            "plugged": None,
            "fault": "PowerMeterFailure",
            "limit_a": None,
            "transaction": None,
            "meter": None,
        },
    ],
}
BENCH_APP = {
    "ok": True,
    "application": "bench",
    "chargepoint": "B-1",
    "connection": "disconnected",
    "subprotocol": None,
    "queue_depth": 3,
    "last_error": "CSMS link: refused",
    "connectors": [
        {
            "id": 1,
            "status": "Available",
            "relay": False,
            "plugged": False,
            "fault": None,
            "transaction": None,
            "meter": {"energy_wh": 0.0, "power_w": 0.0},
        }
    ],
}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            CHARGING,
            [
                "cpagent CP-9 (chargepoint)",
                "CSMS: connected (ocpp1.6), registration accepted",
                "1    Charging       closed in    -            -     2300     1234.6     10.0  "
                "42 for ABC",
                "2    Faulted        open   -     -            -        -          -        -  -  "
                "FAULT PowerMeterFailure",
                "transaction messages waiting for the CSMS: 2, last card ABC",
                "last error: -",
            ],
        ),
        (
            BENCH_APP,
            [
                "cpagent B-1 (bench)",
                "CSMS: disconnected",
                "1    Available      open   out   -            -        0        0.0        -  -",
                "queue depth: 3",
                "last error: CSMS link: refused",
            ],
        ),
        ({"ok": True}, ["cpagent ? (?)", "CSMS: ?", "queue depth: ?", "last error: -"]),
    ],
)
def test_the_view_shows_each_fact_in_its_place(status: dict[str, Any], expected: list[str]) -> None:
    lines = render_watch(status, 1.0).splitlines()
    for want in expected:
        assert any(line.rstrip() == want.rstrip() or line.startswith(want) for line in lines), (
            want,
            lines,
        )
