"""`cpagent demo` as a user runs it: the steps in order, exit codes, nothing left behind."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest

from .conftest import (
    ROOT,
    LineReader,
    closed_port,
    pid_gone,
    run_cli,
    start_cli,
    stop,
    wait_until,
)

# What a person must see, in this order (each a substring of a later line than the last).
SESSION_ORDER = [
    "[1/10] start the central system",
    "[2/10] start the chargepoint agent",
    "BootNotification  cpagent/demo",
    "BootNotification.conf  Accepted",
    "ChangeConfiguration  key=MeterValueSampleInterval value=1",
    "ChangeConfiguration.conf  Accepted",
    "hw       ev-load 7360 W on connector 1",
    "[5/10] plug a cable into connector 1",
    "StatusNotification  connector 1 Preparing",
    "[6/10] card tap 04A1B2C3D4",
    "Authorize  idTag=04A1B2C3D4",
    "Authorize.conf  Accepted",
    "StartTransaction  connector 1 idTag=04A1B2C3D4",
    "StartTransaction.conf  transactionId=1 Accepted",
    "[7/10] charging: meter values rise",
    "MeterValues  connector 1 tx 1 energy",
    "MeterValues  connector 1 tx 1 energy",
    "[8/10] CSMS sends RemoteStopTransaction",
    "RemoteStopTransaction  transactionId=1",
    "RemoteStopTransaction.conf  Accepted",
    "StopTransaction  transactionId=1",
    "[9/10] unplug the cable",
    "StatusNotification  connector 1 Available",
    "[10/10] stop the agent; relays open",
    "agent stopped (exit 0); every relay open",
    "cpagent demo: ok: transaction 1 on connector 1 delivered",
]


def _agent_pid(output: str) -> int:
    match = re.search(r"agent pid (\d+), log (\S+)", output)
    assert match, output
    return int(match.group(1))


def _within(lines: list[str], needle: str, after: str, before: str) -> None:
    """`needle` appears between the lines containing `after` and `before`."""
    start = next(i for i, line in enumerate(lines) if after in line)
    end = next(i for i, line in enumerate(lines) if before in line)
    assert any(needle in line for line in lines[start:end]), (needle, lines[start:end])


def _in_order(lines: list[str], expected: list[str]) -> None:
    index = 0
    for want in expected:
        while index < len(lines) and want not in lines[index]:
            index += 1
        assert index < len(lines), f"{want!r} missing or out of order in:\n" + "\n".join(lines)
        index += 1


def test_demo_plays_a_whole_session_and_leaves_nothing_running() -> None:
    result = run_cli("demo")
    assert result.returncode == 0, result.stderr + result.stdout
    lines = result.stdout.splitlines()
    _in_order(lines, SESSION_ORDER)
    # The hardware monitor samples the agent, so a relay line may come just before or after
    # the frame that goes with it, but always within the step that waited for it.
    _within(lines, "relay closed on connector 1", "[6/10]", "[7/10]")
    _within(lines, "relay open on connector 1", "[8/10]", "[9/10]")
    _within(lines, "meter reads 0 W", "[8/10]", "[9/10]")
    assert "\x1b[" not in result.stdout  # no colour into a pipe
    assert result.stderr == ""
    assert pid_gone(_agent_pid(result.stdout))
    log = re.search(r"log (\S+)", result.stdout)
    assert log and not Path(log.group(1)).parent.exists()  # temp dir removed


def test_json_timeline_is_one_object_per_line_with_every_step() -> None:
    result = run_cli("demo", "--json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["step"] for r in records if r["kind"] == "step"] == list(range(1, 11))
    frames = [r for r in records if r["kind"] == "frame"]
    actions = [r["action"] for r in frames if r["direction"] == "CP->CSMS"]
    _in_order(
        actions,
        [
            "BootNotification",
            "Authorize",
            "StartTransaction",
            "MeterValues",
            "RemoteStopTransaction.conf",
            "StopTransaction",
        ],
    )
    relays = [r["relay"] for r in records if r["kind"] == "hardware" and "relay" in r]
    assert relays[:2] == [True, False] and relays[-1] is False
    assert records[-1]["kind"] == "result" and records[-1]["ok"] is True


def test_own_config_other_connector_and_card_quietly_behind_a_proxy() -> None:
    # A CI runner's proxy variables (pointing nowhere here) must not catch loopback traffic.
    proxy = f"http://127.0.0.1:{closed_port()}"
    result = run_cli(
        "demo",
        "--config",
        "config/bench.toml",
        "--connector",
        "2",
        "--id-tag",
        "CAFE0001",
        "--quiet",
        env={"http_proxy": proxy, "HTTP_PROXY": proxy, "https_proxy": proxy},
    )
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert line.startswith("cpagent demo: ok: transaction 1 on connector 2 delivered")


def _bad_toml(tmp_path: Path) -> str:
    path = tmp_path / "broken.toml"
    path.write_text("[chargepoint\nid = 1\n")
    return str(path)


def _unknown_key(tmp_path: Path) -> str:
    path = tmp_path / "unknown.toml"
    path.write_text((ROOT / "config" / "bench.toml").read_text() + "\n[bogus]\nx = 1\n")
    return str(path)


def _real_evse(tmp_path: Path) -> str:
    path = tmp_path / "evse.toml"
    text = (ROOT / "config" / "bench.toml").read_text()
    real = '[connector.evse]\ndriver = "evse-din"\nport = "/dev/ttyUSB0"\n'
    path.write_text(text.replace('[connector.evse]\ndriver = "sim"\n', real, 1))
    return str(path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--config", "config/cpagent.toml"],
            "the demo needs simulated hardware: gpio.pin_factory is 'lgpio'",
        ),
        (["--config", _real_evse], "connector[1].evse.driver is 'evse-din', not \"sim\""),
        (["--config", "/nonexistent/cpagent.toml"], "/nonexistent/cpagent.toml: cannot read"),
        (["--config", _bad_toml], "broken.toml"),
        (["--config", _unknown_key], "bogus"),
        (["--connector", "3"], "--connector 3: the config has 1"),
    ],
)
def test_a_config_that_cannot_work_exits_78_with_one_line(
    tmp_path: Path, args: list[object], message: str
) -> None:
    argv = [a(tmp_path) if callable(a) else str(a) for a in args]
    result = run_cli("demo", *argv)
    assert result.returncode == 78, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("cpagent demo: FAILED: ") and message in line, line
    assert result.stdout.splitlines()[-1:] != ["cpagent demo: ok"]


def test_a_step_that_times_out_fails_clearly_and_stops_the_agent() -> None:
    result = run_cli("demo", "--step-timeout", "0.05")
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("cpagent demo: FAILED: step 2/10 (start the chargepoint agent"), first
    assert "gave up after 0.05 s waiting for" in first
    assert pid_gone(_agent_pid(result.stdout))


@pytest.mark.parametrize(
    ("sig", "whole_group", "times"),
    [
        (signal.SIGTERM, False, 1),
        (signal.SIGINT, True, 1),
        (signal.SIGHUP, False, 1),
        (signal.SIGTERM, False, 3),
    ],  # an impatient user: the agent is killed, still gone
)
def test_a_signal_mid_session_stops_the_agent_too(
    sig: signal.Signals, whole_group: bool, times: int
) -> None:
    demo = start_cli("demo", start_new_session=True)
    try:
        reader = LineReader(demo.stdout)
        agent_pid = _agent_pid(reader.wait_for("agent pid"))
        reader.wait_for("[5/10]")
        for _ in range(times):
            if whole_group:  # Ctrl-C on a terminal: the whole foreground process group
                os.killpg(demo.pid, sig)
            else:
                demo.send_signal(sig)
        assert demo.wait(20) == 130
        assert demo.stderr is not None
        assert "interrupted; the agent and central system were stopped" in demo.stderr.read()
        wait_until(lambda: pid_gone(agent_pid), what="the agent to be gone")
    finally:
        stop(demo)


def test_keep_running_leaves_agent_and_csms_up_until_ctrl_c() -> None:
    demo = start_cli("demo", "--keep-running", start_new_session=True)
    try:
        reader = LineReader(demo.stdout)
        agent_pid = _agent_pid(reader.wait_for("agent pid"))
        sock = reader.wait_for("agent socket").rsplit("agent socket ", 1)[1].strip()
        reader.wait_for("Ctrl-C to stop")
        status = run_cli("status", "--json", "--socket", sock)
        assert status.returncode == 0
        assert json.loads(status.stdout)["connection"] == "connected"
        assert run_cli("ctl", "--socket", sock, "plug", "1").returncode == 0
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C reaches the demo and the agent
        reader.wait_for("[10/10] stop the agent")
        code = demo.wait(20)
        assert demo.stderr is not None
        assert code == 0, demo.stderr.read()  # what the demo said of the agent's exit
        assert pid_gone(agent_pid)
    finally:
        stop(demo)
